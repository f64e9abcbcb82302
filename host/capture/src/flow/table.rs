//! The active-flow table and its expiry queues.

use super::delivery::{
    self, ChunkData, FlowStreams, StreamBudget, StreamChunk, StreamEnd, StreamFilter, StreamStart,
    StreamStats,
};
use super::state::{ConnState, History};
use super::tcp::StreamPrefix;
use crate::decode::{IpPacket, Transport, TunnelKind, TunnelLayer};
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Flow-table settings from the pipeline's `[flows]` table.
#[derive(Clone, Debug)]
pub struct FlowSettings {
    /// Payload bytes kept per direction.
    pub payload_bytes: usize,
    /// Seconds without a packet before a TCP flow ends.
    pub tcp_idle_timeout: u64,
    /// Seconds without a packet before a UDP flow ends.
    pub udp_idle_timeout: u64,
    /// Seconds without a packet before an ICMP or other flow ends.
    pub other_idle_timeout: u64,
    /// Flows per batch handed to the plugins.
    pub batch_size: usize,
    /// One filter per stage that asked for streams (bit i of a chunk's `stages` is filter i); empty:
    /// no reassembly at all.
    pub stream_filters: Vec<StreamFilter>,
    /// What streams may hold at once (see `delivery`).
    pub stream_budget: StreamBudget,
    /// The most flows kept active at once. A new flow beyond it first ends the flow that has waited
    /// longest (closed flows first, then the least recently seen), as Suricata's flow memcap does: memory
    /// follows this bound, whatever the capture holds. Such a flow ends with [`EndReason::Evicted`].
    pub max_active_flows: usize,
}

impl Default for FlowSettings {
    fn default() -> Self {
        FlowSettings {
            payload_bytes: 4096,
            tcp_idle_timeout: 300,
            udp_idle_timeout: 60,
            other_idle_timeout: 60,
            batch_size: 512,
            stream_filters: Vec::new(),
            stream_budget: StreamBudget::default(),
            max_active_flows: DEFAULT_MAX_ACTIVE_FLOWS,
        }
    }
}

/// The default bound on active flows: some 23 MB of flow state for flows that carry little (about
/// 700 bytes each with the map and queues; each flow's payload prefix comes on top, up to
/// `payload_bytes` per direction). The 1 GB benchmark capture keeps at most 206 open at once; a
/// flood or scan that needs more is made of one-packet flows that lose nothing by ending early.
/// Suricata's default flow memcap (128 MB) is of the same order.
pub const DEFAULT_MAX_ACTIVE_FLOWS: usize = 32_768;

/// Seconds a closed TCP flow lingers to absorb the last ACKs before it is handed on.
const CLOSE_GRACE_SECS: u64 = 2;
const NS: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    Syn,
    FirstPacket,
    PortHeuristic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Fin,
    Rst,
    Idle,
    CaptureEnd,
    /// Ended early to keep the table within `max_active_flows`.
    Evicted,
}

/// What one direction of a flow carried.
#[derive(Debug, Default)]
pub struct Direction {
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub tcp_flags: u8,
    pub ttl: u8,
    pub payload: Vec<u8>,
    pub datagrams: Vec<u32>,
    pub payload_truncated: bool,
    pub mac: Option<u64>,
    stream: Option<Box<StreamPrefix>>,
    fin: bool,
}

/// What one direction of a flow carried, as a summary kept elsewhere (a lake row) gives it back:
/// no payload, no reassembly state.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectionSummary {
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub tcp_flags: u8,
    pub ttl: u8,
    pub mac: Option<u64>,
}

impl Direction {
    /// A direction rebuilt from its summary (`pcapxray run --from-lake`).
    pub fn from_summary(s: DirectionSummary) -> Direction {
        Direction {
            packets: s.packets,
            bytes: s.bytes,
            payload_bytes: s.payload_bytes,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            tcp_flags: s.tcp_flags,
            ttl: s.ttl,
            mac: s.mac,
            ..Direction::default()
        }
    }
}

/// A flow that has ended, ready for the plugins. Side `a` is the client.
#[derive(Debug)]
pub struct FinishedFlow {
    pub id: u64,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub ip_protocol: u8,
    pub vlan: Vec<u16>,
    /// The tunnel of the flow's first packet, outer first, with each layer's outer addresses as
    /// (client side, server side).
    pub tunnel: Vec<TunnelLayer>,
    pub orientation: Orientation,
    pub end_reason: EndReason,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub fragments: u32,
    pub to_server: Direction,
    pub to_client: Direction,
    /// Zeek's connection state (S0, SF, REJ, ...).
    pub conn_state: ConnState,
    /// Zeek's history letters, upper case for the client (see `state`).
    pub history: String,
    /// The flow's first packet came within the idle timeout of the first packet of the capture: the
    /// flow may be the rest of one that began in an earlier capture file (a sensor's rotated files).
    pub open_at_start: bool,
    /// Set when the flow was still open when the capture ended: the time (ns) before which a packet of
    /// the same connection in a next file would have continued it (its idle timeout, or the end of the
    /// grace period of a flow already closed by FIN or RST). `None` for a flow that ended inside the
    /// capture.
    pub open_until: Option<u64>,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    protocol: u8,
    vlan: u32,
    /// Digest of the tunnel's identity (see `tunnel_key`); 0 when not tunnelled.
    tunnel: u64,
}

