//! Roll-ups and run notes through the real binary and every output (issue #10): 30 connections from one
//! client to one unnamed internet server on an unregistered port are one finding with a count of 30 and
//! all 30 flows in report.json, findings.csv, report.sqlite and report.html; a spoofed SYN flood gives a
//! handful of findings, not one per source; statements about the run are run notes, apart from the
//! findings, in report.json, report.sqlite, report.html and the printed summary.

use crate::support::*;
use pcapgen::{Capture, Endpoint, Side, TcpEnd};
use rusqlite::Connection;
use serde_json::Value;
use std::time::Duration;

const CLIENT: [u8; 4] = [192, 168, 7, 10];
const SERVER: [u8; 4] = [198, 51, 100, 77];
/// Not in the IANA registry, not a notable port.
const PORT: u16 = 47_123;
const CONNECTIONS: u16 = 30;

/// 30 complete TCP sessions from CLIENT to SERVER:PORT, 2 s apart (too irregular in size for a beacon:
/// every session carries a different amount).
fn repeated_sessions() -> Capture {
    let mut c = Capture::new(1_709_283_600);
    for i in 0..CONNECTIONS {
        let client = Endpoint::new([0x3c, 0x22, 0xfb, 1, 2, 3], CLIENT, 40_000 + i);
        let server = Endpoint::new([0x00, 0x14, 0x6c, 1, 2, 3], SERVER, PORT);
        let ask = vec![b'a'; 10 + 37 * i as usize];
        let answer = vec![b'b'; 500 + 101 * (i as usize % 7)];
        c.tcp_session(
            client,
            server,
            &[(Side::Client, &ask), (Side::Server, &answer)],
            TcpEnd::Fin,
        )
        .unwrap();
        c.advance(Duration::from_millis(1_000 + 997 * (i as u64 % 5)));
    }
    c
}

const ALL_OUTPUTS: &str = r#"
[[analyzer]]
plugin = "web"
[[analyzer]]
plugin = "tor"
[[analyzer]]
plugin = "suspicious"
[[output]]
plugin = "json"
[[output]]
plugin = "csv"
[[output]]
plugin = "html"
[[output]]
plugin = "sqlite"
grants = { sqlite = true }
"#;

#[test]
fn thirty_flagged_connections_between_two_hosts_are_one_finding_with_all_thirty_flows_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.pcap");
    repeated_sessions().write_file(&file).unwrap();
    let run = run_pipeline(dir.path(), ALL_OUTPUTS, &file);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(report["flows"].as_array().unwrap().len(), 30);

    // report.json: one entry, 30 flows, every flow id of the capture.
    let flagged: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tag"] == "suspicious")
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    let f = flagged[0];
    assert_eq!(f["count"], 30);
    let mut ids: Vec<u64> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    let listed: Vec<u64> = f["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(report["summary"]["findings_by_tag"]["suspicious"], 1);
    // The findings on flows, counted before roll-up: those on the flows, and the 30 suspicious ones
    // (raised at the end of the run, so only in the findings list, with their count), in
    // report.json as in the printed summary.
    let on_flows: u64 = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["findings"].as_array().unwrap().len() as u64)
        .sum::<u64>()
        + report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rollup"] != true && f["subject"]["flow"].is_u64())
            .map(|f| f["count"].as_u64().unwrap_or(1))
            .sum::<u64>();
    assert!(on_flows >= 30, "{on_flows}");
    assert_eq!(report["summary"]["flow_findings"], on_flows);
    assert!(
        run.stdout.contains(&format!(
            "as the reports list them ({on_flows} findings on flows"
        )),
        "{}",
        run.stdout
    );
    assert!(
        f["attributes"]["reason.port"]
            .as_str()
            .unwrap()
            .contains("47123/tcp is not in the IANA registry"),
        "{f:#}"
    );

    // findings.csv: one row, count 30, the first flows listed.
    let csv = std::fs::read_to_string(run.out_dir.join("findings.csv")).unwrap();
    let rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("suspicious,"))
        .collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(rows[0].contains(",30,1 2 3 "), "{}", rows[0]);

    // report.sqlite: one listed row with count 30 and 30 finding_flows rows.
    let db = Connection::open(run.out_dir.join("report.sqlite")).unwrap();
    let (count, flows): (i64, i64) = db
        .query_row(
            "SELECT f.count, (SELECT count(*) FROM finding_flows ff WHERE ff.finding_id = f.id) \
             FROM findings_listed f WHERE f.tag = 'suspicious'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, flows), (30, 30));

    // report.html: the row says 30.
    let html = std::fs::read_to_string(run.out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("<td class=\"num\" data-sort=\"30\">30</td>"),
        "the findings table shows the count"
    );
    assert!(html.contains("id=\"notes\""), "a run-notes section");
}

