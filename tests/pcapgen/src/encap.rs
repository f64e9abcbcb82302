//! Encapsulations: composable writers that wrap an Ethernet frame or an IP packet in one more layer
//! (VLAN tags, PPPoE, MPLS, GRE, ERSPAN II/III, VXLAN, Geneve, IP-in-IP, GTP-U), and
//! [`Capture::encapsulate`], which replays a conversation built with the other helpers through a
//! tunnel, outer addresses swapped per direction as real tunnel endpoints would.
//!
//! The writers follow the RFCs byte by byte and share nothing with pcapxray's decoder, so the
//! end-to-end tests can check the decoder against tshark on these captures. [`Encap::ALL`] lists one
//! recipe per encapsulation; [`Encap::capture`] writes one small capture for a recipe.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use etherparse::{IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder};

use crate::dns::DnsAnswer;
use crate::frames::Mac;
use crate::{Capture, Endpoint, RecordType, Side, TcpEnd, invalid};

/// The IP packet of an untagged Ethernet frame, without the frame's padding.
pub fn ip_packet(frame: &[u8]) -> io::Result<&[u8]> {
    let ip = frame
        .get(14..)
        .ok_or_else(|| invalid("frame shorter than an Ethernet header"))?;
    let len = match ip.first().map(|b| b >> 4) {
        Some(4) => usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        Some(6) => 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
        _ => return Err(invalid("the frame does not carry an IP packet")),
    };
    ip.get(..len)
        .ok_or_else(|| invalid("IP packet longer than its frame"))
}

/// The source address of an Ethernet frame's IP packet.
fn ip_source(frame: &[u8]) -> io::Result<IpAddr> {
    let ip = ip_packet(frame)?;
    Ok(if ip[0] >> 4 == 4 {
        IpAddr::from(<[u8; 4]>::try_from(&ip[12..16]).map_err(invalid)?)
    } else {
        IpAddr::from(<[u8; 16]>::try_from(&ip[8..24]).map_err(invalid)?)
    })
}

/// Ether type for an IP packet, by its version nibble.
fn ip_ether_type(ip: &[u8]) -> u16 {
    if ip.first().map(|b| b >> 4) == Some(6) {
        0x86dd
    } else {
        0x0800
    }
}

/// An Ethernet II frame.
pub fn ethernet(dst: Mac, src: Mac, ether_type: u16, payload: &[u8]) -> Vec<u8> {
    [&dst[..], &src[..], &ether_type.to_be_bytes(), payload].concat()
}

/// The frame with VLAN tags `(tpid, vlan id)` inserted after its MACs, outer first (0x88a8 then 0x8100
/// for QinQ).
pub fn vlan_tags(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    for (tpid, id) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
    }
    v.extend_from_slice(&frame[12..]);
    v
}

/// PPPoE session stage (RFC 2516, ether type 0x8864): the frame's IP packet behind a PPPoE header and
/// the PPP protocol (0x0021 IPv4, 0x0057 IPv6), same MACs.
pub fn pppoe_session(frame: &[u8], session: u16) -> io::Result<Vec<u8>> {
    let ip = ip_packet(frame)?;
    let ppp = if ip_ether_type(ip) == 0x86dd {
        0x0057u16
    } else {
        0x0021
    };
    let len = u16::try_from(ip.len() + 2).map_err(invalid)?;
    let body = [
        &[0x11, 0x00][..],
        &session.to_be_bytes(),
        &len.to_be_bytes(),
        &ppp.to_be_bytes(),
        ip,
    ]
    .concat();
    Ok(ethernet(mac(frame, 0), mac(frame, 6), 0x8864, &body))
}

fn mac(frame: &[u8], at: usize) -> Mac {
    let mut m = [0; 6];
    m.copy_from_slice(&frame[at..at + 6]);
    m
}