struct ActiveFlow {
    id: u64,
    /// The endpoint that sent the first packet.
    first: (IpAddr, u16),
    second: (IpAddr, u16),
    /// Index into `dirs` of the client→server direction (0: first→second).
    client_dir: usize,
    orientation: Orientation,
    ip_protocol: u8,
    vlan: Vec<u16>,
    tunnel: Vec<TunnelLayer>,
    icmp: Option<(u8, u8)>,
    fragments: u32,
    dirs: [Direction; 2],
    history: History,
    last_seen: u64,
    closed: Option<EndReason>,
    /// When a FIN or RST closed it (ns; 0 while open).
    closed_at: u64,
    /// See [`FinishedFlow::open_at_start`].
    open_at_start: bool,
    /// Reassembly, when some stage wants this flow's streams.
    streams: Option<Box<FlowStreams>>,
}

/// The flow table: feed it packets, take finished flows in batches.
pub struct FlowTable {
    settings: FlowSettings,
    /// Boxed: the map's buckets stay small (a map keeps an eighth or more of them empty).
    active: FxHashMap<FlowKey, Box<ActiveFlow>>,
    /// (deadline, key, id) per timeout class, in roughly increasing deadline order.
    idle_queue: VecDeque<(u64, FlowKey, u64)>,
    close_queue: VecDeque<(u64, FlowKey, u64)>,
    ready: VecDeque<FinishedFlow>,
    /// Flows still active when the capture ended, by id descending: finished a batch at a time, so
    /// the end of a capture with a million open flows never holds them twice.
    ending: Vec<ActiveFlow>,
    /// Flows ended early by `max_active_flows`.
    evicted: u64,
    next_id: u64,
    now: u64,
    /// The first packet's time (ns), once there was one.
    start: Option<u64>,
    flows_total: u64,
    max_active: usize,
    /// Stream chunks not yet taken, and their bytes.
    chunks: Vec<StreamChunk>,
    chunk_bytes: usize,
    /// Out-of-order bytes held by all reassemblers.
    held: usize,
    stream_stats: StreamStats,
}

impl FlowTable {
    pub fn new(settings: FlowSettings) -> FlowTable {
        FlowTable {
            settings,
            active: FxHashMap::default(),
            idle_queue: VecDeque::new(),
            close_queue: VecDeque::new(),
            ready: VecDeque::new(),
            ending: Vec::new(),
            evicted: 0,
            next_id: 1,
            now: 0,
            start: None,
            flows_total: 0,
            max_active: 0,
            chunks: Vec::new(),
            chunk_bytes: 0,
            held: 0,
            stream_stats: StreamStats::default(),
        }
    }

    /// Flows created so far.
    pub fn flows_total(&self) -> u64 {
        self.flows_total
    }

    /// Flows still active.
    pub fn active(&self) -> usize {
        self.active.len()
    }

    /// The most flows that were active at once: what the table's memory followed.
    pub fn max_active(&self) -> usize {
        self.max_active
    }

