//! The facts each rule needs about one flow, decided without host calls so they are tested natively:
//! which side is the remote peer, whether the server port is a question at all (multicast, discovery
//! chatter and mis-oriented flows are not), what names earlier stages found for the server, and whether
//! the flow is itself a DNS exchange with a resolver.
//!
//! A finished flow is reduced to a [`Conn`] of a few dozen bytes, so flows whose verdict must wait for
//! the end of the capture cost little to keep.

use crate::registry::{Registry, Transport};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::{IpClass, well_known_service};
use pcapxray_plugin_sdk::{Flow, Protocol};
use std::net::{IpAddr, SocketAddr};

/// Local service-discovery and configuration ports: chatter between local hosts on these is normal
/// whatever the other port is (replies go to the asker's random port).
pub const DISCOVERY_PORTS: &[u16] = &[
    67,    // DHCP server
    68,    // DHCP client
    137,   // NetBIOS name service
    138,   // NetBIOS datagrams
    427,   // SLP
    546,   // DHCPv6 client
    547,   // DHCPv6 server
    1900,  // SSDP / UPnP
    3702,  // WS-Discovery
    5350,  // NAT-PMP announcements
    5351,  // NAT-PMP / PCP
    5353,  // mDNS
    5355,  // LLMNR
    10001, // Ubiquiti discovery
    32412, // Plex GDM
    32414, // Plex GDM
    57621, // Spotify Connect discovery
];

/// The parts of a flow a verdict needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// The flow.
    pub id: u64,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `other`.
    pub protocol: &'static str,
    /// The client's address.
    pub client: IpAddr,
    /// The client's port (0 without ports).
    pub client_port: u16,
    /// The server's address.
    pub server: IpAddr,
    /// The server's port (0 without ports).
    pub server_port: u16,
}

impl Conn {
    /// The parts of `flow` that are kept.
    pub fn of(flow: &Flow) -> Conn {
        Conn {
            id: flow.id,
            protocol: flow.protocol.as_str(),
            client: flow.client_ip(),
            client_port: flow.client.port,
            server: flow.server_ip(),
            server_port: flow.server.port,
        }
    }

    /// TCP or UDP, the protocols the port registry speaks for.
    pub fn transport(&self) -> Option<Transport> {
        match self.protocol {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            _ => None,
        }
    }

    /// `tcp 10.0.0.2 → 203.0.113.50:4444`.
    pub fn describe(&self) -> String {
        match self.transport() {
            Some(_) => format!(
                "{} {} → {}",
                self.protocol,
                self.client,
                SocketAddr::new(self.server, self.server_port)
            ),
            None => format!("{} {} → {}", self.protocol, self.client, self.server),
        }
    }
}

/// What the registry says about a flow's server port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortCheck {
    /// The rule does not apply (no ports, group or link-local destination, discovery, mis-oriented).
    NotApplicable,
    /// Registered, to this service.
    Registered(String),
    /// Not in the registry: a reason.
    Unregistered,
}

/// Checks the server port of `conn` against the registry.
pub fn check_port(registry: &Registry, conn: &Conn) -> PortCheck {
    let Some(transport) = conn.transport() else {
        return PortCheck::NotApplicable;
    };
    let server_class = IpClass::of(conn.server);
    if server_class.is_group() || server_class == IpClass::LinkLocal {
        return PortCheck::NotApplicable;
    }
    if let Some(name) = registry.lookup(transport, conn.server_port) {
        return PortCheck::Registered(name.to_string());
    }
    let local = |ip| IpClass::of(ip).is_local();
    if is_discovery(conn) && local(conn.client) && local(conn.server) {
        return PortCheck::NotApplicable;
    }
    // Mis-oriented: the capture caught the answer first, so the "client" holds the service port.
    let protocol = match transport {
        Transport::Tcp => Protocol::Tcp,
        Transport::Udp => Protocol::Udp,
    };
    let client_well_known = (conn.client_port < 1024
        && registry.lookup(transport, conn.client_port).is_some())
        || well_known_service(protocol, conn.client_port).is_some();
    if client_well_known {
        return PortCheck::NotApplicable;
    }
    PortCheck::Unregistered
}

/// Which side of a flow is the remote peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server (an outbound connection).
    Server,
    /// The client (a connection from the internet to a local server).
    Client,
}

/// The remote side of a flow, when one side is on the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub ip: IpAddr,
    /// Which side it is.
    pub side: Side,
    /// `Public`, or `Documentation` (test ranges standing in for internet hosts).
    pub class: IpClass,
}

