//! # pcapxray `behaviour` analyzer
//!
//! Sees across flows what no single flow shows: a source trying many ports on a host (port scan) or one
//! port on many hosts (host sweep), echo requests to many hosts (ping sweep), many short sessions to a
//! login service (brute force), SYNs that never complete a handshake piling up at a service (SYN flood,
//! spoofed or not), and large DNS answers nobody asked for (reflection/amplification). Each behaviour is
//! reported **once per actor** — the source, or for spoofed floods the target — with its evidence:
//! counts, the time window, the share of attempts that failed, and a bounded sample of targets, ports
//! and flows.
//!
//! Memory is bounded whatever the capture: attempts per source, sources, attacked services and DNS
//! receivers are capped (`track`), distinct counts use a 1 KiB sketch past 256 values (`count`), and
//! what had to be forgotten is said at the end. Decisions are made when the capture is over (`detect`).

mod count;
mod detect;
mod link;
mod track;

use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::time::iso8601;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Finding, Flow, LinkBatch, Outcome, PluginError, Severity,
    export_analyzer,
};
use serde::Deserialize;
use std::net::IpAddr;
use track::{MAX_ACTORS, MAX_PROBES_PER_ACTOR, MAX_VICTIMS, ShortSession, Tracker};

/// The stage's `config` table. The defaults and why they are what they are: see README.md.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Scans and sweeps are counted within any window of this many seconds (Zeek's scan policy uses 5 min).
    pub window_seconds: u64,
    /// Distinct ports on one host that make a port scan (Zeek: 15).
    pub port_scan_ports: usize,
    /// Distinct hosts on one port that make a host sweep (Zeek: 25).
    pub sweep_hosts: usize,
    /// Distinct hosts sent ICMP echo requests that make a ping sweep.
    pub ping_sweep_hosts: usize,
    /// Share of a scan's or sweep's attempts that must have gone unanswered or been refused (0 to 1).
    pub min_failed_share: f64,
    /// Server ports of login services watched for brute force.
    pub login_ports: Vec<u16>,
    /// Short sessions to one login service that make a brute-force attempt.
    pub brute_force_sessions: usize,
    /// A session is short when the client sent at most this many payload bytes...
    pub short_session_bytes: u64,
    /// ...and it lasted less than this many seconds.
    pub short_session_seconds: u64,
    /// Floods are counted within any window of this many seconds.
    pub flood_window_seconds: u64,
    /// SYNs that never complete a handshake, at one service within the window, that make a flood.
    pub flood_attempts: u64,
    /// Distinct sources from which a flood counts as spoofed (the target is then the actor).
    pub flood_sources: u64,
    /// DNS answers to one address within 60 s that make reflection.
    pub amplification_answers: u64,
    /// ...averaging at least this many bytes...
    pub amplification_answer_bytes: u64,
    /// ...and at least this many times the bytes of the queries (unless most answered no query seen).
    pub amplification_factor: f64,
    /// Distinct addresses one sender asks for in ARP requests, within `window_seconds`, that make an ARP
    /// sweep (with at least `min_failed_share` of them never answering).
    pub arp_sweep_hosts: usize,
    /// Distinct source MAC addresses within `mac_flood_seconds` that make a MAC flood.
    pub mac_flood_macs: u64,
    pub mac_flood_seconds: u64,
    /// Distinct DHCP client hardware addresses asking for a lease within `dhcp_window_seconds` that make
    /// DHCP starvation.
    pub dhcp_starvation_clients: usize,
    pub dhcp_window_seconds: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window_seconds: 300,
            port_scan_ports: 15,
            sweep_hosts: 25,
            ping_sweep_hosts: 25,
            min_failed_share: 0.5,
            login_ports: vec![
                21, 22, 23, 25, 110, 143, 389, 445, 587, 993, 995, 1433, 3306, 3389, 5432, 5900,
            ],
            brute_force_sessions: 20,
            short_session_bytes: 16_384,
            short_session_seconds: 30,
            flood_window_seconds: 10,
            flood_attempts: 200,
            flood_sources: 50,
            amplification_answers: 100,
            amplification_answer_bytes: 512,
            amplification_factor: 10.0,
            arp_sweep_hosts: 50,
            mac_flood_macs: 1000,
            mac_flood_seconds: 10,
            dhcp_starvation_clients: 50,
            dhcp_window_seconds: 60,
        }
    }
}

