//! From the model to table rows: one function per table, plain data in, `Value` rows out, so every
//! column is tested natively against a real SQLite. Ids are the plugin's own: flows keep the host's
//! flow id, hosts and findings are numbered here as they are first met, so rows can point to each
//! other before the end of the run.

use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    CaptureInfo, Finding, Flow, HostInfo, NoteRecord, PluginRun, QueryRecord, Severity, Subject,
    format_mac,
    net::{IpClass, well_known_service},
    sqlite::Value,
    tag_matches,
    time::iso8601,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// A row of the files or credentials table, in the order of its insert statement (`flow_id` an
/// integer, empty cells NULL, `attributes` always text).
pub fn table_row(row: &pcapxray_plugin_sdk::tables::Row) -> Vec<Value> {
    let mut values: Vec<Value> = row
        .cells()
        .into_iter()
        .map(|v| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::Text(v)
            }
        })
        .collect();
    values[0] = int(row.flow);
    if let Some(last) = values.last_mut()
        && matches!(last, Value::Null)
    {
        *last = text("");
    }
    values
}

pub fn int(v: u64) -> Value {
    Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// A capture time as ISO 8601 text (SQLite's date functions read it), NULL when not seen.
pub fn time(ts: u64) -> Value {
    if ts == 0 {
        Value::Null
    } else {
        Value::Text(iso8601(ts))
    }
}

pub fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
    }
}

/// Flow ids remembered (one bit each) so findings raised at the end only point to stored flows.
const MAX_FLOW_IDS: u64 = 1 << 28;

/// Host and finding ids handed out so far, and which flows were stored. Memory follows the number
/// of hosts (and one bit per flow).
#[derive(Default)]
pub struct Ids {
    hosts: HashMap<IpAddr, i64>,
    /// Hosts numbered since the last `take_new_hosts`: they need a row before anything points to them.
    new_hosts: Vec<(IpAddr, i64)>,
    next_finding: i64,
    /// Entries of the findings list stored so far.
    pub listed: u64,
    flows: Vec<u64>,
}

impl Ids {
    /// The id of a host, numbered on first sight.
    pub fn host(&mut self, ip: IpAddr) -> i64 {
        let next = self.hosts.len() as i64 + 1;
        let id = *self.hosts.entry(ip).or_insert(next);
        if id == next {
            self.new_hosts.push((ip, id));
        }
        id
    }

    /// The hosts numbered since the last call.
    pub fn take_new_hosts(&mut self) -> Vec<(IpAddr, i64)> {
        std::mem::take(&mut self.new_hosts)
    }

    /// Hosts numbered so far.
    pub fn host_count(&self) -> u64 {
        self.hosts.len() as u64
    }

    /// Remembers that flow `id` is stored.
    pub fn stored_flow(&mut self, id: u64) {
        if id < MAX_FLOW_IDS {
            let (word, bit) = ((id / 64) as usize, id % 64);
            if self.flows.len() <= word {
                self.flows.resize(word + 1, 0);
            }
            self.flows[word] |= 1 << bit;
        }
    }

