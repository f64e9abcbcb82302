//! Tests on the real consensus in the shared corpus (`../shared/testdata` beside the repository): a
//! hand-written document only proves the parser agrees with its author, while this one was made by the
//! Tor directory authorities (2022-11-19 10:00 UTC, 6088 relays). The expected counts are taken from
//! the file itself, line by line, so the parser is checked against the text and not against a number
//! copied from elsewhere.

use crate::catalog::{Catalog, Fit};
use crate::consensus::{Consensus, Depth, Flavor};
use crate::matcher::{self, Hit};
use crate::tests::flow;
use pcapxray_plugin_sdk::collections::HashSet;
use pcapxray_plugin_sdk::testing::FakeHost;
use std::net::IpAddr;
use std::path::PathBuf;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");
const CONSENSUS: &str = "tor_cached-consensus_2022-11-19";

fn path() -> PathBuf {
    let dir = PathBuf::from(TESTDATA);
    assert!(
        dir.is_dir(),
        "the shared test corpus {TESTDATA} is missing: these tests read the real consensus from it"
    );
    dir.join(CONSENSUS)
}

fn text() -> String {
    std::fs::read_to_string(path()).expect("read the shared consensus")
}

#[test]
fn reads_every_relay_and_address_of_the_real_consensus() {
    let text = text();
    let r_lines = text.lines().filter(|l| l.starts_with("r ")).count();
    let a_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("a ")).collect();
    assert_eq!(r_lines, 6088, "SOURCES.md counts 6088 r lines");
    assert_eq!(a_lines.len(), 2686, "SOURCES.md counts 2686 a lines");

    let c = Consensus::parse(&text, Depth::Full).unwrap();
    assert_eq!(c.flavor, Some(Flavor::Full));
    assert!(c.complete);
    assert_eq!(c.problem_count, 0, "{:?}", c.problems);
    assert_eq!(c.relays.len(), r_lines);
    assert_eq!(c.extra_addresses, a_lines.len());
    let ipv6 = c
        .relays
        .iter()
        .flat_map(|r| &r.extra)
        .filter(|a| a.is_ipv6())
        .count();
    let ipv6_lines = a_lines.iter().filter(|l| l.contains('[')).count();
    assert_eq!(ipv6, ipv6_lines);
    // SOURCES.md: 5511 distinct relay IPv4 addresses, 2328 distinct IPv6.
    let v4: HashSet<IpAddr> = c.relays.iter().map(|r| IpAddr::V4(r.address)).collect();
    let v6: HashSet<IpAddr> = c
        .relays
        .iter()
        .flat_map(|r| &r.extra)
        .map(|a| a.ip())
        .filter(IpAddr::is_ipv6)
        .collect();
    assert_eq!((v4.len(), v6.len()), (5511, 2328));
    // Every identity decodes to 20 bytes: all fingerprints are distinct 40-digit hex strings.
    let prints: HashSet<String> = c.relays.iter().map(|r| r.fingerprint()).collect();
    assert_eq!(prints.len(), r_lines);
    assert!(prints.iter().all(|p| p.len() == 40));

    let v = c.validity();
    assert_eq!(
        crate::consensus::format_time(v.valid_after),
        "2022-11-19 10:00:00"
    );
    assert_eq!(
        crate::consensus::format_time(v.fresh_until),
        "2022-11-19 11:00:00"
    );
    assert_eq!(
        crate::consensus::format_time(v.valid_until),
        "2022-11-19 13:00:00"
    );

    // The relays SOURCES.md names.
    let at = |ip: &str| -> Vec<(String, u16)> {
        c.relays_at(ip.parse().unwrap())
            .map(|r| (r.nickname.clone(), r.or_port))
            .collect()
    };
    assert_eq!(
        at("158.69.204.36"),
        [("stars1".into(), 443), ("stars2".into(), 80)]
    );
    assert_eq!(at("193.11.164.243"), [("Lule".into(), 9001)]);
    assert_eq!(at("131.188.40.188"), [("fluxe4".into(), 11180)]);
    // The peer of mixed_pcapxray_malicious_traffic.pcap on port 9001 is not a relay in it.
    assert!(at("216.165.2.56").is_empty());
    let stars1 = &c
        .relays_at("158.69.204.36".parse().unwrap())
        .next()
        .unwrap();
    assert_eq!(stars1.flags, "Fast Guard Running Stable V2Dir Valid");
    assert_eq!(
        stars1.fingerprint(),
        "0409605E8343562A790FFE846CB3BD7C04429F70"
    );
}

#[test]
fn every_ipv6_a_line_address_finds_its_relay() {
    let text = text();
    let c = Consensus::parse(&text, Depth::Full).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| l.starts_with("a [")) {
        let addr: std::net::SocketAddr = line[2..].parse().unwrap();
        let f = flow(&addr.ip().to_string(), addr.port());
        match matcher::find(&c, &f, true) {
            Some(Hit::Relay { relay, .. }) => {
                assert!(relay.extra.contains(&addr), "{line}");
                checked += 1;
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    assert!(checked > 2000);
}

#[test]
fn every_prefix_of_the_real_consensus_is_handled() {
    // Truncated downloads: cut at many places, never a panic, and relays up to the cut are kept.
    let text = text();
    let mut previous = 0;
    for cut in (0..text.len()).step_by(text.len() / 97) {
        let prefix = &text[..cut];
        match Consensus::parse(prefix, Depth::Full) {
            Ok(c) => {
                assert_eq!(c.complete, prefix.contains("\ndirectory-footer\n"));
                assert!(c.relays.len() >= previous);
                previous = c.relays.len();
            }
            Err(e) => assert!(cut < 3000, "cut at {cut}: {e}"),
        }
    }
}

#[test]
fn the_catalog_uses_the_real_file_as_the_nearest_consensus_for_2017_captures() {
    let file = path().to_string_lossy().into_owned();
    let disk = FakeHost::new("tor").file(&file, text().as_bytes());
    let mut catalog = Catalog::load(&[file], &disk);
    assert!(catalog.failures.is_empty(), "{:?}", catalog.failures);
    assert_eq!(
        catalog.documents[0].label(),
        "tor_cached-consensus_2022-11-19 (valid-after 2022-11-19 10:00:00)"
    );
    // The first packet of tor_browser_pcapxray_example.pcap: 2017-12-10 19:25:47 UTC.
    let (i, fit) = catalog.select(1_512_933_947).unwrap();
    assert!(matches!(fit, Fit::Nearest { .. }));
    assert_eq!(fit.describe(), "nearest (43311 hours away)");
    assert_eq!(matcher::confidence(fit), 40);
    let c = catalog.get(i, &disk).unwrap();
    assert!(c.relays.len() == 6088);
}