/// The behaviours, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Behaviour {
    PortScan,
    HostSweep,
    PingSweep,
    BruteForce,
    SynFlood,
    SynFloodTarget,
    DnsAmplification,
    ArpSweep,
    MacFlood,
    DhcpStarvation,
}

impl Behaviour {
    /// The finding tag.
    pub fn tag(self) -> &'static str {
        match self {
            Behaviour::PortScan => names::behaviour::PORT_SCAN,
            Behaviour::HostSweep => names::behaviour::HOST_SWEEP,
            Behaviour::PingSweep => names::behaviour::PING_SWEEP,
            Behaviour::BruteForce => names::behaviour::BRUTE_FORCE,
            Behaviour::SynFlood => names::behaviour::SYN_FLOOD,
            Behaviour::SynFloodTarget => names::behaviour::SYN_FLOOD,
            Behaviour::DnsAmplification => names::behaviour::DNS_AMPLIFICATION,
            Behaviour::ArpSweep => names::behaviour::ARP_SWEEP,
            Behaviour::MacFlood => names::behaviour::MAC_FLOOD,
            Behaviour::DhcpStarvation => names::behaviour::DHCP_STARVATION,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Behaviour::PortScan => "port scan",
            Behaviour::HostSweep => "host sweep",
            Behaviour::PingSweep => "ping sweep",
            Behaviour::BruteForce => "login brute force",
            Behaviour::SynFlood => "SYN flood",
            Behaviour::SynFloodTarget => "SYN flood (spoofed sources)",
            Behaviour::DnsAmplification => "DNS reflection/amplification",
            Behaviour::ArpSweep => "ARP sweep",
            Behaviour::MacFlood => "MAC flood",
            Behaviour::DhcpStarvation => "DHCP starvation",
        }
    }

    /// Whether the actor is the one attacked rather than the one acting.
    fn actor_is_target(self) -> bool {
        matches!(
            self,
            Behaviour::SynFloodTarget | Behaviour::DnsAmplification
        )
    }

    fn severity(self) -> Severity {
        match self {
            Behaviour::SynFlood
            | Behaviour::SynFloodTarget
            | Behaviour::DnsAmplification
            | Behaviour::MacFlood
            | Behaviour::DhcpStarvation => Severity::High,
            Behaviour::ArpSweep => Severity::Medium,
            Behaviour::BruteForce | Behaviour::PortScan | Behaviour::HostSweep => Severity::Medium,
            Behaviour::PingSweep => Severity::Low,
        }
    }
}

/// One behaviour of one actor, with what shows it.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub behaviour: Behaviour,
    pub actor: IpAddr,
    pub attempts: u64,
    pub failed: u64,
    pub rejected: u64,
    /// Distinct targets (a count, or a sketch estimate in words).
    pub targets: String,
    pub ports: u64,
    pub first: u64,
    pub last: u64,
    pub sample_targets: Vec<String>,
    pub sample_ports: Vec<String>,
    pub flows: Vec<u64>,
    /// Flows (or attempts) behind the finding; `flows` lists the first of them.
    pub flow_count: u64,
    pub reason: String,
    /// Attempts of the actor past the per-source bound, counted only.
    pub unkept: u64,
}

/// The analyzer.
pub struct BehaviourAnalyzer {
    config: Config,
    tracker: Tracker,
    link: link::LinkTracker,
}

