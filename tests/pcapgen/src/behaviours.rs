//! Captures of behaviour across flows, for the `behaviour` analyzer's tests: scans, sweeps, floods,
//! brute force and DNS amplification, each with a size parameter (so a test can write one just under
//! its threshold) and harmless look-alikes. Every recipe is deterministic: the same arguments give the
//! same bytes.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::scenarios::public_ipv4_hosts;
use crate::{Capture, Endpoint, Host, Mac, Side, TcpEnd, TcpSegment};

/// 2024-03-01 09:00:00 UTC, the start of every recipe here.
const START: u64 = 1_709_283_600;
pub const SCANNER: Ipv4Addr = Ipv4Addr::new(192, 168, 56, 66);
pub const TARGET: Ipv4Addr = Ipv4Addr::new(192, 168, 56, 10);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 56, 20);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 56, 30);
const SCANNER_MAC: Mac = [0x08, 0x00, 0x27, 0x66, 0x66, 0x66];
const TARGET_MAC: Mac = [0x00, 0x50, 0x56, 0x10, 0x10, 0x10];
const SERVER_MAC: Mac = [0x00, 0x50, 0x56, 0x20, 0x20, 0x20];
const CLIENT_MAC: Mac = [0x00, 0x50, 0x56, 0x30, 0x30, 0x30];
const ROUTER_MAC: Mac = [0x00, 0x0c, 0x29, 0x01, 0x01, 0x01];

fn capture(seed: u64) -> Capture {
    Capture::with_seed(Duration::from_secs(START), seed)
}

fn syn(seq: u32) -> TcpSegment<'static> {
    TcpSegment {
        seq,
        syn: true,
        window: 1024,
        ..Default::default()
    }
}

impl Capture {
    /// A SYN that nobody answers.
    pub fn tcp_syn_only(&mut self, client: Endpoint, server: Endpoint) -> io::Result<()> {
        let isn = self.rng().next_u32();
        self.push_tcp(client, server, &syn(isn))?;
        self.think();
        Ok(())
    }

    /// A SYN scan probe of an open port: SYN, SYN-ACK, and the scanner's RST.
    pub fn tcp_syn_probe_open(&mut self, client: Endpoint, server: Endpoint) -> io::Result<()> {
        let isn = self.rng().next_u32();
        self.push_tcp(client, server, &syn(isn))?;
        self.wait_reply(client.ip, server.ip);
        let sisn = self.rng().next_u32();
        let synack = TcpSegment {
            seq: sisn,
            ack: Some(isn.wrapping_add(1)),
            syn: true,
            window: 64240,
            ..Default::default()
        };
        self.push_tcp(server, client, &synack)?;
        self.think();
        let rst = TcpSegment {
            seq: isn.wrapping_add(1),
            rst: true,
            ..Default::default()
        };
        self.push_tcp(client, server, &rst)?;
        self.think();
        Ok(())
    }
}

/// `ports` ports of one host probed by SYN scan (1..=ports): two open (22, 80 when in range), the rest
/// refused with a reset, 2 ms apart.
pub fn port_scan(ports: u16) -> io::Result<Capture> {
    let mut c = capture(101);
    let scanner = Host::new(SCANNER_MAC, SCANNER);
    let target = Host::new(TARGET_MAC, TARGET);
    for (i, port) in (1..=ports).enumerate() {
        let from = scanner.port(40000 + i as u16);
        if port == 22 || port == 80 {
            c.tcp_syn_probe_open(from, target.port(port))?;
        } else {
            c.tcp_refused(from, target.port(port))?;
        }
        c.advance(Duration::from_millis(2));
    }
    Ok(c)
}

/// One port (445) of `hosts` addresses 10.20.0.1.. probed with a SYN: one in ten answers, the rest stay
/// silent.
pub fn host_sweep(hosts: u32) -> io::Result<Capture> {
    let mut c = capture(102);
    let scanner = Host::new(SCANNER_MAC, SCANNER);
    for i in 0..hosts {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 20, 0, 1)) + i);
        let target = Endpoint::new(ROUTER_MAC, ip, 445);
        let from = scanner.port(1024 + (i % 60000) as u16);
        if i % 10 == 3 {
            c.tcp_syn_probe_open(from, target)?;
        } else {
            c.tcp_syn_only(from, target)?;
        }
        c.advance(Duration::from_millis(5));
    }
    Ok(c)
}

