//! The `tor` analyzer through the real host, on real captures and the real consensus of the shared
//! corpus (read in place through the `files` capability, never copied). The Tor example was captured
//! on 2017-12-10 and the consensus is from 2022-11-19, so the relay match is a "nearest" one, with the
//! lower confidence the plugin gives it; the relay "stars1" kept its address over those years.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

const CONSENSUS: &str = "tor_cached-consensus_2022-11-19";

/// A TOML string holding `path`.
fn toml_path(path: &Path) -> String {
    serde_json::to_string(path.to_str().expect("a UTF-8 path")).unwrap()
}

/// `web` → `tor` (reading `source`, granted `grant`) → `json`.
fn pipeline(source: Option<&Path>, grant: Option<&Path>) -> String {
    let mut p = String::from("[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"tor\"\n");
    if let Some(s) = source {
        p.push_str(&format!("config = {{ consensus = [{}] }}\n", toml_path(s)));
    }
    if let Some(g) = grant {
        p.push_str(&format!("grants = {{ files = [{}] }}\n", toml_path(g)));
    }
    p.push_str("[[output]]\nplugin = \"json\"\n");
    p
}

fn tagged<'a>(report: &'a Value, tag: &str) -> Vec<&'a Value> {
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == tag)
        .collect()
}

/// The server `ip:port` of the flow a finding is about.
fn server_of(report: &Value, finding: &Value) -> String {
    let id = finding["subject"]["flow"].as_u64().expect("a flow finding");
    let flow = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .expect("the flow of the finding");
    format!(
        "{}:{}",
        flow["server"]["ip"].as_str().unwrap(),
        flow["server"]["port"]
    )
}

fn run_ok(pipeline: &str, capture: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), pipeline, &testdata(capture));
    assert_eq!(run.code, 0, "{}", run.all_output());
    run.report()
}

#[test]
fn names_the_relay_the_tor_browser_example_talks_to() {
    let consensus = testdata(CONSENSUS);
    let report = run_ok(
        &pipeline(Some(&consensus), Some(&consensus)),
        "tor_browser_pcapxray_example.pcap",
    );
    let relays = tagged(&report, "tor.relay");
    assert!(!relays.is_empty(), "no tor.relay finding");
    for f in &relays {
        assert_eq!(server_of(&report, f), "158.69.204.36:443");
        assert_eq!(f["severity"], "medium");
        assert_eq!(f["stage"], "tor");
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("Tor relay \"stars1\" (Guard) at 158.69.204.36:443"),
            "{summary}"
        );
        let a = &f["attributes"];
        assert_eq!(a["tor.nickname"], "stars1");
        assert_eq!(
            a["tor.fingerprint"],
            "0409605E8343562A790FFE846CB3BD7C04429F70"
        );
        assert_eq!(a["tor.flags"], "Fast Guard Running Stable V2Dir Valid");
        assert_eq!(a["tor.orport"], "443");
        assert_eq!(a["tor.dirport"], "0");
        assert_eq!(
            a["tor.consensus"],
            "tor_cached-consensus_2022-11-19 (valid-after 2022-11-19 10:00:00)"
        );
        // Captured in December 2017: the 2022 consensus is the nearest one, years away.
        assert_eq!(a["tor.consensus-match"], "nearest (43311 hours away)");
        assert_eq!(f["confidence"], 40);
        assert!(
            a["reason"]
                .as_str()
                .unwrap()
                .contains("ORPort of relay stars1")
        );
    }
    assert!(tagged(&report, "tor.relay-address").is_empty());
    assert!(tagged(&report, "tor.no-consensus").is_empty());
    // Its TLS session started before the capture: no server name, so no heuristic finding.
    assert!(tagged(&report, "tor.heuristic").is_empty());

    // The relay's address is published as a host fact.
    let host = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ip"] == "158.69.204.36")
        .expect("the relay is a host of the report");
    let notes: Vec<(&str, &str)> = host["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["stage"] == "tor")
        .map(|n| (n["key"].as_str().unwrap(), n["value"].as_str().unwrap()))
        .collect();
    assert_eq!(notes, [("tor.relay", "stars1")]);
}

#[test]
fn without_the_grant_it_says_relay_matching_was_impossible_and_carries_on() {
    let consensus = testdata(CONSENSUS);
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline(Some(&consensus), None),
        &testdata("tor_browser_pcapxray_example.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    // A run note, not a finding.
    assert!(tagged(&report, "tor.no-consensus").is_empty());
    let none: Vec<&Value> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["key"] == "tor.no-consensus")
        .collect();
    assert_eq!(none.len(), 1, "{none:?}");
    let f = none[0];
    assert_eq!(f["stage"], "tor");
    assert_eq!(f["level"], "warning");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("pcapxray tor fetch")
    );
    let reason = f["attributes"]["reason"].as_str().unwrap();
    assert!(reason.contains("not granted"), "{reason}");
    assert!(tagged(&report, "tor.relay").is_empty());
    // The web findings of the earlier stage are all there.
    assert!(!tagged(&report, "web.https").is_empty());
}

#[test]
fn captures_without_relays_get_no_relay_findings() {
    // The consensus given as its folder: every file in it is looked at, only the consensus is taken.
    let folder = testdata(CONSENSUS).parent().unwrap().to_path_buf();
    for capture in [
        "tls12_web_browsing_many_sni.pcap",
        "mixed_pcapxray_malicious_traffic.pcap",
    ] {
        let report = run_ok(&pipeline(Some(&folder), Some(&folder)), capture);
        for tag in [
            "tor.relay",
            "tor.relay-address",
            "tor.heuristic",
            "tor.no-consensus",
        ] {
            assert!(
                tagged(&report, tag).is_empty(),
                "{capture}: {tag}: {:?}",
                tagged(&report, tag)
            );
        }
    }
}

#[test]
fn the_demo_relay_is_matched_by_address_and_its_random_server_name_is_not_flagged_again() {
    // config/demo.pcap (2024) talks to "Lule" 193.11.164.243:9001 with a Tor-style server name.
    let consensus = testdata(CONSENSUS);
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline(Some(&consensus), Some(&consensus)),
        &repo().join("config/demo.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(
        finding_values(&report, "tor.relay", "tor.nickname"),
        ["Lule"]
    );
    // The relay match explains the flow; the weaker heuristic is not repeated on it (#10).
    assert!(tagged(&report, "tor.heuristic").is_empty());

    // Without a consensus the heuristic is what points at it.
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline(None, None),
        &repo().join("config/demo.pcap"),
    );
    let report = run.report();
    let heuristic = tagged(&report, "tor.heuristic");
    assert_eq!(heuristic.len(), 1);
    assert_eq!(server_of(&report, heuristic[0]), "193.11.164.243:9001");
    assert!(heuristic[0]["confidence"].as_u64().unwrap() <= 50);
}
