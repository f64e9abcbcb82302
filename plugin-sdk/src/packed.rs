//! Decodes the flows the host hands over packed (`batch.flows`, WIT 0.6.0): one byte list per call
//! instead of every field stored into the plugin's memory one by one. The layout is in `wit/README.md`
//! ("Packed flows"): a little-endian `u32` length, the flows in postcard encoding with empty payloads,
//! then each flow's to-server and to-client payload as a `u32` length and the bytes.

use crate::{
    Attribute, ConnState, Direction, EndReason, Endpoint, Finding, FindingRecord, Flow, IpAddress,
    Ipv6Address, Orientation, PluginError, Protocol, Severity, Subject, TunnelKind, TunnelLayer,
};
use serde::de::DeserializeOwned;

/// The flows of the call in progress, fetched from the host and decoded.
#[cfg(target_arch = "wasm32")]
pub fn fetch() -> Result<Vec<Flow>, PluginError> {
    unpack(&crate::__bindings::analyzer_world::pcapxray::plugin::batch::flows())
}

/// A native build (unit tests) has no host to fetch from.
#[cfg(not(target_arch = "wasm32"))]
pub fn fetch() -> Result<Vec<Flow>, PluginError> {
    Ok(Vec::new())
}

/// Decodes packed flows.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn unpack(bytes: &[u8]) -> Result<Vec<Flow>, PluginError> {
    unpack_with(bytes, |head| {
        let mut r = Reader { bytes: head };
        let flows = r.list(Reader::flow)?;
        if !r.bytes.is_empty() {
            return Err("bytes left over after the flows".into());
        }
        Ok(flows)
    })
}

/// Parts 1 and 3 of the layout around `decode`, which decodes part 2.
fn unpack_with(
    bytes: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<Vec<Flow>, String>,
) -> Result<Vec<Flow>, PluginError> {
    let bad = |what: &str| PluginError::InvalidInput(format!("packed flows from the host: {what}"));
    let (len, rest) = split_u32(bytes).ok_or_else(|| bad("no length"))?;
    let len = len as usize;
    if rest.len() < len {
        return Err(bad("shorter than its length says"));
    }
    let (head, mut tail) = rest.split_at(len);
    let mut flows = decode(head).map_err(|e| bad(&e))?;
    for f in &mut flows {
        for d in [&mut f.to_server, &mut f.to_client] {
            let (n, rest) = split_u32(tail).ok_or_else(|| bad("payloads cut short"))?;
            let n = n as usize;
            if rest.len() < n {
                return Err(bad("payloads cut short"));
            }
            d.payload = rest[..n].to_vec();
            tail = &rest[n..];
        }
    }
    if !tail.is_empty() {
        return Err(bad("bytes left over after the payloads"));
    }
    Ok(flows)
}

/// The cases of a WIT enum in index order, as the derived decoder maps them: worked out once per
/// call site and kept in a static.
macro_rules! cases {
    ($t:ty) => {{
        static CASES: std::sync::OnceLock<Vec<$t>> = std::sync::OnceLock::new();
        CASES.get_or_init(case_table::<$t>).as_slice()
    }};
}

fn case_table<T: DeserializeOwned>() -> Vec<T> {
    (0u8..=127)
        .map_while(|i| postcard::from_bytes::<T>(&[i]).ok())
        .collect()
}

/// Reads part 2, postcard's encoding of `list<flow>`, by hand.
///
/// Every plugin decodes every flow of the run, so this is the SDK's hot path: serde's derived
/// decoder (a visitor and `SeqAccess` call per field) was most of a cheap analyzer's time on a flood
/// of one-packet flows. postcard's encoding is simple: fields in order, `u8` and `bool` as a byte,
/// wider integers as LEB128 varints, `option` as 0 or 1 then the value, strings and lists as a varint
/// length then the items, variants as a varint case index then the case's value. Enum case indexes
/// are mapped by `cases!` through the derived decoder itself, so the two cannot disagree; the unit
/// tests check the whole decoder against the derived one.
struct Reader<'a> {
    bytes: &'a [u8],
}

