//! Every shared capture through the default plugins, checked against facts tshark established.

use crate::support::*;
use std::collections::BTreeSet;

#[test]
fn every_shared_capture_matches_what_tshark_saw() {
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (name, facts) in expectations() {
        if facts["kind"] != "capture" {
            continue;
        }
        checked += 1;
        let dir = tempfile::tempdir().unwrap();
        let run = run_pipeline(dir.path(), WEB_JSON, &testdata(&name));
        let readable = facts["readable_to_end"].as_bool().unwrap_or(true);
        let expected_code = if readable { 0 } else { 2 };
        if run.code != expected_code {
            mismatches.push(format!(
                "{name}: exit code {} (expected {expected_code})\n{}",
                run.code,
                run.all_output()
            ));
            continue;
        }
        let report = run.report();
        let packets = report["capture"]["packets"].as_u64().unwrap();
        if Some(packets) != facts["packets"].as_u64() {
            mismatches.push(format!(
                "{name}: {packets} packets, tshark saw {}",
                facts["packets"]
            ));
        }
        let hosts: BTreeSet<String> = report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["ip"].as_str().unwrap().to_string())
            .collect();
        for ip in facts["ip_hosts"].as_array().unwrap() {
            if !hosts.contains(ip.as_str().unwrap()) {
                mismatches.push(format!("{name}: host {ip} is missing"));
            }
        }
        let want = |key: &str| -> Vec<String> {
            let mut v: Vec<String> = facts[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        let http = finding_values(&report, "web.http", "http.host");
        if http != want("http_hosts") {
            mismatches.push(format!(
                "{name}: HTTP hosts {http:?}, tshark saw {:?}",
                want("http_hosts")
            ));
        }
        let mut sni = finding_values(&report, "web.https", "tls.sni");
        sni.extend(finding_values(&report, "web.tls", "tls.sni"));
        sni.sort();
        sni.dedup();
        if sni != want("tls_sni") {
            mismatches.push(format!(
                "{name}: TLS SNI {sni:?}, tshark saw {:?}",
                want("tls_sni")
            ));
        }
    }
    assert!(
        checked >= 20,
        "only {checked} captures in expectations.json"
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_report_names_the_plugins_that_produced_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), WEB_JSON, &testdata("http_get_bro_org.pcap"));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let plugins = report["plugins"].as_array().unwrap();
    let names: Vec<&str> = plugins
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "json"]);
    for p in plugins {
        let digest = p["digest"].as_str().unwrap();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 7 + 64,
            "{digest}"
        );
        assert!(p["error"].is_null());
    }
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["tags"][0], "web.http");
    assert_eq!(flows[0]["server"]["port"], 80);
    assert_eq!(flows[0]["orientation"], "syn");
    assert_eq!(
        report["capture"]["sha256"],
        "48c8c3a3560a13ffb03d4eb0ed14143fb57350ced7d6874761a963a8091b1866"
    );
}

/// `run -v` says what each stage cost: calls made, seconds in them, and its peak linear memory.
#[test]
fn verbose_run_lists_calls_time_and_memory_of_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("report");
    let pipeline = repo().join("config/pipeline.toml");
    let capture = repo().join("config/demo.pcap");
    let out = pcapxray(&[
        "run",
        "-v",
        pipeline.to_str().unwrap(),
        capture.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stages = [
        "web",
        "files",
        "credentials",
        "dns",
        "tor",
        "enrich",
        "beacon",
        "behaviour",
        "suspicious",
        "devices",
        "json",
        "text",
        "html",
        "graph",
    ];
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" calls ") && l.contains("MiB peak memory"))
        .collect();
    assert_eq!(lines.len(), stages.len(), "stage lines:\n{stdout}");
    for (line, stage) in lines.iter().zip(stages) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], stage, "{line}");
        // Every stage was configured and called at least once more (analyze/consume, finish).
        let calls: u64 = words[1].parse().unwrap();
        assert!(calls >= 2, "{line}");
        // A plugin's memory is at least the 64 KiB page it starts with.
        let mib: f64 = words[words.len() - 4].parse().unwrap();
        assert!(mib > 0.0, "{line}");
    }
}
