//! The `behaviour` analyzer through the real binary (issue #10): each behaviour in a pcapgen capture gives
//! exactly one finding for the right actor; the same capture just under the threshold and harmless
//! look-alikes give none; and none fires on the real captures of the shared corpus.

use crate::support::*;
use pcapgen::behaviours as b;
use serde_json::Value;
use std::path::Path;

const PIPELINE: &str = "[[analyzer]]\nplugin = \"behaviour\"\n[[output]]\nplugin = \"json\"\n";

/// The behaviour findings of a run over `capture`.
fn behaviour_findings(dir: &Path, capture: &pcapgen::Capture) -> Vec<Value> {
    let file = dir.join("capture.pcap");
    capture.write_file(&file).unwrap();
    findings_of(dir, &file)
}

fn findings_of(dir: &Path, file: &Path) -> Vec<Value> {
    let run = run_pipeline(dir, PIPELINE, file);
    // 2: the damaged capture of the corpus still has a report.
    assert!(run.code == 0 || run.code == 2, "{}", run.all_output());
    let report = run.report();
    all_findings(&report)
        .into_iter()
        .filter(|f| f["tag"].as_str().unwrap_or("").starts_with("behaviour"))
        .cloned()
        .collect()
}

/// Exactly one finding, of `tag`, about `actor`; returns it.
fn one(findings: &[Value], tag: &str, actor: &str) -> Value {
    assert_eq!(
        findings.len(),
        1,
        "expected one {tag} finding: {findings:#?}"
    );
    let f = &findings[0];
    assert_eq!(f["tag"], tag, "{f:#}");
    assert_eq!(f["subject"]["host"], actor, "{f:#}");
    assert_eq!(f["attributes"]["behaviour.actor"], actor, "{f:#}");
    f.clone()
}

fn attr_u64(f: &Value, key: &str) -> u64 {
    f["attributes"][key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {f:#}"))
}

#[test]
fn a_vertical_port_scan_is_one_finding_for_the_scanner_and_14_ports_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::port_scan(200).unwrap());
    let f = one(&found, "behaviour.port-scan", &b::SCANNER.to_string());
    assert_eq!(attr_u64(&f, "behaviour.ports"), 200);
    assert_eq!(attr_u64(&f, "behaviour.targets"), 1);
    // 2 of the 200 ports were open (SYN-ACK), 198 refused with a reset.
    assert_eq!(attr_u64(&f, "behaviour.failed"), 198);
    assert_eq!(attr_u64(&f, "behaviour.rejected"), 198);
    assert_eq!(
        f["attributes"]["behaviour.sample-targets"],
        b::TARGET.to_string()
    );
    assert_eq!(f["severity"], "medium");
    assert!(behaviour_findings(dir.path(), &b::port_scan(14).unwrap()).is_empty());
}

#[test]
fn a_horizontal_sweep_of_port_445_is_one_finding_and_a_browser_on_a_cdn_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::host_sweep(254).unwrap());
    let f = one(&found, "behaviour.host-sweep", &b::SCANNER.to_string());
    assert_eq!(attr_u64(&f, "behaviour.targets"), 254);
    assert_eq!(f["attributes"]["behaviour.sample-ports"], "445/tcp");
    // One in ten answered: 26 of 254 (i % 10 == 3 for i < 254).
    assert_eq!(attr_u64(&f, "behaviour.failed"), 254 - 26);
    assert!(behaviour_findings(dir.path(), &b::host_sweep(24).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::cdn_browsing().unwrap()).is_empty());
}

#[test]
fn a_ping_sweep_is_one_finding_and_24_hosts_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::ping_sweep(100).unwrap());
    let f = one(&found, "behaviour.ping-sweep", &b::SCANNER.to_string());
    assert_eq!(attr_u64(&f, "behaviour.targets"), 100);
    assert_eq!(attr_u64(&f, "behaviour.failed"), 75);
    assert!(behaviour_findings(dir.path(), &b::ping_sweep(24).unwrap()).is_empty());
}

