//! # pcapxray `beacon` analyzer
//!
//! Finds beaconing: a host that opens connections to the same server and port over and over at a
//! steady interval, the heartbeat of malware checking in with its command-and-control server. Single
//! flows look innocent; only the schedule gives it away, so this analyzer keeps, per (client, server,
//! server port, protocol) pair, just the start time and client bytes of each connection, and scores
//! the pairs when the capture is over (`score` says how, after RITA's analysis of Zeek conn logs).
//!
//! Memory is bounded: at most [`MAX_PAIRS`] pairs, [`MAX_PER_PAIR`] connections per pair and
//! [`MAX_TOTAL`] connections in all are kept; what is dropped is counted and reported. This file holds
//! the configuration, the grouping and the findings; it calls the host only to log.

mod score;

use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::time::iso8601;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Finding, Flow, Outcome, PluginError, Protocol, Severity,
    export_analyzer, log,
};
use score::{Beaconing, Connection};
use serde::Deserialize;
use std::net::IpAddr;

/// The host fact published on a beaconing client for each server it beacons to, as
/// `198.51.100.23:8443/tcp`, so later stages (`suspicious`) know those flows are explained.
pub const BEACON_PEER: &str = names::beacon::PEER;

/// Pairs kept; flows of further pairs are counted, not kept.
pub const MAX_PAIRS: usize = 100_000;
/// Connections kept per pair (the first ones; a day of one connection every 5 s).
pub const MAX_PER_PAIR: usize = 20_000;
/// Connections kept in all.
pub const MAX_TOTAL: usize = 4_000_000;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Connections a pair needs before it is scored (at least 3).
    pub min_connections: usize,
    /// Pairs scoring at least this (0 to 1) are reported.
    pub min_score: f64,
    /// Server ports never scored: DNS, NTP, mDNS, LLMNR, NetBIOS, SSDP talk on schedules by design.
    pub ignore_ports: Vec<u16>,
    /// Median gaps shorter than this many seconds are bursts, not a schedule.
    pub min_interval_seconds: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            min_connections: 10,
            min_score: 0.8,
            ignore_ports: vec![53, 123, 5353, 5355, 137, 1900],
            min_interval_seconds: 1.0,
        }
    }
}

/// Who talks to whom: the grouping key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Pair {
    client: IpAddr,
    server: IpAddr,
    port: u16,
    protocol: u8,
}

/// The analyzer.
pub struct Beacon {
    config: Config,
    pairs: HashMap<Pair, Vec<Connection>>,
    kept: usize,
    /// Connections not kept because their pair was full or the total was reached.
    dropped_connections: u64,
    /// Flows not kept because the pair table was full.
    dropped_pairs: u64,
    /// Pairs whose own limit was reached.
    full_pairs: u64,
}

/// A reported pair.
struct Report {
    pair: Pair,
    beaconing: Beaconing,
    truncated: bool,
}

impl Beacon {
    fn checked(config: Config) -> Result<Beacon, PluginError> {
        let mut errors = Vec::new();
        if config.min_connections < 3 {
            errors.push(ConfigError {
                key: "min_connections".into(),
                message: format!(
                    "must be at least 3 (two gaps are needed for a median), not {}",
                    config.min_connections
                ),
            });
        }
        if !(0.0..=1.0).contains(&config.min_score) {
            errors.push(ConfigError {
                key: "min_score".into(),
                message: format!("must be between 0 and 1, not {}", config.min_score),
            });
        }
        if !(config.min_interval_seconds >= 0.0 && config.min_interval_seconds.is_finite()) {
            errors.push(ConfigError {
                key: "min_interval_seconds".into(),
                message: format!(
                    "must be a number of seconds, 0 or more, not {}",
                    config.min_interval_seconds
                ),
            });
        }
        if !errors.is_empty() {
            return Err(PluginError::Config(errors));
        }
        Ok(Beacon {
            config,
            pairs: HashMap::new(),
            kept: 0,
            dropped_connections: 0,
            dropped_pairs: 0,
            full_pairs: 0,
        })
    }

