//! # pcapxray `dns` analyzer
//!
//! Reads the name services of a capture — DNS over UDP and TCP, multicast DNS, LLMNR and the NetBIOS
//! name service — from the flows' payloads. It raises one finding per flow (`dns`, `dns.mdns`,
//! `dns.llmnr`, `dns.nbns`) listing the names asked, the answers and the response codes; it publishes
//! what the answers say as host facts (passive DNS: `name` on every address an A/AAAA answer, a CNAME
//! chain, a PTR answer, an mDNS/LLMNR announcement or a NetBIOS registration names), so later stages
//! and reports can call hosts by name; and at the end it raises conservative, clearly labelled
//! heuristic host findings for DNS that looks like tunnelling, TXT-heavy or NXDOMAIN-heavy traffic.
//!
//! Parsing lives in plain modules (`message` with hickory-proto, `nbns`, `flow`, `anomalies`) that
//! make no host calls and are tested natively; this file holds the configuration, the de-duplication
//! of facts, the deferral of facts about addresses the capture has not shown yet, and the SDK glue.

mod anomalies;
#[cfg(test)]
mod captures;
mod flow;
mod message;
mod nbns;
mod text;

/// Entry points for the fuzz targets in `tests/fuzz`: the parsers, called natively exactly as the
/// analyzer calls them. Not part of the plugin's interface.
#[doc(hidden)]
pub mod fuzz {
    use pcapxray_plugin_sdk::Flow;
    use std::net::{IpAddr, Ipv4Addr};

    /// One message as unicast DNS / mDNS / LLMNR (hickory-proto) and as NetBIOS name service.
    pub fn message(bytes: &[u8]) {
        let _ = crate::message::parse_dns(bytes);
        let _ = crate::nbns::parse(bytes, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    }

    /// One flow through the per-flow observation (TCP length framing, parsing, the finding's text),
    /// with the default limits and `any_port` on.
    pub fn observe(flow: &Flow) {
        let limits = crate::flow::Limits {
            max_answers: 20,
            max_queries: 50,
            any_port: true,
        };
        let _ = crate::flow::observe(flow, limits);
    }
}

use anomalies::{Anomalies, Thresholds};
use flow::{Limits, Observation, Proto};
use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::host::{Host, WitHost};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Flow, Outcome, PluginError, Seen, Timestamp, export_analyzer, log,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Answer records listed per flow in `dns.answers` (1 to 1000).
    pub max_answers_per_flow: usize,
    /// Names listed per flow in `dns.queries` (1 to 1000).
    pub max_queries_per_flow: usize,
    /// Publish names learnt from answers as `name` facts (passive DNS).
    pub publish_names: bool,
    /// Also publish names of addresses that never appear in the capture's traffic (they would add
    /// hosts with no packets to the report).
    pub name_unseen_hosts: bool,
    /// Recognise DNS on ports other than 53, 5353, 5355 and 137, when queries and responses match.
    pub any_port: bool,
    /// Raise the heuristic host findings (tunnelling, TXT-heavy, NXDOMAIN-heavy).
    pub anomalies: bool,
    /// Names at least this long count as tunnel-like.
    pub tunnel_name_length: usize,
    /// Names with at least this many labels count as tunnel-like.
    pub tunnel_label_count: usize,
    /// Distinct tunnel-like names under one domain, from one host, that raise `dns.tunnel-suspect`.
    pub tunnel_min_names: usize,
    /// TXT queries from one host (at least half of its queries) that raise `dns.txt-heavy`.
    pub txt_min_queries: u64,
    /// Distinct names answered NXDOMAIN to one host that raise `dns.nxdomain-heavy`.
    pub nxdomain_min_names: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_answers_per_flow: 20,
            max_queries_per_flow: 50,
            publish_names: true,
            name_unseen_hosts: false,
            any_port: true,
            anomalies: true,
            tunnel_name_length: 60,
            tunnel_label_count: 10,
            tunnel_min_names: 20,
            txt_min_queries: 20,
            nxdomain_min_names: 20,
        }
    }
}

