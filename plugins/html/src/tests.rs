//! The page on hostile and oversized input: everything escaped, nothing external, bounds kept.

use super::*;
use pcapxray_plugin_sdk::testing::FlowBuilder;
use pcapxray_plugin_sdk::{
    CaptureInfo, Direction, FindingRecord, HostInfo, HostNote, PacketFate, PluginKind, PluginRun,
    Protocol, TimestampAnomaly,
};
use std::net::IpAddr;

const EVIL: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";

fn flow(id: u64, server: &str, tags: &[(&str, Severity)]) -> Flow {
    let dir = Direction {
        packets: 2,
        bytes: 120,
        payload_bytes: 0,
        first_seen: 1_512_933_947_946_213_000 + id,
        last_seen: 1_512_933_948_946_213_000 + id,
        tcp_flags: 0,
        ttl: 64,
        payload: Vec::new(),
        datagrams: Vec::new(),
        payload_truncated: false,
    };
    let mut flow = FlowBuilder::new(Protocol::Tcp, ("192.168.0.5", 50000), (server, 443))
        .id(id)
        .macs(Some(0x3c22fb010203), Some(0x3c22fb010203))
        .to_server(dir.clone())
        .to_client(dir);
    for (t, s) in tags {
        flow = flow.finding(FindingRecord {
            stage: "web".into(),
            finding: Finding::on_flow(id, *t, *s)
                .summary(format!("TLS to {EVIL} (SNI)"))
                .attr("tls.sni", EVIL),
            rollup: false,
        });
    }
    flow.build()
}

fn report() -> Report {
    Report {
        capture: CaptureInfo {
            file: format!("/tmp/{EVIL}.pcap"),
            size: 100,
            sha256: "ab".repeat(32),
            format: "pcap".into(),
            format_details: "little-endian, microsecond".into(),
            link_types: vec!["ETHERNET (1)".into()],
            packets: 10,
            bytes: 1000,
            first_packet: 1_512_933_947_946_213_000,
            last_packet: 1_512_933_949_946_213_000,
            packet_fates: vec![PacketFate {
                key: "malformed-ipv4".into(),
                label: format!("malformed {EVIL} header"),
                packets: 12_345,
            }],
            timestamp_anomalies: vec![TimestampAnomaly {
                kind: "backwards".into(),
                packets: 1,
                first_packet_number: 3,
                first_timestamp: 1_512_933_947_946_213_000,
                largest_step: 1_000_000_000,
                message: format!("timestamps run backwards {EVIL}"),
            }],
            read_error: Some(format!("bad record at byte 99: {EVIL}")),
            flows: 3,
        },
        hosts: vec![HostInfo {
            ip: "203.0.113.9".parse::<IpAddr>().unwrap().into(),
            macs: vec![0x00146c010203],
            first_seen: 1,
            last_seen: 2,
            packets_sent: 5,
            packets_received: 6,
            bytes_sent: 700,
            bytes_received: 800,
            seen_in_arp: false,
            notes: vec![
                HostNote {
                    stage: "web".into(),
                    key: "name".into(),
                    value: EVIL.into(),
                    observed: None,
                },
                HostNote {
                    stage: "web".into(),
                    key: "http.user-agent".into(),
                    value: EVIL.into(),
                    observed: None,
                },
            ],
        }],
        findings: vec![FindingRecord {
            stage: "suspicious".into(),
            finding: Finding::on_flow(2, "suspicious", Severity::High).summary(EVIL),
            rollup: false,
        }],
        plugins: vec![PluginRun {
            stage: "web".into(),
            name: "web".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Analyzer,
            digest: "cd".repeat(32),
            error: Some(EVIL.into()),
        }],
        queries: Vec::new(),
        notes: Vec::new(),
    }
}

fn page(config: Config, flows: Vec<Flow>) -> (String, Vec<String>) {
    let mut html = Html::checked(config).unwrap();
    html.add_flows(&flows);
    // The host hands the flows' findings back as roll-ups at the end (here one per finding).
    let rollups: Vec<FindingRecord> = flows
        .iter()
        .flat_map(|f| f.findings.iter().cloned())
        .map(|mut r| {
            r.rollup = true;
            if let pcapxray_plugin_sdk::Subject::Flow(id) = r.finding.subject {
                r.finding.flows = vec![id];
            }
            r
        })
        .collect();
    html.add_findings(&rollups);
    html.render(report())
}

