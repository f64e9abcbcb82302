//! pcapxray: packet capture → flow model → WebAssembly plugins → diagrams and reports.
//!
//! The binary (`main.rs`) only parses the command line; everything it does lives here, split by what
//! data passes through: `decode` (bytes → packets), `flow` (packets → flows and hosts), `pipeline`
//! (TOML → stages), `runtime` (wasmtime, limits, plugins), `caps` (what plugins may ask the host for),
//! `output` (artifacts → files), `run` (one capture through one pipeline) and `lake` (a run's flows,
//! findings and hosts as Parquet tables in a partitioned folder; `batch` runs many captures into one).

pub mod batch;
pub mod bindings;
pub mod builtins;
pub mod caps;
pub mod config;
pub mod embedded;
pub use pcapxray_capture::{clock, community_id, decode, fates, flow};
pub mod lake;
pub mod output;
pub mod pipeline;
pub mod run;
pub mod runtime;
pub mod serve;
pub mod stages;
pub mod template;
pub mod torfetch;
pub mod torimport;