#[test]
fn a_spoofed_syn_flood_is_a_handful_of_findings_and_its_limits_are_run_notes() {
    // Past the behaviour analyzer's 65,536 followed sources, so it must say it forgot some.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.pcap");
    pcapgen::behaviours::syn_flood_spoofed(70_000)
        .unwrap()
        .write_file(&file)
        .unwrap();
    // The default pipeline's analyzers (its Tor stage pointed at a folder that does not exist), and
    // report.json.
    let default = std::fs::read_to_string(repo().join("config/pipeline.toml")).unwrap();
    let missing = dir.path().join("no-consensus-here");
    let analyzers = default.split("[[output]]").next().unwrap().replace(
        "\"~/.local/share/pcapxray/tor\"",
        &format!("{:?}", missing.display().to_string()),
    );
    let pipeline = format!("{analyzers}[[output]]\nplugin = \"json\"\n");
    let run = run_pipeline(dir.path(), &pipeline, &file);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() <= 10, "{findings:#?}");
    let flood: Vec<&Value> = findings
        .iter()
        .filter(|f| f["tag"] == "behaviour.syn-flood")
        .collect();
    assert_eq!(flood.len(), 1);
    assert_eq!(flood[0]["subject"]["host"], "192.168.56.20");
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert!(notes.contains(&"behaviour.limit"), "{notes:?}");
    assert!(notes.contains(&"tor.no-consensus"), "{notes:?}");
    assert!(
        findings.iter().all(|f| f["tag"] != "tor.no-consensus"),
        "a run note is not a finding"
    );
    // The printed summary has a run-notes section.
    assert!(run.stdout.contains("run notes"), "{}", run.stdout);
    assert!(
        run.stdout.contains("[behaviour] behaviour.limit:"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_flood_past_max_active_flows_ends_the_oldest_flows_early_and_says_so() {
    // 3,000 spoofed SYNs within 2 s, none answered, none closed: with at most 1,024 flows open, each
    // new source from the 1,025th on ends the one that has waited longest.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.pcap");
    pcapgen::behaviours::syn_flood_spoofed(3_000)
        .unwrap()
        .write_file(&file)
        .unwrap();
    let pipeline = "[flows]\nmax_active_flows = 1024\n\n[[analyzer]]\nplugin = \"behaviour\"\n\n\
                    [[output]]\nplugin = \"json\"\n";
    let run = run_pipeline(dir.path(), pipeline, &file);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3_000, "every flow is still reported");
    let evicted: Vec<&Value> = flows
        .iter()
        .filter(|f| f["end_reason"] == "evicted")
        .collect();
    assert_eq!(evicted.len(), 3_000 - 1_024);
    // The oldest went first: the evicted flows are the first sources, in order.
    let ids: Vec<u64> = evicted.iter().map(|f| f["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=1_976).collect::<Vec<u64>>());
    assert!(
        flows
            .iter()
            .filter(|f| f["end_reason"] != "evicted")
            .all(|f| f["end_reason"] == "capture-end")
    );
    let note = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == "flows.evicted")
        .expect("a flows.evicted run note");
    assert_eq!(note["stage"], "host");
    assert_eq!(note["attributes"]["flows"], "1976");
    assert_eq!(note["attributes"]["max_active_flows"], "1024");
    // The behaviour does not change: one flood, its victim named.
    let flood: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tag"] == "behaviour.syn-flood")
        .collect();
    assert_eq!(flood.len(), 1, "{flood:#?}");
    assert_eq!(flood[0]["subject"]["host"], "192.168.56.20");
    assert!(
        run.stdout.contains("[host] flows.evicted:"),
        "{}",
        run.stdout
    );
}
