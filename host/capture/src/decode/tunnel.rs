//! Encapsulations: PPPoE, MPLS, GRE (with ERSPAN II/III), VXLAN, Geneve, IP-in-IP (4in4, 6in4, 4in6,
//! 6in6) and GTP-U, peeled off until the innermost IP packet, which is the one flows are made of.
//!
//! Each layer that is peeled is kept as a [`TunnelLayer`] (outer first), so a flow remembers the tunnel
//! it came through. The promise: a tunnel never loses a packet. A tunnel header that is malformed, or
//! whose inner packet cannot be read, stops the peeling; the packet is then accounted for as the last
//! layer that could be read (the outer UDP or GRE packet) and the fault is reported with the layer named.
//! At most [`MAX_LAYERS`] layers are peeled, so hostile nesting costs bounded work.

use super::packet::{DecodeError, Link, malformed};
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most encapsulation layers peeled off one frame (each MPLS label counts as one).
pub const MAX_LAYERS: usize = 8;

const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
const UDP_GTP_U: u16 = 2152;

/// What kind of encapsulation a layer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// PPPoE session (ether type 0x8864); id: session id.
    Pppoe,
    /// One MPLS label stack entry (ether type 0x8847/0x8848); id: the label.
    Mpls,
    /// GRE (IP protocol 47); id: the key, when present.
    Gre,
    /// ERSPAN type II or III inside GRE; id: the session id.
    Erspan,
    /// VXLAN (UDP 4789); id: the VNI.
    Vxlan,
    /// Geneve (UDP 6081); id: the VNI.
    Geneve,
    /// IP in IP: 4in4 (protocol 4), 6in4 (41), 4in6, 6in6; no id.
    IpInIp,
    /// GTP-U (UDP 2152); id: the TEID of this packet's direction.
    GtpU,
}

impl TunnelKind {
    /// Lower-case name, as reports and error keys show it.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Pppoe => "pppoe",
            TunnelKind::Mpls => "mpls",
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpInIp => "ip-in-ip",
            TunnelKind::GtpU => "gtp-u",
        }
    }

    /// True when the id is the same in both directions of a conversation, so it can tell
    /// conversations apart. GTP-U TEIDs and MPLS labels are chosen per direction (and MPLS stacks
    /// may even differ in depth), so they are kept but do not split flows.
    pub fn id_is_symmetric(self) -> bool {
        !matches!(self, TunnelKind::GtpU | TunnelKind::Mpls)
    }
}

/// One encapsulation layer a packet came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelLayer {
    pub kind: TunnelKind,
    /// Source and destination of the outer IP header, for tunnels carried in IP.
    pub outer: Option<(IpAddr, IpAddr)>,
    /// VNI, TEID, GRE key, ERSPAN session id, MPLS label or PPPoE session id.
    pub id: Option<u32>,
}

/// Where the next layer starts.
enum Start<'a> {
    Ethernet(&'a [u8]),
    /// A payload identified by an ether type (as GRE and cooked captures carry them).
    EtherType(u16, &'a [u8]),
    Ip(&'a [u8]),
}

/// One step of peeling.
enum Step<'a> {
    /// Nothing (more) to peel: the packet is what it is.
    Done,
    /// A frame that is not IP after all (PPPoE discovery or control, an MPLS payload of unknown kind).
    NonIp(u16),
    /// Layers peeled off and where the inner packet starts.
    Inner(Vec<TunnelLayer>, Start<'a>),
}

/// A packet with its encapsulations removed.
pub(super) struct Peeled<'a> {
    pub pkt: LaxSlicedPacket<'a>,
    pub link: Link,
    /// VLAN ids, outer first, including those of inner Ethernet frames.
    pub vlan: Vec<u16>,
    pub tunnel: Vec<TunnelLayer>,
    /// Why peeling stopped early, when it did: the packet is then the last layer that could be read.
    pub error: Option<DecodeError>,
}

/// What peeling found.
// Returned by value once per frame: boxing the packet would cost an allocation per frame.
#[allow(clippy::large_enum_variant)]
pub(super) enum Unwrapped<'a> {
    Packet(Peeled<'a>),
    NonIp(u16),
}

/// VLAN ids of a sliced packet, outer first.
pub(super) fn vlans(pkt: &LaxSlicedPacket<'_>) -> impl Iterator<Item = u16> {
    pkt.link_exts.iter().filter_map(|e| match e {
        etherparse::LaxLinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
        etherparse::LaxLinkExtSlice::Macsec(_) => None,
    })
}

/// Peels every encapsulation off `pkt`. Errors only when a frame with no IP outside the tunnel (PPPoE,
/// MPLS over Ethernet) has a malformed tunnel header: there is then no outer packet to account for.
/// When the innermost packet turns out not to be IP (a mirrored STP frame, PPP link control inside GRE),
/// the packet is the last IP layer on the way in, so the tunnel's own traffic still makes a flow.
pub(super) fn unwrap(pkt: LaxSlicedPacket<'_>, link: Link) -> Result<Unwrapped<'_>, DecodeError> {
    let mut peeled = Peeled {
        vlan: vlans(&pkt).collect(),
        pkt,
        link,
        tunnel: Vec::new(),
        error: None,
    };
    // The last layer that was an IP packet: what is kept when peeling fails or ends outside IP.
    let mut last_ip: Option<Peeled<'_>> = None;
    loop {
        let step = match next_layer(&peeled.pkt) {
            Ok(step) => step,
            Err(e) => return stop(peeled, last_ip, e),
        };
        let (layers, start) = match step {
            Step::Done if peeled.pkt.net.is_none() => {
                return Ok(last_ip.map_or(Unwrapped::Packet(peeled), Unwrapped::Packet));
            }
            Step::Done => return Ok(Unwrapped::Packet(peeled)),
            Step::NonIp(ether_type) => {
                return Ok(last_ip.map_or(Unwrapped::NonIp(ether_type), Unwrapped::Packet));
            }
            Step::Inner(layers, start) => (layers, start),
        };
        let kind = layers.last().map_or("tunnel", |l| l.kind.name());
        if peeled.tunnel.len() + layers.len() > MAX_LAYERS {
            let e = malformed(
                kind,
                format!("more than {MAX_LAYERS} nested encapsulations; the rest is not decoded"),
            );
            return stop(peeled, last_ip, e);
        }
        match slice(start, kind) {
            Ok((inner, inner_link)) => {
                let mut next = Peeled {
                    vlan: peeled.vlan.clone(),
                    pkt: inner,
                    link: inner_link.unwrap_or(peeled.link),
                    tunnel: peeled.tunnel.clone(),
                    error: None,
                };
                next.vlan.extend(vlans(&next.pkt));
                next.tunnel.extend(layers);
                if peeled.pkt.net.is_some() {
                    last_ip = Some(peeled);
                }
                peeled = next;
            }
            Err(e) => return stop(peeled, last_ip, e),
        }
    }
}

/// Peeling stopped on `e` at `at`: keep `at` if it is IP, else the last IP layer, else fail.
fn stop<'a>(
    at: Peeled<'a>,
    last_ip: Option<Peeled<'a>>,
    e: DecodeError,
) -> Result<Unwrapped<'a>, DecodeError> {
    let mut kept = match last_ip {
        Some(ip) if at.pkt.net.is_none() => ip,
        None if at.pkt.net.is_none() => return Err(e),
        _ => at,
    };
    kept.error = Some(e);
    Ok(Unwrapped::Packet(kept))
}