/// ICMP echo requests to `hosts` addresses 192.168.57.1..; every fourth answers.
pub fn ping_sweep(hosts: u32) -> io::Result<Capture> {
    let mut c = capture(103);
    let scanner = Host::new(SCANNER_MAC, SCANNER);
    for i in 0..hosts {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 168, 57, 1)) + i);
        let target = Host::new(ROUTER_MAC, ip);
        c.icmp_echo(scanner, target, 0x4242, 1, i % 4 == 0)?;
        c.advance(Duration::from_millis(10));
    }
    Ok(c)
}

/// `sources` distinct spoofed public addresses each send one SYN to SERVER:80 within about 2 s; the
/// server answers none of them.
pub fn syn_flood_spoofed(sources: usize) -> io::Result<Capture> {
    let mut c = capture(104);
    let server = Endpoint::new(SERVER_MAC, SERVER, 80);
    let spacing = Duration::from_nanos(2_000_000_000 / sources.max(1) as u64);
    for (i, ip) in public_ipv4_hosts(sources, 7).into_iter().enumerate() {
        let from = Endpoint::new(ROUTER_MAC, ip, 1024 + (i % 60000) as u16);
        let isn = c.rng().next_u32();
        c.push_tcp(from, server, &syn(isn))?;
        c.advance(spacing);
    }
    Ok(c)
}

/// One source sends `syns` SYNs from changing ports to SERVER:80 within about 2 s; the server answers
/// each with a SYN-ACK the source never completes (it resets).
pub fn syn_flood_direct(syns: u32) -> io::Result<Capture> {
    let mut c = capture(105);
    let attacker = Host::new(SCANNER_MAC, SCANNER);
    let server = Endpoint::new(SERVER_MAC, SERVER, 80);
    for i in 0..syns {
        c.tcp_syn_probe_open(attacker.port(1024 + (i % 60000) as u16), server)?;
        c.set_time(
            Duration::from_secs(START) + Duration::from_millis(2000 * i as u64 / syns as u64),
        );
    }
    Ok(c)
}

/// `sessions` short SSH sessions from CLIENT to SERVER:22, each a handshake, a little data each way and
/// FIN, 500 ms apart: the shape of password guessing.
pub fn brute_force(sessions: u32) -> io::Result<Capture> {
    let mut c = capture(106);
    let client = Host::new(CLIENT_MAC, CLIENT);
    let server = Endpoint::new(SERVER_MAC, SERVER, 22);
    let banner = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
    for i in 0..sessions {
        let hello = b"SSH-2.0-libssh_0.9.6\r\n".to_vec();
        let kex = c.rng().bytes(1400);
        let reply = c.rng().bytes(1100);
        c.tcp_session(
            client.port(41000 + i as u16),
            server,
            &[
                (Side::Server, &banner),
                (Side::Client, &hello),
                (Side::Client, &kex),
                (Side::Server, &reply),
            ],
            TcpEnd::Fin,
        )?;
        c.advance(Duration::from_millis(500));
    }
    Ok(c)
}

/// `answers` DNS answers of 1,200 bytes from `resolvers` public resolvers to CLIENT, to queries the
/// capture never saw (the victim of a reflection attack sees only the answers), within about 5 s.
pub fn dns_amplification(answers: u32, resolvers: usize) -> io::Result<Capture> {
    let mut c = capture(107);
    let victim = Host::new(CLIENT_MAC, CLIENT);
    let servers = public_ipv4_hosts(resolvers, 11);
    for i in 0..answers {
        let resolver = servers[i as usize % servers.len()];
        let mut answer = c.rng().bytes(1200);
        // A DNS header: id, flags (response, recursion available), one question, many answers.
        answer[..12].copy_from_slice(&[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 40, 0, 0, 0, 0]);
        c.push_udp(
            Endpoint::new(ROUTER_MAC, resolver, 53),
            victim.port(20000 + (i % 40000) as u16),
            &answer,
        )?;
        c.advance(Duration::from_millis(5000 / answers.max(1) as u64));
    }
    Ok(c)
}

