//! One flow in, one verdict out: which name protocol the flow speaks (by its ports, or — strictly —
//! by its bytes), every message in it parsed, and from them the flow's finding, the name → address
//! bindings for passive DNS, and what the anomaly counters need. Free of host calls, so the whole
//! per-flow decision is tested natively.

use crate::message::{self, Binding, Parsed};
use crate::nbns;
use crate::text;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, Flow, Severity, Timestamp};
use std::net::IpAddr;

/// The name protocols this plugin reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Unicast DNS (port 53, or recognised on another port).
    Dns,
    /// Multicast DNS (UDP 5353).
    Mdns,
    /// Link-local multicast name resolution (5355).
    Llmnr,
    /// NetBIOS name service (UDP 137).
    Nbns,
}

impl Proto {
    /// The finding tag.
    pub fn tag(self) -> &'static str {
        match self {
            Proto::Dns => names::dns::TAG,
            Proto::Mdns => names::dns::MDNS,
            Proto::Llmnr => names::dns::LLMNR,
            Proto::Nbns => names::dns::NBNS,
        }
    }

    /// The name used in summaries.
    pub fn label(self) -> &'static str {
        match self {
            Proto::Dns => "DNS",
            Proto::Mdns => "mDNS",
            Proto::Llmnr => "LLMNR",
            Proto::Nbns => "NetBIOS-NS",
        }
    }

    fn by_port(port: u16) -> Option<Proto> {
        match port {
            53 => Some(Proto::Dns),
            5353 => Some(Proto::Mdns),
            5355 => Some(Proto::Llmnr),
            137 => Some(Proto::Nbns),
            _ => None,
        }
    }
}

/// Limits on what one finding lists.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Answer records listed in `dns.answers`.
    pub max_answers: usize,
    /// Names listed in `dns.queries`.
    pub max_queries: usize,
    /// Recognise DNS on ports other than 53/5353/5355/137 (strictly).
    pub any_port: bool,
}

/// A name → address binding with the time it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The binding.
    pub binding: Binding,
    /// When the message carrying it was sent (first packet of its direction).
    pub observed: Timestamp,
}

/// What one flow showed.
#[derive(Debug)]
pub struct Observation {
    /// The protocol.
    pub proto: Proto,
    /// The finding on the flow.
    pub finding: Finding,
    /// Names learnt from answers, announcements and registrations.
    pub bindings: Vec<Seen>,
    /// The address that answered unicast DNS queries, if any.
    pub resolver: Option<IpAddr>,
    /// The querier and the (name, type) of every unicast DNS query it sent, for the anomaly counters.
    pub queries: Vec<(String, String)>,
    /// Names answered with NXDOMAIN (unicast DNS).
    pub nxdomain: Vec<String>,
}

/// One parsed message and who sent it.
struct Sent {
    message: Parsed,
    by_client: bool,
}

/// Looks at one flow. `None` when it carries no DNS-family traffic.
pub fn observe(flow: &Flow, limits: Limits) -> Option<Observation> {
    if !flow.is_udp() && !flow.is_tcp() {
        return None;
    }
    let by_port = Proto::by_port(flow.server.port).or(Proto::by_port(flow.client.port));
    let proto = match by_port {
        Some(Proto::Nbns) if !flow.is_udp() => return None,
        Some(p) => p,
        None if limits.any_port => Proto::Dns,
        None => return None,
    };
    let (messages, failures) = read_messages(flow, proto);
    if by_port.is_none() && !looks_like_dns(&messages, failures) {
        return None;
    }
    if messages.is_empty() {
        return malformed(flow, proto, failures);
    }
    Some(build(flow, proto, &messages, failures, limits))
}