/// Slices the inner packet; its MACs when it is an Ethernet frame. An inner packet whose IP header
/// cannot be read is a fault of the tunnel named `kind`.
fn slice<'a>(
    start: Start<'a>,
    kind: &'static str,
) -> Result<(LaxSlicedPacket<'a>, Option<Link>), DecodeError> {
    let (pkt, link) = match start {
        Start::Ethernet(b) => {
            let p = LaxSlicedPacket::from_ethernet(b)
                .map_err(|e| malformed(kind, format!("inner Ethernet frame: {e}")))?;
            let link = match &p.link {
                Some(LinkSlice::Ethernet2(eth)) => Some(Link {
                    src_mac: Some(eth.source()),
                    dst_mac: Some(eth.destination()),
                }),
                _ => None,
            };
            (p, link)
        }
        Start::EtherType(t, b) => (LaxSlicedPacket::from_ether_type(EtherType(t), b), None),
        Start::Ip(b) => (
            LaxSlicedPacket::from_ip(b)
                .map_err(|e| malformed(kind, format!("inner IP packet: {e}")))?,
            None,
        ),
    };
    if pkt.net.is_none()
        && let Some((err, _)) = &pkt.stop_err
    {
        return Err(malformed(kind, format!("inner packet: {err}")));
    }
    Ok((pkt, link))
}

/// The encapsulation directly inside `pkt`, if any.
fn next_layer<'a>(pkt: &LaxSlicedPacket<'a>) -> Result<Step<'a>, DecodeError> {
    let (src, dst, payload) = match &pkt.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            IpAddr::V4(Ipv4Addr::from(v4.header().source())),
            IpAddr::V4(Ipv4Addr::from(v4.header().destination())),
            v4.payload(),
        ),
        Some(LaxNetSlice::Ipv6(v6)) => (
            IpAddr::V6(Ipv6Addr::from(v6.header().source())),
            IpAddr::V6(Ipv6Addr::from(v6.header().destination())),
            v6.payload(),
        ),
        Some(LaxNetSlice::Arp(_)) => return Ok(Step::Done),
        None => {
            return match pkt.ether_payload() {
                Some(p) if pkt.stop_err.is_none() => by_ether_type(p.ether_type.0, p.payload),
                _ => Ok(Step::Done),
            };
        }
    };
    if payload.fragmented {
        return Ok(Step::Done);
    }
    let outer = Some((src, dst));
    let layer = |kind, id| vec![TunnelLayer { kind, outer, id }];
    match payload.ip_number.0 {
        4 | 41 => Ok(Step::Inner(
            layer(TunnelKind::IpInIp, None),
            Start::Ip(payload.payload),
        )),
        47 => gre(payload.payload, outer),
        17 => match &pkt.transport {
            Some(TransportSlice::Udp(u)) => {
                let b = u.payload();
                match u.destination_port() {
                    UDP_VXLAN => {
                        vxlan(b).map(|(vni, s)| Step::Inner(layer(TunnelKind::Vxlan, Some(vni)), s))
                    }
                    UDP_GENEVE => geneve(b)
                        .map(|(vni, s)| Step::Inner(layer(TunnelKind::Geneve, Some(vni)), s)),
                    UDP_GTP_U => gtp_u(b).map(|found| match found {
                        Some((teid, s)) => Step::Inner(layer(TunnelKind::GtpU, Some(teid)), s),
                        None => Step::Done,
                    }),
                    _ => Ok(Step::Done),
                }
            }
            _ => Ok(Step::Done),
        },
        _ => Ok(Step::Done),
    }
}

/// Encapsulations identified by an ether type that etherparse leaves undecoded.
fn by_ether_type(ether_type: u16, b: &[u8]) -> Result<Step<'_>, DecodeError> {
    match ether_type {
        0x8864 => pppoe_session(b),
        0x8847 | 0x8848 => mpls(b),
        _ => Ok(Step::Done),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// `need` bytes of a `layer` header, or a fault saying how many there were.
fn header<'a>(b: &'a [u8], need: usize, layer: &'static str) -> Result<&'a [u8], DecodeError> {
    b.get(..need).ok_or_else(|| {
        malformed(
            layer,
            format!("{} bytes, shorter than its {need}-byte header", b.len()),
        )
    })
}

/// PPPoE session stage (RFC 2516): version/type 0x11, code 0, session id, length, then PPP.
fn pppoe_session(b: &[u8]) -> Result<Step<'_>, DecodeError> {
    let h = header(b, 8, "pppoe")?;
    if h[0] != 0x11 || h[1] != 0 {
        return Err(malformed(
            "pppoe",
            format!(
                "version/type 0x{:02x} and code 0x{:02x}, expected 0x11 and 0x00 in a session frame",
                h[0], h[1]
            ),
        ));
    }
    let session = u32::from(be16(h, 2).unwrap_or(0));
    let len = usize::from(be16(h, 4).unwrap_or(0));
    // PPP protocol field, possibly compressed to one byte (odd first byte).
    let (proto, skip) = if h[6] & 1 == 1 {
        (u16::from(h[6]), 1)
    } else {
        (be16(h, 6).unwrap_or(0), 2)
    };
    let end = (6 + len).min(b.len()).max(6 + skip);
    let inner = b.get(6 + skip..end).unwrap_or_default();
    let layer = vec![TunnelLayer {
        kind: TunnelKind::Pppoe,
        outer: None,
        id: Some(session),
    }];
    match proto {
        0x0021 | 0x0057 => Ok(Step::Inner(layer, Start::Ip(inner))),
        // LCP, IPCP, PAP, CHAP, ...: link control, not traffic.
        _ => Ok(Step::NonIp(0x8864)),
    }
}

