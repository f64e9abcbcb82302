//! The files and credentials tables in every report format (#11): the real binary with the default
//! analyzers that raise them (`files` with extraction, `suspicious` for cleartext logins) and every
//! output, on every capture of `files/captures`. Every object `files_expected.json` marks complete
//! (tshark's `--export-objects`, attachments decoded independently) is a row with its SHA-256 in
//! report.json's `files`, files.csv, report.sqlite's `files`, files.txt and report.html's Files table;
//! the formats list the same rows; a kept file's bytes hash to its row's SHA-256; the logins tshark
//! sees (`ftp.request.arg`, `pop.request.parameter`, `imap.request`) are rows of every credentials
//! table; and the diagram marks the edges files went over.

use crate::files::{family, tshark_disagreements};
use crate::html::table_text;
use crate::support::{parse_csv, run_pipeline, testdata};
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

const PIPELINE: &str = "[[analyzer]]\nplugin = \"files\"\nstreams = true\n\
    grants = { extract = { total_mb = 64, file_mb = 16 } }\n\
    [[analyzer]]\nplugin = \"suspicious\"\n\
    [[output]]\nplugin = \"json\"\n[[output]]\nplugin = \"csv\"\n\
    [[output]]\nplugin = \"sqlite\"\ngrants = { sqlite = true }\n\
    [[output]]\nplugin = \"text\"\n[[output]]\nplugin = \"html\"\n[[output]]\nplugin = \"graph\"\n";

/// The logins in the shared captures, as tshark 4.0 reads them (user names from
/// `-T fields -e ftp.request.arg -e pop.request.parameter -e imap.request` on USER / LOGIN commands).
const LOGINS: &[(&str, &str)] = &[
    ("ftp_pasv_stor_html.pcap", "alice"),
    ("ftp_port_retr_html.pcap", "bob"),
    ("ftp_pasv_retr_exe.pcap", "anonymous"),
    (
        "pop3_retr_base64_png_attachment_ooo.pcap",
        "zoeyyyzou@163.com",
    ),
    ("imap_fetch_headers_only.pcap", "samir"),
];

