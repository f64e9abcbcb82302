//! Tests on real captures from the shared corpus (`/work/shared/testdata`): hand-made byte strings
//! only prove the parsers agree with their author, while these handshakes and requests were sent by
//! curl, Chrome and a real browser. The TCP streams are rebuilt here with a minimal reassembler
//! (one connection, in sequence order, duplicates dropped) so the parsers see what the host hands
//! them.

use crate::{http, report, tls};
use etherparse::{SlicedPacket, TransportSlice};
use std::collections::BTreeMap;
use std::path::PathBuf;

const TESTDATA: &str = "/work/shared/testdata";

/// The client→server and server→client payload streams of the first TCP connection (the first SYN
/// without ACK) in a capture.
fn first_connection(file: &str) -> (Vec<u8>, Vec<u8>, u16) {
    let dir = PathBuf::from(TESTDATA);
    assert!(
        dir.is_dir(),
        "the shared test corpus {TESTDATA} is missing: these tests read captures from it"
    );
    let path = dir.join(file);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut ports: Option<(u16, u16)> = None;
    // Payload by sequence number offset from the SYN, per direction.
    let mut streams: [BTreeMap<u32, Vec<u8>>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut isn: [Option<u32>; 2] = [None, None];
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a readable packet");
        let Ok(sliced) = SlicedPacket::from_ethernet(&packet.data) else {
            continue;
        };
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            continue;
        };
        let (src, dst) = (tcp.source_port(), tcp.destination_port());
        if ports.is_none() && tcp.syn() && !tcp.ack() {
            ports = Some((src, dst));
        }
        let Some((client, server)) = ports else {
            continue;
        };
        let side = match (src, dst) {
            (s, d) if (s, d) == (client, server) => 0,
            (s, d) if (s, d) == (server, client) => 1,
            _ => continue,
        };
        if tcp.syn() {
            isn[side] = Some(tcp.sequence_number().wrapping_add(1));
            continue;
        }
        let Some(start) = isn[side] else {
            continue;
        };
        if !tcp.payload().is_empty() {
            let offset = tcp.sequence_number().wrapping_sub(start);
            streams[side]
                .entry(offset)
                .or_insert_with(|| tcp.payload().to_vec());
        }
    }
    let (_, server) = ports.expect("a TCP connection opened with a SYN");
    let [to_server, to_client] = streams.map(|segments| {
        let mut stream = Vec::new();
        for (offset, data) in segments {
            let offset = offset as usize;
            if offset <= stream.len() && offset + data.len() > stream.len() {
                stream.extend_from_slice(&data[stream.len() - offset..]);
            }
        }
        stream
    });
    (to_server, to_client, server)
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
