//! Roll-ups: the flow findings of a run gathered into one finding per stage, tag, severity, summary
//! and pair of hosts, so a report lists "20 connections flagged for the same reason" once with its 20
//! flows instead of 20 times.
//!
//! Each flow finding still travels on its own flow to the outputs (the diagram colours edges by them,
//! flow tables show them); the roll-ups go to the outputs at the end of the run as findings with
//! `rollup` set and every flow in `flows`. Findings raised after their flow went by (in an analyzer's
//! `finish`) are rolled up the same way, on their summary alone, since their flows are gone: the
//! summary names the hosts.
//!
//! Memory grows with the number of distinct findings, never with flows that have none, and stays small
//! per finding: a group is found by a 128-bit digest of what makes it one (SHA-256 of the stage, tag,
//! severity, summary and pair, cut to 128 bits: no two distinct keys of a run meet by chance), keeps the
//! ids of its flows (8 bytes each) and where its first finding lies in the scratch stream. The first
//! findings themselves (about 0.7 KB each, 70 MB for the 72,000 groups of the `tests/bench.sh` capture)
//! are encoded into that stream, which stays in memory up to [`SPILL_AFTER`] bytes and then goes to a
//! scratch file (unnamed, in the report's staging folder, gone when the run ends); the run's summary
//! reports the disk it used. If the file cannot be written, the stream stays in memory and says so.

use crate::bindings::wit;
use crate::runtime::convert::ip_from_wit;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, Write};
use std::net::IpAddr;
use std::path::PathBuf;

/// Bytes of encoded first findings kept in memory before the stream goes to its scratch file.
pub const SPILL_AFTER: usize = 8 << 20;

struct Group {
    /// The length of its first finding, encoded, in the scratch stream (the groups lie there in order).
    len: u32,
    /// Its flows, in the order they came, repeats possible.
    flows: Vec<u64>,
    /// Whether every finding of the group was also on its flow in `consume` (not raised late).
    seen_on_flows: bool,
}

/// The groups of one run, in the order their first finding came.
#[derive(Default)]
pub struct Rollups {
    index: FxHashMap<u128, usize>,
    groups: Vec<Group>,
    scratch: Scratch,
}

/// The first findings, encoded one after another: in memory, then in a scratch file.
#[derive(Default)]
struct Scratch {
    /// Where the scratch file goes (the system's temporary folder when not set).
    dir: Option<PathBuf>,
    /// What has not gone to the file yet.
    buf: Vec<u8>,
    file: Option<File>,
    /// Bytes written to the file.
    on_disk: u64,
    /// Why the file could not be used (the stream then stays in memory).
    refused: Option<String>,
}

impl Rollups {
    /// Roll-ups whose scratch file, if they need one, goes into `dir`.
    pub fn new(dir: Option<PathBuf>) -> Rollups {
        Rollups {
            scratch: Scratch {
                dir,
                ..Scratch::default()
            },
            ..Rollups::default()
        }
    }

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
        let key = digest(&record.stage, &f.tag, f.severity as u8, &f.summary, pair);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let len = self.scratch.append(record);
                self.groups.push(Group {
                    len,
                    flows: Vec::new(),
                    seen_on_flows: live,
                });
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[i];
        group.flows.push(id);
        group.flows.extend_from_slice(&f.flows);
    }

    /// Bytes of scratch file the roll-ups used so far.
    pub fn scratch_bytes(&self) -> u64 {
        self.scratch.on_disk
    }

    /// Why the scratch file could not be used, if it could not (the roll-ups then stayed in memory).
    pub fn scratch_refused(&self) -> Option<&str> {
        self.scratch.refused.as_deref()
    }

    /// Every group as one finding record, in the order the groups began; their flows ascending and
    /// without repeats. Read back from the scratch stream one at a time.
    pub fn finish(self) -> io::Result<Finished> {
        let source: Box<dyn Read> = match self.scratch.file {
            Some(mut file) => {
                file.write_all(&self.scratch.buf)?;
                file.rewind()?;
                Box::new(BufReader::with_capacity(1 << 16, file))
            }
            None => Box::new(Cursor::new(self.scratch.buf)),
        };
        Ok(Finished {
            groups: self.groups.into_iter(),
            source,
            buf: Vec::new(),
        })
    }
}

