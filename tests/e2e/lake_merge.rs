//! The lake across rotated files (issue #15 point 3): real captures split where flows are open, run
//! with `pcapxray batch`, merged by `docs/lake-merge.sql` on DuckDB from PyPI, against one run over
//! the whole capture; Community IDs of the merged flows against the PyPI reference implementation.

use crate::lake::{PIPELINE, python};
use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Registers the lake's tables as views (partition columns as text), runs the merge, prints JSON.
const MERGE: &str = r#"
import duckdb, json, re, sys
root, sql_file, query = sys.argv[1], sys.argv[2], sys.argv[3]
db = duckdb.connect()
for t in ["flows", "findings", "host_observations", "files", "captures"]:
    db.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/**/*.parquet', "
               "hive_partitioning = true, hive_types_autocast = false)")
text = open(sql_file).read()
for stmt in re.split(r";\s*$", text, flags=re.M):
    if re.sub(r"--[^\n]*", "", stmt).strip():
        db.execute(stmt)
rel = db.sql(query)
cols = rel.columns
print(json.dumps([dict(zip(cols, r)) for r in rel.fetchall()], default=str))
"#;

/// The columns both sides are compared on: the connection, its packets and bytes per direction, its
/// state, its Community ID.
const FLOW_FACTS: &str = "id_orig_h, id_orig_p, id_resp_h, id_resp_p, proto, orig_pkts, resp_pkts, \
     orig_bytes, resp_bytes, orig_ip_bytes, resp_ip_bytes, conn_state, end_reason, community_id";

fn merge_sql() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lake-merge.sql")
}

/// Runs `query` on the merged views of the lake at `root`.
pub fn merged(root: &Path, query: &str) -> Vec<Value> {
    let sql = merge_sql();
    let rows = python(
        MERGE,
        &[root.to_str().unwrap(), sql.to_str().unwrap(), query],
    );
    rows.as_array().expect("rows").clone()
}

/// Splits `capture` with `pcapgen split` before the given packets; returns the parts' folder.
pub fn split(capture: &Path, dir: &Path, before: &[usize]) -> PathBuf {
    let out = dir.join("rotated");
    let parts = pcapgen::split::split(capture, &out, pcapgen::split::Cuts::Before(before.to_vec()))
        .expect("split");
    assert_eq!(parts.len(), before.len() + 1);
    out
}