impl BehaviourAnalyzer {
    fn checked(config: Config) -> Result<BehaviourAnalyzer, PluginError> {
        let mut errors = Vec::new();
        let mut need = |ok: bool, key: &str, message: String| {
            if !ok {
                errors.push(ConfigError {
                    key: key.into(),
                    message,
                });
            }
        };
        need(
            (0.0..=1.0).contains(&config.min_failed_share),
            "min_failed_share",
            format!("must be between 0 and 1, not {}", config.min_failed_share),
        );
        for (key, value) in [
            ("port_scan_ports", config.port_scan_ports as u64),
            ("sweep_hosts", config.sweep_hosts as u64),
            ("ping_sweep_hosts", config.ping_sweep_hosts as u64),
            ("brute_force_sessions", config.brute_force_sessions as u64),
            ("flood_attempts", config.flood_attempts),
            ("flood_sources", config.flood_sources),
            ("amplification_answers", config.amplification_answers),
            ("window_seconds", config.window_seconds),
            ("flood_window_seconds", config.flood_window_seconds),
            ("arp_sweep_hosts", config.arp_sweep_hosts as u64),
            ("mac_flood_macs", config.mac_flood_macs),
            ("mac_flood_seconds", config.mac_flood_seconds),
            (
                "dhcp_starvation_clients",
                config.dhcp_starvation_clients as u64,
            ),
            ("dhcp_window_seconds", config.dhcp_window_seconds),
        ] {
            need(value >= 2, key, format!("must be at least 2, not {value}"));
        }
        need(
            config.amplification_factor.is_finite() && config.amplification_factor >= 1.0,
            "amplification_factor",
            format!("must be 1 or more, not {}", config.amplification_factor),
        );
        if !errors.is_empty() {
            return Err(PluginError::Config(errors));
        }
        Ok(BehaviourAnalyzer {
            config,
            tracker: Tracker::default(),
            link: link::LinkTracker::default(),
        })
    }

    /// Everything found (the analyzer calls it once, at the end).
    pub fn conclude(&mut self) -> Vec<Evidence> {
        let mut all = detect::detect(&self.tracker, &self.config);
        all.extend(self.link.conclude(&self.config));
        all.sort_by_key(|e| (e.behaviour, e.actor));
        all
    }
}

