//! TOML → validated stages. A pipeline file names the analyzer and output stages in order, each with
//! its plugin, configuration, capability grants and limits. Every problem in the file is collected and
//! reported at once, with line and column, so an investigator fixes a pipeline in one pass.

mod load;

pub use crate::caps::Grants;
pub use crate::config::{Diagnostic, Diagnostics, SourceMap, expand_home, normalize};
pub use load::{FileProblem, load, plugin_file_problem};

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