/// The roll-ups of a run, read back in order; an error means the scratch file failed under the run.
pub struct Finished {
    groups: std::vec::IntoIter<Group>,
    source: Box<dyn Read>,
    buf: Vec<u8>,
}

impl Iterator for Finished {
    type Item = io::Result<wit::FindingRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let g = self.groups.next()?;
        self.buf.resize(g.len as usize, 0);
        let read = self.source.read_exact(&mut self.buf).and_then(|()| {
            postcard::from_bytes::<wit::FindingRecord>(&self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        });
        Some(read.map(|mut record| {
            let mut flows = g.flows;
            flows.sort_unstable();
            flows.dedup();
            record.finding.flows = flows;
            record.rollup = g.seen_on_flows;
            record
        }))
    }
}

impl Scratch {
    /// Appends a record; returns its encoded length.
    fn append(&mut self, record: &wit::FindingRecord) -> u32 {
        let before = self.buf.len();
        self.buf = postcard::to_extend(record, std::mem::take(&mut self.buf))
            .expect("a finding record always encodes");
        let len = (self.buf.len() - before) as u32;
        if self.buf.len() >= SPILL_AFTER
            && self.refused.is_none()
            && let Err(e) = self.spill()
        {
            self.refused = Some(e.to_string());
        }
        len
    }

    /// Moves what is in memory to the scratch file, opened the first time.
    fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
            self.file = Some(tempfile::tempfile_in(dir)?);
        }
        if let Some(file) = &mut self.file {
            file.write_all(&self.buf)?;
            self.on_disk += self.buf.len() as u64;
            self.buf.clear();
            self.buf.shrink_to(SPILL_AFTER);
        }
        Ok(())
    }
}

/// What makes two flow findings one, as a 128-bit digest: 0xff never occurs in UTF-8, so it ends each
/// text unambiguously.
fn digest(
    stage: &str,
    tag: &str,
    severity: u8,
    summary: &str,
    pair: Option<(IpAddr, IpAddr)>,
) -> u128 {
    let mut h = Sha256::new();
    for text in [stage, tag, summary] {
        h.update(text.as_bytes());
        h.update([0xff]);
    }
    h.update([severity]);
    match pair {
        None => h.update([0]),
        Some((a, b)) => {
            for ip in [a, b] {
                match ip {
                    IpAddr::V4(v4) => {
                        h.update([4]);
                        h.update(v4.octets());
                    }
                    IpAddr::V6(v6) => {
                        h.update([6]);
                        h.update(v6.octets());
                    }
                }
            }
        }
    }
    let mut first = [0u8; 16];
    first.copy_from_slice(&h.finalize()[..16]);
    u128::from_le_bytes(first)
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
        let out: Vec<_> = r.finish().unwrap().map(Result::unwrap).collect();
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
        let out: Vec<_> = r.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].finding.flows, [1, 2]);
        assert!(!out[0].rollup);
    }

    #[test]
    fn groups_beyond_the_memory_bound_go_to_a_scratch_file_and_come_back_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Rollups::new(Some(dir.path().to_path_buf()));
        let long = "x".repeat(2000);
        let n = (SPILL_AFTER / 2000 + 100) as u64;
        for i in 0..n {
            let mut rec = record("s", "t", &format!("finding {i} {long}"));
            rec.finding.attributes.push(wit::Attribute {
                key: "k".into(),
                value: format!("v{i}"),
            });
            r.add_live(&rec, i * 2 + 1, ip(1), ip(2));
            r.add_live(&rec, i * 2, ip(1), ip(2));
        }
        assert!(
            r.scratch_bytes() > 0,
            "nothing was written to the scratch file"
        );
        assert!(r.scratch_refused().is_none());
        // The scratch file has no name: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let out: Vec<_> = r.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(out.len() as u64, n);
        for (i, rec) in out.iter().enumerate() {
            let i = i as u64;
            assert_eq!(rec.finding.summary, format!("finding {i} {long}"));
            assert_eq!(rec.finding.attributes[0].value, format!("v{i}"));
            assert_eq!(rec.finding.flows, [i * 2, i * 2 + 1]);
            assert!(rec.rollup);
        }
    }
}