/// The internet side of `conn`: the server if it is not local, else the client if it is not. A flow
/// with a link-local, multicast or broadcast side stays on the local link (a router's link-local
/// address talking to a host's global IPv6 address), so it has no internet side.
pub fn peer(conn: &Conn) -> Option<Peer> {
    let on_link = |ip| {
        let class = IpClass::of(ip);
        class == IpClass::LinkLocal || class.is_group()
    };
    if on_link(conn.client) || on_link(conn.server) {
        return None;
    }
    let make = |ip, side| {
        let class = IpClass::of(ip);
        (!class.is_local()).then_some(Peer { ip, side, class })
    };
    make(conn.server, Side::Server).or_else(|| make(conn.client, Side::Client))
}

/// A name and where it came from (`SNI`, `HTTP Host`, a stage name, `reverse DNS`).
pub type Named = (String, String);

/// The server names earlier stages put on the flow: TLS SNI and HTTP Host (not for proxy requests,
/// whose Host names another machine), lower case, IP literals left out.
pub fn flow_names(flow: &Flow) -> Vec<Named> {
    let mut names: Vec<Named> = Vec::new();
    let mut add = |value: &str, source: &str| {
        if let Some(name) = dns_name(value)
            && !names.iter().any(|(n, _)| *n == name)
        {
            names.push((name, source.to_string()));
        }
    };
    for record in &flow.findings {
        let finding = &record.finding;
        let proxy = finding.get(names::http::PROXY) == Some("true");
        for attribute in &finding.attributes {
            match attribute.key.as_str() {
                names::tls::SNI if finding.get(names::tls::ECH) != Some("true") => {
                    add(&attribute.value, "SNI")
                }
                names::http::HOST if !proxy => add(&attribute.value, "HTTP Host"),
                names::http::HOSTS if !proxy => {
                    for host in finding.http_hosts() {
                        add(host, "HTTP Host");
                    }
                }
                names::web::SERVER_NAME => add(&attribute.value, &record.stage),
                _ => {}
            }
        }
    }
    names
}

/// `Example.COM:8080` → `example.com`; `None` for IP literals and things that are no DNS name.
pub fn dns_name(value: &str) -> Option<String> {
    let value = value.trim();
    if value.starts_with('[') || value.parse::<IpAddr>().is_ok() {
        return None;
    }
    let host = value.rsplit_once(':').map_or(value, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            value
        }
    });
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.parse::<IpAddr>().is_err()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    valid.then_some(host)
}

/// True when either port is a local discovery or configuration protocol (DHCP, NetBIOS, SSDP, mDNS,
/// LLMNR, ...): those stay on the local link even where the LAN is numbered with public addresses (and
/// a subnet broadcast such as 141.142.220.255 cannot be told from the address alone).
pub fn is_discovery(conn: &Conn) -> bool {
    conn.transport().is_some()
        && [conn.client_port, conn.server_port]
            .iter()
            .any(|p| DISCOVERY_PORTS.contains(p))
}

/// True for a TCP connection that began before the capture: no SYN was seen from either side, so the
/// DNS lookup that named its server may have happened before the capture too.
/// True when the server never answered: a connection attempt (a SYN, a probe, a datagram) rather
/// than a session. Attempts are the `behaviour` stage's evidence (scans, sweeps, floods); on their
/// own they say nothing about the peer's name or port.
pub fn unanswered(flow: &Flow) -> bool {
    flow.to_client.packets == 0
}

/// True for a TCP flow whose server was decided without a handshake (the first packet's sender, or
/// the side on the lower, registered port): its server port is a guess, not evidence.
pub fn guessed_server(flow: &Flow) -> bool {
    flow.is_tcp() && flow.orientation != pcapxray_plugin_sdk::Orientation::Syn
}

pub fn began_before_capture(flow: &Flow) -> bool {
    const SYN: u8 = 0x02;
    flow.is_tcp() && (flow.to_server.tcp_flags | flow.to_client.tcp_flags) & SYN == 0
}

/// True when the flow is a DNS exchange with a resolver (port 53 and a DNS query, or tagged `dns` by an
/// earlier stage): a resolver is named by the client's configuration, not by DNS, so its lack of a
/// name says nothing.
pub fn is_dns_exchange(flow: &Flow) -> bool {
    if flow.server.port != 53 {
        return false;
    }
    if flow.has_tag(names::dns::TAG) {
        return true;
    }
    let Some(first) = flow.to_server.messages().next() else {
        return false;
    };
    let message = if flow.is_tcp() {
        first.get(2..).unwrap_or(&[])
    } else {
        first
    };
    looks_like_dns_query(message)
}

