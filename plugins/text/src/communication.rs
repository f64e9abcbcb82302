//! `communication.txt`: who talked to whom. For each host, its peers with their names, the ports and
//! protocols used, bytes each way, flow counts and what the analyzers found about those flows and
//! about the host itself. Flows are folded into one compact record per host pair as they arrive, so
//! memory follows the number of pairs, not of flows; the text is written at the end, when names and
//! late findings are known.

use crate::clean::{self, line};
use crate::devices::capture_header;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Finding, FindingRecord, Flow, HostInfo, Protocol, Report, Severity, Subject, format_mac,
    net::{IpClass, well_known_service},
};
use std::fmt::Write;
use std::net::IpAddr;

/// Distinct (protocol, port, direction) kept per pair; further flows are counted as "other".
const MAX_SERVICES: usize = 8;
/// Distinct finding tags kept per pair; further findings are counted.
const MAX_TAGS: usize = 8;
/// Characters of a finding summary kept as the example of its tag.
const SUMMARY_CHARS: usize = 160;
/// Flow ids remembered to place findings raised at the end of the run (4 bytes each).
const MAX_FLOW_IDS: u64 = 4 << 20;
/// Findings about one host listed in its section.
const MAX_HOST_FINDINGS: usize = 50;

/// Severity as a number, for "the worst of".
fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
    }
}

/// One transport service used between a pair.
struct Service {
    protocol: Protocol,
    /// The server's port (0 for protocols without ports).
    port: u16,
    /// True when `a` of the pair was the client.
    a_opened: bool,
    flows: u64,
}

/// Bytes of text per part of `communication.txt`: the file is returned in parts of about this size,
/// so no single buffer doubles past it while it grows.
const PART: usize = 1 << 20;
/// Distinct tag and stage names remembered; findings with further names are counted.
const MAX_NAMES: usize = 4096;

/// Tag and stage names, stored once: pairs refer to them by number.
#[derive(Default)]
struct Names {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl Names {
    fn id(&mut self, name: &str) -> Option<u32> {
        if let Some(i) = self.index.get(name) {
            return Some(*i);
        }
        if self.list.len() >= MAX_NAMES {
            return None;
        }
        let i = self.list.len() as u32;
        self.list.push(line(name, 64));
        self.index.insert(name.to_string(), i);
        Some(i)
    }

    fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map_or("?", String::as_str)
    }
}

/// The findings of one tag on a pair's flows.
struct TagSummary {
    tag: u32,
    stage: u32,
    worst: Severity,
    count: u64,
    /// The first summary seen, shortened.
    example: String,
}

/// A finding that was not on a flow of this output (about a host or the capture, or raised at the end
/// of the run), as the report prints it.
pub struct Noted {
    stage: String,
    tag: String,
    severity: Severity,
    summary: String,
    flow: Option<u64>,
}

impl Noted {
    fn of(r: &FindingRecord) -> Noted {
        let f = &r.finding;
        Noted {
            stage: line(&r.stage, 64),
            tag: line(&f.tag, 64),
            severity: f.severity,
            summary: line(&f.summary, 300),
            flow: match f.subject {
                Subject::Flow(id) => Some(id),
                _ => None,
            },
        }
    }
}

/// Noted findings of one kind, the first [`MAX_HOST_FINDINGS`] kept, the rest counted.
#[derive(Default)]
struct NotedList {
    kept: Vec<Noted>,
    more: u64,
}

impl NotedList {
    fn push(&mut self, r: &FindingRecord) {
        if self.kept.len() < MAX_HOST_FINDINGS {
            self.kept.push(Noted::of(r));
        } else {
            self.more += 1;
        }
    }
}

/// Everything between two hosts; `a` is the lower address.
struct Pair {
    a: IpAddr,
    b: IpAddr,
    flows_by_a: u64,
    flows_by_b: u64,
    bytes_a_to_b: u64,
    bytes_b_to_a: u64,
    first: u64,
    last: u64,
    services: Vec<Service>,
    other_service_flows: u64,
    tags: Vec<TagSummary>,
    other_findings: u64,
}

impl Pair {
    fn new(a: IpAddr, b: IpAddr) -> Pair {
        Pair {
            a,
            b,
            flows_by_a: 0,
            flows_by_b: 0,
            bytes_a_to_b: 0,
            bytes_b_to_a: 0,
            first: 0,
            last: 0,
            services: Vec::with_capacity(1),
            other_service_flows: 0,
            tags: Vec::new(),
            other_findings: 0,
        }
    }

