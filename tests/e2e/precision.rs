//! Issue #10's acceptance numbers for `suspicious` and QUIC names, with the shipped default pipeline
//! (`config/pipeline.toml`, its Tor stage granted the shared consensus instead of
//! `~/.local/share/pcapxray/tor`) over every capture of the shared corpus and the demo: a finding
//! must be worth an analyst's time, say why, and not repeat what another stage already explained.

use crate::support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The default pipeline, with the shared consensus where the user's would be.
fn default_pipeline() -> String {
    let text = std::fs::read_to_string(repo().join("config/pipeline.toml")).unwrap();
    let home = "\"~/.local/share/pcapxray/tor\"";
    assert_eq!(
        text.matches(home).count(),
        2,
        "the Tor stage's consensus and grant"
    );
    let consensus = testdata("tor_cached-consensus_2022-11-19");
    text.replace(
        home,
        &serde_json::to_string(consensus.to_str().unwrap()).unwrap(),
    )
}

/// Every capture of the shared corpus, and the demo.
fn corpus() -> Vec<PathBuf> {
    let dir = testdata("expectations.json")
        .parent()
        .unwrap()
        .to_path_buf();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the shared corpus in {}", dir.display());
    files.insert(0, repo().join("config/demo.pcap"));
    files
}

fn run_default(capture: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), &default_pipeline(), capture);
    assert!(
        run.code == 0 || run.code == 2 && capture.to_string_lossy().contains("corrupt"),
        "{}: exit {}\n{}",
        capture.display(),
        run.code,
        run.all_output()
    );
    run.report()
}

fn tagged<'a>(report: &'a Value, tag: &str) -> Vec<&'a Value> {
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == tag)
        .collect()
}

/// `ip:port` of every flow, by id.
fn servers(report: &Value) -> BTreeMap<u64, String> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                format!(
                    "{}:{}",
                    f["server"]["ip"].as_str().unwrap(),
                    f["server"]["port"]
                ),
            )
        })
        .collect()
}

/// The findings an analyst acts on (not the descriptive web, dns and device ones) about `server`:
/// on its flows, and `beacon` findings naming it.
fn verdicts_about(report: &Value, server: &str) -> Vec<String> {
    let servers = servers(report);
    all_findings(report)
        .into_iter()
        .filter(|f| {
            let tag = f["tag"].as_str().unwrap();
            ["suspicious", "beacon", "cleartext", "tor"]
                .iter()
                .any(|t| tag == *t || tag.starts_with(&format!("{t}.")))
        })
        .filter(|f| {
            let on_flow = f["subject"]["flow"]
                .as_u64()
                .is_some_and(|id| servers[&id] == server);
            let beacon = format!(
                "{}:{}",
                f["attributes"]["beacon.server"].as_str().unwrap_or(""),
                f["attributes"]["beacon.port"].as_str().unwrap_or("")
            );
            on_flow || beacon == server
        })
        .map(|f| f["tag"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn suspicious_findings_are_few_explained_and_say_why_on_every_capture_of_the_corpus() {
    let expectations = expectations();
    let mut quic_captures = 0;
    for capture in corpus() {
        let name = capture.file_name().unwrap().to_str().unwrap().to_string();
        let report = run_default(&capture);
        let suspicious = tagged(&report, "suspicious");
        for f in &suspicious {
            let reasons = f["attributes"]["reasons"].as_str().unwrap_or("");
            assert!(
                !reasons.is_empty(),
                "{name}: a finding without its reasons: {f}"
            );
        }
        match name.as_str() {
            "tls12_web_browsing_many_sni.pcap" => assert!(
                suspicious.len() <= 3,
                "{name}: {} suspicious findings: {suspicious:#?}",
                suspicious.len()
            ),
            "icmp_echo_5_pings.pcap" => {
                assert!(suspicious.is_empty(), "{name}: {suspicious:#?}")
            }
            "demo.pcap" => demo_verdicts(&report),
            _ => {}
        }
        if let Some(expected) = expectations
            .get(&name)
            .and_then(|e| e["quic_sni"].as_array())
        {
            quic_captures += 1;
            let expected: BTreeSet<&str> = expected.iter().map(|v| v.as_str().unwrap()).collect();
            let named: BTreeSet<&str> = tagged(&report, "web.quic")
                .iter()
                .filter_map(|f| f["attributes"]["tls.sni"].as_str())
                .collect();
            assert_eq!(named, expected, "{name}: QUIC server names");
        }
    }
    assert_eq!(quic_captures, 2, "the mixed and Tor captures list quic_sni");
}

/// The demo's planted threats: one finding each, the port-4444 session a Medium for its notable
/// port, and neither the beacon's 20 connections nor the ping repeated as suspicious findings.
fn demo_verdicts(report: &Value) {
    assert_eq!(verdicts_about(report, "193.11.164.243:9001"), ["tor.relay"]);
    assert_eq!(verdicts_about(report, "198.51.100.23:8443"), ["beacon"]);
    assert_eq!(verdicts_about(report, "203.0.113.50:4444"), ["suspicious"]);
    let odd = tagged(report, "suspicious")
        .into_iter()
        .find(|f| {
            f["subject"]["flow"]
                .as_u64()
                .is_some_and(|id| servers(report)[&id] == "203.0.113.50:4444")
        })
        .unwrap();
    assert_eq!(odd["severity"], "medium");
    assert!(
        odd["attributes"]["reason.notable-port"]
            .as_str()
            .unwrap()
            .starts_with("4444/tcp: Metasploit"),
        "{odd}"
    );
    assert_eq!(tagged(report, "beacon").len(), 1);
    assert_eq!(
        tagged(report, "suspicious").len(),
        1,
        "only the port-4444 session: {:#?}",
        tagged(report, "suspicious")
    );
}