/// An MPLS label stack, then IPv4/IPv6 by the version nibble, or an Ethernet pseudowire behind a
/// control word (first nibble 0, RFC 4448). Anything else is counted as a non-IP MPLS frame.
fn mpls(b: &[u8]) -> Result<Step<'_>, DecodeError> {
    let mut layers = Vec::new();
    let mut at = 0;
    loop {
        let Some(entry) = be32(b, at) else {
            return Err(malformed(
                "mpls",
                format!(
                    "label stack runs past the end of the frame at byte {at} without a bottom-of-stack entry"
                ),
            ));
        };
        layers.push(TunnelLayer {
            kind: TunnelKind::Mpls,
            outer: None,
            id: Some(entry >> 12),
        });
        at += 4;
        if entry & 0x100 != 0 {
            break;
        }
        if layers.len() > MAX_LAYERS {
            return Err(malformed(
                "mpls",
                format!("more than {MAX_LAYERS} labels without a bottom-of-stack entry"),
            ));
        }
    }
    let rest = &b[at..];
    match rest.first().map(|x| x >> 4) {
        Some(4 | 6) => Ok(Step::Inner(layers, Start::Ip(rest))),
        Some(0) if rest.len() >= 4 + 14 => Ok(Step::Inner(layers, Start::Ethernet(&rest[4..]))),
        _ => Ok(Step::NonIp(0x8847)),
    }
}

/// GRE (RFC 2784/2890): optional checksum, key and sequence number, then a payload by ether type;
/// ERSPAN II/III and Transparent Ethernet Bridging carry Ethernet. Version 1 (PPTP) and other payloads
/// stay the outer GRE packet.
fn gre(b: &[u8], outer: Option<(IpAddr, IpAddr)>) -> Result<Step<'_>, DecodeError> {
    let h = header(b, 4, "gre")?;
    let flags = be16(h, 0).unwrap_or(0);
    let proto = be16(h, 2).unwrap_or(0);
    if flags & 0x7 != 0 {
        return Ok(Step::Done);
    }
    if flags & 0x4000 != 0 {
        // Source routing (RFC 1701) is obsolete; its variable routing fields are not decoded.
        return Ok(Step::Done);
    }
    let has = |bit: u16| usize::from(flags & bit != 0);
    let key_at = 4 + 4 * has(0x8000);
    let len = key_at + 4 * has(0x2000) + 4 * has(0x1000);
    let h = header(b, len, "gre")?;
    let key = (flags & 0x2000 != 0).then(|| be32(h, key_at).unwrap_or(0));
    let rest = &b[len..];
    let mut layers = vec![TunnelLayer {
        kind: TunnelKind::Gre,
        outer,
        id: key,
    }];
    let start = match proto {
        0x0800 | 0x86dd => Start::Ip(rest),
        0x6558 => Start::Ethernet(rest),
        // Type I has no header (and no sequence number); type II has an 8-byte one.
        0x88be if flags & 0x1000 == 0 => Start::Ethernet(rest),
        0x88be | 0x22eb => {
            let (session, inner) = erspan(rest, proto == 0x22eb)?;
            layers.push(TunnelLayer {
                kind: TunnelKind::Erspan,
                outer: None,
                id: Some(session),
            });
            Start::Ethernet(inner)
        }
        0x8847 | 0x8848 | 0x8864 => Start::EtherType(proto, rest),
        _ => return Ok(Step::Done),
    };
    Ok(Step::Inner(layers, start))
}

/// ERSPAN type II (version 1, 8 bytes) or type III (version 2, 12 bytes, plus an 8-byte platform
/// sub-header when its O bit is set): the session id and the mirrored Ethernet frame.
fn erspan(b: &[u8], type3: bool) -> Result<(u32, &[u8]), DecodeError> {
    let base = if type3 { 12 } else { 8 };
    let h = header(b, base, "erspan")?;
    let version = h[0] >> 4;
    let want = if type3 { 2 } else { 1 };
    if version != want {
        return Err(malformed(
            "erspan",
            format!(
                "version {version}, expected {want} for ERSPAN type {}",
                if type3 { "III" } else { "II" }
            ),
        ));
    }
    let session = u32::from(be16(h, 2).unwrap_or(0) & 0x03ff);
    let len = if type3 && h[11] & 1 == 1 {
        base + 8
    } else {
        base
    };
    header(b, len, "erspan")?;
    Ok((session, &b[len..]))
}

/// VXLAN (RFC 7348): flags with the I bit, 24-bit VNI, then an Ethernet frame.
fn vxlan(b: &[u8]) -> Result<(u32, Start<'_>), DecodeError> {
    let h = header(b, 8, "vxlan")?;
    if h[0] & 0x08 == 0 {
        return Err(malformed(
            "vxlan",
            format!("flags 0x{:02x} without the valid-VNI bit 0x08", h[0]),
        ));
    }
    let vni = be32(h, 4).unwrap_or(0) >> 8;
    Ok((vni, Start::Ethernet(&b[8..])))
}

/// Geneve (RFC 8926): version 0, options skipped by their length, payload by protocol type.
fn geneve(b: &[u8]) -> Result<(u32, Start<'_>), DecodeError> {
    let h = header(b, 8, "geneve")?;
    let version = h[0] >> 6;
    if version != 0 {
        return Err(malformed(
            "geneve",
            format!("version {version}, expected 0"),
        ));
    }
    let len = 8 + 4 * usize::from(h[0] & 0x3f);
    header(b, len, "geneve")?;
    let vni = be32(h, 4).unwrap_or(0) >> 8;
    let rest = &b[len..];
    let start = match be16(h, 2).unwrap_or(0) {
        0x6558 => Start::Ethernet(rest),
        other => Start::EtherType(other, rest),
    };
    Ok((vni, start))
}

