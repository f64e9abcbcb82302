//! # pcapxray plugin SDK
//!
//! pcapxray decodes a packet capture into flows and hands them, in batches, to WebAssembly component
//! plugins listed in a TOML pipeline. This crate is what a Rust plugin is written with: implement
//! [`Analyzer`] (flows in, findings and host facts out) or [`Output`] (the annotated model in, report
//! files out), call one export macro, and build with `cargo build --target wasm32-wasip2 --release`.
//! The WIT interface (`wit/` in this crate, a link to the repository's one package; `pcapxray:plugin`)
//! stays hidden behind the types re-exported here.
//!
//! ```no_run
//! use pcapxray_plugin_sdk::{Analyzer, Finding, Flow, NoConfig, Outcome, PluginError, Severity};
//!
//! /// Flags every flow to TCP port 23: telnet sends passwords in clear text.
//! #[derive(Default)]
//! struct Telnet;
//!
//! impl Analyzer for Telnet {
//!     const NAME: &'static str = "telnet";
//!     const VERSION: &'static str = "0.1.0";
//!     const DESCRIPTION: &'static str = "Flags telnet sessions.";
//!     type Config = NoConfig;
//!
//!     fn new(_config: NoConfig) -> Result<Self, PluginError> {
//!         Ok(Telnet)
//!     }
//!
//!     fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
//!         for flow in flows.iter().filter(|f| f.is_tcp() && f.server.port == 23) {
//!             out.push(
//!                 Finding::on_flow(flow.id, "cleartext.telnet", Severity::Medium)
//!                     .summary(format!("Telnet session to {}", flow.server_ip()))
//!                     .attr("reason", "telnet carries credentials in clear text"),
//!             );
//!         }
//!         Ok(())
//!     }
//! }
//!
//! pcapxray_plugin_sdk::export_analyzer!(Telnet);
//! ```
//!
//! Capabilities (host files, DNS, RDAP, and for outputs SQLite and Graphviz) are imports in [`files`],
//! [`dns`], [`whois`], [`sqlite`] and [`graphviz`]; each call fails with [`CapabilityError::NotGranted`]
//! unless the pipeline grants the capability to the stage.

#![deny(missing_docs)]

pub mod collections;
pub mod credentials;
pub mod encoding;
pub mod host;
mod model;
pub mod names;
pub mod net;
mod packed;
pub mod results;
mod runtime;
mod seen;
pub mod streams;
pub mod tables;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod web;

pub use model::{format_mac, mac_bytes, tag_matches};
pub use runtime::{__private, Analyzer, NoConfig, Output};
pub use seen::Seen;

#[doc(hidden)]
pub mod __bindings {
    #![allow(missing_docs, clippy::all)]
    pub mod analyzer_world {
        wit_bindgen::generate!({
            world: "analyzer-plugin",
            path: "wit",
            // Flows also arrive packed (`batch.flows`), decoded by `crate::packed` (by hand; the
            // derived decoder maps enum cases and checks it in tests, which encode with `Serialize`;
            // neither costs code in a plugin that does not call it).
            additional_derives: [serde::Deserialize, serde::Serialize],
            pub_export_macro: true,
            export_macro_name: "__export_analyzer_world",
            default_bindings_module: "::pcapxray_plugin_sdk::__bindings::analyzer_world",
        });
    }
    pub mod output_world {
        wit_bindgen::generate!({
            world: "output-plugin",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "__export_output_world",
            default_bindings_module: "::pcapxray_plugin_sdk::__bindings::output_world",
            with: {
                "pcapxray:plugin/types@0.6.0": super::analyzer_world::pcapxray::plugin::types,
                "pcapxray:plugin/log@0.6.0": super::analyzer_world::pcapxray::plugin::log,
                "pcapxray:plugin/model@0.6.0": super::analyzer_world::pcapxray::plugin::model,
                "pcapxray:plugin/batch@0.6.0": super::analyzer_world::pcapxray::plugin::batch,
                "pcapxray:plugin/capability@0.6.0": super::analyzer_world::pcapxray::plugin::capability,
                "pcapxray:plugin/files@0.6.0": super::analyzer_world::pcapxray::plugin::files,
                "pcapxray:plugin/dns@0.6.0": super::analyzer_world::pcapxray::plugin::dns,
                "pcapxray:plugin/whois@0.6.0": super::analyzer_world::pcapxray::plugin::whois,
            },
        });
    }
}

