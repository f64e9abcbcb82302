//! The decisions, made once the capture is over: which sources scanned, swept or brute-forced, which
//! services were flooded and which addresses were flooded with DNS answers. Each behaviour gives at most
//! one finding per actor, carrying its evidence.

use crate::count::{Sample, most_distinct_in_window};
use crate::track::{Actor, DnsReceiver, FLOWS_LISTED, Probe, ProbeKind, SAMPLE, Tracker, Victim};
use crate::{Behaviour, Config, Evidence};
use std::collections::BTreeMap;
use std::net::IpAddr;

const NS: u64 = 1_000_000_000;

/// Every behaviour found, in a stable order (behaviour, then actor).
pub fn detect(tracker: &Tracker, config: &Config) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut actors: Vec<(&IpAddr, &Actor)> = tracker.actors.iter().collect();
    actors.sort_by_key(|(ip, _)| **ip);
    for (ip, actor) in &actors {
        out.extend(port_scan(**ip, actor, config));
        out.extend(host_sweep(**ip, actor, config));
        out.extend(ping_sweep(**ip, actor, config));
        out.extend(brute_force(**ip, actor, config));
        out.extend(direct_flood(**ip, actor, config));
    }
    let mut victims: Vec<(&(IpAddr, u16), &Victim)> = tracker.victims.iter().collect();
    victims.sort_by_key(|(k, _)| **k);
    // One finding per attacked address, even when several of its ports were flooded.
    let mut per_address: BTreeMap<IpAddr, Vec<(u16, &Victim)>> = BTreeMap::new();
    for ((ip, port), v) in victims {
        if spoofed_flood(v, config) {
            per_address.entry(*ip).or_default().push((*port, v));
        }
    }
    for (ip, services) in per_address {
        out.push(spoofed_flood_evidence(ip, &services, config));
    }
    let mut receivers: Vec<(&IpAddr, &DnsReceiver)> = tracker.dns.iter().collect();
    receivers.sort_by_key(|(ip, _)| **ip);
    for (ip, r) in receivers {
        out.extend(amplification(*ip, r, config));
    }
    out.sort_by_key(|e| (e.behaviour, e.actor));
    out
}

/// What a group of probes adds up to.
struct Group<'a> {
    probes: Vec<&'a Probe>,
}

impl<'a> Group<'a> {
    fn failed_share(&self) -> f64 {
        let failed = self.probes.iter().filter(|p| p.failed).count();
        failed as f64 / self.probes.len().max(1) as f64
    }
}

fn window_ns(config: &Config) -> u64 {
    config.window_seconds.saturating_mul(NS)
}

/// Common evidence from a set of probes.
fn evidence(behaviour: Behaviour, actor: IpAddr, probes: &[&Probe]) -> Evidence {
    let mut targets = Sample::new(SAMPLE);
    let mut ports = Sample::new(SAMPLE);
    let mut flows = Sample::new(FLOWS_LISTED);
    let mut distinct_targets = std::collections::BTreeSet::new();
    let mut distinct_ports = std::collections::BTreeSet::new();
    let (mut first, mut last) = (u64::MAX, 0);
    for p in probes {
        targets.add(&p.target.to_string());
        if p.kind != ProbeKind::Echo {
            ports.add(&format!("{}/{}", p.port, p.kind.name()));
            distinct_ports.insert((p.port, p.kind));
        }
        flows.add(&p.flow);
        distinct_targets.insert(p.target);
        first = first.min(p.ts);
        last = last.max(p.ts);
    }
    let attempts: u64 = probes.iter().map(|p| p.syns.max(1)).sum();
    let failed = probes.iter().filter(|p| p.failed).count() as u64;
    let rejected = probes.iter().filter(|p| p.rejected).count() as u64;
    Evidence {
        behaviour,
        actor,
        attempts,
        failed,
        rejected,
        targets: distinct_targets.len().to_string(),
        ports: distinct_ports.len() as u64,
        first,
        last,
        sample_targets: targets.items().to_vec(),
        sample_ports: ports.items().to_vec(),
        flows: flows.items().to_vec(),
        flow_count: probes.len() as u64,
        reason: String::new(),
        unkept: 0,
    }
}

fn port_scan(actor: IpAddr, a: &Actor, config: &Config) -> Option<Evidence> {
    let mut by_target: BTreeMap<(IpAddr, ProbeKind), Group> = BTreeMap::new();
    for p in a.probes.iter().filter(|p| p.kind != ProbeKind::Echo) {
        by_target
            .entry((p.target, p.kind))
            .or_insert(Group { probes: Vec::new() })
            .probes
            .push(p);
    }
    let mut hit: Vec<&Probe> = Vec::new();
    let mut most = 0;
    for group in by_target.values() {
        let mut events: Vec<(u64, u16)> = group.probes.iter().map(|p| (p.ts, p.port)).collect();
        let ports = most_distinct_in_window(&mut events, window_ns(config));
        if ports >= config.port_scan_ports && group.failed_share() >= config.min_failed_share {
            most = most.max(ports);
            hit.extend(group.probes.iter().copied());
        }
    }
    if hit.is_empty() {
        return None;
    }
    let mut e = evidence(Behaviour::PortScan, actor, &hit);
    e.unkept = a.unkept;
    e.reason = format!(
        "{actor} tried {} ports on {} host(s) ({most} distinct ports on one host within {} s, at least {} make a \
         scan); {} of {} attempts were not answered{}",
        e.ports,
        e.targets,
        config.window_seconds,
        config.port_scan_ports,
        e.failed,
        e.flow_count,
        rejected_words(e.rejected)
    );
    Some(e)
}

