//! The Rust template: a cargo crate on the plugin SDK, which `plugin new` writes beside it (in
//! [`SDK_DIR`], with its own copy of `wit/`), with the workspace's lock file so it builds with the
//! versions the SDK was tested with.

use super::{File, Kind, fill, pipeline};

/// Where the SDK's copy goes inside the plugin's folder.
pub const SDK_DIR: &str = "pcapxray-sdk";

pub fn files(name: &str, kind: Kind) -> Vec<File> {
    let module = name.replace('-', "_");
    let wasm = format!("{name}.wasm");
    let values = [
        ("name", name),
        ("module", module.as_str()),
        ("wasm", wasm.as_str()),
        ("sdk", SDK_DIR),
    ];
    let (source, pipeline_text) = match kind {
        Kind::Analyzer => (fill(ANALYZER, &values), pipeline(&wasm)),
        Kind::Output => (fill(OUTPUT, &values), fill(OUTPUT_PIPELINE, &values)),
    };
    vec![
        ("Cargo.toml", fill(CARGO, &values)),
        ("Cargo.lock", crate::embedded::CARGO_LOCK.to_string()),
        ("src/lib.rs", source),
        ("build.sh", fill(BUILD, &values)),
        ("pipeline.toml", pipeline_text),
        ("README.md", fill(README, &values)),
        (".gitignore", format!("target/\n{wasm}\n")),
    ]
}

const CARGO: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# The SDK of the pcapxray that wrote this folder (`pcapxray plugin new`), with its own copy of wit/.
pcapxray-plugin-sdk = { path = "{{sdk}}" }
serde = { version = "1", features = ["derive"] }

[dev-dependencies]
# Flow builders for the unit tests (`cargo test` runs them natively).
pcapxray-plugin-sdk = { path = "{{sdk}}", features = ["testing"] }

# A standalone crate, not part of any surrounding workspace.
[workspace]

[profile.release]
opt-level = "s"
"#;

const BUILD: &str = r#"#!/usr/bin/env bash
# Builds {{wasm}}, the plugin as a WebAssembly component:  ./build.sh
# Needs Rust (rustup) with the wasm32-wasip2 target. `cargo test` runs the unit tests natively.
set -euo pipefail
cd "$(dirname "$0")"
if command -v rustup >/dev/null; then rustup target add wasm32-wasip2 >/dev/null; fi
cargo build --target wasm32-wasip2 --release
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{module}}.wasm" {{wasm}}
echo "built $PWD/{{wasm}}"
"#;

const ANALYZER: &str = r#"//! {{name}}: a pcapxray analyzer. It raises a finding for every flow to the configured server port —
//! replace `analyze` with your own detector.

use pcapxray_plugin_sdk::{Analyzer, ConfigError, Finding, Flow, Outcome, PluginError, Severity};
use serde::Deserialize;

/// The stage's `config` table in the pipeline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Flows to this server port are reported.
    port: u16,
}

impl Default for Config {
    fn default() -> Config {
        Config { port: 4444 }
    }
}

pub struct Plugin {
    config: Config,
}

impl Analyzer for Plugin {
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Reports flows to a configured server port.";
    /// This detector only looks at ports; the host then skips copying payloads into it.
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    /// Values serde accepts but the detector cannot use are refused here, naming the key.
    fn new(config: Config) -> Result<Plugin, PluginError> {
        if config.port == 0 {
            return Err(PluginError::Config(vec![ConfigError {
                key: "port".into(),
                message: "must be a port number from 1 to 65535".into(),
            }]));
        }
        Ok(Plugin { config })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows.iter().filter(|f| f.server.port == self.config.port) {
            out.push(
                Finding::on_flow(flow.id, "{{name}}.port", Severity::Low)
                    .summary(format!(
                        "flow from {} to {} port {}",
                        flow.client_ip(),
                        flow.server_ip(),
                        flow.server.port
                    ))
                    .attr("port", flow.server.port.to_string()),
            );
        }
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::flow;

    #[test]
    fn flows_to_the_configured_port_are_reported() {
        let mut plugin = Plugin::new(Config { port: 8080 }).unwrap();
        let flows = [
            flow(1, "10.0.0.2", "10.0.0.9", 8080),
            flow(2, "10.0.0.2", "10.0.0.9", 443),
        ];
        let mut out = Outcome::default();
        plugin.analyze(&flows, &mut out).unwrap();
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].tag, "{{name}}.port");
        assert_eq!(out.findings[0].get("port"), Some("8080"));
    }

    #[test]
    fn port_zero_is_refused() {
        assert!(matches!(Plugin::new(Config { port: 0 }), Err(PluginError::Config(_))));
    }
}
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
        Ok(vec![Artifact {
            name: "{{name}}.txt".into(),
            media_type: "text/plain".into(),
            bytes: self.text(&report).into_bytes(),
        }])
    }
}

impl Plugin {
    fn text(&self, report: &Report) -> String {
        let mut text = format!(
            "capture  {}\nflows    {}\nhosts    {}\n",
            report.capture.file,
            self.flows,
            report.hosts.len()
        );
        for (tag, n) in &self.tags {
            text.push_str(&format!("{n:>8}  {tag}\n"));
        }
        text
    }
}

pcapxray_plugin_sdk::export_output!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{flow, report};

    #[test]
    fn the_text_counts_flows() {
        let mut plugin = Plugin::default();
        plugin.consume(vec![flow(1, "10.0.0.2", "10.0.0.9", 80)]).unwrap();
        let files = plugin.finish(report(Vec::new())).unwrap();
        let text = String::from_utf8(files[0].bytes.clone()).unwrap();
        assert!(text.contains("flows    1"), "{text}");
    }
}
"#;

const OUTPUT_PIPELINE: &str = r#"# Runs the plugin on a capture:  pcapxray run pipeline.toml CAPTURE.pcap
[[analyzer]]
plugin = "web"

[[output]]
plugin = "{{wasm}}"

[[output]]
plugin = "json"
"#;

const README: &str = r#"# {{name}}

A pcapxray plugin in Rust, started with `pcapxray plugin new`.

    ./build.sh                              # builds {{wasm}} (cargo, target wasm32-wasip2)
    cargo test                              # the unit tests, natively
    pcapxray plugins inspect {{wasm}}       # what the host sees
    pcapxray run pipeline.toml CAPTURE.pcap

`src/lib.rs` is the whole plugin. `{{sdk}}/` is the plugin SDK of the pcapxray that wrote this folder
(`cargo doc --open` documents it; its `wit/` is the same WIT package as `wit/` here). A newer pcapxray
refuses a plugin built against an older WIT and says so: refresh both with `pcapxray plugin new` into
another folder and rebuild.
"#;