    fn add_finding(&mut self, names: &mut Names, stage: &str, f: &Finding) {
        let (Some(tag), Some(stage)) = (names.id(&f.tag), names.id(stage)) else {
            self.other_findings += 1;
            return;
        };
        if let Some(t) = self.tags.iter_mut().find(|t| t.tag == tag) {
            t.count += 1;
            if rank(f.severity) > rank(t.worst) {
                t.worst = f.severity;
                t.example = line(&f.summary, SUMMARY_CHARS);
            }
        } else if self.tags.len() < MAX_TAGS {
            // Most pairs carry one tag: do not reserve room for four.
            self.tags.reserve_exact(1);
            self.tags.push(TagSummary {
                tag,
                stage,
                worst: f.severity,
                count: 1,
                example: line(&f.summary, SUMMARY_CHARS),
            });
        } else {
            self.other_findings += 1;
        }
    }

    fn bytes(&self) -> u64 {
        self.bytes_a_to_b.saturating_add(self.bytes_b_to_a)
    }
}

/// Default of the most host pairs listed: far above a LAN's conversations, a bounded slice of a flood.
pub const DEFAULT_MAX_PAIRS: usize = 4096;

/// The per-pair aggregate, fed flow by flow.
pub struct Communication {
    /// Most pairs kept; flows of further pairs are only counted.
    max_pairs: usize,
    /// Flows of pairs past `max_pairs`.
    pub dropped_flows: u64,
    index: HashMap<(IpAddr, IpAddr), u32>,
    pairs: Vec<Pair>,
    names: Names,
    /// Findings about hosts, about the capture, and on flows this output did not see.
    host_findings: HashMap<IpAddr, NotedList>,
    capture_findings: NotedList,
    unplaced: NotedList,
    /// Pair index + 1 by flow id (0: not seen), to place findings raised after a flow went by.
    flow_pairs: Vec<u32>,
    flows: u64,
}

impl Default for Communication {
    fn default() -> Communication {
        Communication::new(DEFAULT_MAX_PAIRS)
    }
}

impl Communication {
    /// Lists at most `max_pairs` host pairs (the first ones seen); flows of others are counted.
    pub fn new(max_pairs: usize) -> Communication {
        Communication {
            max_pairs,
            dropped_flows: 0,
            index: HashMap::new(),
            pairs: Vec::new(),
            names: Names::default(),
            host_findings: HashMap::new(),
            capture_findings: NotedList::default(),
            unplaced: NotedList::default(),
            flow_pairs: Vec::new(),
            flows: 0,
        }
    }

    /// The addresses of the listed pairs, whose host details the report needs.
    pub fn endpoints(&self) -> pcapxray_plugin_sdk::collections::HashSet<IpAddr> {
        self.pairs.iter().flat_map(|p| [p.a, p.b]).collect()
    }

    /// Folds one flow (and its findings) into its pair.
    pub fn add(&mut self, flow: &Flow) {
        self.flows += 1;
        let (client, server) = (flow.client_ip(), flow.server_ip());
        let a_opened = client <= server;
        let key = if a_opened {
            (client, server)
        } else {
            (server, client)
        };
        let next = self.pairs.len() as u32;
        if self.pairs.len() >= self.max_pairs && !self.index.contains_key(&key) {
            self.dropped_flows += 1;
            return;
        }
        let i = *self.index.entry(key).or_insert(next) as usize;
        if i == self.pairs.len() {
            // Grow by a quarter, not double: the pairs are most of this report's memory.
            if self.pairs.len() == self.pairs.capacity() {
                self.pairs.reserve_exact(self.pairs.len() / 4 + 64);
            }
            self.pairs.push(Pair::new(key.0, key.1));
        }
        if flow.id < MAX_FLOW_IDS {
            let id = flow.id as usize;
            if self.flow_pairs.len() <= id {
                self.flow_pairs.resize(id + 1, 0);
            }
            self.flow_pairs[id] = i as u32 + 1;
        }
        let pair = &mut self.pairs[i];
        let (up, down) = (flow.to_server.bytes, flow.to_client.bytes);
        if a_opened {
            pair.flows_by_a += 1;
            pair.bytes_a_to_b = pair.bytes_a_to_b.saturating_add(up);
            pair.bytes_b_to_a = pair.bytes_b_to_a.saturating_add(down);
        } else {
            pair.flows_by_b += 1;
            pair.bytes_a_to_b = pair.bytes_a_to_b.saturating_add(down);
            pair.bytes_b_to_a = pair.bytes_b_to_a.saturating_add(up);
        }
        let (first, last) = (flow.first_seen(), flow.last_seen());
        if first != 0 && (pair.first == 0 || first < pair.first) {
            pair.first = first;
        }
        pair.last = pair.last.max(last);
        let port = if crate::clean::has_ports(flow) {
            flow.server.port
        } else {
            0
        };
        let known = pair
            .services
            .iter()
            .position(|s| s.protocol == flow.protocol && s.port == port && s.a_opened == a_opened);
        match known {
            Some(s) => pair.services[s].flows += 1,
            None if pair.services.len() < MAX_SERVICES => pair.services.push(Service {
                protocol: flow.protocol,
                port,
                a_opened,
                flows: 1,
            }),
            None => pair.other_service_flows += 1,
        }
        for r in &flow.findings {
            pair.add_finding(&mut self.names, &r.stage, &r.finding);
        }
    }

