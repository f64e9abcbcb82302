//! From reasons to the one finding an investigator sorts by: every reason that applies, each in words,
//! and a score that says how much they add up to. The ancestor gave one bit ("malicious") for reasons
//! it did not state; here a flow with no reason gets no finding, and one with several says all of them.
//!
//! Scoring: each reason has a weight w (intel 0.9, notable port 0.5, unregistered port 0.4, cleartext
//! protocol on an odd port 0.35, unnamed peer 0.3 by default) and the score is 1 − Π(1 − w), the
//! chance that at least one reason is right if each were right with its weight on its own. It stays
//! below 1, grows with every reason, and no single weak reason reaches High. Severity: ≥ 0.8 High,
//! ≥ 0.5 Medium, else Low. A missing name on a TCP connection that began before the capture weighs
//! nothing: its DNS lookup would predate the capture too, so the absence is no evidence. It is stated
//! as a note when other reasons flag the flow, and raises nothing on its own.

use crate::intel::Hit;
use crate::rules::{Conn, Named, Peer, Side};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, Severity};
use serde::Deserialize;

/// How much each reason weighs (each between 0 and 1).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// The peer's address, network or name is on an intel list.
    pub intel: f64,
    /// The server port is on the notable-ports list (backdoors, C2, IRC, miners, proxies).
    pub notable_port: f64,
    /// The server port is not in the IANA registry.
    pub unregistered_port: f64,
    /// A cleartext protocol (HTTP, FTP, SMTP, POP3, IMAP, Telnet, IRC) on a port not meant for it.
    pub cleartext_port: f64,
    /// The internet peer has no name from DNS, SNI, Host or reverse DNS.
    pub unnamed_peer: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            intel: 0.9,
            notable_port: 0.5,
            unregistered_port: 0.4,
            cleartext_port: 0.35,
            unnamed_peer: 0.3,
        }
    }
}

/// Everything decided about one flow.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `{port}/{proto} is not in the IANA registry`.
    pub port: Option<String>,
    /// The notable-ports entry of the server port: (what it is known for, source).
    pub notable: Option<(String, String)>,
    /// The cleartext protocol on an odd port, and the reason in words.
    pub plaintext: Option<(&'static str, String)>,
    /// The service the server port is registered to, for context.
    pub service: Option<String>,
    /// Why the peer counts as unnamed (`no DNS answer, SNI or Host name in the capture; ...`).
    pub unnamed: Option<String>,
    /// The intel entry that matched.
    pub intel: Option<Hit>,
    /// The internet side, if any.
    pub peer: Option<Peer>,
    /// The names known for the peer, with their source.
    pub names: Vec<Named>,
    /// The TCP connection began before the capture (no SYN seen): a missing name is then no reason.
    pub mid_stream: bool,
    /// The server never answered: an attempt, whose notable port weighs half.
    pub unanswered: bool,
}