    /// Flows ended early because `max_active_flows` were active.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds one packet at capture time `ts` (nanoseconds).
    pub fn add(&mut self, ts: u64, pkt: &IpPacket<'_>) {
        self.start.get_or_insert(ts);
        if ts > self.now {
            self.now = ts;
            self.expire();
        }
        let (sport, dport, flags) = match &pkt.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            } => (*src_port, *dst_port, *flags),
            Transport::Udp {
                src_port, dst_port, ..
            } => (*src_port, *dst_port, 0),
            _ => (0, 0, 0),
        };
        let src = (pkt.src, sport);
        let dst = (pkt.dst, dport);
        let key = FlowKey {
            lo: src.min(dst),
            hi: src.max(dst),
            protocol: pkt.protocol,
            vlan: pkt.vlan.iter().fold(0u32, |acc, v| {
                acc.wrapping_mul(4099).wrapping_add(*v as u32 + 1)
            }),
            tunnel: tunnel_key(&pkt.tunnel),
        };
        let is_tcp = pkt.protocol == 6;
        let syn_only = is_tcp && flags & 0x12 == 0x02;
        // A new SYN on a closed flow is a new connection reusing the ports.
        if syn_only
            && let Some(old) = self.active.get(&key)
            && old.closed.is_some()
        {
            let old = self.active.remove(&key).map(|f| *f).expect("checked above");
            let reason = old.closed.unwrap_or(EndReason::Fin);
            self.finish(old, reason);
        }
        if !self.active.contains_key(&key) {
            if self.active.len() >= self.settings.max_active_flows.max(1) {
                self.evict_one();
            }
            let flow = self.open(ts, src, dst, pkt, flags);
            let deadline = ts + self.timeout(pkt.protocol);
            self.idle_queue.push_back((deadline, key.clone(), flow.id));
            self.active.insert(key.clone(), Box::new(flow));
            self.max_active = self.max_active.max(self.active.len());
        }
        let limit = self.settings.payload_bytes;
        let flow = self.active.get_mut(&key).expect("inserted above");
        let d = usize::from(src != flow.first);
        flow.last_seen = flow.last_seen.max(ts);
        flow.fragments += pkt.fragments;
        match &pkt.transport {
            Transport::Tcp { flags, payload, .. } => flow.history.tcp(d, *flags, payload.len()),
            _ => flow.history.datagram(d),
        }
        let dir = &mut flow.dirs[d];
        dir.packets += 1;
        dir.bytes += pkt.wire_len;
        if dir.first_seen == 0 {
            dir.first_seen = ts;
            dir.ttl = pkt.ttl;
        }
        dir.last_seen = dir.last_seen.max(ts);
        if dir.mac.is_none() {
            dir.mac = pkt.src_mac.map(mac_u64);
        }
        if let Some(streams) = flow.streams.as_deref_mut() {
            let before = streams.held();
            let pieces = stream_packet(
                streams,
                d,
                &pkt.transport,
                self.settings.stream_budget.hold_per_direction(),
            );
            self.held = self.held + streams.held() - before;
            for (dir, placed) in pieces.into_iter().enumerate() {
                let to_server = dir == flow.client_dir;
                let new = delivery::chunks(flow.id, streams.stages, to_server, ts, placed);
                let new = streams.with_start(new.collect());
                if matches!(pkt.transport, Transport::Tcp { .. }) {
                    coalesce_chunks(&mut self.chunks, &mut self.chunk_bytes, new);
                } else {
                    push_chunks(&mut self.chunks, &mut self.chunk_bytes, new);
                }
            }
        }
        let dir = &mut flow.dirs[d];
        let mut close = None;
        match &pkt.transport {
            Transport::Tcp {
                seq,
                flags,
                payload,
                ..
            } => {
                dir.tcp_flags |= flags;
                dir.payload_bytes += payload.len() as u64;
                let stream = dir.stream.get_or_insert_with(Default::default);
                if flags & 0x02 != 0 {
                    stream.syn(*seq);
                }
                if stream.segment(*seq, payload, &mut dir.payload, limit) && !payload.is_empty() {
                    dir.payload_truncated = true;
                }
                if flags & 0x01 != 0 {
                    dir.fin = true;
                }
                if flags & 0x04 != 0 {
                    close = Some(EndReason::Rst);
                } else if flow.dirs[0].fin && flow.dirs[1].fin {
                    close = Some(EndReason::Fin);
                }
            }
            Transport::Udp { payload, .. }
            | Transport::Icmp { payload, .. }
            | Transport::Other { payload } => {
                dir.payload_bytes += payload.len() as u64;
                let room = limit.saturating_sub(dir.payload.len());
                if room > 0 && !payload.is_empty() {
                    let take = payload.len().min(room);
                    dir.payload.extend_from_slice(&payload[..take]);
                    dir.datagrams.push(take as u32);
                }
                if payload.len() > room {
                    dir.payload_truncated = true;
                }
            }
        }
        if let Some(reason) = close {
            self.close(key, reason);
        }
        if self.held > self.settings.stream_budget.hold() {
            self.cut_streams(ts);
        }
    }

    /// Cuts the streams holding the most until what is held fits the budget's share again.
    fn cut_streams(&mut self, ts: u64) {
        let stats = &mut self.stream_stats;
        while self.held > self.settings.stream_budget.hold() {
            let largest = self
                .active
                .values_mut()
                .filter_map(|f| {
                    let client_dir = f.client_dir;
                    let id = f.id;
                    let s = f.streams.as_deref_mut()?;
                    let d = usize::from(s.dirs[1].held() > s.dirs[0].held());
                    Some((s.dirs[d].held(), id, client_dir, d, s))
                })
                .max_by_key(|(held, id, ..)| (*held, std::cmp::Reverse(*id)));
            let Some((held, id, client_dir, d, s)) = largest.filter(|l| l.0 > 0) else {
                break;
            };
            let mut placed = Vec::new();
            let before = s.dirs[d].cut;
            s.dirs[d].cut(&mut placed);
            stats.cut_bytes += s.dirs[d].cut - before;
            self.held -= held;
            if !s.was_cut[d] {
                s.was_cut[d] = true;
                stats.cut_streams += 1;
            }
            let new = delivery::chunks(id, s.stages, d == client_dir, ts, placed);
            let new = s.with_start(new.collect());
            push_chunks(&mut self.chunks, &mut self.chunk_bytes, new);
        }
    }

    /// Undelivered stream chunk bytes.
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_bytes
    }

    /// Takes the stream chunks made so far, in order.
    pub fn take_chunks(&mut self) -> Vec<StreamChunk> {
        self.chunk_bytes = 0;
        std::mem::take(&mut self.chunks)
    }

    /// True when stream chunks are waiting.
    pub fn has_chunks(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Stream totals so far.
    pub fn stream_stats(&self) -> StreamStats {
        self.stream_stats
    }

    fn open(
        &mut self,
        ts: u64,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        pkt: &IpPacket<'_>,
        flags: u8,
    ) -> ActiveFlow {
        let id = self.next_id;
        self.next_id += 1;
        self.flows_total += 1;
        let icmp = match &pkt.transport {
            Transport::Icmp {
                icmp_type,
                icmp_code,
                ..
            } => Some((*icmp_type, *icmp_code)),
            _ => None,
        };
        let (client_dir, orientation) = orient(pkt.protocol, src.1, dst.1, flags, icmp);
        let open_at_start = ts < self.start.unwrap_or(ts) + self.timeout(pkt.protocol);
        let stages = delivery::wanted(&self.settings.stream_filters, pkt.protocol, (src.1, dst.1));
        let streams = (stages != 0).then(|| {
            let (client, server) = if client_dir == 0 {
                (src, dst)
            } else {
                (dst, src)
            };
            self.stream_stats.flows += 1;
            let start = StreamChunk {
                flow: id,
                stages,
                to_server: true,
                offset: 0,
                time: ts,
                data: ChunkData::Start(StreamStart {
                    client,
                    server,
                    ip_protocol: pkt.protocol,
                }),
            };
            Box::new(FlowStreams::new(stages, start))
        });
        ActiveFlow {
            id,
            first: src,
            second: dst,
            client_dir,
            orientation,
            ip_protocol: pkt.protocol,
            vlan: pkt.vlan.clone(),
            tunnel: pkt.tunnel.clone(),
            icmp,
            fragments: 0,
            dirs: Default::default(),
            history: History::default(),
            last_seen: ts,
            closed: None,
            closed_at: 0,
            open_at_start,
            streams,
        }
    }

    fn timeout(&self, protocol: u8) -> u64 {
        NS * match protocol {
            6 => self.settings.tcp_idle_timeout,
            17 => self.settings.udp_idle_timeout,
            _ => self.settings.other_idle_timeout,
        }
    }

    fn close(&mut self, key: FlowKey, reason: EndReason) {
        if let Some(flow) = self.active.get_mut(&key)
            && flow.closed.is_none()
        {
            flow.closed = Some(reason);
            flow.closed_at = self.now;
            self.close_queue
                .push_back((self.now + CLOSE_GRACE_SECS * NS, key, flow.id));
        }
    }

    /// Hands on flows whose grace period or idle timeout has passed.
    fn expire(&mut self) {
        let now = self.now;
        while let Some((deadline, _, _)) = self.close_queue.front() {
            if *deadline > now {
                break;
            }
            let (_, key, id) = self.close_queue.pop_front().expect("front exists");
            if self.active.get(&key).is_some_and(|f| f.id == id) {
                let flow = self.active.remove(&key).map(|f| *f).expect("checked");
                let reason = flow.closed.unwrap_or(EndReason::Fin);
                self.finish(flow, reason);
            }
        }
        while let Some((deadline, _, _)) = self.idle_queue.front() {
            if *deadline > now {
                break;
            }
            let (_, key, id) = self.idle_queue.pop_front().expect("front exists");
            let Some(flow) = self.active.get(&key) else {
                continue;
            };
            if flow.id != id {
                continue;
            }
            let real = flow.last_seen + self.timeout(key.protocol);
            if real <= now {
                let flow = self.active.remove(&key).map(|f| *f).expect("checked");
                let reason = flow.closed.unwrap_or(EndReason::Idle);
                self.finish(flow, reason);
            } else {
                self.idle_queue.push_back((real, key, id));
            }
        }
    }

    /// Ends one flow to make room: the closed flow that closed first, else the flow at the head of the
    /// idle queue that has not been seen since it was queued (a flow seen since goes to the back with
    /// its real deadline: a second chance, so a busy flow is not cut for a quiet one).
    fn evict_one(&mut self) {
        while let Some((_, key, id)) = self.close_queue.pop_front() {
            if self.active.get(&key).is_some_and(|f| f.id == id) {
                // Closed already: only its grace period for late ACKs is cut short.
                let flow = self.active.remove(&key).map(|f| *f).expect("checked");
                let reason = flow.closed.unwrap_or(EndReason::Fin);
                self.finish(flow, reason);
                return;
            }
        }
        while let Some((deadline, key, id)) = self.idle_queue.pop_front() {
            let Some(flow) = self.active.get(&key) else {
                continue;
            };
            if flow.id != id {
                continue;
            }
            let real = flow.last_seen + self.timeout(key.protocol);
            if real > deadline {
                self.idle_queue.push_back((real, key, id));
                continue;
            }
            let flow = self.active.remove(&key).map(|f| *f).expect("checked");
            self.evicted += 1;
            self.finish(flow, EndReason::Evicted);
            return;
        }
    }

    fn finish(&mut self, flow: ActiveFlow, reason: EndReason) {
        self.finish_open(flow, reason, None);
    }

    /// Hands on a flow; `open_until` as in [`FinishedFlow::open_until`].
    fn finish_open(&mut self, mut flow: ActiveFlow, reason: EndReason, open_until: Option<u64>) {
        if let Some(streams) = flow.streams.take() {
            self.end_streams(flow.id, flow.client_dir, flow.last_seen, *streams);
        }
        let conn_state = flow.history.state(flow.ip_protocol, flow.client_dir);
        let history = flow.history.text(flow.client_dir);
        let [d0, d1] = flow.dirs;
        let (client, server, to_server, to_client) = if flow.client_dir == 0 {
            (flow.first, flow.second, d0, d1)
        } else {
            (flow.second, flow.first, d1, d0)
        };
        let (icmp_type, icmp_code) = flow.icmp.unwrap_or((0, 0));
        let mut tunnel = flow.tunnel;
        if flow.client_dir == 1 {
            for layer in &mut tunnel {
                layer.outer = layer.outer.map(|(a, b)| (b, a));
            }
        }
        self.ready.push_back(FinishedFlow {
            id: flow.id,
            client,
            server,
            ip_protocol: flow.ip_protocol,
            vlan: flow.vlan,
            tunnel,
            orientation: flow.orientation,
            end_reason: reason,
            icmp_type,
            icmp_code,
            fragments: flow.fragments,
            to_server: seal(to_server),
            to_client: seal(to_client),
            conn_state,
            history,
            open_at_start: flow.open_at_start,
            open_until,
        });
    }

    /// Delivers what a finished flow's reassemblers held, then an end marker per direction; nothing at
    /// all for a flow that never carried a byte (its start marker was never sent).
    fn end_streams(&mut self, id: u64, client_dir: usize, ts: u64, mut streams: FlowStreams) {
        self.held -= streams.held();
        let mut last: Vec<StreamChunk> = Vec::new();
        for d in 0..2 {
            let mut placed = Vec::new();
            streams.dirs[d].finish(&mut placed);
            last.extend(delivery::chunks(
                id,
                streams.stages,
                d == client_dir,
                ts,
                placed,
            ));
        }
        let last = streams.with_start(last).collect::<Vec<_>>();
        push_chunks(&mut self.chunks, &mut self.chunk_bytes, last.into_iter());
        if streams.pending_start.is_some() {
            return;
        }
        let mut conflicts = 0;
        for d in 0..2 {
            let r = &streams.dirs[d];
            conflicts += u64::from(r.conflicts);
            let end = StreamChunk {
                flow: id,
                stages: streams.stages,
                to_server: d == client_dir,
                offset: r.delivered().max(streams.udp_next[d]),
                time: ts,
                data: ChunkData::End(StreamEnd {
                    conflicts: r.conflicts,
                    cut: r.cut,
                }),
            };
            push_chunks(&mut self.chunks, &mut self.chunk_bytes, [end].into_iter());
        }
        self.stream_stats.conflicts += conflicts;
        self.stream_stats.conflict_flows += u64::from(conflicts > 0);
    }

    /// True when a full batch is waiting.
    pub fn batch_ready(&self) -> bool {
        self.ready.len() >= self.settings.batch_size
    }

    /// Takes the finished flows (at most a batch); the run folds them into the host table.
    pub fn take_batch(&mut self) -> Vec<FinishedFlow> {
        let size = self.settings.batch_size;
        while self.ready.len() < size
            && let Some(flow) = self.ending.pop()
        {
            let reason = flow.closed.unwrap_or(EndReason::CaptureEnd);
            // What would have ended it had the capture gone on: its idle timeout, or for a closed
            // flow the end of its grace period (whichever comes first, as `expire` decides).
            let mut until = flow.last_seen + self.timeout(flow.ip_protocol);
            if flow.closed.is_some() {
                until = until.min(flow.closed_at + CLOSE_GRACE_SECS * NS);
            }
            self.finish_open(flow, reason, Some(until));
        }
        let n = self.ready.len().min(size);
        self.ready.drain(..n).collect()
    }

    /// The capture is over: every remaining flow ends, in the order the flows began (handed on a
    /// batch at a time by `take_batch`).
    pub fn end_capture(&mut self) {
        let mut rest: Vec<ActiveFlow> = self.active.drain().map(|(_, f)| *f).collect();
        rest.sort_unstable_by_key(|f| std::cmp::Reverse(f.id));
        self.ending = rest;
        self.idle_queue.clear();
        self.close_queue.clear();
    }

    /// True when finished flows are waiting.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty() || !self.ending.is_empty()
    }
}

