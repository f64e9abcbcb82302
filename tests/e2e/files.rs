//! The `files` analyzer on whole streams (#11): every HTTP body tshark's `--export-objects http` found
//! complete in the shared captures (`files/files_expected.json`) is found with the same SHA-256 and
//! size (for gzip-encoded bodies, the still-encoded body the expectations give as `encoded_*`), and a
//! pcapgen keep-alive connection of 30 transactions gives 30 files.

use crate::support::{run_pipeline, testdata};
use pcapgen::{Capture, Endpoint, Side, TcpEnd};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

const PIPELINE: &str = "[[analyzer]]\nplugin = \"files\"\nstreams = { protocols = [\"tcp\"] }\n\
                        [[output]]\nplugin = \"json\"\n";

/// (sha256, size) of every `files.http` finding of a report.
fn files(report: &Value) -> BTreeSet<(String, u64)> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|f| f["tag"] == "files.http")
        .map(|f| {
            let a = &f["attributes"];
            let size = a["size"].as_str().unwrap().parse().unwrap();
            (a["sha256"].as_str().unwrap().to_string(), size)
        })
        .collect()
}

#[test]
fn every_complete_http_object_tshark_exports_is_found_with_its_sha256() {
    let text = std::fs::read_to_string(testdata("files/files_expected.json")).unwrap();
    let expected: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for (capture, objects) in &expected {
        let http: Vec<&Value> = objects
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["protocol"] == "http" && o["complete"] == true)
            .collect();
        if http.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = testdata(&format!("files/captures/{capture}"));
        let run = run_pipeline(dir.path(), PIPELINE, &path);
        assert_eq!(run.code, 0, "{capture}: {}", run.all_output());
        let found = files(&run.report());
        for o in http {
            let sha = o.get("encoded_sha256").unwrap_or(&o["sha256"]);
            let size = o.get("encoded_size").unwrap_or(&o["size"]);
            let want = (sha.as_str().unwrap().to_string(), size.as_u64().unwrap());
            assert!(found.contains(&want), "{capture}: {o} not in {found:?}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} objects checked");
}

#[test]
fn a_keep_alive_connection_with_30_requests_gives_30_files() {
    let mut cap = Capture::new(1_700_000_000);
    let client = Endpoint::new([2, 0, 0, 0, 0, 2], Ipv4Addr::new(10, 1, 0, 2), 50000);
    let server = Endpoint::new([2, 0, 0, 0, 0, 3], Ipv4Addr::new(10, 1, 0, 3), 80);
    let mut conn = cap.tcp_connect(client, server).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..30 {
        let body = pcapgen::transfer::body(1000 + 997 * i, i as u8);
        let request = format!("GET /file{i}.bin HTTP/1.1\r\nHost: example.test\r\n\r\n");
        let response = if i % 2 == 0 {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            [head.as_bytes(), &body].concat()
        } else {
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for part in body.chunks(700) {
                r.extend(format!("{:x}\r\n", part.len()).as_bytes());
                r.extend(part);
                r.extend(b"\r\n");
            }
            r.extend(b"0\r\n\r\n");
            r
        };
        cap.tcp_send(&mut conn, Side::Client, request.as_bytes())
            .unwrap();
        cap.tcp_send(&mut conn, Side::Server, &response).unwrap();
        cap.tcp_ack(&mut conn, Side::Client).unwrap();
        want.insert((
            pcapxray_capture::hex(&Sha256::digest(&body)),
            body.len() as u64,
        ));
    }
    cap.tcp_close(conn, TcpEnd::Fin).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalive.pcap");
    cap.write_file(&path).unwrap();
    let run = run_pipeline(dir.path(), PIPELINE, &path);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(files(&run.report()), want);
}