/// GTP-U (3GPP TS 29.281) version 1: a G-PDU's TEID and the user's IP packet, after the optional
/// sequence number, N-PDU number and extension header chain. Other messages (echo, error indication,
/// end marker) carry no user packet: `None`.
fn gtp_u(b: &[u8]) -> Result<Option<(u32, Start<'_>)>, DecodeError> {
    let h = header(b, 8, "gtp-u")?;
    let (flags, message) = (h[0], h[1]);
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return Err(malformed(
            "gtp-u",
            format!("flags 0x{flags:02x}: not GTP version 1 with protocol type GTP"),
        ));
    }
    if message != 0xff {
        return Ok(None);
    }
    let teid = be32(h, 4).unwrap_or(0);
    let mut at = 8;
    if flags & 0x07 != 0 {
        header(b, 12, "gtp-u")?;
        let mut next = b[11];
        at = 12;
        while next != 0 {
            let units = usize::from(*b.get(at).unwrap_or(&0));
            if units == 0 || b.len() < at + 4 * units {
                return Err(malformed(
                    "gtp-u",
                    format!("extension header at byte {at} is cut off or has length 0"),
                ));
            }
            at += 4 * units;
            next = b[at - 1];
        }
    }
    let rest = &b[at..];
    match rest.first().map(|x| x >> 4) {
        Some(4 | 6) => Ok(Some((teid, Start::Ip(rest)))),
        _ => Err(malformed(
            "gtp-u",
            format!("G-PDU payload of {} bytes is not an IP packet", rest.len()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Decoded, Decoder, Frame, IpPacket, LinkType, Transport};
    use etherparse::{IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder};

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
    const IA: [u8; 6] = [0x02, 0, 0, 0, 0, 0x1a];
    const IB: [u8; 6] = [0x02, 0, 0, 0, 0, 0x1b];

    fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn tcp6(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv6(src, dst, 64)
            .tcp(40000, 443, 1, 1000)
            .syn()
            .write(&mut v, b"")
            .unwrap();
        v
    }

    fn ip4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let h = Ipv4Header::new(payload.len() as u16, 64, IpNumber(proto), src, dst).unwrap();
        [&h.to_bytes()[..], payload].concat()
    }

    fn ip6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
        let h = Ipv6Header {
            traffic_class: 0,
            flow_label: Ipv6FlowLabel::ZERO,
            payload_length: payload.len() as u16,
            next_header: IpNumber(next),
            hop_limit: 64,
            source: src,
            destination: dst,
        };
        [&h.to_bytes()[..], payload].concat()
    }

    fn eth(dst: [u8; 6], src: [u8; 6], tags: &[(u16, u16)], ether_type: u16, p: &[u8]) -> Vec<u8> {
        let mut v = [&dst[..], &src[..]].concat();
        for (tpid, id) in tags {
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
        }
        v.extend_from_slice(&ether_type.to_be_bytes());
        v.extend_from_slice(p);
        v
    }

    fn pppoe(session: u16, ppp_proto: u16, p: &[u8]) -> Vec<u8> {
        let mut v = vec![0x11, 0];
        v.extend_from_slice(&session.to_be_bytes());
        v.extend_from_slice(&(p.len() as u16 + 2).to_be_bytes());
        v.extend_from_slice(&ppp_proto.to_be_bytes());
        v.extend_from_slice(p);
        v
    }

    fn gre(flags: u16, proto: u16, extra: &[u32], p: &[u8]) -> Vec<u8> {
        let mut v = [flags.to_be_bytes(), proto.to_be_bytes()].concat();
        for x in extra {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(p);
        v
    }

    fn vxlan(vni: u32, p: &[u8]) -> Vec<u8> {
        let mut v = vec![0x08, 0, 0, 0];
        v.extend_from_slice(&(vni << 8).to_be_bytes());
        v.extend_from_slice(p);
        v
    }

    fn inner_udp() -> Vec<u8> {
        udp4([10, 1, 0, 1], [10, 1, 0, 2], 5000, 53, b"query")
    }

    /// Decodes one frame with a fresh decoder (the bytes are leaked so results can outlive them).
    fn decode(link: LinkType, data: &[u8]) -> Result<Decoded<'static>, DecodeError> {
        let data: &'static [u8] = data.to_vec().leak();
        Decoder::new().decode(&Frame {
            ts: 1_000_000_000,
            link_type: link,
            data,
            orig_len: data.len() as u32,
            interface: 0,
        })
    }

    fn ip(r: Result<Decoded<'_>, DecodeError>) -> IpPacket<'_> {
        match r {
            Ok(Decoded::Ip(p)) => p,
            Ok(other) => panic!("not an IP packet: {other:?}"),
            Err(e) => panic!("decode error: {e}"),
        }
    }

    fn layer(kind: TunnelKind, outer: Option<([u8; 4], [u8; 4])>, id: Option<u32>) -> TunnelLayer {
        TunnelLayer {
            kind,
            outer: outer.map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
            id,
        }
    }

    fn udp_ports(p: &IpPacket<'_>) -> (u16, u16, Vec<u8>) {
        match &p.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => (*src_port, *dst_port, payload.to_vec()),
            other => panic!("{other:?}"),
        }
    }

    fn is_inner_udp(p: &IpPacket<'_>) {
        assert_eq!(p.src.to_string(), "10.1.0.1");
        assert_eq!(p.dst.to_string(), "10.1.0.2");
        assert_eq!(udp_ports(p), (5000, 53, b"query".to_vec()));
        assert!(p.tunnel_error.is_none(), "{:?}", p.tunnel_error);
    }

    #[test]
    fn pppoe_session_behind_qinq_gives_the_inner_ip_packet() {
        let inner = inner_udp();
        let f = eth(
            B,
            A,
            &[(0x88a8, 100), (0x8100, 200)],
            0x8864,
            &pppoe(0x1234, 0x21, &inner),
        );
        let p = ip(decode(LinkType::ETHERNET, &f));
        is_inner_udp(&p);
        assert_eq!(p.vlan, vec![100, 200]);
        assert_eq!(p.tunnel, vec![layer(TunnelKind::Pppoe, None, Some(0x1234))]);
        assert_eq!((p.src_mac, p.dst_mac), (Some(A), Some(B)));
        assert_eq!(p.wire_len, inner.len() as u64);
        // IPv6 over PPP (0x0057).
        let v6 = tcp6([0xfe; 16], [0x20; 16]);
        let f = eth(B, A, &[], 0x8864, &pppoe(7, 0x57, &v6));
        let p = ip(decode(LinkType::ETHERNET, &f));
        assert!(matches!(p.transport, Transport::Tcp { dst_port: 443, .. }));
    }

    #[test]
    fn pppoe_control_and_discovery_are_non_ip_and_broken_headers_are_named() {
        let lcp = eth(B, A, &[], 0x8864, &pppoe(1, 0xc021, &[1, 1, 0, 4]));
        assert!(matches!(
            decode(LinkType::ETHERNET, &lcp),
            Ok(Decoded::NonIp { ether_type: 0x8864 })
        ));
        let padi = eth(B, A, &[], 0x8863, &[0x11, 0x09, 0, 0, 0, 0]);
        assert!(matches!(
            decode(LinkType::ETHERNET, &padi),
            Ok(Decoded::NonIp { ether_type: 0x8863 })
        ));
        let mut bad = pppoe(1, 0x21, &inner_udp());
        bad[0] = 0x22;
        let e = decode(LinkType::ETHERNET, &eth(B, A, &[], 0x8864, &bad)).unwrap_err();
        assert_eq!(e.kind(), "malformed pppoe");
        let cut = eth(B, A, &[], 0x8864, &[0x11, 0, 0]);
        assert_eq!(
            decode(LinkType::ETHERNET, &cut).unwrap_err().kind(),
            "malformed pppoe"
        );
        // The inner IP header is broken: nothing outside the tunnel is IP, so the frame is an error.
        let f = eth(B, A, &[], 0x8864, &pppoe(1, 0x21, &[0x45, 0, 0]));
        assert_eq!(
            decode(LinkType::ETHERNET, &f).unwrap_err().kind(),
            "malformed pppoe"
        );
    }

    fn label(value: u32, bottom: bool) -> [u8; 4] {
        ((value << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
    }

    #[test]
    fn mpls_label_stacks_and_ethernet_pseudowires() {
        let inner = inner_udp();
        let f = eth(
            B,
            A,
            &[],
            0x8847,
            &[&label(100, false)[..], &label(200, true), &inner].concat(),
        );
        let p = ip(decode(LinkType::ETHERNET, &f));
        is_inner_udp(&p);
        assert_eq!(
            p.tunnel,
            vec![
                layer(TunnelKind::Mpls, None, Some(100)),
                layer(TunnelKind::Mpls, None, Some(200))
            ]
        );
        // Pseudowire: control word (first nibble 0), then an Ethernet frame whose MACs become the flow's.
        let pw = [
            &label(300, true)[..],
            &[0, 0, 0, 1],
            &eth(IB, IA, &[(0x8100, 9)], 0x0800, &inner),
        ]
        .concat();
        let p = ip(decode(LinkType::ETHERNET, &eth(B, A, &[], 0x8848, &pw)));
        is_inner_udp(&p);
        assert_eq!((p.src_mac, p.dst_mac), (Some(IA), Some(IB)));
        assert_eq!(p.vlan, vec![9]);
        // Unknown payload: a non-IP MPLS frame. No bottom of stack: an error.
        let odd = eth(
            B,
            A,
            &[],
            0x8847,
            &[&label(1, true)[..], &[0x90; 20]].concat(),
        );
        assert!(matches!(
            decode(LinkType::ETHERNET, &odd),
            Ok(Decoded::NonIp { ether_type: 0x8847 })
        ));
        let open = eth(
            B,
            A,
            &[],
            0x8847,
            &[&label(1, false)[..], &label(2, false)].concat(),
        );
        assert_eq!(
            decode(LinkType::ETHERNET, &open).unwrap_err().kind(),
            "malformed mpls"
        );
    }

    #[test]
    fn gre_with_checksum_key_and_sequence_carries_ip_and_ethernet() {
        let inner = inner_udp();
        let g = gre(0xb000, 0x0800, &[0, 77, 5], &inner);
        let outer = ip4([192, 0, 2, 1], [192, 0, 2, 2], 47, &g);
        let p = ip(decode(LinkType::ETHERNET, &eth(B, A, &[], 0x0800, &outer)));
        is_inner_udp(&p);
        assert_eq!(
            p.tunnel,
            vec![layer(
                TunnelKind::Gre,
                Some(([192, 0, 2, 1], [192, 0, 2, 2])),
                Some(77)
            )]
        );
        assert_eq!(
            (p.src_mac, p.dst_mac),
            (Some(A), Some(B)),
            "IP inside: the frame's MACs"
        );
        // Transparent Ethernet Bridging: the inner frame's MACs.
        let teb = gre(0, 0x6558, &[], &eth(IB, IA, &[], 0x0800, &inner));
        let p = ip(decode(
            LinkType::RAW,
            &ip4([192, 0, 2, 1], [192, 0, 2, 2], 47, &teb),
        ));
        is_inner_udp(&p);
        assert_eq!((p.src_mac, p.dst_mac), (Some(IA), Some(IB)));
        assert_eq!(p.tunnel[0].id, None);
        // GRE version 1 (PPTP) and unknown payloads stay the outer GRE packet, without an error.
        for g in [
            gre(0x3001, 0x880b, &[0, 0], &[0; 8]),
            gre(0, 0x1234, &[], &[0; 8]),
        ] {
            let p = ip(decode(
                LinkType::RAW,
                &ip4([192, 0, 2, 1], [192, 0, 2, 2], 47, &g),
            ));
            assert_eq!((p.protocol, p.tunnel.len()), (47, 0));
            assert!(p.tunnel_error.is_none());
        }
        // Cut GRE header: the outer packet, with the fault named.
        let cut = ip4(
            [192, 0, 2, 1],
            [192, 0, 2, 2],
            47,
            &gre(0x2000, 0x0800, &[], &[]),
        );
        let p = ip(decode(LinkType::RAW, &cut));
        assert_eq!(p.protocol, 47);
        assert_eq!(
            p.tunnel_error.map(|e| e.kind()).as_deref(),
            Some("malformed gre")
        );
    }

    fn erspan2(session: u16) -> Vec<u8> {
        let mut v = vec![0x10, 0x05];
        v.extend_from_slice(&(session & 0x3ff).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1]);
        v
    }

    fn erspan3(session: u16, subheader: bool) -> Vec<u8> {
        let mut v = vec![0x20, 0x05];
        v.extend_from_slice(&(session & 0x3ff).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, u8::from(subheader)]);
        if subheader {
            v.extend_from_slice(&[0xee; 8]);
        }
        v
    }

    #[test]
    fn erspan_two_and_three_mirror_ethernet_frames_with_vlans() {
        let inner = eth(IB, IA, &[(0x8100, 42)], 0x0800, &inner_udp());
        let outer = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let cases: [(Vec<u8>, u32); 3] = [
            (
                gre(0x1000, 0x88be, &[1], &[&erspan2(33)[..], &inner].concat()),
                33,
            ),
            (
                gre(
                    0x1000,
                    0x22eb,
                    &[1],
                    &[&erspan3(44, false)[..], &inner].concat(),
                ),
                44,
            ),
            (
                gre(
                    0x1000,
                    0x22eb,
                    &[1],
                    &[&erspan3(55, true)[..], &inner].concat(),
                ),
                55,
            ),
        ];
        for (g, session) in cases {
            let f = eth(B, A, &[(0x8100, 7)], 0x0800, &ip4(outer.0, outer.1, 47, &g));
            let p = ip(decode(LinkType::ETHERNET, &f));
            is_inner_udp(&p);
            assert_eq!(p.vlan, vec![7, 42]);
            assert_eq!((p.src_mac, p.dst_mac), (Some(IA), Some(IB)));
            assert_eq!(
                p.tunnel,
                vec![
                    layer(TunnelKind::Gre, Some(outer), None),
                    layer(TunnelKind::Erspan, None, Some(session))
                ]
            );
        }
        // Type I: no sequence number, no header.
        let g = gre(0, 0x88be, &[], &inner);
        let p = ip(decode(LinkType::RAW, &ip4(outer.0, outer.1, 47, &g)));
        is_inner_udp(&p);
        // A type II header claiming version 2: the GRE packet is kept, the fault named.
        let mut bad = erspan2(1);
        bad[0] = 0x20;
        let g = gre(0x1000, 0x88be, &[1], &[&bad[..], &inner].concat());
        let p = ip(decode(LinkType::RAW, &ip4(outer.0, outer.1, 47, &g)));
        assert_eq!(p.protocol, 47);
        assert_eq!(
            p.tunnel_error.map(|e| e.kind()).as_deref(),
            Some("malformed erspan")
        );
    }

    #[test]
    fn vxlan_gives_the_inner_frame_and_keeps_the_outer_datagram_when_broken() {
        let inner = eth(IB, IA, &[], 0x0800, &inner_udp());
        let outer = udp4(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            61000,
            4789,
            &vxlan(5001, &inner),
        );
        let p = ip(decode(LinkType::ETHERNET, &eth(B, A, &[], 0x0800, &outer)));
        is_inner_udp(&p);
        assert_eq!((p.src_mac, p.dst_mac), (Some(IA), Some(IB)));
        assert_eq!(
            p.tunnel,
            vec![layer(
                TunnelKind::Vxlan,
                Some(([198, 51, 100, 1], [198, 51, 100, 2])),
                Some(5001)
            )]
        );
        let mut bad = vxlan(5001, &inner);
        bad[0] = 0;
        for payload in [bad, vec![0x08, 0, 0]] {
            let outer = udp4([198, 51, 100, 1], [198, 51, 100, 2], 61000, 4789, &payload);
            let p = ip(decode(LinkType::RAW, &outer));
            assert_eq!(udp_ports(&p).1, 4789, "the outer datagram is the packet");
            assert!(p.tunnel.is_empty());
            assert_eq!(
                p.tunnel_error.map(|e| e.kind()).as_deref(),
                Some("malformed vxlan")
            );
        }
        // An inner frame that is not IP (here LLDP): the outer datagram, no error.
        let lldp = eth(IB, IA, &[], 0x88cc, &[0; 20]);
        let outer = udp4(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            61000,
            4789,
            &vxlan(1, &lldp),
        );
        let p = ip(decode(LinkType::RAW, &outer));
        assert_eq!((udp_ports(&p).1, p.tunnel.len()), (4789, 0));
        assert!(p.tunnel_error.is_none());
        // Inner ARP is ARP.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&[&IA[..], &[10, 1, 0, 1], &[0; 6], &[10, 1, 0, 2]].concat());
        let outer = udp4(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            61000,
            4789,
            &vxlan(1, &eth(B, IA, &[], 0x0806, &arp)),
        );
        assert!(matches!(decode(LinkType::RAW, &outer), Ok(Decoded::Arp(a)) if a.sender_mac == IA));
    }

    fn geneve(version: u8, options: &[u8], proto: u16, vni: u32, p: &[u8]) -> Vec<u8> {
        let mut v = vec![(version << 6) | (options.len() / 4) as u8, 0];
        v.extend_from_slice(&proto.to_be_bytes());
        v.extend_from_slice(&(vni << 8).to_be_bytes());
        v.extend_from_slice(options);
        v.extend_from_slice(p);
        v
    }

    #[test]
    fn geneve_skips_options_by_length() {
        let inner = eth(IB, IA, &[], 0x0800, &inner_udp());
        let opts = [0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd];
        let outer = udp4(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            61000,
            6081,
            &geneve(0, &opts, 0x6558, 77, &inner),
        );
        let p = ip(decode(LinkType::RAW, &outer));
        is_inner_udp(&p);
        assert_eq!(p.tunnel[0].kind, TunnelKind::Geneve);
        assert_eq!(p.tunnel[0].id, Some(77));
        // IPv4 directly (protocol type 0x0800).
        let outer = udp4(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            61000,
            6081,
            &geneve(0, &[], 0x0800, 78, &inner_udp()),
        );
        is_inner_udp(&ip(decode(LinkType::RAW, &outer)));
        // Version 1, or options longer than the datagram: the outer datagram and the fault.
        for g in [
            geneve(1, &[], 0x6558, 1, &inner),
            geneve(0, &opts, 0x6558, 1, &[])[..10].to_vec(),
        ] {
            let outer = udp4([198, 51, 100, 1], [198, 51, 100, 2], 61000, 6081, &g);
            let p = ip(decode(LinkType::RAW, &outer));
            assert_eq!(
                p.tunnel_error.map(|e| e.kind()).as_deref(),
                Some("malformed geneve")
            );
        }
    }

    #[test]
    fn ip_in_ip_in_all_four_combinations() {
        let (o4s, o4d) = ([203, 0, 113, 1], [203, 0, 113, 2]);
        let (o6s, o6d) = (
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        );
        let v4 = inner_udp();
        let v6 = tcp6([0xfd; 16], [0xfc; 16]);
        let frames = [
            ip4(o4s, o4d, 4, &v4),
            ip4(o4s, o4d, 41, &v6),
            ip6(o6s, o6d, 4, &v4),
            ip6(o6s, o6d, 41, &v6),
        ];
        for (i, f) in frames.iter().enumerate() {
            let p = ip(decode(LinkType::RAW, f));
            assert_eq!(p.tunnel.len(), 1);
            assert_eq!(p.tunnel[0].kind, TunnelKind::IpInIp);
            let (outer_src, _) = p.tunnel[0].outer.unwrap();
            assert_eq!(outer_src.is_ipv4(), i < 2);
            if i % 2 == 0 {
                is_inner_udp(&p);
            } else {
                assert!(matches!(p.transport, Transport::Tcp { dst_port: 443, .. }));
                assert_eq!(p.wire_len, v6.len() as u64);
            }
        }
        // Broken inner header: the outer packet (protocol 4), with the fault.
        let p = ip(decode(LinkType::RAW, &ip4(o4s, o4d, 4, &[0x45, 0, 0, 9])));
        assert_eq!(p.protocol, 4);
        assert_eq!(
            p.tunnel_error.map(|e| e.kind()).as_deref(),
            Some("malformed ip-in-ip")
        );
    }

    fn gtp(flags: u8, message: u8, teid: u32, ext: &[u8], p: &[u8]) -> Vec<u8> {
        let mut v = vec![flags, message];
        v.extend_from_slice(&((ext.len() + p.len()) as u16).to_be_bytes());
        v.extend_from_slice(&teid.to_be_bytes());
        v.extend_from_slice(ext);
        v.extend_from_slice(p);
        v
    }

    #[test]
    fn gtp_u_with_extension_headers_and_other_messages() {
        let inner = inner_udp();
        let o = ([10, 200, 0, 1], [10, 200, 0, 2]);
        let plain = gtp(0x30, 0xff, 0xdead, &[], &inner);
        // Sequence number, N-PDU, next type 0x85 (PDU session container, 1 unit), then none.
        let ext = [0, 1, 0, 0x85, 1, 0x10, 9, 0];
        let chained = gtp(0x36, 0xff, 0xbeef, &ext, &inner);
        for (g, teid) in [(plain, 0xdead), (chained, 0xbeef)] {
            let p = ip(decode(LinkType::RAW, &udp4(o.0, o.1, 2152, 2152, &g)));
            is_inner_udp(&p);
            assert_eq!(p.tunnel, vec![layer(TunnelKind::GtpU, Some(o), Some(teid))]);
        }
        // Echo request: no user packet; the outer datagram, no error.
        let echo = gtp(0x32, 1, 0, &[0, 1, 0, 0], &[]);
        let p = ip(decode(LinkType::RAW, &udp4(o.0, o.1, 40000, 2152, &echo)));
        assert!(p.tunnel.is_empty() && p.tunnel_error.is_none());
        // Extension header of length 0, or version 2: the outer datagram and the fault.
        let zero = gtp(0x34, 0xff, 1, &[0, 0, 0, 0x85, 0, 0, 0, 0], &inner);
        for g in [zero, gtp(0x50, 0xff, 1, &[], &inner)] {
            let p = ip(decode(LinkType::RAW, &udp4(o.0, o.1, 2152, 2152, &g)));
            assert_eq!(
                p.tunnel_error.map(|e| e.kind()).as_deref(),
                Some("malformed gtp-u")
            );
        }
    }

    #[test]
    fn nesting_works_and_is_bounded() {
        // Ethernet → VLAN → IPv4 → GRE → ERSPAN II → Ethernet → VLAN → IPv4 → UDP → VXLAN → Ethernet → IP.
        let deepest = eth(IB, IA, &[], 0x0800, &inner_udp());
        let vx = udp4(
            [172, 16, 0, 1],
            [172, 16, 0, 2],
            50000,
            4789,
            &vxlan(9, &deepest),
        );
        let mirrored = eth(B, A, &[(0x8100, 20)], 0x0800, &vx);
        let g = gre(0x1000, 0x88be, &[3], &[&erspan2(5)[..], &mirrored].concat());
        let f = eth(
            B,
            A,
            &[(0x8100, 10)],
            0x0800,
            &ip4([192, 0, 2, 1], [192, 0, 2, 2], 47, &g),
        );
        let p = ip(decode(LinkType::ETHERNET, &f));
        is_inner_udp(&p);
        assert_eq!(p.vlan, vec![10, 20]);
        let kinds: Vec<TunnelKind> = p.tunnel.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [TunnelKind::Gre, TunnelKind::Erspan, TunnelKind::Vxlan]
        );
        // IP-in-IP nested ten deep: eight layers are peeled, the rest is the packet, and the fault says so.
        let mut pkt = inner_udp();
        for _ in 0..10 {
            pkt = ip4([203, 0, 113, 1], [203, 0, 113, 2], 4, &pkt);
        }
        let p = ip(decode(LinkType::RAW, &pkt));
        assert_eq!(p.tunnel.len(), MAX_LAYERS);
        assert_eq!(p.protocol, 4);
        assert_eq!(
            p.tunnel_error.map(|e| e.kind()).as_deref(),
            Some("malformed ip-in-ip")
        );
        // A thousand MPLS labels without a bottom: an error, not a long walk.
        let labels: Vec<u8> = (0..1000).flat_map(|i| label(i, false)).collect();
        let e = decode(LinkType::ETHERNET, &eth(B, A, &[], 0x8847, &labels)).unwrap_err();
        assert_eq!(e.kind(), "malformed mpls");
    }

    #[test]
    fn fragments_inside_a_tunnel_are_reassembled() {
        let mut h = Ipv4Header::new(16, 64, IpNumber::UDP, [10, 1, 0, 1], [10, 1, 0, 2]).unwrap();
        h.identification = 9;
        h.more_fragments = true;
        let mut udp = vec![0x13, 0x88, 0, 53, 0, 24, 0, 0];
        udp.extend_from_slice(&[7; 16]);
        let first = [&h.to_bytes()[..], &udp[..16]].concat();
        h.more_fragments = false;
        h.fragment_offset = etherparse::IpFragOffset::try_new(2).unwrap();
        h.total_len = 28;
        let last = [&h.to_bytes()[..], &udp[16..]].concat();
        let wrap = |ip: &[u8]| {
            udp4(
                [198, 51, 100, 1],
                [198, 51, 100, 2],
                1,
                4789,
                &vxlan(3, &eth(IB, IA, &[], 0x0800, ip)),
            )
        };
        let (fa, fb) = (wrap(&first), wrap(&last));
        let mut d = Decoder::new();
        let mk = |data: &'static [u8]| Frame {
            ts: 1,
            link_type: LinkType::RAW,
            data,
            orig_len: data.len() as u32,
            interface: 0,
        };
        let (fa, fb): (&'static [u8], &'static [u8]) = (fa.leak(), fb.leak());
        assert!(matches!(d.decode(&mk(fa)), Ok(Decoded::FragmentHeld)));
        let p = ip(d.decode(&mk(fb)));
        assert_eq!(p.fragments, 2);
        assert_eq!(p.tunnel.len(), 1);
        assert_eq!(udp_ports(&p), (5000, 53, vec![7; 16]));
    }

    fn flows_of(frames: &[Vec<u8>]) -> Vec<crate::flow::FinishedFlow> {
        let mut d = Decoder::new();
        let mut table = crate::flow::FlowTable::new(crate::flow::FlowSettings::default());
        for (i, f) in frames.iter().enumerate() {
            let frame = Frame {
                ts: 1_000_000_000 + i as u64,
                link_type: LinkType::RAW,
                data: f,
                orig_len: f.len() as u32,
                interface: 0,
            };
            match d.decode(&frame) {
                Ok(Decoded::Ip(p)) => table.add(frame.ts, &p),
                other => panic!("{other:?}"),
            }
        }
        table.end_capture();
        table.take_batch()
    }

    #[test]
    fn the_tunnel_is_part_of_the_flow_identity_in_both_directions() {
        let (vtep1, vtep2) = ([198, 51, 100, 1], [198, 51, 100, 2]);
        let query = udp4([10, 1, 0, 1], [10, 1, 0, 2], 5000, 53, b"q");
        let answer = udp4([10, 1, 0, 2], [10, 1, 0, 1], 53, 5000, b"a");
        let vx = |s, d, vni, inner: &[u8]| {
            udp4(
                s,
                d,
                50000,
                4789,
                &vxlan(vni, &eth(IB, IA, &[], 0x0800, inner)),
            )
        };
        // The same inner conversation in VNIs 1 and 2 is two flows; each answer joins its query.
        let flows = flows_of(&[
            vx(vtep1, vtep2, 1, &query),
            vx(vtep1, vtep2, 2, &query),
            vx(vtep2, vtep1, 1, &answer),
            vx(vtep2, vtep1, 2, &answer),
        ]);
        assert_eq!(flows.len(), 2);
        for f in &flows {
            assert_eq!((f.to_server.packets, f.to_client.packets), (1, 1));
        }
        let vnis: Vec<Option<u32>> = flows.iter().map(|f| f.tunnel[0].id).collect();
        assert_eq!(vnis, [Some(1), Some(2)]);
        // GTP-U: each direction has its own TEID; still one flow. The first packet is the answer
        // (server to client), and the outer addresses are still given as (client side, server side).
        let (enb, sgw) = ([10, 200, 0, 1], [10, 200, 0, 2]);
        let flows = flows_of(&[
            udp4(sgw, enb, 2152, 2152, &gtp(0x30, 0xff, 0x100, &[], &answer)),
            udp4(enb, sgw, 2152, 2152, &gtp(0x30, 0xff, 0x200, &[], &query)),
        ]);
        assert_eq!(flows.len(), 1, "{flows:?}");
        let f = &flows[0];
        assert_eq!(f.client.0.to_string(), "10.1.0.1");
        assert_eq!(f.server.1, 53);
        let outer = f.tunnel[0].outer.unwrap();
        assert_eq!(
            (outer.0.to_string(), outer.1.to_string()),
            ("10.200.0.1".into(), "10.200.0.2".into())
        );
        // Untunnelled, the same 5-tuple is yet another flow.
        assert_eq!(flows_of(&[query.clone(), answer.clone()])[0].tunnel, vec![]);
    }

    #[test]
    fn fuzzed_tunnel_frames_never_panic_and_stay_within_the_depth_bound() {
        let inner = eth(IB, IA, &[(0x8100, 3)], 0x0800, &inner_udp());
        let o = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let seeds = [
            eth(B, A, &[(0x88a8, 1)], 0x8864, &pppoe(1, 0x21, &inner_udp())),
            eth(
                B,
                A,
                &[],
                0x8847,
                &[&label(5, false)[..], &label(6, true), &[0, 0, 0, 0], &inner].concat(),
            ),
            eth(
                B,
                A,
                &[],
                0x0800,
                &ip4(
                    o.0,
                    o.1,
                    47,
                    &gre(
                        0xb000,
                        0x22eb,
                        &[0, 1, 2],
                        &[&erspan3(4, true)[..], &inner].concat(),
                    ),
                ),
            ),
            eth(
                B,
                A,
                &[],
                0x0800,
                &udp4(o.0, o.1, 1, 4789, &vxlan(3, &inner)),
            ),
            eth(
                B,
                A,
                &[],
                0x0800,
                &udp4(
                    o.0,
                    o.1,
                    1,
                    6081,
                    &geneve(0, &[1, 2, 3, 4], 0x6558, 3, &inner),
                ),
            ),
            eth(
                B,
                A,
                &[],
                0x0800,
                &udp4(
                    o.0,
                    o.1,
                    2152,
                    2152,
                    &gtp(0x34, 0xff, 1, &[0, 0, 0, 0x85, 1, 0, 0, 0], &inner_udp()),
                ),
            ),
            eth(
                B,
                A,
                &[],
                0x86dd,
                &ip6(
                    [1; 16],
                    [2; 16],
                    4,
                    &ip4(o.0, o.1, 41, &tcp6([3; 16], [4; 16])),
                ),
            ),
        ];
        let mut rng = crate::decode::testdata::Rng(0x005e_ed70_77e1);
        let mut d = Decoder::new();
        for i in 0..30_000u64 {
            let mut b = seeds[rng.below(seeds.len())].clone();
            for _ in 0..rng.below(4) {
                let at = 14 + rng.below(b.len() - 14);
                b[at] = rng.next() as u8;
            }
            if rng.below(3) == 0 {
                b.truncate(rng.below(b.len() + 1));
            }
            let f = Frame {
                ts: i,
                link_type: LinkType::ETHERNET,
                data: &b,
                orig_len: b.len() as u32,
                interface: 0,
            };
            if let Ok(Decoded::Ip(p)) = d.decode(&f) {
                assert!(p.tunnel.len() <= MAX_LAYERS);
                assert!(p.wire_len <= b.len() as u64);
            }
        }
    }
}