type Read<T> = Result<T, String>;

impl Reader<'_> {
    #[inline(always)]
    fn u8(&mut self) -> Read<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or("cut short")?;
        self.bytes = rest;
        Ok(b)
    }

    fn bool(&mut self) -> Read<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{b} is not a bool")),
        }
    }

    /// A LEB128 varint of at most `max_bytes` bytes (postcard: 3 for u16, 5 for u32, 10 for u64).
    /// Most are one byte (counts, ports, lengths, cases), read without the loop.
    #[inline(always)]
    fn varint(&mut self, max_bytes: usize) -> Read<u64> {
        match self.bytes.split_first() {
            Some((&b, rest)) if b < 0x80 => {
                self.bytes = rest;
                Ok(b as u64)
            }
            _ => self.long_varint(max_bytes),
        }
    }

    #[inline(never)]
    fn long_varint(&mut self, max_bytes: usize) -> Read<u64> {
        let mut value: u64 = 0;
        for (i, &b) in self.bytes.iter().take(max_bytes).enumerate() {
            // i < 10, so the shift is at most 63 (bits past 64 in a tenth byte are dropped).
            value |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err(if self.bytes.len() < max_bytes {
            "cut short".into()
        } else {
            "varint too long".into()
        })
    }

    #[inline(always)]
    fn u16(&mut self) -> Read<u16> {
        u16::try_from(self.varint(3)?).map_err(|_| "u16 out of range".into())
    }

    #[inline(always)]
    fn u32(&mut self) -> Read<u32> {
        u32::try_from(self.varint(5)?).map_err(|_| "u32 out of range".into())
    }

    #[inline(always)]
    fn u64(&mut self) -> Read<u64> {
        self.varint(10)
    }

    /// A list or string length, at most the bytes left (every item takes at least one).
    #[inline(always)]
    fn len(&mut self) -> Read<usize> {
        let n = self.u32()? as usize;
        if n > self.bytes.len() {
            return Err("length beyond the bytes".into());
        }
        Ok(n)
    }

    fn string(&mut self) -> Read<String> {
        let n = self.len()?;
        let (text, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| "string not UTF-8".into())
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        let n = self.len()?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn option<T>(&mut self, item: impl FnOnce(&mut Self) -> Read<T>) -> Read<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => item(self).map(Some),
            b => Err(format!("{b} is not an option tag")),
        }
    }

    /// A case of a WIT enum.
    fn case<T: Copy>(&mut self, table: &[T]) -> Read<T> {
        let i = self.u32()? as usize;
        table
            .get(i)
            .copied()
            .ok_or_else(|| format!("case {i} out of range"))
    }

    fn ip(&mut self) -> Read<IpAddress> {
        match self.u32()? {
            0 => Ok(IpAddress::V4(self.u32()?)),
            1 => Ok(IpAddress::V6(Ipv6Address {
                high: self.u64()?,
                low: self.u64()?,
            })),
            i => Err(format!("ip-address case {i}")),
        }
    }

    fn endpoint(&mut self) -> Read<Endpoint> {
        Ok(Endpoint {
            ip: self.ip()?,
            port: self.u16()?,
            mac: self.option(Self::u64)?,
        })
    }

    fn direction(&mut self) -> Read<Direction> {
        Ok(Direction {
            packets: self.u64()?,
            bytes: self.u64()?,
            payload_bytes: self.u64()?,
            first_seen: self.u64()?,
            last_seen: self.u64()?,
            tcp_flags: self.u8()?,
            ttl: self.u8()?,
            payload: self.list(Self::u8)?,
            datagrams: self.list(Self::u32)?,
            payload_truncated: self.bool()?,
        })
    }

    fn tunnel(&mut self) -> Read<TunnelLayer> {
        Ok(TunnelLayer {
            kind: self.case(cases!(TunnelKind))?,
            outer_client: self.option(Self::ip)?,
            outer_server: self.option(Self::ip)?,
            id: self.option(Self::u32)?,
        })
    }

    fn finding(&mut self) -> Read<Finding> {
        Ok(Finding {
            tag: self.string()?,
            subject: match self.u32()? {
                0 => Subject::Flow(self.u64()?),
                1 => Subject::Host(self.ip()?),
                2 => Subject::Capture,
                i => return Err(format!("subject case {i}")),
            },
            severity: self.case(cases!(Severity))?,
            confidence: self.u8()?,
            summary: self.string()?,
            attributes: self.list(|r| {
                Ok(Attribute {
                    key: r.string()?,
                    value: r.string()?,
                })
            })?,
            flows: self.list(Self::u64)?,
        })
    }

    fn flow(&mut self) -> Read<Flow> {
        Ok(Flow {
            id: self.u64()?,
            client: self.endpoint()?,
            server: self.endpoint()?,
            protocol: self.case(cases!(Protocol))?,
            ip_protocol: self.u8()?,
            vlan: self.list(Self::u16)?,
            tunnel: self.list(Self::tunnel)?,
            orientation: self.case(cases!(Orientation))?,
            end_reason: self.case(cases!(EndReason))?,
            icmp_type: self.u8()?,
            icmp_code: self.u8()?,
            fragments: self.u32()?,
            conn_state: self.case(cases!(ConnState))?,
            history: self.string()?,
            to_server: self.direction()?,
            to_client: self.direction()?,
            findings: self.list(|r| {
                Ok(FindingRecord {
                    stage: r.string()?,
                    finding: r.finding()?,
                    rollup: r.bool()?,
                })
            })?,
        })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (n, rest) = bytes.split_at_checked(4)?;
    Some((u32::from_le_bytes(n.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[9, 0, 0, 0, 1][..],
            &[1, 0, 0, 0, 200][..],
            &[0, 0, 0, 0, 7][..],
        ] {
            assert!(unpack(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn an_empty_batch_decodes_to_no_flows() {
        // postcard encodes an empty list as its varint length 0.
        assert!(unpack(&[1, 0, 0, 0, 0]).unwrap().is_empty());
    }
}

#[cfg(test)]
mod against_derived {
    use super::*;
    use crate::testing::{self, FlowBuilder};

    /// Flows using every enum case, both address families, options both ways, tunnels, VLANs,
    /// datagrams, findings of every subject, long strings and large numbers.
    fn flows() -> Vec<Flow> {
        let mut flows = Vec::new();
        let protocols = cases!(Protocol);
        let orientations = cases!(Orientation);
        let ends = cases!(EndReason);
        let states = cases!(ConnState);
        let kinds = cases!(TunnelKind);
        let severities = cases!(Severity);
        assert!(protocols.len() >= 5 && states.len() >= 13 && kinds.len() >= 8);
        for i in 0..states.len().max(kinds.len()) {
            let (client, server) = if i % 2 == 0 {
                (("10.0.0.1", 40000 + i as u16), ("93.184.216.34", 443))
            } else {
                (("2001:db8::1", 65535), ("fe80::abcd:1", 0))
            };
            let mut f = FlowBuilder::new(protocols[i % protocols.len()], client, server)
                .id(u64::MAX - i as u64)
                .macs(
                    Some(0xffff_ffff_ffff),
                    (i % 3 == 0).then_some(0x000c_2901_0101),
                )
                .orientation(orientations[i % orientations.len()])
                .end_reason(ends[i % ends.len()])
                .icmp(i as u8, 255 - i as u8)
                .conn_state(states[i % states.len()], &"ShADadFfRr^é".repeat(i))
                .to_server(testing::direction(
                    b"",
                    1 << (i * 4),
                    1_710_234_000_123_456_789,
                ))
                .to_client(testing::direction(b"", 300, 0))
                .build();
            f.ip_protocol = 200 + i as u8;
            f.fragments = u32::MAX - i as u32;
            f.vlan = (0..i as u16).map(|v| v * 300).collect();
            f.to_server.datagrams = vec![0, 127, 128, 16_383, 16_384, u32::MAX];
            f.to_server.payload_truncated = i % 2 == 1;
            f.to_client.tcp_flags = 0xff;
            f.to_client.ttl = 255;
            f.tunnel = (0..=i % 3)
                .map(|j| TunnelLayer {
                    kind: kinds[(i + j) % kinds.len()],
                    outer_client: (j != 1).then(|| testing::ip("192.0.2.1")),
                    outer_server: (j == 2).then(|| testing::ip("2001:db8::2")),
                    id: (j != 0).then_some(u32::MAX >> j),
                })
                .collect();
            let mut record = testing::finding(
                "stage",
                f.id,
                "tag.sub",
                &"ü".repeat(100 * i),
                &[("k", "v"), ("", &"x".repeat(300))],
            );
            record.finding.severity = severities[i % severities.len()];
            record.finding.confidence = (i * 20) as u8;
            record.finding.subject = match i % 3 {
                0 => Subject::Flow(i as u64),
                1 => Subject::Host(testing::ip("::ffff:1.2.3.4")),
                _ => Subject::Capture,
            };
            record.finding.flows = (0..i as u64).map(|x| x << 40).collect();
            record.rollup = i % 2 == 0;
            f.findings = vec![record; i % 3];
            flows.push(f);
        }
        flows
    }

    fn encode(flows: &[Flow]) -> Vec<u8> {
        postcard::to_allocvec(flows).unwrap()
    }

    #[test]
    fn decodes_what_the_derived_decoder_decodes() {
        let head = encode(&flows());
        let ours = Reader { bytes: &head }.list(Reader::flow).unwrap();
        let derived: Vec<Flow> = postcard::from_bytes(&head).unwrap();
        assert_eq!(format!("{ours:?}"), format!("{derived:?}"));
        assert_eq!(encode(&ours), head);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_an_error_or_what_the_derived_decoder_reads() {
        let head = encode(&flows()[..4]);
        for cut in 0..head.len() {
            assert!(
                Reader {
                    bytes: &head[..cut]
                }
                .list(Reader::flow)
                .is_err(),
                "cut at {cut}"
            );
        }
        for at in 0..head.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = head.clone();
                bad[at] ^= flip;
                let mut r = Reader { bytes: &bad };
                let ours = r.list(Reader::flow).and_then(|f| {
                    if r.bytes.is_empty() {
                        Ok(f)
                    } else {
                        Err("left over".into())
                    }
                });
                let derived = postcard::from_bytes::<Vec<Flow>>(&bad);
                // What we accept, the derived decoder accepts and reads the same (it also takes
                // some bytes we refuse, such as overlong varints).
                if let Ok(a) = &ours {
                    let b = derived.unwrap_or_else(|e| {
                        panic!("byte {at} ^ {flip:#x}: we read what postcard refuses ({e})")
                    });
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "byte {at} ^ {flip:#x}");
                }
            }
        }
    }

    #[test]
    fn a_whole_packed_batch_round_trips_with_payloads() {
        let flows = flows();
        let head = encode(&flows);
        let mut packed = (head.len() as u32).to_le_bytes().to_vec();
        packed.extend_from_slice(&head);
        for (i, _) in flows.iter().enumerate() {
            for p in [vec![i as u8; i], b"reply".to_vec()] {
                packed.extend_from_slice(&(p.len() as u32).to_le_bytes());
                packed.extend_from_slice(&p);
            }
        }
        let got = unpack(&packed).unwrap();
        assert_eq!(got.len(), flows.len());
        for (i, f) in got.iter().enumerate() {
            assert_eq!(f.to_server.payload, vec![i as u8; i]);
            assert_eq!(f.to_client.payload, b"reply");
            assert_eq!(f.id, flows[i].id);
        }
    }
}
