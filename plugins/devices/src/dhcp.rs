//! DHCPv4 (UDP 67/68): what a client says about itself when it asks for an address — its host name
//! (option 12), vendor class (60, e.g. `MSFT 5.0`, `android-dhcp-11`), client identifier (61), the
//! address it wants (50) and the options it asks for (55, an OS fingerprint) — and what the server
//! answers (the address it assigns, the router). Messages are parsed with `dhcproto`; this module
//! gathers them per client MAC so the plugin can, at the end, attach them to the address the client
//! ended up with.

use dhcproto::v4::{Decodable, DhcpOption, HType, Message, MessageType, Opcode, OptionCode};
use pcapxray_plugin_sdk::collections::HashMap;
use std::borrow::Cow;
use std::net::Ipv4Addr;

/// DHCP clients remembered.
pub const MAX_CLIENTS: usize = 65_536;
/// Distinct values of one kind kept per client.
const MAX_VALUES: usize = 8;
/// Longest text value kept.
const MAX_CHARS: usize = 255;

/// One DHCP message, reduced to what identifies devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// True for client messages (BOOTREQUEST).
    pub from_client: bool,
    /// The client's hardware address (Ethernet only).
    pub client_mac: Option<u64>,
    /// DHCP message type number and name: `DISCOVER`, `OFFER`, `REQUEST`, `ACK`, ...
    pub message_type: Option<(u8, String)>,
    /// `ciaddr`, when set.
    pub ciaddr: Option<Ipv4Addr>,
    /// `yiaddr`, when set.
    pub yiaddr: Option<Ipv4Addr>,
    /// Option 12.
    pub hostname: Option<String>,
    /// Option 60.
    pub vendor_class: Option<String>,
    /// Option 50.
    pub requested: Option<Ipv4Addr>,
    /// Option 61, as colon-separated hex.
    pub client_id: Option<String>,
    /// Option 55, the option codes asked for, in order.
    pub parameter_list: Vec<u8>,
    /// Option 3 (server messages).
    pub routers: Vec<Ipv4Addr>,
}

/// Text from the wire: printable ASCII and non-ASCII letters kept, control characters escaped, cut.
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(64)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn message_type_name(t: MessageType) -> String {
    match t {
        MessageType::Discover => "DISCOVER".into(),
        MessageType::Offer => "OFFER".into(),
        MessageType::Request => "REQUEST".into(),
        MessageType::Decline => "DECLINE".into(),
        MessageType::Ack => "ACK".into(),
        MessageType::Nak => "NAK".into(),
        MessageType::Release => "RELEASE".into(),
        MessageType::Inform => "INFORM".into(),
        other => format!("TYPE{}", u8::from(other)),
    }
}

fn set(ip: Ipv4Addr) -> Option<Ipv4Addr> {
    (!ip.is_unspecified()).then_some(ip)
}

/// True for an option dhcproto 0.15 reads with a fixed length when `len` is not that length: it
/// `debug_assert!`s those lengths (a panic in debug builds) and otherwise misreads the option or
/// stops reading every option after it.
fn misfit(code: u8, len: usize) -> bool {
    match code {
        80 => len != 0,        // rapid commit
        81 => len < 3,         // client FQDN: flags and two rcodes, then the name
        94 => len != 3,        // client network interface identifier
        152..=155 => len != 4, // bulk lease query times
        _ => false,
    }
}

/// The datagram without its options of a wrong fixed length (see [`misfit`]), so the options around
/// them are still read. Consecutive options with one code count as one (RFC 3396), as dhcproto reads
/// them.
fn without_misfit_options(bytes: &[u8]) -> Cow<'_, [u8]> {
    const OPTIONS: usize = 240;
    let mut out = bytes[..OPTIONS.min(bytes.len())].to_vec();
    let mut i = OPTIONS;
    let mut dropped = false;
    while let Some(&code) = bytes.get(i) {
        if code == 0 || code == 255 {
            // Pad is one byte; everything from End on is kept as it is.
            let end = if code == 0 { i + 1 } else { bytes.len() };
            out.extend_from_slice(&bytes[i..end]);
            i = end;
            continue;
        }
        let start = i;
        let mut len = 0;
        while bytes.get(i) == Some(&code) {
            let part = bytes.get(i + 1).map_or(0, |&n| usize::from(n));
            len += part;
            i += 2 + part;
        }
        if misfit(code, len) {
            dropped = true;
        } else {
            out.extend_from_slice(&bytes[start..i.min(bytes.len())]);
        }
    }
    if dropped {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    }
}