/// Look-alike of a host sweep: a browser opening 80 HTTPS connections to 80 CDN addresses, every one
/// answered, with a small request and response each.
pub fn cdn_browsing() -> io::Result<Capture> {
    let mut c = capture(108);
    let client = Host::new(CLIENT_MAC, CLIENT);
    let servers: Vec<IpAddr> = public_ipv4_hosts(80, 13)
        .into_iter()
        .map(IpAddr::from)
        .collect();
    c.contact_hosts(client, ROUTER_MAC, &servers, 443, 50000)?;
    Ok(c)
}

/// Look-alike of brute force: a backup job that opens 5 SSH sessions to a server and sends 200 KB in
/// each, and a monitoring check that logs in 10 times in 5 minutes.
pub fn backup_job() -> io::Result<Capture> {
    let mut c = capture(109);
    let client = Host::new(CLIENT_MAC, CLIENT);
    let server = Endpoint::new(SERVER_MAC, SERVER, 22);
    for i in 0..5u16 {
        let data = c.rng().bytes(200_000);
        c.tcp_session(
            client.port(42000 + i),
            server,
            &[(Side::Client, &data), (Side::Server, b"ok")],
            TcpEnd::Fin,
        )?;
        c.advance(Duration::from_secs(2));
    }
    for i in 0..10u16 {
        let hello = c.rng().bytes(1500);
        c.tcp_session(
            client.port(43000 + i),
            server,
            &[
                (Side::Client, &hello),
                (Side::Server, b"SSH-2.0-OpenSSH_9.6\r\n"),
            ],
            TcpEnd::Fin,
        )?;
        c.advance(Duration::from_secs(30));
    }
    Ok(c)
}

/// Look-alike of a SYN flood: a busy web server that 300 clients connect to within 10 s, every
/// connection completed, a request and a response each.
pub fn busy_server() -> io::Result<Capture> {
    let mut c = capture(110);
    let server = Endpoint::new(SERVER_MAC, SERVER, 80);
    let request = b"GET / HTTP/1.1\r\nHost: intranet\r\n\r\n".to_vec();
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    for (i, ip) in public_ipv4_hosts(300, 17).into_iter().enumerate() {
        c.tcp_session(
            Endpoint::new(ROUTER_MAC, ip, 30000 + i as u16),
            server,
            &[(Side::Client, &request), (Side::Server, &response)],
            TcpEnd::Fin,
        )?;
        c.set_time(Duration::from_secs(START) + Duration::from_millis(33 * i as u64));
    }
    Ok(c)
}

/// Look-alike of DNS amplification: a client that looks up 300 names through its resolver, with
/// ordinary answers of about 150 bytes to queries of about 40.
pub fn busy_dns_client() -> io::Result<Capture> {
    let mut c = capture(111);
    let client = Host::new(CLIENT_MAC, CLIENT);
    let resolver = Endpoint::new(SERVER_MAC, SERVER, 53);
    for i in 0..300u16 {
        let mut query = c.rng().bytes(40);
        query[..12].copy_from_slice(&[0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        let mut answer = c.rng().bytes(150);
        answer[..12].copy_from_slice(&[0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
        c.udp_exchange(client.port(30000 + i), resolver, &query, Some(&answer))?;
        c.advance(Duration::from_millis(20));
    }
    Ok(c)
}

/// SCANNER asks by ARP for `hosts` addresses 192.168.56.1.. within a few seconds; nobody but TARGET
/// answers (an nmap host discovery of an almost empty subnet).
pub fn arp_sweep(hosts: u32) -> io::Result<Capture> {
    let mut c = capture(112);
    let scanner = Host::new(SCANNER_MAC, SCANNER);
    let target = Host::new(TARGET_MAC, TARGET);
    for i in 0..hosts {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 168, 56, 100)) + i);
        c.arp_request(scanner, ip)?;
        c.advance(Duration::from_millis(8));
    }
    c.arp_request(scanner, TARGET)?;
    c.arp_reply(target, scanner)?;
    Ok(c)
}

/// Look-alike of an ARP sweep: a router that refreshes the ARP entries of 80 live hosts, every one of
/// which answers.
pub fn arp_refresh() -> io::Result<Capture> {
    let mut c = capture(113);
    let router = Host::new(ROUTER_MAC, Ipv4Addr::new(192, 168, 56, 1));
    for i in 0..80u32 {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 168, 56, 100)) + i);
        let mac = [0x00, 0x50, 0x56, 0x77, 0x00, i as u8];
        c.arp_request(router, ip)?;
        c.arp_reply(Host::new(mac, ip), router)?;
        c.advance(Duration::from_millis(50));
    }
    Ok(c)
}

