//! The `web` analyzer on whole streams (#11): every transaction of a keep-alive connection, a request
//! whose head is far longer than the payload prefix, form field names, JA3/JA3S/JA4/JA4S, and the
//! server certificate chain of TLS 1.2 with self-signed and expired leaves raised once per server.
//! Captures come from pcapgen (`pcapgen::web`) and the shared corpus; fingerprints are checked
//! against tshark, certificates against what OpenSSL printed when they were made.

use crate::support::{all_findings, repo, run_pipeline, testdata};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `web` on TCP streams, as the default pipeline sets it, and the JSON report.
const STREAMED: &str = "[[analyzer]]\nplugin = \"web\"\nstreams = { protocols = [\"tcp\"] }\n\
                        config = { max_transactions = 100 }\n[[output]]\nplugin = \"json\"\n";
/// `web` on payload prefixes only.
const PREFIX: &str = "[[analyzer]]\nplugin = \"web\"\nconfig = { max_transactions = 100 }\n\
                      [[output]]\nplugin = \"json\"\n";

fn write(dir: &Path, capture: pcapgen::Capture) -> PathBuf {
    let path = dir.join("web.pcap");
    capture.write_file(&path).unwrap();
    path
}

/// Every finding tagged `tag`.
fn tagged<'a>(report: &'a Value, tag: &str) -> Vec<&'a Value> {
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == tag)
        .collect()
}

fn attr<'a>(finding: &'a Value, key: &str) -> &'a str {
    finding["attributes"][key].as_str().unwrap_or_default()
}

fn report(pipeline: &str, capture: &Path, dir: &Path) -> Value {
    let run = run_pipeline(dir, pipeline, capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    run.report()
}

#[test]
fn a_keep_alive_connection_with_30_requests_gives_30_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let capture = write(dir.path(), pcapgen::web::keep_alive(30).unwrap());
    let report = report(STREAMED, &capture, dir.path());
    let http = tagged(&report, "web.http");
    assert_eq!(http.len(), 1);
    assert_eq!(attr(http[0], "http.requests"), "30");
    let list: Vec<Value> = serde_json::from_str(attr(http[0], "http.transactions")).unwrap();
    assert_eq!(list.len(), 30);
    for (i, t) in list.iter().enumerate() {
        assert_eq!(t["uri"], format!("/page{i}"));
        assert_eq!(t["status"], 200, "transaction {i}");
    }
    // Regression (#11): the 4 KiB prefixes hold the 30 small requests but only the first
    // responses, so most transactions had no status.
    let prefix = report_in(PREFIX, &capture, dir.path(), "prefix");
    let list: Vec<Value> =
        serde_json::from_str(attr(tagged(&prefix, "web.http")[0], "http.transactions")).unwrap();
    let answered = list.iter().filter(|t| t["status"] == 200).count();
    assert!(answered < 5, "the prefix saw {answered} responses");
}

fn report_in(pipeline: &str, capture: &Path, dir: &Path, sub: &str) -> Value {
    let sub = dir.join(sub);
    std::fs::create_dir_all(&sub).unwrap();
    report(pipeline, capture, &sub)
}

#[test]
fn a_request_with_a_100_kb_header_line_is_still_http() {
    let dir = tempfile::tempdir().unwrap();
    let capture = write(dir.path(), pcapgen::web::long_header(100_000).unwrap());
    let report = report(STREAMED, &capture, dir.path());
    let http = tagged(&report, "web.http");
    assert_eq!(http.len(), 1, "{report:#}");
    assert_eq!(attr(http[0], "http.method"), "GET");
    assert_eq!(attr(http[0], "http.uri"), "/hidden");
    assert_eq!(attr(http[0], "http.head-over-limit"), "true");
    assert!(
        http[0]["summary"]
            .as_str()
            .unwrap()
            .contains("no response seen")
    );
    // Regression (#11): without streams the flow was not recognised at all.
    let prefix = report_in(PREFIX, &capture, dir.path(), "prefix");
    assert!(tagged(&prefix, "web.http").is_empty());
}

