//! `devices.txt`: what each machine is. The ancestor's device report was a list of MAC vendors; an
//! investigator wants the whole identity of a device in one block — addresses, vendor, names, OS hint,
//! DHCP host name, when it was active — and the local network's devices before the internet hosts
//! (whose MAC address is only the next hop's). Written once, at the end, from the report's hosts.

use crate::clean::{self, field, line};
use pcapxray_plugin_sdk::collections::HashMap;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    FindingRecord, HostInfo, HostNote, Report, Subject, format_mac, net::IpClass, tag_matches,
};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

/// Width of the key column of a block.
const KEY: usize = 16;
/// Values listed per fact key in one block (names, user agents); the rest are counted.
const MAX_VALUES: usize = 12;
/// Other facts listed per host.
const MAX_OTHER_FACTS: usize = 24;

/// Fact keys shown on their own line, in this order, with their label.
const SHOWN: &[(&str, &str)] = &[
    (names::host::VENDOR, "vendor"),
    (names::host::NAME, "names"),
    (names::dhcp::HOSTNAME, "DHCP host name"),
    (names::netbios::NAME, "NetBIOS name"),
    (names::host::OS, "OS hint"),
    (names::device::OS_EVIDENCE, "OS evidence"),
    (names::host::DEVICE, "device"),
    (names::dhcp::VENDOR_CLASS, "DHCP vendor"),
    (names::http::USER_AGENT, "user agents"),
];

/// The distinct values of fact `key`, in the order they were published, with the stages that said so.
pub fn values<'a>(notes: &'a [HostNote], key: &str) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for n in notes.iter().filter(|n| n.key == key) {
        match out.iter_mut().find(|(v, _)| *v == n.value) {
            Some((_, stages)) => {
                if !stages.contains(&n.stage.as_str()) {
                    stages.push(&n.stage);
                }
            }
            None => out.push((&n.value, vec![&n.stage])),
        }
    }
    out
}

/// Whether the `devices` analyzer (or another stage) decided which hosts are on the local network: it
/// publishes `network = local` on each of them. Without that decision, private and link-local
/// addresses count as local.
fn lan_decided(hosts: &[HostInfo]) -> bool {
    hosts
        .iter()
        .any(|h| h.notes.iter().any(|n| n.key == NETWORK_FACT))
}

/// The fact the `devices` analyzer publishes on local-network hosts (`network = local`).
const NETWORK_FACT: &str = names::host::NETWORK;

fn is_local(h: &HostInfo, decided: bool) -> bool {
    if decided {
        h.notes
            .iter()
            .any(|n| n.key == NETWORK_FACT && n.value == "local")
    } else {
        IpClass::of(IpAddr::from(h.ip)).is_local()
    }
}

/// Local network hosts first, each group sorted by address.
pub fn sorted(hosts: &[HostInfo]) -> Vec<&HostInfo> {
    let decided = lan_decided(hosts);
    let mut sorted: Vec<&HostInfo> = hosts.iter().collect();
    sorted.sort_by_key(|h| (!is_local(h, decided), IpAddr::from(h.ip)));
    sorted
}

/// What the analyzers concluded about devices, from the findings that are not on flows: each host's
/// `device`/`device.*` findings (the `devices` analyzer's identity, OS and gateway conclusions), and
/// the vendors they named for MAC addresses (a gateway's, when its own address was not seen). Kept
/// as the findings stream in; bounded per host.
#[derive(Default)]
pub struct Analysis {
    about: HashMap<IpAddr, Vec<Concluded>>,
    mac_vendors: HashMap<u64, String>,
}

/// One conclusion about a host, as printed.
struct Concluded {
    tag: String,
    confidence: u8,
    summary: String,
}

impl Analysis {
    /// Conclusions listed per host.
    const PER_HOST: usize = 16;