#[test]
fn a_spoofed_syn_flood_names_its_target_once_and_a_busy_server_is_not_flooded() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::syn_flood_spoofed(500).unwrap());
    let f = one(&found, "behaviour.syn-flood", &b::SERVER.to_string());
    assert_eq!(f["attributes"]["behaviour.role"], "target");
    assert_eq!(attr_u64(&f, "behaviour.attempts"), 500);
    // 500 sources: past the exact range, so an estimate within a few percent.
    let sources = f["attributes"]["behaviour.targets"].as_str().unwrap();
    let n: u64 = sources
        .trim_start_matches("about ")
        .parse()
        .unwrap_or_else(|_| panic!("{sources}"));
    assert!((475..=525).contains(&n), "{sources}");
    assert_eq!(f["severity"], "high");
    assert!(behaviour_findings(dir.path(), &b::syn_flood_spoofed(190).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::busy_server().unwrap()).is_empty());
}

#[test]
fn a_syn_flood_from_one_source_names_the_source_once() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::syn_flood_direct(1000).unwrap());
    let f = one(&found, "behaviour.syn-flood", &b::SCANNER.to_string());
    assert_eq!(f["attributes"]["behaviour.role"], "source");
    assert_eq!(attr_u64(&f, "behaviour.attempts"), 1000);
    assert!(behaviour_findings(dir.path(), &b::syn_flood_direct(190).unwrap()).is_empty());
}

#[test]
fn ssh_password_guessing_is_one_brute_force_finding_and_a_backup_job_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::brute_force(40).unwrap());
    let f = one(&found, "behaviour.brute-force", &b::CLIENT.to_string());
    assert_eq!(attr_u64(&f, "behaviour.flow-count"), 40);
    assert_eq!(f["attributes"]["behaviour.sample-ports"], "22/tcp");
    assert!(behaviour_findings(dir.path(), &b::brute_force(19).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::backup_job().unwrap()).is_empty());
}

#[test]
fn dns_reflection_names_the_victim_once_and_a_busy_dns_client_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::dns_amplification(400, 40).unwrap());
    let f = one(
        &found,
        "behaviour.dns-amplification",
        &b::CLIENT.to_string(),
    );
    assert_eq!(attr_u64(&f, "behaviour.attempts"), 400);
    assert_eq!(attr_u64(&f, "behaviour.targets"), 40);
    assert!(behaviour_findings(dir.path(), &b::dns_amplification(90, 40).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::busy_dns_client().unwrap()).is_empty());
}

/// Exactly one finding, of `tag`, about the capture's segment (random MACs, clients without addresses).
fn one_on_segment(findings: &[Value], tag: &str) -> Value {
    assert_eq!(
        findings.len(),
        1,
        "expected one {tag} finding: {findings:#?}"
    );
    let f = &findings[0];
    assert_eq!(f["tag"], tag, "{f:#}");
    assert_eq!(f["subject"], "capture", "{f:#}");
    assert_eq!(f["attributes"]["behaviour.actor"], "segment", "{f:#}");
    f.clone()
}

#[test]
fn the_nmap_arp_sweep_is_one_finding_for_192_168_1_71_counting_at_least_240_targets() {
    let dir = tempfile::tempdir().unwrap();
    let found = findings_of(dir.path(), &testdata("nmap_host_discovery_arp_sweep.pcap"));
    let f = one(&found, "behaviour.arp-sweep", "192.168.1.71");
    assert!(attr_u64(&f, "behaviour.targets") >= 240, "{f:#}");
}

#[test]
fn an_arp_sweep_is_one_finding_and_a_router_refreshing_live_hosts_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::arp_sweep(200).unwrap());
    let f = one(&found, "behaviour.arp-sweep", &b::SCANNER.to_string());
    // 200 silent addresses and TARGET, which answered.
    assert_eq!(attr_u64(&f, "behaviour.targets"), 201);
    assert_eq!(attr_u64(&f, "behaviour.failed"), 200);
    assert!(behaviour_findings(dir.path(), &b::arp_sweep(48).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::arp_refresh().unwrap()).is_empty());
}

