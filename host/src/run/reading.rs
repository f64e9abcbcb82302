//! The reading thread: capture → decoder → flow table, while the run's own thread hands the batches to
//! the analyzers. Host-table updates (ARP replies, the traffic of finished flows) travel with the batches
//! and are applied by the receiving thread in the order they happened, so every stage sees the host
//! table exactly as it would if reading and analysis took turns on one thread: results never depend on
//! timing.

use super::link::LinkEvents;
use crate::decode::{CaptureFormat, CaptureReader, Decoded, Decoder, ReadError};
use crate::flow::{FinishedFlow, FlowSettings, FlowTable};
use crate::runtime::bindings::wit;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 65_536;

/// An address–MAC binding an ARP packet showed.
pub struct Arp {
    pub ts: u64,
    pub ip: IpAddr,
    pub mac: [u8; 6],
}

/// What the reading thread hands over: ARP bindings seen since the last message, then finished flows
/// (possibly none), and how far reading has got.
pub struct Work {
    pub arps: Vec<Arp>,
    /// Link-layer events of this stretch, when some stage asked for them (else always empty).
    pub link: LinkEvents,
    pub flows: Vec<FinishedFlow>,
    pub position: u64,
    pub packets: u64,
    pub flows_total: u64,
}

/// Counts over the frames read.
#[derive(Default)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: u64,
    pub last_ts: u64,
    pub decode_errors: BTreeMap<String, u64>,
    pub non_ip: BTreeMap<u16, u64>,
}

impl Stats {
    fn frame(&mut self, ts: u64, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
        if self.first_ts == 0 || ts < self.first_ts {
            self.first_ts = ts;
        }
        self.last_ts = self.last_ts.max(ts);
    }

    /// Undecodable and non-IP frames, for the report.
    pub fn attributes(&self) -> Vec<wit::Attribute> {
        let errors = self.decode_errors.iter().map(|(k, v)| wit::Attribute {
            key: k.clone(),
            value: v.to_string(),
        });
        let non_ip = self.non_ip.iter().map(|(t, n)| wit::Attribute {
            key: format!("not ip (ether type 0x{t:04x})"),
            value: n.to_string(),
        });
        errors.chain(non_ip).collect()
    }
}

/// What reading found, once the capture is read to its end (or to where it broke).
pub struct Read {
    pub stats: Stats,
    pub read_error: Option<ReadError>,
    pub format: CaptureFormat,
    pub link_types: Vec<String>,
    pub flows_total: u64,
    pub max_active: usize,
    /// SHA-256 of the capture file (hex); empty if the file could not be read to its end.
    pub sha256: String,
}

/// Starts reading `reader` on its own thread. The receiver yields the work in order; the handle gives
/// the totals once the receiver is drained.
pub fn start(
    reader: CaptureReader,
    settings: FlowSettings,
    link_events: bool,
) -> std::io::Result<(Receiver<Work>, JoinHandle<Read>)> {
    // A few batches in flight at most: memory stays bounded by active flows.
    let (tx, rx) = sync_channel(4);
    let handle = std::thread::Builder::new()
        .name("reading".into())
        .spawn(move || read_all(reader, settings, link_events, &tx))?;
    Ok((rx, handle))
}

fn read_all(
    mut reader: CaptureReader,
    settings: FlowSettings,
    link_events: bool,
    tx: &SyncSender<Work>,
) -> Read {
    let mut decoder = Decoder::default();
    let mut table = FlowTable::new(settings);
    let mut stats = Stats::default();
    let mut read_error = None;
    let mut arps = Vec::new();
    let mut link = LinkEvents::default();
    // A send fails only when the run's thread has stopped listening; reading then stops too.
    let send = |arps: &mut Vec<Arp>,
                link: &mut LinkEvents,
                flows,
                table: &FlowTable,
                stats: &Stats,
                position| {
        let work = Work {
            arps: std::mem::take(arps),
            link: std::mem::take(link),
            flows,
            position,
            packets: stats.packets,
            flows_total: table.flows_total(),
        };
        tx.send(work).is_ok()
    };
    loop {
        let frame = match reader.next_frame() {
            None => break,
            Some(Err(e)) => {
                read_error = Some(e);
                break;
            }
            Some(Ok(frame)) => frame,
        };
        stats.frame(frame.ts, frame.data.len());
        match decoder.decode(&frame) {
            Ok(Decoded::Ip(pkt)) => {
                if link_events {
                    link.ip(frame.ts, &pkt);
                }
                // A malformed tunnel header: the outer packet still makes its flow; the fault is counted.
                if let Some(e) = &pkt.tunnel_error {
                    *stats.decode_errors.entry(e.kind()).or_default() += 1;
                }
                table.add(frame.ts, &pkt)
            }
            Ok(Decoded::Arp(arp)) => {
                if link_events {
                    link.arp(frame.ts, &arp);
                }
                arps.push(Arp {
                    ts: frame.ts,
                    ip: arp.sender_ip.into(),
                    mac: arp.sender_mac,
                });
                if arp.operation == 2 {
                    arps.push(Arp {
                        ts: frame.ts,
                        ip: arp.target_ip.into(),
                        mac: arp.target_mac,
                    });
                }
            }
            Ok(Decoded::FragmentHeld) => {}
            Ok(Decoded::NonIp { ether_type }) => *stats.non_ip.entry(ether_type).or_default() += 1,
            Err(e) => *stats.decode_errors.entry(e.kind()).or_default() += 1,
        }
        let progress = stats.packets % PROGRESS_EVERY == 0;
        if table.batch_ready() || progress {
            let flows = if table.batch_ready() {
                table.take_batch()
            } else {
                Vec::new()
            };
            if !send(
                &mut arps,
                &mut link,
                flows,
                &table,
                &stats,
                reader.position(),
            ) {
                break;
            }
        }
    }
    table.end_capture();
    let position = reader.position();
    loop {
        let flows = table.take_batch();
        let last = !table.has_ready();
        if (!flows.is_empty() || !arps.is_empty() || !link.is_empty())
            && !send(&mut arps, &mut link, flows, &table, &stats, position)
        {
            break;
        }
        if last {
            break;
        }
    }
    let format = reader.format().clone();
    let link_types = reader.link_types().iter().map(|l| l.describe()).collect();
    Read {
        stats,
        read_error,
        format,
        link_types,
        flows_total: table.flows_total(),
        max_active: table.max_active(),
        sha256: reader.sha256().unwrap_or_default(),
    }
}
