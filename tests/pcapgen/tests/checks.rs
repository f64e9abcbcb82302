//! Checks that what pcapgen writes decodes with independent parsers:
//! etherparse (frames, checksums), hickory-proto (DNS), tls-parser (TLS).

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RData;
use pcap_file::pcap::PcapReader;
use pcapgen::dns::{query_message, response_message, tcp_framed};
use pcapgen::tls::{TLS12, TLS13, client_hello, server_hello};
use pcapgen::{
    Beacon, Capture, DnsAnswer, Endpoint, Host, RecordType, Rng, Side, TcpEnd, TlsHello, bench,
    demo,
};
use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions};

/// (timestamp, frame) of every record of a pcap file.
fn read_pcap(bytes: &[u8]) -> Vec<(Duration, Vec<u8>)> {
    let mut r = PcapReader::new(bytes).expect("pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("pcap record");
        out.push((p.timestamp, p.data.into_owned()));
    }
    out
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

/// Verifies the IPv4 header checksum and the TCP/UDP/ICMPv6 checksum of an
/// (unfragmented) frame; returns false when one is wrong.
fn checksums_ok(frame: &[u8]) -> bool {
    let p = SlicedPacket::from_ethernet(frame).expect("frame parses");
    let Some(ipp) = p.ip_payload() else {
        return true;
    };
    let l4 = ipp.payload;
    let proto = ipp.ip_number.0;
    let pseudo = match &p.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            if fold(sum(h.slice())) != 0xffff {
                return false;
            }
            sum(&h.source()) + sum(&h.destination()) + u32::from(proto) + l4.len() as u32
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            sum(&h.source()) + sum(&h.destination()) + u32::from(proto) + l4.len() as u32
        }
        _ => return true,
    };
    match proto {
        6 | 58 => fold(pseudo + sum(l4)) == 0xffff,
        17 => (l4[6] == 0 && l4[7] == 0) || fold(pseudo + sum(l4)) == 0xffff,
        _ => true,
    }
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Counts {
    tcp: usize,
    udp: usize,
    arp: usize,
    icmp: usize,
}

