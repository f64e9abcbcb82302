//! Flows packed into one byte list (`batch.flows`, WIT 0.6.0), for plugins that fetch them that way.
//!
//! Handing a batch over as `list<flow>` makes wasmtime store every field of every flow into the plugin's
//! memory one by one, with a call into the plugin's allocator for each string and list: on a flood of
//! one-packet flows that was most of the run's time. Packed, a batch is one `list<u8>` copied at once and
//! decoded inside the plugin by the Rust SDK (`plugin-sdk/src/packed.rs`). The layout (also in
//! `wit/README.md`, "Packed flows"):
//!
//! 1. a little-endian `u32`: the length of part 2;
//! 2. the flows as `list<flow>` in [postcard](https://docs.rs/postcard) encoding (fields in WIT order,
//!    variants by case index, lists and strings with a varint length), with every direction's
//!    `payload` empty;
//! 3. for each flow in order, its `to-server` then its `to-client` payload, each a little-endian `u32`
//!    length and the bytes.
//!
//! When the stage does not read payloads, part 3 gives every payload length 0 and part 2 leaves
//! `datagrams` empty too.

use crate::bindings::wit;
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

/// Packs `flows` as described above.
pub fn pack(flows: &[&wit::Flow], with_payload: bool) -> Vec<u8> {
    let head = Head {
        flows,
        with_payload,
    };
    // Serializing into a Vec cannot fail: every type of the flow model has a postcard encoding.
    let mut out = postcard::to_extend(&head, vec![0u8; 4]).unwrap_or_else(|_| vec![0u8; 4]);
    let head_len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&head_len.to_le_bytes());
    let tail: usize = flows.iter().map(|f| 8 + payload_len(f, with_payload)).sum();
    out.reserve(tail);
    for f in flows {
        for d in [&f.to_server, &f.to_client] {
            let bytes: &[u8] = if with_payload { &d.payload } else { &[] };
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
    out
}

fn payload_len(f: &wit::Flow, with_payload: bool) -> usize {
    if with_payload {
        f.to_server.payload.len() + f.to_client.payload.len()
    } else {
        0
    }
}

struct Head<'a> {
    flows: &'a [&'a wit::Flow],
    with_payload: bool,
}

impl Serialize for Head<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.flows.len()))?;
        for f in self.flows {
            seq.serialize_element(&FlowHead(f, self.with_payload))?;
        }
        seq.end()
    }
}

/// A flow without its payloads (they go in part 3).
struct FlowHead<'a>(&'a wit::Flow, bool);

impl Serialize for FlowHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Destructured without `..`: a field added to the WIT's flow record is a compile error here.
        let wit::Flow {
            id,
            client,
            server,
            protocol,
            ip_protocol,
            vlan,
            tunnel,
            orientation,
            end_reason,
            icmp_type,
            icmp_code,
            fragments,
            conn_state,
            history,
            to_server,
            to_client,
            findings,
        } = self.0;
        let mut st = s.serialize_struct("Flow", 17)?;
        st.serialize_field("id", id)?;
        st.serialize_field("client", client)?;
        st.serialize_field("server", server)?;
        st.serialize_field("protocol", protocol)?;
        st.serialize_field("ip_protocol", ip_protocol)?;
        st.serialize_field("vlan", vlan)?;
        st.serialize_field("tunnel", tunnel)?;
        st.serialize_field("orientation", orientation)?;
        st.serialize_field("end_reason", end_reason)?;
        st.serialize_field("icmp_type", icmp_type)?;
        st.serialize_field("icmp_code", icmp_code)?;
        st.serialize_field("fragments", fragments)?;
        st.serialize_field("conn_state", conn_state)?;
        st.serialize_field("history", history)?;
        st.serialize_field("to_server", &DirectionHead(to_server, self.1))?;
        st.serialize_field("to_client", &DirectionHead(to_client, self.1))?;
        st.serialize_field("findings", findings)?;
        st.end()
    }
}

/// A direction with an empty payload (and empty datagram lengths when payloads are left out).
struct DirectionHead<'a>(&'a wit::Direction, bool);

