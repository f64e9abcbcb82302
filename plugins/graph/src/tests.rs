//! Unit tests of the plugin's own decisions (configuration, which files, Graphviz and its fallback),
//! with a stand-in host; the diagrams themselves are tested in the SDK and end to end.

use super::*;
use pcapxray_plugin_sdk::testing::{FakeHost, FlowBuilder};
use pcapxray_plugin_sdk::{
    CaptureInfo, Direction, Finding, FindingRecord, HostInfo, HostNote, Protocol, Severity,
};
use std::net::IpAddr;

/// The stand-in host: nothing granted unless a test grants it.
fn fake() -> FakeHost {
    FakeHost::new("graph")
}

/// The messages logged at `level`.
fn logged(host: &FakeHost, level: LogLevel) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter(|(l, _)| *l == level)
        .map(|(_, m)| m)
        .collect()
}

fn config(json: &str) -> Config {
    serde_json::from_str(json).unwrap()
}

fn flow(id: u64, client: &str, server: &str, port: u16, tags: &[&str]) -> Flow {
    let dir = Direction {
        packets: 3,
        bytes: 300,
        payload_bytes: 0,
        first_seen: id * 1_000_000_000,
        last_seen: id * 1_000_000_000 + 1,
        tcp_flags: 0,
        ttl: 64,
        payload: Vec::new(),
        datagrams: Vec::new(),
        payload_truncated: false,
    };
    let mut flow = FlowBuilder::new(Protocol::Tcp, (client, 50000), (server, port))
        .id(id)
        .to_server(dir.clone())
        .to_client(dir);
    for t in tags {
        flow = flow.finding(FindingRecord {
            stage: "web".into(),
            finding: Finding::on_flow(id, *t, Severity::Info),
            rollup: false,
        });
    }
    flow.build()
}

fn report(findings: Vec<Finding>) -> Report {
    let host = |ip: &str, name: Option<&str>| HostInfo {
        ip: ip.parse::<IpAddr>().unwrap().into(),
        macs: Vec::new(),
        first_seen: 0,
        last_seen: 0,
        packets_sent: 1,
        packets_received: 1,
        bytes_sent: 1,
        bytes_received: 1,
        seen_in_arp: false,
        notes: name
            .map(|n| HostNote {
                stage: "web".into(),
                key: "name".into(),
                value: n.into(),
                observed: None,
            })
            .into_iter()
            .collect(),
    };
    Report {
        capture: CaptureInfo {
            file: "/cases/42/office.pcap".into(),
            size: 0,
            sha256: String::new(),
            format: "pcap".into(),
            format_details: String::new(),
            link_types: Vec::new(),
            packets: 0,
            bytes: 0,
            first_packet: 0,
            last_packet: 0,
            packet_fates: Vec::new(),
            timestamp_anomalies: Vec::new(),
            read_error: None,
            flows: 3,
        },
        hosts: vec![
            host("192.168.1.10", None),
            host("203.0.113.5", Some("www.example.com")),
        ],
        findings: findings
            .into_iter()
            .map(|finding| FindingRecord {
                stage: "suspicious".into(),
                finding,
                rollup: false,
            })
            .collect(),
        plugins: Vec::new(),
        queries: Vec::new(),
        notes: Vec::new(),
    }
}

/// The diagrams the plugin writes (without `graph/classes.json`, see [`run_all`]).
fn run(json: &str, fake: FakeHost) -> Vec<Artifact> {
    let mut out = run_all(json, fake);
    assert_eq!(out.remove(0).name, "graph/classes.json");
    out
}

/// Everything the plugin writes.
fn run_all(json: &str, fake: FakeHost) -> Vec<Artifact> {
    let mut plugin = GraphOutput::checked(config(json), Box::new(fake)).unwrap();
    plugin
        .consume(vec![
            flow(1, "192.168.1.10", "203.0.113.5", 443, &["web.https"]),
            flow(2, "192.168.1.10", "203.0.113.5", 80, &["web.http"]),
            flow(3, "192.168.1.10", "198.51.100.3", 5228, &[]),
        ])
        .unwrap();
    plugin
        .finish(report(vec![
            Finding::on_flow(3, "suspicious", Severity::Medium),
            Finding::on_host(
                "192.168.1.10".parse::<IpAddr>().unwrap(),
                "beacon",
                Severity::Low,
            )
            .attr("beacon.server", "198.51.100.3"),
        ]))
        .unwrap()
}

