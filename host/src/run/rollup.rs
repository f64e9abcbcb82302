//! Roll-ups: the flow findings of a run gathered into one finding per stage, tag, severity, summary
//! and pair of hosts, so a report lists "20 connections flagged for the same reason" once with its 20
//! flows instead of 20 times.
//!
//! Each flow finding still travels on its own flow to the outputs (the diagram colours edges by them,
//! flow tables show them); the roll-ups go to the outputs at the end of the run as findings with
//! `rollup` set and every flow in `flows`. Findings raised after their flow went by (in an analyzer's
//! `finish`) are rolled up the same way, on their summary alone, since their flows are gone: the
//! summary names the hosts. Memory grows with the number of distinct findings, never with flows that
//! have none: a group keeps its first finding and the ids of its flows (8 bytes each).

use crate::bindings::wit;
use crate::runtime::convert::ip_from_wit;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// What makes two flow findings one: the stage, the finding's tag, severity and summary, and for a
/// finding on a flow of the current batch the flow's client and server addresses.
#[derive(Hash, PartialEq, Eq)]
struct Key {
    stage: String,
    tag: String,
    severity: u8,
    summary: String,
    pair: Option<(IpAddr, IpAddr)>,
}

struct Group {
    first: wit::FindingRecord,
    flows: Vec<u64>,
    /// Whether every finding of the group was also on its flow in `consume` (not raised late).
    seen_on_flows: bool,
}

/// The groups of one run, in the order their first finding came.
#[derive(Default)]
pub struct Rollups {
    index: FxHashMap<Key, usize>,
    groups: Vec<Group>,
}

impl Rollups {
    /// Adds a finding about a flow of the current batch, between `client` and `server`.
    pub fn add_live(
        &mut self,
        record: &wit::FindingRecord,
        id: u64,
        client: wit::IpAddress,
        server: wit::IpAddress,
    ) {
        let pair = (ip_from_wit(client), ip_from_wit(server));
        self.add(record, id, Some(pair), true);
    }

    /// Adds a finding about a flow that has already gone to the outputs (raised in `finish`).
    pub fn add_late(&mut self, record: wit::FindingRecord, id: u64) {
        self.add(&record, id, None, false);
    }

    fn add(
        &mut self,
        record: &wit::FindingRecord,
        id: u64,
        pair: Option<(IpAddr, IpAddr)>,
        live: bool,
    ) {
        let f = &record.finding;
        let key = Key {
            stage: record.stage.clone(),
            tag: f.tag.clone(),
            severity: f.severity as u8,
            summary: f.summary.clone(),
            pair,
        };
        let i = *self.index.entry(key).or_insert_with(|| {
            self.groups.push(Group {
                first: record.clone(),
                flows: Vec::new(),
                seen_on_flows: live,
            });
            self.groups.len() - 1
        });
        let group = &mut self.groups[i];
        group.flows.push(id);
        group.flows.extend_from_slice(&f.flows);
    }

    /// Every group as one finding record, in the order the groups began; their flows ascending and
    /// without repeats.
    pub fn finish(self) -> impl Iterator<Item = wit::FindingRecord> {
        self.groups.into_iter().map(|g| {
            let mut record = g.first;
            let mut flows = g.flows;
            flows.sort_unstable();
            flows.dedup();
            record.finding.flows = flows;
            record.rollup = g.seen_on_flows;
            record
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(stage: &str, tag: &str, summary: &str) -> wit::FindingRecord {
        wit::FindingRecord {
            stage: stage.into(),
            finding: wit::Finding {
                tag: tag.into(),
                subject: wit::Subject::Flow(0),
                severity: wit::Severity::Low,
                confidence: 50,
                summary: summary.into(),
                attributes: Vec::new(),
                flows: Vec::new(),
            },
            rollup: false,
        }
    }

    fn ip(last: u8) -> wit::IpAddress {
        wit::IpAddress::V4(u32::from_be_bytes([10, 0, 0, last]))
    }

    #[test]
    fn findings_with_the_same_stage_tag_summary_and_hosts_become_one_with_all_their_flows() {
        let mut r = Rollups::default();
        for id in [7, 3, 5] {
            r.add_live(&record("s", "t", "same"), id, ip(1), ip(2));
        }
        r.add_live(&record("s", "t", "same"), 9, ip(1), ip(3));
        r.add_live(&record("s", "t", "other"), 11, ip(1), ip(2));
        r.add_live(&record("s2", "t", "same"), 12, ip(1), ip(2));
        let out: Vec<_> = r.finish().collect();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].finding.flows, [3, 5, 7]);
        assert!(out[0].rollup);
        assert_eq!(out[1].finding.flows, [9]);
    }

    #[test]
    fn late_findings_roll_up_on_their_summary_and_are_not_marked_as_seen_on_flows() {
        let mut r = Rollups::default();
        r.add_late(record("s", "t", "a → b"), 2);
        r.add_late(record("s", "t", "a → b"), 1);
        let out: Vec<_> = r.finish().collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].finding.flows, [1, 2]);
        assert!(!out[0].rollup);
    }
}
