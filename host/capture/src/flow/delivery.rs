//! Stream chunks for the stages that asked for them, under one memory budget. The flow table decides
//! when a flow opens which stages want its streams (a bit per stage); a flow nobody wants gets no
//! reassembler and costs nothing. A wanted flow's chunks come out of the table in capture order: a
//! `Start` chunk, then data and gaps per direction as they become contiguous, then one `End` per
//! direction when the flow is finished, before the flow itself leaves the table.
//!
//! **The stream budget** bounds what the host holds for streams at once: out-of-order bytes held by
//! every reassembler (at most an eighth of the budget, [`StreamBudget::hold`]), and chunks not yet
//! handed to the stages (the reading thread sends them on every [`StreamBudget::flush`] bytes, and at
//! most a handful of messages are in flight between threads; see `host/src/run/reading.rs`). When the
//! held bytes exceed their share, **the stream direction holding the most is cut** (the oldest flow's
//! on a tie): each of its holes becomes a
//! gap at once and what it held is delivered; the gaps' bytes are counted as cut. Cutting the largest
//! holder frees the most with the fewest streams damaged, and leaves small streams (most of them)
//! whole. The decision depends only on the capture, never on timing.
//!
//! Outside the budget, like the payload prefix every flow keeps, each wanted TCP direction keeps its
//! last [`super::stream::RECENT_WINDOW`] delivered bytes to compare retransmissions with, and a few
//! hundred bytes of state: memory with streams on is the budget plus about 2.5 KiB per active wanted
//! flow.

use super::stream::{Piece, Placed, Reassembler};
use std::net::IpAddr;

/// Which flows one stage wants streams of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// Only flows with one of these ports on either side; empty: any port.
    pub ports: Vec<u16>,
    /// TCP flows.
    pub tcp: bool,
    /// UDP flows (each datagram is one chunk).
    pub udp: bool,
}

impl StreamFilter {
    /// Every TCP and UDP flow.
    pub fn all() -> StreamFilter {
        StreamFilter {
            ports: Vec::new(),
            tcp: true,
            udp: true,
        }
    }

    fn matches(&self, protocol: u8, ports: (u16, u16)) -> bool {
        let proto = match protocol {
            6 => self.tcp,
            17 => self.udp,
            _ => false,
        };
        proto
            && (self.ports.is_empty()
                || self.ports.contains(&ports.0)
                || self.ports.contains(&ports.1))
    }
}

/// The stream budget and the shares derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamBudget {
    /// Bytes in all.
    pub total: usize,
}

impl StreamBudget {
    /// The smallest budget the shares below still fit in.
    pub const MIN: usize = 4 << 20;

    /// Out-of-order bytes all reassemblers together may hold.
    pub fn hold(&self) -> usize {
        self.total / 8
    }

    /// Out-of-order bytes one direction may hold before it gives up on its first hole.
    pub fn hold_per_direction(&self) -> usize {
        (self.total / 16).min(1 << 20)
    }

    /// Undelivered chunk bytes after which the reading thread sends them on.
    pub fn flush(&self) -> usize {
        self.total / 32
    }
}

impl Default for StreamBudget {
    fn default() -> Self {
        StreamBudget { total: 32 << 20 }
    }
}

/// A stream's first chunk: whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamStart {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub ip_protocol: u8,
}

/// How one direction of a stream ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamEnd {
    /// Segments whose bytes differed from bytes kept before them (first wins).
    pub conflicts: u32,
    /// Bytes declared missing because the stream budget cut the stream.
    pub cut: u64,
}

/// What a chunk carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkData {
    Start(StreamStart),
    Data(Vec<u8>),
    Gap(u64),
    End(StreamEnd),
}

/// One piece of a flow's stream, for the stages in `stages`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamChunk {
    pub flow: u64,
    /// A bit per stage that wants it (bit i: the i-th filter of the settings).
    pub stages: u64,
    /// Client to server, or back.
    pub to_server: bool,
    /// Offset of the chunk's first byte in its direction (for `End`: the direction's length).
    pub offset: u64,
    /// Capture time of the packet that completed the chunk (ns).
    pub time: u64,
    pub data: ChunkData,
}

impl StreamChunk {
    /// Memory the chunk takes: its bytes and the record itself, so that a flood of start and end
    /// markers counts against the budget too.
    pub fn size(&self) -> usize {
        let bytes = match &self.data {
            ChunkData::Data(d) => d.len(),
            _ => 0,
        };
        bytes + std::mem::size_of::<StreamChunk>()
    }
}

/// Totals over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Flows some stage wanted streams of.
    pub flows: u64,
    /// Conflicting overlaps, and the flows that had any.
    pub conflicts: u64,
    pub conflict_flows: u64,
    /// Streams (directions) the budget cut, and the bytes declared missing.
    pub cut_streams: u64,
    pub cut_bytes: u64,
}

/// The streams of one wanted flow.
#[derive(Debug)]
pub(super) struct FlowStreams {
    pub stages: u64,
    /// Per direction, indexed as the flow table's (0: the first packet's sender).
    pub dirs: [Reassembler; 2],
    /// Bytes delivered per direction for UDP (each datagram one chunk).
    pub udp_next: [u64; 2],
    /// Whether each direction was cut by the budget (counted once).
    pub was_cut: [bool; 2],
    /// The flow's start marker, held back until its first piece: a flow that never carries a byte
    /// (an unanswered SYN) gives its stages no chunk at all.
    pub pending_start: Option<StreamChunk>,
}

/// Which stages want a new flow's streams: a bit per filter.
pub(super) fn wanted(filters: &[StreamFilter], protocol: u8, ports: (u16, u16)) -> u64 {
    filters
        .iter()
        .enumerate()
        .filter(|(_, f)| f.matches(protocol, ports))
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

impl FlowStreams {
    pub fn new(stages: u64, start: StreamChunk) -> FlowStreams {
        FlowStreams {
            stages,
            dirs: Default::default(),
            udp_next: [0; 2],
            was_cut: [false; 2],
            pending_start: Some(start),
        }
    }

    /// The chunks to deliver for `new`: the held-back start marker first, the first time there are any.
    pub fn with_start(&mut self, new: Vec<StreamChunk>) -> impl Iterator<Item = StreamChunk> {
        let start = if new.is_empty() {
            None
        } else {
            self.pending_start.take()
        };
        start.into_iter().chain(new)
    }

    pub fn held(&self) -> usize {
        self.dirs[0].held() + self.dirs[1].held()
    }
}

/// Turns placed pieces into chunks of `flow`.
pub(super) fn chunks(
    flow: u64,
    stages: u64,
    to_server: bool,
    time: u64,
    pieces: impl IntoIterator<Item = Placed>,
) -> impl Iterator<Item = StreamChunk> {
    pieces.into_iter().map(move |(offset, piece)| StreamChunk {
        flow,
        stages,
        to_server,
        offset,
        time,
        data: match piece {
            Piece::Data(d) => ChunkData::Data(d),
            Piece::Gap(n) => ChunkData::Gap(n),
        },
    })
}
