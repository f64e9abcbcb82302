//! Tests on real captures from the shared corpus (`../shared/testdata` beside the repository): hand-made byte strings
//! only prove the parsers agree with their author, while these handshakes and requests were sent by
//! curl, Chrome and real browsers, and `expectations.json` says what TShark found in them. The TCP
//! streams are rebuilt by `pcapgen::replay` with the host's own decoder and flow table (default
//! settings: in-order streams cut at the 4096-byte prefix), so the parsers see what the host hands them.

use crate::{http, report, tls};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

/// The shared captures, next to the repository (`../shared/testdata`).
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

/// One TCP connection of a capture, as the host hands it over: the first bytes (the host's default
/// `payload_bytes`) of each direction's in-order stream.
struct Connection {
    server: (IpAddr, u16),
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

/// Every TCP connection of a capture, in order of first packet, replayed into flows by the host's flow
/// table (`pcapgen::replay`, shared with the other plugins' tests).
fn connections(file: &str) -> Vec<Connection> {
    let dir = PathBuf::from(TESTDATA);
    assert!(
        dir.is_dir(),
        "the shared test corpus {TESTDATA} is missing: these tests read captures from it"
    );
    let (flows, _) = pcapgen::replay::flows(&dir.join(file));
    flows
        .into_iter()
        .filter(|f| f.is_tcp())
        .map(|f| Connection {
            server: (f.server_ip(), f.server.port),
            to_server: f.to_server.payload,
            to_client: f.to_client.payload,
        })
        .collect()
}

/// The client→server and server→client streams and the server port of the first TCP connection.
fn first_connection(file: &str) -> (Vec<u8>, Vec<u8>, u16) {
    let first = connections(file)
        .into_iter()
        .next()
        .expect("a TCP connection");
    (first.to_server, first.to_client, first.server.1)
}

#[test]
fn curl_offers_tls_1_3_to_enabled_tls13_com() {
    let (client, server, port) = first_connection("tls13_sni_curl_enabled_tls13_com.pcap");
    let hello = tls::parse_client_hello(&client).expect("a ClientHello");
    assert_eq!(hello.sni.as_deref(), Some("enabled.tls13.com"));
    assert!(hello.complete);
    assert_eq!(
        hello.versions.first(),
        Some(&0x0304),
        "{:x?}",
        hello.versions
    );
    let answer = tls::parse_server_hello(&server).expect("a ServerHello");
    assert_eq!(tls::version_name(answer.version), "TLS 1.3");
    assert!(
        tls::cipher_name(answer.cipher).starts_with("TLS_"),
        "{}",
        tls::cipher_name(answer.cipher)
    );

    let obs = report::observe(
        &report::tests::flow("104.16.125.34", port, &client, &server),
        20,
    )
    .unwrap();
    assert_eq!(obs.finding.tag, "web.https");
    assert!(
        obs.finding
            .summary
            .starts_with("TLS to enabled.tls13.com (SNI), offers TLS 1.3"),
        "{}",
        obs.finding.summary
    );
    assert!(
        obs.finding.summary.contains("; negotiated TLS 1.3"),
        "{}",
        obs.finding.summary
    );
    assert_eq!(obs.finding.get("tls.version"), Some("TLS 1.3"));
    assert_eq!(obs.server_name.as_deref(), Some("enabled.tls13.com"));

    // Every prefix of the real streams parses without a panic; the SNI survives once it fits.
    for n in 0..client.len() {
        let _ = tls::parse_client_hello(&client[..n]);
        let _ = http::parse_requests(&client[..n], 20);
    }
    for n in 0..server.len().min(2048) {
        let _ = tls::parse_server_hello(&server[..n]);
    }
}

#[test]
fn chrome_34_names_google_de_over_tls_1_2() {
    let (client, server, port) = first_connection("tls12_sni_chrome34_google_de.pcap");
    let hello = tls::parse_client_hello(&client).expect("a ClientHello");
    assert_eq!(hello.sni.as_deref(), Some("google.de"));
    assert_eq!(
        hello.versions,
        [0x0303],
        "Chrome 34 predates supported_versions"
    );
    let answer = tls::parse_server_hello(&server).expect("a ServerHello");
    assert_eq!(tls::version_name(answer.version), "TLS 1.2");

    let obs = report::observe(
        &report::tests::flow("74.125.239.152", port, &client, &server),
        20,
    )
    .unwrap();
    assert_eq!(obs.finding.tag, "web.https");
    assert_eq!(obs.finding.get("tls.sni"), Some("google.de"));
    assert_eq!(obs.finding.get("tls.versions"), Some("TLS 1.2"));
    assert_eq!(obs.finding.get("server.name"), Some("google.de"));
}

#[test]
fn a_real_get_of_bro_org() {
    let (client, server, port) = first_connection("http_get_bro_org.pcap");
    let requests = http::parse_requests(&client, 20);
    assert_eq!(requests.count, 1);
    assert_eq!(requests.items[0].method, "GET");
    assert_eq!(requests.items[0].host.as_deref(), Some("bro.org"));
    let responses = http::parse_responses(&server, &requests.methods, 20);
    assert_eq!(responses.count, 1);

    let obs = report::observe(
        &report::tests::flow("192.150.187.43", port, &client, &server),
        20,
    )
    .unwrap();
    assert_eq!(obs.finding.tag, "web.http");
    assert!(
        obs.finding.summary.starts_with("HTTP GET bro.org/"),
        "{}",
        obs.finding.summary
    );
    assert_eq!(obs.server_name.as_deref(), Some("bro.org"));
}

#[test]
fn mutated_real_streams_never_panic() {
    let mut streams = Vec::new();
    for file in [
        "tls13_sni_curl_enabled_tls13_com.pcap",
        "tls12_sni_chrome34_google_de.pcap",
        "http_get_bro_org.pcap",
    ] {
        let (client, server, _) = first_connection(file);
        streams.push(client[..client.len().min(1024)].to_vec());
        streams.push(server[..server.len().min(1024)].to_vec());
    }
    for stream in &streams {
        for at in 0..stream.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut mutated = stream.clone();
                mutated[at] ^= flip;
                let flow = report::tests::flow("192.0.2.1", 443, &mutated, &mutated);
                let _ = report::observe(&flow, 20);
            }
        }
    }
}