fn host_sweep(actor: IpAddr, a: &Actor, config: &Config) -> Option<Evidence> {
    let mut by_port: BTreeMap<(u16, ProbeKind), Group> = BTreeMap::new();
    for p in a.probes.iter().filter(|p| p.kind != ProbeKind::Echo) {
        by_port
            .entry((p.port, p.kind))
            .or_insert(Group { probes: Vec::new() })
            .probes
            .push(p);
    }
    let mut hit: Vec<&Probe> = Vec::new();
    let mut most = 0;
    for group in by_port.values() {
        let mut events: Vec<(u64, IpAddr)> =
            group.probes.iter().map(|p| (p.ts, p.target)).collect();
        let hosts = most_distinct_in_window(&mut events, window_ns(config));
        if hosts >= config.sweep_hosts && group.failed_share() >= config.min_failed_share {
            most = most.max(hosts);
            hit.extend(group.probes.iter().copied());
        }
    }
    if hit.is_empty() {
        return None;
    }
    let mut e = evidence(Behaviour::HostSweep, actor, &hit);
    e.unkept = a.unkept;
    e.reason = format!(
        "{actor} tried {} on {} hosts ({most} distinct hosts on one port within {} s, at least {} make a sweep); \
         {} of {} attempts were not answered{}",
        e.sample_ports.join(", "),
        e.targets,
        config.window_seconds,
        config.sweep_hosts,
        e.failed,
        e.flow_count,
        rejected_words(e.rejected)
    );
    Some(e)
}

fn ping_sweep(actor: IpAddr, a: &Actor, config: &Config) -> Option<Evidence> {
    let echoes: Vec<&Probe> = a
        .probes
        .iter()
        .filter(|p| p.kind == ProbeKind::Echo)
        .collect();
    let mut events: Vec<(u64, IpAddr)> = echoes.iter().map(|p| (p.ts, p.target)).collect();
    let hosts = most_distinct_in_window(&mut events, window_ns(config));
    if hosts < config.ping_sweep_hosts {
        return None;
    }
    let mut e = evidence(Behaviour::PingSweep, actor, &echoes);
    e.reason = format!(
        "{actor} sent ICMP echo requests to {} hosts ({hosts} within {} s, at least {} make a sweep); {} were not \
         answered",
        e.targets, config.window_seconds, config.ping_sweep_hosts, e.failed
    );
    Some(e)
}

fn brute_force(actor: IpAddr, a: &Actor, config: &Config) -> Option<Evidence> {
    let mut by_service: BTreeMap<(IpAddr, u16), Vec<&Probe>> = BTreeMap::new();
    for p in &a.probes {
        if p.kind == ProbeKind::Tcp && p.short_session && config.login_ports.contains(&p.port) {
            by_service.entry((p.target, p.port)).or_default().push(p);
        }
    }
    let mut hit: Vec<&Probe> = Vec::new();
    let mut most = 0;
    for probes in by_service.values() {
        let mut events: Vec<(u64, u64)> = probes.iter().map(|p| (p.ts, p.flow)).collect();
        let sessions = most_distinct_in_window(&mut events, window_ns(config));
        if sessions >= config.brute_force_sessions {
            most = most.max(sessions);
            hit.extend(probes.iter().copied());
        }
    }
    if hit.is_empty() {
        return None;
    }
    let mut e = evidence(Behaviour::BruteForce, actor, &hit);
    e.reason = format!(
        "{actor} opened {} short sessions (under {} bytes sent and {} s each) to the login service(s) {} on {} \
         host(s); {most} to one service within {} s, at least {} make a brute-force attempt",
        e.flow_count,
        config.short_session_bytes,
        config.short_session_seconds,
        e.sample_ports.join(", "),
        e.targets,
        config.window_seconds,
        config.brute_force_sessions
    );
    Some(e)
}