    /// Takes in one finding that was not on a flow.
    pub fn note(&mut self, r: &FindingRecord) {
        let f = &r.finding;
        if !tag_matches(&f.tag, names::device::TAG) {
            return;
        }
        if let Subject::Host(ip) = f.subject {
            let list = self.about.entry(ip.into()).or_default();
            if list.len() < Self::PER_HOST {
                list.push(Concluded {
                    tag: line(&f.tag, 64),
                    confidence: f.confidence,
                    summary: line(&f.summary, 400),
                });
            }
        }
        if let (Some(mac), Some(vendor)) = (
            f.get(names::host::MAC).and_then(parse_mac),
            f.get(names::host::VENDOR),
        ) {
            self.mac_vendors
                .entry(mac)
                .or_insert_with(|| vendor.to_string());
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` as a number.
fn parse_mac(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
        Some(acc << 8 | u64::from(u8::from_str_radix(p, 16).ok()?))
    })
}

/// The capture lines every report starts with.
pub fn capture_header(out: &mut String, title: &str, report: &Report) {
    let c = &report.capture;
    let _ = writeln!(out, "pcapxray {title}");
    let _ = writeln!(
        out,
        "capture   {} ({}, sha256 {})",
        line(&c.file, 300),
        clean::count(c.size, "byte"),
        line(&c.sha256, 64)
    );
    let _ = writeln!(
        out,
        "period    {} to {}",
        clean::time(c.first_packet),
        clean::time(c.last_packet)
    );
    if let Some(e) = &c.read_error {
        let _ = writeln!(
            out,
            "WARNING   the capture was read only in part: {}",
            line(e, 300)
        );
    }
    for p in report.plugins.iter().filter(|p| p.error.is_some()) {
        let _ = writeln!(
            out,
            "WARNING   stage `{}` was stopped, its results are missing: {}",
            line(&p.stage, 64),
            line(p.error.as_deref().unwrap_or(""), 300)
        );
    }
}

/// Hosts that `render` is told about instead of given.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Hosts without a MAC address that are not in `report.hosts`.
    pub without_mac: u64,
    /// Hosts with a MAC address that are not in `report.hosts` (past `max_hosts`).
    pub left_out: u64,
}

/// The whole `devices.txt`.
/// `counts` says how many hosts were left out of `report.hosts`: those without a MAC address (never
/// listed) and those past the output's `max_hosts`.
/// Whether the host has a MAC address, as [`macs_of`] counts them (without making the list: every
/// host of the capture goes by here).
pub(crate) fn has_mac(h: &HostInfo) -> bool {
    !h.macs.is_empty()
        || h.notes
            .iter()
            .any(|n| n.key == names::host::MAC && parse_mac(&n.value).is_some())
}

/// A host's MAC addresses: those its packets came from, then those a stage published as its `mac`
/// fact (`devices` does for an address DHCP handed to a client that never sent from it in the capture).
pub(crate) fn macs_of(h: &HostInfo) -> Vec<u64> {
    if h.notes.iter().all(|n| n.key != names::host::MAC) {
        return h.macs.clone();
    }
    let mut macs = h.macs.clone();
    for n in h.notes.iter().filter(|n| n.key == names::host::MAC) {
        if let Some(mac) = parse_mac(&n.value)
            && !macs.contains(&mac)
        {
            macs.push(mac);
        }
    }
    macs
}

pub fn render(report: &Report, analysis: &Analysis, counts: Counts) -> String {
    let mut out = String::with_capacity(1024 + report.hosts.len() * 256);
    capture_header(&mut out, "devices report", report);
    let with_mac: Vec<&HostInfo> = sorted(&report.hosts)
        .into_iter()
        .filter(|h| has_mac(h))
        .collect();
    let without = report.hosts.len() - with_mac.len() + counts.without_mac as usize;
    let _ = writeln!(
        out,
        "hosts     {} with a MAC address{}",
        with_mac.len() as u64 + counts.left_out,
        if without > 0 {
            format!(
                ", {without} without one (not listed: never a sender on this link, e.g. broadcast or multicast, or a link layer without MAC addresses)"
            )
        } else {
            String::new()
        }
    );

    if counts.left_out > 0 {
        let _ = writeln!(
            out,
            "listed    {} of them; {} more are counted, not listed (config max_hosts raises the bound)",
            with_mac.len(),
            counts.left_out
        );
    }

    let decided = lan_decided(&report.hosts);
    mac_table(&mut out, &with_mac, &analysis.mac_vendors, decided);

    let (local, remote): (Vec<&HostInfo>, Vec<&HostInfo>) =
        with_mac.iter().partition(|h| is_local(h, decided));
    let _ = writeln!(out, "\n== Local network hosts ({})", local.len());
    for h in local {
        block(&mut out, h, &analysis.about);
    }
    let _ = writeln!(
        out,
        "\n== Other hosts ({}), one line each: their MAC address is the next hop's (usually the gateway's, above)",
        remote.len()
    );
    for h in remote {
        brief(&mut out, h);
    }
    out
}

/// A host beyond the local network: its names, when it was seen and its traffic on one line, and
/// its other facts (Tor relay, RDAP owner, ...) on a second.
fn brief(out: &mut String, h: &HostInfo) {
    let ip = IpAddr::from(h.ip);
    let names: Vec<String> = values(&h.notes, names::host::NAME)
        .iter()
        .take(4)
        .map(|(v, _)| line(v, 100))
        .collect();
    let _ = writeln!(
        out,
        "{ip}  [{}]  {}  {} to {}  sent {} ({}), received {} ({})",
        IpClass::of(ip).as_str(),
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        },
        clean::time(h.first_seen),
        clean::time(h.last_seen),
        clean::count(h.packets_sent, "packet"),
        clean::bytes(h.bytes_sent),
        clean::count(h.packets_received, "packet"),
        clean::bytes(h.bytes_received),
    );
    let facts: Vec<String> = h
        .notes
        .iter()
        .filter(|n| n.key != names::host::NAME)
        .take(8)
        .map(|n| {
            format!(
                "{} = {} ({})",
                line(&n.key, 64),
                line(&n.value, 120),
                line(&n.stage, 32)
            )
        })
        .collect();
    if !facts.is_empty() {
        let _ = writeln!(out, "    {}", facts.join("; "));
    }
}

/// Every MAC address, its vendor and the addresses that used it; local as the host list decides
/// (`decided`: by the `devices` analyzer's `network = local`).
fn mac_table(out: &mut String, hosts: &[&HostInfo], named: &HashMap<u64, String>, decided: bool) {
    // mac -> (vendor, local ips, other ip count)
    let mut macs: BTreeMap<u64, (Option<&str>, Vec<IpAddr>, usize)> = BTreeMap::new();
    for h in hosts {
        let ip = IpAddr::from(h.ip);
        let local = h.shown_local(decided);
        let vendor = h
            .notes
            .iter()
            .find(|n| n.key == names::host::VENDOR)
            .map(|n| n.value.as_str());
        let own = macs_of(h);
        for &mac in &own {
            let entry = macs.entry(mac).or_default();
            // A host with one MAC says which vendor that MAC is; prefer local hosts.
            if own.len() == 1 && (entry.0.is_none() || local) {
                entry.0 = vendor.or(entry.0);
            }
            if local {
                entry.1.push(ip);
            } else {
                entry.2 += 1;
            }
        }
    }
    for (mac, entry) in macs.iter_mut() {
        if entry.0.is_none() {
            entry.0 = named.get(mac).map(String::as_str);
        }
    }
    let _ = writeln!(out, "\n== MAC addresses ({})", macs.len());
    for (mac, (vendor, local, others)) in &macs {
        let mut used: Vec<String> = local
            .iter()
            .take(MAX_VALUES)
            .map(ToString::to_string)
            .collect();
        if local.len() > MAX_VALUES {
            used.push(format!("{} more local", local.len() - MAX_VALUES));
        }
        if *others > 0 {
            used.push(format!(
                "{} beyond the local network",
                clean::count(*others as u64, "host")
            ));
        }
        let _ = writeln!(
            out,
            "{}  {:<32}  {}",
            format_mac(*mac),
            line(vendor.unwrap_or("vendor unknown"), 100),
            used.join(", ")
        );
    }
}

/// One host's block.
fn block(out: &mut String, h: &HostInfo, about: &HashMap<IpAddr, Vec<Concluded>>) {
    let ip = IpAddr::from(h.ip);
    let class = IpClass::of(ip);
    let _ = writeln!(out, "\n{ip}  [{}]", class.as_str());
    let macs: Vec<String> = macs_of(h)
        .iter()
        .map(|m| {
            if h.macs.contains(m) {
                format_mac(*m)
            } else {
                format!("{} (the client DHCP gave this address to)", format_mac(*m))
            }
        })
        .collect();
    field(out, "  ", "MAC", &macs.join(", "), KEY);
    for (key, label) in SHOWN {
        let vals = values(&h.notes, key);
        if vals.is_empty() {
            continue;
        }
        let mut shown: Vec<String> = vals
            .iter()
            .take(MAX_VALUES)
            .map(|(v, stages)| format!("{} ({})", line(v, 200), stages.join(", ")))
            .collect();
        if vals.len() > MAX_VALUES {
            shown.push(format!("and {} more", vals.len() - MAX_VALUES));
        }
        if *key == names::http::USER_AGENT {
            // Long values: one per line.
            for (i, v) in shown.iter().enumerate() {
                field(out, "  ", if i == 0 { label } else { "" }, v, KEY);
            }
        } else {
            field(out, "  ", label, &shown.join(", "), KEY);
        }
    }
    for (i, f) in about.get(&ip).into_iter().flatten().enumerate() {
        field(
            out,
            "  ",
            if i == 0 { "analysis" } else { "" },
            &format!("{} ({}% sure): {}", f.tag, f.confidence, f.summary),
            KEY,
        );
    }
    field(out, "  ", "first seen", &clean::time(h.first_seen), KEY);
    field(out, "  ", "last seen", &clean::time(h.last_seen), KEY);
    field(
        out,
        "  ",
        "traffic",
        &format!(
            "sent {} ({}), received {} ({}){}",
            clean::count(h.packets_sent, "packet"),
            clean::bytes(h.bytes_sent),
            clean::count(h.packets_received, "packet"),
            clean::bytes(h.bytes_received),
            if h.seen_in_arp { ", seen in ARP" } else { "" }
        ),
        KEY,
    );
    let others: Vec<&HostNote> = h
        .notes
        .iter()
        .filter(|n| n.key != names::host::MAC && !SHOWN.iter().any(|(k, _)| *k == n.key))
        .collect();
    for (i, n) in others.iter().take(MAX_OTHER_FACTS).enumerate() {
        field(
            out,
            "  ",
            if i == 0 { "other facts" } else { "" },
            &format!(
                "{} = {} ({})",
                line(&n.key, 64),
                line(&n.value, 200),
                line(&n.stage, 64)
            ),
            KEY,
        );
    }
    if others.len() > MAX_OTHER_FACTS {
        field(
            out,
            "  ",
            "",
            &format!("and {} more facts", others.len() - MAX_OTHER_FACTS),
            KEY,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{host, note, report};

    #[test]
    fn lists_local_devices_first_with_vendor_names_and_dhcp_name() {
        let mut laptop = host("192.168.1.23", &[0xf8bc126e4d21]);
        laptop.notes = vec![
            note("devices", "vendor", "Apple, Inc."),
            note("dns", "name", "laptop.lan"),
            note("devices", "dhcp.hostname", "Annas-MBP"),
            note("devices", "os", "macOS"),
            note("web", "http.user-agent", "curl/8.5.0"),
            note("enrich", "whois.org", "Evil\nCorp"),
        ];
        let google = host("8.8.8.8", &[0x00146c3a910e]);
        let no_mac = host("10.9.9.9", &[]);
        let mut r = report(vec![google, laptop, no_mac]);
        // The gateway's vendor, named by a finding (its own address was not seen).
        r.findings.push(pcapxray_plugin_sdk::FindingRecord {
            stage: "devices".into(),
            finding: pcapxray_plugin_sdk::Finding::on_capture(
                "device.gateway",
                pcapxray_plugin_sdk::Severity::Info,
            )
            .attr("mac", "00:14:6c:3a:91:0e")
            .attr("vendor", "NETGEAR"),
            rollup: false,
        });
        r.findings.push(pcapxray_plugin_sdk::FindingRecord {
            stage: "devices".into(),
            finding: pcapxray_plugin_sdk::Finding::on_host(
                pcapxray_plugin_sdk::testing::ip("192.168.1.23"),
                "device.os",
                pcapxray_plugin_sdk::Severity::Info,
            )
            .summary("probably macOS")
            .confidence(40),
            rollup: false,
        });
        let mut analysis = Analysis::default();
        for f in &r.findings {
            analysis.note(f);
        }
        let text = render(&r, &analysis, Counts::default());
        let local = text.find("192.168.1.23  [private]").unwrap();
        let remote = text.find("\n8.8.8.8  [public]  -  2024-03-12T09:00:00.000000Z to 2024-03-12T09:01:00.000000Z  sent 3 packets (300 B), received 4 packets (4.0 kB)\n").unwrap();
        assert!(local < remote, "{text}");
        assert!(text.contains("f8:bc:12:6e:4d:21  Apple, Inc."), "{text}");
        assert!(text.contains("laptop.lan (dns)"));
        assert!(text.contains("Annas-MBP (devices)"));
        assert!(text.contains("macOS (devices)"));
        assert!(text.contains("whois.org = Evil\\nCorp (enrich)"), "{text}");
        assert!(text.contains("00:14:6c:3a:91:0e  NETGEAR"), "{text}");
        assert!(
            text.contains("analysis         device.os (40% sure): probably macOS"),
            "{text}"
        );
        assert_eq!(parse_mac("00:14:6c:3a:91:0e"), Some(0x00146c3a910e));
        for bad in [
            "",
            "00:14:6c:3a:91",
            "0:14:6c:3a:91:0e",
            "zz:14:6c:3a:91:0e",
            "+0:14:6c:3a:91:0e",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
        assert!(text.contains("1 without one"));
        assert!(!text.contains("10.9.9.9"));
    }

    #[test]
    fn a_dhcp_client_known_by_its_mac_fact_is_listed_with_its_vendor() {
        // dhcp_message_types.pcap: the client sends from 0.0.0.0; the address DHCP gave it never
        // sends, so its MAC is only the `devices` fact, and devices decided which hosts are local.
        let unspecified = host("0.0.0.0", &[0x90b11c994929]);
        let mut server = host("128.2.6.152", &[0x000c29400eef]);
        server.notes = vec![
            note("devices", "network", "local"),
            note("devices", "vendor", "VMware, Inc."),
        ];
        let mut client = host("128.2.6.189", &[]);
        client.notes = vec![
            note("devices", "network", "local"),
            note("devices", "mac", "90:b1:1c:99:49:29"),
            note("devices", "vendor", "Dell Inc."),
            note("devices", "dhcp.hostname", "btest.is.cool"),
        ];
        let r = report(vec![unspecified, server, client]);
        let text = render(&r, &Analysis::default(), Counts::default());
        assert!(text.contains("== Local network hosts (2)"), "{text}");
        assert!(text.contains("\n128.2.6.189  [public]\n"), "{text}");
        assert!(
            text.contains("90:b1:1c:99:49:29 (the client DHCP gave this address to)"),
            "{text}"
        );
        assert!(text.contains("btest.is.cool (devices)"), "{text}");
        // The MAC table: the vendor DHCP's client has, the server as local (devices said so).
        assert!(text.contains("90:b1:1c:99:49:29  Dell Inc."), "{text}");
        assert!(
            text.contains("00:0c:29:40:0e:ef  VMware, Inc.                      128.2.6.152"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_report_still_has_its_headings() {
        let text = render(&report(Vec::new()), &Analysis::default(), Counts::default());
        assert!(text.contains("== Local network hosts (0)"));
    }
}
