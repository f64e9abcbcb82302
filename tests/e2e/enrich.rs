//! Reverse DNS and RDAP go through the host's capabilities, against real servers this test starts on
//! 127.0.0.1; without the grants, the same pipeline sends nothing (the servers see no query).

use crate::support::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A DNS server on 127.0.0.1 that answers PTR queries from a table and counts what it is asked.
struct DnsServer {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    fn start(table: &[(&str, &str)]) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let table: Vec<(String, String)> = table
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let log = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(q) = query.queries.first().cloned() else {
                    continue;
                };
                let name = q.name().to_utf8();
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", q.query_type(), name));
                let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
                answer.metadata.message_type = MessageType::Response;
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                answer.add_query(q.clone());
                let hit = table
                    .iter()
                    .find(|(arpa, _)| name.trim_end_matches('.') == arpa);
                match (q.query_type(), hit) {
                    (RecordType::PTR, Some((_, target))) => {
                        let ptr = RData::PTR(PTR(Name::from_ascii(format!("{target}.")).unwrap()));
                        answer.add_answer(Record::from_rdata(q.name().clone(), 300, ptr));
                    }
                    _ => answer.metadata.response_code = ResponseCode::NXDomain,
                }
                let _ = socket.send_to(&answer.to_vec().unwrap(), peer);
            }
        });
        DnsServer { port, asked }
    }
}

/// An HTTP server on 127.0.0.1 answering RDAP `/ip/<address>` requests with a fixed owner.
struct RdapServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl RdapServer {
    fn start() -> RdapServer {
        RdapServer::start_slow(std::time::Duration::ZERO)
    }

    /// Answers each request after `delay`.
    fn start_slow(delay: std::time::Duration) -> RdapServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(delay);
                let ip = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .trim_start_matches("/ip/")
                    .to_string();
                let body = serde_json::json!({
                    "objectClassName": "ip network",
                    "handle": format!("NET-TEST-{ip}"),
                    "name": "TEST-NET",
                    "country": "US",
                    "cidr0_cidrs": [{"v4prefix": ip, "length": 32}],
                    "entities": [{"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "Example Research Network"]]]}]
                })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        RdapServer { port, requests }
    }
}

fn pipeline(dns: Option<u16>, rdap: Option<u16>) -> String {
    let mut grants = Vec::new();
    if let Some(port) = dns {
        grants.push(format!(
            "dns = {{ nameservers = [\"127.0.0.1:{port}\"], timeout_ms = 2000 }}"
        ));
    }
    if let Some(port) = rdap {
        grants.push(format!(
            "whois = {{ url = \"http://127.0.0.1:{port}/\", timeout_ms = 2000 }}"
        ));
    }
    let grants = if grants.is_empty() {
        String::new()
    } else {
        format!("grants = {{ {} }}\n", grants.join(", "))
    };
    format!("[[analyzer]]\nplugin = \"enrich\"\n{grants}[[output]]\nplugin = \"json\"\n")
}

fn host<'a>(report: &'a serde_json::Value, ip: &str) -> &'a serde_json::Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ip"] == ip)
        .expect("host in report")
}

#[test]
fn granted_reverse_dns_and_rdap_name_the_hosts_and_every_query_is_recorded() {
    let dns = DnsServer::start(&[("43.187.150.192.in-addr.arpa", "www.bro.org")]);
    let rdap = RdapServer::start();
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline(Some(dns.port), Some(rdap.port)),
        &testdata("http_get_bro_org.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    // Both hosts of the capture are public: both are asked about, over the real protocols.
    let mut asked = dns.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            "PTR 43.187.150.192.in-addr.arpa.",
            "PTR 5.228.142.141.in-addr.arpa."
        ]
    );
    assert_eq!(rdap.requests.load(Ordering::SeqCst), 2);
    let server = host(&report, "192.150.187.43");
    assert_eq!(server["names"], serde_json::json!(["www.bro.org"]));
    let notes: Vec<(&str, &str)> = server["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["key"].as_str().unwrap(), n["value"].as_str().unwrap()))
        .collect();
    assert!(
        notes.contains(&("whois.org", "Example Research Network")),
        "{notes:?}"
    );
    assert!(
        notes.contains(&("whois.cidr", "192.150.187.43/32")),
        "{notes:?}"
    );
    let queries = report["queries"].as_array().unwrap();
    let kinds: Vec<&str> = queries
        .iter()
        .map(|q| q["capability"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "dns.reverse").count(),
        2,
        "{queries:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "whois").count(),
        2,
        "{queries:?}"
    );
    let ptr = queries
        .iter()
        .find(|q| q["query"] == "192.150.187.43" && q["capability"] == "dns.reverse")
        .unwrap();
    assert_eq!(ptr["answer"], "www.bro.org");
    assert_eq!(ptr["server"], format!("127.0.0.1:{}", dns.port));
}