/// Feeds one packet to a flow's reassemblers: the pieces each direction (flow-table index) delivers.
fn stream_packet(
    streams: &mut FlowStreams,
    d: usize,
    transport: &Transport<'_>,
    hold_limit: usize,
) -> [Vec<super::stream::Placed>; 2] {
    let mut placed: [Vec<_>; 2] = Default::default();
    match transport {
        Transport::Tcp {
            seq,
            ack,
            flags,
            payload,
            ..
        } => {
            let syn = flags & 0x02 != 0;
            if syn {
                streams.dirs[d].syn(*seq);
            }
            // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
            let data_seq = seq.wrapping_add(u32::from(syn));
            let fin = flags & 0x01 != 0;
            streams.dirs[d].segment(data_seq, payload, fin, hold_limit, &mut placed[d]);
            if flags & 0x10 != 0 {
                streams.dirs[1 - d].ack(*ack, &mut placed[1 - d]);
            }
        }
        Transport::Udp { payload, .. } if !payload.is_empty() => {
            let at = streams.udp_next[d];
            streams.udp_next[d] += payload.len() as u64;
            placed[d].push((at, super::stream::Piece::Data(payload.to_vec())));
        }
        _ => {}
    }
    placed
}

fn push_chunks(
    chunks: &mut Vec<StreamChunk>,
    bytes: &mut usize,
    new: impl Iterator<Item = StreamChunk>,
) {
    for c in new {
        *bytes += c.size();
        chunks.push(c);
    }
}

