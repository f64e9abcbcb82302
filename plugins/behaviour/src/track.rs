//! What the analyzer keeps while flows go by: per source address its connection attempts (bounded),
//! per attacked service its half-open connections, per address the DNS answers it was sent. Nothing
//! here decides anything; `detect` does, at the end.

use crate::count::{Distinct, Rate, Sample};
use pcapxray_plugin_sdk::collections::HashMap;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::{Flow, Protocol};
use std::net::IpAddr;

/// TCP flag bits.
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// Attempts kept per source address; later ones are only counted.
pub const MAX_PROBES_PER_ACTOR: usize = 8192;
/// Source addresses followed at once. When full, those with the fewest attempts are forgotten first
/// (a scanner has many, a spoofed flood source one), and the forgetting is counted.
pub const MAX_ACTORS: usize = 65_536;
/// Attacked services (address, port) and DNS-answer receivers followed at once; the same rule.
pub const MAX_VICTIMS: usize = 16_384;
/// Sampled evidence per finding.
pub const SAMPLE: usize = 20;
/// Flow ids listed per finding.
pub const FLOWS_LISTED: usize = 50;

/// One connection attempt a source made.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub ts: u64,
    pub target: IpAddr,
    pub port: u16,
    pub kind: ProbeKind,
    /// Not answered: no SYN-ACK, no reply datagram, no echo reply.
    pub failed: bool,
    /// The server refused it (RST without SYN-ACK).
    pub rejected: bool,
    /// TCP: the client never acknowledged anything, so no handshake completed (answered or not).
    pub half_open: bool,
    /// A TCP session that completed its handshake but stayed short and small: a login try.
    pub short_session: bool,
    /// SYN packets the attempt sent (a flood with a fixed source port sends many in one flow).
    pub syns: u64,
    pub flow: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    Tcp,
    Udp,
    Echo,
}

impl ProbeKind {
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Tcp => "tcp",
            ProbeKind::Udp => "udp",
            ProbeKind::Echo => "icmp echo",
        }
    }
}

/// A source address and what it tried.
#[derive(Default, Debug)]
pub struct Actor {
    pub probes: Vec<Probe>,
    /// Attempts beyond [`MAX_PROBES_PER_ACTOR`], counted only.
    pub unkept: u64,
}

/// Half-open connections to one service, from whoever sent them.
#[derive(Debug)]
pub struct Victim {
    pub rate: Rate,
    pub sources: Distinct,
    pub sample: Sample<IpAddr>,
    pub flows: Sample<u64>,
    pub attempts: u64,
    pub first: u64,
    pub last: u64,
}

impl Default for Victim {
    fn default() -> Victim {
        Victim {
            rate: Rate::default(),
            sources: Distinct::default(),
            sample: Sample::new(SAMPLE),
            flows: Sample::new(FLOWS_LISTED),
            attempts: 0,
            first: u64::MAX,
            last: 0,
        }
    }
}

impl Victim {
    fn add(&mut self, ts: u64, source: IpAddr, flow: u64, count: u64) {
        for _ in 0..count.min(1 << 20) {
            self.rate.add(ts);
        }
        self.sources.insert(&source);
        self.sample.add(&source);
        self.flows.add(&flow);
        self.attempts += count;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
    }
}

/// DNS answers an address was sent, with how much larger they were than what it asked.
#[derive(Debug)]
pub struct DnsReceiver {
    pub rate: Rate,
    pub resolvers: Distinct,
    pub sample: Sample<IpAddr>,
    pub flows: Sample<u64>,
    pub answers: u64,
    pub answer_bytes: u64,
    pub query_bytes: u64,
    /// Answers to queries this capture never saw.
    pub unsolicited: u64,
    pub first: u64,
    pub last: u64,
}

impl Default for DnsReceiver {
    fn default() -> DnsReceiver {
        DnsReceiver {
            rate: Rate::default(),
            resolvers: Distinct::default(),
            sample: Sample::new(SAMPLE),
            flows: Sample::new(FLOWS_LISTED),
            answers: 0,
            answer_bytes: 0,
            query_bytes: 0,
            unsolicited: 0,
            first: u64::MAX,
            last: 0,
        }
    }
}

/// Everything kept.
#[derive(Default, Debug)]
pub struct Tracker {
    pub actors: HashMap<IpAddr, Actor>,
    pub victims: HashMap<(IpAddr, u16), Victim>,
    pub dns: HashMap<IpAddr, DnsReceiver>,
    /// Attempts of sources that were forgotten to stay within [`MAX_ACTORS`].
    pub forgotten_attempts: u64,
    pub forgotten_victims: u64,
}

/// What counts as a short session: less than this much sent by the client, and over in under a minute.
pub struct ShortSession {
    pub max_client_bytes: u64,
    pub max_seconds: u64,
}