/// One source sending SYNs it never completes at one service (not spoofed: the source is the actor).
fn direct_flood(actor: IpAddr, a: &Actor, config: &Config) -> Option<Evidence> {
    let mut by_service: BTreeMap<(IpAddr, u16), Vec<&Probe>> = BTreeMap::new();
    for p in &a.probes {
        if p.half_open {
            by_service.entry((p.target, p.port)).or_default().push(p);
        }
    }
    let window = config.flood_window_seconds.saturating_mul(NS);
    let mut hit: Vec<&Probe> = Vec::new();
    let mut most = 0;
    for probes in by_service.values_mut() {
        probes.sort_by_key(|p| p.ts);
        // The most SYNs within any window.
        let (mut sum, mut lo, mut best) = (0u64, 0, 0u64);
        for hi in 0..probes.len() {
            sum += probes[hi].syns;
            while probes[hi].ts - probes[lo].ts > window {
                sum -= probes[lo].syns;
                lo += 1;
            }
            best = best.max(sum);
        }
        if best >= config.flood_attempts {
            most = most.max(best);
            hit.extend(probes.iter().copied());
        }
    }
    if hit.is_empty() {
        return None;
    }
    let mut e = evidence(Behaviour::SynFlood, actor, &hit);
    e.failed = hit.len() as u64;
    e.reason = format!(
        "{actor} sent {} SYNs that never completed a handshake to {} ({most} within {} s, at least {} make a \
         flood)",
        e.attempts,
        services(&hit),
        config.flood_window_seconds,
        config.flood_attempts
    );
    Some(e)
}

fn spoofed_flood(v: &Victim, config: &Config) -> bool {
    let (busiest, _) = v.rate.busiest(config.flood_window_seconds);
    busiest >= config.flood_attempts && v.sources.count().0 >= config.flood_sources
}

fn spoofed_flood_evidence(ip: IpAddr, services: &[(u16, &Victim)], config: &Config) -> Evidence {
    let mut e = Evidence {
        behaviour: Behaviour::SynFloodTarget,
        actor: ip,
        attempts: 0,
        failed: 0,
        rejected: 0,
        targets: String::new(),
        ports: services.len() as u64,
        first: u64::MAX,
        last: 0,
        sample_targets: Vec::new(),
        sample_ports: services.iter().map(|(p, _)| format!("{p}/tcp")).collect(),
        flows: Vec::new(),
        flow_count: 0,
        reason: String::new(),
        unkept: 0,
    };
    let mut sources = Vec::new();
    let mut busiest = 0;
    for (_, v) in services {
        e.attempts += v.attempts;
        e.failed += v.attempts;
        e.first = e.first.min(v.first);
        e.last = e.last.max(v.last);
        busiest = busiest.max(v.rate.busiest(config.flood_window_seconds).0);
        for s in v.sample.items() {
            if e.sample_targets.len() < SAMPLE {
                e.sample_targets.push(s.to_string());
            }
        }
        for f in v.flows.items() {
            if e.flows.len() < FLOWS_LISTED {
                e.flows.push(*f);
            }
        }
        sources.push(v.sources.words());
    }
    e.flow_count = e.attempts;
    e.targets = sources.join(" + ");
    e.reason = format!(
        "{ip} was sent {} SYNs that never completed a handshake, on {}, from {} distinct source addresses \
         ({busiest} within {} s; at least {} from {} or more sources make a flood); so many sources that never \
         answer the SYN-ACK are most likely spoofed, so the target is named, not the sources",
        e.attempts,
        e.sample_ports.join(", "),
        e.targets,
        config.flood_window_seconds,
        config.flood_attempts,
        config.flood_sources
    );
    e
}

fn amplification(ip: IpAddr, r: &DnsReceiver, config: &Config) -> Option<Evidence> {
    let (busiest, _) = r.rate.busiest(60);
    let avg = r.answer_bytes / r.answers.max(1);
    let factor = r.answer_bytes as f64 / r.query_bytes.max(1) as f64;
    let amplified = r.unsolicited * 2 >= r.answers || factor >= config.amplification_factor;
    if busiest < config.amplification_answers
        || avg < config.amplification_answer_bytes
        || !amplified
    {
        return None;
    }
    let factor_words = if r.query_bytes == 0 {
        "none of the queries were in the capture".to_string()
    } else {
        format!("{factor:.0}× the bytes of the queries seen")
    };
    Some(Evidence {
        behaviour: Behaviour::DnsAmplification,
        actor: ip,
        attempts: r.answers,
        failed: r.unsolicited,
        rejected: 0,
        targets: r.resolvers.words(),
        ports: 1,
        first: r.first,
        last: r.last,
        sample_targets: r.sample.items().iter().map(|s| s.to_string()).collect(),
        sample_ports: vec!["53/udp".into()],
        flows: r.flows.items().to_vec(),
        flow_count: r.answers,
        reason: format!(
            "{ip} was sent {} DNS answers averaging {avg} bytes from {} resolver(s) ({busiest} within 60 s, at \
             least {} make a flood); {} answered no query seen, and the answers carried {factor_words}: the shape \
             of reflection with a forged source address, the receiver being the target",
            r.answers,
            r.resolvers.words(),
            config.amplification_answers,
            r.unsolicited,
        ),
        unkept: 0,
    })
}

fn rejected_words(rejected: u64) -> String {
    if rejected == 0 {
        String::new()
    } else {
        format!(" ({rejected} refused with a reset)")
    }
}

fn services(probes: &[&Probe]) -> String {
    let mut s = Sample::new(5);
    for p in probes {
        s.add(&format!("{}:{}", host(p.target), p.port));
    }
    s.items().join(", ")
}

fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}