impl Verdict {
    /// The weights of the reasons that apply, strongest first.
    fn weights(&self, w: &Weights) -> Vec<f64> {
        [
            self.intel.as_ref().map(|_| w.intel),
            self.notable.as_ref().map(|_| {
                if self.unanswered {
                    w.notable_port / 2.0
                } else {
                    w.notable_port
                }
            }),
            self.port.as_ref().map(|_| w.unregistered_port),
            self.plaintext.as_ref().map(|_| w.cleartext_port),
            self.counted_unnamed().map(|_| w.unnamed_peer),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The no-name reason when it counts (not for a connection that began before the capture).
    fn counted_unnamed(&self) -> Option<&String> {
        self.unnamed.as_ref().filter(|_| !self.mid_stream)
    }

    /// True when some reason applies.
    pub fn flagged(&self) -> bool {
        self.intel.is_some()
            || self.notable.is_some()
            || self.port.is_some()
            || self.plaintext.is_some()
            || self.counted_unnamed().is_some()
    }

    /// The finding for `conn`, or `None` when no reason applies.
    pub fn finding(&self, conn: &Conn, weights: &Weights) -> Option<Finding> {
        if !self.flagged() {
            return None;
        }
        let score = score(&self.weights(weights));
        let peer_word = match self.peer.map(|p| p.side) {
            Some(Side::Client) => "client",
            _ => "peer",
        };
        let peer_ip = self.peer.map_or(conn.server, |p| p.ip);
        let mut short = Vec::new();
        let mut long = Vec::new();
        if let Some(hit) = &self.intel {
            short.push(format!("on intel list {}", hit.list));
            long.push(hit.describe());
        }
        let port = format!("{}/{}", conn.server_port, conn.protocol);
        if let Some((label, _)) = &self.notable {
            short.push(format!("notable port {port}"));
            long.push(format!("port {port} is a notable port: {label}"));
            if self.unanswered {
                short.push("never answered".into());
                long.push("the server never answered, so this was an attempt, not a session (weighs half)".into());
            }
        }
        if let Some(unregistered) = &self.port {
            short.push(format!("unregistered port {port}"));
            long.push(format!("port {unregistered}"));
        }
        if let Some((protocol, why)) = &self.plaintext {
            short.push(format!("{protocol} on odd port {port}"));
            long.push(why.clone());
        }
        if let Some(unnamed) = self.counted_unnamed() {
            short.push(format!("unnamed public {peer_word}"));
            long.push(format!("{peer_word} {peer_ip} has no name ({unnamed})"));
        }
        let mut finding = Finding::on_flow(conn.id, names::suspicious::TAG, severity(score))
            .confidence((score * 100.0).round() as u8)
            .summary(format!(
                "{}: {} (score {score:.2})",
                conn.describe(),
                short.join(", ")
            ))
            .attr(names::suspicious::SCORE, format!("{score:.2}"))
            .attr(names::common::REASONS, long.join("; "));
        if let Some(hit) = &self.intel {
            finding = finding
                .attr(names::suspicious::REASON_INTEL, hit.describe())
                .attr(names::suspicious::INTEL_LIST, hit.list.as_str())
                .attr(names::suspicious::INTEL_LINE, hit.entry.line.to_string())
                .attr(names::suspicious::INTEL_INDICATOR, &*hit.entry.indicator)
                .attr(names::suspicious::INTEL_MATCHED, hit.matched.as_str());
            if let Some(label) = &hit.entry.label {
                finding = finding.attr(names::suspicious::INTEL_LABEL, &**label);
            }
        }
        if let Some((label, source)) = &self.notable {
            finding = finding
                .attr(
                    names::suspicious::REASON_NOTABLE_PORT,
                    format!("{port}: {label}"),
                )
                .attr(names::suspicious::NOTABLE_PORT_SOURCE, source.as_str());
        }
        if let Some(unregistered) = &self.port {
            finding = finding.attr(names::suspicious::REASON_PORT, unregistered.as_str());
        }
        if let Some((_, why)) = &self.plaintext {
            finding = finding.attr(names::suspicious::REASON_CLEARTEXT_PORT, why.as_str());
        }
        if let Some(unnamed) = &self.unnamed {
            if self.mid_stream {
                finding = finding.attr(
                    names::suspicious::NOTE,
                    format!(
                        "{peer_word} {peer_ip} has no name ({unnamed}), which is not counted: the connection began before the capture (no SYN seen), so the DNS lookup that named it may have too"
                    ),
                );
            } else {
                finding = finding.attr(names::suspicious::REASON_UNNAMED, unnamed.as_str());
            }
        }
        if let Some(service) = &self.service {
            finding = finding.attr(
                names::suspicious::PORT_SERVICE,
                format!(
                    "{}/{} is registered as {service}",
                    conn.server_port, conn.protocol
                ),
            );
        }
        if let Some(peer) = self.peer {
            finding = finding
                .attr(names::suspicious::PEER, peer.ip.to_string())
                .attr(names::suspicious::PEER_CLASS, peer.class.as_str());
        }
        if !self.names.is_empty() {
            let names: Vec<String> = self
                .names
                .iter()
                .map(|(n, source)| format!("{n} ({source})"))
                .collect();
            finding = finding.attr(names::suspicious::PEER_NAMES, names.join(", "));
        }
        Some(finding)
    }
}

/// 1 − Π(1 − w), each weight clamped to 0..=1.
pub fn score(weights: &[f64]) -> f64 {
    1.0 - weights
        .iter()
        .map(|w| 1.0 - w.clamp(0.0, 1.0))
        .product::<f64>()
}

/// High from 0.8, Medium from 0.5, else Low.
pub fn severity(score: f64) -> Severity {
    if score >= 0.8 {
        Severity::High
    } else if score >= 0.5 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::Intel;
    use crate::rules::{Conn, peer, tests::tcp};

    #[test]
    fn scores_combine_as_independent_chances() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(score(&[]), 0.0));
        assert!(close(score(&[0.3]), 0.3));
        assert!(close(score(&[0.4, 0.3]), 0.58));
        assert!(close(score(&[0.9, 0.4, 0.3]), 1.0 - 0.1 * 0.6 * 0.7));
        assert!(close(score(&[1.5, -1.0]), 1.0), "weights are clamped");
        assert_eq!(severity(0.3), Severity::Low);
        assert_eq!(severity(0.58), Severity::Medium);
        assert_eq!(severity(0.9), Severity::High);
        assert_eq!(severity(0.8), Severity::High);
    }

    #[test]
    fn no_reason_no_finding() {
        let conn = Conn::of(&tcp("93.184.216.34", 443));
        assert!(
            Verdict::default()
                .finding(&conn, &Weights::default())
                .is_none()
        );
    }

    const NO_NAME: &str = "no DNS answer, SNI or Host name in the capture; reverse DNS not granted";

