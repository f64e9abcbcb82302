//! The report writers (`text`, `csv`, `sqlite`) through the real binary: the SQLite database holds what
//! the JSON report of the same run holds; swapping outputs is a pipeline edit; the text reports list
//! the devices, the peers and the HTTP transactions an investigator looks for, within their bounds; and
//! on the demo capture every file matches its reviewed copy in tests/golden/ (`PCAPXRAY_BLESS=1`
//! rewrites them after a deliberate change; review the diff).

use crate::support::*;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const TOR: &str = "tor_browser_pcapxray_example.pcap";
const WIKIPEDIA: &str = "http_wikipedia_browsing.pcap";

/// The offline analyzers, in the order the shipped pipelines run them.
const ANALYZERS: &str = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n[[analyzer]]\nplugin = \"devices\"\n[[analyzer]]\nplugin = \"tor\"\n[[analyzer]]\nplugin = \"suspicious\"\n[[analyzer]]\nplugin = \"beacon\"\n";

const JSON: &str = "[[output]]\nplugin = \"json\"\n";
const TEXT: &str = "[[output]]\nplugin = \"text\"\n";
const CSV: &str = "[[output]]\nplugin = \"csv\"\n";
const SQLITE: &str = "[[output]]\nplugin = \"sqlite\"\ngrants = { sqlite = true }\n";