impl Tracker {
    pub fn observe(&mut self, flow: &Flow, short: &ShortSession) {
        let client = flow.client_ip();
        let server = flow.server_ip();
        if IpClass::of(client).is_group() || IpClass::of(server).is_group() {
            return;
        }
        if flow.protocol == Protocol::Udp && flow.server.port == 53 {
            self.dns_answer(flow, client, server);
        }
        let Some(probe) = probe(flow, short) else {
            return;
        };
        if probe.half_open {
            self.half_open(flow, client, server, probe.syns);
        }
        if self.actors.len() >= MAX_ACTORS && !self.actors.contains_key(&client) {
            self.forget_actors();
        }
        let actor = self.actors.entry(client).or_default();
        if actor.probes.len() < MAX_PROBES_PER_ACTOR {
            actor.probes.push(probe);
        } else {
            actor.unkept += 1;
        }
    }

    fn half_open(&mut self, flow: &Flow, client: IpAddr, server: IpAddr, syns: u64) {
        let key = (server, flow.server.port);
        if self.victims.len() >= MAX_VICTIMS && !self.victims.contains_key(&key) {
            let before = self.victims.len();
            forget_smallest(&mut self.victims, MAX_VICTIMS, |v| v.attempts);
            self.forgotten_victims += (before - self.victims.len()) as u64;
        }
        self.victims
            .entry(key)
            .or_default()
            .add(flow.first_seen(), client, flow.id, syns);
    }

    fn dns_answer(&mut self, flow: &Flow, client: IpAddr, server: IpAddr) {
        let down = &flow.to_client;
        if down.packets == 0 {
            return;
        }
        if self.dns.len() >= MAX_VICTIMS && !self.dns.contains_key(&client) {
            let before = self.dns.len();
            forget_smallest(&mut self.dns, MAX_VICTIMS, |d| d.answers);
            self.forgotten_victims += (before - self.dns.len()) as u64;
        }
        let r = self.dns.entry(client).or_default();
        let ts = if down.first_seen > 0 {
            down.first_seen
        } else {
            flow.first_seen()
        };
        for _ in 0..down.packets.min(1 << 20) {
            r.rate.add(ts);
        }
        r.resolvers.insert(&server);
        r.sample.add(&server);
        r.flows.add(&flow.id);
        r.answers += down.packets;
        r.answer_bytes += down.bytes;
        r.query_bytes += flow.to_server.bytes;
        if flow.to_server.packets == 0 {
            r.unsolicited += down.packets;
        }
        r.first = r.first.min(ts);
        r.last = r.last.max(flow.last_seen());
    }

    /// Forgets the sources with the fewest attempts until a quarter of the table is free.
    fn forget_actors(&mut self) {
        let mut keep_above = 1;
        while self.actors.len() > MAX_ACTORS * 3 / 4 {
            let mut forgotten = 0;
            self.actors.retain(|_, a| {
                let keep = a.probes.len() > keep_above;
                if !keep {
                    forgotten += a.probes.len() as u64 + a.unkept;
                }
                keep
            });
            self.forgotten_attempts += forgotten;
            keep_above *= 2;
        }
    }
}

/// Removes the entries with the smallest `size` until a quarter of the map is free.
fn forget_smallest<K: Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    limit: usize,
    size: impl Fn(&V) -> u64,
) {
    let mut keep_above = 1;
    while map.len() > limit * 3 / 4 && keep_above < u64::MAX / 2 {
        map.retain(|_, v| size(v) > keep_above);
        keep_above *= 2;
    }
}

/// The attempt a flow is, if it is one: a TCP connection begun with a SYN, a UDP exchange, an ICMP echo.
fn probe(flow: &Flow, short: &ShortSession) -> Option<Probe> {
    let (up, down) = (&flow.to_server, &flow.to_client);
    let mut half_open = false;
    let (kind, failed, rejected, syns) = match flow.protocol {
        Protocol::Tcp => {
            if up.tcp_flags & SYN == 0 {
                // Picked up mid-way: not an attempt this capture saw.
                return None;
            }
            let answered = down.tcp_flags & SYN != 0;
            let rejected = !answered && down.tcp_flags & RST != 0;
            half_open = up.tcp_flags & ACK == 0;
            // A flow whose client only ever sent SYNs: every SYN packet is an attempt.
            let syns = if half_open && up.tcp_flags & RST == 0 {
                up.packets.max(1)
            } else {
                1
            };
            (ProbeKind::Tcp, !answered, rejected, syns)
        }
        Protocol::Udp => (ProbeKind::Udp, down.packets == 0, false, 1),
        Protocol::Icmp | Protocol::Icmpv6 => {
            let echo = matches!(
                (flow.protocol, flow.icmp_type),
                (Protocol::Icmp, 8) | (Protocol::Icmpv6, 128)
            );
            if !echo {
                return None;
            }
            (ProbeKind::Echo, down.packets == 0, false, 1)
        }
        Protocol::Other => return None,
    };
    let duration_s = flow.last_seen().saturating_sub(flow.first_seen()) / 1_000_000_000;
    let short_session = kind == ProbeKind::Tcp
        && !failed
        && up.payload_bytes <= short.max_client_bytes
        && duration_s < short.max_seconds;
    Some(Probe {
        ts: flow.first_seen(),
        target: flow.server_ip(),
        port: flow.server.port,
        kind,
        failed,
        rejected,
        half_open,
        short_session,
        syns,
        flow: flow.id,
    })
}
