//! Packets → flows. Every IP packet joins a bidirectional flow keyed by its 5-tuple and VLANs; flows
//! leave the table as soon as they are over (FIN, RST, idle timeout), so memory follows the number of
//! active conversations, never the size of the capture. Host statistics are folded in when a flow
//! leaves, so the per-packet path touches one hash table.

mod delivery;
mod hosts;
mod state;
mod stream;
mod table;
mod tcp;

pub use delivery::{
    ChunkData, StreamBudget, StreamChunk, StreamEnd, StreamFilter, StreamStart, StreamStats,
};
pub use hosts::{AddressOrder, HostEntry, HostNote, HostSlot, HostSnapshot, HostTable};
pub use state::{ConnState, join_history, state_of_history};
pub use stream::RECENT_WINDOW;
pub use table::{
    DEFAULT_MAX_ACTIVE_FLOWS, Direction, DirectionSummary, EndReason, FinishedFlow, FlowSettings,
    FlowTable, Orientation, mac_u64,
};