/// A CAM-table flood (macof): `frames` TCP SYNs within about 2 s, each from a random source MAC and
/// address to a random destination; about half the random MACs have the multicast bit set, as
/// macof's do.
pub fn mac_flood(frames: u32) -> io::Result<Capture> {
    let mut c = capture(114);
    for _ in 0..frames {
        let mut src_mac = [0u8; 6];
        let mut dst_mac = [0u8; 6];
        src_mac.copy_from_slice(&c.rng().bytes(6));
        dst_mac.copy_from_slice(&c.rng().bytes(6));
        let src = Ipv4Addr::from(c.rng().next_u32());
        let dst = Ipv4Addr::from(c.rng().next_u32());
        let sport = c.rng().next_u16();
        let dport = c.rng().next_u16();
        let isn = c.rng().next_u32();
        c.push_tcp(
            Endpoint::new(src_mac, src, sport),
            Endpoint::new(dst_mac, dst, dport),
            &syn(isn),
        )?;
        c.advance(Duration::from_nanos(2_000_000_000 / frames.max(1) as u64));
    }
    Ok(c)
}

/// Look-alike of a MAC flood: a busy segment where 400 devices each send a few frames within 10 s.
pub fn busy_segment() -> io::Result<Capture> {
    let mut c = capture(115);
    let gateway = Host::new(ROUTER_MAC, Ipv4Addr::new(10, 30, 0, 1));
    for round in 0..3u32 {
        for i in 0..400u32 {
            let mac = [0x00, 0x1b, 0x21, 0x40, (i >> 8) as u8, i as u8];
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 30, 1, 0)) + i);
            c.udp_send(
                Endpoint::new(mac, ip, 40000 + round as u16),
                gateway.port(53),
                b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00",
            )?;
        }
        c.advance(Duration::from_secs(3));
    }
    Ok(c)
}

fn lease<'a>(client_mac: Mac, xid: u32, server: Host) -> crate::DhcpLease<'a> {
    crate::DhcpLease {
        client_mac,
        xid,
        host_name: None,
        vendor_class: None,
        requested_ip: None,
        offered_ip: Ipv4Addr::new(192, 168, 56, 200),
        server,
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        router: Ipv4Addr::new(192, 168, 56, 1),
        dns: &[],
        domain: None,
        lease_secs: 3600,
    }
}

/// DHCP starvation (yersinia, dhcpstarv): DISCOVERs for `clients` random client hardware addresses
/// within about 10 s.
pub fn dhcp_starvation(clients: u32) -> io::Result<Capture> {
    let mut c = capture(116);
    let server = Host::new(ROUTER_MAC, Ipv4Addr::new(192, 168, 56, 1));
    for i in 0..clients {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&c.rng().bytes(6));
        mac[0] &= 0xfe;
        c.dhcp_discover(&lease(mac, 0x5000_0000 + i, server))?;
        c.advance(Duration::from_millis(10_000 / clients.max(1) as u64));
    }
    Ok(c)
}

/// Look-alike of DHCP starvation: a LAN at boot, 30 machines each getting a lease (DISCOVER, OFFER,
/// REQUEST, ACK) within a minute.
pub fn dhcp_boot() -> io::Result<Capture> {
    let mut c = capture(117);
    let server = Host::new(ROUTER_MAC, Ipv4Addr::new(192, 168, 56, 1));
    for i in 0..30u32 {
        let mac = [0x00, 0x1b, 0x21, 0x50, 0x00, i as u8];
        c.dhcp_dora(&lease(mac, 0x6000_0000 + i, server))?;
        c.advance(Duration::from_secs(2));
    }
    Ok(c)
}

