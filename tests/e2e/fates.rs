//! Every packet accounted for (#12): what became of each packet is in the summary and the report and
//! sums to the packets read; hosts seen only in fragments that never completed are still listed; a
//! capture where nothing could be analyzed fails with exit 1; bad timestamps are reported.

use crate::support::*;
use pcapgen::{Capture, Endpoint};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SEC: u64 = 1_000_000_000;
/// 2013-03-07 21:42:06 UTC.
const T0: u64 = 1_362_692_526 * SEC;

/// A classic pcap (little-endian, microseconds) of `link_type` holding `records` (time in ns, bytes)
/// in the order given.
fn pcap(link_type: u32, records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, link_type] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for (ts, data) in records {
        let len = data.len() as u32;
        let secs = u32::try_from(ts / SEC).expect("a 32-bit time");
        let micros = (ts % SEC / 1000) as u32;
        for x in [secs, micros, len, len] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// One Ethernet/IPv4/UDP frame `src → dst` carrying `payload`, as pcapgen builds it.
fn udp_frame(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let mut cap = Capture::new(0);
    let (a, b) = (
        Endpoint::new(
            [2, 0, 0, 0, 0, 1],
            src.parse::<std::net::IpAddr>().unwrap(),
            40000,
        ),
        Endpoint::new(
            [2, 0, 0, 0, 0, 2],
            dst.parse::<std::net::IpAddr>().unwrap(),
            9999,
        ),
    );
    cap.push_udp(a, b, payload).unwrap();
    cap.frames()[0].data.clone()
}

/// Makes an Ethernet/IPv4 frame a first fragment: more-fragments set, offset 0, checksum redone.
fn first_fragment(mut frame: Vec<u8>) -> Vec<u8> {
    let ip = 14;
    frame[ip + 6] = 0x20;
    frame[ip + 7] = 0;
    frame[ip + 10..ip + 12].fill(0);
    let sum: u32 = frame[ip..ip + 20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let checksum = !((folded & 0xffff) + (folded >> 16)) as u16;
    frame[ip + 10..ip + 12].copy_from_slice(&checksum.to_be_bytes());
    frame
}

/// The report's packet fates as (key, packets).
fn fates(report: &Value) -> Vec<(String, u64)> {
    report["capture"]["packet_fates"]
        .as_array()
        .expect("capture.packet_fates")
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["packets"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn host<'a>(report: &'a Value, ip: &str) -> &'a Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ip"] == ip)
        .unwrap_or_else(|| panic!("host {ip} missing from {}", report["hosts"]))
}

#[test]
fn a_fragment_that_never_completes_is_counted_and_both_of_its_hosts_are_listed() {
    // Before #12 this gave exit 0, 0 flows, 0 hosts and no word about the fragment.
    let dir = tempfile::tempdir().unwrap();
    // UDP header + 96 bytes: a non-final fragment carries a multiple of 8 bytes.
    let frame = first_fragment(udp_frame("192.0.2.10", "198.51.100.20", &[0x55; 96]));
    let capture = write(
        dir.path(),
        "fragment.pcap",
        &pcap(1, &[(T0, frame.clone())]),
    );
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(
        fates(&report),
        vec![("fragment-never-completed".to_string(), 1)]
    );
    assert_eq!(report["capture"]["flows"], 0);
    // The IP packet on the wire: the frame minus its 14-byte Ethernet header.
    let ip_len = (frame.len() - 14) as u64;
    let src = host(&report, "192.0.2.10");
    assert_eq!(
        (src["packets_sent"].as_u64(), src["bytes_sent"].as_u64()),
        (Some(1), Some(ip_len))
    );
    assert_eq!(src["macs"][0], "02:00:00:00:00:01");
    assert_eq!(src["first_seen"], "2013-03-07T21:42:06.000000Z");
    let dst = host(&report, "198.51.100.20");
    assert_eq!(dst["packets_received"], 1);
    assert!(
        run.stdout
            .contains("1  IP fragment of a datagram that never completed"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_capture_of_an_unknown_link_type_exits_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let frame = udp_frame("192.0.2.10", "198.51.100.20", b"x");
    let records: Vec<(u64, Vec<u8>)> = (0..12).map(|i| (T0 + i * SEC, frame.clone())).collect();
    let capture = write(dir.path(), "unknown.pcap", &pcap(65535, &records));
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("no packet could be analyzed: 12 frames: link type 65535 (unsupported)"),
        "{}",
        run.stderr
    );
    assert!(!run.out_dir.join("report.json").exists());
}

#[test]
fn a_capture_whose_records_are_all_empty_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<(u64, Vec<u8>)> = (0..5).map(|i| (T0 + i * SEC, Vec::new())).collect();
    let capture = write(dir.path(), "empty-records.pcap", &pcap(1, &records));
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("no packet could be analyzed: 5 frames: empty record (0 bytes captured)"),
        "{}",
        run.stderr
    );
    assert!(!run.out_dir.join("report.json").exists());
}

#[test]
fn timestamps_running_backwards_or_jumping_to_1970_and_2106_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let frame = udp_frame("192.0.2.10", "198.51.100.20", b"tick");
    let times = [
        T0,
        T0 + SEC,
        T0 + SEC / 2, // packet 3: half a second back
        T0 + 2 * SEC,
        0, // packet 5: 1970-01-01
        T0 + 3 * SEC,
        4_294_967_295 * SEC, // packet 7: 2106-02-07, the largest 32-bit time
        T0 + 4 * SEC,
    ];
    let records: Vec<(u64, Vec<u8>)> = times.iter().map(|t| (*t, frame.clone())).collect();
    let capture = write(dir.path(), "clock.pcap", &pcap(1, &records));
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let c = &report["capture"];
    assert_eq!(fates(&report), vec![("analyzed".to_string(), 8)]);
    let anomalies = c["timestamp_anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 2, "{anomalies:?}");
    let (back, range) = (&anomalies[0], &anomalies[1]);
    assert_eq!(back["kind"], "backwards");
    assert_eq!(back["packets"], 1);
    assert_eq!(back["first_packet_number"], 3);
    assert_eq!(back["largest_step_seconds"], 0.5);
    assert_eq!(range["kind"], "out-of-range");
    assert_eq!(range["packets"], 2);
    assert_eq!(range["first_packet_number"], 5);
    assert_eq!(range["first_timestamp"], "1970-01-01T00:00:00.000000Z");
    // The capture's span leaves the implausible times out: 4 s, not 136 years.
    assert_eq!(c["first_packet"], "2013-03-07T21:42:06.000000Z");
    assert_eq!(c["last_packet"], "2013-03-07T21:42:10.000000Z");
    assert_eq!(c["duration_seconds"], 4.0);
    // The flow files an implausible packet under the time before it: 2106 does not time it out
    // (one flow of all eight packets, not a second one ending in 2106).
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(flows[0]["to_server"]["packets"], 8);
    assert_eq!(flows[0]["start"], "2013-03-07T21:42:06.000000Z");
    assert_eq!(flows[0]["end"], "2013-03-07T21:42:10.000000Z");
    // Said as a warning while running and in the summary, not as a finding.
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("timestamps run backwards"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("clock     implausible timestamps: 2 packets"),
        "{}",
        run.stdout
    );
    assert!(all_findings(&report).is_empty());
}

#[test]
fn a_jump_of_more_than_a_day_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let frame = udp_frame("192.0.2.10", "198.51.100.20", b"tick");
    let records = [(T0, frame.clone()), (T0 + 3 * 86_400 * SEC, frame)];
    let capture = write(dir.path(), "jump.pcap", &pcap(1, &records));
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let anomalies = run.report()["capture"]["timestamp_anomalies"].clone();
    assert_eq!(anomalies[0]["kind"], "jump", "{anomalies}");
    assert_eq!(anomalies[0]["first_packet_number"], 2);
    assert_eq!(anomalies[0]["largest_step_seconds"], 3.0 * 86_400.0);
}

