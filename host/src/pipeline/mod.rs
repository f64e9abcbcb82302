//! TOML → validated stages. A pipeline file names the analyzer and output stages in order, each with
//! its plugin, configuration, capability grants and limits. Every problem in the file is collected and
//! reported at once, with line and column, so an investigator fixes a pipeline in one pass.

mod diagnostics;
mod load;

pub use diagnostics::{Diagnostic, Diagnostics, SourceMap};
pub use load::{expand_home, load, normalize, plugin_file_problem};

use crate::flow::{FlowSettings, StreamFilter};
use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

/// A parsed, validated pipeline.
#[derive(Debug)]
pub struct Pipeline {
    /// The pipeline file.
    pub path: PathBuf,
    /// Its text, kept to turn byte offsets into lines and columns for later errors.
    pub source: SourceMap,
    pub flows: FlowSettings,
    pub stages: Vec<StageSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    Analyzer,
    Output,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Analyzer => "analyzer",
            StageKind::Output => "output",
        }
    }
}

/// Where a stage's plugin comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PluginSource {
    /// A plugin built into the binary, by name.
    Builtin(String),
    /// A component file (resolved against the pipeline file's folder).
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(name) => write!(f, "built-in plugin `{name}`"),
            PluginSource::File(path) => write!(f, "plugin {}", path.display()),
        }
    }
}

/// One stage of the pipeline.
#[derive(Clone, Debug)]
pub struct StageSpec {
    /// Unique stage name (defaults to the plugin name).
    pub name: String,
    pub kind: StageKind,
    pub source: PluginSource,
    /// The stage's `config` table as JSON, handed to the plugin's `configure`.
    pub config: serde_json::Value,
    /// Byte spans of every key inside `config` (dotted paths, `[i]` for array items), to place the
    /// plugin's configuration errors in the file.
    pub config_spans: HashMap<String, Range<usize>>,
    /// Span of the stage's table header.
    pub span: Range<usize>,
    pub grants: Grants,
    pub limits: Limits,
    /// Which flows' reassembled streams the stage receives in `analyze-stream` (analyzers only);
    /// `None`: none, and no reassembly for its sake.
    pub streams: Option<StreamFilter>,
}

/// Capabilities granted to a stage. Nothing is granted by default.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// The pipeline file's folder: relative paths a plugin passes to a capability are resolved there.
    pub base_dir: PathBuf,
    /// Files and folders the stage may read (absolute paths).
    pub files: Vec<PathBuf>,
    /// DNS lookups through the host resolver.
    pub dns: Option<DnsGrant>,
    /// RDAP lookups.
    pub whois: Option<WhoisGrant>,
    /// SQLite databases in the report folder.
    pub sqlite: bool,
    /// Graphviz's `dot` program.
    pub graphviz: Option<GraphvizGrant>,
    /// Writing found files into `files/` of the report folder.
    pub extract: Option<ExtractGrant>,
}

impl Grants {
    /// The capabilities granted, by the name of their WIT interface (`files`, `dns`, ...).
    pub fn granted(&self) -> Vec<&'static str> {
        [
            ("files", !self.files.is_empty()),
            ("dns", self.dns.is_some()),
            ("whois", self.whois.is_some()),
            ("sqlite", self.sqlite),
            ("graphviz", self.graphviz.is_some()),
            ("extract", self.extract.is_some()),
        ]
        .into_iter()
        .filter_map(|(cap, granted)| granted.then_some(cap))
        .collect()
    }
}

/// Caps on the bytes a stage may extract (`grants.extract = { total_mb, file_mb }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractGrant {
    /// Largest file kept, in bytes; a larger one is not kept at all.
    pub file_bytes: u64,
    /// Bytes the stage may keep in all; a file that would cross it is not kept.
    pub total_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct GraphvizGrant {
    /// The program to run (`dot` on the PATH by default).
    pub program: String,
    pub timeout_ms: u64,
}

#[derive(Clone, Debug)]
pub struct DnsGrant {
    /// `ip:port` nameservers; empty means the system's resolver configuration.
    pub nameservers: Vec<String>,
    pub timeout_ms: u64,
    pub concurrency: usize,
}

#[derive(Clone, Debug)]
pub struct WhoisGrant {
    /// RDAP base URL, e.g. `https://rdap.arin.net/registry/`.
    pub url: String,
    pub timeout_ms: u64,
    pub concurrency: usize,
}

/// Resource limits of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the plugin may grow to, in MiB.
    pub memory_mb: u64,
    /// Longest a single call into the plugin may run, in milliseconds.
    pub call_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 512,
            call_timeout_ms: 60_000,
        }
    }
}