fn run_ok(dir: &Path, pipeline: &str, capture: &Path) -> Run {
    let run = run_pipeline(dir, pipeline, capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    run
}

/// The files of a report folder (without pcapxray's own marker).
fn files(run: &Run) -> BTreeSet<String> {
    std::fs::read_dir(&run.out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".pcapxray-report")
        .collect()
}

fn read(run: &Run, name: &str) -> String {
    std::fs::read_to_string(run.out_dir.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", run.all_output()))
}

fn strings(db: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn count(db: &Connection, sql: &str) -> u64 {
    db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// protocol, client ip, port, mac, server ip, port, bytes to the server, bytes to the client.
type FlowRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    Option<i64>,
    i64,
    i64,
);

/// Tags per flow id, sorted, from the JSON report (on the flows and raised at the end).
fn json_tags_per_flow(report: &Value) -> BTreeMap<u64, Vec<String>> {
    let mut tags: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for f in all_findings(report) {
        if let Some(id) = f["subject"]["flow"].as_u64() {
            tags.entry(id)
                .or_default()
                .push(f["tag"].as_str().unwrap().into());
        }
    }
    tags.values_mut().for_each(|v| v.sort());
    tags
}

#[test]
fn the_sqlite_database_holds_the_hosts_flows_and_findings_of_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = format!("{ANALYZERS}{JSON}{SQLITE}");
    let run = run_ok(dir.path(), &pipeline, &testdata(TOR));
    let report = run.report();
    let db = Connection::open(run.out_dir.join("report.sqlite")).expect("report.sqlite opens");

    assert_eq!(strings(&db, "PRAGMA integrity_check"), ["ok"], "integrity");
    assert!(
        strings(&db, "SELECT \"table\" FROM pragma_foreign_key_check").is_empty(),
        "every foreign key resolves"
    );
    let capture = &report["capture"];
    assert_eq!(
        strings(&db, "SELECT sha256 FROM capture"),
        [capture["sha256"].as_str().unwrap()]
    );
    assert_eq!(
        count(&db, "SELECT packets FROM capture"),
        capture["packets"].as_u64().unwrap()
    );

    // Hosts: the same addresses, MACs and names.
    let hosts = report["hosts"].as_array().unwrap();
    assert!(hosts.len() > 10);
    assert_eq!(count(&db, "SELECT count(*) FROM hosts"), hosts.len() as u64);
    let mut stmt = db
        .prepare("SELECT ip, macs, name FROM hosts ORDER BY id")
        .unwrap();
    let rows: BTreeMap<String, (String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut named = 0;
    for h in hosts {
        let ip = h["ip"].as_str().unwrap();
        let (macs, name) = rows
            .get(ip)
            .unwrap_or_else(|| panic!("host {ip} is not in the database"));
        let json_macs: Vec<&str> = h["macs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(macs, &json_macs.join(","), "{ip}");
        let note = |key: &str| {
            h["notes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["key"] == key)
                .map(|n| n["value"].as_str().unwrap().to_string())
        };
        let expected = h["names"][0]
            .as_str()
            .map(str::to_string)
            .or_else(|| note("dhcp.hostname"))
            .or_else(|| note("netbios.name"));
        assert_eq!(name, &expected, "name of {ip}");
        named += usize::from(name.is_some());
    }
    assert!(named >= 5, "the capture names several hosts ({named})");

    // Flows: the same ids, endpoints and bytes.
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM flows"), flows.len() as u64);
    for f in flows {
        let id = f["id"].as_u64().unwrap();
        let got: FlowRow = db
            .query_row(
                "SELECT protocol, client_ip, client_port, client_mac, server_ip, server_port, bytes_to_server, bytes_to_client FROM flows WHERE id = ?",
                [id as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
            )
            .unwrap_or_else(|e| panic!("flow {id}: {e}"));
        assert_eq!(got.0, f["protocol"].as_str().unwrap(), "flow {id}");
        assert_eq!(got.1, f["client"]["ip"].as_str().unwrap(), "flow {id}");
        assert_eq!(got.4, f["server"]["ip"].as_str().unwrap(), "flow {id}");
        if matches!(got.0.as_str(), "tcp" | "udp") {
            assert_eq!(got.2, f["client"]["port"].as_i64(), "flow {id}");
            assert_eq!(got.5, f["server"]["port"].as_i64(), "flow {id}");
        }
        assert_eq!(got.3.as_deref(), f["client"]["mac"].as_str(), "flow {id}");
        assert_eq!(
            got.6,
            f["to_server"]["bytes"].as_i64().unwrap(),
            "flow {id}"
        );
        assert_eq!(
            got.7,
            f["to_client"]["bytes"].as_i64().unwrap(),
            "flow {id}"
        );
        // Every flow's hosts resolve through the keys.
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM flows f JOIN hosts c ON c.id = f.client_host_id JOIN hosts s ON s.id = f.server_host_id WHERE f.id = {id} AND c.ip = f.client_ip AND s.ip = f.server_ip"
                )
            ),
            1,
            "flow {id}"
        );
    }

    // Findings: the flows' own and the findings list (roll-ups included), and the same tags on each
    // flow.
    let listed: Vec<&Value> = report["findings"].as_array().unwrap().iter().collect();
    let own: Vec<&Value> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .collect();
    assert_eq!(
        count(&db, "SELECT count(*) FROM findings WHERE listed = 1"),
        listed.len() as u64
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM findings WHERE listed = 0"),
        own.len() as u64
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM finding_flows"),
        listed
            .iter()
            .map(|f| f["flows"].as_array().map_or(0, Vec::len) as u64)
            .sum::<u64>()
    );
    let all: Vec<&Value> = own.iter().chain(&listed).copied().collect();
    let mut db_tags: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stmt = db
        .prepare("SELECT flow_id, tag FROM findings WHERE flow_id IS NOT NULL AND rollup = 0")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, tag) = row.unwrap();
        db_tags.entry(id as u64).or_default().push(tag);
    }
    db_tags.values_mut().for_each(|v| v.sort());
    let json_tags = json_tags_per_flow(&report);
    assert!(json_tags.len() > 20);
    assert_eq!(db_tags, json_tags);
    // Findings about hosts point to their host.
    for f in all.iter().filter(|f| f["subject"]["host"].is_string()) {
        let ip = f["subject"]["host"].as_str().unwrap();
        assert!(
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM findings f JOIN hosts h ON h.id = f.host_id WHERE h.ip = '{ip}' AND f.tag = '{}'",
                    f["tag"].as_str().unwrap()
                )
            ) >= 1,
            "{f}"
        );
    }
    // Attributes: as many as the JSON findings carry.
    let attributes: usize = all
        .iter()
        .map(|f| f["attributes"].as_object().unwrap().len())
        .sum();
    assert_eq!(
        count(&db, "SELECT count(*) FROM finding_attributes"),
        attributes as u64
    );

    // DNS: every question name and answer of the dns findings; web: every TLS server name.
    let queries = finding_values(&report, "dns", "dns.queries");
    assert!(!queries.is_empty());
    let db_names: BTreeSet<String> = strings(&db, "SELECT name FROM dns WHERE kind = 'query'")
        .into_iter()
        .collect();
    for q in queries.iter().flat_map(|q| q.split(',')) {
        assert!(db_names.contains(q), "{q} not in the dns table");
    }
    let answers: usize = all_findings(&report)
        .iter()
        .filter(|f| f["tag"] == "dns")
        .filter_map(|f| f["attributes"]["dns.answers"].as_str())
        .map(|a| a.split("; ").count())
        .sum();
    assert_eq!(
        count(&db, "SELECT count(*) FROM dns WHERE kind = 'answer'"),
        answers as u64
    );
    let snis = finding_values(&report, "web.https", "tls.sni");
    assert!(!snis.is_empty());
    let db_snis: BTreeSet<String> = strings(&db, "SELECT sni FROM web WHERE sni IS NOT NULL")
        .into_iter()
        .collect();
    for sni in &snis {
        assert!(db_snis.contains(sni), "{sni} not in the web table");
    }

    // The plugins that ran, and a view that names both ends of each flow.
    assert_eq!(
        strings(&db, "SELECT stage FROM plugins ORDER BY position"),
        [
            "web",
            "dns",
            "devices",
            "tor",
            "suspicious",
            "beacon",
            "json",
            "sqlite"
        ]
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM flows_named"),
        flows.len() as u64
    );
}

