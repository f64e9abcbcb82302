//! Tests on real captures from the shared corpus (`../shared/testdata` beside the repository):
//! hand-made messages only prove the parsers agree with their author, while these were sent by real
//! resolvers, browsers, printers and Macs, and `expectations.json` says what TShark found in them.
//! The flows are built by `pcapgen::replay` with the host's own decoder and flow table (default flow
//! settings: UDP datagrams and in-order TCP streams cut at the 4096-byte prefix), so the plugin's
//! per-flow code sees what it sees in a run.

use crate::flow::{self, Limits, Observation, Proto};
use pcapxray_plugin_sdk::Flow;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

/// The shared captures, next to the repository (`../shared/testdata`).
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

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

/// The flows of a capture, as the host's flow table builds them.
pub fn flows(file: &str) -> Vec<Flow> {
    pcapgen::replay::flows(&path(file)).0
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
