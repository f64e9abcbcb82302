//! Tests on real captures from the shared corpus (`../shared/testdata` beside the repository): the
//! MAC vendors Wireshark's `manuf` gives for every source MAC (`expectations.json`), the DHCP
//! exchange of `dhcp_message_types.pcap`, and the gateways of real home and campus networks. The
//! flows are built by `pcapgen::replay` with the host's own decoder and flow table, and the host table
//! is rebuilt from them about as the host builds it (MACs per address from the first packet of each
//! direction and from ARP), so the plugin's code sees what it sees in a run.

use crate::Devices;
use crate::inventory::tests::facts_of;
use pcapgen::vendors::{EXCEPTIONS, same_vendor};
use pcapxray_plugin_sdk::collections::HashMap;
use pcapxray_plugin_sdk::{
    Direction, EndReason, Finding, Flow, HostInfo, Orientation, Outcome, Protocol, Subject,
    format_mac,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

/// The shared captures, next to the repository (`../shared/testdata`).
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

fn path(file: &str) -> PathBuf {
    let dir = PathBuf::from(TESTDATA);
    assert!(
        dir.is_dir(),
        "the shared test corpus {TESTDATA} is missing: these tests read captures from it"
    );
    dir.join(file)
}

/// The flows of a capture, as the host's flow table builds them, and its ARP senders.
pub fn flows(file: &str) -> (Vec<Flow>, Vec<(IpAddr, u64)>) {
    pcapgen::replay::flows(&path(file))
}

/// A UDP flow carrying the given datagrams (unit tests).
pub fn udp_flow(
    client: (&str, u16),
    server: (&str, u16),
    to_server: &[&[u8]],
    to_client: &[&[u8]],
) -> Flow {
    let direction = |datagrams: &[&[u8]], ttl: u8| -> Direction {
        let mut d = pcapgen::replay::empty_direction();
        d.packets = datagrams.len() as u64;
        d.first_seen = if datagrams.is_empty() { 0 } else { 1_000 };
        d.ttl = ttl;
        d.payload = datagrams.concat();
        d.datagrams = datagrams.iter().map(|x| x.len() as u32).collect();
        d
    };
    pcapxray_plugin_sdk::testing::FlowBuilder::new(Protocol::Udp, client, server)
        .orientation(Orientation::PortHeuristic)
        .end_reason(EndReason::Idle)
        .to_server(direction(to_server, 64))
        .to_client(direction(to_client, 128))
        .build()
}

/// The host table the host would build from these flows and ARP senders.
fn host_table(flows: &[Flow], arp: &[(IpAddr, u64)]) -> Vec<HostInfo> {
    let mut table: BTreeMap<IpAddr, HostInfo> = BTreeMap::new();
    let mut entry = |ip: IpAddr, mac: Option<u64>, in_arp: bool, sent: u64, received: u64| {
        let h = table.entry(ip).or_insert_with(|| HostInfo {
            ip: ip.into(),
            macs: Vec::new(),
            first_seen: 1,
            last_seen: 1,
            packets_sent: 0,
            packets_received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            seen_in_arp: false,
            notes: Vec::new(),
        });
        if let Some(m) = mac
            && !h.macs.contains(&m)
        {
            h.macs.push(m);
        }
        h.seen_in_arp |= in_arp;
        h.packets_sent += sent;
        h.packets_received += received;
    };
    for f in flows {
        let (up, down) = (f.to_server.packets, f.to_client.packets);
        entry(f.client_ip(), f.client.mac, false, up, down);
        entry(f.server_ip(), f.server.mac, false, down, up);
    }
    for (ip, mac) in arp {
        if !ip.is_unspecified() {
            entry(*ip, Some(*mac), true, 0, 0);
        }
    }
    table.into_values().collect()
}

/// What the plugin concludes on a capture, with the host table it concluded from.
fn conclude(file: &str) -> (Outcome, Vec<HostInfo>) {
    let (flows, arp) = flows(file);
    let hosts = host_table(&flows, &arp);
    let mut devices = Devices::with_registry(crate::Config::default(), None).unwrap();
    devices.collect(&flows);
    let mut out = Outcome::default();
    devices.conclude(&hosts, &mut out);
    (out, hosts)
}

fn expectations() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(path("expectations.json"))
        .expect("expectations.json in the shared corpus");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    value.as_object().expect("an object").clone()
}

