//! `pcapxray plugin new`: a standalone plugin crate that builds for wasm32-wasip2 and runs in a pipeline
//! unchanged, so a plugin author starts from something that works.

use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Flows in; findings and host facts out.
    Analyzer,
    /// The annotated model in; report files out.
    Output,
}

/// The SDK of the checkout this binary was built from.
pub fn default_sdk_path() -> PathBuf {
    crate::pipeline::normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk"))
}

/// Writes the crate into `dir` (which must not exist or be empty).
pub fn create(name: &str, kind: Kind, dir: &Path, sdk: &Path) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a usable plugin name: use lower-case letters, digits, `-` and `_`, starting with a letter"
        ));
    }
    if !sdk.join("Cargo.toml").is_file() {
        return Err(format!(
            "the pcapxray plugin SDK is not at {}; pass --sdk with the path of plugin-sdk/ in a pcapxray checkout",
            sdk.display()
        ));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!("{} already exists and is not empty", dir.display()));
    }
    let sdk = std::fs::canonicalize(sdk).map_err(|e| format!("{}: {e}", sdk.display()))?;
    let wasm = format!(
        "target/wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    );
    let (source, kind_word) = match kind {
        Kind::Analyzer => (ANALYZER.replace("{{name}}", name), "analyzer"),
        Kind::Output => (OUTPUT.replace("{{name}}", name), "output"),
    };
    let files = [
        (
            "Cargo.toml",
            CARGO
                .replace("{{name}}", name)
                .replace("{{sdk}}", &sdk.display().to_string()),
        ),
        ("src/lib.rs", source),
        (
            "pipeline.toml",
            PIPELINE
                .replace("{{wasm}}", &wasm)
                .replace("{{kind}}", kind_word),
        ),
        (
            "README.md",
            README
                .replace("{{name}}", name)
                .replace("{{wasm}}", &wasm)
                .replace("{{kind}}", kind_word),
        ),
        (".gitignore", "target/\n".to_string()),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

const CARGO: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
pcapxray-plugin-sdk = { path = "{{sdk}}" }
serde = { version = "1", features = ["derive"] }

# A standalone crate, not part of any surrounding workspace.
[workspace]

[profile.release]
opt-level = "s"
"#;

const ANALYZER: &str = r#"//! {{name}}: a pcapxray analyzer. It flags flows that moved more bytes than a threshold — replace
//! `analyze` with your own detector.

use pcapxray_plugin_sdk::{Analyzer, Finding, Flow, Outcome, PluginError, Severity};
use serde::Deserialize;

/// The stage's `config` table in the pipeline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Flows with more bytes than this (both directions) are flagged.
    min_bytes: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config { min_bytes: 1_000_000 }
    }
}

pub struct Plugin {
    config: Config,
}

impl Analyzer for Plugin {
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Flags flows that moved more bytes than a threshold.";
    /// This detector only looks at counters; the host then skips copying payloads into it.
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Plugin, PluginError> {
        Ok(Plugin { config })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows.iter().filter(|f| f.bytes() > self.config.min_bytes) {
            out.push(
                Finding::on_flow(flow.id, "{{name}}.large", Severity::Low)
                    .summary(format!(
                        "{} bytes between {} and {}:{}",
                        flow.bytes(),
                        flow.client_ip(),
                        flow.server_ip(),
                        flow.server.port
                    ))
                    .attr("bytes", flow.bytes().to_string())
                    .attr("threshold", self.config.min_bytes.to_string()),
            );
        }
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(Plugin);
"#;

const OUTPUT: &str = r#"//! {{name}}: a pcapxray output. It writes `{{name}}.txt` with the number of flows and findings per
//! tag — replace it with your own report format.

use pcapxray_plugin_sdk::{Artifact, Flow, NoConfig, Output, PluginError, Report};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct Plugin {
    flows: u64,
    tags: BTreeMap<String, u64>,
}

impl Output for Plugin {
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes the number of flows and findings per tag.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = NoConfig;

    fn new(_config: NoConfig) -> Result<Plugin, PluginError> {
        Ok(Plugin::default())
    }

    /// Flows stream past in batches: keep counts, not flows.
    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.flows += flows.len() as u64;
        for record in flows.iter().flat_map(|f| &f.findings) {
            *self.tags.entry(record.finding.tag.clone()).or_default() += 1;
        }
        Ok(Vec::new())
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        // The findings list: about hosts and the capture, and roll-ups of flow findings (skipped
        // here: each of those was counted on its flow), each standing for `occurrences()` findings.
        for record in report.findings.iter().filter(|r| !r.rollup) {
            *self.tags.entry(record.finding.tag.clone()).or_default() += record.finding.occurrences();
        }
        let mut text = format!("capture  {}\nflows    {}\nhosts    {}\n", report.capture.file, self.flows, report.hosts.len());
        for (tag, n) in &self.tags {
            text.push_str(&format!("{n:>8}  {tag}\n"));
        }
        Ok(vec![Artifact { name: "{{name}}.txt".into(), media_type: "text/plain".into(), bytes: text.into_bytes() }])
    }
}

pcapxray_plugin_sdk::export_output!(Plugin);
"#;

const PIPELINE: &str = r#"# Runs the plugin on a capture:  pcapxray run pipeline.toml capture.pcap
[[analyzer]]
plugin = "web"

[[{{kind}}]]
plugin = "{{wasm}}"

[[output]]
plugin = "json"
"#;

const README: &str = r#"# {{name}}

A pcapxray {{kind}} plugin.

    rustup target add wasm32-wasip2
    cargo build --target wasm32-wasip2 --release
    pcapxray plugins inspect {{wasm}}
    pcapxray run pipeline.toml capture.pcap

`src/lib.rs` is the whole plugin; the pcapxray plugin SDK documents the types (`cargo doc --open`).
"#;
