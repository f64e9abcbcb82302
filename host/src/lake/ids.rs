//! The lake's ids are derived from what was seen, never drawn at random, so that running a capture
//! again gives every row the id it had (Zui users lost saved queries when Zeek's random `uid`s changed,
//! zui#1067), and so that ids from two sensors or two captures cannot meet by chance.
//!
//! - a flow's `uid`: `C` + 16 base64url characters of SHA-256(sensor, community id, first packet time in
//!   microseconds, VLAN and tunnel path);
//! - a finding's `finding_id`: `F` + 16 characters of SHA-256(plugin, tag, subject, hour of its time,
//!   summary, roll-up or not); the second and later of identical findings in one capture end in
//!   `.2`, `.3`, ... (their rank in the run's deterministic order).

use crate::bindings::wit;
use crate::community_id::{FlowTuple, community_id};
use crate::runtime::convert::ip_from_wit;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Microseconds per hour: the time bucket of a finding id.
const HOUR_US: i64 = 3_600_000_000;

/// A flow's Community ID v1 (seed 0), from client to server.
pub fn flow_community_id(f: &wit::Flow) -> String {
    let icmp = matches!(f.ip_protocol, 1 | 58);
    let tuple = FlowTuple {
        src: ip_from_wit(f.client.ip),
        dst: ip_from_wit(f.server.ip),
        proto: f.ip_protocol,
        src_port: if icmp {
            u16::from(f.icmp_type)
        } else {
            f.client.port
        },
        dst_port: if icmp {
            u16::from(f.icmp_code)
        } else {
            f.server.port
        },
    };
    community_id(&tuple, 0)
}

/// The text that tells apart flows with equal addresses in different VLANs or tunnels.
pub fn path_key(f: &wit::Flow) -> String {
    let vlans: Vec<String> = f.vlan.iter().map(u16::to_string).collect();
    let tunnel = super::schema::tunnel_text(f).unwrap_or_default();
    format!("{}|{tunnel}", vlans.join("."))
}

/// A flow's `uid`.
pub fn flow_uid(sensor: &str, community_id: &str, first_us: i64, path: &str) -> String {
    format!(
        "C{}",
        digest(&[sensor, community_id, &first_us.to_string(), path])
    )
}

/// A finding's `finding_id` (before the rank the lake appends to repeats); a roll-up differs from the
/// finding it rolls up.
pub fn finding_id(
    plugin: &str,
    tag: &str,
    subject: &str,
    time_us: i64,
    summary: &str,
    rollup: bool,
) -> String {
    let bucket = time_us.div_euclid(HOUR_US).to_string();
    let kind = if rollup { "rollup" } else { "finding" };
    format!(
        "F{}",
        digest(&[plugin, tag, subject, &bucket, summary, kind])
    )
}

/// 96 bits of SHA-256 over the parts (each ended by a zero byte), as 16 base64url characters.
fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for p in parts {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    let bytes = hash.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_part_and_on_nothing_else() {
        let a = flow_uid("s1", "1:abc", 10, "|");
        assert_eq!(a, flow_uid("s1", "1:abc", 10, "|"));
        assert_eq!(a.len(), 17);
        assert_ne!(a, flow_uid("s2", "1:abc", 10, "|"));
        assert_ne!(a, flow_uid("s1", "1:abc", 11, "|"));
        assert_ne!(a, flow_uid("s1", "1:abc", 10, "10|"));
        let f = finding_id("web", "web.http", "flow:C1", 0, "GET /", false);
        // Same hour, same id; next hour, a roll-up or another summary: another.
        assert_eq!(
            f,
            finding_id("web", "web.http", "flow:C1", HOUR_US - 1, "GET /", false)
        );
        assert_ne!(
            f,
            finding_id("web", "web.http", "flow:C1", HOUR_US, "GET /", false)
        );
        assert_ne!(
            f,
            finding_id("web", "web.http", "flow:C1", 0, "GET /", true)
        );
        assert_ne!(
            f,
            finding_id("web", "web.http", "flow:C1", 0, "GET /x", false)
        );
    }
}