use __bindings::analyzer_world::pcapxray::plugin as wit;

pub use wit::capability::CapabilityError;
#[doc(hidden)]
pub use wit::types::Report as WitReport;

/// Everything an output gets at the end of the run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The capture.
    pub capture: CaptureInfo,
    /// Every host, with the facts all stages published, sorted by address. Empty when the plugin
    /// streams them itself ([`Output::STREAMS_HOSTS`]).
    pub hosts: Vec<HostInfo>,
    /// The findings that were not on a flow passed to `consume` (about hosts or the capture, or raised
    /// at the end of the run). Empty when the plugin streams them itself ([`Output::STREAMS_FINDINGS`]).
    pub findings: Vec<FindingRecord>,
    /// The stages of the run, in order.
    pub plugins: Vec<PluginRun>,
    /// Every query sent through a granted capability.
    pub queries: Vec<QueryRecord>,
    /// Every run note, the host's and the stages', in the order they were made.
    pub notes: Vec<NoteRecord>,
}
/// The flow model types shared with the host (see the WIT package for field documentation).
pub use wit::types::{
    ArpEvent, Artifact, Attribute, CaptureInfo, ConfigError, ConnState, DhcpDatagram, Direction,
    EndReason, Endpoint, Finding, FindingRecord, Flow, FlowId, HostFact, HostInfo, HostNote,
    IpAddress, Ipv6Address, LinkBatch, MacAddress, MacSeen, NoteLevel, NoteRecord, Orientation,
    Outcome, PacketFate, PluginError, PluginInfo, PluginKind, PluginRun, Protocol, QueryRecord,
    RunNote, Severity, StreamChunk, StreamData, StreamEnd, StreamStart, Subject, TcpFlags,
    Timestamp, TimestampAnomaly, TunnelKind, TunnelLayer,
};

/// Messages to the investigator, prefixed by the host with the stage name.
pub mod log {
    use super::wit::log::{Level, log};

    /// A detail for plugin authors.
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    /// Normal progress.
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    /// Something the investigator should know about the results.
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    /// Something failed; results may be incomplete.
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// What the host knows so far, including facts earlier stages published. An output, while it takes a
/// batch, sees the hosts of that batch as they were when the analyzers were done with it (so its report
/// does not depend on timing); in `finish` it sees every host.
pub mod hosts {
    use super::{HostInfo, IpAddress};

    /// One host, if the capture has it.
    pub fn get(ip: &IpAddress) -> Option<HostInfo> {
        super::wit::model::get_host(*ip)
    }

    /// Every host (a copy of the whole table: call it once, e.g. in `finish`). A capture can hold
    /// millions of hosts: prefer [`pages`], which holds one page at a time.
    pub fn all() -> Vec<HostInfo> {
        super::wit::model::all_hosts()
    }

    /// Hosts per page of the host table, in address order.
    pub const PAGE: u32 = 4096;

    /// The host table as it is now, page by page in address order ([`PAGE`] hosts each): memory for
    /// one page instead of the whole table.
    pub fn pages() -> Pages {
        Pages {
            after: None,
            done: false,
        }
    }

    /// An iterator over pages of the host table (see [`pages`]).
    #[derive(Debug)]
    pub struct Pages {
        after: Option<IpAddress>,
        done: bool,
    }

    impl Iterator for Pages {
        type Item = Vec<HostInfo>;

