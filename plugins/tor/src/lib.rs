//! # pcapxray `tor` analyzer
//!
//! Says which flows went to Tor relays. Tor use is policy-relevant rather than malicious, and it
//! hides where traffic really went, so investigators want to know about it. The reliable way is a
//! relay list: the network-status consensus, read through the `files` capability and matched on the
//! flow's server address and port, using the consensus that was valid when the flow started (relays
//! change every hour). Without a consensus — or for relays the consensus does not list, such as
//! bridges — a heuristic still points at Tor's random-looking TLS server names.
//!
//! The parsing and matching live in plain modules (`consensus`, `catalog`, `matcher`, `sni`) that
//! reach the host only through the SDK's [`Host`] trait and are tested natively; this file holds
//! the configuration, the order of the checks and the SDK glue.

mod catalog;
mod consensus;
mod matcher;
#[cfg(test)]
mod real;
mod sni;

/// Entry points for the fuzz targets in `tests/fuzz`: the parsers, called natively exactly as the
/// analyzer calls them. Not part of the plugin's interface.
#[doc(hidden)]
pub mod fuzz {
    use crate::consensus::{Consensus, Depth};
    use std::net::IpAddr;

    /// A file's bytes as a consensus document, read as the catalogue reads files (lossy UTF-8,
    /// header first, then everything). Every relay read must be found again by its address.
    pub fn consensus(bytes: &[u8]) {
        let _ = crate::catalog::looks_like_consensus(bytes);
        let text = String::from_utf8_lossy(bytes);
        let _ = Consensus::parse(&text, Depth::Header);
        let Ok(c) = Consensus::parse(&text, Depth::Full) else {
            return;
        };
        for relay in &c.relays {
            let addresses = std::iter::once(IpAddr::V4(relay.address));
            for ip in addresses.chain(relay.extra.iter().map(|a| a.ip())) {
                let found = c.relays_at(ip).any(|r| std::ptr::eq(r, relay));
                assert!(
                    found,
                    "relay {} is not found at its address {ip}",
                    relay.nickname
                );
            }
        }
    }
}

use catalog::{Catalog, Fit, Note};
use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::collections::{HashSet, HashSetExt};
use pcapxray_plugin_sdk::host::{Host, WitHost};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Finding, Flow, Outcome, PluginError, Severity, export_analyzer, log,
};
use serde::Deserialize;
use std::net::IpAddr;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Consensus files, or folders holding them, read through the `files` capability.
    pub consensus: Vec<String>,
    /// Flag TLS server names shaped like Tor's random ones.
    pub heuristic: bool,
    /// Count a relay's DirPort as one of its ports (not only its ORPorts).
    pub match_dirport: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            consensus: Vec::new(),
            heuristic: true,
            match_dirport: true,
        }
    }
}

/// Counts for the closing log line.
#[derive(Default)]
struct Stats {
    relay: u64,
    relay_address: u64,
    heuristic: u64,
    /// Flows that started at a time no held consensus covers, and the farthest nearest one (hours).
    uncovered: u64,
    uncovered_hours: i64,
}

/// The analyzer.
pub struct Tor {
    config: Config,
    /// Loaded on the first call that needs it (configuration must not touch files: `validate` runs it).
    catalog: Option<Catalog>,
    /// (relay address, nickname) pairs already published as `tor.relay` facts.
    published: HashSet<(IpAddr, String)>,
    stats: Stats,
    /// Set once the log said that a far consensus was used.
    warned_nearest: bool,
    notes: Vec<Note>,
}

/// The catalogue in `slot`, read from the configured sources on first use.
fn load<'a>(slot: &'a mut Option<Catalog>, config: &Config, files: &dyn Host) -> &'a mut Catalog {
    slot.get_or_insert_with(|| {
        let mut catalog = Catalog::load(&config.consensus, files);
        if config.consensus.is_empty() {
            catalog
                .failures
                .push("the stage's `consensus` list is empty".into());
        }
        catalog
    })
}

