//! Test plugin: panics in `analyze` (a wasm trap), to show the host names it and carries on.

use pcapxray_plugin_sdk::{Analyzer, Flow, NoConfig, Outcome, PluginError};

pub struct Trap;

impl Analyzer for Trap {
    const NAME: &'static str = "trap";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "Panics in analyze (test plugin).";
    type Config = NoConfig;

    fn new(_: NoConfig) -> Result<Trap, PluginError> {
        Ok(Trap)
    }

    fn analyze(&mut self, flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        panic!("deliberate failure after {} flows", flows.len());
    }
}

pcapxray_plugin_sdk::export_analyzer!(Trap);
