//! The reading thread: capture → decoder → flow table, while the run's own thread hands the batches to
//! the analyzers. Host-table updates (ARP replies, the traffic of finished flows) travel with the batches
//! and are applied by the receiving thread in the order they happened, so every stage sees the host
//! table exactly as it would if reading and analysis took turns on one thread: results never depend on
//! timing. Every frame read gets exactly one fate (see `pcapxray_capture::fates`), so the fate counts
//! handed back sum to the packets read.
//!
//! Stream chunks (for the stages that asked, see `pcapxray_capture::flow` `delivery`) travel the same
//! way: every message carries the chunks made since the one before, and a message goes out as soon as
//! they reach the stream budget's flush share. With at most [`IN_FLIGHT`] messages queued, one being
//! delivered and one being filled, undelivered chunks stay well inside the budget whatever the
//! transfer sizes, and the receiving thread hands a message's chunks to the stages before its flows.

use super::link::LinkEvents;
use crate::clock::Clock;
use crate::decode::{CaptureFormat, CaptureReader, Decoded, Decoder, ReadError, Unflowed};
use crate::fates::{Fate, Fates};
use crate::flow::{FinishedFlow, FlowSettings, FlowTable, StreamChunk, StreamStats};
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Messages queued between the reading thread and the run's thread.
const IN_FLIGHT: usize = 4;

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 65_536;

/// An address–MAC binding an ARP packet showed.
pub struct Arp {
    pub ts: u64,
    pub ip: IpAddr,
    pub mac: [u8; 6],
}

/// What the reading thread hands over: ARP bindings and IP packets that never reached a flow seen
/// since the last message, then finished flows (possibly none), and how far reading has got.
pub struct Work {
    pub arps: Vec<Arp>,
    /// Host facts known before this stretch's flows (from a lake: what its runs' stages published).
    pub notes: Vec<(IpAddr, crate::flow::HostNote)>,
    pub unflowed: Vec<Unflowed>,
    /// Link-layer events of this stretch, when some stage asked for them (else always empty).
    pub link: LinkEvents,
    /// Stream chunks made in this stretch, in order (empty when no stage asked for streams).
    pub chunks: Vec<StreamChunk>,
    pub flows: Vec<FinishedFlow>,
    /// Findings already raised on `flows` (same order; empty: none), by the runs of a lake's captures.
    pub prior: Vec<Vec<crate::bindings::wit::FindingRecord>>,
    pub position: u64,
    pub packets: u64,
    pub flows_total: u64,
}

/// Counts over the frames read.
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    /// What became of every frame; once reading is over, the counts sum to `packets`.
    pub fates: Fates,
    pub clock: Clock,
}

impl Stats {
    pub(super) fn new(clock: Clock) -> Stats {
        Stats {
            packets: 0,
            bytes: 0,
            fates: Fates::default(),
            clock,
        }
    }

    /// Counts a frame; returns the time to file it under (see [`Clock::packet`]).
    fn frame(&mut self, ts: u64, len: usize) -> u64 {
        self.packets += 1;
        self.bytes += len as u64;
        self.clock.packet(ts)
    }
}

