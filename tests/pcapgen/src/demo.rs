//! The project's demo capture (`config/demo.pcap`), fully deterministic.
//!
//! A small office LAN 192.168.1.0/24 on 2024-03-12 from 09:00:00 UTC. The
//! router 192.168.1.1 (Netgear 00:14:6c:3a:91:0e) is DHCP server and DNS
//! forwarder; every internet peer is reached through its MAC.
//!
//! | host | MAC (vendor) | IP |
//! |---|---|---|
//! | router | 00:14:6c:3a:91:0e (Netgear) | 192.168.1.1 |
//! | alice-laptop | f8:bc:12:6e:4d:21 (Dell) | 192.168.1.23 (DHCP) |
//! | bob's MacBook | 3c:22:fb:a1:07:5c (Apple) | 192.168.1.42 |
//! | carol's PC | 8c:8d:28:19:c3:b7 (Intel) | 192.168.1.57 |
//! | printer | 3c:d9:2b:5e:0a:14 (HP) | 192.168.1.200 |
//!
//! Traffic, in time order:
//! * alice: DHCP DORA (host name `alice-laptop`, vendor class `MSFT 5.0`),
//!   gratuitous ARP, ARP for the router;
//! * the printer announces `NPI5E0A14.local` over mDNS;
//! * alice: DNS `neverssl.com` A, `GET http://neverssl.com/` (Firefox UA,
//!   `200 OK`, `Server: Apache/2.4.62 ()`);
//! * alice: DNS `www.wikipedia.org` A and AAAA (CNAME `dyna.wikimedia.org`),
//!   TLS 1.3 to 185.15.59.224:443, SNI `www.wikipedia.org`, ALPN h2;
//! * bob: ARP, DNS `github.com`, TLS 1.3 to 140.82.121.4:443, SNI `github.com`;
//! * carol: ARP, DNS `mail.example.org`, TLS 1.2 to 93.184.215.14:443, ALPN http/1.1;
//! * carol: TLS to the Tor relay "Lule" 193.11.164.243:9001 with a Tor-style
//!   random SNI `www.<letters>.com`, no DNS;
//! * bob: TCP to 203.0.113.50:4444 (no DNS name), ends with RST;
//! * bob: 4 pings to 8.8.8.8;
//! * alice: a beacon to 198.51.100.23:8443 every 60 s ± 1 s, 20 connections,
//!   starting 09:00:40.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::tls::{TLS12, TLS13};
use crate::{
    Beacon, Capture, DhcpLease, DnsAnswer, Endpoint, Host, HttpGet, Mac, RecordType, Side, TcpEnd,
    TlsHello,
};

/// 2024-03-12 09:00:00 UTC.
pub const DEMO_START: u64 = 1_710_234_000;
/// Random seed of the demo capture.
pub const DEMO_SEED: u64 = 0x2024_0312;

/// Router MAC (Netgear OUI).
pub const GATEWAY_MAC: Mac = [0x00, 0x14, 0x6c, 0x3a, 0x91, 0x0e];
/// alice-laptop MAC (Dell OUI).
pub const ALICE_MAC: Mac = [0xf8, 0xbc, 0x12, 0x6e, 0x4d, 0x21];
/// bob's MacBook MAC (Apple OUI).
pub const BOB_MAC: Mac = [0x3c, 0x22, 0xfb, 0xa1, 0x07, 0x5c];
/// carol's PC MAC (Intel OUI).
pub const CAROL_MAC: Mac = [0x8c, 0x8d, 0x28, 0x19, 0xc3, 0xb7];
/// Printer MAC (HP OUI).
pub const PRINTER_MAC: Mac = [0x3c, 0xd9, 0x2b, 0x5e, 0x0a, 0x14];

const NEVERSSL_BODY: &[u8] = b"<html>\n<head>\n<title>NeverSSL - Connecting ...</title>\n</head>\n\
<body>\n<h1>NeverSSL</h1>\n<p>This website is for when you try to open Facebook, Google, Amazon, \
etc on a wifi network, and nothing happens. Type \"http://neverssl.com\" into your browser's url bar, \
and you'll be able to log on.</p>\n</body>\n</html>\n";