    #[test]
    fn a_finding_states_every_reason_in_words_and_in_its_own_attribute() {
        let conn = Conn::of(&tcp("203.0.113.50", 40_001));
        let mut intel = Intel::default();
        intel.add_list("bad.txt", b"203.0.113.0/24 lab C2\n");
        let verdict = Verdict {
            port: Some("40001/tcp is not in the IANA registry".into()),
            plaintext: Some((
                "IRC",
                "IRC in clear text on 40001/tcp, a port IRC is not served on".into(),
            )),
            unnamed: Some(NO_NAME.into()),
            intel: intel.match_ip(conn.server),
            peer: peer(&conn),
            ..Verdict::default()
        };
        let f = verdict.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(f.tag, "suspicious");
        assert_eq!(f.get("note"), None);
        assert_eq!(f.severity, Severity::High);
        // 1 − 0.1 × 0.6 × 0.65 × 0.7
        assert_eq!(f.confidence, 97);
        assert_eq!(
            f.summary,
            "tcp 192.168.1.10 → 203.0.113.50:40001: on intel list bad.txt, unregistered port 40001/tcp, IRC on odd port 40001/tcp, unnamed public peer (score 0.97)"
        );
        assert_eq!(f.get("score"), Some("0.97"));
        assert_eq!(
            f.get("reasons").unwrap(),
            format!(
                "203.0.113.50 (matches 203.0.113.0/24) is listed in bad.txt line 1 (lab C2); \
                 port 40001/tcp is not in the IANA registry; \
                 IRC in clear text on 40001/tcp, a port IRC is not served on; \
                 peer 203.0.113.50 has no name ({NO_NAME})"
            )
        );
        assert_eq!(
            f.get("reason.port"),
            Some("40001/tcp is not in the IANA registry")
        );
        assert_eq!(
            f.get("reason.cleartext-port"),
            Some("IRC in clear text on 40001/tcp, a port IRC is not served on")
        );
        assert_eq!(f.get("reason.unnamed"), Some(NO_NAME));
        assert_eq!(f.get("intel.label"), Some("lab C2"));
        assert_eq!(f.get("intel.line"), Some("1"));
        assert_eq!(f.get("peer.class"), Some("documentation"));
    }

    #[test]
    fn a_notable_port_alone_is_a_medium_and_says_what_the_port_is_known_for() {
        let conn = Conn::of(&tcp("203.0.113.50", 4444));
        let verdict = Verdict {
            notable: Some((
                "Metasploit default listener".into(),
                "Metasploit docs".into(),
            )),
            service: Some("krb524".into()),
            peer: peer(&conn),
            ..Verdict::default()
        };
        let f = verdict.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.get("score"), Some("0.50"));
        assert_eq!(
            f.get("reasons"),
            Some("port 4444/tcp is a notable port: Metasploit default listener")
        );
        assert_eq!(
            f.get("reason.notable-port"),
            Some("4444/tcp: Metasploit default listener")
        );
        assert_eq!(f.get("notable-port.source"), Some("Metasploit docs"));
        // With an unnamed peer: 1 − 0.5 × 0.7, still Medium.
        let both = Verdict {
            unnamed: Some(NO_NAME.into()),
            ..verdict
        };
        let f = both.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(
            (f.severity, f.get("score")),
            (Severity::Medium, Some("0.65"))
        );
    }

    #[test]
    fn a_missing_name_weighs_nothing_on_a_connection_that_began_before_the_capture() {
        let conn = Conn::of(&tcp("203.0.113.50", 40_001));
        let alone = Verdict {
            unnamed: Some(NO_NAME.into()),
            peer: peer(&conn),
            mid_stream: true,
            ..Verdict::default()
        };
        assert!(alone.finding(&conn, &Weights::default()).is_none());
        let with_port = Verdict {
            port: Some("40001/tcp is not in the IANA registry".into()),
            ..alone
        };
        let f = with_port.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(f.get("score"), Some("0.40"));
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.get("reason.unnamed"), None);
        let note = f.get("note").unwrap();
        assert!(
            note.contains("has no name") && note.contains("not counted"),
            "{note}"
        );
        assert!(!f.summary.contains("unnamed"), "{}", f.summary);
    }

    #[test]
    fn a_registered_port_is_context_not_a_reason() {
        let conn = Conn::of(&tcp("216.165.2.56", 9001));
        let verdict = Verdict {
            service: Some("etlservicemgr".into()),
            unnamed: Some(
                "no DNS answer, SNI or Host name in the capture; reverse DNS not granted".into(),
            ),
            peer: peer(&conn),
            ..Verdict::default()
        };
        let f = verdict.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.get("score"), Some("0.30"));
        assert_eq!(f.get("reason.port"), None);
        assert_eq!(
            f.get("port.service"),
            Some("9001/tcp is registered as etlservicemgr")
        );
        assert_eq!(
            f.summary,
            "tcp 192.168.1.10 → 216.165.2.56:9001: unnamed public peer (score 0.30)"
        );
    }
}
