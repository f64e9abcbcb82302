//! Host-side bindings of the WIT worlds. Both worlds share one set of interface types and host traits,
//! so the capabilities are implemented once.

#![allow(missing_docs, clippy::all)]

pub mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer-plugin",
        path: "../wit",
        // The flow model is also handed over packed (`batch.flows`, see `super::packed`).
        additional_derives: [serde::Serialize],
    });
}

pub mod output {
    wasmtime::component::bindgen!({
        world: "output-plugin",
        path: "../wit",
        with: {
            "pcapxray:plugin/types@0.6.0": super::analyzer::pcapxray::plugin::types,
            "pcapxray:plugin/log@0.6.0": super::analyzer::pcapxray::plugin::log,
            "pcapxray:plugin/model@0.6.0": super::analyzer::pcapxray::plugin::model,
            "pcapxray:plugin/batch@0.6.0": super::analyzer::pcapxray::plugin::batch,
            "pcapxray:plugin/capability@0.6.0": super::analyzer::pcapxray::plugin::capability,
            "pcapxray:plugin/files@0.6.0": super::analyzer::pcapxray::plugin::files,
            "pcapxray:plugin/dns@0.6.0": super::analyzer::pcapxray::plugin::dns,
            "pcapxray:plugin/whois@0.6.0": super::analyzer::pcapxray::plugin::whois,
        },
    });
}

pub use analyzer::pcapxray::plugin::capability::CapabilityError;
pub use analyzer::pcapxray::plugin::types as wit;
