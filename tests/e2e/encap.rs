//! Tunnels and encapsulations through the real binary, on pcapgen captures: the QinQ + PPPoE capture
//! gives its DNS names (classic and modified pcap), and on every encapsulation capture pcapxray finds
//! the same innermost addresses, ports and tunnel layers as tshark, so the pcapgen writers and the
//! decoder cannot share a mistake.

use crate::support::*;
use pcapgen::encap::{self, Encap};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const DNS_JSON: &str = "[[analyzer]]\nplugin = \"dns\"\n[[output]]\nplugin = \"json\"\n";

/// Writes `name` into `dir`: a recipe's capture, classic or modified pcap.
fn write(dir: &Path, e: Encap, modified: bool) -> PathBuf {
    let cap = e.capture().expect("pcapgen writes the capture");
    let suffix = if modified { "-modified" } else { "" };
    let path = dir.join(format!("{}{suffix}.pcap", e.name()));
    if modified {
        let bytes = cap.write_modified_pcap(Vec::new()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    } else {
        cap.write_file(&path).unwrap();
    }
    path
}

fn flows(report: &Value) -> &Vec<Value> {
    report["flows"].as_array().expect("flows in report.json")
}

/// A QinQ + PPPoE session capture used to lose its DNS names (PPPoE frames were counted as non-IP):
/// the name answered inside the tunnel reaches the answered address, in both pcap flavours.
#[test]
fn qinq_pppoe_sessions_give_their_dns_names_in_pcap_and_modified_pcap() {
    let dir = tempfile::tempdir().unwrap();
    for modified in [false, true] {
        let capture = write(dir.path(), Encap::QinqPppoe, modified);
        let run_dir = tempfile::tempdir().unwrap();
        let run = run_pipeline(run_dir.path(), DNS_JSON, &capture);
        assert_eq!(run.code, 0, "{}", run.all_output());
        let report = run.report();
        let format = if modified { "pcap (modified)" } else { "pcap" };
        assert_eq!(report["capture"]["format"], format);
        assert_eq!(bad_fates(&report), Vec::<String>::new());
        let host = report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["ip"] == "93.184.216.34")
            .expect("the answered address is a host");
        let named = host["notes"].as_array().unwrap().iter().any(|n| {
            n["stage"] == "dns" && n["key"] == "name" && n["value"] == "pppoe.example.net"
        });
        assert!(
            named,
            "93.184.216.34 is not named pppoe.example.net: {host}"
        );
        assert_eq!(
            flows(&report).len(),
            2,
            "the DNS exchange and the HTTP session"
        );
        for f in flows(&report) {
            assert_eq!(f["vlan"], serde_json::json!([100, 200]));
            assert_eq!(
                f["tunnel"],
                serde_json::json!([{"kind": "pppoe", "id": 42}])
            );
        }
    }
}

/// tshark's binary, or `None` when the test may skip (PCAPXRAY_NO_TSHARK=1 set explicitly).
fn tshark() -> Option<&'static str> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("tshark");
    }
    assert_eq!(
        std::env::var("PCAPXRAY_NO_TSHARK").as_deref(),
        Ok("1"),
        "tshark is not on PATH: install Debian's tshark (CI does), or set PCAPXRAY_NO_TSHARK=1 to skip \
         the comparison of inner addresses and ports with tshark"
    );
    eprintln!("skipped: tshark is not installed and PCAPXRAY_NO_TSHARK=1 is set");
    None
}

/// One conversation as both tools see it: protocol, the two endpoints (sorted), the tunnel kinds.
type Conversation = (String, [(String, u16); 2], Vec<String>);

fn conversation(
    proto: &str,
    a: (String, u16),
    b: (String, u16),
    kinds: Vec<String>,
) -> Conversation {
    let mut ends = [a, b];
    ends.sort();
    (proto.to_string(), ends, kinds)
}

/// The last of tshark's comma-separated repeated values: the innermost layer's.
fn last(field: &str) -> String {
    field.rsplit(',').next().unwrap_or("").to_string()
}