fn count(frames: &[(Duration, Vec<u8>)]) -> Counts {
    let mut c = Counts::default();
    for (_, f) in frames {
        let p = SlicedPacket::from_ethernet(f).expect("every frame parses");
        match (&p.net, &p.transport) {
            (Some(NetSlice::Arp(_)), _) => c.arp += 1,
            (_, Some(TransportSlice::Tcp(_))) => c.tcp += 1,
            (_, Some(TransportSlice::Udp(_))) => c.udp += 1,
            (_, Some(TransportSlice::Icmpv4(_) | TransportSlice::Icmpv6(_))) => c.icmp += 1,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    c
}

/// Server names from every ClientHello found at the start of a TCP payload.
fn client_hello_snis(frames: &[(Duration, Vec<u8>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (_, f) in frames {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            continue;
        };
        let data = tcp.payload();
        if data.len() > 5 && data[0] == 0x16 && data[5] == 1 {
            out.push(sni_of(data).expect("ClientHello has an SNI"));
        }
    }
    out
}

/// Parses a ClientHello record with tls-parser and returns its server_name.
fn sni_of(record: &[u8]) -> Option<String> {
    let (_, plain) = tls_parser::parse_tls_plaintext(record).expect("TLS record parses");
    let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &plain.msg[0] else {
        panic!("not a ClientHello");
    };
    let (_, exts) = parse_tls_extensions(ch.ext?).expect("extensions parse");
    exts.iter().find_map(|e| match e {
        TlsExtension::SNI(v) => Some(String::from_utf8_lossy(v[0].1).into_owned()),
        _ => None,
    })
}

#[test]
fn demo_is_reproducible_and_matches_committed_file() -> io::Result<()> {
    let a = demo::demo_pcap_bytes()?;
    let b = demo::demo_pcap_bytes()?;
    assert_eq!(a, b, "two runs must give the same bytes");
    assert!(a.len() < 200_000, "demo capture too big: {}", a.len());
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.pcap");
    let on_disk = std::fs::read(committed)?;
    assert!(
        on_disk == a,
        "config/demo.pcap is stale: run `cargo run -p pcapgen -- demo config/demo.pcap`"
    );
    Ok(())
}

#[test]
fn demo_decodes_with_expected_content() -> io::Result<()> {
    let frames = read_pcap(&demo::demo_pcap_bytes()?);
    assert_eq!(frames.len(), 313);
    assert!(
        frames.windows(2).all(|w| w[0].0 <= w[1].0),
        "timestamps sorted"
    );
    assert_eq!(frames[0].0, Duration::from_secs(demo::DEMO_START));
    // 7 ARP (announcement + 3 who-has/is-at), 15 UDP (4 DHCP, 1 mDNS, 10 DNS), 8 ICMP.
    assert_eq!(
        count(&frames),
        Counts {
            tcp: 283,
            udp: 15,
            arp: 7,
            icmp: 8
        }
    );
    assert!(
        frames.iter().all(|(_, f)| checksums_ok(f)),
        "checksums valid"
    );

    let snis = client_hello_snis(&frames);
    assert_eq!(snis.len(), 4);
    assert_eq!(
        &snis[..3],
        ["www.wikipedia.org", "github.com", "mail.example.org"]
    );
    let tor = &snis[3];
    assert!(tor.starts_with("www.") && tor.ends_with(".com"), "{tor}");
    assert!(
        tor[4..tor.len() - 4]
            .bytes()
            .all(|b| b.is_ascii_lowercase())
    );

    // The Tor relay, the odd port and the beacon (20 SYNs, 60 s ± 1 s apart).
    let mut syn_targets = BTreeSet::new();
    let mut beacon_syns = Vec::new();
    for (ts, f) in &frames {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        if let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(tcp))) = (&p.net, &p.transport)
            && tcp.syn()
            && !tcp.ack()
        {
            let dst = (ip.header().destination_addr(), tcp.destination_port());
            syn_targets.insert(dst);
            if dst == (Ipv4Addr::new(198, 51, 100, 23), 8443) {
                beacon_syns.push(*ts);
            }
        }
    }
    assert!(syn_targets.contains(&(Ipv4Addr::new(193, 11, 164, 243), 9001)));
    assert!(syn_targets.contains(&(Ipv4Addr::new(203, 0, 113, 50), 4444)));
    assert_eq!(beacon_syns.len(), 20);
    for w in beacon_syns.windows(2) {
        let d = (w[1] - w[0]).as_secs_f64();
        assert!((58.0..=62.0).contains(&d), "beacon interval {d}");
    }

    // DHCP host name and vendor class; DNS answers parse with hickory.
    let mut dhcp_seen = false;
    let mut aaaa_seen = false;
    for (_, f) in &frames {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let Some(TransportSlice::Udp(udp)) = &p.transport else {
            continue;
        };
        let data = udp.payload();
        if udp.destination_port() == 67 {
            let opts = &data[240..];
            dhcp_seen |= opts.windows(14).any(|w| w == b"\x0c\x0calice-laptop")
                && opts.windows(10).any(|w| w == b"\x3c\x08MSFT 5.0");
        }
        if udp.source_port() == 53 {
            let m = Message::from_vec(data).expect("DNS parses");
            aaaa_seen |= m.answers.iter().any(|r| matches!(r.data, RData::AAAA(_)));
        }
    }
    assert!(dhcp_seen && aaaa_seen);
    Ok(())
}

#[test]
fn dns_messages_parse_with_hickory() -> io::Result<()> {
    let q = query_message(0x1234, "www.wikipedia.org", RecordType::A)?;
    let m = Message::from_vec(&q).unwrap();
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.metadata.message_type, MessageType::Query);
    assert_eq!(m.queries[0].name().to_ascii(), "www.wikipedia.org.");
    assert_eq!(m.queries[0].query_type(), RecordType::A);

    let answers = [
        DnsAnswer::cname("www.wikipedia.org", "dyna.wikimedia.org"),
        DnsAnswer::a("dyna.wikimedia.org", Ipv4Addr::new(185, 15, 59, 224)),
        DnsAnswer::aaaa(
            "dyna.wikimedia.org",
            "2a02:ec80::1".parse::<Ipv6Addr>().unwrap(),
        ),
        DnsAnswer::ptr("224.59.15.185.in-addr.arpa", "text-lb.wikimedia.org"),
    ];
    let r = response_message(0x1234, "www.wikipedia.org", RecordType::A, &answers)?;
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.answers.len(), 4);
    assert!(
        matches!(&m.answers[0].data, RData::CNAME(n) if n.0.to_ascii() == "dyna.wikimedia.org.")
    );
    assert!(matches!(&m.answers[1].data, RData::A(a) if a.0 == Ipv4Addr::new(185, 15, 59, 224)));
    assert!(matches!(&m.answers[2].data, RData::AAAA(_)));
    assert!(matches!(&m.answers[3].data, RData::PTR(_)));

    let nx = response_message(7, "nope.invalid", RecordType::A, &[])?;
    assert_eq!(
        Message::from_vec(&nx).unwrap().metadata.response_code,
        ResponseCode::NXDomain
    );

    let framed = tcp_framed(&q)?;
    assert_eq!(
        usize::from(u16::from_be_bytes([framed[0], framed[1]])),
        q.len()
    );
    assert_eq!(
        pcapgen::dns::reverse_name("2001:db8::1".parse().unwrap()),
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
    Ok(())
}