#[test]
fn a_mac_flood_is_one_finding_on_the_segment_and_a_busy_segment_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::mac_flood(20_000).unwrap());
    let f = one_on_segment(&found, "behaviour.mac-flood");
    let macs = f["attributes"]["behaviour.targets"].as_str().unwrap();
    let n: u64 = macs.trim_start_matches("about ").parse().unwrap();
    assert!((19_000..=21_000).contains(&n), "{macs}");
    // About half the random MACs carry the multicast bit.
    let multicast = attr_u64(&f, "behaviour.failed");
    assert!((9_000..=11_000).contains(&multicast), "{multicast}");
    assert!(behaviour_findings(dir.path(), &b::mac_flood(900).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::busy_segment().unwrap()).is_empty());
}

#[test]
fn dhcp_starvation_is_one_finding_on_the_segment_and_a_lan_at_boot_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let found = behaviour_findings(dir.path(), &b::dhcp_starvation(500).unwrap());
    let f = one_on_segment(&found, "behaviour.dhcp-starvation");
    assert_eq!(attr_u64(&f, "behaviour.targets"), 500);
    assert!(behaviour_findings(dir.path(), &b::dhcp_starvation(49).unwrap()).is_empty());
    assert!(behaviour_findings(dir.path(), &b::dhcp_boot().unwrap()).is_empty());
}

#[test]
fn no_behaviour_fires_on_the_real_captures_of_the_shared_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let mut fired = Vec::new();
    let mut checked = 0;
    for (name, facts) in expectations() {
        if facts["kind"] != "capture"
            || facts["packets"] == 0
            || name == "nmap_host_discovery_arp_sweep.pcap"
        {
            continue;
        }
        checked += 1;
        for f in findings_of(dir.path(), &testdata(&name)) {
            fired.push(format!("{name}: {}", f["summary"]));
        }
    }
    assert!(checked >= 20, "only {checked} captures");
    assert!(fired.is_empty(), "{fired:#?}");
}

/// Connection state and history (issue #10): a pcapgen capture with one connection per Zeek state gives
/// every state and history in report.json, flows.csv and the SQLite flows table.
#[test]
fn every_zeek_connection_state_reaches_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("states.pcap");
    b::conn_states().unwrap().write_file(&file).unwrap();
    let pipeline = "[[output]]\nplugin = \"json\"\n[[output]]\nplugin = \"csv\"\n\
                    [[output]]\nplugin = \"sqlite\"\ngrants = { sqlite = true }\n";
    let run = run_pipeline(dir.path(), pipeline, &file);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let mut got = std::collections::BTreeMap::new();
    for f in report["flows"].as_array().unwrap() {
        let port = f["client"]["port"].as_u64().unwrap();
        got.insert(
            port,
            (
                f["conn_state"].as_str().unwrap().to_string(),
                f["history"].as_str().unwrap().to_string(),
            ),
        );
    }
    let expected: std::collections::BTreeMap<u64, (String, String)> = b::CONN_STATES
        .iter()
        .enumerate()
        .map(|(i, (s, h))| (1001 + i as u64, (s.to_string(), h.to_string())))
        .collect();
    assert_eq!(got, expected);

    let csv = std::fs::read_to_string(run.out_dir.join("flows.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "conn_state")
        .expect("conn_state column");
    let states: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap())
        .collect();
    assert_eq!(states.len(), 13, "{states:?}");

    let db = rusqlite::Connection::open(run.out_dir.join("report.sqlite")).unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(DISTINCT conn_state) FROM flows", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 13);
    let h: String = db
        .query_row(
            "SELECT history FROM flows WHERE conn_state = 'SF'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(h, "ShADadFf");
}