#[test]
fn form_posts_report_their_field_names_but_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let capture = write(dir.path(), pcapgen::web::form_posts().unwrap());
    let run = run_pipeline(dir.path(), STREAMED, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let http = tagged(&report, "web.http");
    assert_eq!(
        attr(http[0], "http.form-fields"),
        "username,password,remember,title,attachment"
    );
    let list: Vec<Value> = serde_json::from_str(attr(http[0], "http.transactions")).unwrap();
    assert_eq!(
        list[0]["form"],
        serde_json::json!(["username", "password", "remember"])
    );
    assert_eq!(list[1]["form"], serde_json::json!(["title", "attachment"]));
    let text = std::fs::read_to_string(run.out_dir.join("report.json")).unwrap();
    assert!(!text.contains("hunter2"), "a form value reached the report");
}

/// The certificate capture through `web` on streams.
fn certificate_report(dir: &Path) -> Value {
    let capture = write(dir, pcapgen::web::certificates().unwrap());
    report(STREAMED, &capture, dir)
}

#[test]
fn tls12_certificate_chains_spanning_records_are_read_from_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let report = certificate_report(dir.path());
    let tls = tagged(&report, "web.https");
    assert_eq!(tls.len(), 3);
    // Expected values: tests/pcapgen/src/certs/README.md (OpenSSL's view of the same DER).
    let shop: Vec<_> = tls
        .iter()
        .filter(|f| attr(f, "tls.sni") == "shop.pcapgen.test")
        .collect();
    assert_eq!(shop.len(), 2);
    let leaf = shop[0];
    assert_eq!(
        attr(leaf, "tls.cert.subject"),
        "CN=shop.pcapgen.test, O=Pcapgen Shop, C=XX"
    );
    assert_eq!(
        attr(leaf, "tls.cert.issuer"),
        "C=XX, O=Pcapgen Test, CN=Pcapgen Intermediate CA"
    );
    assert_eq!(
        attr(leaf, "tls.cert.names"),
        "shop.pcapgen.test, www.shop.pcapgen.test, 192.0.2.80"
    );
    assert_eq!(attr(leaf, "tls.cert.serial"), "0b:ad:c0:ff:ee");
    assert_eq!(
        attr(leaf, "tls.cert.not-before"),
        "2020-01-01T00:00:00.000000Z"
    );
    assert_eq!(
        attr(leaf, "tls.cert.not-after"),
        "2021-01-01T00:00:00.000000Z"
    );
    assert_eq!(attr(leaf, "tls.cert.expired"), "true");
    assert_eq!(attr(leaf, "tls.cert.self-signed"), "false");
    assert_eq!(
        attr(leaf, "tls.cert.sha1"),
        "adb806f4d80e61ec6503dcdc742f86f403e52a05"
    );
    assert_eq!(
        attr(leaf, "tls.cert.sha256"),
        "5e0ede681e51db14398abc7e498704be43e65fac610010187b4f140ea610030d"
    );
    let chain: Vec<Value> = serde_json::from_str(attr(leaf, "tls.cert.chain")).unwrap();
    assert_eq!(chain.len(), 3);
    assert_eq!(
        chain[2]["subject"],
        "C=XX, O=Pcapgen Test Root, CN=Pcapgen Root CA"
    );
    let router = tls
        .iter()
        .find(|f| attr(f, "tls.sni") == "router.lan")
        .unwrap();
    assert_eq!(attr(router, "tls.cert.self-signed"), "true");
    assert_eq!(attr(router, "tls.cert.expired"), "false");
    assert_eq!(
        attr(router, "tls.cert.sha256"),
        "3baaca4764b830af82ce021b73b5c07933301408121f6dc0051d5dbeaa13fe2a"
    );

    // Regression (#11): the server's flight is beyond the 4 KiB prefix, so without streams the
    // chain was not seen.
    let capture = dir.path().join("web.pcap");
    let prefix = report_in(PREFIX, &capture, dir.path(), "prefix");
    let shop_prefix = tagged(&prefix, "web.https")
        .into_iter()
        .find(|f| attr(f, "tls.sni") == "shop.pcapgen.test")
        .unwrap();
    assert_eq!(attr(shop_prefix, "tls.cert.subject"), "");
}

