//! Capture file → packets → flows, with no plugin runtime: the part of pcapxray that reads untrusted
//! bytes. It lives in its own crate so that the host, the test tools and the fuzz targets share one
//! decoder and one flow table, and so that fuzzing it does not build wasmtime.
//!
//! `decode` reads pcap and pcapng as a stream and slices frames into packets; `flow` folds packets into
//! bidirectional flows and host statistics; `fates` accounts for every frame read and `clock` checks
//! the capture's timestamps; `community_id` names a flow the way other network tools do.

pub mod clock;
pub mod community_id;
pub mod decode;
pub mod fates;
pub mod flow;

/// Lower-case hexadecimal of some bytes (digests in reports).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
