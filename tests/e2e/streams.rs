//! Reassembled streams end to end (#11): a pcapgen capture whose TCP conversations are reordered,
//! retransmitted, overlapped with conflicting bytes, missing a segment and wrapping their sequence
//! numbers, through the real host into the `stream-hash` test plugin. Its SHA-256 of each direction is
//! compared with the payloads pcapgen wrote and, where tshark is installed, with what
//! `tshark -z follow,tcp,raw,N` reassembles from the same file.

use crate::support::{built_plugin, run_pipeline};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn sha(bytes: &[u8]) -> String {
    pcapxray_capture::hex(&Sha256::digest(bytes))
}

/// The `stream.hash` findings of stage `stage`, by (server port, to-server).
fn hashes(report: &Value, stage: &str) -> BTreeMap<(u16, bool), Value> {
    let mut out = BTreeMap::new();
    for flow in report["flows"].as_array().unwrap() {
        let port = flow["server"]["port"].as_u64().unwrap() as u16;
        for f in flow["findings"].as_array().unwrap() {
            assert_ne!(f["tag"], "stream.order", "{f}");
            if f["stage"] == stage && f["tag"] == "stream.hash" {
                let to_server = f["attributes"]["direction"] == "to-server";
                out.insert((port, to_server), f["attributes"].clone());
            }
        }
    }
    out
}

fn num(attrs: &Value, key: &str) -> u64 {
    attrs[key].as_str().unwrap().parse().unwrap()
}