/// Parses every message of both directions. Returns them and how many could not be parsed.
fn read_messages(flow: &Flow, proto: Proto) -> (Vec<Sent>, usize) {
    let mut out = Vec::new();
    let mut failures = 0;
    for (direction, by_client, sender) in [
        (&flow.to_server, true, flow.client_ip()),
        (&flow.to_client, false, flow.server_ip()),
    ] {
        let parse = |bytes: &[u8]| match proto {
            Proto::Nbns => nbns::parse(bytes, sender),
            _ => message::parse_dns(bytes),
        };
        let mut add = |bytes: &[u8], complete: bool| match parse(bytes) {
            Some(message) => out.push(Sent { message, by_client }),
            // A message cut by the payload prefix is not a malformed one.
            None if complete => failures += 1,
            None => {}
        };
        if flow.is_tcp() {
            // DNS over TCP: each message is preceded by its length (RFC 1035 §4.2.2).
            let mut rest: &[u8] = &direction.payload;
            while let [hi, lo, tail @ ..] = rest {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                match tail.get(..len) {
                    Some(frame) => add(frame, true),
                    None => {
                        if !direction.payload_truncated {
                            failures += 1;
                        }
                        break;
                    }
                }
                rest = tail.get(len..).unwrap_or_default();
            }
        } else {
            let count = direction.datagrams.len();
            for (i, datagram) in direction.messages().enumerate() {
                let last_cut = direction.payload_truncated && i + 1 == count;
                if !datagram.is_empty() {
                    add(datagram, !last_cut);
                }
            }
        }
    }
    (out, failures)
}

/// The strict test for DNS on a port that does not announce it: every message parses, the client
/// asked and the server answered, each message has exactly one question of an ordinary opcode with a
/// host-like name and a sane number of records, and every response repeats the question of a query
/// with the same id.
fn looks_like_dns(messages: &[Sent], failures: usize) -> bool {
    if failures > 0 || messages.is_empty() {
        return false;
    }
    let sane = messages.iter().all(|s| {
        let m = &s.message;
        m.opcode == 0
            && m.questions.len() == 1
            && m.records <= 64
            && m.response != s.by_client
            && m.questions
                .iter()
                .all(|q| text::host_name(&q.name).is_some())
    });
    let queries: Vec<&Parsed> = messages
        .iter()
        .filter(|s| !s.message.response)
        .map(|s| &s.message)
        .collect();
    let responses: Vec<&Parsed> = messages
        .iter()
        .filter(|s| s.message.response)
        .map(|s| &s.message)
        .collect();
    sane && !queries.is_empty()
        && !responses.is_empty()
        && responses.iter().all(|r| {
            queries
                .iter()
                .any(|q| q.id == r.id && q.questions == r.questions)
        })
}

/// Port 53 traffic of which not one message parses: worth a look (tunnels and VPNs use port 53).
fn malformed(flow: &Flow, proto: Proto, failures: usize) -> Option<Observation> {
    if proto != Proto::Dns || failures == 0 || !flow.is_udp() {
        return None;
    }
    let finding = Finding::on_flow(flow.id, names::dns::MALFORMED, Severity::Low)
        .summary(format!(
            "Traffic on UDP port 53 that does not parse as DNS ({failures} datagrams)"
        ))
        .attr(
            "reason",
            "no datagram of this port 53 flow is a DNS message; tunnels and VPNs use port 53 to pass firewalls",
        )
        .attr(names::dns::MALFORMED_MESSAGES, failures.to_string())
        .confidence(60);
    Some(Observation {
        proto,
        finding,
        bindings: Vec::new(),
        resolver: None,
        queries: Vec::new(),
        nxdomain: Vec::new(),
    })
}