    /// Keeps the start and size of one flow, if its pair can be scored at all.
    fn observe(&mut self, flow: &Flow) {
        let server = flow.server_ip();
        if IpClass::of(server).is_group() || IpClass::of(flow.client_ip()).is_group() {
            return;
        }
        let ported = matches!(flow.protocol, Protocol::Tcp | Protocol::Udp);
        if ported && self.config.ignore_ports.contains(&flow.server.port) {
            return;
        }
        let pair = Pair {
            client: flow.client_ip(),
            server,
            port: flow.server.port,
            protocol: flow.ip_protocol,
        };
        if self.kept >= MAX_TOTAL {
            self.dropped_connections += 1;
            return;
        }
        let pairs = self.pairs.len();
        let list = match self.pairs.get_mut(&pair) {
            Some(list) => list,
            None if pairs >= MAX_PAIRS => {
                self.dropped_pairs += 1;
                return;
            }
            None => self.pairs.entry(pair).or_default(),
        };
        if list.len() >= MAX_PER_PAIR {
            self.dropped_connections += 1;
            return;
        }
        list.push((flow.first_seen(), flow.to_server.bytes));
        self.kept += 1;
        if list.len() == MAX_PER_PAIR {
            self.full_pairs += 1;
        }
    }

    /// Scores every pair with enough connections; those at or above `min_score`, best first.
    fn reports(&mut self) -> Vec<Report> {
        let min = self.config.min_connections;
        let mut reports: Vec<Report> = self
            .pairs
            .iter_mut()
            .filter(|(_, c)| c.len() >= min)
            .filter_map(|(pair, connections)| {
                let truncated = connections.len() >= MAX_PER_PAIR;
                score::score(connections, self.config.min_interval_seconds).map(|beaconing| {
                    Report {
                        pair: *pair,
                        beaconing,
                        truncated,
                    }
                })
            })
            .filter(|r| r.beaconing.score >= self.config.min_score)
            .collect();
        reports.sort_by(|a, b| {
            b.beaconing
                .score
                .total_cmp(&a.beaconing.score)
                .then(a.pair.cmp(&b.pair))
        });
        reports
    }

    fn conclude(&mut self, out: &mut Outcome) {
        for report in self.reports() {
            out.push(finding(&report));
            let (p, b) = (&report.pair, &report.beaconing);
            let peer = format!(
                "{}/{}",
                std::net::SocketAddr::new(p.server, p.port),
                protocol_name(p.protocol)
            );
            out.fact(p.client, BEACON_PEER, peer, Some(b.first));
        }
        if self.dropped_pairs > 0 || self.dropped_connections > 0 {
            out.note(
                RunNote::warning(
                    names::beacon::NOTE_INCOMPLETE,
                    format!(
                        "Beacon analysis was bounded: {} flows of new pairs and {} further connections were not kept",
                        self.dropped_pairs, self.dropped_connections
                    ),
                )
                    .attr(names::beacon::DROPPED_PAIRS_FLOWS, self.dropped_pairs.to_string())
                    .attr(names::beacon::DROPPED_CONNECTIONS, self.dropped_connections.to_string())
                    .attr(
                        names::common::REASON,
                        format!(
                            "the analyzer keeps at most {MAX_PAIRS} pairs, {MAX_PER_PAIR} connections per pair and {MAX_TOTAL} connections in all; pairs that reached their limit were scored on their first {MAX_PER_PAIR} connections"
                        ),
                    ),
            );
        }
    }
}

fn protocol_name(number: u8) -> String {
    match number {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => format!("ip-proto-{n}"),
    }
}

/// Seconds with at most three decimals, trailing zeros dropped (`60`, `0.5`, `59.873`).
fn seconds(s: f64) -> String {
    decimals(s, 3)
}