/// One TCP connection for each of Zeek's connection states, CLIENT to SERVER:80, client port 1001 for
/// the first state in [`CONN_STATES`], 1002 for the second, and so on, one second apart.
pub fn conn_states() -> io::Result<Capture> {
    let mut c = capture(118);
    let client = Host::new(CLIENT_MAC, CLIENT);
    let server = Endpoint::new(SERVER_MAC, SERVER, 80);
    for (i, (state, _)) in CONN_STATES.iter().enumerate() {
        let from = client.port(1001 + i as u16);
        state_segments(&mut c, state, from, server)?;
        c.advance(Duration::from_secs(1));
    }
    Ok(c)
}

/// Each state with the history Zeek writes for the segments [`conn_states`] sends.
pub const CONN_STATES: [(&str, &str); 13] = [
    ("S0", "S"),
    ("S1", "ShA"),
    ("SF", "ShADadFf"),
    ("REJ", "Sr"),
    ("S2", "ShAF"),
    ("S3", "ShAf"),
    ("RSTO", "ShAR"),
    ("RSTR", "ShAr"),
    ("RSTOS0", "SR"),
    ("RSTRH", "^hr"),
    ("SH", "SF"),
    ("SHR", "^hf"),
    ("OTH", "Da"),
];

fn state_segments(c: &mut Capture, state: &str, cl: Endpoint, sv: Endpoint) -> io::Result<()> {
    let (cs, ss) = (c.rng().next_u32(), c.rng().next_u32());
    let seg = |seq: u32, ack: Option<u32>, flags: &str, payload: &'static [u8]| TcpSegment {
        seq,
        ack,
        syn: flags.contains('S'),
        fin: flags.contains('F'),
        rst: flags.contains('R'),
        psh: !payload.is_empty(),
        window: 1024,
        payload,
        ..Default::default()
    };
    let (c1, s1) = (cs.wrapping_add(1), ss.wrapping_add(1));
    // The handshake most states start with.
    let handshake = |c: &mut Capture| -> io::Result<()> {
        c.push_tcp(cl, sv, &seg(cs, None, "S", b""))?;
        c.push_tcp(sv, cl, &seg(ss, Some(c1), "S", b""))?;
        c.push_tcp(cl, sv, &seg(c1, Some(s1), "", b""))
    };
    match state {
        "S0" => c.push_tcp(cl, sv, &seg(cs, None, "S", b""))?,
        "S1" => handshake(c)?,
        "SF" => {
            handshake(c)?;
            c.push_tcp(cl, sv, &seg(c1, Some(s1), "", b"GET / HTTP/1.0\r\n\r\n"))?;
            c.push_tcp(sv, cl, &seg(s1, Some(c1 + 18), "", b""))?;
            c.push_tcp(
                sv,
                cl,
                &seg(s1, Some(c1 + 18), "", b"HTTP/1.0 200 OK\r\n\r\n"),
            )?;
            c.push_tcp(cl, sv, &seg(c1 + 18, Some(s1 + 19), "F", b""))?;
            c.push_tcp(sv, cl, &seg(s1 + 19, Some(c1 + 19), "F", b""))?;
        }
        "REJ" => {
            c.push_tcp(cl, sv, &seg(cs, None, "S", b""))?;
            c.push_tcp(sv, cl, &seg(0, Some(c1), "R", b""))?;
        }
        "S2" => {
            handshake(c)?;
            c.push_tcp(cl, sv, &seg(c1, Some(s1), "F", b""))?;
        }
        "S3" => {
            handshake(c)?;
            c.push_tcp(sv, cl, &seg(s1, Some(c1), "F", b""))?;
        }
        "RSTO" => {
            handshake(c)?;
            c.push_tcp(cl, sv, &seg(c1, None, "R", b""))?;
        }
        "RSTR" => {
            handshake(c)?;
            c.push_tcp(sv, cl, &seg(s1, None, "R", b""))?;
        }
        "RSTOS0" => {
            c.push_tcp(cl, sv, &seg(cs, None, "S", b""))?;
            c.push_tcp(cl, sv, &seg(c1, None, "R", b""))?;
        }
        "RSTRH" => {
            c.push_tcp(sv, cl, &seg(ss, Some(c1), "S", b""))?;
            c.push_tcp(sv, cl, &seg(s1, None, "R", b""))?;
        }
        "SH" => {
            c.push_tcp(cl, sv, &seg(cs, None, "S", b""))?;
            c.push_tcp(cl, sv, &seg(c1, None, "F", b""))?;
        }
        "SHR" => {
            c.push_tcp(sv, cl, &seg(ss, Some(c1), "S", b""))?;
            c.push_tcp(sv, cl, &seg(s1, Some(c1), "F", b""))?;
        }
        "OTH" => {
            c.push_tcp(cl, sv, &seg(c1, Some(s1), "", b"more of a stream"))?;
            c.push_tcp(sv, cl, &seg(s1, Some(c1 + 16), "", b""))?;
        }
        other => return Err(crate::invalid(format!("no recipe for state {other}"))),
    }
    Ok(())
}

