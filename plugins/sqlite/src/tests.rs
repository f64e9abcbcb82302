//! The writer against a real (in-memory) SQLite: the schema, every table's rows, the keys between
//! them, the batching, and the refusal when the grant is missing.

use super::*;
use crate::db::MemDb;
use pcapxray_plugin_sdk::testing::FakeHost;
use pcapxray_plugin_sdk::testing::{finding, flow, host, ip, note, report};
use pcapxray_plugin_sdk::{Finding, FindingRecord, PluginKind, PluginRun, QueryRecord, Severity};
use rusqlite::Connection;

const TX: &str = r#"[{"method":"GET","host":"neverssl.com","uri":"/","user_agent":"Mozilla/5.0","status":200,"server":"Apache","content_type":"text/html"},{"method":"POST","host":"neverssl.com","uri":"/x'); DROP TABLE flows; --","user_agent":"Mozilla/5.0","status":null,"server":null,"content_type":null}]"#;

fn flows() -> Vec<Flow> {
    let mut http = flow(5, "192.168.1.23", "34.223.124.45", 80);
    http.findings.push(finding(
        "web",
        5,
        "web.http",
        "HTTP GET neverssl.com/",
        &[("http.transactions", TX), ("server.name", "neverssl.com")],
    ));
    let mut tls = flow(8, "192.168.1.23", "185.15.59.224", 443);
    tls.findings.push(finding(
        "web",
        8,
        "web.https",
        "TLS to www.wikipedia.org (SNI)",
        &[
            ("tls.sni", "www.wikipedia.org"),
            ("tls.version", "TLS 1.3"),
            ("tls.cipher", "TLS_AES_128_GCM_SHA256"),
            ("server.name", "www.wikipedia.org"),
        ],
    ));
    let mut dns = flow(3, "192.168.1.23", "8.8.8.8", 53);
    dns.protocol = pcapxray_plugin_sdk::Protocol::Udp;
    dns.findings.push(finding(
        "dns",
        3,
        "dns",
        "DNS A www.wikipedia.org",
        &[
            ("dns.queries", "www.wikipedia.org"),
            ("dns.qtypes", "A"),
            (
                "dns.answers",
                "www.wikipedia.org CNAME dyna.wikimedia.org; dyna.wikimedia.org A 185.15.59.224",
            ),
            ("dns.rcode", "NOERROR"),
        ],
    ));
    vec![http, tls, dns]
}

fn full_report() -> Report {
    let mut laptop = host("192.168.1.23", &[0xf8bc126e4d21]);
    laptop.notes = vec![
        note("devices", "vendor", "Apple, Inc."),
        note("devices", "dhcp.hostname", "Annas-MBP"),
        note("dns", "name", "laptop.lan"),
    ];
    let mut wiki = host("185.15.59.224", &[0x00146c3a910e]);
    wiki.notes.push(note("dns", "name", "dyna.wikimedia.org"));
    // 8.8.8.8 and 34.223.124.45 are missing from the host table on purpose.
    let mut r = report(vec![laptop, wiki]);
    let mut late = finding("suspicious", 8, "suspicious", "odd", &[("score", "0.70")]);
    late.finding.severity = Severity::Medium;
    r.findings.push(late);
    r.findings.push(FindingRecord {
        stage: "beacon".into(),
        finding: Finding::on_host(ip("192.168.1.23"), "beacon", Severity::High)
            .summary("every 60 s")
            .attr("beacon.server", "34.223.124.45"),
        rollup: false,
    });
    // The roll-up of the two DNS findings the flows carried.
    r.findings.push(FindingRecord {
        stage: "dns".into(),
        finding: Finding::on_flow(3, "dns", Severity::Info)
            .summary("DNS A example.com")
            .flows([3, 5]),
        rollup: true,
    });
    r.notes.push(pcapxray_plugin_sdk::NoteRecord {
        stage: "tor".into(),
        note: pcapxray_plugin_sdk::RunNote::warning("tor.no-consensus", "no consensus")
            .attr("reason", "not found"),
    });
    r.plugins = vec![PluginRun {
        stage: "web".into(),
        name: "web".into(),
        version: "0.1.0".into(),
        kind: PluginKind::Analyzer,
        digest: "00".repeat(32),
        error: None,
    }];
    r.queries = vec![QueryRecord {
        stage: "enrich".into(),
        capability: "dns.reverse".into(),
        query: "8.8.8.8".into(),
        server: "127.0.0.1:53".into(),
        answer: "dns.google".into(),
        sent: 1_710_234_100_000_000_000,
    }];
    r
}