/// An MPLS label stack (RFC 3032), outer first, TTL 64, bottom-of-stack on the last.
pub fn mpls_labels(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let bottom = u32::from(i + 1 == labels.len());
        v.extend_from_slice(&((label << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// The frame's IP packet behind an MPLS label stack (ether type 0x8847), same MACs.
pub fn mpls(frame: &[u8], labels: &[u32]) -> io::Result<Vec<u8>> {
    let ip = ip_packet(frame)?;
    let body = mpls_labels(labels, ip);
    Ok(ethernet(mac(frame, 0), mac(frame, 6), 0x8847, &body))
}

/// An Ethernet pseudowire (RFC 4448): the whole frame behind labels and a zero control word.
pub fn mpls_pseudowire(labels: &[u32], sequence: u16, frame: &[u8]) -> Vec<u8> {
    let cw = [&[0u8, 0][..], &sequence.to_be_bytes()].concat();
    mpls_labels(labels, &[&cw[..], frame].concat())
}

/// An IPv4 or IPv6 packet `src → dst` carrying `payload` as IP protocol `protocol`, TTL 64.
pub fn ip(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(payload.len()).map_err(invalid)?;
    let header = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = Ipv4Header::new(len, 64, IpNumber(protocol), s.octets(), d.octets())
                .map_err(invalid)?;
            h.header_checksum = h.calc_header_checksum();
            h.to_bytes().to_vec()
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Header {
            traffic_class: 0,
            flow_label: Ipv6FlowLabel::ZERO,
            payload_length: len,
            next_header: IpNumber(protocol),
            hop_limit: 64,
            source: s.octets(),
            destination: d.octets(),
        }
        .to_bytes()
        .to_vec(),
        _ => return Err(invalid(format!("mixed IP versions: {src} -> {dst}"))),
    };
    Ok([header, payload.to_vec()].concat())
}

/// A UDP datagram `src:sport → dst:dport` in IPv4 or IPv6, with its checksum.
pub fn udp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> io::Result<Vec<u8>> {
    let b = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => return Err(invalid(format!("mixed IP versions: {src} -> {dst}"))),
    };
    let b = b.udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).map_err(invalid)?;
    Ok(out)
}

/// A GRE header (RFC 2784/2890) with the optional key and sequence number, then `payload` of ether
/// type `protocol`.
pub fn gre(key: Option<u32>, sequence: Option<u32>, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let flags =
        if key.is_some() { 0x2000u16 } else { 0 } | if sequence.is_some() { 0x1000 } else { 0 };
    let mut v = [flags.to_be_bytes(), protocol.to_be_bytes()].concat();
    for x in [key, sequence].into_iter().flatten() {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// An ERSPAN type II header (version 1; session id, VLAN 0, index 1) and the mirrored frame. Goes in GRE
/// with protocol 0x88be and a sequence number.
pub fn erspan2(session: u16, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x10, 0x00];
    v.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// An ERSPAN type III header (version 2; session id, a timestamp, no platform sub-header) and the
/// mirrored frame. Goes in GRE with protocol 0x22eb and a sequence number.
pub fn erspan3(session: u16, timestamp: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x20, 0x00];
    v.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    v.extend_from_slice(&timestamp.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(frame);
    v
}

/// A VXLAN header (RFC 7348, I flag) with `vni` and the inner frame; goes in UDP to port 4789.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// A Geneve header (RFC 8926) with `vni`, the given options (a multiple of 4 bytes) and a payload of
/// protocol type `protocol` (0x6558 Ethernet); goes in UDP to port 6081.
pub fn geneve(vni: u32, options: &[u8], protocol: u16, payload: &[u8]) -> io::Result<Vec<u8>> {
    if !options.len().is_multiple_of(4) || options.len() > 252 {
        return Err(invalid(
            "Geneve options must be a multiple of 4 bytes, at most 252",
        ));
    }
    let mut v = vec![(options.len() / 4) as u8, 0];
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(options);
    v.extend_from_slice(payload);
    Ok(v)
}

/// A GTP-U G-PDU (3GPP TS 29.281) with `teid` carrying an IP packet; with `sequence`, the optional
/// fields and one PDU session container extension header (QFI 9) come first. Goes in UDP port 2152.
pub fn gtp_u(teid: u32, sequence: Option<u16>, ip: &[u8]) -> io::Result<Vec<u8>> {
    let ext = match sequence {
        Some(seq) => [&seq.to_be_bytes()[..], &[0, 0x85, 1, 0x10, 9, 0]].concat(),
        None => Vec::new(),
    };
    let flags = if sequence.is_some() { 0x36 } else { 0x30 };
    let len = u16::try_from(ext.len() + ip.len()).map_err(invalid)?;
    let mut v = vec![flags, 0xff];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&teid.to_be_bytes());
    v.extend_from_slice(&ext);
    v.extend_from_slice(ip);
    Ok(v)
}

/// One side of a tunnel: the MAC and IP address of a tunnel endpoint.
#[derive(Clone, Copy, Debug)]
pub struct TunnelEnd {
    pub mac: Mac,
    pub ip: IpAddr,
}

/// A frame from one tunnel end to the other carrying an IP packet (outer IP + `body` as `protocol`).
fn outer_frame(from: TunnelEnd, to: TunnelEnd, protocol: u8, body: &[u8]) -> io::Result<Vec<u8>> {
    let packet = ip(from.ip, to.ip, protocol, body)?;
    Ok(ethernet(to.mac, from.mac, ip_ether_type(&packet), &packet))
}

/// A UDP frame between tunnel ends.
fn outer_udp(
    from: TunnelEnd,
    to: TunnelEnd,
    sport: u16,
    dport: u16,
    body: &[u8],
) -> io::Result<Vec<u8>> {
    let packet = udp(from.ip, to.ip, sport, dport, body)?;
    Ok(ethernet(to.mac, from.mac, ip_ether_type(&packet), &packet))
}

impl Capture {
    /// Replays the frames of `inner` (a conversation built with the other helpers, starting at this
    /// capture's clock) through `wrap`, which gets each frame and whether it goes client → server
    /// (its IP source is `client`). The clock ends after the last frame.
    pub fn encapsulate(
        &mut self,
        inner: &Capture,
        client: IpAddr,
        mut wrap: impl FnMut(&[u8], bool) -> io::Result<Vec<u8>>,
    ) -> io::Result<()> {
        let mut end = self.now();
        for f in inner.sorted_frames() {
            let to_server = ip_source(&f.data)? == client;
            self.set_time(f.ts);
            self.push_frame(wrap(&f.data, to_server)?);
            end = end.max(f.ts);
        }
        self.set_time(end + Duration::from_millis(5));
        Ok(())
    }
}

/// One encapsulation recipe: a conversation carried through one kind of tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// QinQ (802.1ad 100, 802.1Q 200) + PPPoE session 0x2a: a DNS query and answer naming
    /// `pppoe.example.net`, then an HTTP session to the answered address.
    QinqPppoe,
    /// MPLS labels 1000, 2000 with IPv4 inside: a DNS exchange.
    Mpls,
    /// MPLS label 3000 and an Ethernet pseudowire with control word: a TCP session.
    MplsPseudowire,
    /// GRE with key 77 and IPv4 inside: a DNS exchange.
    GreIp,
    /// GRE Transparent Ethernet Bridging: a TCP session, inner MACs.
    GreEthernet,
    /// GRE + ERSPAN type II (session 100) mirroring a VLAN-tagged frame: a DNS exchange.
    Erspan2,
    /// GRE + ERSPAN type III (session 200): a TCP session.
    Erspan3,
    /// VXLAN VNI 5001: a DNS exchange.
    Vxlan,
    /// Geneve VNI 6001 with one option: a TCP session.
    Geneve,
    /// IPv4 in IPv4: a DNS exchange.
    IpInIp,
    /// IPv6 in IPv4 (6in4): a TCP session over IPv6.
    SixInFour,
    /// IPv4 in IPv6: a DNS exchange.
    FourInSix,
    /// IPv6 in IPv6: a DNS exchange over IPv6.
    SixInSix,
    /// GTP-U with TEIDs 0x1001 (uplink) and 0x2002 (downlink), sequence numbers and an extension header:
    /// a TCP session.
    GtpU,
}

const A_MAC: Mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
const B_MAC: Mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xaa, 0, 0, 0, 0, last))
}

