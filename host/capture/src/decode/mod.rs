//! Bytes → packets. Reads classic pcap and pcapng as a stream (never the whole file), tells the link
//! layer apart per interface, and slices each frame down to what the flow table needs. Capture files are
//! evidence and are often damaged: everything here is lenient, counts what it cannot decode, and says at
//! which byte offset reading had to stop.

mod packet;
mod reader;
mod tunnel;

pub use packet::{ArpPacket, DecodeError, Decoded, Decoder, IpPacket, Transport, Unflowed};
pub use reader::{CaptureFormat, CaptureReader, Frame, OpenError, ReadError};
pub use tunnel::{MAX_LAYERS, TunnelKind, TunnelLayer};

/// A link-layer header type, as numbered in the tcpdump.org LINKTYPE registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name and number, as tshark prints it: `ETHERNET (1)`.
    pub fn describe(self) -> String {
        let name = match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => "UNKNOWN",
        };
        format!("{name} ({})", self.0)
    }
}

/// Shared helpers for the tests of this module: the real captures in `shared/testdata`.
#[cfg(test)]
pub(crate) mod testdata {
    use std::path::PathBuf;

    /// The shared test data folder; panics (never skips) when it is missing.
    pub fn dir() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
        assert!(
            dir.join("expectations.json").is_file(),
            "the shared test data is missing: expected {} (with expectations.json); the decode tests \
             read real captures from there",
            dir.display()
        );
        dir
    }

    pub fn path(name: &str) -> PathBuf {
        let p = dir().join(name);
        assert!(
            p.is_file(),
            "shared test capture {} is missing",
            p.display()
        );
        p
    }

    /// `expectations.json`, parsed.
    pub fn expectations() -> serde_json::Value {
        let text = std::fs::read_to_string(dir().join("expectations.json"))
            .expect("expectations.json is readable");
        serde_json::from_str(&text).expect("expectations.json is valid JSON")
    }

    /// Names of every capture listed in `expectations.json`.
    pub fn captures() -> Vec<String> {
        let all = expectations();
        let mut names: Vec<String> = all
            .as_object()
            .expect("expectations.json is an object")
            .iter()
            .filter(|(_, v)| v["kind"] == "capture")
            .map(|(k, _)| k.clone())
            .collect();
        names.sort();
        assert!(
            names.len() >= 20,
            "expectations.json lists too few captures"
        );
        names
    }

    /// A small deterministic PRNG (xorshift64*) for the fuzz-style tests.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }
}