/// Parses one DHCPv4 datagram. `None` for anything that is not one (BOOTP without the DHCP magic
/// cookie included).
pub fn parse(bytes: &[u8]) -> Option<Summary> {
    // dhcproto does not check the magic cookie, and it slices `chaddr` by `hlen` (which must not
    // exceed 16): both are checked here first.
    if bytes.get(236..240) != Some(&[99, 130, 83, 99]) || *bytes.get(2)? > 16 {
        return None;
    }
    let message = Message::from_bytes(&without_misfit_options(bytes)).ok()?;
    let from_client = match message.opcode() {
        Opcode::BootRequest => true,
        Opcode::BootReply => false,
        Opcode::Unknown(_) => return None,
    };
    let client_mac = (message.htype() == HType::Eth && message.hlen() == 6)
        .then(|| {
            message
                .chaddr()
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        })
        .filter(|&m| m != 0);
    let opts = message.opts();
    let mut summary = Summary {
        from_client,
        client_mac,
        message_type: opts.msg_type().map(|t| (u8::from(t), message_type_name(t))),
        ciaddr: set(message.ciaddr()),
        yiaddr: set(message.yiaddr()),
        ..Summary::default()
    };
    if let Some(DhcpOption::Hostname(name)) = opts.get(OptionCode::Hostname) {
        summary.hostname = Some(printable(name)).filter(|s| !s.is_empty());
    }
    if let Some(DhcpOption::ClassIdentifier(bytes)) = opts.get(OptionCode::ClassIdentifier) {
        summary.vendor_class =
            Some(printable(&String::from_utf8_lossy(bytes))).filter(|s| !s.is_empty());
    }
    if let Some(DhcpOption::RequestedIpAddress(ip)) = opts.get(OptionCode::RequestedIpAddress) {
        summary.requested = set(*ip);
    }
    if let Some(DhcpOption::ClientIdentifier(bytes)) = opts.get(OptionCode::ClientIdentifier) {
        summary.client_id = Some(hex(bytes)).filter(|s| !s.is_empty());
    }
    if let Some(DhcpOption::ParameterRequestList(codes)) =
        opts.get(OptionCode::ParameterRequestList)
    {
        summary.parameter_list = codes.iter().map(|c| u8::from(*c)).collect();
    }
    if let Some(DhcpOption::Router(routers)) = opts.get(OptionCode::Router) {
        summary.routers = routers
            .iter()
            .copied()
            .filter(|r| set(*r).is_some())
            .collect();
    }
    Some(summary)
}

/// Everything seen about one client (by MAC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// Host names it sent (option 12).
    pub hostnames: Vec<String>,
    /// Vendor classes it sent (option 60).
    pub vendor_classes: Vec<String>,
    /// Addresses it asked for (option 50).
    pub requested: Vec<Ipv4Addr>,
    /// Client identifiers it sent (option 61).
    pub client_ids: Vec<String>,
    /// The last parameter request list it sent (option 55).
    pub parameter_list: Vec<u8>,
    /// Message types seen for it, from both sides, by type number (the order flows end in is not
    /// the order messages were sent in).
    pub message_types: Vec<(u8, String)>,
    /// The address the last ACK gave it.
    pub acked: Option<Ipv4Addr>,
    /// The address it said it already had (`ciaddr`).
    pub ciaddr: Option<Ipv4Addr>,
    /// The IP TTL of its messages (its stack's default).
    pub ttl: Option<u8>,
}

fn push<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) && list.len() < MAX_VALUES {
        list.push(item);
    }
}