        fn next(&mut self) -> Option<Vec<HostInfo>> {
            if self.done {
                return None;
            }
            let page = super::wit::model::hosts_after(self.after, PAGE);
            match page.last() {
                Some(last) => self.after = Some(last.ip),
                None => self.done = true,
            }
            if page.len() < PAGE as usize {
                self.done = true;
            }
            (!page.is_empty()).then_some(page)
        }
    }
}

/// Host files and folders the pipeline grants to the stage (`grants.files`).
pub mod files {
    use super::CapabilityError;

    /// Read a whole granted file.
    pub fn read(path: &str) -> Result<Vec<u8>, CapabilityError> {
        super::wit::files::read_file(path)
    }

    /// The entry names of a granted folder, sorted.
    pub fn list(path: &str) -> Result<Vec<String>, CapabilityError> {
        super::wit::files::list_dir(path)
    }
}

/// Keeping the bytes of found files in `files/` of the report folder (`grants.extract`): open, append
/// the bytes as they stream by, close; the host names the file by its SHA-256 and enforces the caps.
pub mod extract {
    use super::CapabilityError;
    pub use super::wit::extract::Kept;

    /// Starts a file; `extension` (`pdf`, `exe`) becomes part of its name if it is 1–8 lower-case
    /// letters or digits, else `bin`.
    pub fn open(extension: &str) -> Result<u32, CapabilityError> {
        super::wit::extract::open(extension)
    }

    /// Appends bytes; false once a cap stopped the file from being kept (later appends are dropped).
    pub fn append(handle: u32, bytes: &[u8]) -> Result<bool, CapabilityError> {
        super::wit::extract::append(handle, bytes)
    }

    /// Ends the file and says what was kept.
    pub fn close(handle: u32) -> Result<Kept, CapabilityError> {
        super::wit::extract::close(handle)
    }

    /// Drops a file without keeping it.
    pub fn discard(handle: u32) {
        super::wit::extract::discard(handle)
    }
}

/// DNS lookups through the host's resolver (`grants.dns`).
pub mod dns {
    use super::{CapabilityError, IpAddress};

    /// Reverse (PTR) lookups, one result per address.
    pub fn reverse(ips: &[IpAddress]) -> Vec<Result<Vec<String>, CapabilityError>> {
        super::wit::dns::reverse(ips)
    }

    /// Forward lookups, one result per name.
    pub fn forward(names: &[String]) -> Vec<Result<Vec<IpAddress>, CapabilityError>> {
        super::wit::dns::forward(names)
    }
}

/// IP ownership through RDAP (`grants.whois`).
pub mod whois {
    pub use super::wit::whois::NetworkOwner;
    use super::{CapabilityError, IpAddress};

    /// Owners of addresses, one result per address.
    pub fn lookup(ips: &[IpAddress]) -> Vec<Result<NetworkOwner, CapabilityError>> {
        super::wit::whois::lookup(ips)
    }
}

/// SQLite databases in the report folder, run by the host (`grants.sqlite`). Output plugins only.
pub mod sqlite {
    use super::__bindings::output_world::pcapxray::plugin::sqlite as host;
    pub use super::__bindings::output_world::pcapxray::plugin::sqlite::Value;
    use super::CapabilityError;

    /// Runs statements without parameters (schema, indexes) on `database` in the report folder.
    pub fn execute(database: &str, sql: &str) -> Result<(), CapabilityError> {
        host::execute(database, sql)
    }

    /// Runs one statement with `?` parameters once per row, in one transaction.
    pub fn insert(database: &str, sql: &str, rows: &[Vec<Value>]) -> Result<u64, CapabilityError> {
        host::insert(database, sql, rows)
    }
}

/// Graphviz's `dot` program, when installed and granted (`grants.graphviz`). Output plugins only.
pub mod graphviz {
    use super::CapabilityError;

    /// Renders DOT text with a Graphviz layout `engine` (`dot`, `sfdp`, ...) to `format` (`svg`, `png`,
    /// `pdf`).
    pub fn render(dot: &str, engine: &str, format: &str) -> Result<Vec<u8>, CapabilityError> {
        super::__bindings::output_world::pcapxray::plugin::graphviz::render(dot, engine, format)
    }
}