    /// True when flow `id` is stored (or too large to be remembered).
    pub fn has_flow(&self, id: u64) -> bool {
        id >= MAX_FLOW_IDS
            || self
                .flows
                .get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// The next finding id.
    pub fn finding(&mut self) -> i64 {
        self.next_finding += 1;
        self.next_finding
    }

    /// Findings numbered so far.
    pub fn findings(&self) -> u64 {
        self.next_finding as u64
    }

    /// Entries of the findings list so far.
    pub fn listed(&self) -> u64 {
        self.listed
    }
}

/// Where a finding row belongs.
#[derive(Clone, Copy)]
pub enum Listing {
    /// A flow's own finding, from `consume`.
    OnFlow,
    /// An entry of the findings list, from `consume-findings`; `rollup` for a roll-up of flow
    /// findings.
    Listed { rollup: bool },
}

/// Rows for the tables a batch of flows fills.
#[derive(Default)]
pub struct Batch {
    pub flows: Vec<Vec<Value>>,
    pub findings: Vec<Vec<Value>>,
    pub finding_flows: Vec<Vec<Value>>,
    pub attributes: Vec<Vec<Value>>,
    pub dns: Vec<Vec<Value>>,
    pub web: Vec<Vec<Value>>,
}

/// The server's name as the flow's own findings give it: SNI or `Host` (`server.name` first).
fn server_name(flow: &Flow) -> Option<&str> {
    [names::web::SERVER_NAME, names::tls::SNI, names::http::HOST]
        .iter()
        .find_map(|key| flow.finding_value(key))
}

impl Batch {
    /// A flow and every finding on it.
    pub fn flow(&mut self, ids: &mut Ids, flow: &Flow) {
        let ports = flow.is_tcp() || flow.is_udp();
        let port = |p: u16| {
            if ports {
                Value::Integer(p.into())
            } else {
                Value::Null
            }
        };
        let icmp = matches!(
            flow.protocol,
            pcapxray_plugin_sdk::Protocol::Icmp | pcapxray_plugin_sdk::Protocol::Icmpv6
        );
        let icmp_field = |v: u8| {
            if icmp {
                Value::Integer(v.into())
            } else {
                Value::Null
            }
        };
        let mut tags: Vec<&str> = Vec::new();
        let mut worst: Option<Severity> = None;
        for r in &flow.findings {
            if !tags.contains(&r.finding.tag.as_str()) {
                tags.push(&r.finding.tag);
            }
            if worst.is_none_or(|w| rank(r.finding.severity) > rank(w)) {
                worst = Some(r.finding.severity);
            }
        }
        let (first, last) = (flow.first_seen(), flow.last_seen());
        let vlan: Vec<String> = flow.vlan.iter().map(u16::to_string).collect();
        let (s, c) = (&flow.to_server, &flow.to_client);
        self.flows.push(vec![
            int(flow.id),
            time(first),
            time(last),
            Value::Real(last.saturating_sub(first) as f64 / 1e9),
            text(flow.protocol.as_str()),
            Value::Integer(flow.ip_protocol.into()),
            Value::Integer(ids.host(flow.client_ip())),
            text(&flow.client_ip().to_string()),
            port(flow.client.port),
            flow.client
                .mac
                .map_or(Value::Null, |m| Value::Text(format_mac(m))),
            Value::Integer(ids.host(flow.server_ip())),
            text(&flow.server_ip().to_string()),
            port(flow.server.port),
            flow.server
                .mac
                .map_or(Value::Null, |m| Value::Text(format_mac(m))),
            opt_text(
                ports
                    .then(|| well_known_service(flow.protocol, flow.server.port))
                    .flatten(),
            ),
            opt_text(server_name(flow)),
            if vlan.is_empty() {
                Value::Null
            } else {
                Value::Text(vlan.join(","))
            },
            text(flow.orientation.as_str()),
            text(flow.end_reason.as_str()),
            text(flow.conn_state.as_str()),
            text(&flow.history),
            icmp_field(flow.icmp_type),
            icmp_field(flow.icmp_code),
            Value::Integer(flow.fragments.into()),
            int(s.packets),
            int(s.bytes),
            int(s.payload_bytes),
            Value::Integer(s.tcp_flags.into()),
            Value::Integer(s.ttl.into()),
            int(c.packets),
            int(c.bytes),
            int(c.payload_bytes),
            Value::Integer(c.tcp_flags.into()),
            Value::Integer(c.ttl.into()),
            text(&tags.join(",")),
            opt_text(worst.map(|w| w.as_str())),
        ]);
        ids.stored_flow(flow.id);
        for r in &flow.findings {
            self.finding(ids, &r.stage, &r.finding, first, Listing::OnFlow);
        }
    }