/// The latest plausible capture time for the file at `path`, in ns since the epoch: a day after it
/// was last written (or after now, when that is unknown or later).
pub fn latest_plausible(path: &Path) -> u64 {
    let now = SystemTime::now();
    let written = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_or(now, |t| t.min(now));
    let limit = written + Duration::from_secs(86_400);
    limit
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What reading found, once the capture is read to its end (or to where it broke).
pub struct Read {
    pub stats: Stats,
    pub read_error: Option<ReadError>,
    pub format: CaptureFormat,
    pub link_types: Vec<String>,
    pub flows_total: u64,
    pub max_active: usize,
    /// Flows ended early to keep within `[flows] max_active_flows`.
    pub evicted: u64,
    /// What reassembly did, for the run notes.
    pub streams: StreamStats,
    /// SHA-256 of the capture file (hex); empty if the file could not be read to its end.
    pub sha256: String,
}

/// Starts reading `reader` on its own thread. The receiver yields the work in order; the handle gives
/// the totals once the receiver is drained.
/// `clock` checks the timestamps (see [`latest_plausible`]).
/// `link_events` collects link-layer events for the analyzers that asked for them.
pub fn start(
    reader: CaptureReader,
    settings: FlowSettings,
    clock: Clock,
    link_events: bool,
) -> std::io::Result<(Receiver<Work>, JoinHandle<Read>)> {
    // A few batches in flight at most: memory stays bounded by active flows.
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let handle = std::thread::Builder::new()
        .name("reading".into())
        .spawn(move || read_all(reader, settings, clock, link_events, &tx))?;
    Ok((rx, handle))
}

/// Host-table updates gathered between two messages.
#[derive(Default)]
struct Pending {
    arps: Vec<Arp>,
    unflowed: Vec<Unflowed>,
    link: LinkEvents,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.arps.is_empty() && self.unflowed.is_empty() && self.link.is_empty()
    }

    /// Counts the reassemblies the decoder gave up and keeps their addresses for the host table.
    fn given_up(&mut self, decoder: &mut Decoder, fates: &mut Fates) {
        for u in decoder.take_given_up() {
            fates.add(Fate::FragmentNeverCompleted, u.packets);
            self.unflowed.push(u);
        }
    }
}

fn read_all(
    mut reader: CaptureReader,
    settings: FlowSettings,
    clock: Clock,
    link_events: bool,
    tx: &SyncSender<Work>,
) -> Read {
    let mut decoder = Decoder::default();
    let flush = settings.stream_budget.flush();
    let mut table = FlowTable::new(settings);
    let mut stats = Stats::new(clock);
    let mut read_error = None;
    let mut pending = Pending::default();
    // A send fails only when the run's thread has stopped listening; reading then stops too.
    let send = |pending: &mut Pending, flows, table: &mut FlowTable, stats: &Stats, position| {
        let Pending {
            arps,
            unflowed,
            link,
        } = std::mem::take(pending);
        let work = Work {
            arps,
            notes: Vec::new(),
            unflowed,
            link,
            chunks: table.take_chunks(),
            flows,
            prior: Vec::new(),
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
        let mut frame = frame;
        frame.ts = stats.frame(frame.ts, frame.data.len());
        let decoded = decoder.decode(&frame);
        if let Some((fate, frames)) = Fate::of(&decoded) {
            stats.fates.add(fate, frames);
        }
        match decoded {
            Ok(Decoded::Ip(pkt)) => {
                if link_events {
                    pending.link.ip(frame.ts, &pkt);
                }
                table.add(frame.ts, &pkt)
            }
            Ok(Decoded::Arp(arp)) => {
                if link_events {
                    pending.link.arp(frame.ts, &arp);
                }
                let arps = &mut pending.arps;
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
            Ok(Decoded::FragmentHeld | Decoded::NonIp { .. }) => {}
            Err(e) => pending.unflowed.extend(e.unflowed().cloned()),
        }
        pending.given_up(&mut decoder, &mut stats.fates);
        let progress = stats.packets.is_multiple_of(PROGRESS_EVERY);
        if table.batch_ready() || progress || table.chunk_bytes() >= flush {
            let flows = if table.batch_ready() {
                table.take_batch()
            } else {
                Vec::new()
            };
            if !send(&mut pending, flows, &mut table, &stats, reader.position()) {
                break;
            }
        }
    }
    decoder.end_capture();
    pending.given_up(&mut decoder, &mut stats.fates);
    debug_assert_eq!(
        stats.fates.total(),
        stats.packets,
        "every frame has one fate"
    );
    table.end_capture();
    let position = reader.position();
    loop {
        let flows = table.take_batch();
        let last = !table.has_ready();
        let chunks = table.has_chunks();
        if (!flows.is_empty() || !pending.is_empty() || chunks)
            && !send(&mut pending, flows, &mut table, &stats, position)
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
        evicted: table.evicted(),
        streams: table.stream_stats(),
        sha256: reader.sha256().unwrap_or_default(),
    }
}