/// `macs` distinct unicast source MACs (from 02:00:00:00:00:00, locally administered), each sending one
/// ARP request for the gateway 10.0.0.1 from its own address 10.x.y.z, within about 10 s: the
/// million-MAC shape of the performance issue.
pub fn arp_many_macs(macs: u32) -> io::Result<Capture> {
    let mut c = capture(120);
    let gateway = Ipv4Addr::new(10, 0, 0, 1);
    let spacing = Duration::from_nanos(10_000_000_000 / macs.max(1) as u64);
    for i in 0..macs {
        let n = i + 2;
        let mac = [
            0x02,
            0,
            (n >> 24) as u8,
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ];
        let ip = Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff));
        c.arp_request(Host::new(mac, ip), gateway)?;
        c.advance(spacing);
    }
    Ok(c)
}

/// `hosts` distinct public addresses, each sending one 32-byte UDP datagram to SERVER:5000 within about
/// 10 s: a million IP hosts with one packet each.
pub fn udp_many_hosts(hosts: usize) -> io::Result<Capture> {
    let mut c = capture(121);
    let server = Endpoint::new(SERVER_MAC, SERVER, 5000);
    let spacing = Duration::from_nanos(10_000_000_000 / hosts.max(1) as u64);
    let payload = [0x42u8; 32];
    for (i, ip) in public_ipv4_hosts(hosts, 13).into_iter().enumerate() {
        c.push_udp(
            Endpoint::new(ROUTER_MAC, ip, 1024 + (i % 60000) as u16),
            server,
            &payload,
        )?;
        c.advance(spacing);
    }
    Ok(c)
}

/// A named recipe with its size, for `pcapgen shape`: the captures the behaviour tests and the
/// benchmark's capture shapes are written from.
pub fn shape(name: &str, count: u64) -> io::Result<Capture> {
    let n32 = u32::try_from(count).map_err(crate::invalid)?;
    match name {
        "port-scan" => port_scan(u16::try_from(count).map_err(crate::invalid)?),
        "host-sweep" => host_sweep(n32),
        "ping-sweep" => ping_sweep(n32),
        "syn-flood" => syn_flood_spoofed(count as usize),
        "syn-flood-direct" => syn_flood_direct(n32),
        "brute-force" => brute_force(n32),
        "dns-amplification" => dns_amplification(n32, 20),
        "arp-sweep" => arp_sweep(n32),
        "mac-flood" => mac_flood(n32),
        "dhcp-starvation" => dhcp_starvation(n32),
        "arp-many-macs" => arp_many_macs(n32),
        "udp-many-hosts" => udp_many_hosts(count as usize),
        "bulk-transfer-mb" => crate::transfer::bulk_transfer(count as usize * 1_000_000),
        "http-download-mb" => crate::transfer::http_download(count as usize * 1_000_000),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown shape `{other}`; known: {}", SHAPES.join(", ")),
        )),
    }
}

/// The names [`shape`] knows.
pub const SHAPES: [&str; 14] = [
    "port-scan",
    "host-sweep",
    "ping-sweep",
    "syn-flood",
    "syn-flood-direct",
    "brute-force",
    "dns-amplification",
    "arp-sweep",
    "mac-flood",
    "dhcp-starvation",
    "arp-many-macs",
    "udp-many-hosts",
    "bulk-transfer-mb",
    "http-download-mb",
];
