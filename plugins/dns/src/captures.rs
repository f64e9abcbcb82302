//! Tests on real captures from the shared corpus (`../shared/testdata` beside the repository):
//! hand-made messages only prove the parsers agree with their author, while these were sent by real
//! resolvers, browsers, printers and Macs, and `expectations.json` says what TShark found in them.
//! The flows are rebuilt here about as the host builds them (same orientation rules, IP fragments
//! reassembled, UDP datagrams and in-order TCP streams cut at the default 4096-byte prefix), so the
//! plugin's per-flow code sees what it sees in a run.

use crate::flow::{self, Limits, Observation, Proto};
use etherparse::defrag::IpDefragPool;
use etherparse::{NetSlice, SlicedPacket, TcpSlice, TransportSlice, UdpSlice};
use pcap_file::DataLink;
use pcapxray_plugin_sdk::{Direction, EndReason, Endpoint, Flow, IpAddress, Orientation, Protocol};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

/// The shared captures, next to the repository (`../shared/testdata`).
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

/// The host's default `payload_bytes`.
const PAYLOAD_BYTES: usize = 4096;

const LIMITS: Limits = Limits {
    max_answers: 1000,
    max_queries: 1000,
    any_port: true,
};

fn path(file: &str) -> PathBuf {
    let dir = PathBuf::from(TESTDATA);
    assert!(
        dir.is_dir(),
        "the shared test corpus {TESTDATA} is missing: these tests read captures from it"
    );
    dir.join(file)
}

/// One decoded packet.
struct Packet {
    ts: u64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    tcp: Option<(u32, bool, bool)>,
    udp: bool,
    ttl: u8,
    mac: Option<u64>,
    payload: Vec<u8>,
}

/// Every link-layer frame of a pcap or pcapng file with its time and link type.
fn frames(file: &str) -> Vec<(u64, DataLink, Vec<u8>)> {
    let p = path(file);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    let mut out = Vec::new();
    if file.ends_with(".pcapng") {
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&bytes[..]).expect("a pcapng file");
        let mut links = Vec::new();
        while let Some(block) = reader.next_block() {
            let Ok(block) = block else { break };
            match block {
                pcap_file::pcapng::Block::InterfaceDescription(idb) => links.push(idb.linktype),
                pcap_file::pcapng::Block::EnhancedPacket(epb) => {
                    let link = links
                        .get(epb.interface_id as usize)
                        .copied()
                        .unwrap_or(DataLink::ETHERNET);
                    out.push((epb.timestamp.as_nanos() as u64, link, epb.data.to_vec()));
                }
                _ => {}
            }
        }
    } else {
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).expect("a pcap file");
        let link = reader.header().datalink;
        while let Some(packet) = reader.next_packet() {
            let Ok(packet) = packet else { break };
            out.push((
                packet.timestamp.as_nanos() as u64,
                link,
                packet.data.to_vec(),
            ));
        }
    }
    out
}

/// The TCP and UDP packets of a capture, IP fragments reassembled.
fn packets(file: &str) -> Vec<Packet> {
    let mut defrag: IpDefragPool<(), ()> = IpDefragPool::new();
    let mut out = Vec::new();
    for (ts, link, data) in frames(file) {
        let sliced = match link {
            DataLink::ETHERNET => SlicedPacket::from_ethernet(&data),
            DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(&data),
            DataLink::LINUX_SLL2 => SlicedPacket::from_ip(data.get(20..).unwrap_or_default()),
            other => panic!("{file}: link type {other:?} is not read by these tests"),
        };
        let Ok(sliced) = sliced else { continue };
        let mac = match &sliced.link {
            Some(etherparse::LinkSlice::Ethernet2(e)) => Some(
                e.source()
                    .iter()
                    .fold(0u64, |a, b| (a << 8) | u64::from(*b)),
            ),
            _ => None,
        };
        let (src, dst, ttl): (IpAddr, IpAddr, u8) = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.header().ttl(),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.header().hop_limit(),
            ),
            _ => continue,
        };
        // A reassembled datagram replaces its fragments.
        let reassembled = defrag.process_sliced_packet(&sliced, (), ()).ok().flatten();
        let transport: Option<(u8, Vec<u8>)> = match (&reassembled, &sliced.transport) {
            (Some(p), _) => Some((p.ip_number.0, p.payload.clone())),
            (None, Some(TransportSlice::Udp(u))) => Some((17, u.slice().to_vec())),
            (None, Some(TransportSlice::Tcp(t))) => Some((6, t.slice().to_vec())),
            _ => None,
        };
        let Some((number, segment)) = transport else {
            continue;
        };
        match number {
            17 => {
                let Ok(udp) = UdpSlice::from_slice(&segment) else {
                    continue;
                };
                out.push(Packet {
                    ts,
                    src: (src, udp.source_port()),
                    dst: (dst, udp.destination_port()),
                    tcp: None,
                    udp: true,
                    ttl,
                    mac,
                    payload: udp.payload().to_vec(),
                });
            }
            6 => {
                let Ok(tcp) = TcpSlice::from_slice(&segment) else {
                    continue;
                };
                out.push(Packet {
                    ts,
                    src: (src, tcp.source_port()),
                    dst: (dst, tcp.destination_port()),
                    tcp: Some((tcp.sequence_number(), tcp.syn(), tcp.ack())),
                    udp: false,
                    ttl,
                    mac,
                    payload: tcp.payload().to_vec(),
                });
            }
            _ => {}
        }
    }
    out
}