impl Tor {
    fn new_checked(config: Config) -> Result<Tor, PluginError> {
        let errors: Vec<ConfigError> = config
            .consensus
            .iter()
            .enumerate()
            .filter(|(_, p)| p.trim().is_empty())
            .map(|(i, _)| ConfigError {
                key: format!("consensus.{i}"),
                message: "must be a path to a consensus file or a folder of them, not empty".into(),
            })
            .collect();
        if !errors.is_empty() {
            return Err(PluginError::Config(errors));
        }
        Ok(Tor {
            config,
            catalog: None,
            published: HashSet::new(),
            stats: Stats::default(),
            warned_nearest: false,
            notes: Vec::new(),
        })
    }

    fn catalog(&mut self, files: &dyn Host) -> &mut Catalog {
        load(&mut self.catalog, &self.config, files)
    }

    /// Adds the findings and facts of one flow to `out`.
    fn observe(&mut self, flow: &Flow, files: &dyn Host, out: &mut Outcome) {
        let start = i64::try_from(flow.first_seen() / 1_000_000_000).unwrap_or(i64::MAX);
        let matched = flow.is_tcp() && self.match_relays(flow, start, files, out);
        // A flow to a listed relay is explained; its random server name would only say it again.
        if self.config.heuristic && !matched {
            self.heuristic(flow, out);
        }
    }

    /// Matches the flow's server against the consensus; true when it is a relay (a finding was added).
    fn match_relays(
        &mut self,
        flow: &Flow,
        start: i64,
        files: &dyn Host,
        out: &mut Outcome,
    ) -> bool {
        let dirport = self.config.match_dirport;
        let catalog = load(&mut self.catalog, &self.config, files);
        let Some((index, fit)) = catalog.select(start) else {
            return false;
        };
        if fit != Fit::Valid {
            self.stats.uncovered += 1;
            self.stats.uncovered_hours = self.stats.uncovered_hours.max(fit.hours());
        }
        let Some(document) = catalog.documents.get(index).cloned() else {
            return false;
        };
        let Some(consensus) = catalog.get(index, files) else {
            return false;
        };
        let Some(hit) = matcher::find(consensus, flow, dirport) else {
            return false;
        };
        out.push(matcher::finding(flow, &hit, &document, fit, start));
        let (relays, ip): (Vec<&consensus::Relay>, IpAddr) = match &hit {
            matcher::Hit::Relay { relay, at, .. } => (vec![*relay], at.ip()),
            matcher::Hit::Address { relays, at } => (relays.clone(), at.ip()),
        };
        let mut fresh = Vec::new();
        for relay in relays {
            if self.published.insert((ip, relay.nickname.clone())) {
                fresh.push(relay.nickname.clone());
            }
        }
        for nickname in fresh {
            out.fact(ip, names::tor::RELAY, nickname, Some(flow.first_seen()));
        }
        match hit {
            matcher::Hit::Relay { .. } => self.stats.relay += 1,
            matcher::Hit::Address { .. } => self.stats.relay_address += 1,
        }
        if fit != Fit::Valid && !self.warned_nearest {
            self.warned_nearest = true;
            self.notes.push(Note::Warn(format!(
                "No configured consensus was valid when the capture's flows started; relays were matched against {}, {} hours away. Relays change hourly: use a consensus from the capture's time (Tor Metrics keeps every one since 2007) for certain results.",
                document.label(),
                fit.hours()
            )));
        }
        true
    }

