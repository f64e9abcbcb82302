//! Frame → packet summary: link layer, VLANs, tunnels (see `tunnel`), IP (with fragment reassembly),
//! transport.
//!
//! The flow table only needs addresses, ports, flags and payloads, so each frame is sliced (zero-copy,
//! lax about truncation by the snap length) down to an [`IpPacket`], an [`ArpPacket`] or a counted
//! non-IP frame. IP fragments are held and reassembled, with bounded memory, because a flow's first
//! bytes (a DNS answer, a TLS hello) may well arrive in pieces.

use super::tunnel::{self, TunnelLayer, Unwrapped};
use super::{Frame, LinkType};
use etherparse::defrag::IpDefragPool;
use etherparse::err::Layer;
use etherparse::{
    ArpHardwareId, ArpPacketSlice, EtherType, Ipv6ExtensionSlice, LaxNetSlice, LaxSlicedPacket,
    LinkSlice, NetSlice, SlicedPacket, TcpSlice, TransportSlice, UdpSlice,
};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The transport layer of an IP packet, with its payload.
#[derive(Debug)]
pub enum Transport<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        /// FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80.
        flags: u8,
        payload: Cow<'a, [u8]>,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: Cow<'a, [u8]>,
    },
    /// ICMP (IPv4) or ICMPv6, told apart by `IpPacket::protocol` (1 or 58).
    Icmp {
        icmp_type: u8,
        icmp_code: u8,
        /// Everything after the 4-byte ICMP header.
        payload: Cow<'a, [u8]>,
    },
    /// Any other IP protocol, or a transport header too short to read.
    Other { payload: Cow<'a, [u8]> },
}

/// An IP packet, summarised.
#[derive(Debug)]
pub struct IpPacket<'a> {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    /// VLAN ids, outer first (the tags of an Ethernet frame inside a tunnel come after the outer ones).
    pub vlan: Vec<u16>,
    /// The encapsulations the packet came through, outer first; empty when it was not tunnelled.
    pub tunnel: Vec<TunnelLayer>,
    /// Set when a tunnel header inside this packet was malformed: the packet is then the outer one
    /// (e.g. the UDP datagram that should have carried VXLAN), and the fault is counted separately.
    pub tunnel_error: Option<DecodeError>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub protocol: u8,
    /// Length on the wire of the IP packet (IP header + payload), from the frame's original length minus
    /// the link header; for a reassembled packet, the sum over its fragments.
    pub wire_len: u64,
    /// Number of IP fragments this packet was reassembled from (0 when it was not fragmented).
    pub fragments: u32,
    pub transport: Transport<'a>,
}

/// An ARP (or RARP) packet (Ethernet/IPv4 addresses only).
#[derive(Debug)]
pub struct ArpPacket {
    pub src_mac: Option<[u8; 6]>,
    pub vlan: Vec<u16>,
    /// 1 request, 2 reply (RARP, ether type 0x8035: 3 request, 4 reply).
    pub operation: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: std::net::Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: std::net::Ipv4Addr,
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Ip(IpPacket<'a>),
    Arp(ArpPacket),
    /// An IP fragment that was stored for reassembly; the packet comes out with the last fragment.
    FragmentHeld,
    /// A frame of a protocol the flow table does not track (STP, LLDP, ...); counted, not an error.
    NonIp {
        ether_type: u16,
    },
}

/// IP packets that never reached a flow (fragments of a datagram that never completed, or that could
/// not be reassembled): their addresses, count and size, so that their hosts are still counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unflowed {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Source MAC of the first of them, when the link layer has one.
    pub src_mac: Option<[u8; 6]>,
    /// Frames (fragments).
    pub packets: u64,
    /// Their length on the wire, IP header and payload.
    pub bytes: u64,
    pub first_ts: u64,
    pub last_ts: u64,
}

/// Why a frame could not be decoded; the frame is counted under `kind()` and skipped.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record (0 captured bytes)")]
    EmptyRecord,
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    #[error("malformed {layer} header: {detail}")]
    Malformed { layer: &'static str, detail: String },
    /// An IP fragment that was readable enough to name its addresses but could not join a reassembly
    /// (overlapping or inconsistent pieces, a fragment header cut short).
    #[error("IP fragment could not be reassembled: {detail}")]
    Fragment {
        detail: String,
        packet: Box<Unflowed>,
    },
}

impl DecodeError {
    /// A short stable key for counting errors in the report, e.g. `malformed ipv4`.
    pub fn kind(&self) -> String {
        match self {
            DecodeError::EmptyRecord => "empty record".to_string(),
            DecodeError::UnsupportedLinkType(n) => format!("unsupported link type {n}"),
            DecodeError::Malformed { layer, .. } => format!("malformed {layer}"),
            DecodeError::Fragment { .. } => "ip fragment".to_string(),
        }
    }

    /// The addresses of the skipped packet, when its IP header could be read.
    pub fn unflowed(&self) -> Option<&Unflowed> {
        match self {
            DecodeError::Fragment { packet, .. } => Some(packet),
            _ => None,
        }
    }
}

/// Incomplete reassemblies whose last fragment is older than this (capture time) are dropped.
const FRAGMENT_TIMEOUT_NS: u64 = 30_000_000_000;
/// At most this many reassemblies are in progress at once (each can hold up to 64 KiB).
const MAX_REASSEMBLIES: usize = 512;

/// Reassembly channel: the interface id plus the VLAN ids (count first), so equal IP ids seen on
/// different links or VLANs never mix.
type FragChannel = (u32, [u16; 4]);

/// Identifies one reassembly, the same way etherparse's pool keys it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    channel: FragChannel,
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

/// What the pool does not track: how many pieces arrived, their length on the wire and when.
#[derive(Clone, Copy, Debug, Default)]
struct FragProgress {
    pieces: u32,
    wire_len: u64,
    first_ts: u64,
    last_ts: u64,
    src_mac: Option<[u8; 6]>,
}

impl FragProgress {
    /// The held pieces as packets that never reached a flow.
    fn unflowed(&self, key: &FragKey) -> Unflowed {
        Unflowed {
            src: key.src,
            dst: key.dst,
            src_mac: self.src_mac,
            packets: u64::from(self.pieces),
            bytes: self.wire_len,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
        }
    }
}

/// Decodes frames; keeps the IP fragment reassembly state between frames.
#[derive(Default)]
pub struct Decoder {
    pool: IpDefragPool<u64, FragChannel>,
    progress: FxHashMap<FragKey, FragProgress>,
    dropped: u64,
    /// Reassemblies given up since the caller last took them.
    given_up: Vec<Unflowed>,
}

/// Link-layer addresses of a frame.
#[derive(Clone, Copy, Default)]
pub(super) struct Link {
    pub(super) src_mac: Option<[u8; 6]>,
    pub(super) dst_mac: Option<[u8; 6]>,
}

pub(super) fn malformed(layer: &'static str, detail: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed {
        layer,
        detail: detail.to_string(),
    }
}

/// `ipv4` / `ipv6` from the version nibble, for error keys.
fn ip_layer(bytes: &[u8]) -> &'static str {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => "ipv4",
        Some(6) => "ipv6",
        _ => "ip",
    }
}

/// Byte offset of `inner` within `outer` (both slices of the same frame).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// Ether type as reported for a non-IP frame: 0 for 802.3 length fields.
fn non_ip_type(t: u16) -> u16 {
    if t < 0x0600 { 0 } else { t }
}