/// Lower means "more likely a server port" (the host's rule).
fn service_rank(port: u16) -> u8 {
    match port {
        0 => 3,
        53 | 67 | 80 | 123 | 137 | 443 | 5353 | 5355 | 1900 => 0,
        1..=1023 => 1,
        1024..=49151 => 2,
        _ => 3,
    }
}

#[derive(Default)]
struct Half {
    dir: Option<Direction>,
    mac: Option<u64>,
    start: Option<u32>,
    segments: BTreeMap<u32, Vec<u8>>,
}

fn empty_direction() -> Direction {
    Direction {
        packets: 0,
        bytes: 0,
        payload_bytes: 0,
        first_seen: 0,
        last_seen: 0,
        tcp_flags: 0,
        ttl: 0,
        payload: Vec::new(),
        datagrams: Vec::new(),
        payload_truncated: false,
    }
}

impl Half {
    fn add(&mut self, p: &Packet) {
        let dir = self.dir.get_or_insert_with(|| {
            let mut d = empty_direction();
            d.first_seen = p.ts;
            d.ttl = p.ttl;
            d
        });
        if self.mac.is_none() {
            self.mac = p.mac;
        }
        dir.packets += 1;
        dir.last_seen = p.ts;
        dir.payload_bytes += p.payload.len() as u64;
        if let Some((seq, syn, _)) = p.tcp {
            if syn {
                self.start = Some(seq.wrapping_add(1));
            }
            if !p.payload.is_empty() {
                let start = *self.start.get_or_insert(seq);
                let offset = seq.wrapping_sub(start);
                if offset < u32::MAX / 2 {
                    self.segments
                        .entry(offset)
                        .or_insert_with(|| p.payload.clone());
                }
            }
        } else if !p.payload.is_empty() {
            let room = PAYLOAD_BYTES.saturating_sub(dir.payload.len());
            let take = p.payload.len().min(room);
            if take > 0 {
                dir.payload.extend_from_slice(&p.payload[..take]);
                dir.datagrams.push(take as u32);
            }
            if p.payload.len() > room {
                dir.payload_truncated = true;
            }
        }
    }

    fn finish(mut self) -> (Direction, Option<u64>) {
        let mut dir = self.dir.take().unwrap_or_else(empty_direction);
        if !self.segments.is_empty() {
            let mut stream = Vec::new();
            for (&offset, data) in &self.segments {
                let offset = offset as usize;
                if offset > stream.len() {
                    dir.payload_truncated = true;
                    break;
                }
                if offset + data.len() > stream.len() {
                    stream.extend_from_slice(&data[stream.len() - offset..]);
                }
            }
            if stream.len() > PAYLOAD_BYTES {
                stream.truncate(PAYLOAD_BYTES);
                dir.payload_truncated = true;
            }
            dir.payload = stream;
        }
        (dir, self.mac)
    }
}