/// A DNS header with QR = 0, a standard opcode and 1 to 16 questions.
fn looks_like_dns_query(m: &[u8]) -> bool {
    if m.len() < 12 {
        return false;
    }
    let questions = u16::from_be_bytes([m[4], m[5]]);
    m[2] & 0x80 == 0 && (m[2] >> 3) & 0x0f == 0 && (1..=16).contains(&questions)
}

/// The user name of HTTP Basic credentials the `web` stage found on a cleartext HTTP flow, with the
/// Host they were sent to.
pub fn http_basic_user(flow: &Flow) -> Option<(String, Option<String>)> {
    flow.findings_tagged(names::web::HTTP).find_map(|f| {
        let user = f.get(names::http::BASIC_AUTH_USER)?;
        Some((
            user.to_string(),
            f.get(names::http::HOST).map(str::to_string),
        ))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::BUILTIN;
    use pcapxray_plugin_sdk::testing::FlowBuilder;
    use pcapxray_plugin_sdk::{Direction, Finding, FindingRecord, Severity};

    pub fn direction(payload: &[u8], datagrams: &[u32]) -> Direction {
        Direction {
            packets: 1,
            bytes: payload.len() as u64 + 40,
            payload_bytes: payload.len() as u64,
            first_seen: 1_000,
            last_seen: 2_000,
            tcp_flags: 0,
            ttl: 64,
            payload: payload.to_vec(),
            datagrams: datagrams.to_vec(),
            payload_truncated: false,
        }
    }

    /// A flow `client:cport → server:sport` with the given client and server payloads.
    pub fn flow(
        protocol: Protocol,
        client: &str,
        cport: u16,
        server: &str,
        sport: u16,
        to_server: &[u8],
        to_client: &[u8],
    ) -> Flow {
        let udp = protocol == Protocol::Udp;
        let dgrams = |p: &[u8]| {
            if udp && !p.is_empty() {
                vec![p.len() as u32]
            } else {
                Vec::new()
            }
        };
        let mut to_server = direction(to_server, &dgrams(to_server));
        let mut to_client = direction(to_client, &dgrams(to_client));
        if protocol == Protocol::Tcp {
            to_server.tcp_flags = 0x1a; // SYN, PSH, ACK: a connection seen from its start
            to_client.tcp_flags = 0x1a;
        }
        FlowBuilder::new(protocol, (client, cport), (server, sport))
            .id(7)
            .ip_protocol(if udp { 17 } else { 6 })
            .to_server(to_server)
            .to_client(to_client)
            .build()
    }

    pub fn tcp(server: &str, sport: u16) -> Flow {
        flow(
            Protocol::Tcp,
            "192.168.1.10",
            50_123,
            server,
            sport,
            b"",
            b"",
        )
    }

    pub fn with_finding(mut flow: Flow, tag: &str, attrs: &[(&str, &str)]) -> Flow {
        let mut finding = Finding::on_flow(flow.id, tag, Severity::Info);
        for (k, v) in attrs {
            finding = finding.attr(*k, *v);
        }
        flow.findings.push(FindingRecord {
            stage: "web".into(),
            finding,
            rollup: false,
        });
        flow
    }

    fn check(flow: &Flow) -> PortCheck {
        let registry = Registry::parse(BUILTIN.as_bytes()).unwrap();
        check_port(&registry, &Conn::of(flow))
    }

    #[test]
    fn the_port_rule_asks_the_registry_about_the_server_port() {
        assert_eq!(check(&tcp("203.0.113.50", 40_001)), PortCheck::Unregistered);
        assert_eq!(
            check(&tcp("216.165.2.56", 9001)),
            PortCheck::Registered("etlservicemgr".into())
        );
        assert_eq!(
            check(&tcp("216.165.2.56", 4242)),
            PortCheck::Registered("vrml-multi-use".into())
        );
        let mut icmp = tcp("8.8.8.8", 0);
        icmp.protocol = Protocol::Icmp;
        assert_eq!(check(&icmp), PortCheck::NotApplicable);
    }

    #[test]
    fn group_link_local_discovery_and_mis_oriented_flows_are_not_port_questions() {
        let udp = |c: &str, cp, s: &str, sp| flow(Protocol::Udp, c, cp, s, sp, b"", b"");
        assert_eq!(
            check(&udp("192.168.0.17", 49666, "255.255.255.255", 40_001)),
            PortCheck::NotApplicable
        );
        assert_eq!(
            check(&udp("192.168.0.3", 40_001, "239.255.255.250", 40_001)),
            PortCheck::NotApplicable
        );
        assert_eq!(
            check(&udp("fe80::1", 40_001, "fe80::2", 40_001)),
            PortCheck::NotApplicable
        );
        // An SSDP answer from the device's random port to the asker's random port, seen the other way.
        assert_eq!(
            check(&udp("192.168.0.1", 1900, "192.168.0.3", 50_515)),
            PortCheck::NotApplicable
        );
        assert_eq!(
            check(&udp("192.168.0.1", 40_001, "192.168.0.3", 5353)),
            PortCheck::Registered("mdns".into())
        );
        // A DNS answer caught before its question.
        assert_eq!(
            check(&udp("8.8.8.8", 53, "192.168.0.3", 50_515)),
            PortCheck::NotApplicable
        );
        // Discovery ports on the internet are not discovery.
        assert_eq!(
            check(&udp("192.168.0.3", 57_621, "203.0.113.9", 40_001)),
            PortCheck::Unregistered
        );
    }

    #[test]
    fn the_peer_is_the_internet_side() {
        let out = Conn::of(&tcp("216.165.2.56", 9001));
        assert_eq!(
            peer(&out).map(|p| (p.side, p.class)),
            Some((Side::Server, IpClass::Public))
        );
        let inbound = Conn::of(&flow(
            Protocol::Tcp,
            "203.0.113.9",
            51_000,
            "192.168.1.2",
            22,
            b"",
            b"",
        ));
        let p = peer(&inbound).unwrap();
        assert_eq!(
            (p.ip.to_string(), p.side),
            ("203.0.113.9".to_string(), Side::Client)
        );
        assert_eq!(p.class, IpClass::Documentation);
        assert_eq!(peer(&Conn::of(&tcp("192.168.1.1", 80))), None);
        let on_link = Conn::of(&flow(
            Protocol::Icmpv6,
            "fe80::1",
            0,
            "2604:2000::5",
            0,
            b"",
            b"",
        ));
        assert_eq!(peer(&on_link), None);
    }

    #[test]
    fn names_come_from_sni_and_host_but_not_from_proxy_requests_or_ip_literals() {
        let f = with_finding(
            tcp("93.184.216.34", 443),
            "web.https",
            &[
                ("tls.sni", "WWW.Example.com"),
                ("server.name", "www.example.com"),
            ],
        );
        assert_eq!(
            flow_names(&f),
            [("www.example.com".to_string(), "SNI".to_string())]
        );
        let proxy = with_finding(
            tcp("10.0.0.1", 3128),
            "web.http",
            &[
                ("http.host", "elsewhere.example:80"),
                ("http.proxy", "true"),
            ],
        );
        assert!(flow_names(&proxy).is_empty());
        let literal = with_finding(
            tcp("93.184.216.34", 80),
            "web.http",
            &[("http.host", "93.184.216.34:80")],
        );
        assert!(flow_names(&literal).is_empty());
        let hosts = with_finding(
            tcp("93.184.216.34", 80),
            "web.http",
            &[
                ("http.host", "a.example:8080"),
                ("http.hosts", "a.example:8080,b.example"),
            ],
        );
        let names: Vec<_> = flow_names(&hosts).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a.example", "b.example"]);
        assert_eq!(dns_name("[::1]:80"), None);
        assert_eq!(dns_name("host.example."), Some("host.example".into()));
    }

    #[test]
    fn a_query_to_a_resolver_is_a_dns_exchange() {
        // id 0x1234, RD, one question: example.com A
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let udp = flow(
            Protocol::Udp,
            "192.168.0.6",
            17_114,
            "209.18.47.61",
            53,
            query,
            b"",
        );
        assert!(is_dns_exchange(&udp));
        let mut tcp_query = vec![0, query.len() as u8];
        tcp_query.extend_from_slice(query);
        assert!(is_dns_exchange(&flow(
            Protocol::Tcp,
            "192.168.0.6",
            50_000,
            "209.18.47.61",
            53,
            &tcp_query,
            b""
        )));
        assert!(!is_dns_exchange(&flow(
            Protocol::Udp,
            "192.168.0.6",
            17_114,
            "209.18.47.61",
            53,
            b"\x16\x03\x01 not dns",
            b""
        )));
        assert!(!is_dns_exchange(&flow(
            Protocol::Udp,
            "192.168.0.6",
            17_114,
            "209.18.47.61",
            5353,
            query,
            b""
        )));
    }

    #[test]
    fn basic_auth_users_come_from_the_web_stage() {
        let f = with_finding(
            tcp("93.184.216.34", 80),
            "web.http",
            &[
                ("http.host", "intranet.example"),
                ("http.basic-auth-user", "admin"),
            ],
        );
        assert_eq!(
            http_basic_user(&f),
            Some(("admin".into(), Some("intranet.example".into())))
        );
        assert_eq!(http_basic_user(&tcp("93.184.216.34", 80)), None);
    }
}