fn layer_name(layer: Layer, ether_type: Option<u16>) -> &'static str {
    match layer {
        Layer::Ethernet2Header => "ethernet",
        Layer::LinuxSllHeader => "linux_sll",
        Layer::VlanHeader => "vlan",
        Layer::MacsecHeader | Layer::MacsecPacket => "macsec",
        Layer::Arp => "arp",
        _ => match ether_type {
            Some(0x0800) => "ipv4",
            Some(0x86dd) => "ipv6",
            _ => "ip",
        },
    }
}

fn lax_from_ip(bytes: &[u8]) -> Result<LaxSlicedPacket<'_>, DecodeError> {
    LaxSlicedPacket::from_ip(bytes).map_err(|e| malformed(ip_layer(bytes), e))
}

/// Payload of a Linux cooked capture, by its protocol field; `Err` carries the non-IP ether type.
fn cooked<'a>(arphrd: u16, proto: u16, rest: &'a [u8]) -> Result<LaxSlicedPacket<'a>, u16> {
    // ARPHRD_NETLINK: the protocol field is a netlink family, not an ether type.
    if arphrd == 824 || proto < 0x0600 {
        return Err(0);
    }
    Ok(LaxSlicedPacket::from_ether_type(EtherType(proto), rest))
}

fn tcp_transport<'a>(t: &TcpSlice<'a>) -> Transport<'a> {
    Transport::Tcp {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: t.header_slice().get(13).copied().unwrap_or(0),
        payload: Cow::Borrowed(t.payload()),
    }
}

fn udp_transport<'a>(u: &UdpSlice<'a>) -> Transport<'a> {
    Transport::Udp {
        src_port: u.source_port(),
        dst_port: u.destination_port(),
        payload: Cow::Borrowed(u.payload()),
    }
}

/// ICMP / ICMPv6 (type, code, then everything after the 4-byte header), or `Other`.
fn icmp_or_other(proto: u8, b: &[u8]) -> Transport<'_> {
    if (proto == 1 || proto == 58)
        && let (Some(&icmp_type), Some(&icmp_code), Some(rest)) = (b.first(), b.get(1), b.get(4..))
    {
        return Transport::Icmp {
            icmp_type,
            icmp_code,
            payload: Cow::Borrowed(rest),
        };
    }
    Transport::Other {
        payload: Cow::Borrowed(b),
    }
}

/// Parses the transport from an IP payload.
fn transport_from_bytes(proto: u8, b: &[u8]) -> Transport<'_> {
    match proto {
        6 => match TcpSlice::from_slice(b) {
            Ok(t) => tcp_transport(&t),
            Err(_) => icmp_or_other(proto, b),
        },
        17 => match UdpSlice::from_slice_lax(b) {
            Ok(u) => udp_transport(&u),
            Err(_) => icmp_or_other(proto, b),
        },
        _ => icmp_or_other(proto, b),
    }
}

fn into_owned(t: Transport<'_>) -> Transport<'static> {
    let own = |c: Cow<'_, [u8]>| Cow::Owned(c.into_owned());
    match t {
        Transport::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            payload,
        } => Transport::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            payload: own(payload),
        },
        Transport::Udp {
            src_port,
            dst_port,
            payload,
        } => Transport::Udp {
            src_port,
            dst_port,
            payload: own(payload),
        },
        Transport::Icmp {
            icmp_type,
            icmp_code,
            payload,
        } => Transport::Icmp {
            icmp_type,
            icmp_code,
            payload: own(payload),
        },
        Transport::Other { payload } => Transport::Other {
            payload: own(payload),
        },
    }
}