/// The most bytes one coalesced TCP chunk holds.
const COALESCE_MAX: usize = 64 << 10;

/// Like [`push_chunks`] for TCP: a data chunk that continues the data chunk just before it (same flow,
/// direction and stages, no other chunk between them) is appended to it instead of becoming a chunk of
/// its own, up to [`COALESCE_MAX`] bytes. A stream's bytes and the order of everything stay as they
/// were; a bulk transfer reaches the stages in a few large chunks instead of one per segment, and
/// each chunk costs a call's share and an allocation in every stage that reads it. (UDP keeps one
/// chunk per datagram: its boundaries are the protocol's.)
fn coalesce_chunks(
    chunks: &mut Vec<StreamChunk>,
    bytes: &mut usize,
    new: impl Iterator<Item = StreamChunk>,
) {
    for c in new {
        if let (Some(last), ChunkData::Data(more)) = (chunks.last_mut(), &c.data)
            && let ChunkData::Data(held) = &mut last.data
            && last.flow == c.flow
            && last.to_server == c.to_server
            && last.stages == c.stages
            && last.offset + held.len() as u64 == c.offset
            && held.len() + more.len() <= COALESCE_MAX
        {
            held.extend_from_slice(more);
            last.time = c.time;
            *bytes += more.len();
            continue;
        }
        *bytes += c.size();
        chunks.push(c);
    }
}