/// The TCP and UDP flows of a capture, about as the host builds them.
pub fn flows(file: &str) -> Vec<Flow> {
    type Key = (bool, (IpAddr, u16), (IpAddr, u16));
    /// Client, server, and the two directions (client to server first).
    type Entry = ((IpAddr, u16), (IpAddr, u16), [Half; 2]);
    let mut order: Vec<Key> = Vec::new();
    let mut table: HashMap<Key, Entry> = HashMap::new();
    for p in packets(file) {
        let key = (p.udp, p.src.min(p.dst), p.src.max(p.dst));
        let entry = table.entry(key).or_insert_with(|| {
            order.push(key);
            let sender_is_server = match p.tcp {
                Some((_, true, ack)) => ack,
                _ => service_rank(p.src.1) < service_rank(p.dst.1),
            };
            if sender_is_server {
                (p.dst, p.src, Default::default())
            } else {
                (p.src, p.dst, Default::default())
            }
        });
        let side = usize::from(p.src != entry.0);
        entry.2[side].add(&p);
    }
    let mut out = Vec::new();
    for (id, key) in order.into_iter().enumerate() {
        let Some((client, server, [up, down])) = table.remove(&key) else {
            continue;
        };
        let (to_server, client_mac) = up.finish();
        let (to_client, server_mac) = down.finish();
        let ip = |a: IpAddr| -> IpAddress { a.into() };
        out.push(Flow {
            id: id as u64,
            client: Endpoint {
                ip: ip(client.0),
                port: client.1,
                mac: client_mac,
            },
            server: Endpoint {
                ip: ip(server.0),
                port: server.1,
                mac: server_mac,
            },
            protocol: if key.0 { Protocol::Udp } else { Protocol::Tcp },
            ip_protocol: if key.0 { 17 } else { 6 },
            vlan: Vec::new(),
            orientation: Orientation::PortHeuristic,
            end_reason: EndReason::CaptureEnd,
            icmp_type: 0,
            icmp_code: 0,
            fragments: 0,
            to_server,
            to_client,
            findings: Vec::new(),
        });
    }
    out
}

/// Every observation the plugin makes on a capture.
fn observe(file: &str) -> Vec<Observation> {
    flows(file)
        .iter()
        .filter_map(|f| flow::observe(f, LIMITS))
        .collect()
}

/// The distinct `dns.queries` names of the findings tagged with one of `tags`.
fn queries(observations: &[Observation], tags: &[&str]) -> BTreeSet<String> {
    observations
        .iter()
        .filter(|o| tags.contains(&o.finding.tag.as_str()))
        .filter_map(|o| o.finding.get("dns.queries"))
        .flat_map(|list| list.split(',').map(String::from))
        .collect()
}

fn expectations() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(path("expectations.json"))
        .expect("expectations.json in the shared corpus");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    value.as_object().expect("an object").clone()
}