#[test]
fn dns_over_tcp_and_ipv6_decode() -> io::Result<()> {
    let mut cap = Capture::new(1_700_000_000);
    let c = Endpoint::new(
        [2, 0, 0, 0, 0, 1],
        "fd00::10".parse::<Ipv6Addr>().unwrap(),
        40000,
    );
    let s = Endpoint::new(
        [2, 0, 0, 0, 0, 2],
        "fd00::1".parse::<Ipv6Addr>().unwrap(),
        53,
    );
    cap.dns_query_response_tcp(
        c,
        s,
        "example.com",
        RecordType::AAAA,
        &[DnsAnswer::aaaa(
            "example.com",
            "2001:db8::5".parse().unwrap(),
        )],
    )?;
    cap.icmp_echo(c.host(), s.host(), 1, 2, true)?;
    cap.mdns_announce(c.host(), "box.local")?;
    let frames = read_pcap(&cap.to_pcap_bytes()?);
    assert!(frames.iter().all(|(_, f)| checksums_ok(f)));
    let counts = count(&frames);
    assert_eq!((counts.icmp, counts.udp), (4, 1));
    // The response: its TCP payload is length-framed DNS.
    let resp = frames
        .iter()
        .find_map(|(_, f)| {
            let p = SlicedPacket::from_ethernet(f).unwrap();
            match p.transport {
                Some(TransportSlice::Tcp(t))
                    if t.source_port() == 53 && !t.payload().is_empty() =>
                {
                    Some(t.payload().to_vec())
                }
                _ => None,
            }
        })
        .expect("response segment");
    let m = Message::from_vec(&resp[2..]).unwrap();
    assert!(matches!(m.answers[0].data, RData::AAAA(_)));
    Ok(())
}

#[test]
fn client_hello_parses_with_tls_parser() {
    let mut rng = Rng::new(9);
    let rec = client_hello(
        &TlsHello {
            sni: Some("www.wikipedia.org"),
            alpn: &["h2", "http/1.1"],
            versions: &[TLS13, TLS12],
        },
        &mut rng,
    );
    let (rest, plain) = tls_parser::parse_tls_plaintext(&rec).expect("parses");
    assert!(rest.is_empty());
    let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &plain.msg[0] else {
        panic!("not a ClientHello");
    };
    assert_eq!(ch.version.0, TLS12);
    let (rest, exts) = parse_tls_extensions(ch.ext.unwrap()).unwrap();
    assert!(rest.is_empty());
    let mut sni = None;
    let mut alpn = Vec::new();
    let mut versions = Vec::new();
    for e in &exts {
        match e {
            TlsExtension::SNI(v) => sni = Some(v[0].1.to_vec()),
            TlsExtension::ALPN(v) => alpn = v.iter().map(|p| p.to_vec()).collect(),
            TlsExtension::SupportedVersions(v) => versions = v.iter().map(|v| v.0).collect(),
            _ => {}
        }
    }
    assert_eq!(sni.as_deref(), Some(&b"www.wikipedia.org"[..]));
    assert_eq!(alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(versions, [TLS13, TLS12]);

    let sh = server_hello(TLS13, &[7; 32], None, &mut rng);
    let (_, plain) = tls_parser::parse_tls_plaintext(&sh).expect("ServerHello parses");
    assert!(matches!(
        plain.msg[0],
        TlsMessage::Handshake(TlsMessageHandshake::ServerHello(_))
    ));
}

#[test]
fn tcp_session_seq_ack_and_endings() -> io::Result<()> {
    let mut cap = Capture::new(1_700_000_000);
    let c = Endpoint::new([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 2), 40000);
    let s = Endpoint::new([2, 0, 0, 0, 0, 2], Ipv4Addr::new(10, 0, 0, 1), 9000);
    let big = vec![0xab; 4000];
    cap.tcp_session(
        c,
        s,
        &[(Side::Client, b"hi"), (Side::Server, &big)],
        TcpEnd::Fin,
    )?;
    cap.tcp_session(c.with_port(40001), s, &[(Side::Client, b"x")], TcpEnd::Rst)?;
    cap.tcp_session(c.with_port(40002), s, &[(Side::Client, b"y")], TcpEnd::Open)?;
    cap.tcp_refused(c.with_port(40003), s.with_port(1))?;
    let frames = read_pcap(&cap.to_pcap_bytes()?);
    assert!(frames.iter().all(|(_, f)| checksums_ok(f)));
    // Track next expected sequence per direction for the first session.
    let mut c_next = None;
    let mut s_next = None;
    let mut server_bytes = 0;
    for (_, f) in &frames {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            continue;
        };
        if t.source_port() == 40000 {
            if let Some(n) = c_next {
                assert_eq!(t.sequence_number(), n);
            }
            c_next = Some(
                t.sequence_number() + t.payload().len() as u32 + u32::from(t.syn() || t.fin()),
            );
            if let (Some(sn), true) = (s_next, t.ack()) {
                assert_eq!(t.acknowledgment_number(), sn);
            }
        } else if t.destination_port() == 40000 {
            if let Some(n) = s_next {
                assert_eq!(t.sequence_number(), n);
            }
            s_next = Some(
                t.sequence_number() + t.payload().len() as u32 + u32::from(t.syn() || t.fin()),
            );
            server_bytes += t.payload().len();
            assert!(t.payload().len() <= 1460);
        }
    }
    assert_eq!(server_bytes, 4000);
    let rsts = frames
        .iter()
        .filter(|(_, f)| {
            matches!(SlicedPacket::from_ethernet(f).unwrap().transport, Some(TransportSlice::Tcp(t)) if t.rst())
        })
        .count();
    assert_eq!(rsts, 2);
    Ok(())
}