#[test]
fn streams_are_reassembled_in_order_with_gaps_and_conflicts_for_the_stages_that_ask() {
    let dir = tempfile::tempdir().unwrap();
    let (cap, want) = pcapgen::transfer::anomalies().unwrap();
    let capture = dir.path().join("streams.pcap");
    cap.write_file(&capture).unwrap();
    let plugin = built_plugin("pcapxray-test-stream-hash");
    let pipeline = format!(
        "[[analyzer]]\nname = \"all\"\nplugin = \"{p}\"\nstreams = true\n\
         [[analyzer]]\nname = \"ftp-only\"\nplugin = \"{p}\"\nstreams = {{ ports = [21] }}\n\
         [[analyzer]]\nname = \"none\"\nplugin = \"{p}\"\n\
         [[output]]\nplugin = \"json\"\n",
        p = plugin.display()
    );
    let run = run_pipeline(dir.path(), &pipeline, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let got = hashes(&report, "all");
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (key, w) in &want {
        let a = &got[key];
        let bytes = w.data.len() as u64;
        assert_eq!(a["sha256"], sha(&w.data), "{key:?}: {a}");
        assert_eq!(num(a, "bytes"), bytes, "{key:?}: {a}");
        assert_eq!(num(a, "missing"), w.missing, "{key:?}: {a}");
        assert_eq!(num(a, "length"), bytes + w.missing, "{key:?}: {a}");
        assert_eq!(num(a, "conflicts"), u64::from(w.conflicts), "{key:?}: {a}");
    }
    // A filter gives a stage only the flows it names; a stage that does not ask gets nothing.
    let ftp: Vec<u16> = hashes(&report, "ftp-only").keys().map(|k| k.0).collect();
    assert_eq!(ftp, vec![21, 21]);
    assert!(hashes(&report, "none").is_empty());
    // The conflicting overlap is a host run note.
    let notes = report["notes"].as_array().unwrap();
    let note = notes
        .iter()
        .find(|n| n["key"] == "streams.conflicting-overlaps")
        .unwrap_or_else(|| panic!("no conflict note in {notes:?}"));
    assert_eq!(note["stage"], "host");
    assert_eq!(note["attributes"]["segments"], "1", "{note}");
    check_with_tshark(&capture, &got);
}

/// tshark's `follow,tcp,raw` of each TCP stream without a hole must hash the same.
fn check_with_tshark(capture: &Path, got: &BTreeMap<(u16, bool), Value>) {
    let Ok(out) = Command::new("tshark").arg("-v").output() else {
        eprintln!("tshark is not installed: streams checked against pcapgen's payloads only");
        return;
    };
    assert!(out.status.success());
    for (stream, port) in [(0, 80), (1, 21)] {
        let out = Command::new("tshark")
            .args(["-r", capture.to_str().unwrap(), "-q", "-z"])
            .arg(format!("follow,tcp,raw,{stream}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (to_server, to_client) = follow_raw(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(got[&(port, true)]["sha256"], sha(&to_server), "port {port}");
        assert_eq!(
            got[&(port, false)]["sha256"],
            sha(&to_client),
            "port {port}"
        );
    }
}

/// The two directions of a `follow,tcp,raw` listing: node 0's lines, then node 1's (indented).
fn follow_raw(text: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let body = text.split_once("Node 1: ").expect("a follow header").1;
    for line in body.lines().skip(1) {
        if line.starts_with("====") {
            break;
        }
        let (into, hex) = match line.strip_prefix('\t') {
            Some(rest) => (&mut b, rest),
            None => (&mut a, line),
        };
        for i in (0..hex.trim().len()).step_by(2) {
            into.push(u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap());
        }
    }
    (a, b)
}

/// A pipeline of the stream-hash plugin on every stream, with the JSON report.
fn hash_pipeline(budget_mb: Option<u32>) -> String {
    let flows = budget_mb.map_or(String::new(), |mb| {
        format!("[flows]\nstream_budget_mb = {mb}\n")
    });
    format!(
        "{flows}[[analyzer]]\nname = \"all\"\nplugin = \"{}\"\nstreams = true\n[[output]]\nplugin = \"json\"\n",
        built_plugin("pcapxray-test-stream-hash").display()
    )
}

/// A scratch folder under the target directory (large captures are not written to /tmp).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

#[test]
fn a_large_download_reaches_the_stage_whole_and_in_order() {
    let dir = scratch();
    let bytes = 24_000_000;
    let capture = dir.path().join("bulk.pcap");
    pcapgen::transfer::bulk_transfer(bytes)
        .unwrap()
        .write_file(&capture)
        .unwrap();
    let run = run_pipeline(dir.path(), &hash_pipeline(None), &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let got = hashes(&run.report(), "all");
    let down = &got[&(8080, false)];
    let body = pcapgen::transfer::body(bytes, 0);
    assert_eq!(down["sha256"], sha(&body));
    assert_eq!(num(down, "bytes"), bytes as u64);
    assert_eq!(num(down, "missing"), 0);
}

#[test]
fn concurrent_streams_beyond_the_budget_are_cut_largest_first_and_the_cut_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("held.pcap");
    // Eight downloads of 200,000 bytes, each missing its first 1,000-byte segment and acknowledged
    // only at the end: each holds 199,000 bytes. A 4 MB budget lets all streams hold 512 KiB: while
    // the third download arrives, the first (largest, oldest) is cut, and so on: downloads 1 to 6 are
    // cut, 7 and 8 wait for their acknowledgement.
    pcapgen::transfer::held_transfers(8, 200_000)
        .unwrap()
        .write_file(&capture)
        .unwrap();
    let run = run_pipeline(dir.path(), &hash_pipeline(Some(4)), &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    hashes(&report, "all"); // no `stream.order` finding
    let mut cut_ports = Vec::new();
    for i in 0..8u16 {
        let port = 41000 + i;
        let flow = report["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["client"]["port"] == port)
            .unwrap();
        let down = flow["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["attributes"]["direction"] == "to-client")
            .unwrap()["attributes"]
            .clone();
        let body = pcapgen::transfer::body(200_000, i as u8);
        assert_eq!(down["sha256"], sha(&body[1000..]), "port {port}");
        assert_eq!(num(&down, "missing"), 1000, "port {port}");
        assert_eq!(num(&down, "length"), 200_000, "port {port}");
        if num(&down, "cut") > 0 {
            assert_eq!(num(&down, "cut"), 1000);
            cut_ports.push(port);
        }
    }
    assert_eq!(cut_ports, (41000..41006).collect::<Vec<u16>>());
    let note = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == "streams.budget")
        .expect("a run note about the budget");
    assert_eq!(note["stage"], "host");
    assert_eq!(note["attributes"]["streams"], "6", "{note}");
    assert_eq!(note["attributes"]["bytes"], "6000", "{note}");
}

/// A stage that gives up on a stream (`Outcome::stop_stream`) gets no further chunk of it, not even
/// its end markers, while a stage beside it that did not give up still gets the whole stream; both
/// still get the flow in `analyze` (the plugin reports a chunk after giving up as `stream.order`).
#[test]
fn a_stage_that_gives_up_on_a_stream_gets_no_more_of_it_and_the_others_still_do() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = 2_000_000;
    let capture = dir.path().join("bulk.pcap");
    pcapgen::transfer::bulk_transfer(bytes)
        .unwrap()
        .write_file(&capture)
        .unwrap();
    let plugin = built_plugin("pcapxray-test-stream-hash");
    let pipeline = format!(
        "[[analyzer]]\nname = \"quitter\"\nplugin = \"{p}\"\nstreams = true\nconfig = {{ stop_after = 10000 }}\n\
         [[analyzer]]\nname = \"all\"\nplugin = \"{p}\"\nstreams = true\n\
         [[output]]\nplugin = \"json\"\n",
        p = plugin.display()
    );
    let run = run_pipeline(dir.path(), &pipeline, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let mut stopped = Vec::new();
    for flow in report["flows"].as_array().unwrap() {
        for f in flow["findings"].as_array().unwrap() {
            assert_ne!(f["tag"], "stream.order", "{f}");
            if f["stage"] == "quitter" {
                assert_eq!(
                    f["tag"], "stream.stopped",
                    "the quitter hashed a stream: {f}"
                );
                stopped.push(
                    f["attributes"]["bytes"]
                        .as_str()
                        .unwrap()
                        .parse::<u64>()
                        .unwrap(),
                );
            }
        }
    }
    // It gave up on the download once, after at least 10,000 bytes and far fewer than were sent.
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert!((10_000..100_000).contains(&stopped[0]), "{stopped:?}");
    let down = &hashes(&report, "all")[&(8080, false)];
    assert_eq!(down["sha256"], sha(&pcapgen::transfer::body(bytes, 0)));
}
