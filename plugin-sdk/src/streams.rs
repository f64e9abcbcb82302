//! Reassembled streams, the simple way. The host hands an analyzer whose pipeline stage sets
//! `streams = ...` the bytes of each flow's two directions in order, as chunks, while the flow is live
//! ([`crate::Analyzer::stream`]). [`Streams`] keeps one value of yours per direction, calls you back
//! with each contiguous range of bytes or gap, and gives the value back when the direction ends, so a
//! plugin never has to track offsets or hold a whole transfer.
//!
//! ```
//! use pcapxray_plugin_sdk::streams::{StreamEvent, Streams};
//! use pcapxray_plugin_sdk::StreamChunk;
//!
//! /// Counts the bytes and the missing bytes of every direction.
//! #[derive(Default)]
//! struct Count {
//!     bytes: u64,
//!     missing: u64,
//! }
//!
//! fn on_chunk(streams: &mut Streams<Count>, chunk: &StreamChunk) {
//!     let done = streams.feed(chunk, |_, count, event| match event {
//!         StreamEvent::Data(bytes) => count.bytes += bytes.len() as u64,
//!         StreamEvent::Gap(n) => count.missing += n,
//!     });
//!     if let Some((key, count, _end)) = done {
//!         let _ = (key.flow, key.to_server, count.bytes, count.missing);
//!     }
//! }
//! ```
//!
//! What a stage can rely on: within a direction, chunks come in order without overlap (each starts
//! where the one before ended) and end with one end marker; a flow's first chunk is its start (client,
//! server, protocol); every chunk of a flow, both end markers included, arrives before the `analyze`
//! call that hands over the flow itself, so a stage has its stream results ready when it sees the flow,
//! together with the findings earlier stages made about it (see `docs/plugins.md`).

use crate::{FlowId, StreamChunk, StreamData, StreamEnd, StreamStart};
use std::collections::HashMap;

/// One direction of one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// The flow.
    pub flow: FlowId,
    /// Client to server (true) or back.
    pub to_server: bool,
}

/// What [`Streams::feed`] calls back with.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// The next bytes of the direction.
    Data(&'a [u8]),
    /// This many bytes of the direction were never seen (lost by the capture or cut by the budget).
    Gap(u64),
}

/// One value of type `T` per open stream direction, fed in order.
#[derive(Debug)]
pub struct Streams<T> {
    open: HashMap<StreamKey, T>,
    starts: HashMap<FlowId, (StreamStart, u8)>,
}

impl<T> Default for Streams<T> {
    fn default() -> Self {
        Streams {
            open: HashMap::new(),
            starts: HashMap::new(),
        }
    }
}

impl<T: Default> Streams<T> {
    /// Takes a chunk: data and gaps go to `f` with the direction's value; when the chunk ends a
    /// direction, its value comes back with how it ended.
    pub fn feed(
        &mut self,
        chunk: &StreamChunk,
        mut f: impl FnMut(StreamKey, &mut T, StreamEvent<'_>),
    ) -> Option<(StreamKey, T, StreamEnd)> {
        let key = StreamKey {
            flow: chunk.flow,
            to_server: chunk.to_server,
        };
        match &chunk.data {
            StreamData::Start(start) => {
                self.starts.insert(chunk.flow, (*start, 2));
                None
            }
            StreamData::Data(bytes) => {
                f(
                    key,
                    self.open.entry(key).or_default(),
                    StreamEvent::Data(bytes),
                );
                None
            }
            StreamData::Gap(n) => {
                f(key, self.open.entry(key).or_default(), StreamEvent::Gap(*n));
                None
            }
            StreamData::End(end) => {
                if let Some((_, left)) = self.starts.get_mut(&chunk.flow) {
                    *left -= 1;
                    if *left == 0 {
                        self.starts.remove(&chunk.flow);
                    }
                }
                Some((key, self.open.remove(&key).unwrap_or_default(), *end))
            }
        }
    }

    /// Whose streams a flow's are (client, server, IP protocol), while one of its directions is open.
    pub fn start(&self, flow: FlowId) -> Option<&StreamStart> {
        self.starts.get(&flow).map(|(s, _)| s)
    }

    /// Forgets a flow whose streams the stage gave up on ([`crate::Outcome::stop_stream`]): its
    /// directions' values come back, to-server first, and no end marker will come for it.
    pub fn forget(&mut self, flow: FlowId) -> [Option<T>; 2] {
        self.starts.remove(&flow);
        [true, false].map(|to_server| self.open.remove(&StreamKey { flow, to_server }))
    }

    /// Directions open now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when no direction is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}