#[test]
fn many_hosts_and_beacon() -> io::Result<()> {
    let mut cap = Capture::new(1_700_000_000);
    let gw = [0, 0x14, 0x6c, 1, 2, 3];
    let client = Host::new([0x3c, 0x22, 0xfb, 1, 2, 3], Ipv4Addr::new(192, 168, 1, 10));
    let hosts = cap.many_hosts(client, gw, 300, 443)?;
    assert_eq!(hosts.iter().collect::<HashSet<_>>().len(), 300);
    let frames = read_pcap(&cap.to_pcap_bytes()?);
    let mut seen = HashSet::new();
    for (_, f) in &frames {
        if let Some(NetSlice::Ipv4(ip)) = SlicedPacket::from_ethernet(f).unwrap().net {
            seen.insert(ip.header().destination_addr());
        }
    }
    seen.remove(&Ipv4Addr::new(192, 168, 1, 10));
    assert_eq!(seen.len(), 300);
    assert!(seen.iter().all(|a| pcapgen::scenarios::is_public_ipv4(*a)));

    let mut cap = Capture::new(1_700_000_000);
    let starts = cap.beacon(&Beacon {
        client: client.port(50000),
        server: Endpoint::new(gw, Ipv4Addr::new(198, 51, 100, 23), 8443),
        count: 10,
        period: Duration::from_secs(30),
        jitter: Duration::from_millis(500),
        request: b"ping",
        response: b"",
    })?;
    assert_eq!(starts.len(), 10);
    for (i, s) in starts.iter().enumerate() {
        let nominal = Duration::from_secs(1_700_000_000 + 30 * i as u64);
        let dev = s.abs_diff(nominal);
        assert!(dev <= Duration::from_millis(500));
    }
    Ok(())
}

/// A small mixed capture: IPv4 TCP, IPv6 UDP, ARP, broadcast and multicast.
fn mixed_capture() -> io::Result<Vec<u8>> {
    let mut cap = Capture::new(1_700_000_000);
    let a = Host::new([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 168, 7, 10));
    let b = Host::new([2, 0, 0, 0, 0, 2], Ipv4Addr::new(93, 184, 215, 14));
    cap.arp_resolve(a, Host::new(b.mac, Ipv4Addr::new(192, 168, 7, 1)))?;
    cap.tcp_session(
        a.port(40000),
        b.port(80),
        &[(Side::Client, b"GET"), (Side::Server, b"OK")],
        TcpEnd::Fin,
    )?;
    let a6 = Host::new(a.mac, "2001:db8::10".parse::<Ipv6Addr>().unwrap());
    let b6 = Host::new(b.mac, "2001:db8:1::20".parse::<Ipv6Addr>().unwrap());
    cap.udp_exchange(a6.port(5000), b6.port(5001), b"ping", Some(b"pong"))?;
    cap.mdns_announce(a, "a.local")?;
    cap.udp_send(
        a.port(138),
        Endpoint::new([0xff; 6], Ipv4Addr::new(255, 255, 255, 255), 138),
        b"bcast",
    )?;
    cap.to_pcap_bytes()
}