impl Config {
    fn check(&self) -> Result<(), PluginError> {
        let mut errors = Vec::new();
        let mut range = |key: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                errors.push(ConfigError {
                    key: key.into(),
                    message: format!("must be between {min} and {max}, not {value}"),
                });
            }
        };
        range(
            "max_answers_per_flow",
            self.max_answers_per_flow as u64,
            1,
            1000,
        );
        range(
            "max_queries_per_flow",
            self.max_queries_per_flow as u64,
            1,
            1000,
        );
        range("tunnel_name_length", self.tunnel_name_length as u64, 1, 255);
        range("tunnel_label_count", self.tunnel_label_count as u64, 2, 128);
        range(
            "tunnel_min_names",
            self.tunnel_min_names as u64,
            1,
            1_000_000,
        );
        range("txt_min_queries", self.txt_min_queries, 1, 1_000_000);
        range(
            "nxdomain_min_names",
            self.nxdomain_min_names as u64,
            1,
            1_000_000,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PluginError::Config(errors))
        }
    }
}

/// A host fact waiting for its address to show up in the capture.
struct Pending {
    key: &'static str,
    value: String,
    observed: Timestamp,
}

/// Most facts kept waiting for their address.
const MAX_PENDING: usize = 65_536;

/// The analyzer.
pub struct Dns {
    config: Config,
    facts: Seen<(IpAddr, &'static str, String)>,
    known: Seen<IpAddr>,
    pending: HashMap<IpAddr, Vec<Pending>>,
    pending_count: usize,
    /// Names not kept because [`MAX_PENDING`] were already waiting.
    pending_dropped: u64,
    resolvers: Seen<IpAddr>,
    anomalies: Anomalies,
    flows: HashMap<&'static str, u64>,
}

impl Dns {
    fn limits(&self) -> Limits {
        Limits {
            max_answers: self.config.max_answers_per_flow,
            max_queries: self.config.max_queries_per_flow,
            any_port: self.config.any_port,
        }
    }

    /// Analyzes a batch with `host` answering questions about hosts.
    pub fn analyze_with(&mut self, flows: &[Flow], out: &mut Outcome, host: &dyn Host) {
        for flow in flows {
            if let Some(observation) = flow::observe(flow, self.limits()) {
                self.apply(flow, observation, out, host);
            }
        }
    }

    fn apply(&mut self, flow: &Flow, observation: Observation, out: &mut Outcome, host: &dyn Host) {
        *self.flows.entry(observation.proto.tag()).or_default() += 1;
        // The flow's own endpoints are in the host table already.
        self.known.first_time(flow.client_ip());
        self.known.first_time(flow.server_ip());
        if self.config.publish_names {
            for seen in &observation.bindings {
                let b = &seen.binding;
                if !self.facts.first_time((b.ip, b.key, b.value.clone())) {
                    continue;
                }
                if self.config.name_unseen_hosts || self.is_known(b.ip, host) {
                    out.fact(b.ip, b.key, b.value.clone(), Some(seen.observed));
                } else if self.pending_count >= MAX_PENDING {
                    self.pending_dropped += 1;
                } else {
                    self.pending_count += 1;
                    self.pending.entry(b.ip).or_default().push(Pending {
                        key: b.key,
                        value: b.value.clone(),
                        observed: seen.observed,
                    });
                }
            }
        }
        if let Some(resolver) = observation.resolver
            && self.resolvers.first_time(resolver)
        {
            out.fact(
                resolver,
                names::dns::RESOLVER,
                "true",
                Some(flow.first_seen()),
            );
        }
        if observation.proto == Proto::Dns && self.config.anomalies {
            self.anomalies.record(
                flow.client_ip(),
                &observation.queries,
                &observation.nxdomain,
            );
        }
        out.push(observation.finding);
    }

