//! Host-side bindings of the WIT worlds: the one floor every other module takes the generated WIT types
//! from (nothing below it in the host). Both worlds share one set of interface types and host traits,
//! so the capabilities are implemented once.

#![allow(missing_docs, clippy::all)]

/// The WIT package every plugin and the host share.
pub const WIT_PACKAGE: &str = "pcapxray:plugin";
/// Its version. Plugins built for another major version (or, while 0.x, another minor) are refused.
pub const WIT_VERSION: &str = "0.6.0";

pub mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer-plugin",
        path: "../wit",
        // The flow model is also handed over packed (`batch.flows`, see `super::packed`); roll-ups
        // keep their findings encoded (`run::rollup`).
        additional_derives: [serde::Serialize, serde::Deserialize],
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

/// A host address as the WIT carries it.
pub fn ip_to_wit(ip: std::net::IpAddr) -> wit::IpAddress {
    match ip {
        std::net::IpAddr::V4(v) => wit::IpAddress::V4(u32::from(v)),
        std::net::IpAddr::V6(v) => {
            let bits = u128::from(v);
            wit::IpAddress::V6(wit::Ipv6Address {
                high: (bits >> 64) as u64,
                low: bits as u64,
            })
        }
    }
}

/// A WIT address as the host keeps it.
pub fn ip_from_wit(ip: wit::IpAddress) -> std::net::IpAddr {
    match ip {
        wit::IpAddress::V4(v) => std::net::IpAddr::V4(v.into()),
        wit::IpAddress::V6(v) => {
            std::net::IpAddr::V6((((v.high as u128) << 64) | v.low as u128).into())
        }
    }
}