/// `pcapxray batch` over every file of `folder` into `lake` (sensor `tap`), two jobs.
pub fn batch(dir: &Path, folder: &Path, lake: &Path) {
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let out = support::pcapxray(&[
        "batch",
        pipeline.to_str().unwrap(),
        folder.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        "tap",
        "--jobs",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pcapxray run` of `dir`'s pipeline `--from-lake lake` into the report folder `report`; it must
/// succeed.
fn run_from_lake(dir: &Path, lake: &Path, report: &Path) -> std::process::Output {
    let out = support::pcapxray(&[
        "run",
        dir.join("pipeline.toml").to_str().unwrap(),
        "--from-lake",
        lake.to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Flows of one run over the whole capture, as the lake holds them, and what the run printed.
fn whole_flows(dir: &Path, capture: &Path) -> (Vec<Value>, String) {
    let lake = dir.join("whole");
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let out = support::pcapxray(&[
        "run",
        pipeline.to_str().unwrap(),
        capture.to_str().unwrap(),
        "-o",
        dir.join("whole-report").to_str().unwrap(),
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        "tap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let query = format!(
        "SELECT {FLOW_FACTS} FROM read_parquet('{}/flows/**/*.parquet') ORDER BY ALL",
        lake.display()
    );
    // The merge views are defined over the whole run's lake too (one piece per flow).
    (merged(&lake, &query), stdout)
}

/// The findings by tag a run printed, for the stages that judge flows without payloads (their
/// judgement of the whole flows must not depend on where the files were cut).
fn judged_tags(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("    ") && !l.contains('['))
        .filter(|l| {
            let tag = l.split_whitespace().nth(1).unwrap_or("");
            [
                "suspicious",
                "beacon",
                "behaviour",
                "scan",
                "device",
                "tor",
                "cleartext",
            ]
            .iter()
            .any(|t| tag.starts_with(t))
        })
        .map(str::to_string)
        .collect()
}

/// Community ID v1 of each merged flow by the reference implementation, from its connection.
const REFERENCE_IDS: &str = r#"
import communityid, json, sys
cid = communityid.CommunityID()
out = []
for f in json.loads(sys.argv[1]):
    proto = {"tcp": 6, "udp": 17}.get(f["proto"])
    if proto is None:
        out.append(None)
        continue
    tpl = communityid.FlowTuple(proto, f["id_orig_h"], f["id_resp_h"], f["id_orig_p"], f["id_resp_p"])
    out.append(cid.calc(tpl))
print(json.dumps(out))
"#;

fn check_rotated(capture: &str, before: &[usize]) {
    check_capture(&support::testdata(capture), before);
}

fn check_capture(capture: &Path, before: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    let capture = capture.to_path_buf();
    let rotated = split(&capture, dir.path(), before);
    let lake = dir.path().join("lake");
    batch(dir.path(), &rotated, &lake);

    // The cuts fell where flows were open: some flows are in several pieces.
    let joined = merged(
        &lake,
        "SELECT count(*) AS flows, sum(pieces) AS pieces, max(pieces) AS most FROM merged_flows",
    );
    let (flows, pieces) = (joined[0]["flows"].as_i64(), joined[0]["pieces"].as_f64());
    assert!(
        pieces.unwrap() > flows.unwrap() as f64,
        "no flow was open across a cut: {joined:?}"
    );

    let merged_flows = merged(
        &lake,
        &format!("SELECT {FLOW_FACTS} FROM merged_flows ORDER BY ALL"),
    );
    let (whole, whole_stdout) = whole_flows(dir.path(), &capture);
    assert_eq!(merged_flows.len(), whole.len(), "{joined:?}");
    for (m, w) in merged_flows.iter().zip(&whole) {
        assert_eq!(m, w);
    }

    let reference = python(
        REFERENCE_IDS,
        &[&serde_json::to_string(&merged_flows).unwrap()],
    );
    let mut checked = 0;
    for (f, r) in merged_flows.iter().zip(reference.as_array().unwrap()) {
        if let Some(r) = r.as_str() {
            assert_eq!(f["community_id"].as_str(), Some(r), "{f}");
            checked += 1;
        }
    }
    assert!(checked > 0);

    // `run --from-lake` joins the pieces the same way in Rust: its report's flows are the whole run's,
    // history and times included (findings aside: the lake holds no payloads).
    let from_lake = dir.path().join("from-lake");
    let out = run_from_lake(dir.path(), &lake, &from_lake);
    assert_eq!(
        report_flows(&from_lake),
        report_flows(&dir.path().join("whole-report"))
    );
    // Suspicious, device and behaviour verdicts on the whole flows are those of the whole run (the
    // pieces' own verdicts are judged again; names from SNI and DNS come with the pieces).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let judged = judged_tags(&stdout);
    assert!(!judged.is_empty(), "{stdout}");
    assert_eq!(
        judged,
        judged_tags(&whole_stdout),
        "{stdout}\n{whole_stdout}"
    );
}

/// The flows of a report folder's report.json without their ids and findings, sorted.
fn report_flows(dir: &Path) -> Vec<String> {
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let mut flows: Vec<String> = json["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let o = f.as_object_mut().unwrap();
            for k in ["id", "tags", "findings"] {
                o.remove(k);
            }
            f.to_string()
        })
        .collect();
    flows.sort();
    flows
}

/// Three files, cut inside TCP connections (web, TLS) and a UDP exchange.
#[test]
fn rotated_files_merged_by_duckdb_give_the_flows_of_one_run_over_the_whole_capture() {
    check_rotated("mixed_pcapxray_malicious_traffic.pcap", &[326, 652]);
    check_rotated("http_wikipedia_browsing.pcap", &[45, 90]);
}

/// The file-boundary rule, case by case (a capture written for it, cut in three): a UDP exchange
/// going on across the first cut, then the same 5-tuple after its 60 s idle timeout (a new flow); a
/// TCP connection with data in two files; a connection closed by FIN just before a cut, its ports
/// reused by a SYN 0.5 s later inside the 2 s grace period (a new connection, not a continuation).
#[test]
fn the_merge_rule_at_file_boundaries_keeps_reused_ports_apart() {
    use pcapgen::{Capture, Endpoint, Side, TcpEnd};
    use std::time::Duration;
    let server = Endpoint::new([2, 0, 0, 0, 0, 0x99], [10, 0, 0, 9], 5000);
    let web = Endpoint::new([2, 0, 0, 0, 0, 0x99], [10, 0, 0, 9], 80);
    let a = Endpoint::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 4000);
    let c = Endpoint::new([2, 0, 0, 0, 0, 3], [10, 0, 0, 3], 40000);
    let d = Endpoint::new([2, 0, 0, 0, 0, 4], [10, 0, 0, 4], 40001);
    let t0 = 1_700_000_000;
    let mut cap = Capture::new(t0);
    let at = |cap: &mut Capture, ms: u64| cap.set_time(Duration::from_millis(t0 * 1000 + ms));
    at(&mut cap, 0);
    cap.udp_send(a, server, b"a").unwrap();
    at(&mut cap, 500);
    let mut long = cap.tcp_connect(d, web).unwrap();
    at(&mut cap, 1000);
    cap.udp_send(a, server, b"b").unwrap();
    at(&mut cap, 1200);
    cap.tcp_send(&mut long, Side::Client, b"GET / HTTP/1.1\r\n")
        .unwrap();
    at(&mut cap, 9000);
    let mut first = cap.tcp_connect(c, web).unwrap();
    cap.tcp_send(&mut first, Side::Client, b"one").unwrap();
    at(&mut cap, 10_000);
    cap.tcp_close(first, TcpEnd::Fin).unwrap();
    let cut1 = cap.len();
    at(&mut cap, 10_500);
    let mut again = cap.tcp_connect(c, web).unwrap();
    cap.tcp_send(&mut again, Side::Client, b"two").unwrap();
    cap.tcp_close(again, TcpEnd::Fin).unwrap();
    at(&mut cap, 30_000);
    cap.udp_send(a, server, b"c").unwrap();
    at(&mut cap, 31_000);
    cap.tcp_send(&mut long, Side::Server, b"HTTP/1.1 200 OK\r\n\r\n")
        .unwrap();
    at(&mut cap, 32_000);
    cap.tcp_close(long, TcpEnd::Fin).unwrap();
    let cut2 = cap.len();
    at(&mut cap, 200_000);
    cap.udp_send(a, server, b"d").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boundaries.pcap");
    cap.write_file(&path).unwrap();
    check_capture(&path, &[cut1, cut2]);
    // And the pieces behind it: two UDP flows (one of two pieces), two connections of `c`.
    let rotated = split(&path, dir.path(), &[cut1, cut2]);
    let lake = dir.path().join("lake");
    batch(dir.path(), &rotated, &lake);
    let flows = merged(
        &lake,
        "SELECT id_orig_p, pieces, conn_state FROM merged_flows ORDER BY ts",
    );
    let got: Vec<(i64, i64, String)> = flows
        .iter()
        .map(|f| {
            (
                f["id_orig_p"].as_i64().unwrap(),
                f["pieces"].as_i64().unwrap(),
                f["conn_state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        [
            (4000, 2, s("S0")),
            (40001, 2, s("SF")),
            (40000, 1, s("SF")),
            (40000, 1, s("SF")),
            (4000, 1, s("S0")),
        ]
    );
}

/// Findings and host observations: once per `finding_id`; one row per (MAC, IP, VLAN) across files.
#[test]
fn merged_findings_and_hosts_are_each_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let capture = support::testdata("mixed_pcapxray_malicious_traffic.pcap");
    let rotated = split(&capture, dir.path(), &[326, 652]);
    let lake = dir.path().join("lake");
    batch(dir.path(), &rotated, &lake);
    let dup = merged(
        &lake,
        "SELECT finding_id, count(*) AS n FROM merged_findings GROUP BY finding_id HAVING count(*) > 1",
    );
    assert!(dup.is_empty(), "{dup:?}");
    let all = merged(
        &lake,
        "SELECT count(DISTINCT finding_id) AS ids, count(*) AS rows FROM findings",
    );
    let kept = merged(&lake, "SELECT count(*) AS rows FROM merged_findings");
    assert_eq!(kept[0]["rows"], all[0]["ids"]);
    // Every flow finding names a whole flow of merged_flows.
    let orphans = merged(
        &lake,
        "SELECT f.uid FROM merged_findings f LEFT JOIN merged_flows m ON f.uid = m.uid \
         WHERE f.uid IS NOT NULL AND m.uid IS NULL",
    );
    assert!(orphans.is_empty(), "{orphans:?}");
    let hosts = merged(
        &lake,
        "SELECT mac, ip, vlan, count(*) AS n, max(capture_count) AS files \
         FROM merged_host_observations GROUP BY mac, ip, vlan ORDER BY n DESC, files DESC",
    );
    assert_eq!(hosts[0]["n"], 1, "{hosts:?}");
    assert_eq!(
        hosts[0]["files"], 3,
        "the busiest host is in every file: {hosts:?}"
    );
}

/// The demo capture's beacon (20 connections, one a minute) cut into three files of 6, 7 and 7
/// connections: too few in any one file for the beacon detector, found once across the lake.
#[test]
fn a_beacon_spread_over_three_rotated_files_is_found_once_from_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.pcap");
    // Before the 7th and the 14th connection (frames 188 and 251).
    let rotated = split(&demo, dir.path(), &[187, 250]);
    let lake = dir.path().join("lake");
    batch(dir.path(), &rotated, &lake);
    let per_file = merged(
        &lake,
        "SELECT count(*) AS n FROM findings WHERE class = 'beacon'",
    );
    assert_eq!(per_file[0]["n"], 0, "no single file holds enough of it");

    let report = dir.path().join("from-lake");
    run_from_lake(dir.path(), &lake, &report);
    let json: Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    let beacons: Vec<&Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tag"].as_str().is_some_and(|t| t.starts_with("beacon")))
        .collect();
    assert_eq!(beacons.len(), 1, "{beacons:?}");
    let summary = beacons[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("192.168.1.23 connects to 198.51.100.23:8443/tcp")
            && summary.contains("20 times"),
        "{summary}"
    );
    assert_eq!(json["capture"]["format"], "pcapxray lake");
    assert_eq!(json["capture"]["file"], lake.to_str().unwrap());
}

/// `--from-lake` on a folder that is not a lake, or with a sensor the lake lacks: a clear error
/// naming what is wrong, and no report folder.
#[test]
fn from_lake_refuses_a_folder_that_is_not_a_lake() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let report = dir.path().join("report");
    let out = support::pcapxray(&[
        "run",
        pipeline.to_str().unwrap(),
        "--from-lake",
        dir.path().to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a pcapxray lake (it has no `captures` folder)"),
        "{stderr}"
    );
    assert!(!report.exists());

    let capture = support::testdata("dns_udp_mx_loc_ptr_a_aaaa.pcap");
    let lake = dir.path().join("lake");
    let folder = dir.path().join("one");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&capture, folder.join("dns.pcap")).unwrap();
    batch(dir.path(), &folder, &lake);
    let out = support::pcapxray(&[
        "run",
        pipeline.to_str().unwrap(),
        "--from-lake",
        lake.to_str().unwrap(),
        "--sensor",
        "elsewhere",
        "-o",
        report.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the lake holds no capture of sensor `elsewhere`"),
        "{stderr}"
    );
}

/// Host observations merge by (MAC, IP, VLAN) across files; an address seen behind two MACs during
/// the same time is flagged, one that moved to another MAC later (a new lease) is not.
#[test]
fn an_address_behind_two_macs_at_once_is_flagged_across_files() {
    use pcapgen::{Capture, Endpoint};
    let (a, b, c, d) = (
        [2, 0, 0, 0, 0, 0xa],
        [2, 0, 0, 0, 0, 0xb],
        [2, 0, 0, 0, 0, 0xc],
        [2, 0, 0, 0, 0, 0xd],
    );
    let server = Endpoint::new([2, 0, 0, 0, 0, 0x99], [10, 0, 0, 9], 5000);
    // Each MAC from its own port: a flow keeps the first MAC each side sent from.
    let from =
        |mac: [u8; 6], last: u8| Endpoint::new(mac, [10, 0, 0, last], 4000 + u16::from(mac[5]));
    let mut cap = Capture::new(1_700_000_000);
    let at = |cap: &mut Capture, secs: u64| {
        cap.set_time(std::time::Duration::from_secs(1_700_000_000 + secs))
    };
    at(&mut cap, 0);
    cap.udp_send(from(a, 5), server, b"a").unwrap();
    cap.udp_send(from(c, 7), server, b"c").unwrap();
    at(&mut cap, 5);
    cap.udp_send(from(b, 5), server, b"b").unwrap();
    at(&mut cap, 10);
    cap.udp_send(from(a, 5), server, b"a").unwrap();
    at(&mut cap, 100);
    cap.udp_send(from(d, 7), server, b"d").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("macs.pcap");
    cap.write_file(&whole).unwrap();
    // File 1: what came at 0 s; file 2: the rest.
    let rotated = split(&whole, dir.path(), &[2]);
    let lake = dir.path().join("lake");
    batch(dir.path(), &rotated, &lake);
    let rows = merged(
        &lake,
        "SELECT mac, ip, capture_count, several_macs FROM merged_host_observations \
         WHERE ip IN ('10.0.0.5', '10.0.0.7') ORDER BY mac",
    );
    let got: Vec<(String, i64, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["mac"].as_str().unwrap().to_string(),
                r["capture_count"].as_i64().unwrap(),
                r["several_macs"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("02:00:00:00:00:0a".to_string(), 2, true),
            ("02:00:00:00:00:0b".to_string(), 1, true),
            ("02:00:00:00:00:0c".to_string(), 1, false),
            ("02:00:00:00:00:0d".to_string(), 1, false),
        ]
    );
}