    /// Takes in a finding that was not on a flow passed to [`Communication::add`]: a late flow finding
    /// joins its pair; the others are kept (bounded per host) for the report.
    /// A roll-up is skipped: its findings were counted on their flows. A late finding that rests on
    /// several flows counts once on the pair of its subject.
    pub fn note(&mut self, r: &FindingRecord) {
        if r.rollup {
            return;
        }
        match r.finding.subject {
            Subject::Flow(id) => match self.pair_of(id) {
                Some(i) => self.pairs[i].add_finding(&mut self.names, &r.stage, &r.finding),
                None => self.unplaced.push(r),
            },
            Subject::Host(ip) => self.host_findings.entry(ip.into()).or_default().push(r),
            Subject::Capture => self.capture_findings.push(r),
        }
    }

    /// The pair a flow went to, if it was seen.
    fn pair_of(&self, flow: u64) -> Option<usize> {
        let slot = *self.flow_pairs.get(usize::try_from(flow).ok()?)?;
        (slot > 0).then(|| slot as usize - 1)
    }

    /// The whole `communication.txt`, in parts of about [`PART`] bytes, with the report's findings
    /// placed on their pairs and hosts.
    pub fn render(&mut self, report: &Report, max_peers: usize) -> Vec<String> {
        let hosts: HashMap<IpAddr, &HostInfo> = report
            .hosts
            .iter()
            .map(|h| (IpAddr::from(h.ip), h))
            .collect();
        let host_findings = &self.host_findings;

        // Each host's pairs.
        let mut peers: HashMap<IpAddr, Vec<u32>> = HashMap::new();
        for (i, p) in self.pairs.iter().enumerate() {
            peers.entry(p.a).or_default().push(i as u32);
            if p.b != p.a {
                peers.entry(p.b).or_default().push(i as u32);
            }
        }
        // Sections for the local hosts, and for the others that have findings or talked to another
        // host beyond the local network; an internet host that only talked to local hosts is already
        // described, as a peer, in their sections.
        let local = |ip: &IpAddr| IpClass::of(*ip).is_local();
        let wanted = |ip: &IpAddr| {
            local(ip)
                || host_findings.contains_key(ip)
                || peers.get(ip).is_some_and(|ps| {
                    ps.iter().any(|&i| {
                        let p = &self.pairs[i as usize];
                        !local(if p.a == *ip { &p.b } else { &p.a })
                    })
                })
        };
        let mut order: Vec<IpAddr> = peers
            .keys()
            .chain(host_findings.keys())
            .copied()
            .filter(|ip| !IpClass::of(*ip).is_group() && wanted(ip))
            .collect();
        order.sort_by_key(|ip| (!IpClass::of(*ip).is_local(), *ip));
        order.dedup();

        let mut parts: Vec<String> = Vec::new();
        let mut out = String::with_capacity(PART + PART / 4);
        capture_header(&mut out, "communication report", report);
        let _ = writeln!(
            out,
            "traffic   {}, {} between {}; {} have a section below (internet hosts that only talked to local\n          hosts, and multicast and broadcast addresses, appear as peers in the sections of those hosts)",
            clean::count(self.flows, "flow"),
            clean::count(self.pairs.len() as u64, "host pair"),
            clean::count(peers.len() as u64, "host"),
            order.len(),
        );
        if self.dropped_flows > 0 {
            let _ = writeln!(
                out,
                "not listed {} of further host pairs: this report lists the first {} pairs (config max_pairs raises the bound)",
                clean::count(self.dropped_flows, "flow"),
                self.max_pairs,
            );
        }
        if !self.capture_findings.kept.is_empty() {
            let _ = writeln!(out, "\nFindings about the capture:");
            for r in &self.capture_findings.kept {
                finding_line(&mut out, "  ", r);
            }
            more_line(&mut out, "  ", self.capture_findings.more);
        }
        if !self.unplaced.kept.is_empty() {
            let _ = writeln!(
                out,
                "\nFindings on flows this report did not receive (e.g. more than {MAX_FLOW_IDS} flows):"
            );
            for r in &self.unplaced.kept {
                finding_line(&mut out, "  ", r);
            }
            more_line(&mut out, "  ", self.unplaced.more);
        }

        for ip in order {
            if out.len() >= PART {
                parts.push(std::mem::replace(
                    &mut out,
                    String::with_capacity(PART + PART / 4),
                ));
            }
            let pairs = peers.get(&ip).map(Vec::as_slice).unwrap_or(&[]);
            self.section(
                &mut out,
                ip,
                pairs,
                &hosts,
                host_findings.get(&ip),
                max_peers,
            );
        }
        parts.push(out);
        parts
    }

