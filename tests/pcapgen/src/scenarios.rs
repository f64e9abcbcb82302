//! Larger traffic patterns: one client talking to many internet hosts, and
//! periodic "beacon" connections.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::{Capture, Endpoint, Host, Mac, Rng, Side, TcpEnd};

/// True for IPv4 addresses that are globally routable unicast (not private,
/// shared, loopback, link-local, documentation, benchmarking, multicast or reserved).
pub fn is_public_ipv4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113))
}

/// `n` distinct public IPv4 addresses, deterministic for `seed`.
pub fn public_ipv4_hosts(n: usize, seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let ip = Ipv4Addr::from(rng.next_u32());
        if is_public_ipv4(ip) && ip.octets()[3] != 0 && ip.octets()[3] != 255 && seen.insert(ip) {
            out.push(ip);
        }
    }
    out
}

/// Periodic connections from one client to one server.
#[derive(Clone, Debug)]
pub struct Beacon<'a> {
    /// The client; its port is the source port of the first connection,
    /// each later connection uses the next port.
    pub client: Endpoint,
    /// The server (for an internet server: the router's MAC).
    pub server: Endpoint,
    /// Number of connections.
    pub count: u32,
    /// Nominal time between connection starts.
    pub period: Duration,
    /// Each start deviates uniformly by up to ± this.
    pub jitter: Duration,
    /// What the client sends in each connection.
    pub request: &'a [u8],
    /// What the server answers (nothing when empty).
    pub response: &'a [u8],
}

impl Capture {
    /// One short TCP session from `client` (via the router `gateway_mac`) to
    /// each server in turn: a small request, a small response, FIN. Source
    /// ports count up from `first_port`; 50–500 ms pass between sessions.
    pub fn contact_hosts(
        &mut self,
        client: Host,
        gateway_mac: Mac,
        servers: &[IpAddr],
        server_port: u16,
        first_port: u16,
    ) -> io::Result<()> {
        for (i, ip) in servers.iter().enumerate() {
            let port = first_port.wrapping_add(i as u16).max(1024);
            let req = self.rng().bytes(64 + (i % 7) * 16);
            let resp = self.rng().bytes(200 + (i % 11) * 40);
            let server = Endpoint::new(gateway_mac, *ip, server_port);
            self.tcp_session(
                client.port(port),
                server,
                &[(Side::Client, &req), (Side::Server, &resp)],
                TcpEnd::Fin,
            )?;
            let gap = self.rng().range(50_000, 500_000);
            self.advance(Duration::from_micros(gap));
        }
        Ok(())
    }

    /// `client` contacts `n` distinct public IPv4 hosts (from the capture's
    /// random source) on `server_port`; returns the addresses in order.
    pub fn many_hosts(
        &mut self,
        client: Host,
        gateway_mac: Mac,
        n: usize,
        server_port: u16,
    ) -> io::Result<Vec<Ipv4Addr>> {
        let seed = self.rng().next_u64();
        let hosts = public_ipv4_hosts(n, seed);
        let ips: Vec<IpAddr> = hosts.iter().map(|&a| a.into()).collect();
        self.contact_hosts(client, gateway_mac, &ips, server_port, 49152)?;
        Ok(hosts)
    }

    /// Periodic connections as `b` describes, starting at the current time.
    /// Returns each connection's start time; the clock ends after the last.
    pub fn beacon(&mut self, b: &Beacon) -> io::Result<Vec<Duration>> {
        let t0 = self.now();
        let jitter = b.jitter.as_micros() as u64;
        let mut starts = Vec::with_capacity(b.count as usize);
        for i in 0..b.count {
            let nominal = t0 + b.period * i;
            let j = self.rng().range(0, 2 * jitter);
            let start = if j >= jitter || i == 0 {
                nominal + Duration::from_micros(j.abs_diff(jitter))
            } else {
                nominal - Duration::from_micros(jitter - j)
            };
            self.set_time(start);
            starts.push(start);
            let client = b.client.with_port(b.client.port.wrapping_add(i as u16));
            let mut payloads: Vec<(Side, &[u8])> = vec![(Side::Client, b.request)];
            if !b.response.is_empty() {
                payloads.push((Side::Server, b.response));
            }
            self.tcp_session(client, b.server, &payloads, TcpEnd::Fin)?;
        }
        Ok(starts)
    }
}