    fn is_known(&mut self, ip: IpAddr, host: &dyn Host) -> bool {
        if self.known.contains(&ip) {
            return true;
        }
        let known = host.host(ip).is_some();
        if known {
            self.known.first_time(ip);
        }
        known
    }

    /// Ends the run with `host` answering questions about hosts. Returns how many names were left
    /// out because their address never showed up.
    pub fn finish_with(&mut self, out: &mut Outcome, host: &dyn Host) -> usize {
        let mut dropped = 0;
        if !self.pending.is_empty() {
            // One question per waiting address (at most MAX_PENDING), not a copy of the host table.
            let mut waiting: Vec<IpAddr> = self.pending.keys().copied().collect();
            waiting.sort();
            for ip in waiting.into_iter().filter(|ip| host.host(*ip).is_some()) {
                for fact in self.pending.remove(&ip).unwrap_or_default() {
                    out.fact(ip, fact.key, fact.value, Some(fact.observed));
                }
            }
            dropped = self.pending.values().map(Vec::len).sum();
            self.pending.clear();
        }
        if self.config.anomalies {
            for finding in self.anomalies.findings() {
                out.push(finding);
            }
        }
        dropped
    }
}

impl Analyzer for Dns {
    const NAME: &'static str = "dns";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Parses DNS, mDNS, LLMNR and NetBIOS name service traffic, names hosts from the answers (passive DNS) and flags DNS that looks like tunnelling.";
    /// DNS, mDNS, LLMNR and NetBIOS names are in payloads: a flow without any has nothing to read.
    const PAYLOAD_FLOWS_ONLY: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<Dns, PluginError> {
        config.check()?;
        let thresholds = Thresholds {
            tunnel_name_length: config.tunnel_name_length,
            tunnel_label_count: config.tunnel_label_count,
            tunnel_min_names: config.tunnel_min_names,
            txt_min_queries: config.txt_min_queries,
            nxdomain_min_names: config.nxdomain_min_names,
        };
        Ok(Dns {
            config,
            facts: Seen::new(),
            known: Seen::new(),
            pending: HashMap::new(),
            pending_count: 0,
            pending_dropped: 0,
            resolvers: Seen::new(),
            anomalies: Anomalies::new(thresholds),
            flows: HashMap::new(),
        })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        self.analyze_with(flows, out, &WitHost);
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let dropped = self.finish_with(out, &WitHost);
        if self.pending_dropped > 0 {
            out.note(
                RunNote::warning(
                    names::dns::NOTE_LIMIT,
                    format!(
                        "{} answers named addresses not yet seen after {MAX_PENDING} such names were \
                         already waiting; those names were not kept",
                        self.pending_dropped
                    ),
                )
                .attr(names::common::DROPPED, self.pending_dropped.to_string())
                .attr(names::common::LIMIT, MAX_PENDING.to_string()),
            );
        }
        if dropped > 0 {
            log::debug(&format!(
                "Left out {dropped} names of addresses the capture never shows (set name_unseen_hosts to keep them)."
            ));
        }
        let count = |tag: &str| self.flows.get(tag).copied().unwrap_or(0);
        log::info(&format!(
            "Read {} DNS, {} mDNS, {} LLMNR and {} NetBIOS name service flows.",
            count("dns"),
            count(names::dns::MDNS),
            count(names::dns::LLMNR),
            count(names::dns::NBNS)
        ));
        Ok(())
    }
}

export_analyzer!(Dns);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tests::flow;
    use crate::message::tests::{query, rec, response};
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::RecordType;
    use hickory_proto::rr::rdata::A;
    use pcapxray_plugin_sdk::Protocol;

    use pcapxray_plugin_sdk::testing::{FakeHost, host};