#[test]
fn the_fates_of_every_shared_capture_sum_to_its_packets() {
    let json_only = "[[output]]\nplugin = \"json\"\nconfig = { flows = false }\n";
    let mut checked = 0;
    for (name, exp) in expectations() {
        if exp["kind"] != "capture" {
            continue;
        }
        checked += 1;
        let dir = tempfile::tempdir().unwrap();
        let run = run_pipeline(dir.path(), json_only, &testdata(&name));
        assert!(
            run.code == 0 || run.code == 2,
            "{name}: {}",
            run.all_output()
        );
        let report = run.report();
        let packets = report["capture"]["packets"].as_u64().unwrap();
        let fates = fates(&report);
        let sum: u64 = fates.iter().map(|(_, n)| n).sum();
        assert_eq!(sum, packets, "{name}: {fates:?}");
        if exp["readable_to_end"] == true {
            assert_eq!(Some(packets), exp["packets"].as_u64(), "{name}");
        }
        // tshark's count of ARP frames.
        let arp = fates
            .iter()
            .find(|(k, _)| k == "arp")
            .map_or(0, |(_, n)| *n);
        assert_eq!(Some(arp), exp["arp_packets"].as_u64(), "{name}: {fates:?}");
        // The printed table sums the same way.
        let printed: u64 = run
            .stdout
            .lines()
            .skip_while(|l| *l != "packets by fate")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(printed, packets, "{name}: {}", run.stdout);
    }
    assert!(
        checked >= 20,
        "only {checked} captures in expectations.json"
    );
}

#[test]
fn a_fragment_that_cannot_be_reassembled_is_counted_and_its_hosts_are_listed() {
    // 108 bytes of fragment data: not a multiple of 8, which only a last fragment may be.
    let dir = tempfile::tempdir().unwrap();
    let frame = first_fragment(udp_frame("192.0.2.10", "198.51.100.20", &[0x55; 100]));
    let capture = write(dir.path(), "bad-fragment.pcap", &pcap(1, &[(T0, frame)]));
    let run = run_pipeline(dir.path(), WEB_JSON, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(fates(&report), vec![("fragment-invalid".to_string(), 1)]);
    assert_eq!(host(&report, "192.0.2.10")["packets_sent"], 1);
    assert_eq!(host(&report, "198.51.100.20")["packets_received"], 1);
}
