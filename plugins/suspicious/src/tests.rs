//! The engine end to end on hand-made flows with a fake host: what is flagged, when, and why; what
//! the configuration accepts; and what happens when a capability is refused.

use crate::Config;
use crate::engine::Engine;
use crate::rules::tests::{flow, tcp, with_finding};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::testing::FakeHost;
use pcapxray_plugin_sdk::{Finding, Outcome, PluginError, Protocol, Severity};

/// The stand-in host: nothing granted unless a test grants it.
fn fake() -> FakeHost {
    FakeHost::new("suspicious")
}

/// Publishes a `name` fact as `stage` would.
fn name(host: &FakeHost, ip: &str, name: &str, stage: &str) {
    host.fact(ip, stage, names::host::NAME, name);
}

/// How many reverse DNS calls the engine made.
fn reverse_calls(host: &FakeHost) -> usize {
    host.calls()
        .iter()
        .filter(|c| c.starts_with("reverse_dns"))
        .count()
}

fn config(json: &str) -> Config {
    serde_json::from_str(json).unwrap()
}

fn engine(json: &str, host: &FakeHost) -> Engine<FakeHost> {
    Engine::new(config(json), host.clone()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Runs flows through analyze, then finish; returns (findings of analyze, findings of finish).
fn run(
    engine: &mut Engine<FakeHost>,
    flows: &[pcapxray_plugin_sdk::Flow],
) -> (Vec<Finding>, Vec<Finding>) {
    let mut during = Outcome::default();
    engine.analyze(flows, &mut during);
    let mut end = Outcome::default();
    engine.finish(&mut end);
    (during.findings, end.findings)
}

fn suspicious(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.tag == "suspicious").collect()
}

#[test]
fn reads_its_configuration_and_rejects_unknown_keys() {
    assert_eq!(config("{}"), Config::default());
    let c =
        config(r#"{"flag_unnamed": false, "weights": {"unnamed_peer": 0.1}, "max_candidates": 5}"#);
    assert!(!c.flag_unnamed);
    assert_eq!(c.weights.unnamed_peer, 0.1);
    assert_eq!(c.weights.intel, 0.9, "unset weights keep their default");
    assert!(serde_json::from_str::<Config>(r#"{"flag_unamed": false}"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{"weights": {"port": 0.5}}"#).is_err());
}

#[test]
fn bad_values_are_all_reported_at_once() {
    let c =
        config(r#"{"weights": {"intel": 1.5, "unnamed_peer": -0.1}, "max_candidates": 20000000}"#);
    let Err(PluginError::Config(errors)) = Engine::new(c, fake()) else {
        panic!("accepted");
    };
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["weights.intel", "weights.unnamed_peer", "max_candidates"]
    );
}

#[test]
fn files_that_are_not_granted_are_config_errors_that_say_so() {
    let c = config(r#"{"ports_file": "/data/ports.csv", "intel": ["/intel/a.txt"]}"#);
    let Err(PluginError::Config(errors)) = Engine::new(c, fake()) else {
        panic!("accepted");
    };
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].key, "ports_file");
    assert_eq!(errors[1].key, "intel.0");
    for e in &errors {
        assert!(
            e.message
                .contains("does not grant this stage the `files` capability"),
            "{}",
            e.message
        );
        assert!(e.message.contains("grants = { files = ["), "{}", e.message);
    }
}

#[test]
fn a_granted_iana_csv_replaces_the_built_in_registry() {
    let host = fake();
    host.file(
        "/data/ports.csv",
        b"Service Name,Port Number,Transport Protocol,Description\nmine,40001,tcp,My service\n",
    );
    let mut e = engine(
        r#"{"ports_file": "/data/ports.csv", "flag_unnamed": false}"#,
        &host,
    );
    let (_, end) = run(
        &mut e,
        &[tcp("203.0.113.50", 40_001), tcp("203.0.113.50", 443)],
    );
    let flagged = suspicious(&end);
    assert_eq!(flagged.len(), 1, "443 is not in this registry, 40001 is");
    assert_eq!(
        flagged[0].get("reason.port"),
        Some("443/tcp is not in the IANA registry")
    );
    let not_a_registry = fake();
    not_a_registry.file("/x", b"hello\n");
    assert!(Engine::new(config(r#"{"ports_file": "/x"}"#), not_a_registry).is_err());
}

#[test]
fn web_flows_to_named_hosts_are_not_flagged() {
    let host = fake();
    let mut e = engine("{}", &host);
    let https = with_finding(
        tcp("140.82.121.4", 443),
        "web.https",
        &[("tls.sni", "github.com")],
    );
    let http = with_finding(
        tcp("34.223.124.45", 80),
        "web.http",
        &[("http.host", "neverssl.com")],
    );
    let (during, end) = run(&mut e, &[https, http]);
    assert!(suspicious(&during).is_empty() && suspicious(&end).is_empty());
}

#[test]
fn an_unnamed_peer_is_decided_at_the_end_and_a_late_dns_name_clears_it() {
    let host = fake();
    let mut e = engine("{}", &host);
    let mut during = Outcome::default();
    e.analyze(
        &[tcp("216.165.2.56", 9001), tcp("93.184.216.34", 443)],
        &mut during,
    );
    assert!(during.findings.is_empty(), "both wait for names");
    // The DNS answer for the second one ends (and is published) after the connection.
    name(&host, "93.184.216.34", "example.com", "dns");
    let mut end = Outcome::default();
    e.finish(&mut end);
    let flagged = suspicious(&end.findings);
    assert_eq!(flagged.len(), 1);
    let f = flagged[0];
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.get("peer"), Some("216.165.2.56"));
    assert_eq!(
        f.get("reason.unnamed"),
        Some("no DNS answer, SNI or Host name in the capture; reverse DNS not granted")
    );
    assert_eq!(
        f.get("port.service"),
        Some("9001/tcp is registered as etlservicemgr")
    );
    assert_eq!(f.get("reason.port"), None);
    let logs = host.logs();
    assert_eq!(
        logs.iter()
            .filter(|(_, m)| m.contains("not granted"))
            .count(),
        1,
        "the refusal is noted once: {logs:?}"
    );
    assert!(logs.iter().any(|(_, m)| m.contains("flagged=1")));
}

/// Regression (#10): 42 of the 70 flows of tls12_web_browsing_many_sni.pcap, CDN connections that
/// began before the capture, were flagged for their missing name alone.
#[test]
fn a_connection_that_began_before_the_capture_is_not_flagged_for_its_missing_name_alone() {
    let host = fake();
    let mut e = engine("{}", &host);
    let began_before = |server, port| {
        let mut f = tcp(server, port);
        f.to_server.tcp_flags = 0x18;
        f.to_client.tcp_flags = 0x18;
        f.orientation = pcapxray_plugin_sdk::Orientation::FirstPacket;
        f
    };
    let flows = [
        began_before("151.101.22.110", 443),
        began_before("151.101.22.112", 40_001),
        tcp("151.101.22.111", 443),
    ];
    let (_, end) = run(&mut e, &flows);
    let flagged = suspicious(&end);
    // Without its handshake neither the missing name nor the odd port counts: which side is the
    // server (and so which port is the service's) was guessed.
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    // Seen from its SYN, the missing name counts.
    assert_eq!(flagged[0].get("peer"), Some("151.101.22.111"));
    assert_eq!(flagged[0].get("note"), None);
    assert!(flagged[0].get("reason.unnamed").is_some());
}

/// Found in a new user's trial (#10): FTP passive data connections (an unregistered high port on
/// the FTP server) were the most severe findings of a plain download; a lone SYN-ACK, whose
/// "client" sent nothing, was called a connection the LAN host opened.
#[test]
fn ftp_data_connections_and_flows_whose_client_sent_nothing_are_not_flagged() {
    let host = fake();
    let mut e = engine("{}", &host);
    let control = tcp("64.224.10.34", 21);
    let data = tcp("64.224.10.34", 50043);
    let mut lone_syn_ack = tcp("173.192.163.128", 80);
    lone_syn_ack.to_server.packets = 0;
    lone_syn_ack.to_server.bytes = 0;
    // Another server's odd port is still a reason.
    let odd = tcp("198.51.100.7", 50043);
    // The data connection ends before its control connection, as it does.
    let (_, end) = run(&mut e, &[data, lone_syn_ack, odd, control]);
    let flagged = suspicious(&end);
    let peers: Vec<Option<&str>> = flagged.iter().map(|f| f.get("peer")).collect();
    assert!(!peers.contains(&Some("173.192.163.128")), "{flagged:#?}");
    assert!(peers.contains(&Some("198.51.100.7")), "{flagged:#?}");
    let ftp: Vec<_> = flagged
        .iter()
        .filter(|f| f.get("peer") == Some("64.224.10.34"))
        .collect();
    // The control connection may still ask for its peer's name; the data connection asks nothing.
    assert!(
        ftp.iter().all(|f| f.get("reason.port").is_none()),
        "{ftp:#?}"
    );
    assert!(ftp.len() <= 1, "{ftp:#?}");
}

#[test]
fn an_odd_port_to_an_unnamed_peer_gives_both_reasons() {
    let host = fake();
    let mut e = engine("{}", &host);
    let (_, end) = run(&mut e, &[tcp("203.0.113.50", 40_001)]);
    let f = suspicious(&end)[0];
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.get("score"), Some("0.58"));
    assert_eq!(
        f.get("reason.port"),
        Some("40001/tcp is not in the IANA registry")
    );
    assert!(f.get("reason.unnamed").is_some());
    assert_eq!(
        f.summary,
        "tcp 192.168.1.10 → 203.0.113.50:40001: unregistered port 40001/tcp, unnamed public peer (score 0.58)"
    );
}

#[test]
fn a_named_peer_on_an_odd_port_is_flagged_for_the_port_only() {
    let host = fake();
    name(&host, "203.0.113.80", "game.example", "dns");
    let mut e = engine("{}", &host);
    let (during, end) = run(&mut e, &[tcp("203.0.113.80", 40_001)]);
    assert!(suspicious(&during).is_empty(), "decided at the end");
    let f = suspicious(&end)[0];
    assert_eq!(f.get("reason.unnamed"), None);
    assert_eq!(f.get("peer.names"), Some("game.example (dns)"));
    assert_eq!(f.get("score"), Some("0.40"));
}

#[test]
fn reverse_dns_names_peers_when_granted() {
    let host = fake();
    host.ptr("216.165.2.56", &["relay.example.net."]);
    let mut e = engine("{}", &host);
    let (_, end) = run(
        &mut e,
        &[tcp("216.165.2.56", 9001), tcp("198.51.100.23", 8443)],
    );
    let flagged = suspicious(&end);
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].get("peer"), Some("198.51.100.23"));
    assert_eq!(
        flagged[0].get("reason.unnamed"),
        Some("no DNS answer, SNI or Host name in the capture; no reverse DNS (PTR) name")
    );
    assert_eq!(reverse_calls(&host), 1, "one batch");
}

#[test]
fn past_max_candidates_flows_are_decided_when_they_end_and_a_run_note_says_so() {
    let host = fake();
    let mut e = engine(r#"{"max_candidates": 1}"#, &host);
    let (during, end) = run(
        &mut e,
        &[tcp("216.165.2.56", 9001), tcp("216.165.2.57", 9001)],
    );
    assert_eq!(suspicious(&during).len(), 1);
    assert!(
        suspicious(&during)[0]
            .get("reason.unnamed")
            .unwrap()
            .contains("max_candidates reached")
    );
    assert_eq!(suspicious(&end).len(), 1);
    let mut notes = Outcome::default();
    e.finish(&mut notes);
    let limit = notes
        .notes
        .iter()
        .find(|n| n.key == "suspicious.limit")
        .unwrap();
    assert_eq!(limit.get("decided-early"), Some("1"));
}

#[test]
fn resolvers_discovery_and_group_traffic_are_not_flagged() {
    let host = fake();
    let mut e = engine("{}", &host);
    let query =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let flows = [
        flow(
            Protocol::Udp,
            "192.168.0.6",
            17_114,
            "209.18.47.61",
            53,
            query,
            b"",
        ),
        flow(
            Protocol::Udp,
            "192.168.0.17",
            49_666,
            "255.255.255.255",
            1947,
            b"x",
            b"",
        ),
        flow(
            Protocol::Udp,
            "192.168.0.3",
            5353,
            "224.0.0.251",
            5353,
            b"x",
            b"",
        ),
        flow(
            Protocol::Udp,
            "192.168.0.1",
            1900,
            "192.168.0.3",
            50_515,
            b"x",
            b"",
        ),
        tcp("192.168.1.1", 445),
        // A LAN numbered with public addresses: NetBIOS to its subnet broadcast.
        flow(
            Protocol::Udp,
            "141.142.220.226",
            137,
            "141.142.220.255",
            137,
            b"x",
            b"",
        ),
    ];
    let (during, end) = run(&mut e, &flows);
    assert!(
        suspicious(&during).is_empty() && suspicious(&end).is_empty(),
        "{during:?} {end:?}"
    );
}

#[test]
fn intel_matches_addresses_networks_and_names_from_sni_or_dns() {
    let host = fake();
    host.file(
        "/intel/c2.csv",
        b"indicator,source\n198.51.100.23,feodo\nbad.example,abuse.ch\n",
    );
    host.file("/intel/nets.txt", b"# lab\n203.0.113.0/25 lab range\n");
    name(&host, "192.0.2.9", "cdn.bad.example", "dns");
    let mut e = engine(r#"{"intel": ["/intel/c2.csv", "/intel/nets.txt"]}"#, &host);
    let sni = with_finding(
        tcp("192.0.2.77", 443),
        "web.https",
        &[("tls.sni", "x.bad.example")],
    );
    let (during, end) = run(
        &mut e,
        &[
            tcp("198.51.100.23", 8443),
            tcp("203.0.113.50", 4444),
            sni,
            tcp("192.0.2.9", 443),
        ],
    );
    let all: Vec<&Finding> = suspicious(&during)
        .into_iter()
        .chain(suspicious(&end))
        .collect();
    let by_peer = |ip: &str| *all.iter().find(|f| f.get("peer") == Some(ip)).unwrap();
    let c2 = by_peer("198.51.100.23");
    assert_eq!(c2.severity, Severity::High);
    assert_eq!(c2.get("intel.list"), Some("/intel/c2.csv"));
    assert_eq!(c2.get("intel.line"), Some("2"));
    assert_eq!(c2.get("intel.label"), Some("feodo"));
    assert_eq!(c2.get("score"), Some("0.93"), "intel and unnamed");
    let net = by_peer("203.0.113.50");
    assert_eq!(
        net.get("reason.intel"),
        Some(
            "203.0.113.50 (matches 203.0.113.0/25) is listed in /intel/nets.txt line 2 (lab range)"
        )
    );
    assert_eq!(
        by_peer("192.0.2.77").get("intel.matched"),
        Some("x.bad.example")
    );
    assert_eq!(by_peer("192.0.2.77").get("reason.unnamed"), None);
    assert_eq!(
        by_peer("192.0.2.9").get("intel.matched"),
        Some("cdn.bad.example")
    );
    assert_eq!(all.len(), 4);
}

#[test]
fn cleartext_logins_get_their_own_medium_findings_without_passwords() {
    let host = fake();
    let mut e = engine("{}", &host);
    let ftp = flow(
        Protocol::Tcp,
        "192.168.1.10",
        50_000,
        "192.168.1.20",
        21,
        b"USER alice\r\nPASS s3cret\r\n",
        b"220 ready\r\n331 pw\r\n230 ok\r\n",
    );
    let basic = with_finding(
        tcp("192.168.1.30", 8080),
        "web.http",
        &[
            ("http.host", "printer.local"),
            ("http.basic-auth-user", "admin"),
        ],
    );
    let (during, _) = run(&mut e, &[ftp, basic]);
    let ftp = during.iter().find(|f| f.tag == "cleartext.ftp").unwrap();
    assert_eq!(ftp.severity, Severity::Medium);
    assert_eq!(ftp.get("cleartext.user"), Some("alice"));
    assert_eq!(
        ftp.summary,
        "FTP login as alice, password sent in clear text: tcp 192.168.1.10 → 192.168.1.20:21"
    );
    assert!(!format!("{during:?}").contains("s3cret"));
    let basic = during
        .iter()
        .find(|f| f.tag == "cleartext.http-basic")
        .unwrap();
    assert_eq!(basic.get("cleartext.user"), Some("admin"));
    assert!(basic.summary.contains("to printer.local"));
}

/// One login, two findings that say how they relate: the `credentials` stage's finding holds the
/// credential, this stage's `cleartext.*` verdict names it.
#[test]
fn a_cleartext_verdict_names_the_credential_finding_of_an_earlier_stage() {
    let host = fake();
    let mut e = engine("{}", &host);
    let ftp = flow(
        Protocol::Tcp,
        "192.168.1.10",
        50_000,
        "192.168.1.20",
        21,
        b"USER alice\r\nPASS s3cret\r\n",
        b"220 ready\r\n331 pw\r\n230 ok\r\n",
    );
    let ftp = with_finding(ftp, "credentials.ftp", &[("user", "alice")]);
    let (during, _) = run(&mut e, &[ftp]);
    let verdict = during.iter().find(|f| f.tag == "cleartext.ftp").unwrap();
    assert_eq!(verdict.get("cleartext.credential"), Some("credentials.ftp"));
    assert!(
        verdict
            .summary
            .ends_with("(the credential itself: the credentials.ftp finding on this flow)"),
        "{}",
        verdict.summary
    );
}

#[test]
fn switching_rules_off_leaves_only_the_others() {
    let host = fake();
    let mut e = engine(
        r#"{"flag_unnamed": false, "flag_unregistered_ports": false}"#,
        &host,
    );
    let (during, end) = run(&mut e, &[tcp("203.0.113.50", 40_001)]);
    assert!(during.is_empty() && end.is_empty());
    assert_eq!(reverse_calls(&host), 0);
}

#[test]
fn arbitrary_bytes_never_panic_the_parsers() {
    // A small xorshift generator: deterministic noise, with the separators the parsers look for.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b",\"\n\r\t#/:-.0123456789abcdefUSERPASS LOGIN AUTH*+OK220\xff\xfb\xfa\xf0\x00";
    for round in 0..2000 {
        let len = (next() % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if round % 2 == 0 {
                    alphabet[(r % alphabet.len() as u64) as usize]
                } else {
                    r as u8
                }
            })
            .collect();
        let _ = crate::registry::Registry::parse(&bytes);
        let _ = crate::registry::Registry::parse_iana_csv(&bytes);
        let mut intel = crate::intel::Intel::default();
        intel.add_list("noise.csv", &bytes);
        intel.add_list("noise.txt", &bytes);
        let _ = intel.match_name(&String::from_utf8_lossy(&bytes));
        let _ = crate::cleartext::detect(&bytes, &bytes[..len / 2], 21);
        let _ = crate::cleartext::detect(&bytes, b"", 110);
        let _ = crate::cleartext::detect(&bytes, b"* OK\r\n", 143);
        let _ = crate::cleartext::detect(&bytes, b"220 x\r\n", 25);
        let _ = crate::rules::dns_name(&String::from_utf8_lossy(&bytes));
    }
}

/// Regression (#10): the demo's ping of 8.8.8.8 and icmp_echo_5_pings.pcap were flagged for an
/// unnamed peer.
#[test]
fn an_icmp_echo_alone_is_never_a_finding() {
    let host = fake();
    let mut e = engine("{}", &host);
    let mut ping = tcp("8.8.8.8", 0);
    ping.protocol = Protocol::Icmp;
    ping.icmp_type = 8;
    let (during, end) = run(&mut e, &[ping]);
    assert!(suspicious(&during).is_empty() && suspicious(&end).is_empty());
}

/// Regression (#10): the demo's port-4444 session was only a Low "unnamed peer": 4444 is in the
/// IANA registry.
#[test]
fn a_notable_port_is_a_medium_reason_with_its_source() {
    let host = fake();
    name(&host, "203.0.113.80", "c2.example", "dns");
    let mut e = engine("{}", &host);
    let (_, end) = run(
        &mut e,
        &[tcp("203.0.113.80", 4444), tcp("203.0.113.50", 4444)],
    );
    let flagged = suspicious(&end);
    assert_eq!(flagged.len(), 2);
    assert_eq!(flagged[0].severity, Severity::Medium);
    assert_eq!(flagged[0].get("score"), Some("0.50"));
    assert!(
        flagged[0]
            .get("reason.notable-port")
            .unwrap()
            .starts_with("4444/tcp: Metasploit")
    );
    assert!(
        flagged[0]
            .get("notable-port.source")
            .unwrap()
            .contains("Metasploit")
    );
    assert_eq!(flagged[0].get("reason.port"), None);
    assert!(
        flagged[0].get("port.service").is_some(),
        "the registry's name is context"
    );
    // Unnamed as well: 0.65, still Medium.
    assert_eq!(flagged[1].get("score"), Some("0.65"));
    assert_eq!(flagged[1].severity, Severity::Medium);
    // Proxy ports count only towards the internet.
    let (_, end) = run(
        &mut engine("{}", &host),
        &[flow(
            Protocol::Tcp,
            "192.168.1.10",
            50_000,
            "192.168.1.1",
            3128,
            b"",
            b"",
        )],
    );
    assert!(suspicious(&end).is_empty());
    let mut off = engine(r#"{"flag_notable_ports": false}"#, &host);
    let (_, end) = run(&mut off, &[tcp("203.0.113.80", 4444)]);
    assert!(suspicious(&end).is_empty());
}

#[test]
fn a_cleartext_protocol_on_an_odd_port_is_a_reason() {
    let host = fake();
    name(&host, "203.0.113.80", "chat.example", "dns");
    let mut e = engine("{}", &host);
    let irc = flow(
        Protocol::Tcp,
        "192.168.1.10",
        50_000,
        "203.0.113.80",
        443,
        b"NICK bot\r\nUSER bot 0 * :bot\r\n",
        b"",
    );
    let irc_home = flow(
        Protocol::Tcp,
        "192.168.1.10",
        50_001,
        "203.0.113.80",
        6667,
        b"NICK bot\r\nUSER bot 0 * :bot\r\n",
        b"",
    );
    let (_, end) = run(&mut e, &[irc, irc_home]);
    let flagged = suspicious(&end);
    assert_eq!(flagged.len(), 2, "{flagged:#?}");
    assert_eq!(
        flagged[0].get("reason.cleartext-port"),
        Some("IRC in clear text on 443/tcp, a port IRC is not served on")
    );
    assert_eq!(flagged[0].severity, Severity::Low);
    // IRC on 6667 is IRC where it belongs, but 6667 is a notable port.
    assert_eq!(flagged[1].get("reason.cleartext-port"), None);
    assert!(
        flagged[1]
            .get("reason.notable-port")
            .unwrap()
            .contains("IRC")
    );
}

/// Regression (#10): the demo's 20 beacon connections were 20 suspicious findings beside the one
/// beacon finding; a Tor relay flow was flagged beside its tor.relay finding.
#[test]
fn flows_that_tor_or_beacon_explained_are_not_flagged_again() {
    let host = fake();
    let mut e = engine("{}", &host);
    let relay = with_finding(tcp("193.11.164.243", 9001), "tor.relay", &[]);
    let beacons: Vec<_> = (0..3).map(|_| tcp("198.51.100.23", 8443)).collect();
    let other = tcp("198.51.100.24", 8443);
    let mut flows = vec![relay];
    flows.extend(beacons);
    flows.push(other);
    let mut during = Outcome::default();
    e.analyze(&flows, &mut during);
    // `beacon` concludes in its own finish, before this stage's.
    host.fact(
        "192.168.1.10",
        "beacon",
        names::beacon::PEER,
        "198.51.100.23:8443/tcp",
    );
    let mut end = Outcome::default();
    e.finish(&mut end);
    let flagged = suspicious(&end.findings);
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    assert_eq!(flagged[0].get("peer"), Some("198.51.100.24"));
    let logs = host.logs();
    assert!(
        logs.iter().any(|(_, m)| m.contains("explained=4")),
        "{logs:?}"
    );
    // An intel match is news even on an explained flow.
    let intel = fake();
    intel.file("/i.txt", b"193.11.164.243\n");
    let mut e = engine(r#"{"intel": ["/i.txt"]}"#, &intel);
    let relay = with_finding(tcp("193.11.164.243", 9001), "tor.relay", &[]);
    let (_, end) = run(&mut e, &[relay]);
    assert_eq!(suspicious(&end).len(), 1);
}

/// An attempt the server never answered: a SYN and nothing back.
fn unanswered(mut f: pcapxray_plugin_sdk::Flow) -> pcapxray_plugin_sdk::Flow {
    f.to_client.packets = 0;
    f.to_client.bytes = 0;
    f.to_client.tcp_flags = 0;
    f.to_server.tcp_flags = 0x02;
    f
}

#[test]
fn an_unanswered_attempt_is_no_session_unnamed_and_unregistered_do_not_count_and_a_notable_port_weighs_half()
 {
    let host = fake();
    let mut e = engine("{}", &host);
    // An unnamed internet peer on an unregistered port, and one on 4444, neither answering.
    let (during, end) = run(
        &mut e,
        &[
            unanswered(tcp("198.51.100.23", 47_123)),
            unanswered(tcp("198.51.100.24", 4444)),
        ],
    );
    let flagged: Vec<&Finding> = suspicious(&during)
        .into_iter()
        .chain(suspicious(&end))
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0].get("peer"), Some("198.51.100.24"));
    assert_eq!(flagged[0].severity, Severity::Low);
    assert!(flagged[0].summary.contains("never answered"));
}

#[test]
fn an_unnamed_internet_client_of_a_local_server_is_not_a_reason() {
    let host = fake();
    let mut e = engine("{}", &host);
    // 203.0.113.7 connects to a LAN web server and is answered: an ordinary visitor.
    let visitor = flow(
        Protocol::Tcp,
        "203.0.113.7",
        51_000,
        "192.168.1.10",
        80,
        b"GET / HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    );
    let (during, end) = run(&mut e, &[visitor]);
    assert!(suspicious(&during).is_empty() && suspicious(&end).is_empty());
}