#[test]
fn swapping_outputs_is_a_pipeline_edit() {
    let capture = testdata(TOR);
    let a = tempfile::tempdir().unwrap();
    let json_text = run_ok(a.path(), &format!("{ANALYZERS}{JSON}{TEXT}"), &capture);
    assert_eq!(
        files(&json_text),
        [
            "communication.txt",
            "credentials.txt",
            "devices.txt",
            "files.txt",
            "payloads.txt",
            "report.json"
        ]
        .map(String::from)
        .into()
    );
    let b = tempfile::tempdir().unwrap();
    let csv_sqlite = run_ok(b.path(), &format!("{ANALYZERS}{CSV}{SQLITE}"), &capture);
    assert_eq!(
        files(&csv_sqlite),
        [
            "credentials.csv",
            "files.csv",
            "findings.csv",
            "flows.csv",
            "hosts.csv",
            "report.sqlite"
        ]
        .map(String::from)
        .into()
    );
    assert!(
        csv_sqlite.stdout.contains("report.sqlite"),
        "{}",
        csv_sqlite.stdout
    );

    // The CSV files and the database agree, and both agree with the JSON run.
    let report = json_text.report();
    let flows = csv_file(&read(&csv_sqlite, "flows.csv"));
    let findings = csv_file(&read(&csv_sqlite, "findings.csv"));
    let hosts = csv_file(&read(&csv_sqlite, "hosts.csv"));
    let db = Connection::open(csv_sqlite.out_dir.join("report.sqlite")).unwrap();
    assert_eq!(flows.len() - 1, report["flows"].as_array().unwrap().len());
    assert_eq!(
        flows.len() as u64 - 1,
        count(&db, "SELECT count(*) FROM flows")
    );
    assert_eq!(
        findings.len() - 1,
        report["findings"].as_array().unwrap().len()
    );
    assert_eq!(
        findings.len() as u64 - 1,
        count(&db, "SELECT count(*) FROM findings_listed")
    );
    assert_eq!(hosts.len() - 1, report["hosts"].as_array().unwrap().len());
    let width = flows[0].len();
    assert!(flows.iter().all(|r| r.len() == width), "ragged flows.csv");
    assert!(
        findings.iter().all(|r| r.len() == findings[0].len()),
        "ragged findings.csv"
    );
}

