//! `pcapxray run PIPELINE --from-lake ROOT`: the read phase of a run whose flows come from a lake
//! instead of a capture. Its captures are read in time order and their flow pieces joined into whole
//! flows across the files (`lake::merge`, the rule of docs/lake-merge.sql), which go through the
//! pipeline's analyzers and outputs as a capture's flows would: detectors that need state across
//! files (scans, beacons) see every file's flows at once. The lake holds no payloads, so detectors
//! that read them find nothing new here (their findings are in the lake's `findings` table).

use super::reading::{Arp, Read, Stats, Work};
use super::{Outputs, Run, RunError};
use crate::clock::Clock;
use crate::decode::CaptureFormat;
use crate::fates::Fate;
use crate::flow::{FinishedFlow, HostNote, StreamStats};
use crate::lake::LakeError;
use crate::lake::merge::{Merger, WholeFlow};
use crate::lake::read::{self, LakeCapture};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where `--from-lake` reads.
#[derive(Clone, Debug)]
pub struct FromLake {
    pub root: PathBuf,
    /// Only this sensor's captures; `None`: all of them.
    pub sensor: Option<String>,
}

/// The lake's captures, checked before anything else runs: a wrong folder fails at once.
pub(super) fn open(lake: &FromLake) -> Result<Vec<LakeCapture>, RunError> {
    let captures = read::captures(&lake.root, lake.sensor.as_deref()).map_err(lake_error)?;
    if captures.is_empty() {
        let which = lake
            .sensor
            .as_ref()
            .map(|s| format!(" of sensor `{s}`"))
            .unwrap_or_default();
        return Err(RunError::Other(format!(
            "{}: the lake holds no capture{which}",
            lake.root.display()
        )));
    }
    Ok(captures)
}

fn lake_error(e: LakeError) -> RunError {
    RunError::Other(e.to_string())
}

/// Reads every capture's pieces, joins them and hands the whole flows to the analyzers and outputs.
pub(super) fn read(
    run: &mut Run,
    root: &Path,
    captures: Vec<LakeCapture>,
    outputs: &mut Outputs,
) -> Result<Read, RunError> {
    run.total = captures.iter().map(|c| c.size.max(0) as u64).sum();
    if let Some(bar) = &run.opts.bar {
        bar.set_length(run.total);
    }
    let mut merger = Merger::new(
        captures
            .iter()
            .filter_map(|c| Some((c.sensor.clone(), c.last_us?))),
    );
    let mut clock = Clock::new(u64::MAX);
    let mut hand = Hand::default();
    let mut position = 0u64;
    for (i, c) in captures.iter().enumerate() {
        if run.services.cancelled() {
            return Err(RunError::Cancelled {
                packets: hand.packets,
            });
        }
        for us in [c.first_us, c.last_us].into_iter().flatten() {
            clock.packet(us.max(0) as u64 * 1000);
        }
        let mut pieces = read::flow_pieces(root, c).map_err(lake_error)?;
        // Each piece carries the findings its run raised on it: later stages read them (names from
        // SNI and HTTP Host, files) as they would in one run, and the report keeps them.
        let mut findings = read::flow_findings(root, c).map_err(lake_error)?;
        for p in &mut pieces {
            if let Some(f) = findings.remove(&p.uid) {
                p.findings = f;
            }
        }
        let arps = read::observations(root, c)
            .map_err(lake_error)?
            .into_iter()
            .filter(|o| o.evidence.iter().any(|e| e == "arp"))
            .filter_map(|o| {
                let mac = o.mac?.to_be_bytes();
                Some(Arp {
                    ts: o.first_us.max(0) as u64 * 1000,
                    ip: o.ip,
                    mac: [mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]],
                })
            })
            .collect();
        let notes = read::host_facts(root, c)
            .map_err(lake_error)?
            .into_iter()
            .map(|f| {
                let note = HostNote {
                    stage: f.stage,
                    key: f.key,
                    value: f.value,
                    observed: f.observed_us.map(|us| us.max(0) as u64 * 1000),
                };
                (f.ip, note)
            })
            .collect();
        let mut flows = Vec::new();
        merger.capture(i, &c.sensor, c.first_us, pieces, &mut flows);
        position += c.size.max(0) as u64;
        hand.give(run, outputs, (arps, notes), flows, position);
    }
    let mut flows = Vec::new();
    merger.finish(&mut flows);
    hand.give(run, outputs, Default::default(), flows, position);

    let mut stats = Stats::new(clock);
    stats.packets = hand.packets;
    stats.bytes = hand.bytes;
    stats.fates.add(Fate::Analyzed, hand.packets);
    let sensors: std::collections::BTreeSet<&str> =
        captures.iter().map(|c| c.sensor.as_str()).collect();
    let details = format!(
        "{} captures ({} packets) of sensor {}; {} flow pieces joined into {} flows",
        captures.len(),
        captures.iter().map(|c| c.packets).sum::<i64>(),
        sensors.into_iter().collect::<Vec<_>>().join(", "),
        merger.pieces,
        hand.flows,
    );
    Ok(Read {
        stats,
        read_error: None,
        format: CaptureFormat {
            name: "pcapxray lake",
            details,
        },
        link_types: Vec::new(),
        flows_total: hand.flows,
        max_active: merger.max_open,
        evicted: 0,
        streams: StreamStats::default(),
        sha256: lake_digest(&captures),
    })
}

/// The lake's identity for the report: SHA-256 over its captures' hashes in time order, one per line.
fn lake_digest(captures: &[LakeCapture]) -> String {
    let mut h = Sha256::new();
    for c in captures {
        h.update(c.sha256.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Hands whole flows over a batch at a time, counting them.
#[derive(Default)]
struct Hand {
    packets: u64,
    bytes: u64,
    flows: u64,
}

impl Hand {
    fn give(
        &mut self,
        run: &mut Run,
        outputs: &mut Outputs,
        (mut arps, mut notes): (Vec<Arp>, Vec<(std::net::IpAddr, HostNote)>),
        flows: Vec<WholeFlow>,
        position: u64,
    ) {
        let size = run.pipeline.flows.batch_size.max(1);
        let mut flows = flows.into_iter().peekable();
        loop {
            let (batch, prior): (Vec<FinishedFlow>, Vec<_>) = flows
                .by_ref()
                .take(size)
                .map(|w| (w.flow, w.findings))
                .unzip();
            if batch.is_empty() && arps.is_empty() && notes.is_empty() {
                break;
            }
            for f in &batch {
                self.packets += f.to_server.packets + f.to_client.packets;
                self.bytes += f.to_server.bytes + f.to_client.bytes;
            }
            self.flows += batch.len() as u64;
            let work = Work {
                arps: std::mem::take(&mut arps),
                notes: std::mem::take(&mut notes),
                unflowed: Vec::new(),
                link: Default::default(),
                chunks: Vec::new(),
                flows: batch,
                prior,
                position,
                packets: self.packets,
                flows_total: self.flows,
            };
            run.take_work(work, outputs);
            if flows.peek().is_none() || run.services.cancelled() {
                break;
            }
        }
    }
}
