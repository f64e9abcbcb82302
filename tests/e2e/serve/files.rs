//! Files and credentials in the web interface (issue 11, point 6): a kept file downloads from its row
//! as an attachment of plain bytes and nothing outside the case's `files/` folder can be reached by a
//! hostile name; secrets reach the page only when asked for, one at a time. Checked against
//! files_expected.json (tshark's export) and tshark's reading of the FTP login.

use super::*;
use sha2::{Digest, Sha256};

/// The analyzers that fill the tables: `files` keeping what it finds, `suspicious` (cleartext
/// logins), and the test plugin that stands in for the `credentials` analyzer (credentials.ftp with
/// the password), then report.json and the diagram's classes.
fn pipeline(dir: &Path) -> PathBuf {
    let path = dir.join("files.toml");
    std::fs::write(
        &path,
        format!(
            "[[analyzer]]\nplugin = \"files\"\nstreams = true\ngrants = {{ extract = {{ total_mb = 64, file_mb = 16 }} }}\n\
             [[analyzer]]\nplugin = \"suspicious\"\n[[analyzer]]\nplugin = \"{}\"\n\
             [[output]]\nplugin = \"json\"\n[[output]]\nplugin = \"graph\"\n",
            built_plugin("pcapxray-test-logins").display()
        ),
    )
    .unwrap();
    path
}