impl Serialize for DirectionHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wit::Direction {
            packets,
            bytes,
            payload_bytes,
            first_seen,
            last_seen,
            tcp_flags,
            ttl,
            payload: _,
            datagrams,
            payload_truncated,
        } = self.0;
        let none: &[u32] = &[];
        let mut st = s.serialize_struct("Direction", 10)?;
        st.serialize_field("packets", packets)?;
        st.serialize_field("bytes", bytes)?;
        st.serialize_field("payload_bytes", payload_bytes)?;
        st.serialize_field("first_seen", first_seen)?;
        st.serialize_field("last_seen", last_seen)?;
        st.serialize_field("tcp_flags", tcp_flags)?;
        st.serialize_field("ttl", ttl)?;
        st.serialize_field("payload", &[0u8; 0][..])?;
        st.serialize_field("datagrams", if self.1 { &datagrams[..] } else { none })?;
        st.serialize_field("payload_truncated", payload_truncated)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: u64, payload: &[u8]) -> wit::Flow {
        let dir = |p: &[u8]| wit::Direction {
            packets: 3,
            bytes: 300,
            payload_bytes: p.len() as u64,
            first_seen: 1,
            last_seen: 2,
            tcp_flags: 0x1b,
            ttl: 64,
            payload: p.to_vec(),
            datagrams: vec![p.len() as u32],
            payload_truncated: false,
        };
        let end = |ip: u32, port: u16| wit::Endpoint {
            ip: wit::IpAddress::V4(ip),
            port,
            mac: Some(0x00aa_bbcc_ddee),
        };
        wit::Flow {
            id,
            client: end(0x0a00_0001, 40000),
            server: end(0x0a00_0002, 80),
            protocol: wit::Protocol::Tcp,
            ip_protocol: 6,
            vlan: vec![7],
            tunnel: Vec::new(),
            orientation: wit::Orientation::Syn,
            end_reason: wit::EndReason::Fin,
            icmp_type: 0,
            icmp_code: 0,
            fragments: 0,
            conn_state: wit::ConnState::Sf,
            history: "ShADadFf".into(),
            to_server: dir(payload),
            to_client: dir(b"reply"),
            findings: vec![wit::FindingRecord {
                stage: "web".into(),
                finding: wit::Finding {
                    tag: "web.http".into(),
                    subject: wit::Subject::Flow(id),
                    severity: wit::Severity::Info,
                    confidence: 90,
                    summary: "GET /".into(),
                    attributes: vec![wit::Attribute {
                        key: "http.host".into(),
                        value: "example.com".into(),
                    }],
                    flows: Vec::new(),
                },
                rollup: false,
            }],
        }
    }

    /// Part 2 is exactly postcard's encoding of the flows with their payloads emptied: what the
    /// derived decoder on the plugin's side expects.
    #[test]
    fn the_head_is_the_derived_encoding_without_payloads() {
        let flows = [flow(1, b"GET / HTTP/1.1\r\n\r\n"), flow(2, b"")];
        let refs: Vec<&wit::Flow> = flows.iter().collect();
        let packed = pack(&refs, true);
        let head_len = u32::from_le_bytes(packed[..4].try_into().unwrap()) as usize;
        let mut bare = flows.to_vec();
        for f in &mut bare {
            f.to_server.payload.clear();
            f.to_client.payload.clear();
        }
        assert_eq!(
            &packed[4..4 + head_len],
            postcard::to_allocvec(&bare).unwrap()
        );
        let mut tail = &packed[4 + head_len..];
        for f in &flows {
            for want in [&f.to_server.payload, &f.to_client.payload] {
                let n = u32::from_le_bytes(tail[..4].try_into().unwrap()) as usize;
                assert_eq!(&tail[4..4 + n], &want[..]);
                tail = &tail[4 + n..];
            }
        }
        assert!(tail.is_empty());
    }

    #[test]
    fn without_payloads_the_lengths_are_zero_and_datagrams_empty() {
        let flows = [flow(1, b"abc")];
        let packed = pack(&[&flows[0]], false);
        let head_len = u32::from_le_bytes(packed[..4].try_into().unwrap()) as usize;
        let mut bare = flows.to_vec();
        let f = &mut bare[0];
        for d in [&mut f.to_server, &mut f.to_client] {
            d.payload.clear();
            d.datagrams.clear();
        }
        assert_eq!(
            &packed[4..4 + head_len],
            postcard::to_allocvec(&bare).unwrap()
        );
        assert_eq!(&packed[4 + head_len..], &[0u8; 8]);
    }
}