    fn heuristic(&mut self, flow: &Flow, out: &mut Outcome) {
        let Some(sni) = flow.finding_value(names::tls::SNI) else {
            return;
        };
        let Some(a) = sni::assess(sni) else {
            return;
        };
        if a.score < sni::THRESHOLD {
            return;
        }
        // Tor's ClientHello offers no ALPN; browsers and HTTP clients do. A hello cut by the payload
        // prefix may have lost its ALPN, so only a complete one counts.
        let no_alpn = flow.finding_value(names::tls::ALPN).is_none()
            && flow
                .finding_value(names::tls::CLIENT_HELLO_TRUNCATED)
                .is_none();
        let port = flow.server.port;
        // A browser-like hello (with ALPN) to an ordinary port is left alone: some real names
        // (acronyms: www.sbcglobal.net) look as random as Tor's.
        if !no_alpn && !sni::TOR_ONLY_PORTS.contains(&port) {
            return;
        }
        let mut reason = format!(
            "the server name {sni} has the shape Tor clients give their TLS connections to relays (www. + 4 to 25 random base32 characters + .com): {}",
            a.evidence.join(", ")
        );
        let mut confidence = 20.0 + 25.0 * a.score;
        if no_alpn {
            confidence += 5.0;
            reason.push_str("; no ALPN offered (browsers offer h2 or http/1.1, Tor does not)");
        }
        if sni::TOR_PORTS.contains(&port) {
            confidence += 5.0;
            reason.push_str(&format!("; port {port} is a usual Tor port"));
        }
        self.stats.heuristic += 1;
        out.push(
            Finding::on_flow(flow.id, names::tor::HEURISTIC, Severity::Low)
                .summary(format!(
                    "TLS to {}:{} with a random-looking server name {sni}, as Tor clients send",
                    flow.server_ip(),
                    flow.server.port
                ))
                .confidence(confidence.round().min(50.0) as u8)
                .attr(names::tor::SNI, sni)
                .attr(names::tor::SNI_SCORE, format!("{:.2}", a.score))
                .attr(names::common::REASON, reason),
        );
    }

    /// The capture-level findings once everything was seen.
    fn conclude(&mut self, files: &dyn Host, out: &mut Outcome) {
        let heuristic = self.config.heuristic;
        let catalog = self.catalog(files);
        if !catalog.truncated.is_empty() {
            let names: Vec<&str> = catalog.truncated.iter().map(String::as_str).collect();
            out.note(
                RunNote::warning(
                    names::tor::NOTE_TRUNCATED,
                    format!(
                        "{} ends before its `directory-footer`: the file looks truncated, so relays listed after the cut \
                         are missing and flows to them are not marked as Tor. Replace it with a complete consensus.",
                        names.join(", ")
                    ),
                )
                .attr("documents", names.join(",")),
            );
        }
        if catalog.is_empty() {
            let reason = if catalog.failures.is_empty() {
                "no consensus document could be read".to_string()
            } else {
                catalog.failures.join("; ")
            };
            let fallback = if heuristic {
                "only the random-server-name heuristic ran"
            } else {
                "and the heuristic is switched off"
            };
            out.note(
                RunNote::warning(
                    names::tor::NOTE_NO_CONSENSUS,
                    format!(
                        "Tor relay matching was not possible: no Tor consensus could be read ({fallback}). Fetch one with `pcapxray tor fetch` and grant its folder to this stage."
                    ),
                )
                .attr(names::common::REASON, reason),
            );
        } else if self.stats.uncovered > 0 {
            out.note(
                RunNote::warning(
                    names::tor::NOTE_NOT_COVERED,
                    format!(
                        "{} flows started at times no held Tor consensus covers; their servers were matched \
                         against the nearest consensus (up to {} hours away), and relays change hourly. Add \
                         consensuses of the capture's dates (`pcapxray tor import`, or the Tor relays page of \
                         `pcapxray serve`) for certain results.",
                        self.stats.uncovered, self.stats.uncovered_hours
                    ),
                )
                .attr("flows", self.stats.uncovered.to_string())
                .attr("hours", self.stats.uncovered_hours.to_string()),
            );
        }
    }

    /// Moves the catalog's messages and ours to the host log.
    fn flush_log(&mut self) {
        let mut notes = match self.catalog.as_mut() {
            Some(c) => c.take_notes(),
            None => Vec::new(),
        };
        notes.append(&mut self.notes);
        for note in notes {
            match note {
                Note::Warn(m) => log::warn(&m),
                Note::Info(m) => log::info(&m),
                Note::Debug(m) => log::debug(&m),
            }
        }
    }
}