/// The HTTP `Host` headers, TLS server names and negotiated TLS versions this plugin finds in every
/// TCP connection of a capture agree with what TShark found (`expectations.json`).
#[test]
fn agrees_with_tshark_on_the_corpus() {
    let text = std::fs::read_to_string(PathBuf::from(TESTDATA).join("expectations.json"))
        .expect("expectations.json in the shared corpus");
    let expectations: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let list = |file: &str, key: &str| -> BTreeSet<String> {
        expectations[file][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(|s| s.replace("TLS1.", "TLS 1.")))
                    .collect()
            })
            .unwrap_or_default()
    };
    let files = [
        "http_get_bro_org.pcap",
        "http_wikipedia_browsing.pcap",
        "ipv6_http_sixxs.pcap",
        "tls12_sni_chrome34_google_de.pcap",
        "tls13_sni_curl_enabled_tls13_com.pcap",
        "tls12_web_browsing_many_sni.pcap",
        "tor_browser_pcapxray_example.pcap",
        "mixed_pcapxray_malicious_traffic.pcap",
    ];
    for file in files {
        let (mut hosts, mut snis, mut versions) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for c in connections(file) {
            let flow = report::tests::flow(
                &c.server.0.to_string(),
                c.server.1,
                &c.to_server,
                &c.to_client,
            );
            let Some(obs) = report::observe(&flow, 20) else {
                continue;
            };
            let f = &obs.finding;
            if let Some(list) = f.get("http.hosts") {
                hosts.extend(list.split(',').map(String::from));
            }
            snis.extend(f.get("tls.sni").map(String::from));
            versions.extend(f.get("tls.version").map(String::from));
        }
        assert_eq!(hosts, list(file, "http_hosts"), "{file}: HTTP hosts");
        assert_eq!(snis, list(file, "tls_sni"), "{file}: TLS server names");
        assert_eq!(
            versions,
            list(file, "tls_versions_negotiated"),
            "{file}: negotiated versions"
        );
    }
}

/// Every QUIC server name TShark found (`quic_sni` in `expectations.json`: Google QUIC Q039 CHLOs,
/// in both captures) is on a `web.quic` finding of the UDP flows as the host hands them over, and
/// no other name is.
#[test]
fn names_the_quic_servers_tshark_names() {
    let text = std::fs::read_to_string(PathBuf::from(TESTDATA).join("expectations.json"))
        .expect("expectations.json in the shared corpus");
    let expectations: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    for file in [
        "mixed_pcapxray_malicious_traffic.pcap",
        "tor_browser_pcapxray_example.pcap",
    ] {
        let expected: BTreeSet<String> = expectations[file]["quic_sni"]
            .as_array()
            .expect("quic_sni")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert!(!expected.is_empty(), "{file}");
        let (flows, _) = pcapgen::replay::flows(&PathBuf::from(TESTDATA).join(file));
        let mut names = BTreeSet::new();
        for flow in flows.iter().filter(|f| f.is_udp()) {
            let Some(obs) = report::observe(flow, 20) else {
                continue;
            };
            assert_eq!(
                obs.finding.tag, "web.quic",
                "{file}: {}",
                obs.finding.summary
            );
            assert_eq!(obs.finding.get("quic.version"), Some("Q039"));
            names.extend(obs.server_name);
        }
        assert_eq!(names, expected, "{file}: QUIC server names");
    }
}