#[test]
fn the_sqlite_output_without_its_grant_is_refused_naming_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = "[[analyzer]]\nplugin = \"web\"\n[[output]]\nplugin = \"sqlite\"\n";
    let run = run_pipeline(dir.path(), pipeline, &testdata(TOR));
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("grants = { sqlite = true }"),
        "{}",
        run.stderr
    );
    assert!(!run.out_dir.join("report.sqlite").exists());
}

/// The section of `communication.txt` about `ip`.
fn section<'a>(text: &'a str, ip: &str) -> &'a str {
    let start = text
        .find(&format!("\n== {ip} "))
        .unwrap_or_else(|| panic!("no section for {ip}"));
    let rest = &text[start + 1..];
    match rest[1..].find("\n== ") {
        Some(end) => &rest[..end + 1],
        None => rest,
    }
}

#[test]
fn devices_txt_lists_every_mac_with_its_vendor_and_communication_txt_the_peers_of_a_host() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_ok(
        dir.path(),
        &format!("{ANALYZERS}{JSON}{TEXT}"),
        &testdata(TOR),
    );
    let report = run.report();
    let devices = read(&run, "devices.txt");
    let hosts = report["hosts"].as_array().unwrap();

    // Every MAC address a packet was sent from, with the vendor the devices analyzer named.
    let mut vendors = 0;
    for h in hosts {
        for mac in h["macs"].as_array().unwrap() {
            let mac = mac.as_str().unwrap();
            let line = devices
                .lines()
                .find(|l| l.starts_with(mac))
                .unwrap_or_else(|| panic!("{mac} is not listed in devices.txt:\n{devices}"));
            if h["class"] == "private" && h["macs"].as_array().unwrap().len() == 1 {
                let vendor = h["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["key"] == "vendor");
                if let Some(v) = vendor {
                    assert!(
                        line.contains(v["value"].as_str().unwrap()),
                        "{line} lacks {v}"
                    );
                    vendors += 1;
                }
            }
        }
    }
    assert!(vendors >= 3, "the devices analyzer named {vendors} vendors");
    // Local hosts come first, each with a block.
    let local = devices.find("== Local network hosts").unwrap();
    let other = devices.find("== Other hosts").unwrap();
    assert!(local < other);

    // The LAN host with the most peers: its section lists every one of them.
    let mut peers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in report["flows"].as_array().unwrap() {
        let (c, s) = (
            f["client"]["ip"].as_str().unwrap(),
            f["server"]["ip"].as_str().unwrap(),
        );
        peers.entry(c).or_default().insert(s);
        peers.entry(s).or_default().insert(c);
    }
    let (busiest, its_peers) = peers
        .iter()
        .filter(|(ip, _)| ip.starts_with("192.168.") || ip.starts_with("10."))
        .max_by_key(|(_, p)| p.len())
        .unwrap();
    assert!(its_peers.len() >= 5);
    let communication = read(&run, "communication.txt");
    let part = section(&communication, busiest);
    assert!(
        part.contains(&format!("{} peers,", its_peers.len())),
        "{part}"
    );
    for peer in its_peers {
        assert!(
            part.contains(&format!("\n     {peer} [")),
            "{peer} missing from the section of {busiest}:\n{part}"
        );
    }
    // With the names the analyzers found.
    for h in hosts {
        if let Some(name) = h["names"][0].as_str()
            && its_peers.contains(h["ip"].as_str().unwrap())
        {
            assert!(part.contains(name), "{name} missing:\n{part}");
        }
    }
}