/// Time a plugin spends waiting for answers is the network's: a stage whose every RDAP answer takes
/// longer than its whole call time limit still finishes, and names the owners.
#[test]
fn waiting_for_slow_answers_does_not_count_against_the_call_time_limit() {
    let rdap = RdapServer::start_slow(std::time::Duration::from_millis(600));
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(None, Some(rdap.port)).replace(
        "plugin = \"enrich\"\n",
        "plugin = \"enrich\"\nlimits = { call_timeout_ms = 400 }\n",
    );
    let run = run_pipeline(dir.path(), &pipeline, &testdata("http_get_bro_org.pcap"));
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(rdap.requests.load(Ordering::SeqCst), 2);
    let report = run.report();
    let notes = &host(&report, "192.150.187.43")["notes"];
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["key"] == "whois.org" && n["value"] == "Example Research Network"),
        "{notes}"
    );
}

#[test]
fn without_the_grants_the_same_pipeline_sends_no_query() {
    let dns = DnsServer::start(&[("43.187.150.192.in-addr.arpa", "www.bro.org")]);
    let rdap = RdapServer::start();
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline(None, None),
        &testdata("http_get_bro_org.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert!(dns.asked.lock().unwrap().is_empty());
    assert_eq!(rdap.requests.load(Ordering::SeqCst), 0);
    assert_eq!(report["queries"], serde_json::json!([]));
    assert_eq!(
        host(&report, "192.150.187.43")["names"],
        serde_json::json!([])
    );
    assert!(
        run.stderr.contains("No reverse DNS lookups"),
        "{}",
        run.stderr
    );
}

/// The notes of `report` whose key is `key`.
fn run_note<'a>(report: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == key)
}

/// More hosts than one batch of lookups (64) and than `max_hosts`: every reverse DNS query is made
/// before any RDAP query, each capability asks exactly `max_hosts` hosts and says how many more
/// qualified; with reverse DNS not granted, RDAP still asks its `max_hosts` (the walk of the host
/// table stops early only when nothing is granted).
#[test]
fn more_hosts_than_a_batch_are_asked_in_order_up_to_max_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("many.pcap");
    pcapgen::behaviours::udp_many_hosts(150)
        .unwrap()
        .write_file(&capture)
        .unwrap();
    let limited = |p: String| {
        p.replace(
            "plugin = \"enrich\"\n",
            "plugin = \"enrich\"\nconfig = { max_hosts = 100 }\n",
        )
    };

    let dns = DnsServer::start(&[]);
    let rdap = RdapServer::start();
    let both = dir.path().join("both");
    std::fs::create_dir(&both).unwrap();
    let run = run_pipeline(
        &both,
        &limited(pipeline(Some(dns.port), Some(rdap.port))),
        &capture,
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(dns.asked.lock().unwrap().len(), 100);
    assert_eq!(rdap.requests.load(Ordering::SeqCst), 100);
    let kinds: Vec<&str> = report["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["capability"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 200, "{kinds:?}");
    assert!(
        kinds[..100].iter().all(|k| *k == "dns.reverse")
            && kinds[100..].iter().all(|k| *k == "whois"),
        "{kinds:?}"
    );
    for key in ["enrich.dns", "enrich.whois"] {
        let note = run_note(&report, key).unwrap_or_else(|| panic!("{key}: {report}"));
        assert_eq!(note["attributes"]["asked"], "100", "{note}");
        let limit = run_note(&report, &format!("{key}.limit")).expect("limit note");
        assert_eq!(limit["attributes"]["qualified"], "150", "{limit}");
        assert_eq!(limit["attributes"]["max_hosts"], "100", "{limit}");
    }

    let dns = DnsServer::start(&[]);
    let rdap = RdapServer::start();
    let only_rdap = dir.path().join("rdap");
    std::fs::create_dir(&only_rdap).unwrap();
    let run = run_pipeline(
        &only_rdap,
        &limited(pipeline(None, Some(rdap.port))),
        &capture,
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert!(dns.asked.lock().unwrap().is_empty());
    assert_eq!(rdap.requests.load(Ordering::SeqCst), 100);
    assert!(
        run.stderr.contains("No reverse DNS lookups"),
        "{}",
        run.stderr
    );
    assert!(run_note(&report, "enrich.dns").is_none(), "{report}");
    let note = run_note(&report, "enrich.whois").expect("whois note");
    assert_eq!(note["attributes"]["asked"], "100", "{note}");
    assert_eq!(
        run_note(&report, "enrich.whois.limit").unwrap()["attributes"]["qualified"],
        "150"
    );
}
