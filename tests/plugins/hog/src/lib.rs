//! Test plugin: allocates without bound in `analyze`, to show the host stops it at the memory limit.

use pcapxray_plugin_sdk::{Analyzer, Flow, NoConfig, Outcome, PluginError};

pub struct Hog {
    hoard: Vec<Vec<u8>>,
}

impl Analyzer for Hog {
    const NAME: &'static str = "hog";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "Allocates memory until stopped (test plugin).";
    type Config = NoConfig;

    fn new(_: NoConfig) -> Result<Hog, PluginError> {
        Ok(Hog { hoard: Vec::new() })
    }

    fn analyze(&mut self, _flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        loop {
            self.hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

pcapxray_plugin_sdk::export_analyzer!(Hog);