#[test]
fn bench_rewrites_addresses_per_copy() -> io::Result<()> {
    let input = bench::parse_input("mixed.pcap", &mixed_capture()?).expect("input parses");
    let per_copy = input.packets.len();
    let copy_bytes: u64 = input.packets.iter().map(|p| 16 + p.data.len() as u64).sum();
    let mut out = Vec::new();
    let stats = bench::generate(
        &mut out,
        std::slice::from_ref(&input),
        24 + 3 * copy_bytes,
        1_000_000,
    )?;
    assert_eq!(stats.packets as usize, 3 * per_copy);
    assert_eq!(stats.copies, 3);
    assert_eq!(stats.bytes as usize, out.len());

    let frames = read_pcap(&out);
    assert!(
        frames.windows(2).all(|w| w[0].0 <= w[1].0),
        "monotonic time"
    );
    let mut per_copy_addrs: Vec<BTreeSet<IpAddr>> = vec![BTreeSet::new(); 3];
    for (i, (_, f)) in frames.iter().enumerate() {
        assert!(checksums_ok(f), "checksum after rewrite, frame {i}");
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let set = &mut per_copy_addrs[i / per_copy];
        match p.net {
            Some(NetSlice::Ipv4(ip)) => {
                set.insert(ip.header().source_addr().into());
                set.insert(ip.header().destination_addr().into());
            }
            Some(NetSlice::Ipv6(ip)) => {
                set.insert(ip.header().source_addr().into());
                set.insert(ip.header().destination_addr().into());
            }
            Some(NetSlice::Arp(arp)) => {
                let s: [u8; 4] = arp.sender_protocol_addr().try_into().unwrap();
                set.insert(Ipv4Addr::from(s).into());
            }
            None => {}
        }
    }
    let shared: [IpAddr; 2] = [
        Ipv4Addr::new(224, 0, 0, 251).into(),
        Ipv4Addr::BROADCAST.into(),
    ];
    for i in 0..3 {
        for j in i + 1..3 {
            let common: Vec<_> = per_copy_addrs[i].intersection(&per_copy_addrs[j]).collect();
            assert!(
                common.iter().all(|a| shared.contains(a)),
                "copies {i} and {j} share {common:?}"
            );
        }
        for a in &shared {
            assert!(per_copy_addrs[i].contains(a), "{a} kept in copy {i}");
        }
    }
    // Copy 1 of 192.168.7.10: third octet XOR 1, last octet kept; still private.
    assert!(per_copy_addrs[1].contains(&IpAddr::from(Ipv4Addr::new(192, 168, 6, 10))));
    Ok(())
}

#[test]
fn bench_skips_bad_inputs() {
    assert!(bench::parse_input("x", b"not a pcap at all, definitely not").is_err());
    let mut good = mixed_capture().unwrap();
    good.truncate(good.len() - 3);
    assert!(bench::parse_input("truncated", &good).is_err());
    let mut sll = mixed_capture().unwrap();
    sll[20] = 113; // LINKTYPE_LINUX_SLL
    assert!(bench::parse_input("sll", &sll).is_err());
}

/// The encapsulation captures are byte-for-byte reproducible, and every recipe's frames carry the
/// recipe's inner client somewhere inside (the tunnel wraps the conversation, it does not replace it).
#[test]
fn encapsulation_captures_are_deterministic_and_wrap_their_conversation() {
    use pcapgen::encap::{self, Encap};
    for e in Encap::ALL {
        let a = e.capture().unwrap().to_pcap_bytes().unwrap();
        let b = e.capture().unwrap().to_pcap_bytes().unwrap();
        assert_eq!(a, b, "{} is not deterministic", e.name());
        let (client, _) = e.inner_ends();
        let needle = match client.ip {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        };
        for (_, frame) in read_pcap(&a) {
            assert!(
                frame.windows(needle.len()).any(|w| w == needle.as_slice())
                    || frame.windows(4).any(|w| w == [10, 20, 0, 53])
                    || frame.windows(4).any(|w| w == [93, 184, 216, 34]),
                "{}: a frame without its inner addresses",
                e.name()
            );
        }
    }
    let all = encap::all().unwrap();
    let sum: usize = Encap::ALL.iter().map(|e| e.capture().unwrap().len()).sum();
    assert_eq!(all.len(), sum);
    let modified = Encap::QinqPppoe.capture().unwrap();
    let bytes = modified.write_modified_pcap(Vec::new()).unwrap();
    assert_eq!(&bytes[..4], &[0x34, 0xcd, 0xb2, 0xa1]);
    assert_eq!(
        bytes.len(),
        24 + modified
            .frames()
            .iter()
            .map(|f| 24 + f.data.len())
            .sum::<usize>()
    );
}