impl Analyzer for Tor {
    const NAME: &'static str = "tor";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Matches flows against the Tor relays of a network-status consensus and flags Tor's random TLS server names.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Tor, PluginError> {
        Tor::new_checked(config)
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            self.observe(flow, &WitHost, out);
        }
        self.flush_log();
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        self.conclude(&WitHost, out);
        // While other sources give documents, a source that does not exist (the default folder of
        // `pcapxray tor fetch`, never filled) is a detail; any other failure is worth a warning.
        if let Some(c) = &self.catalog
            && !c.failures.is_empty()
            && !c.is_empty()
        {
            let (missing, failed): (Vec<&String>, Vec<&String>) =
                c.failures.iter().partition(|f| c.missing.contains(f));
            let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ");
            if !failed.is_empty() {
                self.notes.push(Note::Warn(format!(
                    "Some consensus sources gave nothing: {}.",
                    join(&failed)
                )));
            }
            if !missing.is_empty() {
                self.notes.push(Note::Debug(format!(
                    "Consensus sources that do not exist: {}.",
                    join(&missing)
                )));
            }
        }
        self.notes.push(Note::Info(format!(
            "Flows to Tor relays: {} on a relay port, {} on another port of a relay's address; flows with Tor-like server names: {}.",
            self.stats.relay, self.stats.relay_address, self.stats.heuristic
        )));
        self.flush_log();
        Ok(())
    }
}