/// ARP/RARP with Ethernet and IPv4 addresses, else a non-IP frame of `ether_type`.
fn arp_decoded(
    arp: &ArpPacketSlice<'_>,
    link: Link,
    vlan: Vec<u16>,
    ether_type: u16,
) -> Decoded<'static> {
    let hw = arp.hw_addr_type();
    if (hw == ArpHardwareId::ETHERNET || hw == ArpHardwareId(6))
        && arp.proto_addr_type() == EtherType::IPV4
        && let (Ok(sender_mac), Ok(sender_ip), Ok(target_mac), Ok(target_ip)) = (
            <[u8; 6]>::try_from(arp.sender_hw_addr()),
            <[u8; 4]>::try_from(arp.sender_protocol_addr()),
            <[u8; 6]>::try_from(arp.target_hw_addr()),
            <[u8; 4]>::try_from(arp.target_protocol_addr()),
        )
    {
        return Decoded::Arp(ArpPacket {
            src_mac: link.src_mac,
            vlan,
            operation: arp.operation().0,
            sender_mac,
            sender_ip: Ipv4Addr::from(sender_ip),
            target_mac,
            target_ip: Ipv4Addr::from(target_ip),
        });
    }
    Decoded::NonIp { ether_type }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes one frame. Fragments are held until their packet is complete.
    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Result<Decoded<'a>, DecodeError> {
        let data = frame.data;
        if data.is_empty() {
            return Err(DecodeError::EmptyRecord);
        }
        let mut link = Link::default();
        let sliced = match frame.link_type {
            LinkType::ETHERNET => {
                let p =
                    LaxSlicedPacket::from_ethernet(data).map_err(|e| malformed("ethernet", e))?;
                if let Some(LinkSlice::Ethernet2(eth)) = &p.link {
                    link.src_mac = Some(eth.source());
                    link.dst_mac = Some(eth.destination());
                }
                p
            }
            LinkType::LINUX_SLL => {
                // packet type, ARPHRD type, address length, 8 address bytes, protocol.
                let (Some(hdr), Some(rest)) = (data.get(..16), data.get(16..)) else {
                    return Err(malformed(
                        "linux_sll",
                        format!(
                            "frame of {} bytes is shorter than the 16-byte header",
                            data.len()
                        ),
                    ));
                };
                if be16(hdr, 4) == 6 {
                    link.src_mac = hdr.get(6..12).and_then(|m| m.try_into().ok());
                }
                match cooked(be16(hdr, 2), be16(hdr, 14), rest) {
                    Ok(p) => p,
                    Err(ether_type) => return Ok(Decoded::NonIp { ether_type }),
                }
            }
            LinkType::LINUX_SLL2 => {
                // protocol, reserved, interface index, ARPHRD type, packet type, address length,
                // 8 address bytes.
                let (Some(hdr), Some(rest)) = (data.get(..20), data.get(20..)) else {
                    return Err(malformed(
                        "linux_sll2",
                        format!(
                            "frame of {} bytes is shorter than the 20-byte header",
                            data.len()
                        ),
                    ));
                };
                if hdr.get(11) == Some(&6) {
                    link.src_mac = hdr.get(12..18).and_then(|m| m.try_into().ok());
                }
                match cooked(be16(hdr, 8), be16(hdr, 0), rest) {
                    Ok(p) => p,
                    Err(ether_type) => return Ok(Decoded::NonIp { ether_type }),
                }
            }
            LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => lax_from_ip(data)?,
            LinkType::NULL | LinkType::LOOP => {
                let layer = if frame.link_type == LinkType::NULL {
                    "null"
                } else {
                    "loop"
                };
                let (Some(hdr), Some(rest)) = (data.get(..4), data.get(4..)) else {
                    return Err(malformed(
                        layer,
                        format!(
                            "frame of {} bytes is shorter than the 4-byte header",
                            data.len()
                        ),
                    ));
                };
                let hdr: [u8; 4] = hdr.try_into().unwrap_or_default();
                let le = u32::from_le_bytes(hdr);
                // NULL is in the writer's byte order (either); LOOP is always big-endian.
                let family = if frame.link_type == LinkType::NULL && le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(hdr)
                };
                match family {
                    2 | 24 | 28 | 30 => lax_from_ip(rest)?,
                    _ => return Ok(Decoded::NonIp { ether_type: 0 }),
                }
            }
            other => return Err(DecodeError::UnsupportedLinkType(other.0)),
        };
        self.finish(frame, sliced, link)
    }

    fn finish<'a>(
        &mut self,
        frame: &Frame<'a>,
        pkt: LaxSlicedPacket<'a>,
        link: Link,
    ) -> Result<Decoded<'a>, DecodeError> {
        let data = frame.data;
        let peeled = match tunnel::unwrap(pkt, link)? {
            Unwrapped::Packet(p) => p,
            Unwrapped::NonIp(ether_type) => return Ok(Decoded::NonIp { ether_type }),
        };
        let (pkt, link, vlan) = (peeled.pkt, peeled.link, peeled.vlan);
        let (tunnel, tunnel_error) = (peeled.tunnel, peeled.error);
        let (src, dst, ttl, ip_start, payload) = match &pkt.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                (
                    IpAddr::V4(Ipv4Addr::from(h.source())),
                    IpAddr::V4(Ipv4Addr::from(h.destination())),
                    h.ttl(),
                    offset_in(data, h.slice()),
                    v4.payload(),
                )
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                (
                    IpAddr::V6(Ipv6Addr::from(h.source())),
                    IpAddr::V6(Ipv6Addr::from(h.destination())),
                    h.hop_limit(),
                    offset_in(data, h.slice()),
                    v6.payload(),
                )
            }
            Some(LaxNetSlice::Arp(arp)) => return Ok(arp_decoded(arp, link, vlan, 0x0806)),
            None => {
                let ether = pkt.ether_payload();
                let ether_type = ether.as_ref().map(|p| p.ether_type.0);
                if let Some((err, layer)) = &pkt.stop_err {
                    return Err(malformed(layer_name(*layer, ether_type), err));
                }
                if let Some(p) = ether.as_ref().filter(|p| p.ether_type.0 == 0x8035)
                    && let Ok(rarp) = ArpPacketSlice::from_slice(p.payload)
                {
                    return Ok(arp_decoded(&rarp, link, vlan, 0x8035));
                }
                return Ok(Decoded::NonIp {
                    ether_type: non_ip_type(ether_type.unwrap_or(0)),
                });
            }
        };
        let on_wire = u64::from(frame.orig_len).max(data.len() as u64);
        let wire_len = on_wire.saturating_sub(ip_start as u64);
        if payload.fragmented {
            let header = IpHeaderInfo {
                src,
                dst,
                ttl,
                ip_start,
                wire_len,
            };
            return self.reassemble(frame, header, (vlan, tunnel), link);
        }
        let protocol = payload.ip_number.0;
        let transport = match &pkt.transport {
            Some(TransportSlice::Tcp(t)) => tcp_transport(t),
            Some(TransportSlice::Udp(u)) => udp_transport(u),
            _ => icmp_or_other(protocol, payload.payload),
        };
        Ok(Decoded::Ip(IpPacket {
            src_mac: link.src_mac,
            dst_mac: link.dst_mac,
            vlan,
            tunnel,
            tunnel_error,
            src,
            dst,
            ttl,
            protocol,
            wire_len,
            fragments: 0,
            transport,
        }))
    }

    /// Stores a fragment; returns the whole packet when this fragment completes it.
    fn reassemble<'a>(
        &mut self,
        frame: &Frame<'a>,
        ip: IpHeaderInfo,
        (vlan, tunnel): (Vec<u16>, Vec<TunnelLayer>),
        link: Link,
    ) -> Result<Decoded<'a>, DecodeError> {
        let ip_bytes = frame.data.get(ip.ip_start..).unwrap_or_default();
        let invalid = |detail: String| DecodeError::Fragment {
            detail,
            packet: Box::new(Unflowed {
                src: ip.src,
                dst: ip.dst,
                src_mac: link.src_mac,
                packets: 1,
                bytes: ip.wire_len,
                first_ts: frame.ts,
                last_ts: frame.ts,
            }),
        };
        let strict = SlicedPacket::from_ip(ip_bytes)
            .map_err(|e| invalid(format!("fragment cannot be sliced: {e}")))?;
        let mut vlans = [0u16; 4];
        vlans[0] = vlan.len() as u16;
        for (slot, id) in vlans.iter_mut().skip(1).zip(&vlan) {
            *slot = *id;
        }
        let channel = (frame.interface, vlans);
        let (id, proto) = match &strict.net {
            Some(NetSlice::Ipv4(v4)) if v4.header().is_fragmenting_payload() => (
                u32::from(v4.header().identification()),
                v4.payload().ip_number.0,
            ),
            Some(NetSlice::Ipv6(v6)) => {
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    Ipv6ExtensionSlice::Fragment(f) if f.is_fragmenting_payload() => Some(f),
                    _ => None,
                });
                match frag {
                    Some(f) => (f.identification(), v6.payload().ip_number.0),
                    None => return Err(invalid("IPv6 fragment header not readable".into())),
                }
            }
            _ => return Err(invalid("fragment flags not readable".into())),
        };
        let key = FragKey {
            channel,
            src: ip.src,
            dst: ip.dst,
            id,
            proto,
        };
        let now = frame.ts;
        self.expire(now);
        if !self.progress.contains_key(&key) && self.progress.len() >= MAX_REASSEMBLIES {
            self.evict_oldest_half();
        }
        match self.pool.process_sliced_packet(&strict, now, channel) {
            Ok(None) => {
                let p = self.progress.entry(key).or_default();
                if p.pieces == 0 {
                    p.first_ts = now;
                    p.src_mac = link.src_mac;
                }
                p.pieces += 1;
                p.wire_len += ip.wire_len;
                p.last_ts = now;
                Ok(Decoded::FragmentHeld)
            }
            Ok(Some(done)) => {
                let p = self.progress.remove(&key).unwrap_or_default();
                let protocol = done.ip_number.0;
                let transport = into_owned(transport_from_bytes(protocol, &done.payload));
                self.pool.return_buf(done);
                Ok(Decoded::Ip(IpPacket {
                    src_mac: link.src_mac,
                    dst_mac: link.dst_mac,
                    vlan,
                    tunnel,
                    tunnel_error: None,
                    src: ip.src,
                    dst: ip.dst,
                    ttl: ip.ttl,
                    protocol,
                    wire_len: p.wire_len + ip.wire_len,
                    fragments: p.pieces + 1,
                    transport,
                }))
            }
            Err(e) => {
                if let Some(p) = self.progress.get_mut(&key) {
                    p.last_ts = now;
                }
                Err(invalid(e.to_string()))
            }
        }
    }

    /// Drops reassemblies whose last fragment is more than 30 s (capture time) older than `now`.
    fn expire(&mut self, now: u64) {
        let cutoff = now.saturating_sub(FRAGMENT_TIMEOUT_NS);
        if self.progress.values().any(|p| p.last_ts < cutoff) {
            self.give_up(|p| p.last_ts < cutoff);
            self.pool.retain(|t| *t >= cutoff);
        }
    }

    /// Too many reassemblies at once (hostile input): drop the older half.
    fn evict_oldest_half(&mut self) {
        let mut times: Vec<u64> = self.progress.values().map(|p| p.last_ts).collect();
        if times.is_empty() {
            return;
        }
        let mid = times.len() / 2;
        let (_, median, _) = times.select_nth_unstable(mid);
        let median = *median;
        self.give_up(|p| p.last_ts <= median);
        self.pool.retain(|t| *t > median);
    }

    /// Removes the reassemblies `drop` selects and keeps them for [`Decoder::take_given_up`].
    fn give_up(&mut self, drop: impl Fn(&FragProgress) -> bool) {
        let given_up = &mut self.given_up;
        let before = self.progress.len();
        self.progress.retain(|key, p| {
            let keep = !drop(p);
            if !keep && p.pieces > 0 {
                given_up.push(p.unflowed(key));
            }
            keep
        });
        self.dropped += (before - self.progress.len()) as u64;
    }

    /// The end of the capture: every reassembly still waiting is given up.
    pub fn end_capture(&mut self) {
        self.give_up(|_| true);
        self.pool.retain(|_| false);
    }

    /// The reassemblies given up (timed out, evicted, or left at the end of the capture) since the last
    /// call, ordered by their first fragment's time: their fragments never reached a flow.
    pub fn take_given_up(&mut self) -> Vec<Unflowed> {
        let mut v = std::mem::take(&mut self.given_up);
        v.sort_by_key(|u| (u.first_ts, u.src, u.dst));
        v
    }

    /// Reassemblies still waiting for fragments.
    pub fn pending_fragments(&self) -> usize {
        self.progress.len()
    }

    /// Incomplete reassemblies given up so far (timed out, or evicted to bound memory).
    pub fn dropped_reassemblies(&self) -> u64 {
        self.dropped
    }
}