    /// A finding, its attributes and flows, and the DNS and web rows it describes (once: not again
    /// for a roll-up of findings whose flows brought them). `when` is its flow's first packet (0
    /// when unknown).
    pub fn finding(
        &mut self,
        ids: &mut Ids,
        stage: &str,
        f: &Finding,
        when: u64,
        listing: Listing,
    ) {
        let id = ids.finding();
        let (at_end, listed, rollup) = match listing {
            Listing::OnFlow => (false, false, false),
            Listing::Listed { rollup } => {
                ids.listed += 1;
                (!rollup, true, rollup)
            }
        };
        for flow in &f.flows {
            if ids.has_flow(*flow) {
                self.finding_flows
                    .push(vec![Value::Integer(id), int(*flow)]);
            }
        }
        // A flow this output never stored (it cannot happen in a normal run) is not pointed to.
        let stored = matches!(f.subject, Subject::Flow(flow) if ids.has_flow(flow));
        let (subject, flow, host) = match f.subject {
            Subject::Flow(flow) if stored => ("flow", int(flow), Value::Null),
            Subject::Flow(_) => ("flow", Value::Null, Value::Null),
            Subject::Host(ip) => ("host", Value::Null, Value::Integer(ids.host(ip.into()))),
            Subject::Capture => ("capture", Value::Null, Value::Null),
        };
        self.findings.push(vec![
            Value::Integer(id),
            text(stage),
            text(&f.tag),
            text(f.severity.as_str()),
            Value::Integer(rank(f.severity).into()),
            Value::Integer(f.confidence.into()),
            text(subject),
            flow,
            host,
            text(&f.summary),
            Value::Integer(at_end.into()),
            Value::Integer(listed.into()),
            Value::Integer(rollup.into()),
            int(f.occurrences()),
        ]);
        for (i, a) in f.attributes.iter().enumerate() {
            self.attributes.push(vec![
                Value::Integer(id),
                Value::Integer(i as i64),
                text(&a.key),
                text(&a.value),
            ]);
        }
        if let Subject::Flow(flow) = f.subject
            && stored
            && !rollup
        {
            if tag_matches(&f.tag, names::dns::TAG) {
                self.dns(id, flow, f, when);
            }
            if tag_matches(&f.tag, names::web::TAG) {
                self.web(id, flow, f, when);
            }
        }
    }

    /// One row per question and per answer record of a `dns` finding.
    fn dns(&mut self, finding: i64, flow: u64, f: &Finding, when: u64) {
        let protocol = f
            .tag
            .strip_prefix("dns.")
            .filter(|p| matches!(*p, "mdns" | "llmnr" | "nbns"))
            .unwrap_or("dns");
        let rcode = f.get(names::dns::RCODE);
        let row = |kind: &str, name: &str, rtype: Option<&str>, answer: Option<&str>| {
            vec![
                int(flow),
                Value::Integer(finding),
                time(when),
                text(protocol),
                text(kind),
                text(name),
                opt_text(rtype),
                opt_text(answer),
                opt_text(rcode),
            ]
        };
        let qtypes = f.get(names::dns::QTYPES).filter(|q| !q.is_empty());
        for q in f.dns_queries() {
            self.dns.push(row("query", q, qtypes, None));
        }
        for a in f.dns_answers() {
            self.dns.push(row("answer", a.name, a.rtype, a.data));
        }
    }