/// What makes a tunnel part of a conversation's identity, the same in both directions: each layer's
/// kind, its outer address pair (unordered) and its id when the id is the same both ways (VNI, GRE key,
/// ERSPAN session, PPPoE session; not GTP-U TEIDs). Equal inner 5-tuples in two VNIs are two
/// conversations; a GTP-U uplink and downlink are one. MPLS labels are left out entirely: they name a
/// path, are chosen per direction, and the stack can be one label shorter one way (penultimate hop
/// popping). 0 when nothing is left; otherwise a 64-bit digest, so two tunnels are merged only on a
/// digest collision.
fn tunnel_key(tunnel: &[TunnelLayer]) -> u64 {
    let mut layers = tunnel
        .iter()
        .filter(|l| l.kind != TunnelKind::Mpls)
        .peekable();
    if layers.peek().is_none() {
        return 0;
    }
    let mut h = FxHasher::default();
    for layer in layers {
        layer.kind.hash(&mut h);
        layer.outer.map(|(a, b)| (a.min(b), a.max(b))).hash(&mut h);
        layer
            .id
            .filter(|_| layer.kind.id_is_symmetric())
            .hash(&mut h);
    }
    h.finish() | 1
}

fn seal(mut d: Direction) -> Direction {
    if let Some(stream) = d.stream.take()
        && stream.has_gap()
    {
        d.payload_truncated = true;
    }
    d.payload.shrink_to_fit();
    d
}

pub fn mac_u64(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64)
}

/// Decides which side of a new flow is the client: index 0 means the sender of the first packet.
fn orient(
    protocol: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    icmp: Option<(u8, u8)>,
) -> (usize, Orientation) {
    if protocol == 6 && flags & 0x02 != 0 {
        // SYN: client; SYN+ACK: the server answering.
        return if flags & 0x10 == 0 {
            (0, Orientation::Syn)
        } else {
            (1, Orientation::Syn)
        };
    }
    if let Some((t, _)) = icmp {
        // Echo reply (0, 129), timestamp reply (14), ... seen first: the sender is the server.
        if matches!((protocol, t), (1, 0 | 14 | 16 | 18) | (58, 129)) {
            return (1, Orientation::PortHeuristic);
        }
        return (0, Orientation::FirstPacket);
    }
    let s = service_rank(sport);
    let d = service_rank(dport);
    if s < d {
        // The sender's port looks like the service: we joined mid-conversation or saw the answer first.
        (1, Orientation::PortHeuristic)
    } else if protocol == 6 && d < s {
        (0, Orientation::PortHeuristic)
    } else {
        (0, Orientation::FirstPacket)
    }
}

