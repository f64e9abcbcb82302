//! Community ID v1 (corelight/community-id-spec): the flow hash Zeek, Suricata, Arkime, ECS and OCSF
//! all carry, so that a flow found here can be joined with the same flow in their records. The value
//! depends only on the addresses, the protocol and the ports (for ICMP: type and code mapped to a port
//! pair), never on which side spoke first: both directions of a conversation hash alike.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// ICMP (v4) types that come in request/reply pairs, with their counterpart (Zeek's `ICMP4_counterpart`).
const ICMP4_PAIRS: [(u8, u8); 10] = [
    (8, 0),
    (0, 8),
    (13, 14),
    (14, 13),
    (15, 16),
    (16, 15),
    (10, 9),
    (9, 10),
    (17, 18),
    (18, 17),
];

/// ICMPv6 types that come in pairs (echo, router, neighbour, MLD, who-are-you, home agent discovery).
const ICMP6_PAIRS: [(u8, u8); 12] = [
    (128, 129),
    (129, 128),
    (133, 134),
    (134, 133),
    (135, 136),
    (136, 135),
    (130, 131),
    (131, 130),
    (139, 140),
    (140, 139),
    (144, 145),
    (145, 144),
];

/// What a flow's Community ID is computed from, as one side saw it.
#[derive(Clone, Copy, Debug)]
pub struct FlowTuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP protocol number.
    pub proto: u8,
    /// Source and destination ports for TCP, UDP and SCTP; ICMP type and code for ICMP and ICMPv6;
    /// ignored for other protocols.
    pub src_port: u16,
    pub dst_port: u16,
}

/// The Community ID v1 of a flow with the given seed (0 unless a site agreed on another), in its
/// usual text form `1:` + base64 of the SHA-1.
pub fn community_id(tuple: &FlowTuple, seed: u16) -> String {
    let digest = community_id_digest(tuple, seed);
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The SHA-1 digest behind [`community_id`].
pub fn community_id_digest(tuple: &FlowTuple, seed: u16) -> [u8; 20] {
    let (a, b, ports) = ordered(tuple);
    let mut hash = Sha1::new();
    hash.update(seed.to_be_bytes());
    hash.update(address_bytes(a));
    hash.update(address_bytes(b));
    hash.update([tuple.proto, 0]);
    if let Some((pa, pb)) = ports {
        hash.update(pa.to_be_bytes());
        hash.update(pb.to_be_bytes());
    }
    hash.finalize().into()
}

/// The endpoints in hashing order: the smaller (address, port) first, except for one-way ICMP
/// messages, which keep their direction.
fn ordered(t: &FlowTuple) -> (IpAddr, IpAddr, Option<(u16, u16)>) {
    let (ports, one_way) = match t.proto {
        6 | 17 | 132 => (Some((t.src_port, t.dst_port)), false),
        1 | 58 => {
            let pairs: &[(u8, u8)] = if t.proto == 1 {
                &ICMP4_PAIRS
            } else {
                &ICMP6_PAIRS
            };
            let icmp_type = t.src_port as u8;
            match pairs.iter().find(|(ty, _)| *ty == icmp_type) {
                Some(&(_, counterpart)) => (Some((t.src_port, u16::from(counterpart))), false),
                None => (Some((t.src_port, t.dst_port)), true),
            }
        }
        _ => (None, false),
    };
    let (pa, pb) = ports.unwrap_or((0, 0));
    let in_order = t.src < t.dst || (t.src == t.dst && pa < pb);
    if one_way || in_order {
        (t.src, t.dst, ports)
    } else {
        (t.dst, t.src, ports.map(|(a, b)| (b, a)))
    }
}

fn address_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(src: &str, dst: &str, proto: u8, sp: u16, dp: u16) -> FlowTuple {
        FlowTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto,
            src_port: sp,
            dst_port: dp,
        }
    }

    #[test]
    fn the_spec_readme_examples_hash_alike_in_both_directions() {
        // corelight/community-id-spec baseline/README.md, "Default settings".
        let out = tuple("1.2.3.4", "5.6.7.8", 6, 1122, 3344);
        let back = tuple("5.6.7.8", "1.2.3.4", 6, 3344, 1122);
        assert_eq!(community_id(&out, 0), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        assert_eq!(community_id(&back, 0), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        let echo = tuple("1.2.3.4", "5.6.7.8", 1, 8, 0);
        let reply = tuple("5.6.7.8", "1.2.3.4", 1, 0, 0);
        assert_eq!(community_id(&echo, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
        assert_eq!(community_id(&reply, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
        let unreachable = tuple("1.2.3.4", "5.6.7.8", 1, 11, 0);
        assert_eq!(
            community_id(&unreachable, 0),
            "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="
        );
    }
}