#[test]
fn payloads_txt_has_the_http_transactions_and_stays_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline =
        format!("[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n{JSON}{TEXT}");
    let capture = testdata(WIKIPEDIA);
    let run = run_ok(dir.path(), &pipeline, &capture);
    let report = run.report();
    let payloads = read(&run, "payloads.txt");
    assert!(payloads.len() <= 2 * 1024 * 1024);
    assert!(!payloads.contains("BOUND REACHED"));

    let mut transactions = 0;
    for f in all_findings(&report)
        .into_iter()
        .filter(|f| f["tag"] == "web.http")
    {
        let listed: Vec<Value> =
            serde_json::from_str(f["attributes"]["http.transactions"].as_str().unwrap()).unwrap();
        for t in listed {
            let (Some(method), Some(uri)) = (t["method"].as_str(), t["uri"].as_str()) else {
                continue;
            };
            let host = t["host"].as_str().unwrap_or("");
            let request: String = format!("{method} {host}{uri}").chars().take(120).collect();
            assert!(
                payloads.contains(&format!("  HTTP  {request}")),
                "{request} is not in payloads.txt"
            );
            transactions += 1;
        }
    }
    assert!(transactions >= 10, "{transactions} transactions");
    // DNS questions too.
    for q in finding_values(&report, "dns", "dns.queries") {
        for name in q.split(',') {
            assert!(payloads.contains(&format!("query  {name} (")), "{name}");
        }
    }

    // A small bound is kept, and the file says it was reached.
    let small = tempfile::tempdir().unwrap();
    let pipeline = "[[analyzer]]\nplugin = \"web\"\n[[output]]\nplugin = \"text\"\nconfig = { reports = [\"payloads\"], max_payload_report_bytes = 4096 }\n";
    let run = run_ok(small.path(), pipeline, &capture);
    assert_eq!(files(&run), ["payloads.txt".to_string()].into());
    let bounded = read(&run, "payloads.txt");
    assert!(bounded.len() <= 4096, "{}", bounded.len());
    assert!(bounded.contains("BOUND REACHED"), "{bounded}");
}

/// RFC 4180 records of a CSV file, which must end with its line ending.
fn csv_file(text: &str) -> Vec<Vec<String>> {
    let (records, complete) = crate::support::parse_csv(text);
    assert!(complete, "the file does not end with CRLF");
    records
}

// ---- golden files ---------------------------------------------------------------------------------

/// What each stage's results depend on: the demo capture and these analyzers.
const GOLDEN_PIPELINE: &str = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n[[analyzer]]\nplugin = \"devices\"\n[[output]]\nplugin = \"text\"\n[[output]]\nplugin = \"csv\"\n[[output]]\nplugin = \"sqlite\"\ngrants = { sqlite = true }\n";

/// The database as text: every table's rows in key order, without the plugins' digests (they change
/// with any plugin's code).
fn dump(db: &Connection) -> String {
    let tables = [
        ("capture", "id"),
        ("hosts", "id"),
        ("host_macs", "host_id, mac"),
        ("host_facts", "id"),
        ("flows", "id"),
        ("findings", "id"),
        ("finding_attributes", "finding_id, position"),
        ("dns", "id"),
        ("web", "id"),
        ("files", "id"),
        ("credentials", "id"),
        ("plugins", "position"),
        ("queries", "id"),
    ];
    let mut out = String::new();
    for (table, key) in tables {
        let mut stmt = db
            .prepare(&format!("SELECT * FROM {table} ORDER BY {key}"))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        out.push_str(&format!("== {table}: {}\n", columns.join(" | ")));
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..columns.len())
                .map(|i| {
                    if columns[i] == "digest" {
                        return "(digest)".into();
                    }
                    match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => "NULL".into(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => format!("{v}"),
                        rusqlite::types::ValueRef::Text(t) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        rusqlite::types::ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
                    }
                })
                .collect();
            out.push_str(&cells.join(" | "));
            out.push('\n');
        }
    }
    out
}