/// The IP header facts of a fragment that reassembly needs.
struct IpHeaderInfo {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_start: usize,
    wire_len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CaptureReader;
    use crate::decode::testdata::{self, Rng};
    use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder};
    use std::collections::BTreeSet;

    /// An owned summary of a decode result, so the reader can move on.
    #[derive(Debug, Clone, PartialEq)]
    enum Sum {
        Ip {
            src: IpAddr,
            dst: IpAddr,
            src_mac: Option<[u8; 6]>,
            dst_mac: Option<[u8; 6]>,
            vlan: Vec<u16>,
            ttl: u8,
            protocol: u8,
            wire_len: u64,
            fragments: u32,
            t: TSum,
        },
        Arp {
            src_mac: Option<[u8; 6]>,
            vlan: Vec<u16>,
            op: u16,
            sender_mac: [u8; 6],
            sender_ip: Ipv4Addr,
            target_ip: Ipv4Addr,
        },
        Held,
        NonIp(u16),
        Err(String),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum TSum {
        Tcp(u16, u16, u8, Vec<u8>),
        Udp(u16, u16, Vec<u8>),
        Icmp(u8, u8, Vec<u8>),
        Other(Vec<u8>),
    }

    fn summarize(r: Result<Decoded<'_>, DecodeError>) -> Sum {
        match r {
            Ok(Decoded::Ip(p)) => Sum::Ip {
                src: p.src,
                dst: p.dst,
                src_mac: p.src_mac,
                dst_mac: p.dst_mac,
                vlan: p.vlan,
                ttl: p.ttl,
                protocol: p.protocol,
                wire_len: p.wire_len,
                fragments: p.fragments,
                t: match p.transport {
                    Transport::Tcp {
                        src_port,
                        dst_port,
                        flags,
                        payload,
                        ..
                    } => TSum::Tcp(src_port, dst_port, flags, payload.into_owned()),
                    Transport::Udp {
                        src_port,
                        dst_port,
                        payload,
                    } => TSum::Udp(src_port, dst_port, payload.into_owned()),
                    Transport::Icmp {
                        icmp_type,
                        icmp_code,
                        payload,
                    } => TSum::Icmp(icmp_type, icmp_code, payload.into_owned()),
                    Transport::Other { payload } => TSum::Other(payload.into_owned()),
                },
            },
            Ok(Decoded::Arp(a)) => Sum::Arp {
                src_mac: a.src_mac,
                vlan: a.vlan,
                op: a.operation,
                sender_mac: a.sender_mac,
                sender_ip: a.sender_ip,
                target_ip: a.target_ip,
            },
            Ok(Decoded::FragmentHeld) => Sum::Held,
            Ok(Decoded::NonIp { ether_type }) => Sum::NonIp(ether_type),
            Err(e) => Sum::Err(e.kind()),
        }
    }

    /// Decodes a whole capture; also returns each frame's (orig_len, captured length).
    fn decode_file(name: &str) -> (Vec<Sum>, Vec<(u32, usize)>, Decoder) {
        let mut r = CaptureReader::open(&testdata::path(name)).unwrap();
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let mut lens = Vec::new();
        while let Some(f) = r.next_frame() {
            let Ok(f) = f else { break };
            lens.push((f.orig_len, f.data.len()));
            out.push(summarize(d.decode(&f)));
        }
        (out, lens, d)
    }

    fn frame(link_type: LinkType, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: 1_000_000_000,
            link_type,
            data,
            orig_len: data.len() as u32,
            interface: 0,
        }
    }

    fn decode_one(link_type: LinkType, data: &[u8]) -> Sum {
        summarize(Decoder::new().decode(&frame(link_type, data)))
    }

    fn mac(s: &str) -> [u8; 6] {
        let v: Vec<u8> = s
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    fn strings(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    fn ports(v: &serde_json::Value) -> BTreeSet<u16> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect()
    }

    #[test]
    fn real_captures_match_tshark_facts() {
        let exp = testdata::expectations();
        for name in testdata::captures() {
            let e = &exp[&name];
            let (sums, _, _) = decode_file(&name);
            let (mut hosts, mut tcp, mut udp, mut macs, mut vlans) = (
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
            );
            let (mut arp, mut icmp, mut icmp6) = (0u64, 0u64, 0u64);
            for s in &sums {
                match s {
                    Sum::Ip {
                        src,
                        dst,
                        src_mac,
                        vlan,
                        protocol,
                        t,
                        ..
                    } => {
                        hosts.insert(src.to_string());
                        hosts.insert(dst.to_string());
                        macs.extend(*src_mac);
                        vlans.extend(vlan.iter().map(|v| v.to_string()));
                        match t {
                            TSum::Tcp(a, b, ..) => {
                                tcp.insert(*a);
                                tcp.insert(*b);
                            }
                            TSum::Udp(a, b, _) => {
                                udp.insert(*a);
                                udp.insert(*b);
                            }
                            TSum::Icmp(..) if *protocol == 1 => icmp += 1,
                            TSum::Icmp(..) => icmp6 += 1,
                            TSum::Other(_) => {}
                        }
                    }
                    Sum::Arp { src_mac, vlan, .. } => {
                        arp += 1;
                        macs.extend(*src_mac);
                        vlans.extend(vlan.iter().map(|v| v.to_string()));
                    }
                    Sum::Err(k) => panic!("{name}: decode error {k}"),
                    Sum::Held | Sum::NonIp(_) => {}
                }
            }
            assert_eq!(hosts, strings(&e["ip_hosts"]), "{name}: IP hosts");
            assert_eq!(tcp, ports(&e["tcp_ports_seen"]), "{name}: TCP ports");
            // tshark also counts ports quoted inside ICMP errors; the outer ones must all be there.
            let want_udp = ports(&e["udp_ports_seen"]);
            assert!(udp.is_subset(&want_udp), "{name}: UDP ports {udp:?}");
            if name != "icmpv6_nd_echo_mixed.pcap" {
                assert_eq!(udp, want_udp, "{name}: UDP ports");
            }
            assert_eq!(arp, e["arp_packets"].as_u64().unwrap(), "{name}: ARP");
            assert_eq!(icmp, e["icmp_packets"].as_u64().unwrap(), "{name}: ICMP");
            assert_eq!(
                icmp6,
                e["icmpv6_packets"].as_u64().unwrap(),
                "{name}: ICMPv6"
            );
            let want_vlans: BTreeSet<String> = e["vlan_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            assert_eq!(vlans, want_vlans, "{name}: VLAN ids");
            // Unicast source MACs of IP/ARP frames (STP and other non-IP frames carry none here).
            let want_macs: BTreeSet<[u8; 6]> = e["source_mac_vendors"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| mac(k))
                .collect();
            let unicast: BTreeSet<[u8; 6]> = macs.into_iter().filter(|m| m[0] & 1 == 0).collect();
            assert!(unicast.is_subset(&want_macs), "{name}: MACs {unicast:x?}");
            if name != "http_wikipedia_browsing.pcap" {
                assert_eq!(unicast, want_macs, "{name}: MACs");
            }
        }
    }

    #[test]
    fn http_get_is_one_tcp_connection_with_macs_and_wire_lengths() {
        let (sums, lens, _) = decode_file("http_get_bro_org.pcap");
        assert_eq!(sums.len(), 14);
        for (s, (orig, _)) in sums.iter().zip(&lens) {
            let Sum::Ip {
                wire_len,
                protocol,
                src_mac,
                dst_mac,
                fragments,
                ..
            } = s
            else {
                panic!("{s:?}")
            };
            assert_eq!(*wire_len, u64::from(*orig) - 14);
            assert_eq!(*protocol, 6);
            assert_eq!(*fragments, 0);
            assert!(src_mac.is_some() && dst_mac.is_some());
        }
        let Sum::Ip {
            src,
            dst,
            t,
            src_mac,
            ..
        } = &sums[0]
        else {
            panic!()
        };
        assert_eq!(src.to_string(), "141.142.228.5");
        assert_eq!(dst.to_string(), "192.150.187.43");
        assert_eq!(*src_mac, Some(mac("c8:bc:c8:96:d2:a0")));
        assert!(
            matches!(t, TSum::Tcp(59856, 80, 0x02, p) if p.is_empty()),
            "{t:?}"
        );
        // The GET request carries the HTTP payload, trimmed to the IP length.
        let get = sums.iter().find_map(|s| match s {
            Sum::Ip {
                t: TSum::Tcp(_, 80, _, p),
                ..
            } if p.starts_with(b"GET ") => Some(p.clone()),
            _ => None,
        });
        let get = get.expect("a GET request");
        assert!(get.windows(13).any(|w| w == b"Host: bro.org"));
    }

    #[test]
    fn vlan_ids_are_recorded() {
        let (sums, lens, _) = decode_file("vlan_8021q_icmp_arp.pcap");
        assert_eq!(sums.len(), 15);
        let mut arps = 0;
        for (s, (orig, _)) in sums.iter().zip(&lens) {
            match s {
                Sum::Ip { vlan, wire_len, .. } => {
                    assert_eq!(vlan, &vec![123]);
                    assert_eq!(*wire_len, u64::from(*orig) - 18, "Ethernet + one tag");
                }
                Sum::Arp { vlan, .. } => {
                    arps += 1;
                    assert_eq!(vlan, &vec![123]);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(arps, 6);
    }

    #[test]
    fn ipv4_fragments_are_reassembled() {
        let (sums, lens, d) = decode_file("ipv4_fragmented_icmp_echo.pcap");
        assert_eq!(sums.len(), 3);
        assert_eq!(sums[0], Sum::Held);
        let Sum::Ip {
            fragments,
            wire_len,
            protocol,
            t: TSum::Icmp(8, 0, request),
            src,
            ..
        } = &sums[1]
        else {
            panic!("{:?}", sums[1])
        };
        assert_eq!(*fragments, 2);
        assert_eq!(*protocol, 1);
        assert_eq!(src.to_string(), "2.1.1.2");
        let expected_wire = u64::from(lens[0].0 - 14) + u64::from(lens[1].0 - 14);
        assert_eq!(*wire_len, expected_wire);
        assert_eq!(*wire_len, 1448);
        // 976 + 432 ICMP bytes, minus the 4-byte header.
        assert_eq!(request.len(), 1404);
        let Sum::Ip {
            fragments: 0,
            t: TSum::Icmp(0, 0, reply),
            ..
        } = &sums[2]
        else {
            panic!("{:?}", sums[2])
        };
        // The echo reply repeats the request's identifier, sequence and data.
        assert_eq!(reply, request);
        assert_eq!(d.pending_fragments(), 0);
    }

    #[test]
    fn ipv6_fragments_are_reassembled() {
        let (sums, lens, d) = decode_file("ipv6_fragmented_dns.pcap");
        assert_eq!(sums.len(), 8);
        // Frame 4 is the last piece of a packet whose other pieces were not captured.
        assert_eq!(sums[3], Sum::Held);
        assert_eq!(sums[5], Sum::Held);
        assert_eq!(sums[6], Sum::Held);
        let Sum::Ip {
            fragments,
            wire_len,
            protocol,
            t: TSum::Udp(53, client_port, answer),
            ..
        } = &sums[7]
        else {
            panic!("{:?}", sums[7])
        };
        assert_eq!(*fragments, 3);
        assert_eq!(*protocol, 17);
        let expected: u64 = lens[5..8].iter().map(|(o, _)| u64::from(*o) - 14).sum();
        assert_eq!(*wire_len, expected);
        // The answer belongs to the query in frame 5: same port and DNS id.
        let Sum::Ip {
            t: TSum::Udp(qport, 53, query),
            ..
        } = &sums[4]
        else {
            panic!("{:?}", sums[4])
        };
        assert_eq!(qport, client_port);
        assert_eq!(answer[..2], query[..2]);
        // 3 pieces: 1432 + 1432 + 374 payload bytes, minus the UDP header.
        assert_eq!(answer.len(), 1432 + 1432 + 374 - 8);
        assert_eq!(d.pending_fragments(), 1);
        for s in [&sums[0], &sums[1], &sums[2], &sums[4]] {
            assert!(matches!(s, Sum::Ip { fragments: 0, .. }), "{s:?}");
        }
    }

    #[test]
    fn arp_requests_and_replies() {
        let (sums, _, _) = decode_file("arp_request_reply_ping.pcap");
        let arps: Vec<&Sum> = sums
            .iter()
            .filter(|s| matches!(s, Sum::Arp { .. }))
            .collect();
        assert_eq!(arps.len(), 4);
        let ops: Vec<u16> = arps
            .iter()
            .map(|s| match s {
                Sum::Arp { op, .. } => *op,
                _ => 0,
            })
            .collect();
        assert_eq!(ops.iter().filter(|o| **o == 1).count(), 2);
        assert_eq!(ops.iter().filter(|o| **o == 2).count(), 2);
        for s in arps {
            let Sum::Arp {
                src_mac,
                sender_mac,
                sender_ip,
                target_ip,
                ..
            } = s
            else {
                unreachable!()
            };
            assert_eq!(src_mac.as_ref(), Some(sender_mac));
            let pair = [sender_ip.to_string(), target_ip.to_string()];
            assert!(
                pair.contains(&"10.10.10.1".to_string())
                    && pair.contains(&"10.10.10.2".to_string())
            );
        }
    }

    #[test]
    fn linux_sll2_frames() {
        let (sums, lens, _) = decode_file("linux_sll2_icmp_icmpv6_arp.pcap");
        assert_eq!(sums.len(), 6);
        let zero = Some([0u8; 6]);
        let Sum::Ip {
            src,
            src_mac,
            t: TSum::Icmp(8, 0, _),
            wire_len,
            ..
        } = &sums[0]
        else {
            panic!("{:?}", sums[0])
        };
        assert_eq!(src.to_string(), "192.0.2.1");
        assert_eq!(*src_mac, zero);
        assert_eq!(*wire_len, u64::from(lens[0].0) - 20);
        assert!(matches!(
            &sums[1],
            Sum::Ip {
                t: TSum::Icmp(0, 0, _),
                ..
            }
        ));
        assert!(matches!(
            &sums[2],
            Sum::Ip {
                protocol: 58,
                t: TSum::Icmp(128, 0, _),
                ..
            }
        ));
        assert!(matches!(
            &sums[3],
            Sum::Ip {
                protocol: 58,
                t: TSum::Icmp(129, 0, _),
                ..
            }
        ));
        let host = mac("8e:36:06:44:ac:af");
        assert!(
            matches!(&sums[4], Sum::Arp { op: 1, src_mac: Some(m), sender_mac, .. } if *m == host && *sender_mac == host),
            "{:?}",
            sums[4]
        );
        // RARP request (ether type 0x8035) is reported as ARP operation 3, as tshark counts it.
        assert!(matches!(&sums[5], Sum::Arp { op: 3, .. }), "{:?}", sums[5]);
    }

    #[test]
    fn linux_sll_tcp_handshake() {
        let (sums, lens, _) = decode_file("nanosecond_linux_sll_tcp_handshake.pcap");
        let flags: Vec<u8> = sums
            .iter()
            .map(|s| match s {
                Sum::Ip {
                    t: TSum::Tcp(_, _, f, _),
                    src_mac: None,
                    ..
                } => *f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(flags, vec![0x02, 0x12, 0x10]);
        let Sum::Ip { wire_len, dst, .. } = &sums[0] else {
            unreachable!()
        };
        assert_eq!(*wire_len, u64::from(lens[0].0) - 16);
        assert_eq!(dst.to_string(), "137.116.81.94");
    }

    fn udp_v4() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut v, b"hello")
            .unwrap();
        v
    }

    fn tcp_v6() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv6([0xfe; 16], [0x20; 16], 7)
            .tcp(1234, 443, 99, 1000)
            .syn()
            .write(&mut v, b"")
            .unwrap();
        v
    }

    fn expect_udp(s: &Sum, wire: u64) {
        match s {
            Sum::Ip {
                src,
                t: TSum::Udp(5353, 53, p),
                ttl: 64,
                wire_len,
                src_mac: None,
                ..
            } => {
                assert_eq!(src.to_string(), "10.0.0.1");
                assert_eq!(p, b"hello");
                assert_eq!(*wire_len, wire);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_loop_raw_and_ip_link_types() {
        let v4 = udp_v4();
        let v6 = tcp_v6();
        let n = v4.len() as u64;
        let with = |hdr: [u8; 4], ip: &[u8]| [&hdr[..], ip].concat();
        // NULL: address family in the writer's byte order, either one.
        expect_udp(
            &decode_one(LinkType::NULL, &with(2u32.to_le_bytes(), &v4)),
            n,
        );
        expect_udp(
            &decode_one(LinkType::NULL, &with(2u32.to_be_bytes(), &v4)),
            n,
        );
        for af in [24u32, 28, 30] {
            let s = decode_one(LinkType::NULL, &with(af.to_le_bytes(), &v6));
            assert!(
                matches!(
                    s,
                    Sum::Ip {
                        t: TSum::Tcp(1234, 443, 0x02, _),
                        ttl: 7,
                        ..
                    }
                ),
                "{s:?}"
            );
            let s = decode_one(LinkType::NULL, &with(af.to_be_bytes(), &v6));
            assert!(matches!(s, Sum::Ip { protocol: 6, .. }), "{s:?}");
        }
        // LOOP: always big-endian.
        expect_udp(
            &decode_one(LinkType::LOOP, &with(2u32.to_be_bytes(), &v4)),
            n,
        );
        assert_eq!(
            decode_one(LinkType::LOOP, &with(2u32.to_le_bytes(), &v4)),
            Sum::NonIp(0)
        );
        assert_eq!(
            decode_one(LinkType::NULL, &with(7u32.to_le_bytes(), &v4)),
            Sum::NonIp(0)
        );
        assert_eq!(
            decode_one(LinkType::NULL, &[2, 0]),
            Sum::Err("malformed null".into())
        );
        // RAW, IPV4, IPV6: the frame is the IP packet.
        expect_udp(&decode_one(LinkType::RAW, &v4), n);
        expect_udp(&decode_one(LinkType::IPV4, &v4), n);
        let s = decode_one(LinkType::IPV6, &v6);
        assert!(
            matches!(s, Sum::Ip { wire_len, .. } if wire_len == v6.len() as u64),
            "{s:?}"
        );
        let s = decode_one(LinkType::RAW, &v6);
        assert!(
            matches!(
                s,
                Sum::Ip {
                    src: IpAddr::V6(_),
                    ..
                }
            ),
            "{s:?}"
        );
        assert_eq!(
            decode_one(LinkType::RAW, &[0x11; 30]),
            Sum::Err("malformed ip".into())
        );
        assert_eq!(
            decode_one(LinkType::RAW, &v4[..10]),
            Sum::Err("malformed ipv4".into())
        );
        // Anything else is unsupported.
        assert_eq!(
            decode_one(LinkType(147), &v4),
            Sum::Err("unsupported link type 147".into())
        );
    }

    fn ether(
        dst: [u8; 6],
        src: [u8; 6],
        tags: &[(u16, u16)],
        ether_type: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&dst);
        v.extend_from_slice(&src);
        for (tpid, id) in tags {
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
        }
        v.extend_from_slice(&ether_type.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn ethernet_vlans_non_ip_and_truncation() {
        let (a, b) = (mac("00:11:22:33:44:55"), mac("66:77:88:99:aa:bb"));
        let v4 = udp_v4();
        // QinQ: 802.1ad outer tag, 802.1Q inner tag, outer first.
        let f = ether(b, a, &[(0x88a8, 100), (0x8100, 0x2000 | 200)], 0x0800, &v4);
        match decode_one(LinkType::ETHERNET, &f) {
            Sum::Ip {
                vlan,
                src_mac,
                dst_mac,
                wire_len,
                ..
            } => {
                assert_eq!(vlan, vec![100, 200]);
                assert_eq!((src_mac, dst_mac), (Some(a), Some(b)));
                assert_eq!(wire_len, v4.len() as u64);
            }
            other => panic!("{other:?}"),
        }
        // Ethernet padding after a short IP packet is not payload.
        let mut padded = ether(b, a, &[], 0x0800, &v4);
        padded.extend_from_slice(&[0; 12]);
        let mut d = Decoder::new();
        let s = summarize(d.decode(&frame(LinkType::ETHERNET, &padded)));
        assert!(
            matches!(&s, Sum::Ip { t: TSum::Udp(_, _, p), .. } if p == b"hello"),
            "{s:?}"
        );
        // Non-IP frames.
        assert_eq!(
            decode_one(LinkType::ETHERNET, &ether(b, a, &[], 0x88cc, &[0; 30])),
            Sum::NonIp(0x88cc)
        );
        assert_eq!(
            decode_one(LinkType::ETHERNET, &ether(b, a, &[], 38, &[0x42; 38])),
            Sum::NonIp(0)
        );
        assert_eq!(
            decode_one(
                LinkType::ETHERNET,
                &ether(b, a, &[(0x8100, 5)], 0x88cc, &[0; 30])
            ),
            Sum::NonIp(0x88cc)
        );
        // ARP that is not Ethernet/IPv4.
        let mut odd_arp = vec![0, 1, 0x86, 0xdd, 6, 16, 0, 1];
        odd_arp.extend_from_slice(&[0; 44]);
        assert_eq!(
            decode_one(LinkType::ETHERNET, &ether(b, a, &[], 0x0806, &odd_arp)),
            Sum::NonIp(0x0806)
        );
        // Broken headers.
        assert_eq!(
            decode_one(LinkType::ETHERNET, &f[..10]),
            Sum::Err("malformed ethernet".into())
        );
        assert_eq!(
            decode_one(LinkType::ETHERNET, &f[..16]),
            Sum::Err("malformed vlan".into())
        );
        let cut_ip = ether(b, a, &[], 0x0800, &v4[..12]);
        assert_eq!(
            decode_one(LinkType::ETHERNET, &cut_ip),
            Sum::Err("malformed ipv4".into())
        );
        let bad_v6 = ether(b, a, &[], 0x86dd, &[0x60, 0, 0]);
        assert_eq!(
            decode_one(LinkType::ETHERNET, &bad_v6),
            Sum::Err("malformed ipv6".into())
        );
        assert_eq!(
            decode_one(LinkType::ETHERNET, &ether(b, a, &[], 0x0806, &[0, 1])),
            Sum::Err("malformed arp".into())
        );
    }

    #[test]
    fn snap_length_cuts_keep_what_is_there() {
        let mut tcp = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 7, 1000)
            .ack(9)
            .psh()
            .write(&mut tcp, &[0x41; 1000])
            .unwrap();
        let full = tcp.len() as u32;
        let mut d = Decoder::new();
        // Header complete, payload cut to 10 bytes.
        let cut = &tcp[..14 + 20 + 20 + 10];
        let f = Frame {
            orig_len: full,
            ..frame(LinkType::ETHERNET, cut)
        };
        match summarize(d.decode(&f)) {
            Sum::Ip {
                t: TSum::Tcp(40000, 80, 0x18, p),
                wire_len,
                ..
            } => {
                assert_eq!(p, vec![0x41; 10]);
                assert_eq!(wire_len, u64::from(full) - 14);
            }
            other => panic!("{other:?}"),
        }
        // TCP header itself cut: still an IP packet, transport unknown.
        let f = Frame {
            orig_len: full,
            ..frame(LinkType::ETHERNET, &tcp[..14 + 20 + 8])
        };
        match summarize(d.decode(&f)) {
            Sum::Ip {
                protocol: 6,
                t: TSum::Other(p),
                wire_len,
                ..
            } => {
                assert_eq!(p.len(), 8);
                assert_eq!(wire_len, u64::from(full) - 14);
            }
            other => panic!("{other:?}"),
        }
        // ICMP shorter than its 8-byte etherparse header still gives type and code.
        let mut icmp = udp_v4();
        icmp[9] = 1;
        let cut = &icmp[..20 + 6];
        match decode_one(LinkType::RAW, cut) {
            Sum::Ip {
                t: TSum::Icmp(t, c, p),
                ..
            } => assert_eq!((t, c, p.len()), (icmp[20], icmp[21], 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn linux_cooked_headers() {
        let v4 = udp_v4();
        let addr = mac("02:42:ac:11:00:02");
        // SLL: packet type, ARPHRD, address length, 8 address bytes, protocol.
        let mut sll = vec![0, 0, 0, 1, 0, 6];
        sll.extend_from_slice(&addr);
        sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
        sll.extend_from_slice(&v4);
        match decode_one(LinkType::LINUX_SLL, &sll) {
            Sum::Ip {
                src_mac,
                dst_mac,
                wire_len,
                ..
            } => {
                assert_eq!((src_mac, dst_mac), (Some(addr), None));
                assert_eq!(wire_len, v4.len() as u64);
            }
            other => panic!("{other:?}"),
        }
        let mut llc = sll.clone();
        llc[14..16].copy_from_slice(&[0, 4]);
        assert_eq!(decode_one(LinkType::LINUX_SLL, &llc), Sum::NonIp(0));
        assert_eq!(
            decode_one(LinkType::LINUX_SLL, &sll[..15]),
            Sum::Err("malformed linux_sll".into())
        );
        // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
        let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        sll2.extend_from_slice(&addr);
        sll2.extend_from_slice(&[0, 0]);
        let v6 = tcp_v6();
        sll2.extend_from_slice(&v6);
        match decode_one(LinkType::LINUX_SLL2, &sll2) {
            Sum::Ip {
                src_mac,
                wire_len,
                t: TSum::Tcp(1234, 443, 2, _),
                ..
            } => {
                assert_eq!(src_mac, Some(addr));
                assert_eq!(wire_len, v6.len() as u64);
            }
            other => panic!("{other:?}"),
        }
        // Address length 4: no MAC.
        sll2[11] = 4;
        assert!(matches!(
            decode_one(LinkType::LINUX_SLL2, &sll2),
            Sum::Ip { src_mac: None, .. }
        ));
        assert_eq!(
            decode_one(LinkType::LINUX_SLL2, &sll2[..19]),
            Sum::Err("malformed linux_sll2".into())
        );
    }

    /// An IPv4 fragment (RAW link type) of a UDP datagram.
    fn fragment(id: u16, offset_units: u16, more: bool, payload: &[u8]) -> Vec<u8> {
        let mut h = Ipv4Header::new(
            payload.len() as u16,
            64,
            IpNumber::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        )
        .unwrap();
        h.identification = id;
        h.more_fragments = more;
        h.fragment_offset = IpFragOffset::try_new(offset_units).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut v = h.to_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reassembly_is_bounded_in_time_and_count() {
        let mut d = Decoder::new();
        let sec = 1_000_000_000u64;
        let first = fragment(1, 0, true, &[0; 16]);
        let f = Frame {
            ts: sec,
            ..frame(LinkType::RAW, &first)
        };
        assert_eq!(summarize(d.decode(&f)), Sum::Held);
        // 31 s later: the stale reassembly is dropped, its last piece then waits alone.
        let last = fragment(1, 2, false, &[1; 8]);
        let f = Frame {
            ts: 32 * sec,
            ..frame(LinkType::RAW, &last)
        };
        assert_eq!(summarize(d.decode(&f)), Sum::Held);
        assert_eq!(d.dropped_reassemblies(), 1);
        assert_eq!(d.pending_fragments(), 1);
        // Within the timeout a reassembly completes; UDP header 8 bytes + 16 payload bytes.
        let mut udp = vec![0x13, 0x88, 0, 53, 0, 24, 0, 0];
        udp.extend_from_slice(&[7; 16]);
        let a = fragment(2, 0, true, &udp[..16]);
        let b = fragment(2, 2, false, &udp[16..]);
        let fa = Frame {
            ts: 40 * sec,
            ..frame(LinkType::RAW, &a)
        };
        let fb = Frame {
            ts: 41 * sec,
            ..frame(LinkType::RAW, &b)
        };
        assert_eq!(summarize(d.decode(&fb)), Sum::Held);
        match summarize(d.decode(&fa)) {
            Sum::Ip {
                fragments: 2,
                wire_len,
                t: TSum::Udp(5000, 53, p),
                ..
            } => {
                assert_eq!(p, vec![7; 16]);
                assert_eq!(wire_len, (a.len() + b.len()) as u64);
            }
            other => panic!("{other:?}"),
        }
        // A flood of distinct first fragments never holds more than the cap.
        for id in 0..5000u16 {
            let p = fragment(id.wrapping_add(100), 0, true, &[0; 8]);
            let f = Frame {
                ts: 50 * sec,
                ..frame(LinkType::RAW, &p)
            };
            let _ = d.decode(&f);
            assert!(d.pending_fragments() <= MAX_REASSEMBLIES);
        }
        assert!(d.dropped_reassemblies() > 4000);
        // Overlapping ends are reassembly errors, not panics.
        let y1 = fragment(7, 1, false, &[0; 8]);
        let y2 = fragment(7, 3, false, &[0; 8]);
        let fy1 = Frame {
            ts: 60 * sec,
            ..frame(LinkType::RAW, &y1)
        };
        let fy2 = Frame {
            ts: 60 * sec,
            ..frame(LinkType::RAW, &y2)
        };
        assert_eq!(summarize(d.decode(&fy1)), Sum::Held);
        assert_eq!(summarize(d.decode(&fy2)), Sum::Err("ip fragment".into()));
    }

    #[test]
    fn given_up_reassemblies_report_their_addresses_and_fragments() {
        let sec = 1_000_000_000u64;
        let eth = |ip: &[u8]| ether([1; 6], [2; 6], &[], 0x0800, ip);
        let (a, b) = (
            fragment(1, 0, true, &[0; 16]),
            fragment(1, 4, true, &[0; 8]),
        );
        let c = fragment(2, 0, true, &[0; 8]);
        let (fa, fb, fc) = (eth(&a), eth(&b), eth(&c));
        let mut d = Decoder::new();
        for (ts, f) in [(sec, &fa), (2 * sec, &fb)] {
            let f = Frame {
                ts,
                ..frame(LinkType::ETHERNET, f)
            };
            assert_eq!(summarize(d.decode(&f)), Sum::Held);
        }
        assert!(d.take_given_up().is_empty());
        // 38 s after its last piece, datagram 1 is given up when the next fragment arrives.
        let f = Frame {
            ts: 40 * sec,
            ..frame(LinkType::ETHERNET, &fc)
        };
        assert_eq!(summarize(d.decode(&f)), Sum::Held);
        let (src, dst): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let one = Unflowed {
            src,
            dst,
            src_mac: Some([2; 6]),
            packets: 2,
            bytes: (a.len() + b.len()) as u64,
            first_ts: sec,
            last_ts: 2 * sec,
        };
        assert_eq!(d.take_given_up(), vec![one]);
        assert!(d.take_given_up().is_empty(), "taken once");
        // The end of the capture gives up what still waits.
        d.end_capture();
        let left = d.take_given_up();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].packets, left[0].first_ts), (1, 40 * sec));
        assert_eq!(d.pending_fragments(), 0);
        assert_eq!(d.dropped_reassemblies(), 2);
        // A fragment that cannot be reassembled still names its addresses.
        let y1 = fragment(7, 1, false, &[0; 8]);
        let y2 = fragment(7, 3, false, &[0; 8]);
        assert_eq!(summarize(d.decode(&frame(LinkType::RAW, &y1))), Sum::Held);
        let err = d.decode(&frame(LinkType::RAW, &y2)).unwrap_err();
        let u = err.unflowed().expect("addresses of the invalid fragment");
        assert_eq!(
            (u.src, u.dst, u.packets, u.bytes),
            (src, dst, 1, y2.len() as u64)
        );
    }

    #[test]
    fn an_empty_record_is_named_as_such() {
        for link in [LinkType::ETHERNET, LinkType::RAW, LinkType(65535)] {
            assert_eq!(decode_one(link, &[]), Sum::Err("empty record".into()));
        }
    }

    #[test]
    fn fragments_on_different_vlans_do_not_mix() {
        let a = fragment(3, 0, true, &[1; 16]);
        let b = fragment(3, 2, false, &[2; 8]);
        let e = |vid: u16, ip: &[u8]| ether([1; 6], [2; 6], &[(0x8100, vid)], 0x0800, ip);
        let (fa, fb, fb_other) = (e(10, &a), e(10, &b), e(11, &b));
        let mut d = Decoder::new();
        assert_eq!(
            summarize(d.decode(&frame(LinkType::ETHERNET, &fa))),
            Sum::Held
        );
        assert_eq!(
            summarize(d.decode(&frame(LinkType::ETHERNET, &fb_other))),
            Sum::Held
        );
        let s = summarize(d.decode(&frame(LinkType::ETHERNET, &fb)));
        assert!(
            matches!(&s, Sum::Ip { fragments: 2, vlan, .. } if vlan == &vec![10]),
            "{s:?}"
        );
    }

    #[test]
    fn fuzzed_frames_never_panic() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        let links = [
            LinkType::ETHERNET,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType::RAW,
            LinkType::IPV4,
            LinkType::IPV6,
            LinkType::NULL,
            LinkType::LOOP,
            LinkType(12345),
        ];
        // Real frames to mutate.
        let mut seeds: Vec<(LinkType, Vec<u8>)> = Vec::new();
        for name in [
            "http_get_bro_org.pcap",
            "vlan_8021q_icmp_arp.pcap",
            "ipv6_fragmented_dns.pcap",
            "ipv4_fragmented_icmp_echo.pcap",
            "linux_sll2_icmp_icmpv6_arp.pcap",
            "nanosecond_linux_sll_tcp_handshake.pcap",
            "icmpv6_nd_echo_mixed.pcap",
        ] {
            let mut r = CaptureReader::open(&testdata::path(name)).unwrap();
            while let Some(Ok(f)) = r.next_frame() {
                seeds.push((f.link_type, f.data.to_vec()));
            }
        }
        let mut d = Decoder::new();
        for i in 0..40_000u64 {
            let (link, bytes) = if i % 3 == 0 {
                let n = rng.below(120);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                (links[rng.below(links.len())], bytes)
            } else {
                let (link, seed) = &seeds[rng.below(seeds.len())];
                let mut b = seed.clone();
                for _ in 0..rng.below(6) {
                    let at = rng.below(b.len());
                    if let Some(x) = b.get_mut(at) {
                        *x = rng.next() as u8;
                    }
                }
                if rng.below(2) == 0 {
                    let cut = rng.below(b.len() + 1);
                    b.truncate(cut);
                }
                let link = if rng.below(10) == 0 {
                    links[rng.below(links.len())]
                } else {
                    *link
                };
                (link, b)
            };
            let f = Frame {
                ts: i * 1_000_000,
                link_type: link,
                data: &bytes,
                orig_len: rng.next() as u32,
                interface: (i % 2) as u32,
            };
            if let Ok(Decoded::Ip(p)) = d.decode(&f)
                && p.fragments == 0
            {
                assert!(p.wire_len <= u64::from(f.orig_len).max(bytes.len() as u64));
            }
        }
        assert!(d.pending_fragments() <= MAX_REASSEMBLIES);
    }
}
