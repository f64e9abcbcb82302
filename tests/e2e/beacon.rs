//! The `beacon` analyzer through the real host, on captures written here with `pcapgen`: one host
//! checking in every 60 s ± 1 s, another making the same number of identical connections at random
//! times. Only the first is beaconing.

use crate::support::*;
use pcapgen::{Beacon, Capture, Endpoint, Side, TcpEnd};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

const GATEWAY: [u8; 6] = [0x00, 0x14, 0x6c, 0x3a, 0x91, 0x0e];
const START: u64 = 1_710_234_000;
const PIPELINE: &str = "[[analyzer]]\nplugin = \"beacon\"\n[[output]]\nplugin = \"json\"\n";

/// 20 connections from 192.168.1.50 to 203.0.113.80:8080 every 60 s ± 1 s, and 20 identical
/// connections from 192.168.1.51 to 203.0.113.81:8080 at random gaps of 5 to 240 s.
fn write_capture(path: &Path, seed: u64) {
    let mut cap = Capture::with_seed(Duration::from_secs(START), seed);
    let (request, response) = (cap.rng().bytes(120), cap.rng().bytes(48));
    let periodic = Endpoint::new(
        [0x3c, 0x22, 0xfb, 1, 2, 3],
        Ipv4Addr::new(192, 168, 1, 50),
        50300,
    );
    cap.beacon(&Beacon {
        client: periodic,
        server: Endpoint::new(GATEWAY, Ipv4Addr::new(203, 0, 113, 80), 8080),
        count: 20,
        period: Duration::from_secs(60),
        jitter: Duration::from_secs(1),
        request: &request,
        response: &response,
    })
    .unwrap();
    let random = Endpoint::new(
        [0x3c, 0x22, 0xfb, 1, 2, 4],
        Ipv4Addr::new(192, 168, 1, 51),
        50300,
    );
    let server = Endpoint::new(GATEWAY, Ipv4Addr::new(203, 0, 113, 81), 8080);
    let mut t = Duration::from_secs(START + 10);
    for i in 0..20u16 {
        t += Duration::from_millis(cap.rng().range(5_000, 240_000));
        cap.set_time(t);
        cap.tcp_session(
            random.with_port(50300 + i),
            server,
            &[(Side::Client, &request), (Side::Server, &response)],
            TcpEnd::Fin,
        )
        .unwrap();
    }
    cap.write_file(path).unwrap();
}

fn beacons(report: &Value) -> Vec<&Value> {
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == "beacon")
        .collect()
}

#[test]
fn finds_the_periodic_host_and_not_the_random_one() {
    // Several random schedules: none of them may look like a beacon.
    for seed in [1_u64, 2, 3, 4, 5] {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("beacon.pcap");
        write_capture(&capture, seed);
        let run = run_pipeline(dir.path(), PIPELINE, &capture);
        assert_eq!(run.code, 0, "{}", run.all_output());
        let report = run.report();
        let found = beacons(&report);
        assert_eq!(found.len(), 1, "seed {seed}: {found:#?}");
        let f = found[0];
        assert_eq!(f["subject"]["host"], "192.168.1.50");
        assert_eq!(f["severity"], "medium");
        let a = &f["attributes"];
        assert_eq!(a["beacon.server"], "203.0.113.80");
        assert_eq!(a["beacon.port"], "8080");
        assert_eq!(a["beacon.protocol"], "tcp");
        assert_eq!(a["beacon.connections"], "20");
        let number = |key: &str| -> f64 { a[key].as_str().unwrap().parse().unwrap() };
        assert!((number("beacon.interval-seconds") - 60.0).abs() < 1.0);
        assert!(number("beacon.jitter-seconds") < 1.5);
        assert!(number("beacon.score") >= 0.9);
        assert!(
            a["beacon.first"]
                .as_str()
                .unwrap()
                .starts_with("2024-03-12T09:00:00")
        );
        assert!(
            a["beacon.last"]
                .as_str()
                .unwrap()
                .starts_with("2024-03-12T09:19:")
        );
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("192.168.1.50 connects to 203.0.113.80:8080/tcp every ")
                && summary.contains(", 20 times in 19 min: beaconing, score 0.9"),
            "{summary}"
        );
    }
}