#[test]
fn hostile_text_is_escaped_everywhere_and_nothing_is_loaded_from_outside() {
    let (text, _) = page(
        Config::default(),
        vec![
            flow(1, "203.0.113.9", &[("web.https", Severity::Info)]),
            flow(2, "203.0.113.9", &[]),
        ],
    );
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(!text.contains("<script>alert"), "no injected script");
    assert!(!text.contains("<img"), "no injected markup");
    assert!(text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert_eq!(
        text.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    for external in ["src=\"http", "<link", "href=\"http", "url(http", "@import"] {
        assert!(!text.contains(external), "{external}");
    }
    assert!(text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.contains("id=\"hosts-table\"") && text.contains("id=\"findings-table\""));
    assert!(text.contains("id=\"flows-table\"") && text.contains("id=\"plugins-table\""));
    assert!(text.contains("Incomplete:"), "the read error is shown");
    assert!(
        text.contains("id=\"packet-fates\""),
        "the packet-fate table is shown"
    );
    assert!(text.contains("<code>malformed-ipv4</code>"));
    assert!(text.contains("<strong>Timestamps:</strong> timestamps run backwards"));
    // The late `suspicious` finding is added to flow 2's row.
    let row = text
        .lines()
        .find(|l| l.contains("data-sort=\"2\">2</td>"))
        .unwrap();
    assert!(row.contains("suspicious"), "{row}");
    // Diagram ids are unique per inline SVG.
    assert!(text.contains("id=\"v0-arrow-https\""));
    assert!(text.contains("<th scope=\"col\""));
}

#[test]
fn tables_are_bounded_and_say_so() {
    let flows: Vec<Flow> = (0..150)
        .map(|i| {
            let sev = if i == 149 {
                Severity::High
            } else {
                Severity::Info
            };
            flow(i, "203.0.113.9", &[("web.https", sev)])
        })
        .collect();
    let (text, notes) = page(
        Config {
            max_flows: 10,
            title: Some("Case 42 <b>".into()),
            ..Config::default()
        },
        flows,
    );
    assert_eq!(
        text.matches("<tr><td class=\"num\" data-sort=\"").count(),
        10,
        "flow rows"
    );
    assert!(text.contains("Only the first 10 of 150 flows"));
    assert!(notes.iter().any(|n| n.contains("first 10 of 150 flows")));
    assert!(text.contains("<title>Case 42 &lt;b&gt;</title>"));
    // 151 findings, 100 listed (the minimum bound), the high one among them.
    assert!(text.contains("more are only counted"));
    assert!(text.contains("<span class=\"sev-high\">high</span>"));
    let listed = text.matches("<span class=\"sev-").count();
    assert_eq!(listed, 100);
}

#[test]
fn configuration_is_checked() {
    assert!(serde_json::from_str::<Config>(r#"{"max_flow": 3}"#).is_err());
    assert!(
        Html::checked(Config {
            max_flows: 2_000_000,
            ..Config::default()
        })
        .is_err()
    );
}

#[test]
fn the_hosts_table_keeps_the_hosts_with_most_traffic_however_they_stream_in() {
    use pcapxray_plugin_sdk::{HostInfo, IpAddress};
    let n = MAX_HOSTS + 500;
    let host = |i: usize| HostInfo {
        ip: IpAddress::V4(0x0a00_0000 + i as u32),
        macs: Vec::new(),
        first_seen: 0,
        last_seen: 0,
        packets_sent: 0,
        packets_received: 0,
        // Ties on purpose: every 7 hosts share a byte count, so the address decides.
        bytes_sent: ((i * 7919) % (n / 7)) as u64,
        bytes_received: 0,
        seen_in_arp: false,
        notes: Vec::new(),
    };
    let mut expected: Vec<HostInfo> = (0..n).map(host).collect();
    expected.sort_by(|a, b| {
        (b.bytes_sent + b.bytes_received)
            .cmp(&(a.bytes_sent + a.bytes_received))
            .then(std::net::IpAddr::from(a.ip).cmp(&std::net::IpAddr::from(b.ip)))
    });
    expected.truncate(MAX_HOSTS);
    let mut top = TopHosts::default();
    // In address order, in batches, as the host sends them.
    for i in 0..n {
        top.add(host(i));
    }
    assert_eq!(top.total, n);
    let kept = top.sorted();
    let ips = |v: &[HostInfo]| v.iter().map(|h| h.ip).collect::<Vec<_>>();
    assert_eq!(ips(&kept), ips(&expected));
}

#[test]
fn files_and_credentials_have_sections_and_secrets_are_only_in_the_source_encoded() {
    let mut f = flow(7, "203.0.113.9", &[]);
    f.findings.push(FindingRecord {
        stage: "files".into(),
        finding: Finding::on_flow(7, "files.http", Severity::Medium)
            .summary("HTTP download invoice.pdf.exe")
            .attr("name", EVIL)
            .attr("size", "54000")
            .attr("sha256", "5a3f00"),
        rollup: false,
    });
    f.findings.push(FindingRecord {
        stage: "credentials".into(),
        finding: Finding::on_flow(7, "credentials.http-basic", Severity::Medium)
            .summary("HTTP Basic login")
            .attr("user", "alice")
            .attr("secret", "Sup3r-S3cret!")
            .attr("secret_format", "cleartext"),
        rollup: false,
    });
    let (text, _) = page(Config::default(), vec![f]);
    assert!(text.contains("<section id=\"files\""));
    assert!(text.contains("<h2 id=\"credentials-h\">Credentials (1)</h2>"));
    assert!(text.contains("<td class=\"mono\">5a3f00</td>"));
    assert!(!text.contains("<img"), "file names are escaped");
    assert!(
        !text.contains("Sup3r-S3cret!"),
        "the secret is nowhere in plain text"
    );
    assert!(text.contains("data-secret=\"U3VwM3ItUzNjcmV0IQ==\""));
    assert!(
        text.contains("<code>secret</code>: ••••••••"),
        "masked in the findings table too"
    );
}