/// The SHA-256 values of the objects a capture must list whole (a file sent twice is there twice).
fn complete_objects(capture: &str, objects: &[Value]) -> Vec<String> {
    let disagreements = tshark_disagreements();
    objects
        .iter()
        .filter(|o| family(o["protocol"].as_str().unwrap()).is_some())
        .filter(|o| {
            o["complete"] == true || o["note"].as_str().unwrap_or("").ends_with("; complete")
        })
        .map(|o| {
            let name = o["name"].as_str().unwrap();
            match disagreements.get(&(capture, name)) {
                Some((_, sha256)) => sha256.to_string(),
                None => o.get("message_without_pop3_terminator").unwrap_or(o)["sha256"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            }
        })
        .collect()
}

/// (flow, sha256) of every row of report.json's `files`.
fn json_files(report: &Value) -> Vec<(u64, String)> {
    report["files"]
        .as_array()
        .expect("report.json has a files table")
        .iter()
        .map(|r| {
            (
                r["flow"].as_u64().unwrap(),
                r["attributes"]["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A column of a CSV file of the report, by header name, with the flow column.
fn csv_rows(dir: &Path, file: &str, column: &str) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let (records, ok) = parse_csv(&text);
    assert!(ok, "{file} is RFC 4180");
    let header = &records[0];
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (flow, col) = (at("flow"), at(column));
    records[1..]
        .iter()
        .map(|r| (r[flow].parse().unwrap(), r[col].clone()))
        .collect()
}

fn sqlite_rows(db: &Connection, sql: &str) -> Vec<(u64, String)> {
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn sorted(mut rows: Vec<(u64, String)>) -> Vec<(u64, String)> {
    rows.sort();
    rows
}

/// Checks one capture's report folder; returns how many expected objects it checked.
fn check_files(capture: &str, dir: &Path, expected: &[String]) -> usize {
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let json = sorted(json_files(&report));
    // The table is derived from the findings: one row per files.* finding on a flow.
    let findings = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|x| x["tag"].as_str().unwrap().starts_with("files."))
        .count();
    let late = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["tag"].as_str().unwrap().starts_with("files.") && x["rollup"] != true)
        .count();
    assert_eq!(json.len(), findings + late, "{capture}: one row per file");
    let csv = sorted(csv_rows(dir, "files.csv", "sha256"));
    assert_eq!(csv, json, "{capture}: files.csv lists report.json's files");
    let db = Connection::open(dir.join("report.sqlite")).unwrap();
    let sql = sorted(sqlite_rows(&db, "SELECT flow_id, sha256 FROM files"));
    assert_eq!(
        sql, json,
        "{capture}: report.sqlite lists report.json's files"
    );
    let text = std::fs::read_to_string(dir.join("files.txt")).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let html_rows = table_text(&html, "files-table");
    assert_eq!(
        text.matches("\n    sha256           ").count(),
        json.len(),
        "{capture}: files.txt has a block per file"
    );
    assert_eq!(
        html_rows.lines().count(),
        json.len() + 1,
        "{capture}: {html_rows}"
    );
    for sha256 in expected {
        let row = &report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["attributes"]["sha256"] == sha256.as_str())
            .unwrap_or_else(|| panic!("{capture}: {sha256} not in report.json's files"));
        assert!(row["client"].as_str().unwrap().contains(':'), "{row}");
        assert!(row["server"].as_str().unwrap().contains(':'), "{row}");
        assert!(row["time"].as_str().unwrap().starts_with("20"), "{row}");
        assert!(
            text.contains(&format!("    sha256           {sha256}\n")),
            "{capture}: files.txt"
        );
        assert!(
            html_rows.contains(sha256.as_str()),
            "{capture}: report.html"
        );
        // The kept bytes are the file: hashed here, independently of the plugin.
        if let Some(kept) = row["attributes"]["extracted"].as_str() {
            let bytes = std::fs::read(dir.join(kept)).unwrap();
            assert_eq!(pcapxray_capture::hex(&Sha256::digest(&bytes)), *sha256);
        }
    }
    expected.len()
}

fn check_logins(capture: &str, dir: &Path) {
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let users: Vec<&str> = report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["attributes"]["user"].as_str())
        .collect();
    let csv: Vec<String> = csv_rows(dir, "credentials.csv", "user")
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    let db = Connection::open(dir.join("report.sqlite")).unwrap();
    let sql: Vec<String> = sqlite_rows(&db, "SELECT flow_id, user FROM credentials")
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    let text = std::fs::read_to_string(dir.join("credentials.txt")).unwrap();
    let html = table_text(
        &std::fs::read_to_string(dir.join("report.html")).unwrap(),
        "credentials-table",
    );
    for (name, user) in LOGINS.iter().filter(|(c, _)| *c == capture) {
        assert!(
            users.contains(user),
            "{name}: {user} not in report.json {users:?}"
        );
        assert!(
            csv.iter().any(|u| u == user),
            "{name}: credentials.csv {csv:?}"
        );
        assert!(
            sql.iter().any(|u| u == user),
            "{name}: report.sqlite {sql:?}"
        );
        assert!(
            text.contains(&format!("    user             {user}\n")),
            "{text}"
        );
        assert!(html.contains(user), "{name}: report.html {html}");
    }
}

#[test]
fn every_format_lists_the_files_of_the_shared_captures_with_their_sha256_and_their_logins() {
    let text = std::fs::read_to_string(testdata("files/files_expected.json")).unwrap();
    let expected: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for (capture, objects) in &expected {
        let dir = tempfile::tempdir().unwrap();
        let run = run_pipeline(
            dir.path(),
            PIPELINE,
            &testdata(&format!("files/captures/{capture}")),
        );
        assert_eq!(run.code, 0, "{capture}: {}", run.all_output());
        let want = complete_objects(capture, objects.as_array().unwrap());
        checked += check_files(capture, &run.out_dir, &want);
        check_logins(capture, &run.out_dir);
        if !want.is_empty() {
            // The diagram marks the edges files went over with a paper clip and the count.
            let dot = std::fs::read_to_string(run.out_dir.join("graph/all.dot")).unwrap();
            assert!(
                dot.contains("\u{1f4ce} "),
                "{capture}: no edge marked in {dot}"
            );
        }
    }
    // The same count as the files analyzer's own test (files.rs): 38 HTTP, 14 mail, 4 FTP, 1 TFTP and
    // 167 SMB objects (1 SMB1, 166 SMB2/3).
    assert_eq!(checked, 38 + 14 + 4 + 1 + 167);
}