/// Adds `item` to `list` unless it is there.
fn push_distinct<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn build(
    flow: &Flow,
    proto: Proto,
    messages: &[Sent],
    failures: usize,
    limits: Limits,
) -> Observation {
    let mut names: Vec<String> = Vec::new();
    let mut first_question: Option<(String, String)> = None;
    let mut qtypes: Vec<String> = Vec::new();
    let mut answers: Vec<String> = Vec::new();
    let mut answer_data: Vec<String> = Vec::new();
    let mut rcodes: Vec<String> = Vec::new();
    let mut bindings: Vec<Seen> = Vec::new();
    let mut queries = Vec::new();
    let mut nxdomain = Vec::new();
    let (mut query_count, mut response_count) = (0usize, 0usize);
    let mut resolver = None;
    for sent in messages {
        let m = &sent.message;
        for q in &m.questions {
            first_question.get_or_insert_with(|| (q.name.clone(), q.qtype.clone()));
            push_distinct(&mut names, q.name.clone());
            push_distinct(&mut qtypes, q.qtype.clone());
            if proto == Proto::Dns && !m.response {
                queries.push((q.name.clone(), q.qtype.clone()));
            }
            if proto == Proto::Dns && m.name_error {
                push_distinct(&mut nxdomain, q.name.clone());
            }
        }
        for a in &m.answers {
            push_distinct(&mut answers, a.to_string());
            // The summary shows what responses said; answers in a query are mDNS "known answers".
            if m.response {
                push_distinct(&mut answer_data, a.data.clone());
            }
        }
        let observed = if sent.by_client {
            flow.to_server.first_seen
        } else {
            flow.to_client.first_seen
        };
        for b in &m.bindings {
            let seen = Seen {
                binding: b.clone(),
                observed,
            };
            push_distinct(&mut bindings, seen);
        }
        if m.response {
            response_count += 1;
            push_distinct(&mut rcodes, m.rcode.clone());
            if proto == Proto::Dns {
                resolver = Some(if sent.by_client {
                    flow.client_ip()
                } else {
                    flow.server_ip()
                });
            }
        } else {
            query_count += 1;
        }
    }

    let mut summary = match &first_question {
        Some((name, qtype)) => format!("{} {qtype} {}", proto.label(), text::shorten(name, 100)),
        None if response_count > 0 => format!("{} response", proto.label()),
        None => format!("{} message", proto.label()),
    };
    if names.len() > 1 {
        let more = names.len() - 1;
        summary.push_str(&format!(
            " and {more} more name{}",
            if more == 1 { "" } else { "s" }
        ));
    }
    if !answer_data.is_empty() {
        let shown: Vec<String> = if first_question.is_some() {
            answer_data
                .iter()
                .take(3)
                .map(|d| text::shorten(d, 60))
                .collect()
        } else {
            answers
                .iter()
                .take(3)
                .map(|d| text::shorten(d, 80))
                .collect()
        };
        let more = if answer_data.len() > 3 { ", …" } else { "" };
        summary.push_str(&format!(" → {}{more}", shown.join(", ")));
    }
    if !rcodes.is_empty() && rcodes.iter().any(|c| c != "NOERROR") {
        summary.push_str(&format!(" ({})", rcodes.join(", ")));
    } else if response_count == 0 && proto == Proto::Dns {
        summary.push_str(" (no response seen)");
    }

    let mut finding = Finding::on_flow(flow.id, proto.tag(), Severity::Info).summary(summary);
    if !names.is_empty() {
        let listed: Vec<&str> = names
            .iter()
            .take(limits.max_queries)
            .map(String::as_str)
            .collect();
        finding = finding.attr(names::dns::QUERIES, listed.join(","));
        if names.len() > limits.max_queries {
            finding = finding.attr(
                names::dns::QUERIES_OMITTED,
                (names.len() - limits.max_queries).to_string(),
            );
        }
        finding = finding.attr(names::dns::QTYPES, qtypes.join(","));
    }
    if !answers.is_empty() {
        let listed: Vec<&str> = answers
            .iter()
            .take(limits.max_answers)
            .map(String::as_str)
            .collect();
        finding = finding.attr(names::dns::ANSWERS, listed.join("; "));
        if answers.len() > limits.max_answers {
            finding = finding.attr(
                names::dns::ANSWERS_OMITTED,
                (answers.len() - limits.max_answers).to_string(),
            );
        }
    }
    if !rcodes.is_empty() {
        finding = finding.attr(names::dns::RCODE, rcodes.join(","));
    }
    finding = finding
        .attr(
            names::dns::MESSAGES,
            format!("{query_count} queries, {response_count} responses"),
        )
        .attr(names::dns::TRANSPORT, flow.protocol.as_str());
    if failures > 0 {
        finding = finding.attr(names::dns::MALFORMED_MESSAGES, failures.to_string());
    }
    if Proto::by_port(flow.server.port).is_none() && Proto::by_port(flow.client.port).is_none() {
        finding = finding
            .attr(
                "reason",
                "DNS on a port not assigned to it, recognised by matching queries and responses",
            )
            .confidence(90);
    }
    Observation {
        proto,
        finding,
        bindings,
        resolver,
        queries,
        nxdomain,
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::message::tests::{query, rec, response};
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::{RData, RecordType};
    use pcapxray_plugin_sdk::testing::FlowBuilder;
    use pcapxray_plugin_sdk::{Direction, EndReason, Orientation, Protocol};

    pub const LIMITS: Limits = Limits {
        max_answers: 20,
        max_queries: 50,
        any_port: true,
    };

    pub fn direction(datagrams: &[&[u8]], first_seen: u64, tcp: bool) -> Direction {
        let payload: Vec<u8> = datagrams.concat();
        Direction {
            packets: datagrams.len() as u64,
            bytes: payload.len() as u64,
            payload_bytes: payload.len() as u64,
            first_seen: if datagrams.is_empty() { 0 } else { first_seen },
            last_seen: if datagrams.is_empty() { 0 } else { first_seen },
            tcp_flags: 0,
            ttl: 64,
            datagrams: if tcp {
                Vec::new()
            } else {
                datagrams.iter().map(|d| d.len() as u32).collect()
            },
            payload,
            payload_truncated: false,
        }
    }

    /// A UDP or TCP flow between `client` and `server` carrying the given messages.
    pub fn flow(
        protocol: Protocol,
        client: (&str, u16),
        server: (&str, u16),
        to_server: &[&[u8]],
        to_client: &[&[u8]],
    ) -> Flow {
        let tcp = protocol == Protocol::Tcp;
        let frame = |m: &&[u8]| -> Vec<u8> {
            if tcp {
                let mut v = (m.len() as u16).to_be_bytes().to_vec();
                v.extend_from_slice(m);
                v
            } else {
                m.to_vec()
            }
        };
        let up: Vec<Vec<u8>> = to_server.iter().map(frame).collect();
        let down: Vec<Vec<u8>> = to_client.iter().map(frame).collect();
        let up: Vec<&[u8]> = up.iter().map(Vec::as_slice).collect();
        let down: Vec<&[u8]> = down.iter().map(Vec::as_slice).collect();
        FlowBuilder::new(protocol, client, server)
            .orientation(Orientation::PortHeuristic)
            .end_reason(EndReason::Idle)
            .to_server(direction(&up, 1_000, tcp))
            .to_client(direction(&down, 2_000, tcp))
            .build()
    }

    fn wikimedia() -> (Vec<u8>, Vec<u8>) {
        let q = query(0x65f0, "upload.wikimedia.org.", RecordType::A);
        let r = response(
            0x65f0,
            "upload.wikimedia.org.",
            RecordType::A,
            ResponseCode::NoError,
            vec![
                rec(
                    "upload.wikimedia.org.",
                    RData::CNAME(CNAME(crate::message::tests::n(
                        "upload.pmtpa.wikimedia.org.",
                    ))),
                ),
                rec(
                    "upload.pmtpa.wikimedia.org.",
                    RData::A(A::new(208, 80, 152, 3)),
                ),
            ],
        );
        (q, r)
    }

    #[test]
    fn a_udp_lookup_gives_one_finding_with_queries_answers_and_rcode() {
        let (q, r) = wikimedia();
        let nx = query(
            0x673c,
            "upload.wikimedia.org.ncsa.uiuc.edu.",
            RecordType::AAAA,
        );
        let nx_r = response(
            0x673c,
            "upload.wikimedia.org.ncsa.uiuc.edu.",
            RecordType::AAAA,
            ResponseCode::NXDomain,
            vec![],
        );
        let f = flow(
            Protocol::Udp,
            ("141.142.220.118", 55131),
            ("141.142.2.2", 53),
            &[&q, &nx],
            &[&r, &nx_r],
        );
        let obs = observe(&f, LIMITS).unwrap();
        let g = &obs.finding;
        assert_eq!(g.tag, "dns");
        assert_eq!(g.severity, Severity::Info);
        assert_eq!(
            g.get("dns.queries"),
            Some("upload.wikimedia.org,upload.wikimedia.org.ncsa.uiuc.edu")
        );
        assert_eq!(g.get("dns.qtypes"), Some("A,AAAA"));
        assert_eq!(
            g.get("dns.answers"),
            Some(
                "upload.wikimedia.org CNAME upload.pmtpa.wikimedia.org; upload.pmtpa.wikimedia.org A 208.80.152.3"
            )
        );
        assert_eq!(g.get("dns.rcode"), Some("NOERROR,NXDOMAIN"));
        assert_eq!(g.get("dns.messages"), Some("2 queries, 2 responses"));
        assert_eq!(
            g.summary,
            "DNS A upload.wikimedia.org and 1 more name → upload.pmtpa.wikimedia.org, 208.80.152.3 (NOERROR, NXDOMAIN)"
        );
        assert_eq!(obs.resolver, Some("141.142.2.2".parse().unwrap()));
        assert_eq!(obs.nxdomain, ["upload.wikimedia.org.ncsa.uiuc.edu"]);
        assert_eq!(obs.queries.len(), 2);
        let bound: Vec<_> = obs
            .bindings
            .iter()
            .map(|s| {
                (
                    s.binding.ip.to_string(),
                    s.binding.value.as_str(),
                    s.observed,
                )
            })
            .collect();
        assert_eq!(
            bound,
            [
                (
                    "208.80.152.3".to_string(),
                    "upload.pmtpa.wikimedia.org",
                    2_000
                ),
                ("208.80.152.3".to_string(), "upload.wikimedia.org", 2_000),
            ]
        );
    }

    #[test]
    fn dns_over_tcp_is_read_from_the_length_framed_stream() {
        let (q, r) = wikimedia();
        let f = flow(
            Protocol::Tcp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 53),
            &[&q],
            &[&r],
        );
        let obs = observe(&f, LIMITS).unwrap();
        assert_eq!(obs.finding.get("dns.queries"), Some("upload.wikimedia.org"));
        assert_eq!(obs.finding.get("dns.transport"), Some("tcp"));
        assert_eq!(obs.bindings.len(), 2);
    }

    #[test]
    fn dns_on_another_port_needs_a_matching_query_and_response() {
        let (q, r) = wikimedia();
        let both = flow(
            Protocol::Udp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 5300),
            &[&q],
            &[&r],
        );
        let obs = observe(&both, LIMITS).unwrap();
        assert_eq!(obs.finding.tag, "dns");
        assert_eq!(obs.finding.confidence, 90);
        let query_only = flow(
            Protocol::Udp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 5300),
            &[&q],
            &[],
        );
        assert!(observe(&query_only, LIMITS).is_none());
        let mut other = r.clone();
        other[1] ^= 1; // a different id
        let mismatched = flow(
            Protocol::Udp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 5300),
            &[&q],
            &[&other],
        );
        assert!(observe(&mismatched, LIMITS).is_none());
        let off = Limits {
            any_port: false,
            ..LIMITS
        };
        assert!(observe(&both, off).is_none());
    }

    #[test]
    fn port_53_garbage_is_flagged_and_random_udp_ignored() {
        let junk: &[u8] = b"\x38\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05hello";
        let f = flow(
            Protocol::Udp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 53),
            &[junk],
            &[],
        );
        let obs = observe(&f, LIMITS).unwrap();
        assert_eq!(obs.finding.tag, "dns.malformed");
        assert_eq!(obs.finding.severity, Severity::Low);
        let quic = flow(
            Protocol::Udp,
            ("10.0.0.2", 40000),
            ("10.0.0.1", 443),
            &[junk],
            &[junk],
        );
        assert!(observe(&quic, LIMITS).is_none());
    }

    #[test]
    fn lists_are_bounded() {
        let mut up = Vec::new();
        for i in 0..5 {
            up.push(query(i, &format!("n{i}.example."), RecordType::A));
        }
        let up: Vec<&[u8]> = up.iter().map(Vec::as_slice).collect();
        let f = flow(
            Protocol::Udp,
            ("10.0.0.2", 4000),
            ("10.0.0.1", 53),
            &up,
            &[],
        );
        let limits = Limits {
            max_queries: 2,
            ..LIMITS
        };
        let obs = observe(&f, limits).unwrap();
        assert_eq!(
            obs.finding.get("dns.queries"),
            Some("n0.example,n1.example")
        );
        assert_eq!(obs.finding.get("dns.queries-omitted"), Some("3"));
        assert!(obs.finding.summary.ends_with("(no response seen)"));
    }
}