fn loaded() -> Connection {
    let db = MemDb::new();
    let mut w = Writer::start(db.host.clone(), "report.sqlite").unwrap();
    w.consume(&flows()).unwrap();
    // One call per table for the batch: new hosts, flows, findings, attributes, dns, web.
    let inserts = db.inserts();
    let tables: Vec<&str> = inserts
        .iter()
        .map(|s| s.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "hosts",
            "flows",
            "findings",
            "finding_attributes",
            "dns",
            "web"
        ]
    );
    // Findings not on a flow arrive on their own, before the end.
    let mut report = full_report();
    w.findings(&std::mem::take(&mut report.findings)).unwrap();
    w.finish(&report).unwrap();
    drop(w);
    db.into_conn()
}

fn one<T: rusqlite::types::FromSql>(c: &Connection, sql: &str) -> T {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn strings(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn loads_every_table_with_keys_that_resolve() {
    let c = loaded();
    assert_eq!(
        one::<i64>(&c, "PRAGMA user_version"),
        i64::from(schema::VERSION)
    );
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM flows"), 3);
    // 2 hosts from the report, 2 more that only flows named.
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM hosts"), 4);
    assert_eq!(one::<i64>(&c, "SELECT hosts FROM capture"), 4);
    // Three on the flows, three in the list (one of them the roll-up of two flow findings).
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM findings"), 6);
    assert_eq!(one::<i64>(&c, "SELECT findings FROM capture"), 3);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM findings_listed"), 3);
    assert_eq!(
        strings(
            &c,
            "SELECT ff.flow_id || ':' || f.count FROM finding_flows ff JOIN findings f ON f.id = ff.finding_id WHERE f.rollup = 1 ORDER BY ff.flow_id"
        ),
        ["3:2", "5:2"]
    );
    assert_eq!(
        strings(
            &c,
            "SELECT stage || '|' || key || '|' || level || '|' || attributes FROM run_notes"
        ),
        ["tor|tor.no-consensus|warning|reason=not found"]
    );
    assert_eq!(one::<i64>(&c, "SELECT complete FROM capture"), 1);
    let broken: Vec<String> = strings(&c, "SELECT \"table\" FROM pragma_foreign_key_check");
    assert!(broken.is_empty(), "{broken:?}");
    assert_eq!(one::<String>(&c, "PRAGMA integrity_check"), "ok");

    // Hosts: the best name, vendor, DHCP name, MACs and facts.
    assert_eq!(
        one::<String>(
            &c,
            "SELECT name || '|' || vendor || '|' || dhcp_hostname || '|' || macs FROM hosts WHERE ip = '192.168.1.23'"
        ),
        "laptop.lan|Apple, Inc.|Annas-MBP|f8:bc:12:6e:4d:21"
    );
    assert_eq!(
        one::<i64>(
            &c,
            "SELECT count(*) FROM host_facts f JOIN hosts h ON h.id = f.host_id WHERE h.ip = '192.168.1.23'"
        ),
        3
    );
    assert_eq!(
        one::<String>(
            &c,
            "SELECT h.ip FROM host_macs m JOIN hosts h ON h.id = m.host_id WHERE m.mac = 'f8:bc:12:6e:4d:21'"
        ),
        "192.168.1.23"
    );

    // Flows: endpoints, service, server name, tags, and the view joining host names.
    assert_eq!(
        strings(
            &c,
            "SELECT client_ip || ':' || client_port || ' -> ' || server_ip || ':' || server_port || ' ' || service || ' ' || tags FROM flows ORDER BY id"
        ),
        [
            "192.168.1.23:49152 -> 8.8.8.8:53 domain dns",
            "192.168.1.23:49152 -> 34.223.124.45:80 http web.http",
            "192.168.1.23:49152 -> 185.15.59.224:443 https web.https",
        ]
    );
    assert_eq!(
        strings(
            &c,
            "SELECT client_name || ' ' || COALESCE(server_name, '-') FROM flows_named ORDER BY id"
        ),
        [
            "laptop.lan -",
            "laptop.lan neverssl.com",
            "laptop.lan www.wikipedia.org"
        ]
    );

    // Findings: per flow, the late one flagged, the host one pointing at its host.
    assert_eq!(
        strings(&c, "SELECT tag FROM findings WHERE flow_id = 8 ORDER BY id"),
        ["web.https", "suspicious"]
    );
    assert_eq!(
        one::<i64>(
            &c,
            "SELECT raised_at_end FROM findings WHERE tag = 'suspicious'"
        ),
        1
    );
    assert_eq!(
        one::<String>(
            &c,
            "SELECT h.ip FROM findings f JOIN hosts h ON h.id = f.host_id WHERE f.tag = 'beacon'"
        ),
        "192.168.1.23"
    );
    assert_eq!(
        one::<String>(
            &c,
            "SELECT a.value FROM finding_attributes a JOIN findings f ON f.id = a.finding_id WHERE f.tag = 'beacon' AND a.key = 'beacon.server'"
        ),
        "34.223.124.45"
    );
    assert_eq!(
        one::<String>(&c, "SELECT subject FROM findings WHERE rollup = 1"),
        "flow"
    );

    // DNS: the question and both answer records.
    assert_eq!(
        strings(
            &c,
            "SELECT kind || ' ' || name || ' ' || type || ' ' || COALESCE(answer, '-') FROM dns ORDER BY id"
        ),
        [
            "query www.wikipedia.org A -",
            "answer www.wikipedia.org CNAME dyna.wikimedia.org",
            "answer dyna.wikimedia.org A 185.15.59.224",
        ]
    );
    assert_eq!(
        one::<i64>(&c, "SELECT flow_id FROM dns WHERE answer = '185.15.59.224'"),
        3
    );

    // Web: both HTTP transactions (the hostile URI stored as text, not run) and the TLS handshake.
    assert_eq!(
        strings(
            &c,
            "SELECT kind || ' ' || COALESCE(method, '-') || ' ' || COALESCE(uri, '-') || ' ' || COALESCE(status, '-') || ' ' || COALESCE(sni, '-') FROM web ORDER BY id"
        ),
        [
            "http GET / 200 -",
            "http POST /x'); DROP TABLE flows; -- - -",
            "tls - - - www.wikipedia.org",
        ]
    );

    assert_eq!(
        one::<String>(&c, "SELECT digest FROM plugins"),
        format!("sha256:{}", "00".repeat(32))
    );
    assert_eq!(
        one::<String>(&c, "SELECT answer FROM queries WHERE query = '8.8.8.8'"),
        "dns.google"
    );

    // The indexes investigators filter by exist.
    let indexes = strings(
        &c,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
    );
    for wanted in [
        "flows_client_ip",
        "flows_server_ip",
        "flows_server_port",
        "findings_tag",
        "dns_name",
        "web_host",
        "hosts_name",
    ] {
        assert!(
            indexes.iter().any(|i| i == wanted),
            "{wanted} missing from {indexes:?}"
        );
    }
}

#[test]
fn a_missing_grant_is_an_error_naming_the_grant() {
    let refusing = FakeHost::new("sqlite");
    let Err(PluginError::Capability(message)) = Writer::start(refusing, "report.sqlite") else {
        panic!("a refused grant must fail");
    };
    assert!(message.contains("grants = { sqlite = true }"), "{message}");
    assert!(message.contains("report.sqlite"));
}

#[test]
fn without_a_report_folder_yet_the_tables_are_made_with_the_first_batch() {
    let db = MemDb::without_folder_yet();
    let mut w = Writer::start(db.host.clone(), "report.sqlite").unwrap();
    assert!(!w.ready);
    w.consume(&flows()).unwrap();
    assert!(w.ready);
    w.finish(&report(Vec::new())).unwrap();
    assert_eq!(
        one::<i64>(&db.conn.borrow(), "SELECT count(*) FROM flows"),
        3
    );
}

#[test]
fn an_empty_run_still_has_every_table() {
    let db = MemDb::new();
    let mut w = Writer::start(db.host.clone(), "report.sqlite").unwrap();
    w.finish(&report(Vec::new())).unwrap();
    let tables = strings(
        &db.conn.borrow(),
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    for t in [
        "capture",
        "dns",
        "finding_attributes",
        "findings",
        "flows",
        "host_facts",
        "host_macs",
        "hosts",
        "plugins",
        "queries",
        "web",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} missing");
    }
    assert_eq!(
        one::<i64>(&db.conn.borrow(), "SELECT count(*) FROM capture"),
        1
    );
}

#[test]
fn checks_the_database_name() {
    assert!(plain_name("report.sqlite"));
    assert!(plain_name("db/report.sqlite"));
    for bad in ["", "/tmp/x.sqlite", "../x.sqlite", "a/../b", "a\\b", "a//b"] {
        assert!(!plain_name(bad), "{bad}");
    }
    assert!(serde_json::from_str::<Config>(r#"{"file": "x"}"#).is_err());
}

#[test]
fn files_and_credentials_are_tables_indexed_by_sha256_and_user() {
    let db = MemDb::new();
    let mut w = Writer::start(db.host.clone(), "report.sqlite").unwrap();
    let mut ftp = flow(12, "10.0.0.2", "10.0.0.9", 21);
    ftp.findings.push(finding(
        "files",
        12,
        "files.ftp",
        "FTP download a.exe",
        &[
            ("protocol", "ftp"),
            ("name", "a.exe"),
            ("size", "54000"),
            ("sha256", "0123abcd"),
            ("control_flow", "11"),
        ],
    ));
    ftp.findings.push(finding(
        "suspicious",
        12,
        "cleartext.ftp",
        "FTP login",
        &[
            ("cleartext.user", "anonymous"),
            ("cleartext.method", "USER/PASS"),
        ],
    ));
    w.consume(&[ftp]).unwrap();
    let late = finding(
        "credentials",
        13,
        "credentials.ntlm",
        "NTLM",
        &[
            ("user", "bob"),
            ("secret", "bob::CORP:aa:bb:cc"),
            ("secret_format", "netntlmv2"),
        ],
    );
    w.findings(&[late]).unwrap();
    w.finish(&report(Vec::new())).unwrap();
    drop(w);
    let c = db.into_conn();
    let file: (i64, String, i64, String, String) = c
        .query_row(
            "SELECT flow_id, server, size, sha256, attributes FROM files",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        file,
        (
            12,
            "10.0.0.9:21".into(),
            54000,
            "0123abcd".into(),
            "control_flow=11".into()
        )
    );
    assert_eq!(
        strings(
            &c,
            "SELECT user || '/' || COALESCE(secret, '-') FROM credentials ORDER BY flow_id"
        ),
        ["anonymous/-", "bob/bob::CORP:aa:bb:cc"]
    );
    let indexes = strings(
        &c,
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
    );
    assert!(indexes.contains(&"files_sha256".to_string()), "{indexes:?}");
    assert!(
        indexes.contains(&"credentials_user".to_string()),
        "{indexes:?}"
    );
}
