//! Test plugin: implements `pcapxray:plugin/analyzer@1.0.0`, a WIT major version this host does not
//! speak, to show the host refuses it with both versions named. It does not use the SDK on purpose.

wit_bindgen::generate!({ world: "analyzer-plugin", path: "wit" });

struct Future;

impl exports::pcapxray::plugin::analyzer::Guest for Future {
    fn describe() -> String {
        "a plugin from the future".into()
    }
}

export!(Future);
