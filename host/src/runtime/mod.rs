//! wasmtime, limits and plugin loading. Each plugin is compiled once into an `InstancePre`; each stage
//! gets its own store with a memory limit and, for every call, an epoch deadline. A plugin that traps,
//! loops or runs out of memory is stopped and named; the rest of the pipeline carries on.

pub mod convert;
mod packed;
mod plugin;
mod printed;
mod stage;
mod state;
pub mod wit_shape;

pub use packed::pack as pack_flows;
pub use plugin::{
    Inspected, LoadedPlugin, PluginLoadError, Runtime, Unlinked, WIT_PACKAGE, WIT_VERSION,
    capabilities_among, hex as hex_digest,
};
pub use printed::PRINTED_KEPT;
pub use stage::{
    Analyzer, AnalyzerStage, Output, OutputStage, Stage, StageError, Stop, StopCause, World,
};
pub use state::StageState;