    /// One row per HTTP transaction and one per TLS handshake of a `web` finding.
    fn web(&mut self, finding: i64, flow: u64, f: &Finding, when: u64) {
        let base = |kind: &str, position: usize| {
            vec![
                int(flow),
                Value::Integer(finding),
                time(when),
                text(kind),
                Value::Integer(position as i64),
            ]
        };
        let listed = f.http_transactions();
        if !listed.is_empty() {
            for (i, t) in listed.iter().enumerate() {
                let status = t
                    .status
                    .map_or(Value::Null, |s| Value::Integer(i64::from(s)));
                let mut row = base("http", i);
                row.extend([
                    opt_text(t.method.as_deref()),
                    opt_text(t.host.as_deref()),
                    opt_text(t.uri.as_deref()),
                    opt_text(t.user_agent.as_deref()),
                    status,
                    opt_text(t.server.as_deref()),
                    opt_text(t.content_type.as_deref()),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ]);
                self.web.push(row);
            }
        }
        if f.attributes.iter().any(|a| a.key.starts_with("tls.")) {
            let mut row = base("tls", 0);
            row.extend([
                Value::Null,
                opt_text(f.get(names::web::SERVER_NAME)),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                opt_text(f.get(names::tls::SNI)),
                opt_text(f.get(names::tls::VERSIONS)),
                opt_text(f.get(names::tls::VERSION)),
                opt_text(f.get(names::tls::ALPN)),
                opt_text(f.get(names::tls::CIPHER)),
            ]);
            self.web.push(row);
        }
    }
}

/// A `hosts` row and its `host_macs` and `host_facts` rows.
pub fn host(
    id: i64,
    h: &HostInfo,
    macs: &mut Vec<Vec<Value>>,
    facts: &mut Vec<Vec<Value>>,
) -> Vec<Value> {
    let ip = IpAddr::from(h.ip);
    let mac_text: Vec<String> = h.macs.iter().map(|m| format_mac(*m)).collect();
    for m in &mac_text {
        macs.push(vec![Value::Integer(id), text(m)]);
    }
    for (i, n) in h.notes.iter().enumerate() {
        facts.push(vec![
            Value::Integer(id),
            Value::Integer(i as i64),
            text(&n.stage),
            text(&n.key),
            text(&n.value),
            n.observed.map_or(Value::Null, time),
        ]);
    }
    vec![
        Value::Integer(id),
        text(&ip.to_string()),
        text(IpClass::of(ip).as_str()),
        opt_text(h.best_name()),
        opt_text(h.fact(names::host::VENDOR)),
        opt_text(h.fact(names::host::OS)),
        opt_text(h.fact(names::dhcp::HOSTNAME)),
        text(&mac_text.join(",")),
        time(h.first_seen),
        time(h.last_seen),
        int(h.packets_sent),
        int(h.packets_received),
        int(h.bytes_sent),
        int(h.bytes_received),
        Value::Integer(h.seen_in_arp.into()),
    ]
}

/// A `hosts` row for an address a flow or finding named but the report's host table does not have.
pub fn bare_host(id: i64, ip: IpAddr) -> Vec<Value> {
    vec![
        Value::Integer(id),
        text(&ip.to_string()),
        text(IpClass::of(ip).as_str()),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        text(""),
        Value::Null,
        Value::Null,
        int(0),
        int(0),
        int(0),
        int(0),
        int(0),
    ]
}

/// The `capture` row.
pub fn capture(c: &CaptureInfo, hosts: u64, findings: u64, complete: bool) -> Vec<Value> {
    let fates: Vec<String> = c
        .packet_fates
        .iter()
        .map(|f| format!("{}={}", f.key, f.packets))
        .collect();
    vec![
        text(&c.file),
        int(c.size),
        text(&c.sha256),
        text(&c.format),
        text(&c.format_details),
        text(&c.link_types.join(", ")),
        int(c.packets),
        int(c.bytes),
        time(c.first_packet),
        time(c.last_packet),
        Value::Real(c.last_packet.saturating_sub(c.first_packet) as f64 / 1e9),
        int(c.flows),
        int(hosts),
        int(findings),
        text(&fates.join("; ")),
        opt_text(c.read_error.as_deref()),
        Value::Integer(complete.into()),
    ]
}

/// A `plugins` row.
pub fn plugin(position: usize, p: &PluginRun) -> Vec<Value> {
    vec![
        Value::Integer(position as i64),
        text(&p.stage),
        text(&p.name),
        text(&p.version),
        text(p.kind.as_str()),
        text(&format!("sha256:{}", p.digest)),
        opt_text(p.error.as_deref()),
    ]
}

/// A `run_notes` row; its attributes as `key=value` pairs joined by `; `.
pub fn run_note(n: &NoteRecord) -> Vec<Value> {
    let attributes: Vec<String> = n
        .note
        .attributes
        .iter()
        .map(|a| format!("{}={}", a.key, a.value))
        .collect();
    vec![
        text(&n.stage),
        text(&n.note.key),
        text(n.note.level.as_str()),
        text(&n.note.message),
        text(&attributes.join("; ")),
    ]
}

/// A `queries` row.
pub fn query(q: &QueryRecord) -> Vec<Value> {
    vec![
        text(&q.stage),
        text(&q.capability),
        text(&q.query),
        text(&q.server),
        text(&q.answer),
        time(q.sent),
    ]
}
