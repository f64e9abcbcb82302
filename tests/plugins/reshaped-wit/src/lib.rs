//! Test plugin: built against a WIT that claims `pcapxray:plugin@0.6.0` but has another shape (a
//! field fewer in `plugin-info`, functions missing), to show the host refuses it before compiling it
//! and names what differs. It does not use the SDK on purpose.

wit_bindgen::generate!({ world: "analyzer-plugin", path: "wit" });

use pcapxray::plugin::types::{PluginInfo, PluginKind};

struct Reshaped;

impl exports::pcapxray::plugin::analyzer::Guest for Reshaped {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "reshaped".into(),
            version: "0.1.0".into(),
            description: "a plugin whose WIT was edited without a new version".into(),
            kind: PluginKind::Analyzer,
            needs_payload: false,
            wants_link_events: false,
            packed_flows: false,
        }
    }
}

export!(Reshaped);