/// Builds the demo capture (same bytes on every call).
pub fn demo() -> io::Result<Capture> {
    let mut cap = Capture::with_seed(Duration::from_secs(DEMO_START), DEMO_SEED);
    let t = |secs: u64| Duration::from_secs(DEMO_START + secs);

    let gw = Host::new(GATEWAY_MAC, Ipv4Addr::new(192, 168, 1, 1));
    let alice = Host::new(ALICE_MAC, Ipv4Addr::new(192, 168, 1, 23));
    let bob = Host::new(BOB_MAC, Ipv4Addr::new(192, 168, 1, 42));
    let carol = Host::new(CAROL_MAC, Ipv4Addr::new(192, 168, 1, 57));
    let printer = Host::new(PRINTER_MAC, Ipv4Addr::new(192, 168, 1, 200));
    let dns = gw.port(53);
    let inet = |a: [u8; 4], port: u16| Endpoint::new(GATEWAY_MAC, Ipv4Addr::from(a), port);

    // alice boots: DHCP, gratuitous ARP, resolves the router.
    let xid = cap.rng().next_u32();
    cap.dhcp_dora(&DhcpLease {
        client_mac: ALICE_MAC,
        xid,
        host_name: Some("alice-laptop"),
        vendor_class: Some("MSFT 5.0"),
        requested_ip: Some(Ipv4Addr::new(192, 168, 1, 23)),
        offered_ip: Ipv4Addr::new(192, 168, 1, 23),
        server: gw,
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        router: Ipv4Addr::new(192, 168, 1, 1),
        dns: &[Ipv4Addr::new(192, 168, 1, 1)],
        domain: Some("home.lan"),
        lease_secs: 86_400,
    })?;
    cap.advance(Duration::from_millis(40));
    cap.arp_announce(alice)?;
    cap.advance(Duration::from_millis(60));
    cap.arp_resolve(alice, gw)?;

    cap.set_time(t(0) + Duration::from_millis(500));
    cap.mdns_announce(printer, "NPI5E0A14.local")?;

    // alice browses http://neverssl.com/.
    cap.set_time(t(1));
    let neverssl = Ipv4Addr::new(34, 223, 124, 45);
    cap.dns_query_response(
        alice.port(51234),
        dns,
        "neverssl.com",
        RecordType::A,
        &[DnsAnswer::a("neverssl.com", neverssl)],
    )?;
    cap.http_get(
        alice.port(49811),
        inet(neverssl.octets(), 80),
        &HttpGet {
            server: "Apache/2.4.62 ()",
            body: NEVERSSL_BODY,
            ..HttpGet::new("neverssl.com", "/")
        },
    )?;

    // alice opens Wikipedia over TLS 1.3 (A and AAAA lookups).
    cap.set_time(t(3));
    let wiki = Ipv4Addr::new(185, 15, 59, 224);
    let cname = DnsAnswer::cname("www.wikipedia.org", "dyna.wikimedia.org");
    cap.dns_query_response(
        alice.port(55012),
        dns,
        "www.wikipedia.org",
        RecordType::A,
        &[cname.clone(), DnsAnswer::a("dyna.wikimedia.org", wiki)],
    )?;
    let wiki6 = Ipv6Addr::new(0x2a02, 0xec80, 0x300, 0xed1a, 0, 0, 0, 1);
    cap.dns_query_response(
        alice.port(55013),
        dns,
        "www.wikipedia.org",
        RecordType::AAAA,
        &[cname, DnsAnswer::aaaa("dyna.wikimedia.org", wiki6)],
    )?;
    cap.tls_session(
        alice.port(49812),
        inet(wiki.octets(), 443),
        &TlsHello::browser("www.wikipedia.org"),
        &[
            (Side::Client, 620),
            (Side::Server, 14_800),
            (Side::Client, 310),
            (Side::Server, 4_100),
        ],
    )?;

    // bob goes to GitHub.
    cap.set_time(t(8));
    cap.arp_resolve(bob, gw)?;
    let github = Ipv4Addr::new(140, 82, 121, 4);
    cap.dns_query_response(
        bob.port(61001),
        dns,
        "github.com",
        RecordType::A,
        &[DnsAnswer::a("github.com", github)],
    )?;
    cap.tls_session(
        bob.port(52344),
        inet(github.octets(), 443),
        &TlsHello::browser("github.com"),
        &[
            (Side::Client, 540),
            (Side::Server, 9_600),
            (Side::Client, 220),
            (Side::Server, 2_300),
        ],
    )?;

    // carol checks mail over TLS 1.2.
    cap.set_time(t(12));
    cap.arp_resolve(carol, gw)?;
    let mail = Ipv4Addr::new(93, 184, 215, 14);
    cap.dns_query_response(
        carol.port(58120),
        dns,
        "mail.example.org",
        RecordType::A,
        &[DnsAnswer::a("mail.example.org", mail)],
    )?;
    cap.tls_session(
        carol.port(50123),
        inet(mail.octets(), 443),
        &TlsHello {
            sni: Some("mail.example.org"),
            alpn: &["http/1.1"],
            versions: &[TLS12],
        },
        &[(Side::Client, 480), (Side::Server, 6_200)],
    )?;

    // carol connects to the Tor relay "Lule" (no DNS, Tor-style random SNI).
    cap.set_time(t(20));
    let len = cap.rng().range(8, 14) as usize;
    let tor_sni = format!("www.{}.com", cap.rng().letters(len));
    cap.tls_session(
        carol.port(50124),
        inet([193, 11, 164, 243], 9001),
        &TlsHello {
            sni: Some(&tor_sni),
            alpn: &[],
            versions: &[TLS13, TLS12],
        },
        &[
            (Side::Client, 543),
            (Side::Server, 1_086),
            (Side::Client, 1_086),
            (Side::Server, 2_172),
        ],
    )?;

    // bob talks to an odd port on an address nobody resolved.
    cap.set_time(t(25));
    let odd = inet([203, 0, 113, 50], 4444);
    let (a, b, c) = (
        cap.rng().bytes(48),
        cap.rng().bytes(212),
        cap.rng().bytes(96),
    );
    cap.tcp_session(
        bob.port(53001),
        odd,
        &[(Side::Client, &a), (Side::Server, &b), (Side::Client, &c)],
        TcpEnd::Rst,
    )?;

    // bob pings 8.8.8.8.
    cap.set_time(t(30));
    cap.icmp_echo(
        bob,
        Host::new(GATEWAY_MAC, Ipv4Addr::new(8, 8, 8, 8)),
        0x1c2f,
        4,
        true,
    )?;

    // alice's beacon: 20 connections, 60 s ± 1 s apart.
    cap.set_time(t(40));
    let req = cap.rng().bytes(64);
    let resp = cap.rng().bytes(32);
    cap.beacon(&Beacon {
        client: alice.port(50300),
        server: inet([198, 51, 100, 23], 8443),
        count: 20,
        period: Duration::from_secs(60),
        jitter: Duration::from_secs(1),
        request: &req,
        response: &resp,
    })?;
    Ok(cap)
}

/// The demo capture as pcap bytes.
pub fn demo_pcap_bytes() -> io::Result<Vec<u8>> {
    demo()?.to_pcap_bytes()
}