    /// One host's section: totals, findings about it, then its peers, largest first.
    fn section(
        &self,
        out: &mut String,
        ip: IpAddr,
        pairs: &[u32],
        hosts: &HashMap<IpAddr, &HostInfo>,
        findings: Option<&NotedList>,
        max_peers: usize,
    ) {
        let host = hosts.get(&ip);
        let _ = write!(out, "\n== {ip}");
        if let Some(name) = host.and_then(|h| h.best_name()) {
            let _ = write!(out, "  {}", line(name, 120));
        }
        let _ = write!(out, "  [{}]", IpClass::of(ip).as_str());
        if let Some(h) = host
            && !h.macs.is_empty()
            && IpClass::of(ip).is_local()
        {
            let macs: Vec<String> = h.macs.iter().map(|m| format_mac(*m)).collect();
            let _ = write!(out, "  MAC {}", macs.join(", "));
            if let Some(v) = h.notes.iter().find(|n| n.key == names::host::VENDOR) {
                let _ = write!(out, " ({})", line(&v.value, 60));
            }
        }
        out.push('\n');

        // Totals from this host's point of view.
        let (mut opened, mut answered, mut sent, mut received) = (0u64, 0u64, 0u64, 0u64);
        for &i in pairs {
            let p = &self.pairs[i as usize];
            let v = View::of(p, ip);
            opened += v.opened;
            answered += v.answered;
            sent = sent.saturating_add(v.sent);
            received = received.saturating_add(v.received);
        }
        let _ = writeln!(
            out,
            "   {}, {} ({} opened by it, {} by its peers), sent {}, received {}",
            clean::count(pairs.len() as u64, "peer"),
            clean::count(opened + answered, "flow"),
            opened,
            answered,
            clean::bytes(sent),
            clean::bytes(received)
        );
        if let Some(list) = findings {
            let _ = writeln!(out, "   findings about this host:");
            for r in &list.kept {
                finding_line(out, "     ", r);
            }
            more_line(out, "     ", list.more);
        }
        if pairs.is_empty() {
            return;
        }
        let mut sorted: Vec<&Pair> = pairs.iter().map(|&i| &self.pairs[i as usize]).collect();
        sorted.sort_by(|x, y| {
            y.bytes()
                .cmp(&x.bytes())
                .then(x.a.cmp(&y.a))
                .then(x.b.cmp(&y.b))
        });
        let _ = writeln!(out, "   peers:");
        for p in sorted.iter().take(max_peers) {
            peer(out, p, ip, hosts, &self.names);
        }
        if sorted.len() > max_peers {
            let rest = &sorted[max_peers..];
            let (mut flows, mut bytes) = (0u64, 0u64);
            for p in rest {
                flows += p.flows_by_a + p.flows_by_b;
                bytes = bytes.saturating_add(p.bytes());
            }
            let _ = writeln!(
                out,
                "     and {} ({}, {}): raise max_peers to list them",
                clean::count(rest.len() as u64, "more peer"),
                clean::count(flows, "flow"),
                clean::bytes(bytes)
            );
        }
    }
}