/// The SHA-256 of every object of `capture` in files_expected.json, by name.
fn expected(capture: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(testdata("files/files_expected.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all[capture]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let name = o["name"].as_str().unwrap();
            (
                name.rsplit('/').next().unwrap().to_string(),
                o["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The password of the FTP login in `capture`, as tshark reads it.
fn tshark_password(capture: &Path) -> String {
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(capture)
        .args([
            "-Y",
            "ftp.request.command == \"PASS\"",
            "-T",
            "fields",
            "-e",
            "ftp.request.arg",
        ])
        .output()
        .expect("tshark is installed (apt-get install -y tshark)");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn sha256(bytes: &[u8]) -> String {
    pcapxray_capture::hex(&Sha256::digest(bytes))
}

#[test]
fn a_kept_file_downloads_as_an_attachment_and_hostile_names_reach_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path());
    let server = Server::start(&["--pipeline", pipeline.to_str().unwrap()]);
    let capture = testdata("files/captures/ftp_port_retr_html.pcap");
    let a = server.upload_capture(&capture);
    let b = server.upload_capture(&capture);
    server.wait_done(&a, Duration::from_secs(180));
    server.wait_done(&b, Duration::from_secs(180));
    let get = |path: &str| request(&server.addr, "GET", path, &[], b"");

    let report: Value = get(&format!("/cases/{a}/report/report.json")).json();
    let row = &report["files"][0];
    let kept = row["attributes"]["extracted"].as_str().unwrap();
    let name = kept.strip_prefix("files/").unwrap();
    let (want_name, want_sha) = &expected("ftp_port_retr_html.pcap")[0];
    assert_eq!(row["attributes"]["name"], want_name.as_str());

    let ok = get(&format!("/cases/{a}/extracted/{name}"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(sha256(&ok.body), *want_sha);
    assert_eq!(ok.header("content-type"), Some("application/octet-stream"));
    assert_eq!(ok.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        ok.header("content-disposition"),
        Some(format!("attachment; filename=\"{name}\"").as_str())
    );
    // The report download of the same file is never inline either, even when asked (`?view`): an
    // extracted .html is the traffic's, not ours.
    let viewed = get(&format!("/cases/{a}/report/{kept}?view"));
    assert_eq!(viewed.status, 200);
    assert_eq!(
        viewed.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        viewed
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );

    let pcap_magic = std::fs::read(&capture).unwrap()[..4].to_vec();
    let hostile = [
        format!("/cases/{a}/extracted/..%2fcapture.pcap"),
        format!("/cases/{a}/extracted/..%2f..%2fcapture.pcap"),
        format!("/cases/{a}/extracted/%2e%2e%2f%2e%2e%2fcapture.pcap"),
        format!("/cases/{a}/extracted/%252e%252e%252fcapture.pcap"),
        format!("/cases/{a}/extracted/..%5c..%5ccapture.pcap"),
        format!("/cases/{a}/extracted/../report.json"),
        format!("/cases/{a}/extracted/.."),
        format!("/cases/{a}/extracted/%2e%2e"),
        format!("/cases/{a}/extracted/.hidden"),
        format!("/cases/{a}/extracted/{name}%00.txt"),
        format!("/cases/{a}/extracted/%2fetc%2fpasswd"),
        format!("/cases/{a}/extracted/..%2f..%2f..%2f{b}%2fcapture.pcap"),
        format!("/cases/{a}/extracted/no-such-file.bin"),
        format!("/cases/{a}/extracted/report.json"),
        format!("/cases/{}/extracted/{name}", a.to_uppercase()),
        format!("/cases/0123456789abcdef0123456789abcdef/extracted/{name}"),
    ];
    for path in &hostile {
        let r = get(path);
        assert!(
            r.status == 400 || r.status == 404,
            "{path}: HTTP {} {}",
            r.status,
            r.text()
        );
        assert!(
            !r.body.windows(4).any(|w| w == pcap_magic),
            "{path} leaked the capture"
        );
        for leak in ["root:", "\"flows\"", "schema_version", "\"uploaded\""] {
            assert!(!r.text().contains(leak), "{path} leaked {leak}");
        }
    }

    // Secrets: masked in the model the page reads, handed out one at a time when asked.
    let password = tshark_password(&capture);
    assert!(!password.is_empty());
    let model = get(&format!("/api/cases/{a}/explore"));
    assert!(
        !model.text().contains(&format!("\"{password}\"")),
        "{}",
        model.text()
    );
    // Nor in the findings' details the page reads after its first picture.
    let details = get(&format!("/api/cases/{a}/explore/details"));
    assert_eq!(details.status, 200, "{}", details.text());
    assert!(
        !details.text().contains(&format!("\"{password}\"")),
        "{}",
        details.text()
    );
    let credentials = model.json()["credentials"].clone();
    assert_eq!(credentials.as_array().unwrap().len(), 1, "{credentials}");
    assert_eq!(
        credentials[0]["tag"], "credentials.ftp",
        "the cleartext.ftp row is superseded"
    );
    let index = credentials[0]["secret_index"].as_u64().unwrap();
    let secret = get(&format!("/api/cases/{a}/secrets/{index}"));
    assert_eq!(secret.json()["secret"], password.as_str());
    assert_eq!(secret.header("cache-control"), Some("no-store"));
    assert_eq!(get(&format!("/api/cases/{a}/secrets/99")).status, 404);
    assert_eq!(get(&format!("/api/cases/{a}/secrets/..%2f0")).status, 404);
}

/// The Files and Credentials tables in a real Chromium (tests/browser/files.mjs).
#[test]
fn the_files_and_credentials_tables_sort_filter_download_and_reveal_in_a_real_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path());
    let server = Server::start(&["--pipeline", pipeline.to_str().unwrap()]);
    let capture = testdata("files/captures/http_pipelined_5_objects_png_gzip.pcap");
    let login = testdata("files/captures/ftp_port_retr_html.pcap");
    let r = drive(
        "files.mjs",
        &[
            "--url".as_ref(),
            server.url("/").as_ref(),
            "--capture".as_ref(),
            capture.as_os_str(),
            "--login".as_ref(),
            login.as_os_str(),
            "--out".as_ref(),
            dir.path().as_os_str(),
        ],
    );
    assert!(r["consoleErrors"].as_array().unwrap().is_empty(), "{r}");
    let objects = expected("http_pipelined_5_objects_png_gzip.pcap");
    assert_eq!(
        r["filesCount"],
        format!("{n} of {n} files", n = objects.len()),
        "{r}"
    );
    // The diagram marks the edge the files went over.
    assert_eq!(
        r["fileMarks"],
        serde_json::json!([format!("\u{1f4ce}{}", objects.len())]),
        "{r}"
    );
    // Sorted by size, largest first (files_expected.json's sizes).
    let sizes: Vec<u64> = r["bySize"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[7].as_str().unwrap().replace(',', "").parse().unwrap())
        .collect();
    let mut want = sizes.clone();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(sizes, want, "{r}");
    assert_eq!(sizes[0], 27579, "header-sunbird.png is the largest");
    assert_eq!(r["sizeSort"], "Size");
    // Filtered by "png": the three PNG files, and the CSV holds exactly those rows.
    let pngs = objects.iter().filter(|(n, _)| n.ends_with(".png")).count();
    assert_eq!(
        r["filtered"]["count"],
        format!("{pngs} of {} files", objects.len()),
        "{r}"
    );
    let (csv, ok) = parse_csv(r["filteredCsv"].as_str().unwrap());
    assert!(ok);
    assert_eq!(csv.len(), pngs + 1, "{csv:?}");
    assert!(
        csv[1..].iter().all(|row| row[5].ends_with(".png")),
        "{csv:?}"
    );
    // The largest file downloaded from its row: tshark's SHA-256, as an attachment of plain bytes.
    let d = &r["download"];
    let (_, sunbird) = objects
        .iter()
        .find(|(n, _)| n == "header-sunbird.png")
        .unwrap();
    assert_eq!(d["sha256"], sunbird.as_str(), "{r}");
    assert_eq!(r["downloadRow"][9], sunbird.as_str(), "{r}");
    assert_eq!(d["status"], 200);
    assert_eq!(d["headers"]["content-type"], "application/octet-stream");
    assert_eq!(d["headers"]["x-content-type-options"], "nosniff");
    assert!(
        d["headers"]["content-disposition"]
            .as_str()
            .unwrap()
            .starts_with("attachment; filename=")
    );
    // Narrowed by the timeline: every file row listed is on a flow the flows table lists.
    let flows: Vec<u64> = r["narrowed"]["flowIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for row in r["narrowed"]["fileRows"].as_array().unwrap() {
        let cell = row[0].as_str().unwrap();
        if let Ok(flow) = cell.replace(',', "").parse::<u64>() {
            assert!(
                flows.contains(&flow),
                "file on flow {flow} not in view: {r}"
            );
        }
    }
    // The login: one row (the test plugin's credentials.ftp supersedes suspicious's cleartext.ftp),
    // masked, its secret in neither the model nor the table until pressed, then tshark's password.
    let password = tshark_password(&login);
    assert_eq!(r["credentialsCount"], "1 of 1 credentials", "{r}");
    assert_eq!(r["credentialRows"][0][5], "bob");
    assert!(
        r["maskShown"]
            .as_str()
            .unwrap()
            .starts_with("\u{2022}\u{2022}\u{2022}\u{2022}")
    );
    for secret in r["modelSecrets"].as_array().unwrap() {
        assert_ne!(secret.as_str().unwrap(), password, "{r}");
    }
    assert!(
        !r["tableHtml"]
            .as_str()
            .unwrap()
            .contains(&format!(">{password}<")),
        "{r}"
    );
    assert_eq!(r["revealed"], password.as_str(), "{r}");
}