/// `value` with at most `places` decimals, trailing zeros dropped.
fn decimals(value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A span in words: `45 s`, `19 min`, `3.2 h`.
fn span(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{} s", s.round())
    } else if s < 7200.0 {
        format!("{} min", (s / 60.0).round())
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn finding(report: &Report) -> Finding {
    let (p, b) = (&report.pair, &report.beaconing);
    let protocol = protocol_name(p.protocol);
    let server = match p.server {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let target = if p.port == 0 {
        format!("{} ({protocol})", p.server)
    } else {
        format!("{server}:{}/{protocol}", p.port)
    };
    let severity = if b.score >= 0.9 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let reason = format!(
        "{} connections from {} to {target} over {}: gaps of {} s median with a median deviation of {} s ({:.1}%) and skew {:.2} (interval regularity {:.2}); about {} bytes sent each time (size regularity {:.2}); connection-count evidence {:.2}",
        b.connections,
        p.client,
        span(b.last - b.first),
        seconds(b.interval),
        seconds(b.jitter),
        b.jitter / b.interval * 100.0,
        b.skew,
        b.interval_score,
        b.bytes,
        b.size_score,
        b.count_score,
    );
    let mut f = Finding::on_host(p.client, names::beacon::TAG, severity)
        .summary(format!(
            "{} connects to {target} every {} s (± {} s), {} times in {}: beaconing, score {:.2}",
            p.client,
            decimals(b.interval, 1),
            decimals(b.jitter, 1),
            b.connections,
            span(b.last - b.first),
            b.score
        ))
        .confidence((b.score * 100.0).round() as u8)
        .attr(names::beacon::CLIENT, p.client.to_string())
        .attr(names::beacon::SERVER, p.server.to_string())
        .attr(names::beacon::PORT, p.port.to_string())
        .attr(names::beacon::PROTOCOL, protocol)
        .attr(names::beacon::INTERVAL_SECONDS, seconds(b.interval))
        .attr(names::beacon::JITTER_SECONDS, seconds(b.jitter))
        .attr(names::beacon::CONNECTIONS, b.connections.to_string())
        .attr(names::beacon::BYTES, b.bytes.to_string())
        .attr(names::beacon::SCORE, format!("{:.2}", b.score))
        .attr(names::beacon::FIRST, iso8601(b.first))
        .attr(names::beacon::LAST, iso8601(b.last))
        .attr(names::common::REASON, reason);
    if report.truncated {
        f = f.attr(names::beacon::TRUNCATED, "true");
    }
    f
}

impl Analyzer for Beacon {
    const NAME: &'static str = "beacon";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Finds beaconing: connections from one host to the same server and port repeated at a regular interval.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Beacon, PluginError> {
        Beacon::checked(config)
    }

    fn analyze(&mut self, flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            self.observe(flow);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let scored = self
            .pairs
            .values()
            .filter(|c| c.len() >= self.config.min_connections)
            .count();
        self.conclude(out);
        let found = out.findings.iter().filter(|f| f.tag == "beacon").count();
        log::info(&format!(
            "{} pairs seen, {scored} with at least {} connections scored, {found} beaconing.",
            self.pairs.len(),
            self.config.min_connections
        ));
        if self.dropped_pairs > 0 || self.dropped_connections > 0 {
            log::warn(&format!(
                "Limits reached: {} flows of new pairs and {} connections were not kept ({} pairs full).",
                self.dropped_pairs, self.dropped_connections, self.full_pairs
            ));
        }
        Ok(())
    }
}

export_analyzer!(Beacon);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::FlowBuilder;
    use pcapxray_plugin_sdk::{Direction, Subject};
    use score::tests::{Rng, periodic, random};

    fn direction(at: u64, bytes: u64) -> Direction {
        Direction {
            packets: 4,
            bytes,
            payload_bytes: bytes.saturating_sub(160),
            first_seen: at,
            last_seen: at + 30_000_000,
            tcp_flags: 0x1b,
            ttl: 64,
            payload: Vec::new(),
            datagrams: Vec::new(),
            payload_truncated: false,
        }
    }

    fn flow(client: &str, server: &str, port: u16, protocol: Protocol, conn: Connection) -> Flow {
        FlowBuilder::new(protocol, (client, 50_300), (server, port))
            .id(conn.0)
            .to_server(direction(conn.0, conn.1))
            .to_client(direction(conn.0 + 20_000_000, 300))
            .build()
    }

    fn run(beacon: &mut Beacon, flows: &[Flow]) -> Outcome {
        let mut out = Outcome::default();
        for f in flows {
            beacon.observe(f);
        }
        beacon.conclude(&mut out);
        out
    }

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"min_connections": 5, "min_score": 0.7, "ignore_ports": [], "min_interval_seconds": 0.5}"#).unwrap();
        assert_eq!(
            (c.min_connections, c.min_score, c.ignore_ports.len()),
            (5, 0.7, 0)
        );
        assert!(config(r#"{"min_conections": 5}"#).is_err());
        for bad in [
            Config {
                min_connections: 2,
                ..Config::default()
            },
            Config {
                min_score: 1.5,
                ..Config::default()
            },
            Config {
                min_interval_seconds: -1.0,
                ..Config::default()
            },
            Config {
                min_interval_seconds: f64::NAN,
                ..Config::default()
            },
        ] {
            assert!(Beacon::new(bad).is_err());
        }
    }

    #[test]
    fn reports_a_minute_beacon_on_the_client_and_nothing_for_random_times() {
        let mut rng = Rng(42);
        let mut flows: Vec<Flow> = periodic(20, 60.0, 1.0, &mut rng)
            .into_iter()
            .map(|c| flow("192.168.1.23", "198.51.100.23", 8443, Protocol::Tcp, c))
            .collect();
        flows.extend(
            random(20, 1.0, 240.0, &mut rng)
                .into_iter()
                .map(|c| flow("192.168.1.42", "203.0.113.7", 443, Protocol::Tcp, c)),
        );
        // Flows arrive in the order they end, not the order they start.
        flows.reverse();
        let mut beacon = Beacon::new(Config::default()).unwrap();
        let out = run(&mut beacon, &flows);
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        let f = &out.findings[0];
        assert_eq!(f.tag, "beacon");
        assert_eq!(f.severity, Severity::Medium);
        assert!(matches!(f.subject, Subject::Host(ip) if ip.to_string() == "192.168.1.23"));
        assert_eq!(f.get("beacon.server"), Some("198.51.100.23"));
        assert_eq!(f.get("beacon.port"), Some("8443"));
        assert_eq!(f.get("beacon.protocol"), Some("tcp"));
        assert_eq!(f.get("beacon.connections"), Some("20"));
        let interval: f64 = f.get("beacon.interval-seconds").unwrap().parse().unwrap();
        assert!((interval - 60.0).abs() < 1.0);
        let jitter: f64 = f.get("beacon.jitter-seconds").unwrap().parse().unwrap();
        assert!(jitter < 1.5);
        let score: f64 = f.get("beacon.score").unwrap().parse().unwrap();
        assert!(score >= 0.9);
        assert_eq!(f.confidence, (score * 100.0).round() as u8);
        assert_eq!(
            f.get("beacon.first"),
            Some(iso8601(flows.last().unwrap().first_seen()).as_str())
        );
        assert!(
            f.get("beacon.last")
                .unwrap()
                .starts_with("2024-03-12T09:19")
        );
        assert!(
            f.summary
                .starts_with("192.168.1.23 connects to 198.51.100.23:8443/tcp every 60"),
            "{}",
            f.summary
        );
        assert!(
            f.get("reason")
                .unwrap()
                .starts_with("20 connections from 192.168.1.23")
        );
        // The client carries a fact naming the server it beacons to, for later stages.
        let facts: Vec<(String, &str, &str)> = out
            .host_facts
            .iter()
            .map(|h| (h.host.to_string(), h.key.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(
            facts,
            [(
                "192.168.1.23".to_string(),
                BEACON_PEER,
                "198.51.100.23:8443/tcp"
            )]
        );
    }

    #[test]
    fn ignores_resolver_ports_groups_short_series_and_bursts() {
        let mut rng = Rng(9);
        let regular = periodic(20, 30.0, 0.2, &mut rng);
        let mut flows = Vec::new();
        for &c in &regular {
            flows.push(flow("192.168.1.23", "192.168.1.1", 53, Protocol::Udp, c));
            flows.push(flow(
                "192.168.1.23",
                "239.255.255.250",
                1234,
                Protocol::Udp,
                c,
            ));
            flows.push(flow(
                "192.168.1.23",
                "255.255.255.255",
                67,
                Protocol::Udp,
                c,
            ));
        }
        flows.extend(
            periodic(9, 60.0, 0.0, &mut rng)
                .into_iter()
                .map(|c| flow("192.168.1.5", "198.51.100.9", 443, Protocol::Tcp, c)),
        );
        flows.extend(
            periodic(30, 0.05, 0.0, &mut rng)
                .into_iter()
                .map(|c| flow("192.168.1.6", "198.51.100.9", 443, Protocol::Tcp, c)),
        );
        let mut beacon = Beacon::new(Config::default()).unwrap();
        assert!(run(&mut beacon, &flows).findings.is_empty());

        // With nothing ignored, the DNS schedule is reported; ICMP without ports groups too.
        let mut beacon = Beacon::new(Config {
            ignore_ports: Vec::new(),
            ..Config::default()
        })
        .unwrap();
        let mut icmp: Vec<Flow> = regular
            .iter()
            .map(|&c| flow("192.168.1.23", "8.8.8.8", 0, Protocol::Icmp, c))
            .collect();
        icmp.extend(flows);
        let out = run(&mut beacon, &icmp);
        let targets: Vec<String> = out
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f.get("beacon.server").unwrap(),
                    f.get("beacon.port").unwrap()
                )
            })
            .collect();
        assert_eq!(targets.len(), 2, "{targets:?}");
        assert!(targets.contains(&"192.168.1.1:53".to_string()));
        assert!(targets.contains(&"8.8.8.8:0".to_string()));
        let icmp = out
            .findings
            .iter()
            .find(|f| f.get("beacon.port") == Some("0"))
            .unwrap();
        assert!(icmp.summary.contains("8.8.8.8 (icmp)"), "{}", icmp.summary);
    }

    #[test]
    fn bounds_what_it_keeps_and_says_so() {
        let mut beacon = Beacon::new(Config::default()).unwrap();
        let start = 1_710_234_000 * 1_000_000_000;
        for i in 0..(MAX_PER_PAIR as u64 + 5) {
            beacon.observe(&flow(
                "10.0.0.1",
                "198.51.100.1",
                8080,
                Protocol::Tcp,
                (start + i * 5_000_000_000, 300),
            ));
        }
        assert_eq!(beacon.dropped_connections, 5);
        assert_eq!(beacon.full_pairs, 1);
        let out = {
            let mut out = Outcome::default();
            beacon.conclude(&mut out);
            out
        };
        let tags: Vec<&str> = out.findings.iter().map(|f| f.tag.as_str()).collect();
        assert_eq!(tags, ["beacon"]);
        let notes: Vec<&str> = out.notes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(notes, ["beacon.incomplete"]);
        assert_eq!(out.findings[0].get("beacon.truncated"), Some("true"));
        assert_eq!(out.findings[0].get("beacon.interval-seconds"), Some("5"));
    }

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(seconds(60.0), "60");
        assert_eq!(seconds(0.5), "0.5");
        assert_eq!(seconds(59.87349), "59.873");
        assert_eq!(seconds(0.0), "0");
        assert_eq!(decimals(59.711, 1), "59.7");
        assert_eq!(decimals(120.0, 1), "120");
        assert_eq!(decimals(100.0, 0), "100");
        assert_eq!(span(45_000_000_000), "45 s");
        assert_eq!(span(1_140_000_000_000), "19 min");
        assert_eq!(span(11_520_000_000_000), "3.2 h");
    }
}