/// Every source MAC of every capture gets the vendor Wireshark's `manuf` gives (or, for locally
/// administered MACs, `mac.kind = locally-administered` and no vendor), on a host that carries the
/// MAC or on the gateway/router finding for it.
#[test]
fn mac_vendors_agree_with_wireshark_on_every_capture() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (file, facts) in expectations() {
        if facts["kind"] != "capture" {
            continue;
        }
        let Some(expected) = facts["source_mac_vendors"].as_object() else {
            continue;
        };
        if expected.is_empty() {
            continue;
        }
        let (out, hosts) = conclude(&file);
        for (mac, want) in expected {
            checked += 1;
            let wireshark = want["wireshark_manuf"].as_str();
            let local = want["locally_administered"].as_bool().unwrap_or(false);
            // Vendors and kinds the plugin gave this MAC.
            let mut vendors: BTreeSet<String> = BTreeSet::new();
            let mut kinds: BTreeSet<String> = BTreeSet::new();
            let carriers: Vec<String> = hosts
                .iter()
                .filter(|h| h.macs.iter().any(|m| format_mac(*m) == *mac))
                .map(|h| h.ip.to_string())
                .chain(
                    out.host_facts
                        .iter()
                        .filter(|f| f.key == "mac" && f.value == *mac)
                        .map(|f| f.host.to_string()),
                )
                .collect();
            for ip in &carriers {
                for (k, v) in facts_of(&out, ip) {
                    match k.as_str() {
                        "vendor" => {
                            vendors.insert(v);
                        }
                        "mac.kind" => {
                            kinds.insert(v);
                        }
                        _ => {}
                    }
                }
            }
            for f in out
                .findings
                .iter()
                .filter(|f| f.get("mac") == Some(mac.as_str()))
            {
                vendors.extend(f.get("vendor").map(String::from));
                kinds.extend(f.get("mac.kind").map(String::from));
            }
            if let Some((_, ieee, reason)) = EXCEPTIONS.iter().find(|(m, _, _)| m == mac) {
                let ok = match ieee {
                    Some(name) => vendors.contains(*name),
                    None => vendors.is_empty(),
                };
                if !ok {
                    problems.push(format!(
                        "{file}: {mac}: documented exception ({reason}) expects {ieee:?}, got {vendors:?}"
                    ));
                }
                continue;
            }
            match (wireshark, local) {
                (_, true) => {
                    if !vendors.is_empty() || !kinds.contains("locally-administered") {
                        problems.push(format!(
                            "{file}: {mac} is locally administered: expected mac.kind = locally-administered and no vendor, got kinds {kinds:?} vendors {vendors:?} (hosts {carriers:?})"
                        ));
                    }
                }
                (Some(name), false) => {
                    if !vendors.iter().any(|v| same_vendor(name, v)) {
                        problems.push(format!(
                            "{file}: {mac}: Wireshark says {name:?}, the plugin said {vendors:?} (hosts {carriers:?})"
                        ));
                    }
                }
                (None, false) => {
                    if !vendors.is_empty() {
                        problems.push(format!(
                            "{file}: {mac}: Wireshark knows no vendor, the plugin said {vendors:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 50, "only {checked} MACs checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_dhcp_client_is_described_on_the_address_it_was_given() {
    let (out, _) = conclude("dhcp_message_types.pcap");
    let facts = facts_of(&out, "128.2.6.189");
    for (k, v) in [
        ("dhcp.hostname", "btest.is.cool"),
        ("dhcp.requested-address", "192.168.211.194"),
        ("dhcp.requested-address", "128.2.6.189"),
        (
            "dhcp.message-types",
            "DISCOVER,OFFER,REQUEST,DECLINE,ACK,NAK,RELEASE,INFORM",
        ),
        ("mac", "90:b1:1c:99:49:29"),
        ("vendor", "Dell Inc."),
        ("mac.kind", "universal"),
    ] {
        assert!(
            facts.contains(&(k.into(), v.into())),
            "{k}={v} not in {facts:?}"
        );
    }
    // The server's vendor class (ArubaAP) is not the client's.
    assert!(facts.iter().all(|(k, _)| k != "dhcp.vendor-class"));
    assert!(facts_of(&out, "0.0.0.0").is_empty());
    assert!(facts_of(&out, "255.255.255.255").is_empty());
    assert!(facts_of(&out, "128.2.6.152").contains(&("dhcp.server".into(), "true".into())));
    let device: Vec<&Finding> = out
        .findings
        .iter()
        .filter(|f| f.tag == "device" && f.get("macs") == Some("90:b1:1c:99:49:29"))
        .collect();
    assert_eq!(device.len(), 1);
    assert!(
        device[0].summary.contains("btest.is.cool"),
        "{}",
        device[0].summary
    );
}

fn subject_ip(f: &Finding) -> Option<String> {
    match &f.subject {
        Subject::Host(ip) => Some(ip.to_string()),
        _ => None,
    }
}

#[test]
fn gateways_of_real_networks() {
    for (file, gateway, vendor) in [
        (
            "tor_browser_pcapxray_example.pcap",
            Some("192.168.0.1"),
            "Hon Hai Precision Ind. Co.,Ltd.",
        ),
        (
            "mixed_pcapxray_malicious_traffic.pcap",
            Some("192.168.0.1"),
            "Hon Hai Precision Ind. Co.,Ltd.",
        ),
        (
            "http_wikipedia_browsing.pcap",
            Some("141.142.220.1"),
            "Cisco Systems, Inc",
        ),
        (
            "tls12_web_browsing_many_sni.pcap",
            None,
            "Hon Hai Precision Ind. Co.,Ltd.",
        ),
    ] {
        let (out, _) = conclude(file);
        let found: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.tag == "device.gateway")
            .collect();
        assert_eq!(found.len(), 1, "{file}: {found:#?}");
        assert_eq!(subject_ip(found[0]).as_deref(), gateway, "{file}");
        assert_eq!(found[0].get("vendor"), Some(vendor), "{file}");
        if let Some(ip) = gateway {
            assert!(
                facts_of(&out, ip).contains(&("device".into(), "gateway".into())),
                "{file}"
            );
        }
        // No remote IPv4 address is described as a LAN device (these LANs use private IPv4; their
        // hosts' global IPv6 addresses are LAN hosts).
        for f in out.findings.iter().filter(|f| f.tag == "device") {
            let ip: IpAddr = subject_ip(f).unwrap().parse().unwrap();
            let class = pcapxray_plugin_sdk::net::IpClass::of(ip);
            assert!(
                ip.is_ipv6()
                    || class != pcapxray_plugin_sdk::net::IpClass::Public
                    || file == "http_wikipedia_browsing.pcap",
                "{file}: {}",
                f.summary
            );
        }
    }
    // A LAN of public addresses: the campus hosts are LAN hosts, the servers behind the gateway not.
    let (out, _) = conclude("http_wikipedia_browsing.pcap");
    let lan: BTreeSet<String> = out
        .findings
        .iter()
        .filter(|f| f.tag == "device")
        .filter_map(subject_ip)
        .collect();
    assert!(lan.contains("141.142.220.118"), "{lan:?}");
    assert!(lan.contains("141.142.220.1"), "{lan:?}");
    assert!(!lan.contains("208.80.152.3"), "{lan:?}");
    assert!(
        !lan.contains("141.142.2.2"),
        "the resolver is behind the gateway: {lan:?}"
    );
}

#[test]
fn initial_ttls_hint_at_the_os() {
    let (out, _) = conclude("dns_udp_mx_loc_ptr_a_aaaa.pcap");
    let os: BTreeMap<String, String> = out
        .host_facts
        .iter()
        .filter(|f| f.key == "os")
        .map(|f| (f.host.to_string(), f.value.clone()))
        .collect();
    assert_eq!(
        os.get("192.168.170.8").map(String::as_str),
        Some("Unix-like")
    );
    assert_eq!(
        os.get("192.168.170.20").map(String::as_str),
        Some("Windows")
    );
}

#[test]
fn mutated_real_dhcp_never_panics() {
    let (flows, _) = flows("dhcp_message_types.pcap");
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for f in &flows {
        for d in [&f.to_server, &f.to_client] {
            messages.extend(d.messages().map(<[u8]>::to_vec));
        }
    }
    assert_eq!(messages.len(), 9);
    for m in &messages {
        assert!(crate::dhcp::parse(m).is_some());
        for at in 0..m.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = m.clone();
                bad[at] ^= flip;
                let _ = crate::dhcp::parse(&bad);
            }
        }
        for cut in 0..m.len() {
            let _ = crate::dhcp::parse(&m[..cut]);
        }
    }
}

#[test]
fn flows_rebuilt_from_captures_look_like_the_hosts() {
    let (flows, arp) = flows("arp_request_reply_ping.pcap");
    assert!(
        flows.iter().all(|f| f.protocol == Protocol::Icmp),
        "only ARP and ICMP"
    );
    assert!(!arp.is_empty());
    let ips: HashMap<IpAddr, u64> = arp.into_iter().collect();
    assert!(ips.len() >= 2);
}
