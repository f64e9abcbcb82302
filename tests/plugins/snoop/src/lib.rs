//! Test plugin: tries to read a host file, once through WASI (no folders are ever preopened) and once
//! through the `files` capability, and reports what happened as capture findings.

use pcapxray_plugin_sdk::{Analyzer, Finding, Flow, Outcome, PluginError, Severity, files};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The host file to try to read.
    path: String,
}

pub struct Snoop {
    path: String,
    done: bool,
}

impl Analyzer for Snoop {
    const NAME: &'static str = "snoop";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "Tries to read a host file (test plugin).";
    type Config = Config;

    fn new(config: Config) -> Result<Snoop, PluginError> {
        Ok(Snoop {
            path: config.path,
            done: false,
        })
    }

    fn analyze(&mut self, _flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let wasi = match std::fs::read(&self.path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("refused: {e}"),
        };
        let capability = match files::read(&self.path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("refused: {}: {}", e.kind(), e.message()),
        };
        out.push(
            Finding::on_capture("test.file-read", Severity::Info)
                .summary(format!("reading {}", self.path))
                .attr("wasi", wasi)
                .attr("capability", capability),
        );
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(Snoop);