#[test]
fn the_reports_of_the_demo_capture_match_their_reviewed_copies() {
    let dir = tempfile::tempdir().unwrap();
    let capture = repo().join("config/demo.pcap");
    let run = run_ok(dir.path(), GOLDEN_PIPELINE, &capture);
    // The capture is named as given on the command line: an absolute path that differs per checkout.
    let normalise = |text: String| text.replace(capture.to_str().unwrap(), "config/demo.pcap");
    let db = Connection::open(run.out_dir.join("report.sqlite")).unwrap();
    let outputs = [
        (
            "text-demo-devices.txt",
            normalise(read(&run, "devices.txt")),
        ),
        (
            "text-demo-communication.txt",
            normalise(read(&run, "communication.txt")),
        ),
        (
            "text-demo-payloads.txt",
            normalise(read(&run, "payloads.txt")),
        ),
        ("csv-demo-flows.csv", read(&run, "flows.csv")),
        ("csv-demo-findings.csv", read(&run, "findings.csv")),
        ("csv-demo-hosts.csv", read(&run, "hosts.csv")),
        ("sqlite-demo.txt", normalise(dump(&db))),
    ];
    let golden = repo().join("tests/golden");
    let bless = std::env::var_os("PCAPXRAY_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, got) in outputs {
        let path = golden.join(name);
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == got => {}
            Ok(expected) => {
                let line = expected
                    .lines()
                    .zip(got.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(expected.lines().count().min(got.lines().count()));
                failures.push(format!(
                    "{name} differs from {} from line {}:\n--- expected\n{}\n--- got\n{}",
                    path.display(),
                    line + 1,
                    expected.lines().nth(line).unwrap_or("(end)"),
                    got.lines().nth(line).unwrap_or("(end)")
                ));
            }
            Err(_) => failures.push(format!(
                "{}: missing (run with PCAPXRAY_BLESS=1 and review it)",
                path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Outputs run on threads of their own, so the analyzers may be batches ahead when an output asks the
/// host about a flow's hosts. It must get the hosts as they were when that flow's batch was analyzed,
/// or the CSV's name columns would depend on timing. One flow per batch here: the name of
/// 2607:f8b0:4006:802::200e comes from a DNS answer in a later flow than flow 10.
#[test]
fn csv_host_names_are_those_known_when_the_flow_was_analyzed_and_the_same_every_run() {
    let capture = testdata("tor_browser_pcapxray_example.pcap");
    let pipeline = "[flows]\nbatch_size = 1\n[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n\
                    [[output]]\nplugin = \"csv\"\nconfig = { host_names = true }\n";
    let mut texts = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let run = run_ok(dir.path(), pipeline, &capture);
        texts.push(read(&run, "flows.csv"));
    }
    assert!(
        texts.iter().all(|t| *t == texts[0]),
        "flows.csv differs between runs"
    );
    let rows = csv_file(&texts[0]);
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (id, ip, name) = (col("id"), col("server_ip"), col("server_name"));
    let row = |n: &str| rows.iter().find(|r| r[id] == n).unwrap();
    // Flow 10 (QUIC from port 53552) is named by its own Google QUIC CHLO (TShark: frames 153 and
    // 162, SNI ogs.google.com), not by the DNS answer analyzed after it
    // (www-google-analytics.l.google.com); flow 48 (port 53312) by its own, www.google-analytics.com
    // (frames 1434 and 1436).
    assert_eq!(row("10")[ip], "2607:f8b0:4006:802::200e");
    assert_eq!(
        row("10")[name],
        "ogs.google.com",
        "named before the DNS answer was analyzed"
    );
    assert_eq!(row("48")[ip], "2607:f8b0:4006:802::200e");
    assert_eq!(row("48")[name], "www.google-analytics.com");
}