export_analyzer!(Tor);

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::tests::{FakeHost, doc};
    use pcapxray_plugin_sdk::{Attribute, FindingRecord, Subject};

    /// A TCP flow 10.0.0.2 → `server`:`port` with a SYN, at 2022-11-19 10:30 UTC (the shared
    /// consensus is valid then).
    pub(crate) fn flow(server: &str, port: u16) -> Flow {
        let at = 1_668_853_800 * 1_000_000_000;
        let mut f = pcapxray_plugin_sdk::testing::flow_with(7, "10.0.0.2", server, port, b"", b"");
        for (d, t) in [(&mut f.to_server, at), (&mut f.to_client, at + 50_000_000)] {
            (d.first_seen, d.last_seen) = (t, t + 1_000_000);
        }
        f
    }

    pub(crate) fn tls_flow(server: &str, port: u16, attrs: &[(&str, &str)]) -> Flow {
        let mut f = flow(server, port);
        f.findings.push(FindingRecord {
            stage: "web".into(),
            finding: Finding {
                tag: "web.tls".into(),
                subject: Subject::Flow(f.id),
                severity: Severity::Info,
                confidence: 100,
                summary: String::new(),
                attributes: attrs.iter().map(|(k, v)| Attribute::new(*k, *v)).collect(),
                flows: Vec::new(),
            },
            rollup: false,
        });
        f
    }

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"consensus": ["~/tor"], "heuristic": false, "match_dirport": false}"#)
            .unwrap();
        assert_eq!(c.consensus, ["~/tor"]);
        assert!(!c.heuristic && !c.match_dirport);
        assert!(config(r#"{"consensus": "~/tor"}"#).is_err());
        assert!(config(r#"{"consensuses": []}"#).is_err());
        let Err(PluginError::Config(errors)) = Tor::new(Config {
            consensus: vec!["a".into(), " ".into()],
            ..Config::default()
        }) else {
            panic!("an empty path must be refused");
        };
        assert_eq!(errors[0].key, "consensus.1");
    }

    /// A consensus valid 2022-11-19 10:00–13:00 UTC with relay "stars1" at 158.69.204.36:443, in /tor.
    fn stars1() -> FakeHost {
        let fs = FakeHost::new("tor").grant_files();
        fs.file(
            "/tor/c",
            &doc("2022-11-19 10", "stars1", "158.69.204.36", 443),
        );
        fs
    }

    /// A stage that reads /tor.
    fn reading_tor() -> Tor {
        Tor::new(Config {
            consensus: vec!["/tor".into()],
            ..Config::default()
        })
        .unwrap()
    }

    fn run(tor: &mut Tor, fs: &FakeHost, flows: &[Flow]) -> Outcome {
        let mut out = Outcome::default();
        for f in flows {
            tor.observe(f, fs, &mut out);
        }
        tor.conclude(fs, &mut out);
        out
    }

    #[test]
    fn matches_relays_publishes_facts_once_and_says_when_no_consensus_was_read() {
        let fs = stars1();
        let mut tor = reading_tor();
        let flows = [
            flow("158.69.204.36", 443),
            flow("158.69.204.36", 443),
            flow("158.69.204.36", 8080),
            flow("93.184.216.34", 443),
        ];
        let out = run(&mut tor, &fs, &flows);
        let tags: Vec<&str> = out.findings.iter().map(|f| f.tag.as_str()).collect();
        assert_eq!(tags, ["tor.relay", "tor.relay", "tor.relay-address"]);
        assert_eq!(out.findings[0].get("tor.consensus-match"), Some("valid"));
        let facts: Vec<(String, &str, &str)> = out
            .host_facts
            .iter()
            .map(|f| (f.host.to_string(), f.key.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            facts,
            [("158.69.204.36".to_string(), "tor.relay", "stars1")]
        );

        // Nothing configured: one capture finding, the heuristic still runs.
        let mut tor = Tor::new(Config::default()).unwrap();
        let out = run(
            &mut tor,
            &fs,
            &[
                flow("158.69.204.36", 443),
                tls_flow(
                    "193.11.164.243",
                    9001,
                    &[("tls.sni", "www.itogmirzvfwcqt.com")],
                ),
            ],
        );
        let tags: Vec<&str> = out.findings.iter().map(|f| f.tag.as_str()).collect();
        assert_eq!(tags, ["tor.heuristic"]);
        // That no consensus was read is a run note, not a finding about the traffic.
        assert_eq!(out.notes.len(), 1);
        let none = &out.notes[0];
        assert_eq!(none.key, "tor.no-consensus");
        assert_eq!(none.level, pcapxray_plugin_sdk::NoteLevel::Warning);
        assert!(
            none.message.contains("pcapxray tor fetch"),
            "{}",
            none.message
        );
        assert_eq!(
            none.get("reason"),
            Some("the stage's `consensus` list is empty")
        );

        // Configured but not granted.
        fs.state().files = None;
        let mut tor = Tor::new(Config {
            consensus: vec!["/tor".into()],
            heuristic: false,
            ..Config::default()
        })
        .unwrap();
        let out = run(&mut tor, &fs, &[flow("158.69.204.36", 443)]);
        assert!(out.findings.is_empty());
        assert_eq!(out.notes[0].key, "tor.no-consensus");
        assert!(
            out.notes[0]
                .get("reason")
                .unwrap()
                .starts_with("/tor: not granted")
        );
        assert!(out.notes[0].message.contains("heuristic is switched off"));
    }

    #[test]
    fn a_truncated_consensus_still_matches_but_gives_a_run_note_naming_it() {
        let fs = FakeHost::new("tor").grant_files();
        let full = String::from_utf8(doc("2022-11-19 10", "stars1", "158.69.204.36", 443)).unwrap();
        let cut = &full[..full
            .find("directory-footer")
            .expect("the test document has a footer")];
        fs.file("/tor/cut", cut.as_bytes());
        let mut tor = reading_tor();
        let out = run(&mut tor, &fs, &[flow("158.69.204.36", 443)]);
        assert_eq!(
            out.findings.len(),
            1,
            "the relays before the cut are still matched"
        );
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
        assert_eq!(out.notes[0].key, "tor.truncated-consensus");
        assert_eq!(out.notes[0].get("documents"), Some("cut"));
        // A complete one gives none.
        let mut tor = reading_tor();
        assert!(
            run(&mut tor, &stars1(), &[flow("158.69.204.36", 443)])
                .notes
                .is_empty()
        );
    }

    #[test]
    fn flows_no_held_consensus_covers_give_a_run_note_with_their_count() {
        // The second and third flows start two days after the consensus was valid.
        let fs = stars1();
        let mut tor = reading_tor();
        let later = |port| {
            let mut f = flow("158.69.204.36", port);
            for d in [&mut f.to_server, &mut f.to_client] {
                d.first_seen += 48 * 3600 * 1_000_000_000;
                d.last_seen += 48 * 3600 * 1_000_000_000;
            }
            f
        };
        let out = run(
            &mut tor,
            &fs,
            &[flow("158.69.204.36", 443), later(443), later(9001)],
        );
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
        let note = &out.notes[0];
        assert_eq!(note.key, "tor.not-covered");
        assert_eq!(note.get("flows"), Some("2"));
        assert!(
            note.message.contains("pcapxray tor import"),
            "{}",
            note.message
        );
        // Covered flows alone give no note.
        let mut tor = reading_tor();
        assert!(
            run(&mut tor, &fs, &[flow("158.69.204.36", 443)])
                .notes
                .is_empty()
        );
    }

    #[test]
    fn the_heuristic_explains_itself_and_stays_within_its_confidence() {
        let mut tor = Tor::new(Config::default()).unwrap();
        let fs = FakeHost::new("tor").grant_files();
        let flows = [
            tls_flow(
                "193.11.164.243",
                9001,
                &[("tls.sni", "www.itogmirzvfwcqt.com")],
            ),
            tls_flow(
                "140.82.121.4",
                443,
                &[("tls.sni", "www.github.com"), ("tls.alpn", "h2")],
            ),
            tls_flow("203.0.113.9", 8443, &[("tls.sni", "www.q4hx7bfl2nke.com")]),
        ];
        let mut out = Outcome::default();
        for f in &flows {
            tor.observe(f, &fs, &mut out);
        }
        assert_eq!(out.findings.len(), 2);
        let first = &out.findings[0];
        assert_eq!(first.tag, "tor.heuristic");
        assert_eq!(first.severity, Severity::Low);
        assert!(first.confidence <= 50);
        assert_eq!(
            first.summary,
            "TLS to 193.11.164.243:9001 with a random-looking server name www.itogmirzvfwcqt.com, as Tor clients send"
        );
        assert_eq!(
            first.get("reason"),
            Some(
                "the server name www.itogmirzvfwcqt.com has the shape Tor clients give their TLS connections to relays (www. + 4 to 25 random base32 characters + .com): 14-character label, 21% vowels, 8 of 13 adjacent character pairs rare in real names, a run of 8 consonants; no ALPN offered (browsers offer h2 or http/1.1, Tor does not); port 9001 is a usual Tor port"
            )
        );
        let second = &out.findings[1];
        assert!(second.confidence <= 50);
        assert!(!second.get("reason").unwrap().contains("usual Tor port"));

        // An acronym name scores as random, but a browser-like hello (ALPN) to 443 is left alone.
        assert!(sni::assess("www.sbcglobal.net").unwrap().score >= sni::THRESHOLD);
        let mut out = Outcome::default();
        let browser = tls_flow(
            "68.180.151.75",
            443,
            &[
                ("tls.sni", "www.sbcglobal.net"),
                ("tls.alpn", "h2, http/1.1"),
            ],
        );
        tor.observe(&browser, &fs, &mut out);
        assert!(out.findings.is_empty());

        let mut off = Tor::new(Config {
            heuristic: false,
            ..Config::default()
        })
        .unwrap();
        let mut out = Outcome::default();
        off.observe(&flows[0], &fs, &mut out);
        assert!(out.findings.is_empty());
    }
}
