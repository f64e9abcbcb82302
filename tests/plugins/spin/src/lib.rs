//! Test plugin: never returns from `analyze`, to show the host stops it at the call time limit.

use pcapxray_plugin_sdk::{Analyzer, Flow, NoConfig, Outcome, PluginError};

pub struct Spin;

impl Analyzer for Spin {
    const NAME: &'static str = "spin";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "Loops forever in analyze (test plugin).";
    type Config = NoConfig;

    fn new(_: NoConfig) -> Result<Spin, PluginError> {
        Ok(Spin)
    }

    #[allow(clippy::empty_loop)]
    fn analyze(&mut self, flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        let mut n = flows.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

pcapxray_plugin_sdk::export_analyzer!(Spin);