impl Encap {
    /// Every recipe, in a fixed order.
    pub const ALL: [Encap; 14] = [
        Encap::QinqPppoe,
        Encap::Mpls,
        Encap::MplsPseudowire,
        Encap::GreIp,
        Encap::GreEthernet,
        Encap::Erspan2,
        Encap::Erspan3,
        Encap::Vxlan,
        Encap::Geneve,
        Encap::IpInIp,
        Encap::SixInFour,
        Encap::FourInSix,
        Encap::SixInSix,
        Encap::GtpU,
    ];

    /// File-name friendly name, e.g. `qinq-pppoe`.
    pub fn name(self) -> &'static str {
        match self {
            Encap::QinqPppoe => "qinq-pppoe",
            Encap::Mpls => "mpls",
            Encap::MplsPseudowire => "mpls-pseudowire",
            Encap::GreIp => "gre-ip",
            Encap::GreEthernet => "gre-ethernet",
            Encap::Erspan2 => "erspan2",
            Encap::Erspan3 => "erspan3",
            Encap::Vxlan => "vxlan",
            Encap::Geneve => "geneve",
            Encap::IpInIp => "ip-in-ip",
            Encap::SixInFour => "6in4",
            Encap::FourInSix => "4in6",
            Encap::SixInSix => "6in6",
            Encap::GtpU => "gtp-u",
        }
    }

    /// The tunnel's two ends: outer addresses for IP tunnels (IPv6 for 4in6 and 6in6).
    fn ends(self) -> (TunnelEnd, TunnelEnd) {
        let (a, b) = match self {
            Encap::FourInSix | Encap::SixInSix => (v6(1), v6(2)),
            _ => (v4([192, 0, 2, 1]), v4([192, 0, 2, 2])),
        };
        (
            TunnelEnd { mac: A_MAC, ip: a },
            TunnelEnd { mac: B_MAC, ip: b },
        )
    }

    /// Wraps one inner Ethernet frame going client → server (`to_server`) or back.
    pub fn wrap(self, frame: &[u8], to_server: bool) -> io::Result<Vec<u8>> {
        let (a, b) = self.ends();
        let (from, to) = if to_server { (a, b) } else { (b, a) };
        let entropy = 49152 + u16::from(frame[frame.len() - 1]) % 1000;
        match self {
            Encap::QinqPppoe => Ok(vlan_tags(
                &pppoe_session(frame, 0x2a)?,
                &[(0x88a8, 100), (0x8100, 200)],
            )),
            Encap::Mpls => mpls(frame, &[1000, 2000]),
            Encap::MplsPseudowire => Ok(ethernet(
                to.mac,
                from.mac,
                0x8847,
                &mpls_pseudowire(&[3000], 0, frame),
            )),
            Encap::GreIp => outer_frame(
                from,
                to,
                47,
                &gre(Some(77), None, 0x0800, ip_packet(frame)?),
            ),
            Encap::GreEthernet => outer_frame(from, to, 47, &gre(None, None, 0x6558, frame)),
            Encap::Erspan2 => {
                let mirrored = erspan2(100, &vlan_tags(frame, &[(0x8100, 30)]));
                outer_frame(from, to, 47, &gre(None, Some(1), 0x88be, &mirrored))
            }
            Encap::Erspan3 => outer_frame(
                from,
                to,
                47,
                &gre(None, Some(1), 0x22eb, &erspan3(200, 7, frame)),
            ),
            Encap::Vxlan => outer_udp(from, to, entropy, 4789, &vxlan(5001, frame)),
            Encap::Geneve => {
                let option = [0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef];
                outer_udp(
                    from,
                    to,
                    entropy,
                    6081,
                    &geneve(6001, &option, 0x6558, frame)?,
                )
            }
            Encap::IpInIp | Encap::FourInSix => outer_frame(from, to, 4, ip_packet(frame)?),
            Encap::SixInFour | Encap::SixInSix => outer_frame(from, to, 41, ip_packet(frame)?),
            Encap::GtpU => {
                let teid = if to_server { 0x1001 } else { 0x2002 };
                let seq = u16::from(frame[frame.len() - 1]);
                outer_udp(
                    from,
                    to,
                    2152,
                    2152,
                    &gtp_u(teid, Some(seq), ip_packet(frame)?)?,
                )
            }
        }
    }

    /// The inner conversation's client and server: IPv6 for 6in4 and 6in6, IPv4 elsewhere; distinct
    /// per recipe so one capture can hold all of them.
    pub fn inner_ends(self) -> (Endpoint, Endpoint) {
        let n = Encap::ALL.iter().position(|e| *e == self).unwrap_or(0) as u8;
        let cmac = [0x3c, 0x22, 0xfb, 0x10, 0x00, n];
        let smac = [0x00, 0x14, 0x6c, 0x20, 0x00, n];
        match self {
            Encap::SixInFour | Encap::SixInSix => (
                Endpoint::new(
                    cmac,
                    Ipv6Addr::new(0xfd00, 0, 0, u16::from(n), 0, 0, 0, 10),
                    40000 + u16::from(n),
                ),
                Endpoint::new(
                    smac,
                    Ipv6Addr::new(0x2001, 0xdb8, 0xbb, u16::from(n), 0, 0, 0, 53),
                    53,
                ),
            ),
            _ => (
                Endpoint::new(cmac, Ipv4Addr::new(10, 10, n, 10), 40000 + u16::from(n)),
                Endpoint::new(smac, Ipv4Addr::new(10, 20, n, 53), 53),
            ),
        }
    }

    /// Appends this recipe's conversation, through its tunnel, to `cap`.
    pub fn append(self, cap: &mut Capture) -> io::Result<()> {
        let (client, server) = self.inner_ends();
        let mut inner = Capture::with_seed(
            cap.now(),
            0x1200 + Encap::ALL.iter().position(|e| *e == self).unwrap_or(0) as u64,
        );
        let tcp = matches!(
            self,
            Encap::MplsPseudowire
                | Encap::GreEthernet
                | Encap::Erspan3
                | Encap::Geneve
                | Encap::SixInFour
                | Encap::GtpU
        );
        match self {
            Encap::QinqPppoe => {
                let web = Ipv4Addr::new(93, 184, 216, 34);
                inner.dns_query_response(
                    client,
                    server,
                    "pppoe.example.net",
                    RecordType::A,
                    &[DnsAnswer::a("pppoe.example.net", web)],
                )?;
                let site = Endpoint::new(server.mac, web, 80);
                let get = b"GET / HTTP/1.1\r\nHost: pppoe.example.net\r\n\r\n";
                inner.tcp_session(
                    client.with_port(40100),
                    site,
                    &[
                        (Side::Client, get),
                        (Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n"),
                    ],
                    TcpEnd::Fin,
                )?;
            }
            _ if tcp => {
                let server = server.with_port(443);
                inner.tcp_session(
                    client,
                    server,
                    &[(Side::Client, b"hello"), (Side::Server, b"world")],
                    TcpEnd::Fin,
                )?;
            }
            _ => {
                let name = format!("{}.example.net", self.name());
                inner.dns_query_response(
                    client,
                    server,
                    &name,
                    RecordType::A,
                    &[DnsAnswer::a(&name, Ipv4Addr::new(203, 0, 113, 7))],
                )?;
            }
        }
        cap.encapsulate(&inner, client.ip, |frame, to_server| {
            self.wrap(frame, to_server)
        })
    }

    /// A capture holding only this recipe's conversation (deterministic).
    pub fn capture(self) -> io::Result<Capture> {
        let mut cap = Capture::new(1_767_225_600);
        self.append(&mut cap)?;
        Ok(cap)
    }
}

/// One capture with every recipe's conversation, one after the other.
pub fn all() -> io::Result<Capture> {
    let mut cap = Capture::new(1_767_225_600);
    for e in Encap::ALL {
        e.append(&mut cap)?;
    }
    Ok(cap)
}