/// A pair seen from one of its hosts.
struct View {
    peer: IpAddr,
    opened: u64,
    answered: u64,
    sent: u64,
    received: u64,
    /// True when this host is `a`.
    is_a: bool,
}

impl View {
    fn of(p: &Pair, ip: IpAddr) -> View {
        if p.a == ip {
            View {
                peer: p.b,
                opened: p.flows_by_a,
                answered: p.flows_by_b,
                sent: p.bytes_a_to_b,
                received: p.bytes_b_to_a,
                is_a: true,
            }
        } else {
            View {
                peer: p.a,
                opened: p.flows_by_b,
                answered: p.flows_by_a,
                sent: p.bytes_b_to_a,
                received: p.bytes_a_to_b,
                is_a: false,
            }
        }
    }
}

/// One peer: address, name, services, flows and bytes, then the findings on their flows.
fn peer(out: &mut String, p: &Pair, ip: IpAddr, hosts: &HashMap<IpAddr, &HostInfo>, names: &Names) {
    let v = View::of(p, ip);
    let name = hosts
        .get(&v.peer)
        .and_then(|h| h.best_name())
        .map(|n| line(n, 80))
        .unwrap_or_else(|| "-".into());
    let mut services: Vec<String> = p
        .services
        .iter()
        .map(|s| {
            let arrow = if s.a_opened == v.is_a { "->" } else { "<-" };
            let label = if s.port == 0 {
                s.protocol.as_str().to_string()
            } else {
                match well_known_service(s.protocol, s.port) {
                    Some(name) => format!("{}/{} {name}", s.protocol.as_str(), s.port),
                    None => format!("{}/{}", s.protocol.as_str(), s.port),
                }
            };
            if s.flows > 1 {
                format!("{arrow} {label} x{}", s.flows)
            } else {
                format!("{arrow} {label}")
            }
        })
        .collect();
    if p.other_service_flows > 0 {
        services.push(format!(
            "{} on other ports",
            clean::count(p.other_service_flows, "flow")
        ));
    }
    let _ = writeln!(
        out,
        "     {:<39} {:<40} {}",
        format!("{} [{}]", v.peer, IpClass::of(v.peer).as_str()),
        name,
        services.join(", ")
    );
    let _ = writeln!(
        out,
        "       {} ({} opened by it, {} by the peer), sent {}, received {}, {} to {}",
        clean::count(v.opened + v.answered, "flow"),
        v.opened,
        v.answered,
        clean::bytes(v.sent),
        clean::bytes(v.received),
        clean::time(p.first),
        clean::time(p.last)
    );
    for t in &p.tags {
        let _ = writeln!(
            out,
            "       [{}] {} x{} ({}): {}",
            t.worst.as_str(),
            names.get(t.tag),
            t.count,
            names.get(t.stage),
            t.example
        );
    }
    if p.other_findings > 0 {
        let _ = writeln!(
            out,
            "       and {} with other tags",
            clean::count(p.other_findings, "finding")
        );
    }
}