fn names(artifacts: &[Artifact]) -> Vec<&str> {
    artifacts.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn every_view_with_conversations_gets_a_dot_and_an_svg() {
    let out = run("{}", fake());
    assert_eq!(
        names(&out),
        [
            "graph/all.dot",
            "graph/all.svg",
            "graph/web.dot",
            "graph/web.svg",
            "graph/http.dot",
            "graph/http.svg",
            "graph/https.dot",
            "graph/https.svg",
            "graph/suspicious.dot",
            "graph/suspicious.svg",
            "graph/beacon.dot",
            "graph/beacon.svg",
        ]
    );
    let all_svg = String::from_utf8(out[1].bytes.clone()).unwrap();
    assert!(all_svg.starts_with("<svg "));
    assert!(
        all_svg.contains("office.pcap"),
        "titled by the capture's file name"
    );
    assert!(!all_svg.contains("/cases/42"), "not its folders");
    let suspicious = String::from_utf8(out[8].bytes.clone()).unwrap();
    assert!(suspicious.contains("suspicious: 5228, 1 flow"));
    let beacon = String::from_utf8(out[10].bytes.clone()).unwrap();
    assert!(beacon.contains("digraph \"pcapxray beacon\""));
    assert!(beacon.contains("198.51.100.3"));
}

#[test]
fn classes_json_gives_every_flow_the_class_and_views_of_its_diagram_edge() {
    // Flow 3 is "other" when it passes and turns suspicious by a finding at the end; the beacon
    // finding about its client names its server, so the pair is in the beacon view too.
    let out = run_all(r#"{"views": ["all"]}"#, fake());
    assert_eq!(out[0].name, "graph/classes.json");
    let v: serde_json::Value = serde_json::from_slice(&out[0].bytes).unwrap();
    let classes: Vec<&str> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["tor", "suspicious", "http", "https", "dns", "icmp", "other"]
    );
    assert_eq!(v["classes"][3]["color"], Class::Https.color());
    let mut flows: Vec<(u64, String, Vec<String>)> = Vec::new();
    for c in v["conversations"].as_array().unwrap() {
        let views: Vec<String> = serde_json::from_value(c["views"].clone()).unwrap();
        for id in c["flows"].as_array().unwrap() {
            flows.push((
                id.as_u64().unwrap(),
                c["class"].as_str().unwrap().into(),
                views.clone(),
            ));
        }
    }
    flows.sort();
    let expected: Vec<(u64, String, Vec<String>)> = vec![
        (1, "https".into(), vec!["web".into(), "https".into()]),
        (2, "http".into(), vec!["web".into(), "http".into()]),
        (
            3,
            "suspicious".into(),
            vec!["suspicious".into(), "beacon".into()],
        ),
    ];
    assert_eq!(flows, expected);
    assert_eq!(v["untracked_flows"], 0);
}

#[test]
fn asked_for_views_are_written_and_empty_ones_are_explained() {
    let fake = fake();
    let out = run(
        r#"{"views": ["tor", "https", "all", "https"]}"#,
        fake.clone(),
    );
    assert_eq!(
        names(&out),
        [
            "graph/https.dot",
            "graph/https.svg",
            "graph/all.dot",
            "graph/all.svg"
        ]
    );
    let info = logged(&fake, LogLevel::Info);
    assert!(
        info.iter()
            .any(|m| m.contains("View `tor` has no conversations")),
        "{info:?}"
    );
}

#[test]
fn graphviz_draws_when_granted_and_the_builtin_renderer_steps_in_when_not() {
    let granted = fake().grant_graphviz(b"<svg>from graphviz</svg>");
    let out = run(
        r#"{"renderer": "graphviz", "engine": "sfdp", "png": true, "views": ["all"]}"#,
        granted.clone(),
    );
    assert_eq!(
        names(&out),
        ["graph/all.png", "graph/all.dot", "graph/all.svg"]
    );
    assert_eq!(out[2].bytes, b"<svg>from graphviz</svg>");
    assert_eq!(granted.calls(), ["graphviz sfdp/svg", "graphviz sfdp/png"]);

    let fake = fake();
    let out = run(r#"{"renderer": "graphviz", "png": true}"#, fake.clone());
    assert!(!names(&out).iter().any(|n| n.ends_with(".png")));
    assert!(
        String::from_utf8_lossy(&out[1].bytes).contains("class=\"node\""),
        "built-in SVG"
    );
    assert_eq!(fake.calls().len(), 1, "asked once, not once per view");
    let warnings = logged(&fake, LogLevel::Warn);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("not granted") && warnings[0].contains("built-in renderer"));
}

#[test]
fn filters_keep_the_conversations_asked_for() {
    let out = run(r#"{"to": ["203.0.113.0/24"], "views": ["all"]}"#, fake());
    let dot = String::from_utf8(out[0].bytes.clone()).unwrap();
    assert!(dot.contains("203.0.113.5"));
    assert!(!dot.contains("198.51.100.3"));
}

#[test]
fn bad_configuration_names_the_key() {
    for (json, key) in [
        (r#"{"views": ["../etc"]}"#, "views.0"),
        (r#"{"from": ["10.0.0.0/8", "nope"]}"#, "from.1"),
        (r#"{"to": ["10.0.0.0/99"]}"#, "to.0"),
        (r#"{"max_internet_nodes": 0}"#, "max_internet_nodes"),
        (r#"{"engine": "rm -rf"}"#, "engine"),
    ] {
        match GraphOutput::checked(config(json), Box::new(fake())) {
            Err(PluginError::Config(errors)) => assert_eq!(errors[0].key, key, "{json}"),
            Err(e) => panic!("{json}: {e:?}"),
            Ok(_) => panic!("{json} was accepted"),
        }
    }
    assert!(serde_json::from_str::<Config>(r#"{"colour": 1}"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{"renderer": "dot"}"#).is_err());
}

/// Issue 14 point 7: a sweep of 3,000 local hosts by one scanner (and 60 internet servers) used to
/// give an `all.svg` over 8,000 px tall (100 local nodes in one column). Every SVG is now within
/// `MAX_SVG_PX`, and each group of the overview links to its detail file, which exists.
#[test]
fn a_sweep_gives_bounded_svgs_and_a_detail_file_per_group() {
    let mut plugin = GraphOutput::checked(config("{}"), Box::new(fake())).unwrap();
    let mut flows = Vec::new();
    for i in 0..3000u64 {
        let target = format!("10.{}.{}.{}", i / 1000, (i / 100) % 10, 1 + i % 100);
        flows.push(flow(i, "10.9.9.9", &target, 445, &[]));
    }
    for i in 0..60u64 {
        let server = format!("198.51.{i}.1");
        flows.push(flow(10_000 + i, "10.9.9.9", &server, 443, &["web.https"]));
    }
    plugin.consume(flows).unwrap();
    let files = plugin.finish(report(Vec::new())).unwrap();
    let svg_size = |svg: &str| -> (f64, f64) {
        let attr = |name: &str| -> f64 {
            let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            svg[start..][..svg[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        (attr("width"), attr("height"))
    };
    let mut overview = String::new();
    for a in files.iter().filter(|a| a.name.ends_with(".svg")) {
        let svg = String::from_utf8(a.bytes.clone()).unwrap();
        let (w, h) = svg_size(&svg);
        assert!(w <= MAX_SVG_PX && h <= MAX_SVG_PX, "{}: {w} × {h}", a.name);
        if a.name == "graph/all.svg" {
            overview = svg;
        }
    }
    let links: Vec<&str> = overview
        .split("<a href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(!links.is_empty(), "groups link to their details");
    for link in links {
        let name = format!("graph/{link}");
        assert!(files.iter().any(|a| a.name == name), "{name} is written");
        let dot = name.replace(".svg", ".dot");
        assert!(files.iter().any(|a| a.name == dot), "{dot} is written");
    }
}