impl Client {
    /// The address the client ended up with: the last ACK's, else the last one it asked for, else
    /// the one it said it had.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.acked
            .or_else(|| self.requested.last().copied())
            .or(self.ciaddr)
    }
}

/// DHCP clients by MAC, and the routers DHCP servers named.
#[derive(Debug, Default)]
pub struct Clients {
    /// Clients by MAC.
    pub by_mac: HashMap<u64, Client>,
    /// Addresses servers sent in option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Addresses that answered as DHCP servers.
    pub servers: Vec<Ipv4Addr>,
    /// Messages of clients past [`MAX_CLIENTS`], not kept.
    pub dropped: u64,
}

impl Clients {
    /// Adds one message; `ttl` is the IP TTL it was sent with, `sender` its source address.
    pub fn add(&mut self, m: &Summary, ttl: u8, sender: Option<Ipv4Addr>) {
        if !m.from_client {
            for r in &m.routers {
                push(&mut self.routers, *r);
            }
            if let Some(s) = sender.and_then(set) {
                push(&mut self.servers, s);
            }
        }
        let Some(mac) = m.client_mac else {
            return;
        };
        if !self.by_mac.contains_key(&mac) && self.by_mac.len() >= MAX_CLIENTS {
            self.dropped += 1;
            return;
        }
        let c = self.by_mac.entry(mac).or_default();
        if let Some(t) = &m.message_type
            && !c.message_types.contains(t)
        {
            c.message_types.push(t.clone());
            c.message_types.sort();
        }
        if m.from_client {
            if let Some(h) = &m.hostname {
                push(&mut c.hostnames, h.clone());
            }
            if let Some(v) = &m.vendor_class {
                push(&mut c.vendor_classes, v.clone());
            }
            if let Some(r) = m.requested {
                c.requested.retain(|x| *x != r);
                push(&mut c.requested, r);
            }
            if let Some(id) = &m.client_id {
                push(&mut c.client_ids, id.clone());
            }
            if !m.parameter_list.is_empty() {
                c.parameter_list = m.parameter_list.clone();
            }
            if m.ciaddr.is_some() {
                c.ciaddr = m.ciaddr;
            }
            c.ttl.get_or_insert(ttl);
        } else if m.message_type.as_ref().is_some_and(|(_, t)| t == "ACK") && m.yiaddr.is_some() {
            c.acked = m.yiaddr;
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use dhcproto::v4::{Encodable, Encoder};

    /// A DHCP message for tests.
    pub fn message(
        request: bool,
        mac: [u8; 6],
        kind: MessageType,
        yiaddr: [u8; 4],
        options: Vec<DhcpOption>,
    ) -> Vec<u8> {
        let mut m = Message::new(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::from(yiaddr),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &mac,
        );
        m.set_opcode(if request {
            Opcode::BootRequest
        } else {
            Opcode::BootReply
        });
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        for o in options {
            m.opts_mut().insert(o);
        }
        let mut buf = Vec::new();
        m.encode(&mut Encoder::new(&mut buf)).unwrap();
        buf
    }

    pub const MAC: [u8; 6] = [0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29];

    #[test]
    fn reads_what_a_client_says_about_itself() {
        let bytes = message(
            true,
            MAC,
            MessageType::Request,
            [0; 4],
            vec![
                DhcpOption::Hostname("btest.is.cool".into()),
                DhcpOption::ClassIdentifier(b"MSFT 5.0".to_vec()),
                DhcpOption::RequestedIpAddress(Ipv4Addr::new(128, 2, 6, 189)),
                DhcpOption::ClientIdentifier(vec![1, 0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29]),
                DhcpOption::ParameterRequestList(vec![
                    OptionCode::SubnetMask,
                    OptionCode::Router,
                    OptionCode::DomainNameServer,
                ]),
            ],
        );
        let s = parse(&bytes).unwrap();
        assert!(s.from_client);
        assert_eq!(s.client_mac, Some(0x90b1_1c99_4929));
        assert_eq!(s.message_type, Some((3, "REQUEST".to_string())));
        assert_eq!(s.hostname.as_deref(), Some("btest.is.cool"));
        assert_eq!(s.vendor_class.as_deref(), Some("MSFT 5.0"));
        assert_eq!(s.requested, Some(Ipv4Addr::new(128, 2, 6, 189)));
        assert_eq!(s.client_id.as_deref(), Some("01:90:b1:1c:99:49:29"));
        assert_eq!(s.parameter_list, [1, 3, 6]);
    }

    #[test]
    fn the_ack_decides_the_address_and_server_options_are_not_the_clients() {
        let mut clients = Clients::default();
        let discover = message(
            true,
            MAC,
            MessageType::Discover,
            [0; 4],
            vec![DhcpOption::RequestedIpAddress(Ipv4Addr::new(
                192, 168, 211, 194,
            ))],
        );
        let ack = message(
            false,
            MAC,
            MessageType::Ack,
            [128, 2, 6, 189],
            vec![
                DhcpOption::ClassIdentifier(b"ArubaAP".to_vec()),
                DhcpOption::Router(vec![Ipv4Addr::new(128, 2, 6, 1)]),
            ],
        );
        clients.add(&parse(&discover).unwrap(), 64, None);
        let c = &clients.by_mac[&0x90b1_1c99_4929];
        assert_eq!(c.address(), Some(Ipv4Addr::new(192, 168, 211, 194)));
        clients.add(
            &parse(&ack).unwrap(),
            128,
            Some(Ipv4Addr::new(128, 2, 6, 152)),
        );
        let c = &clients.by_mac[&0x90b1_1c99_4929];
        assert_eq!(c.address(), Some(Ipv4Addr::new(128, 2, 6, 189)));
        assert!(c.vendor_classes.is_empty(), "the server's vendor class");
        let types: Vec<&str> = c.message_types.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(types, ["DISCOVER", "ACK"]);
        assert_eq!(c.ttl, Some(64));
        assert_eq!(clients.routers, [Ipv4Addr::new(128, 2, 6, 1)]);
        assert_eq!(clients.servers, [Ipv4Addr::new(128, 2, 6, 152)]);
    }

    /// Regression (found by the `dhcp` fuzz target, tests/fuzz/regressions/dhcp): a bulk lease query
    /// time (option 152) two bytes long made dhcproto panic on its `len == 4` debug assertion; such
    /// options are now dropped and the options around them are still read.
    #[test]
    fn options_of_a_wrong_fixed_length_are_dropped_and_the_rest_is_read() {
        let good = message(
            true,
            [0, 0x0c, 0x29, 1, 2, 3],
            MessageType::Discover,
            [0; 4],
            vec![DhcpOption::Hostname("kiosk".into())],
        );
        for (code, body) in [(152u8, &[1u8, 2][..]), (80, &[7]), (94, &[1]), (81, &[0])] {
            let mut bad = good[..240].to_vec();
            bad.extend_from_slice(&[code, body.len() as u8]);
            bad.extend_from_slice(body);
            bad.extend_from_slice(&good[240..]);
            let summary = parse(&bad).expect("still a DHCP message");
            assert_eq!(summary.hostname.as_deref(), Some("kiosk"), "option {code}");
            assert_eq!(summary.message_type.as_ref().map(|t| t.0), Some(1));
        }
        // Well-formed messages are handed on untouched.
        assert!(matches!(without_misfit_options(&good), Cow::Borrowed(_)));
    }

    #[test]
    fn not_dhcp_and_hostile_input_never_panic() {
        assert!(parse(b"").is_none());
        assert!(parse(&[0u8; 300]).is_none(), "no magic cookie");
        let good = message(
            true,
            MAC,
            MessageType::Discover,
            [0; 4],
            vec![DhcpOption::Hostname("x".into())],
        );
        let mut long_hlen = good.clone();
        long_hlen[2] = 200;
        assert!(parse(&long_hlen).is_none());
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = parse(&bad);
            }
        }
    }
}