/// Tunnel kinds from tshark's protocol stack (consecutive duplicates merged, as MPLS labels are).
fn tshark_kinds(protocols: &[&str]) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let mut previous_ip = false;
    for p in protocols {
        let is_ip = *p == "ip" || *p == "ipv6";
        let kind = match *p {
            "pppoes" => Some("pppoe"),
            "mpls" => Some("mpls"),
            "gre" => Some("gre"),
            "erspan" => Some("erspan"),
            "vxlan" => Some("vxlan"),
            "geneve" => Some("geneve"),
            "gtp" => Some("gtp-u"),
            _ if is_ip && previous_ip => Some("ip-in-ip"),
            _ => None,
        };
        if let Some(k) = kind
            && kinds.last().map(String::as_str) != Some(k)
        {
            kinds.push(k.to_string());
        }
        if is_ip || !matches!(*p, "ethertype" | "eth") {
            previous_ip = is_ip;
        }
    }
    kinds
}

fn tshark_conversations(tshark: &str, capture: &Path) -> BTreeSet<Conversation> {
    let fields = [
        "frame.protocols",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
    ];
    let mut cmd = Command::new(tshark);
    cmd.arg("-r")
        .arg(capture)
        .args(["-T", "fields", "-E", "separator=\t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut set = BTreeSet::new();
    for line in text.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let protocols: Vec<&str> = c[0].split(':').collect();
        let inner_ip = protocols
            .iter()
            .rev()
            .find(|p| **p == "ip" || **p == "ipv6");
        let (src, dst) = match inner_ip {
            Some(&"ipv6") => (last(c[3]), last(c[4])),
            _ => (last(c[1]), last(c[2])),
        };
        let proto = protocols
            .iter()
            .rev()
            .find(|p| **p == "tcp" || **p == "udp")
            .unwrap();
        let (sp, dp) = if *proto == "tcp" {
            (c[5], c[6])
        } else {
            (c[7], c[8])
        };
        let port = |s: &str| last(s).parse::<u16>().unwrap();
        set.insert(conversation(
            proto,
            (src, port(sp)),
            (dst, port(dp)),
            tshark_kinds(&protocols),
        ));
    }
    set
}

fn pcapxray_conversations(capture: &Path) -> BTreeSet<Conversation> {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), DNS_JSON, capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(
        bad_fates(&report),
        Vec::<String>::new(),
        "{}",
        capture.display()
    );
    let end = |e: &Value| {
        (
            e["ip"].as_str().unwrap().to_string(),
            e["port"].as_u64().unwrap() as u16,
        )
    };
    flows(&report)
        .iter()
        .map(|f| {
            let mut kinds: Vec<String> = Vec::new();
            for l in f["tunnel"].as_array().into_iter().flatten() {
                let k = l["kind"].as_str().unwrap().to_string();
                if kinds.last() != Some(&k) {
                    kinds.push(k);
                }
            }
            conversation(
                f["protocol"].as_str().unwrap(),
                end(&f["client"]),
                end(&f["server"]),
                kinds,
            )
        })
        .collect()
}

/// Every pcapgen encapsulation capture (and the modified-pcap one): the innermost addresses and
/// ports of each conversation, and the tunnel layers around it, are what tshark decodes.
#[test]
fn every_encapsulation_decodes_to_the_inner_addresses_ports_and_tunnels_tshark_sees() {
    let Some(tshark) = tshark() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut captures: Vec<PathBuf> = Encap::ALL
        .iter()
        .map(|e| write(dir.path(), *e, false))
        .collect();
    captures.push(write(dir.path(), Encap::QinqPppoe, true));
    let all = dir.path().join("all.pcap");
    encap::all().unwrap().write_file(&all).unwrap();
    captures.push(all);
    for capture in &captures {
        let want = tshark_conversations(tshark, capture);
        let got = pcapxray_conversations(capture);
        assert!(
            !want.is_empty(),
            "{}: tshark saw nothing",
            capture.display()
        );
        assert!(
            want.iter().all(|c| !c.2.is_empty()),
            "{}: tshark saw no tunnel: {want:?}",
            capture.display()
        );
        assert_eq!(got, want, "{}", capture.display());
    }
}

/// Packet fates that say something could not be decoded (a malformed header at any layer).
fn bad_fates(report: &serde_json::Value) -> Vec<String> {
    report["capture"]["packet_fates"]
        .as_array()
        .expect("capture.packet_fates")
        .iter()
        .map(|f| f["key"].as_str().unwrap_or("").to_string())
        .filter(|k| k.contains("malformed") || k.starts_with("unsupported"))
        .collect()
}