    /// A host table with these addresses.
    fn known(ips: &[&str]) -> FakeHost {
        let fake = FakeHost::new("dns");
        for ip in ips {
            fake.with_host(host(ip, &[]));
        }
        fake
    }

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_and_checks_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"max_answers_per_flow": 5, "publish_names": false}"#).unwrap();
        assert_eq!(c.max_answers_per_flow, 5);
        assert!(!c.publish_names);
        assert!(config(r#"{"max_answer_per_flow": 5}"#).is_err());
        let zero = Config {
            max_answers_per_flow: 0,
            ..Config::default()
        };
        assert!(
            matches!(Dns::new(zero), Err(PluginError::Config(e)) if e[0].key == "max_answers_per_flow")
        );
    }

    fn lookup(id: u16, name: &str, ip: [u8; 4]) -> Flow {
        let q = query(id, name, RecordType::A);
        let r = response(
            id,
            name,
            RecordType::A,
            ResponseCode::NoError,
            vec![rec(name, RData::A(A::new(ip[0], ip[1], ip[2], ip[3])))],
        );
        flow(
            Protocol::Udp,
            ("10.0.0.2", 4000 + id),
            ("10.0.0.1", 53),
            &[&q],
            &[&r],
        )
    }

    fn facts(out: &Outcome) -> Vec<(String, String, String)> {
        out.host_facts
            .iter()
            .map(|f| (f.host.to_string(), f.key.clone(), f.value.clone()))
            .collect()
    }

    #[test]
    fn names_are_published_once_and_only_for_addresses_the_capture_has() {
        let mut dns = Dns::new(Config::default()).unwrap();
        let model = known(&["93.184.216.34"]);
        let mut out = Outcome::default();
        let flows = [
            lookup(1, "www.example.com.", [93, 184, 216, 34]),
            lookup(2, "www.example.com.", [93, 184, 216, 34]),
            lookup(3, "elsewhere.example.", [192, 0, 2, 77]),
        ];
        dns.analyze_with(&flows, &mut out, &model);
        assert_eq!(out.findings.len(), 3);
        assert_eq!(
            facts(&out),
            [
                (
                    "93.184.216.34".into(),
                    "name".into(),
                    "www.example.com".into()
                ),
                ("10.0.0.1".into(), "dns.resolver".into(), "true".into()),
            ]
        );
        // 192.0.2.77 shows up later in the capture: its name is published at the end.
        model.with_host(host("192.0.2.77", &[]));
        let mut end = Outcome::default();
        dns.finish_with(&mut end, &model);
        assert_eq!(
            facts(&end),
            [(
                "192.0.2.77".into(),
                "name".into(),
                "elsewhere.example".into()
            )]
        );
        assert_eq!(out.host_facts[0].observed, Some(2_000));
    }

    #[test]
    fn names_of_unseen_addresses_are_dropped_unless_asked_for() {
        let flows = [lookup(3, "elsewhere.example.", [192, 0, 2, 77])];
        let mut dns = Dns::new(Config::default()).unwrap();
        let (mut out, mut end) = (Outcome::default(), Outcome::default());
        dns.analyze_with(&flows, &mut out, &known(&[]));
        dns.finish_with(&mut end, &known(&[]));
        assert!(
            facts(&out)
                .iter()
                .chain(&facts(&end))
                .all(|f| f.1 != "name")
        );

        let mut all = Dns::new(Config {
            name_unseen_hosts: true,
            ..Config::default()
        })
        .unwrap();
        let mut out = Outcome::default();
        all.analyze_with(&flows, &mut out, &known(&[]));
        assert!(facts(&out).iter().any(|f| f.2 == "elsewhere.example"));

        let mut quiet = Dns::new(Config {
            publish_names: false,
            name_unseen_hosts: true,
            ..Config::default()
        })
        .unwrap();
        let mut out = Outcome::default();
        quiet.analyze_with(&flows, &mut out, &known(&[]));
        assert!(facts(&out).iter().all(|f| f.1 != "name"));
    }
}
