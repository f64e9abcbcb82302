//! Addresses and raw frame builders (Ethernet + IPv4/IPv6 + TCP/UDP) on top of
//! etherparse's `PacketBuilder`, which computes lengths and checksums.

use std::io;
use std::net::IpAddr;

use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, PacketBuilderStep,
    TcpHeader, TcpOptionElement,
};

use crate::{Capture, invalid};

/// A 48-bit Ethernet MAC address.
pub type Mac = [u8; 6];

/// ff:ff:ff:ff:ff:ff.
pub const BROADCAST_MAC: Mac = [0xff; 6];

/// Parses `"3c:22:fb:01:02:03"` (or with `-`) into a [`Mac`].
pub fn parse_mac(s: &str) -> Option<Mac> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The Ethernet multicast MAC for a multicast IP (01:00:5e:… or 33:33:…),
/// [`BROADCAST_MAC`] for anything else.
pub fn multicast_mac(ip: IpAddr) -> Mac {
    match ip {
        IpAddr::V4(v4) if v4.is_multicast() => {
            let o = v4.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(v6) if v6.is_multicast() => {
            let o = v6.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        _ => BROADCAST_MAC,
    }
}

/// True for addresses that stay on the local link or site: RFC 1918,
/// link-local, loopback, multicast, broadcast, unspecified, IPv6 ULA.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            let s0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (s0 & 0xffc0) == 0xfe80
                || (s0 & 0xfe00) == 0xfc00
        }
    }
}

/// TTL / hop limit seen in the capture for a packet `src → dst`: 255 to
/// link-local multicast (mDNS, RFC 6762), 64 for local senders, 64 minus a
/// few hops (deterministic per address) otherwise.
pub fn ttl_for(src: IpAddr, dst: IpAddr) -> u8 {
    let link_local_multicast = match dst {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] == 0xff02,
    };
    if link_local_multicast {
        return 255;
    }
    if is_local(src) {
        return 64;
    }
    let last = match src {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(v6) => v6.octets()[15],
    };
    64 - 6 - last % 10
}

/// A host: MAC address and IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Host {
    /// Ethernet address (for hosts beyond the router: the router's MAC).
    pub mac: Mac,
    /// IPv4 or IPv6 address.
    pub ip: IpAddr,
}

impl Host {
    /// A host from a MAC and anything convertible to an `IpAddr`.
    pub fn new(mac: Mac, ip: impl Into<IpAddr>) -> Self {
        Host { mac, ip: ip.into() }
    }

    /// This host with a transport port.
    pub fn port(self, port: u16) -> Endpoint {
        Endpoint {
            mac: self.mac,
            ip: self.ip,
            port,
        }
    }
}

impl<I: Into<IpAddr>> From<(Mac, I)> for Host {
    fn from((mac, ip): (Mac, I)) -> Self {
        Host::new(mac, ip)
    }
}

/// One end of a TCP or UDP conversation: MAC, IP address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Ethernet address (for hosts beyond the router: the router's MAC).
    pub mac: Mac,
    /// IPv4 or IPv6 address.
    pub ip: IpAddr,
    /// TCP or UDP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint from a MAC, anything convertible to an `IpAddr`, and a port.
    pub fn new(mac: Mac, ip: impl Into<IpAddr>, port: u16) -> Self {
        Endpoint {
            mac,
            ip: ip.into(),
            port,
        }
    }

    /// The endpoint without its port.
    pub fn host(self) -> Host {
        Host {
            mac: self.mac,
            ip: self.ip,
        }
    }

    /// The same host with another port.
    pub fn with_port(self, port: u16) -> Endpoint {
        Endpoint { port, ..self }
    }
}

impl<I: Into<IpAddr>> From<(Mac, I, u16)> for Endpoint {
    fn from((mac, ip, port): (Mac, I, u16)) -> Self {
        Endpoint::new(mac, ip, port)
    }
}

/// The fields of one TCP segment for [`Capture::push_tcp`].
#[derive(Clone, Debug, Default)]
pub struct TcpSegment<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number; `Some` sets the ACK flag.
    pub ack: Option<u32>,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// PSH flag.
    pub psh: bool,
    /// Receive window.
    pub window: u16,
    /// TCP options (e.g. MSS on SYN).
    pub options: &'a [TcpOptionElement],
    /// Segment payload.
    pub payload: &'a [u8],
}

/// Starts a frame: Ethernet II + IPv4 or IPv6 header with the given next protocol.
pub(crate) fn ip_builder(
    cap: &mut Capture,
    src_mac: Mac,
    dst_mac: Mac,
    src: IpAddr,
    dst: IpAddr,
    protocol: IpNumber,
) -> io::Result<PacketBuilderStep<IpHeaders>> {
    let ttl = ttl_for(src, dst);
    let ip = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h =
                Ipv4Header::new(0, ttl, protocol, s.octets(), d.octets()).map_err(invalid)?;
            h.identification = cap.next_ip_id();
            // Like Linux/Windows: DF on TCP, not on UDP/ICMP.
            h.dont_fragment = protocol == IpNumber::TCP;
            IpHeaders::Ipv4(h, Default::default())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::try_new(u32::from(cap.rng().next_u16()))
                    .map_err(invalid)?,
                payload_length: 0,
                next_header: protocol,
                hop_limit: ttl,
                source: s.octets(),
                destination: d.octets(),
            },
            Default::default(),
        ),
        _ => return Err(invalid(format!("mixed IP versions: {src} -> {dst}"))),
    };
    Ok(PacketBuilder::ethernet2(src_mac, dst_mac).ip(ip))
}

impl Capture {
    /// Appends one UDP datagram `src → dst` at the current time (clock unchanged).
    pub fn push_udp(&mut self, src: Endpoint, dst: Endpoint, payload: &[u8]) -> io::Result<()> {
        let b = ip_builder(self, src.mac, dst.mac, src.ip, dst.ip, IpNumber::UDP)?
            .udp(src.port, dst.port);
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).map_err(invalid)?;
        self.push_frame(out);
        Ok(())
    }

    /// Appends one TCP segment `src → dst` at the current time (clock unchanged).
    pub fn push_tcp(&mut self, src: Endpoint, dst: Endpoint, seg: &TcpSegment) -> io::Result<()> {
        let mut h = TcpHeader::new(src.port, dst.port, seg.seq, seg.window);
        h.syn = seg.syn;
        h.fin = seg.fin;
        h.rst = seg.rst;
        h.psh = seg.psh;
        if let Some(ack) = seg.ack {
            h.ack = true;
            h.acknowledgment_number = ack;
        }
        h.set_options(seg.options).map_err(invalid)?;
        let b = ip_builder(self, src.mac, dst.mac, src.ip, dst.ip, IpNumber::TCP)?.tcp_header(h);
        let mut out = Vec::with_capacity(b.size(seg.payload.len()));
        b.write(&mut out, seg.payload).map_err(invalid)?;
        self.push_frame(out);
        Ok(())
    }
}