/// Lower means "more likely a server port".
fn service_rank(port: u16) -> u8 {
    match port {
        0 => 3,
        53 | 67 | 80 | 123 | 137 | 443 | 5353 | 5355 | 1900 => 0,
        1..=1023 => 1,
        1024..=49151 => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn udp(src: [u8; 4], sport: u16, payload: &[u8]) -> IpPacket<'_> {
        IpPacket {
            src_mac: None,
            dst_mac: None,
            vlan: Vec::new(),
            tunnel: Vec::new(),
            tunnel_error: None,
            src: IpAddr::from(src),
            dst: IpAddr::from([192, 0, 2, 1]),
            ttl: 64,
            protocol: 17,
            wire_len: 28 + payload.len() as u64,
            fragments: 0,
            transport: Transport::Udp {
                src_port: sport,
                dst_port: 53,
                payload: payload.into(),
            },
        }
    }

    fn drain(table: &mut FlowTable) -> Vec<FinishedFlow> {
        let mut out = Vec::new();
        while table.has_ready() {
            out.extend(table.take_batch());
        }
        out
    }

    #[test]
    fn a_full_table_ends_the_least_recently_seen_flow_first() {
        let mut table = FlowTable::new(FlowSettings {
            max_active_flows: 2,
            ..FlowSettings::default()
        });
        table.add(SEC, &udp([10, 0, 0, 1], 1000, b"a"));
        table.add(2 * SEC, &udp([10, 0, 0, 2], 1000, b"b"));
        // The first flow is seen again: the second is now the one that waited longest.
        table.add(3 * SEC, &udp([10, 0, 0, 1], 1000, b"c"));
        table.add(4 * SEC, &udp([10, 0, 0, 3], 1000, b"d"));
        assert_eq!(
            (table.active(), table.evicted(), table.max_active()),
            (2, 1, 2)
        );
        let gone = drain(&mut table);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].client.0, IpAddr::from([10, 0, 0, 2]));
        assert_eq!(gone[0].end_reason, EndReason::Evicted);
        table.end_capture();
        let rest = drain(&mut table);
        let first = rest.iter().find(|f| f.id == 1).expect("flow 1 lived on");
        assert_eq!(
            (first.to_server.packets, first.end_reason),
            (2, EndReason::CaptureEnd)
        );
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn a_flow_that_never_carried_a_byte_gives_its_stream_stages_no_chunk() {
        let mut table = FlowTable::new(FlowSettings {
            stream_filters: vec![StreamFilter::all()],
            ..FlowSettings::default()
        });
        table.add(SEC, &udp([10, 0, 0, 1], 1000, b""));
        table.add(SEC, &udp([10, 0, 0, 2], 1000, b"hi"));
        table.end_capture();
        drain(&mut table);
        let chunks = table.take_chunks();
        let kinds: Vec<(u64, &str)> = chunks
            .iter()
            .map(|c| {
                let kind = match c.data {
                    ChunkData::Start(_) => "start",
                    ChunkData::Data(_) => "data",
                    ChunkData::Gap(_) => "gap",
                    ChunkData::End(_) => "end",
                };
                (c.flow, kind)
            })
            .collect();
        assert_eq!(kinds, [(2, "start"), (2, "data"), (2, "end"), (2, "end")]);
    }

    fn tcp(from_client: bool, seq: u32, flags: u8, payload: &[u8]) -> IpPacket<'_> {
        let (client, server) = ([10, 0, 0, 1], [192, 0, 2, 1]);
        let (src, dst, sport, dport) = if from_client {
            (client, server, 40000, 80)
        } else {
            (server, client, 80, 40000)
        };
        let mut p = udp(src, sport, payload);
        p.dst = IpAddr::from(dst);
        p.protocol = 6;
        p.transport = Transport::Tcp {
            src_port: sport,
            dst_port: dport,
            seq,
            ack: 0,
            flags,
            payload: payload.into(),
        };
        p
    }

    /// Consecutive in-order segments of one direction become one chunk (up to `COALESCE_MAX`); a chunk
    /// of the other direction between them keeps them apart, so the order of the two directions holds.
    #[test]
    fn consecutive_tcp_segments_of_a_direction_reach_the_stages_as_one_chunk() {
        let mut table = FlowTable::new(FlowSettings {
            stream_filters: vec![StreamFilter::all()],
            ..FlowSettings::default()
        });
        table.add(SEC, &tcp(true, 99, 0x02, b""));
        table.add(SEC, &tcp(false, 499, 0x12, b""));
        table.add(SEC, &tcp(true, 100, 0x18, b"GET / HTTP/1.1\r\n"));
        table.add(SEC, &tcp(true, 116, 0x18, b"\r\n"));
        let body = vec![7u8; 100 * 1000];
        for (i, piece) in body.chunks(1000).enumerate() {
            table.add(2 * SEC, &tcp(false, 500 + 1000 * i as u32, 0x18, piece));
        }
        table.add(3 * SEC, &tcp(true, 118, 0x18, b"next"));
        let data: Vec<(bool, u64, usize)> = table
            .take_chunks()
            .iter()
            .filter_map(|c| match &c.data {
                ChunkData::Data(d) => Some((c.to_server, c.offset, d.len())),
                _ => None,
            })
            .collect();
        assert_eq!(
            data,
            [
                (true, 0, 18),
                // 65 segments fit in 64 KiB, the 66th begins the next chunk
                (false, 0, 65_000),
                (false, 65_000, 35_000),
                (true, 18, 4)
            ]
        );
    }

    /// What the merge of rotated files needs: which flows may continue one of an earlier file (began
    /// within the idle timeout of the capture's start) and until when each flow open at the end could
    /// have gone on (idle timeout, or the grace period of a closed flow).
    #[test]
    fn flows_say_whether_they_may_continue_across_a_file_boundary() {
        let mut table = FlowTable::new(FlowSettings::default());
        // UDP: 60 s idle timeout. Flow 1 begins with the capture, flow 2 at 59.9 s, flow 3 at 61 s.
        table.add(10 * SEC, &udp([10, 0, 0, 1], 1000, b"a"));
        table.add(10 * SEC + 59_900_000_000, &udp([10, 0, 0, 2], 1000, b"b"));
        table.add(71 * SEC, &udp([10, 0, 0, 3], 1000, b"c"));
        // Flow 1 ends idle inside the capture when time passes its timeout.
        table.add(71 * SEC, &tcp(true, 1, 0x02, b""));
        table.add(72 * SEC, &tcp(false, 1, 0x12, b""));
        table.add(73 * SEC, &tcp(true, 2, 0x11, b""));
        table.add(74 * SEC, &tcp(false, 2, 0x11, b""));
        table.end_capture();
        let flows = drain(&mut table);
        let by_client = |ip: [u8; 4], proto: u8| {
            flows
                .iter()
                .find(|f| f.client.0 == IpAddr::from(ip) && f.ip_protocol == proto)
                .expect("flow")
        };
        let first = by_client([10, 0, 0, 1], 17);
        assert_eq!((first.open_at_start, first.open_until), (true, None));
        assert_eq!(first.end_reason, EndReason::Idle);
        let second = by_client([10, 0, 0, 2], 17);
        assert!(second.open_at_start);
        assert_eq!(second.open_until, Some(10 * SEC + 119_900_000_000));
        let third = by_client([10, 0, 0, 3], 17);
        assert!(!third.open_at_start);
        assert_eq!(third.open_until, Some(131 * SEC));
        // Closed by both FINs at 74 s: open for its 2 s of grace, not for its 300 s timeout.
        let tcp = by_client([10, 0, 0, 1], 6);
        assert_eq!(
            (tcp.end_reason, tcp.open_until),
            (EndReason::Fin, Some(76 * SEC))
        );
        assert!(tcp.open_at_start, "61 s in, within TCP's 300 s timeout");
    }

    #[test]
    fn flows_open_at_the_end_come_out_in_batches_in_the_order_they_began() {
        let mut table = FlowTable::new(FlowSettings {
            batch_size: 3,
            ..FlowSettings::default()
        });
        for i in 0..10u16 {
            table.add(SEC + u64::from(i), &udp([10, 0, 0, 1], 1000 + i, b"x"));
        }
        table.end_capture();
        let mut sizes = Vec::new();
        let mut ids = Vec::new();
        while table.has_ready() {
            let batch = table.take_batch();
            sizes.push(batch.len());
            ids.extend(batch.iter().map(|f| f.id));
        }
        assert_eq!(sizes, [3, 3, 3, 1]);
        assert_eq!(ids, (1..=10).collect::<Vec<u64>>());
        assert_eq!(table.evicted(), 0);
    }

    #[test]
    fn a_syn_makes_its_sender_the_client() {
        assert_eq!(orient(6, 51000, 443, 0x02, None), (0, Orientation::Syn));
        assert_eq!(orient(6, 443, 51000, 0x12, None), (1, Orientation::Syn));
    }

    #[test]
    fn an_answer_seen_first_is_turned_around_by_ports() {
        assert_eq!(
            orient(17, 53, 40000, 0, None),
            (1, Orientation::PortHeuristic)
        );
        assert_eq!(
            orient(17, 40000, 53, 0, None),
            (0, Orientation::FirstPacket)
        );
        assert_eq!(
            orient(6, 443, 51000, 0x10, None),
            (1, Orientation::PortHeuristic)
        );
        assert_eq!(
            orient(1, 0, 0, 0, Some((0, 0))),
            (1, Orientation::PortHeuristic)
        );
    }
}