fn finding_line(out: &mut String, indent: &str, r: &Noted) {
    let subject = match r.flow {
        Some(id) => format!(" on flow {id}"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "{indent}[{}] {} ({}{subject}): {}",
        r.severity.as_str(),
        r.tag,
        r.stage,
        r.summary
    );
}

fn more_line(out: &mut String, indent: &str, more: u64) {
    if more > 0 {
        let _ = writeln!(out, "{indent}and {}", clean::count(more, "more finding"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::Finding;
    use pcapxray_plugin_sdk::testing::{finding, flow_with as flow, host, ip, note, report};

    #[test]
    fn folds_flows_per_host_pair_and_lists_peers_from_both_sides() {
        let mut c = Communication::default();
        let mut f1 = flow(1, "192.168.1.23", "34.223.124.45", 80, b"GET", b"HTTP");
        f1.findings.push(finding(
            "web",
            1,
            "web.http",
            "HTTP GET neverssl.com/ → 200 OK",
            &[],
        ));
        let f2 = flow(2, "192.168.1.23", "34.223.124.45", 80, b"", b"");
        let f3 = flow(3, "192.168.1.23", "140.82.121.4", 443, b"", b"");
        for f in [&f1, &f2, &f3] {
            c.add(f);
        }
        assert_eq!(c.pairs.len(), 2);
        let mut laptop = host("192.168.1.23", &[0xf8bc126e4d21]);
        laptop.notes.push(note("devices", "vendor", "Apple, Inc."));
        let mut server = host("34.223.124.45", &[0x00146c3a910e]);
        server.notes.push(note("web", "name", "neverssl.com"));
        let mut r = report(vec![laptop, server, host("140.82.121.4", &[1])]);
        // A finding raised at the end of the run, about flow 3, and one about the laptop.
        let mut late = finding("suspicious", 3, "suspicious", "odd\npeer", &[]);
        late.finding.severity = Severity::Medium;
        r.findings.push(late);
        r.findings.push(pcapxray_plugin_sdk::FindingRecord {
            stage: "beacon".into(),
            finding: Finding::on_host(ip("192.168.1.23"), "beacon", Severity::High)
                .summary("beacons every 60 s"),
            rollup: false,
        });
        // An internet host gets a section when something was found about it.
        r.findings.push(pcapxray_plugin_sdk::FindingRecord {
            stage: "tor".into(),
            finding: Finding::on_host(ip("34.223.124.45"), "tor.relay", Severity::Medium),
            rollup: false,
        });
        for f in &r.findings {
            c.note(f);
        }
        let text = c.render(&r, 1000).concat();
        let laptop_at = text.find("== 192.168.1.23").unwrap();
        let server_at = text.find("== 34.223.124.45  neverssl.com").unwrap();
        assert!(laptop_at < server_at, "{text}");
        let laptop_section = &text[laptop_at..server_at];
        assert!(laptop_section.contains("MAC f8:bc:12:6e:4d:21 (Apple, Inc.)"));
        assert!(laptop_section.contains("2 peers, 3 flows (3 opened by it, 0 by its peers)"));
        assert!(laptop_section.contains("neverssl.com"));
        assert!(
            laptop_section.contains("-> tcp/80 http x2"),
            "{laptop_section}"
        );
        assert!(laptop_section.contains("[info] web.http x1 (web): HTTP GET neverssl.com/"));
        assert!(laptop_section.contains("[medium] suspicious x1 (suspicious): odd\\npeer"));
        assert!(laptop_section.contains("[high] beacon (beacon): beacons every 60 s"));
        // The server's side of the same pair.
        let server_section = &text[server_at..];
        assert!(
            server_section.contains("<- tcp/80 http x2"),
            "{server_section}"
        );
        assert!(server_section.contains("2 flows (0 opened by it, 2 by the peer)"));
    }

    #[test]
    fn a_long_report_comes_in_parts_cut_between_sections() {
        let mut c = Communication::default();
        for n in 0..20_000u32 {
            let client = format!("10.{}.{}.1", n / 256, n % 256);
            c.add(&flow(
                u64::from(n) + 1,
                &client,
                "10.255.255.254",
                22,
                b"",
                b"",
            ));
        }
        let parts = c.render(&report(Vec::new()), 10);
        assert!(parts.len() > 1);
        for part in &parts[1..] {
            assert!(part.starts_with("\n== "), "{}", &part[..40]);
        }
        assert!(parts.iter().all(|p| p.len() < PART + PART / 4));
    }

    #[test]
    fn bounds_what_one_pair_keeps_and_how_many_peers_are_listed() {
        let mut c = Communication::default();
        for port in 0..20u16 {
            let mut f = flow(
                u64::from(port) + 1,
                "10.0.0.1",
                "10.0.0.2",
                1000 + port,
                b"",
                b"",
            );
            f.findings
                .push(finding("x", f.id, &format!("tag.{port}"), "s", &[]));
            c.add(&f);
        }
        for n in 0..5u8 {
            c.add(&flow(
                100 + u64::from(n),
                "10.0.0.1",
                &format!("10.0.1.{n}"),
                22,
                b"",
                b"",
            ));
        }
        let p = &c.pairs[0];
        assert_eq!(p.services.len(), MAX_SERVICES);
        assert_eq!(p.other_service_flows, 12);
        assert_eq!(p.tags.len(), MAX_TAGS);
        assert_eq!(p.other_findings, 12);
        let text = c.render(&report(Vec::new()), 2).concat();
        assert!(text.contains("and 4 more peers (4 flows"), "{text}");
        assert!(text.contains("12 flows on other ports"));
        assert!(text.contains("and 12 findings with other tags"));
    }
}
