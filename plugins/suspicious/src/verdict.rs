//! From reasons to the one finding an investigator sorts by: every reason that applies, each in words,
//! and a score that says how much they add up to. The ancestor gave one bit ("malicious") for reasons
//! it did not state; here a flow with no reason gets no finding, and one with several says all of them.
//!
//! Scoring: each reason has a weight w (intel 0.9, unregistered port 0.4, unnamed peer 0.3 by default)
//! and the score is 1 − Π(1 − w), the chance that at least one reason is right if each were right with
//! its weight on its own. It stays below 1, grows with every reason, and no single weak reason reaches
//! High. Severity: ≥ 0.8 High, ≥ 0.5 Medium, else Low.

use crate::intel::Hit;
use crate::rules::{Conn, Named, Peer, Side};
use pcapxray_plugin_sdk::{Finding, Severity};
use serde::Deserialize;

/// How much each reason weighs (each between 0 and 1).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// The peer's address, network or name is on an intel list.
    pub intel: f64,
    /// The server port is not in the IANA registry.
    pub unregistered_port: f64,
    /// The internet peer has no name from DNS, SNI, Host or reverse DNS.
    pub unnamed_peer: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            intel: 0.9,
            unregistered_port: 0.4,
            unnamed_peer: 0.3,
        }
    }
}

/// Everything decided about one flow.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `{port}/{proto} is not in the IANA registry`.
    pub port: Option<String>,
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
    /// The TCP connection began before the capture (no SYN seen).
    pub mid_stream: bool,
}

impl Verdict {
    /// The weights of the reasons that apply, strongest first.
    fn weights(&self, w: &Weights) -> Vec<f64> {
        [
            self.intel.as_ref().map(|_| w.intel),
            self.port.as_ref().map(|_| w.unregistered_port),
            self.unnamed.as_ref().map(|_| w.unnamed_peer),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// True when some reason applies.
    pub fn flagged(&self) -> bool {
        self.intel.is_some() || self.port.is_some() || self.unnamed.is_some()
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
        if let Some(port) = &self.port {
            short.push(format!(
                "unregistered port {}/{}",
                conn.server_port, conn.protocol
            ));
            long.push(format!("port {port}"));
        }
        if let Some(unnamed) = &self.unnamed {
            short.push(format!("unnamed public {peer_word}"));
            long.push(format!("{peer_word} {peer_ip} has no name ({unnamed})"));
        }
        let mut finding = Finding::on_flow(conn.id, "suspicious", severity(score))
            .confidence((score * 100.0).round() as u8)
            .summary(format!(
                "{}: {} (score {score:.2})",
                conn.describe(),
                short.join(", ")
            ))
            .attr("score", format!("{score:.2}"))
            .attr("reasons", long.join("; "));
        if let Some(hit) = &self.intel {
            finding = finding
                .attr("reason.intel", hit.describe())
                .attr("intel.list", hit.list.as_str())
                .attr("intel.line", hit.entry.line.to_string())
                .attr("intel.indicator", &*hit.entry.indicator)
                .attr("intel.matched", hit.matched.as_str());
            if let Some(label) = &hit.entry.label {
                finding = finding.attr("intel.label", &**label);
            }
        }
        if let Some(port) = &self.port {
            finding = finding.attr("reason.port", port.as_str());
        }
        if let Some(unnamed) = &self.unnamed {
            finding = finding.attr("reason.unnamed", unnamed.as_str());
            if self.mid_stream {
                finding = finding.attr(
                    "note",
                    "the connection began before the capture (no SYN seen), so the DNS lookup that named it may have too",
                );
            }
        }
        if let Some(service) = &self.service {
            finding = finding.attr(
                "port.service",
                format!(
                    "{}/{} is registered as {service}",
                    conn.server_port, conn.protocol
                ),
            );
        }
        if let Some(peer) = self.peer {
            finding = finding
                .attr("peer", peer.ip.to_string())
                .attr("peer.class", peer.class.as_str());
        }
        if !self.names.is_empty() {
            let names: Vec<String> = self
                .names
                .iter()
                .map(|(n, source)| format!("{n} ({source})"))
                .collect();
            finding = finding.attr("peer.names", names.join(", "));
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

    #[test]
    fn a_finding_states_every_reason_in_words_and_in_its_own_attribute() {
        let conn = Conn::of(&tcp("203.0.113.50", 40_001));
        let mut intel = Intel::default();
        intel.add_list("bad.txt", b"203.0.113.0/24 lab C2\n");
        let verdict = Verdict {
            port: Some("40001/tcp is not in the IANA registry".into()),
            service: None,
            unnamed: Some(
                "no DNS answer, SNI or Host name in the capture; reverse DNS not granted".into(),
            ),
            intel: intel.match_ip(conn.server),
            peer: peer(&conn),
            names: Vec::new(),
            mid_stream: true,
        };
        let f = verdict.finding(&conn, &Weights::default()).unwrap();
        assert_eq!(f.tag, "suspicious");
        assert!(f.get("note").unwrap().contains("began before the capture"));
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.confidence, 96);
        assert_eq!(
            f.summary,
            "tcp 192.168.1.10 → 203.0.113.50:40001: on intel list bad.txt, unregistered port 40001/tcp, unnamed public peer (score 0.96)"
        );
        assert_eq!(f.get("score"), Some("0.96"));
        assert_eq!(
            f.get("reasons"),
            Some(
                "203.0.113.50 (matches 203.0.113.0/24) is listed in bad.txt line 1 (lab C2); \
                 port 40001/tcp is not in the IANA registry; \
                 peer 203.0.113.50 has no name (no DNS answer, SNI or Host name in the capture; reverse DNS not granted)"
            )
        );
        assert_eq!(
            f.get("reason.port"),
            Some("40001/tcp is not in the IANA registry")
        );
        assert_eq!(f.get("intel.label"), Some("lab C2"));
        assert_eq!(f.get("intel.line"), Some("1"));
        assert_eq!(f.get("peer.class"), Some("documentation"));
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