#[test]
fn self_signed_or_expired_certificates_are_low_findings_once_per_server_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let report = certificate_report(dir.path());
    let found = tagged(&report, "web.certificate");
    let mut why: Vec<(&str, &str)> = found
        .iter()
        .map(|f| {
            assert_eq!(f["severity"], "low");
            (attr(f, "tls.cert.subject"), attr(f, "reasons"))
        })
        .collect();
    why.sort();
    assert_eq!(
        why,
        [
            (
                "CN=router.lan",
                "it is self-signed (its issuer is its own subject)"
            ),
            (
                "CN=shop.pcapgen.test, O=Pcapgen Shop, C=XX",
                "it had expired when the connection was made (valid until 2021-01-01T00:00:00.000000Z)"
            ),
        ],
        "two connections to the shop give one finding"
    );
}

/// tshark's JA3 and JA3S (`tls.handshake.ja3`, `ja3s`) of every hello in a capture, by TCP
/// stream.
fn tshark_ja3(capture: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new("tshark")
        .args([
            "-r",
            capture.to_str().unwrap(),
            "-Y",
            "tls.handshake.type == 1 || tls.handshake.type == 2",
        ])
        .args([
            "-T",
            "fields",
            "-e",
            "tls.handshake.ja3",
            "-e",
            "tls.handshake.ja3s",
        ])
        .output()
        .expect("tshark is needed for this test: install Debian's tshark (CI does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap_or((l, ""));
            (a.to_string(), b.to_string())
        })
        .collect()
}

#[test]
fn ja3_and_ja3s_agree_with_tshark_on_real_and_generated_captures() {
    let dir = tempfile::tempdir().unwrap();
    let generated = write(dir.path(), pcapgen::web::certificates().unwrap());
    for capture in [
        testdata("tls12_web_browsing_many_sni.pcap"),
        testdata("tls12_sni_chrome34_google_de.pcap"),
        testdata("tls13_sni_curl_enabled_tls13_com.pcap"),
        generated,
    ] {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let report = report_in(STREAMED, &capture, dir.path(), &format!("run-{name}"));
        let mut ours = BTreeSet::new();
        for f in all_findings(&report) {
            if !matches!(f["tag"].as_str(), Some("web.https" | "web.tls")) {
                continue;
            }
            if !attr(f, "tls.ja3").is_empty() {
                ours.insert((attr(f, "tls.ja3").to_string(), String::new()));
            }
            if !attr(f, "tls.ja3s").is_empty() {
                ours.insert((String::new(), attr(f, "tls.ja3s").to_string()));
            }
            // JA4 has the published shape: t, version, d/i, two counts, ALPN, two 12-digit hashes.
            let ja4 = attr(f, "tls.ja4");
            if !ja4.is_empty() {
                let parts: Vec<&str> = ja4.split('_').collect();
                assert_eq!(
                    (parts.len(), parts[0].len(), parts[1].len()),
                    (3, 10, 12),
                    "{ja4}"
                );
            }
        }
        let theirs = tshark_ja3(&capture);
        assert!(!theirs.is_empty(), "{name}: tshark saw no hello");
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn the_default_pipeline_reads_web_from_tcp_streams() {
    let text = std::fs::read_to_string(repo().join("config/pipeline.toml")).unwrap();
    let web = text
        .split("[[analyzer]]")
        .find(|stage| stage.contains("plugin = \"web\""))
        .unwrap();
    assert!(web.contains("streams = { protocols = [\"tcp\"] }"), "{web}");
}