/// A span of capture time in words.
fn span(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// The finding for one piece of evidence.
pub fn finding(e: &Evidence) -> Finding {
    let b = e.behaviour;
    let share = e.failed as f64 / e.flow_count.max(1) as f64;
    let role = if b.actor_is_target() || e.actor.is_unspecified() {
        "target"
    } else {
        "source"
    };
    // Random MACs and DHCP clients without an address: the segment is the actor, not a host.
    let on_segment = e.actor.is_unspecified();
    let actor = if on_segment {
        "the capture's network segment".to_string()
    } else {
        e.actor.to_string()
    };
    let summary = format!(
        "{} {} {}: {} in {}; {}",
        b.words(),
        if b.actor_is_target() || on_segment {
            "on"
        } else {
            "by"
        },
        actor,
        match b {
            Behaviour::PortScan => format!("{} ports on {} host(s)", e.ports, e.targets),
            Behaviour::HostSweep => format!("{} hosts on {}", e.targets, e.sample_ports.join(", ")),
            Behaviour::PingSweep => format!("{} hosts", e.targets),
            Behaviour::BruteForce => format!(
                "{} short sessions to {}",
                e.flow_count,
                e.sample_ports.join(", ")
            ),
            Behaviour::SynFlood | Behaviour::SynFloodTarget =>
                format!("{} half-open SYNs", e.attempts),
            Behaviour::DnsAmplification => format!("{} DNS answers", e.attempts),
            Behaviour::ArpSweep => format!("ARP requests for {} addresses", e.targets),
            Behaviour::MacFlood => format!("{} source MAC addresses", e.targets),
            Behaviour::DhcpStarvation =>
                format!("lease requests for {} client addresses", e.targets),
        },
        span(e.last.saturating_sub(e.first)),
        match b {
            Behaviour::SynFloodTarget => format!("{} sources", e.targets),
            Behaviour::DnsAmplification => format!("{} resolvers", e.targets),
            Behaviour::BruteForce => format!("{} host(s)", e.targets),
            Behaviour::MacFlood => format!("{} with the multicast bit", e.failed),
            Behaviour::DhcpStarvation => format!("{} spoofed client addresses", e.failed),
            _ => format!("{:.0}% unanswered", share * 100.0),
        }
    );
    let mut f = if on_segment {
        Finding::on_capture(b.tag(), b.severity())
    } else {
        Finding::on_host(e.actor, b.tag(), b.severity())
    };
    f = f
        .summary(summary)
        .confidence(if b == Behaviour::PingSweep { 70 } else { 85 })
        .attr(names::behaviour::BEHAVIOUR, b.words())
        .attr(
            names::behaviour::ACTOR,
            if on_segment {
                "segment".to_string()
            } else {
                actor
            },
        )
        .attr(names::behaviour::ROLE, role)
        .attr(names::behaviour::ATTEMPTS, e.attempts.to_string())
        .attr(names::behaviour::FAILED, e.failed.to_string())
        .attr(names::behaviour::FAILED_SHARE, format!("{share:.2}"))
        .attr(names::behaviour::TARGETS, e.targets.clone())
        .attr(names::behaviour::PORTS, e.ports.to_string())
        .attr(names::behaviour::FIRST, iso8601(e.first))
        .attr(names::behaviour::LAST, iso8601(e.last))
        .attr(
            names::behaviour::SECONDS,
            format!("{:.3}", e.last.saturating_sub(e.first) as f64 / 1e9),
        )
        .attr(
            names::behaviour::SAMPLE_TARGETS,
            e.sample_targets.join(", "),
        )
        .attr(names::behaviour::FLOW_COUNT, e.flow_count.to_string())
        .attr(
            names::behaviour::FLOWS,
            e.flows
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .attr(names::common::REASON, e.reason.clone());
    if !e.sample_ports.is_empty() {
        f = f.attr(names::behaviour::SAMPLE_PORTS, e.sample_ports.join(", "));
    }
    if e.rejected > 0 {
        f = f.attr(names::behaviour::REJECTED, e.rejected.to_string());
    }
    if e.unkept > 0 {
        f = f.attr(
            names::behaviour::UNCOUNTED,
            format!(
                "{} further attempts past the {MAX_PROBES_PER_ACTOR} kept per source were counted, not examined",
                e.unkept
            ),
        );
    }
    f
}

impl Analyzer for BehaviourAnalyzer {
    const NAME: &'static str = "behaviour";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Finds behaviour across flows: port scans, host and ping sweeps, login brute force, SYN floods and DNS amplification, once per actor with evidence.";
    const NEEDS_PAYLOAD: bool = false;
    const WANTS_LINK_EVENTS: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<BehaviourAnalyzer, PluginError> {
        BehaviourAnalyzer::checked(config)
    }

    fn analyze(&mut self, flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        let short = ShortSession {
            max_client_bytes: self.config.short_session_bytes,
            max_seconds: self.config.short_session_seconds,
        };
        for flow in flows {
            self.tracker.observe(flow, &short);
        }
        Ok(())
    }

    fn analyze_link(&mut self, batch: &LinkBatch, _out: &mut Outcome) -> Result<(), PluginError> {
        self.link.observe(batch, &self.config);
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        for e in self.conclude() {
            out.push(finding(&e));
        }
        let t = &self.tracker;
        if t.forgotten_attempts > 0 || t.forgotten_victims > 0 {
            let message = format!(
                "behaviour analysis was bounded: it follows at most {MAX_ACTORS} sources and {MAX_VICTIMS} attacked \
                 services or DNS receivers at once; {} attempts of sources with the fewest attempts and {} services \
                 with the fewest were forgotten (a scanner or flood target keeps its place)",
                t.forgotten_attempts, t.forgotten_victims
            );
            pcapxray_plugin_sdk::log::warn(&message);
            out.note(
                RunNote::warning(names::behaviour::NOTE_LIMIT, message)
                    .attr(
                        names::behaviour::NOTE_FORGOTTEN_ATTEMPTS,
                        t.forgotten_attempts.to_string(),
                    )
                    .attr(
                        names::behaviour::NOTE_FORGOTTEN_SERVICES,
                        t.forgotten_victims.to_string(),
                    ),
            );
        }
        Ok(())
    }
}

export_analyzer!(BehaviourAnalyzer);
