//! The `dns` and `devices` analyzers through the real binary on every shared capture, checked against
//! what TShark and Wireshark's `manuf` established (`expectations.json`): the unicast DNS questions,
//! the vendor of every source MAC, the DHCP host name, and passive DNS names reaching the hosts.

use crate::support::*;
use pcapgen::vendors::{EXCEPTIONS, same_vendor};
use serde_json::Value;
use std::collections::BTreeSet;

/// web, dns, devices and the JSON report: devices sees what web and dns published.
const PIPELINE: &str = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n\
                        [[analyzer]]\nplugin = \"devices\"\n[[output]]\nplugin = \"json\"\n";

fn run(capture: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), PIPELINE, &testdata(capture));
    assert!(
        run.code == 0 || run.code == 2,
        "{capture}: {}",
        run.all_output()
    );
    let report = run.report();
    for stage in report["plugins"].as_array().unwrap() {
        assert!(
            stage["error"].is_null(),
            "{capture}: stage {} was stopped: {}",
            stage["stage"],
            stage["error"]
        );
    }
    report
}

/// The facts stage `stage` published on host `ip`, as (key, value).
fn facts(report: &Value, ip: &str, stage: &str) -> Vec<(String, String)> {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["ip"] == ip)
        .flat_map(|h| h["notes"].as_array().unwrap())
        .filter(|n| n["stage"] == stage)
        .map(|n| {
            (
                n["key"].as_str().unwrap().to_string(),
                n["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every shared capture: the `dns.queries` of `dns` findings are TShark's unicast DNS questions, and
/// every source MAC gets Wireshark's vendor (or none, for locally administered MACs) on a host that
/// carries it or on the gateway/router finding for it.
#[test]
fn dns_questions_and_mac_vendors_match_the_expectations_on_every_capture() {
    let mut problems = Vec::new();
    let mut captures = 0;
    for (name, expected) in expectations() {
        if expected["kind"] != "capture" || name.starts_with("empty") {
            continue;
        }
        captures += 1;
        let report = run(&name);

        let mut questions: BTreeSet<String> = BTreeSet::new();
        for list in finding_values(&report, "dns", "dns.queries") {
            questions.extend(list.split(',').map(String::from));
        }
        let want: BTreeSet<String> = expected["dns_queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if questions != want {
            problems.push(format!(
                "{name}: DNS questions {questions:?}, TShark saw {want:?}"
            ));
        }

        let findings = all_findings(&report);
        for (mac, want) in expected["source_mac_vendors"].as_object().unwrap() {
            let mut vendors: BTreeSet<String> = BTreeSet::new();
            let mut kinds: BTreeSet<String> = BTreeSet::new();
            for host in report["hosts"].as_array().unwrap() {
                let ip = host["ip"].as_str().unwrap();
                let carries = host["macs"].as_array().unwrap().iter().any(|m| m == mac)
                    || facts(&report, ip, "devices")
                        .iter()
                        .any(|(k, v)| k == "mac" && v == mac);
                if !carries {
                    continue;
                }
                for (k, v) in facts(&report, ip, "devices") {
                    match k.as_str() {
                        "vendor" => vendors.insert(v),
                        "mac.kind" => kinds.insert(v),
                        _ => false,
                    };
                }
            }
            for f in findings.iter().filter(|f| f["attributes"]["mac"] == *mac) {
                vendors.extend(f["attributes"]["vendor"].as_str().map(String::from));
                kinds.extend(f["attributes"]["mac.kind"].as_str().map(String::from));
            }
            if let Some((_, ieee, reason)) = EXCEPTIONS.iter().find(|(m, _, _)| m == mac) {
                let ok = match ieee {
                    Some(n) => vendors.contains(*n),
                    None => vendors.is_empty(),
                };
                if !ok {
                    problems.push(format!(
                        "{name}: {mac}: exception ({reason}) expects {ieee:?}, got {vendors:?}"
                    ));
                }
                continue;
            }
            let local = want["locally_administered"].as_bool().unwrap_or(false);
            match (want["wireshark_manuf"].as_str(), local) {
                (_, true) if !vendors.is_empty() || !kinds.contains("locally-administered") => {
                    problems.push(format!(
                        "{name}: {mac} is locally administered; got vendors {vendors:?}, kinds {kinds:?}"
                    ))
                }
                (Some(w), false) if !vendors.iter().any(|v| same_vendor(w, v)) => problems.push(
                    format!("{name}: {mac}: Wireshark says {w:?}, devices said {vendors:?}"),
                ),
                (None, false) if !vendors.is_empty() => problems.push(format!(
                    "{name}: {mac}: Wireshark knows no vendor, devices said {vendors:?}"
                )),
                _ => {}
            }
        }
    }
    assert!(captures >= 20, "only {captures} captures");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The DHCP client's host name, MAC and vendor land on the address the server gave it.
#[test]
fn the_dhcp_host_name_reaches_its_host() {
    let report = run("dhcp_message_types.pcap");
    let got = facts(&report, "128.2.6.189", "devices");
    for (k, v) in [
        ("dhcp.hostname", "btest.is.cool"),
        ("mac", "90:b1:1c:99:49:29"),
        ("vendor", "Dell Inc."),
    ] {
        assert!(
            got.contains(&(k.to_string(), v.to_string())),
            "{k} = {v} missing on 128.2.6.189: {got:?}"
        );
    }
    assert!(facts(&report, "0.0.0.0", "devices").is_empty());
}

/// Passive DNS: the name the Tor capture's browser looked up reaches the addresses it was given (dns
/// alone: with web first, the host keeps web's identical SNI fact instead), and devices, running
/// after dns, lists DNS names on LAN hosts (the demo printer's mDNS name).
#[test]
fn answered_names_reach_their_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let dns_only = "[[analyzer]]\nplugin = \"dns\"\n[[output]]\nplugin = \"json\"\n";
    let report = run_pipeline(
        dir.path(),
        dns_only,
        &testdata("tor_browser_pcapxray_example.pcap"),
    )
    .report();
    let named: Vec<String> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            h["notes"].as_array().unwrap().iter().any(|n| {
                n["stage"] == "dns" && n["key"] == "name" && n["value"] == "srinivas11789.github.io"
            })
        })
        .map(|h| h["ip"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !named.is_empty(),
        "no host is named srinivas11789.github.io"
    );
    let answers = finding_values(&report, "dns", "dns.answers").join("; ");
    for ip in &named {
        assert!(answers.contains(ip.as_str()), "{ip} is not in any answer");
    }

    let dir = tempfile::tempdir().unwrap();
    let demo = run_pipeline(dir.path(), PIPELINE, &repo().join("config/demo.pcap")).report();
    let printer = all_findings(&demo)
        .into_iter()
        .find(|f| f["tag"] == "device" && f["subject"]["host"] == "192.168.1.200")
        .expect("a device finding for the printer");
    assert_eq!(printer["attributes"]["names"], "npi5e0a14.local");
}

/// `oui_file` is read through the `files` capability: without a grant the stage is refused with a
/// configuration error naming the key; granted, its entries take precedence over the embedded registry.
#[test]
fn a_newer_oui_file_needs_a_grant_and_then_wins() {
    let dir = tempfile::tempdir().unwrap();
    let oui = dir.path().join("oui.tsv");
    std::fs::write(
        &oui,
        "# a newer registry\n90B11C\tDell Technologies (newer file)\n",
    )
    .unwrap();
    let oui = oui.to_str().unwrap().to_string();
    let stage = |grants: &str| {
        format!(
            "[[analyzer]]\nplugin = \"devices\"\nconfig = {{ oui_file = {oui:?} }}\n{grants}\
             [[output]]\nplugin = \"json\"\n"
        )
    };

    let refused = run_pipeline(dir.path(), &stage(""), &testdata("dhcp_message_types.pcap"));
    assert_ne!(refused.code, 0, "{}", refused.all_output());
    assert!(
        refused.all_output().contains("oui_file"),
        "the error names the key:\n{}",
        refused.all_output()
    );

    let granted_dir = tempfile::tempdir().unwrap();
    let granted = run_pipeline(
        granted_dir.path(),
        &stage(&format!("grants = {{ files = [{oui:?}] }}\n")),
        &testdata("dhcp_message_types.pcap"),
    );
    assert_eq!(granted.code, 0, "{}", granted.all_output());
    let report = granted.report();
    let got = facts(&report, "128.2.6.189", "devices");
    assert!(
        got.contains(&("vendor".into(), "Dell Technologies (newer file)".into())),
        "{got:?}"
    );
    // Prefixes the file does not list still come from the embedded registry.
    assert!(
        facts(&report, "128.2.6.152", "devices")
            .contains(&("vendor".into(), "VMware, Inc.".into()))
    );
}

/// Device facts that hold (issue #10): a gratuitous ARP reply's broadcast target is nobody's MAC; an
/// internet server whose packets keep an initial TTL is not a LAN device; the text report's local hosts
/// are the ones `devices` decided; an OS hint says what it rests on.
#[test]
fn device_facts_hold_broadcast_macs_remote_servers_lan_hosts_and_os_evidence() {
    let vlan = run("vlan_8021q_icmp_arp.pcap");
    for h in vlan["hosts"].as_array().unwrap() {
        let macs = h["macs"].as_array().unwrap();
        assert!(
            !macs.iter().any(|m| m == "ff:ff:ff:ff:ff:ff"),
            "{} got the broadcast MAC: {macs:?}",
            h["ip"]
        );
        assert_eq!(macs.len(), 1, "{h:#}");
    }

    let smtp = run("corrupt_smtp_bad_record_after_18_packets.pcap");
    let device_hosts: BTreeSet<String> = smtp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tag"].as_str().unwrap().starts_with("device"))
        .filter_map(|f| f["subject"]["host"].as_str().map(str::to_string))
        .collect();
    assert_eq!(device_hosts, BTreeSet::from(["10.7.29.101".to_string()]));
    assert!(
        !facts(&smtp, "178.63.41.150", "devices").contains(&("network".into(), "local".into()))
    );

    // The text report lists as local exactly the hosts devices decided are local.
    let dir = tempfile::tempdir().unwrap();
    let pipeline = format!("{PIPELINE}[[output]]\nplugin = \"text\"\n");
    let r = run_pipeline(
        dir.path(),
        &pipeline,
        &testdata("http_wikipedia_browsing.pcap"),
    );
    assert_eq!(r.code, 0, "{}", r.all_output());
    let report = r.report();
    let local: Vec<&Value> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            h["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["key"] == "network" && n["value"] == "local")
        })
        .collect();
    assert!(local.len() >= 10, "{} local hosts", local.len());
    let text = std::fs::read_to_string(r.out_dir.join("devices.txt")).unwrap();
    assert!(
        text.contains(&format!("== Local network hosts ({})", local.len())),
        "{text}"
    );
    // Every OS hint comes with its evidence, in the report and in the text.
    for h in &local {
        let notes = h["notes"].as_array().unwrap();
        if notes.iter().any(|n| n["key"] == "os") {
            let evidence = notes.iter().find(|n| n["key"] == "os.evidence");
            let evidence = evidence.unwrap_or_else(|| panic!("{h:#}"));
            assert!(
                evidence["value"].as_str().unwrap().contains("TTL")
                    || evidence["value"].as_str().unwrap().contains("User-Agent"),
                "{evidence}"
            );
        }
    }
    assert!(text.contains("OS evidence"), "{text}");
}
