//! Fuzz targets for everything in pcapxray that reads untrusted bytes: the capture reader, the packet
//! decoder, the flow table and the plugins' parsers. Each target is a plain `fn(&[u8])` that compiles
//! on stable Rust, so the same function is driven three ways: by `tests/replay.rs` over the committed
//! corpus and crash regressions in every `cargo test`, by libFuzzer through the harness in `harness/`
//! (`run.sh`), and by the long-test switch. A target returns normally for any input; a panic is a
//! bug, either a crash in the code under test or a broken invariant asserted here.

mod capture;
mod frames;
mod plugins;

pub use frames::{Frames, LINK_TYPES};

/// One fuzz target: its name (the corpus folder and the libFuzzer binary) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// What an input is, for the README and the seed generator.
    pub input: &'static str,
}

/// Every target, decoder targets first.
pub const TARGETS: &[Target] = &[
    Target {
        name: "capture_reader",
        run: capture::capture_reader,
        input: "a whole pcap or pcapng file",
    },
    Target {
        name: "packet_decoder",
        run: capture::packet_decoder,
        input: "a link-type selector byte, then frames (see `Frames`)",
    },
    Target {
        name: "flow_table",
        run: capture::flow_table,
        input: "a link-type selector byte, then frames (see `Frames`)",
    },
    Target {
        name: "dns",
        run: plugins::dns,
        input: "one DNS, mDNS, LLMNR or NetBIOS name service message",
    },
    Target {
        name: "http",
        run: plugins::http,
        input: "two streams (see `plugins::split`): client→server, server→client",
    },
    Target {
        name: "tls",
        run: plugins::tls,
        input: "two streams (see `plugins::split`): client→server, server→client",
    },
    Target {
        name: "dhcp",
        run: plugins::dhcp,
        input: "one DHCPv4 message (a UDP payload)",
    },
    Target {
        name: "tor_consensus",
        run: plugins::tor_consensus,
        input: "a Tor network-status consensus file",
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the target called `name` on `data` (the libFuzzer harness's entry); panics for an unknown name.
pub fn run(name: &str, data: &[u8]) {
    let target = target(name).unwrap_or_else(|| panic!("no fuzz target is called {name}"));
    (target.run)(data)
}

/// Two inputs in one: a little-endian `u16` length, that many bytes, then the rest (a short input is
/// all first part). The inverse of [`join`].
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return (data, &[]);
    };
    let n = usize::from(u16::from_le_bytes(*head)).min(rest.len());
    rest.split_at(n)
}

/// `a` and `b` as one input for [`split`] (`a` is cut at 65,535 bytes).
pub fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let a = &a[..a.len().min(usize::from(u16::MAX))];
    let mut v = (a.len() as u16).to_le_bytes().to_vec();
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}