fn list(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The unicast DNS names this plugin finds in every capture agree with what TShark found
/// (`dns_queries`: the questions of unicast DNS queries, UDP or TCP).
#[test]
fn dns_queries_agree_with_tshark_on_every_capture() {
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (file, facts) in expectations() {
        if facts["kind"] != "capture" || facts.get("dns_queries").is_none() {
            continue;
        }
        checked += 1;
        let got = queries(&observe(&file), &["dns"]);
        let want = list(&facts["dns_queries"]);
        if got != want {
            mismatches.push(format!("{file}: found {got:?}, TShark {want:?}"));
        }
    }
    assert!(checked >= 20, "only {checked} captures checked");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// mDNS and LLMNR question names agree with TShark's `mdns_llmnr_names`.
#[test]
fn mdns_and_llmnr_names_agree_with_tshark() {
    for (file, facts) in expectations() {
        let Some(want) = facts.get("mdns_llmnr_names") else {
            continue;
        };
        let got = queries(&observe(&file), &["dns.mdns", "dns.llmnr"]);
        assert_eq!(got, list(want), "{file}: mDNS/LLMNR names");
    }
}

#[test]
fn dns_over_tcp_is_read() {
    let observations = observe("dns_tcp_queries.pcap");
    let tcp: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.finding.get("dns.transport") == Some("tcp"))
        .collect();
    let names: BTreeSet<&str> = tcp
        .iter()
        .filter_map(|o| o.finding.get("dns.queries"))
        .collect();
    assert_eq!(names, BTreeSet::from(["aol.com", "google.com"]));
    assert!(
        tcp.iter()
            .all(|o| o.finding.get("dns.rcode") == Some("NOERROR"))
    );
    assert!(
        tcp.iter().all(|o| !o.bindings.is_empty()),
        "A answers bind names"
    );
}

#[test]
fn the_wikipedia_session_names_hosts_from_dns_mdns_and_llmnr() {
    let observations = observe("http_wikipedia_browsing.pcap");
    let by_tag = |tag: &str| observations.iter().filter(|o| o.finding.tag == tag).count();
    assert!(by_tag("dns") >= 1);
    assert!(by_tag("dns.mdns") >= 2);
    assert!(by_tag("dns.llmnr") >= 1);
    assert!(by_tag("dns.nbns") >= 1);
    let facts: BTreeSet<(String, &str, String)> = observations
        .iter()
        .flat_map(|o| &o.bindings)
        .map(|s| {
            (
                s.binding.ip.to_string(),
                s.binding.key,
                s.binding.value.clone(),
            )
        })
        .collect();
    for (ip, name) in [
        ("208.80.152.3", "upload.wikimedia.org"),
        ("208.80.152.3", "upload.pmtpa.wikimedia.org"),
        ("208.80.152.2", "meta.wikimedia.org"),
        ("208.80.152.2", "text.wikimedia.org"),
        ("208.80.152.2", "text.pmtpa.wikimedia.org"),
        ("141.142.220.50", "gemini.local"),
        ("fe80::217:f2ff:fed7:cf65", "gemini.local"),
    ] {
        assert!(
            facts.contains(&(ip.to_string(), "name", name.to_string())),
            "{ip} {name} missing from {facts:#?}"
        );
    }
    let nbns: BTreeSet<&str> = observations
        .iter()
        .filter(|o| o.proto == Proto::Nbns)
        .filter_map(|o| o.finding.get("dns.queries"))
        .collect();
    assert!(nbns.contains("BRWC0CB383D1F42<00>"), "{nbns:?}");
    assert!(nbns.contains("WORKGROUP<1d>"), "{nbns:?}");
}

#[test]
fn mx_loc_ptr_a_and_aaaa_answers() {
    let observations = observe("dns_udp_mx_loc_ptr_a_aaaa.pcap");
    let answers: Vec<&str> = observations
        .iter()
        .filter_map(|o| o.finding.get("dns.answers"))
        .collect();
    let all = answers.join("; ");
    for needle in [" MX ", " PTR ", " A ", " AAAA ", " CNAME "] {
        assert!(all.contains(needle), "no{needle}answer in {all}");
    }
    // google.com has no LOC record: the question is there, the answer is not. (One query is ANY.)
    let qtypes: BTreeSet<&str> = observations
        .iter()
        .filter_map(|o| o.finding.get("dns.qtypes"))
        .flat_map(|t| t.split(','))
        .collect();
    assert_eq!(
        qtypes,
        BTreeSet::from(["A", "AAAA", "ANY", "LOC", "MX", "PTR"])
    );
    let ptr: Vec<&flow::Seen> = observations
        .iter()
        .flat_map(|o| &o.bindings)
        .filter(|s| s.binding.ip.to_string() == "66.192.9.104")
        .collect();
    assert!(!ptr.is_empty(), "the PTR answer names 66.192.9.104");
    let rcodes: BTreeSet<&str> = observations
        .iter()
        .filter_map(|o| o.finding.get("dns.rcode"))
        .collect();
    assert!(rcodes.iter().any(|r| r.contains("NXDOMAIN")), "{rcodes:?}");
}

#[test]
fn txt_answers_reassembled_from_ipv6_fragments() {
    let observations = observe("ipv6_fragmented_dns.pcap");
    let answers: String = observations
        .iter()
        .filter_map(|o| o.finding.get("dns.answers"))
        .collect::<Vec<_>>()
        .join("; ");
    assert!(
        answers.contains("txtpadding_3230.n1.netalyzr.icsi.berkeley.edu TXT \""),
        "{answers}"
    );
    assert!(
        observations.iter().all(|o| o.finding.tag == "dns"),
        "nothing here is malformed"
    );
}

#[test]
fn the_tor_capture_names_github_pages() {
    let observations = observe("tor_browser_pcapxray_example.pcap");
    let named: BTreeSet<String> = observations
        .iter()
        .flat_map(|o| &o.bindings)
        .filter(|s| s.binding.value == "srinivas11789.github.io")
        .map(|s| s.binding.ip.to_string())
        .collect();
    assert!(!named.is_empty());
    // Every address named so is one the A/AAAA answers of that flow list.
    let answers: String = observations
        .iter()
        .filter_map(|o| o.finding.get("dns.answers"))
        .collect::<Vec<_>>()
        .join("; ");
    for ip in &named {
        assert!(answers.contains(ip.as_str()), "{ip}");
    }
}

#[test]
fn mutated_real_messages_never_panic() {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for file in [
        "dns_udp_mx_loc_ptr_a_aaaa.pcap",
        "http_wikipedia_browsing.pcap",
        "ipv6_fragmented_dns.pcap",
    ] {
        for f in flows(file) {
            if f.is_udp() {
                for d in [&f.to_server, &f.to_client] {
                    messages.extend(d.messages().map(|m| m.to_vec()));
                }
            }
        }
    }
    assert!(messages.len() > 20);
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    for m in messages.iter().take(40) {
        for at in 0..m.len().min(300) {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = m.clone();
                bad[at] ^= flip;
                let _ = crate::message::parse_dns(&bad);
                let _ = crate::nbns::parse(&bad, ip);
            }
        }
        for cut in 0..m.len() {
            let _ = crate::message::parse_dns(&m[..cut]);
            let _ = crate::nbns::parse(&m[..cut], ip);
        }
    }
}
