//! The lake's tables, column by column (schema version [`SCHEMA_VERSION`], documented in docs/lake.md),
//! and how the run's records become their rows. Flows use Zeek conn.log's names with the dots
//! flattened to underscores (`id.orig_h` → `id_orig_h`: dotted names break Spark); addresses are
//! canonical text (`10.0.0.1`, `2001:db8::1`, `00:1a:2b:3c:4d:5e`), times are UTC microseconds.

use super::table::{Columns, Kind::*, Value};
use crate::bindings::wit;
use crate::runtime::convert::ip_from_wit;

/// The version of the tables' columns; it moves when a column changes meaning or type, and is in
/// every `captures` row.
pub const SCHEMA_VERSION: &str = "2";

pub const FLOWS: Columns = &[
    ("ts", Time, false),
    ("uid", Text, false),
    ("id_orig_h", Text, false),
    ("id_orig_p", SmallInt, false),
    ("id_resp_h", Text, false),
    ("id_resp_p", SmallInt, false),
    ("proto", Text, false),
    ("service", Text, true),
    ("duration", Float, false),
    ("orig_bytes", Int, false),
    ("resp_bytes", Int, false),
    ("conn_state", Text, false),
    ("history", Text, false),
    ("orig_pkts", Int, false),
    ("orig_ip_bytes", Int, false),
    ("resp_pkts", Int, false),
    ("resp_ip_bytes", Int, false),
    ("orig_l2_addr", Text, true),
    ("resp_l2_addr", Text, true),
    ("community_id", Text, false),
    ("last_ts", Time, false),
    ("ip_proto", SmallInt, false),
    ("vlan", SmallInt, true),
    ("inner_vlan", SmallInt, true),
    ("tunnel", Text, true),
    ("icmp_type", SmallInt, true),
    ("icmp_code", SmallInt, true),
    ("orientation", Text, false),
    ("end_reason", Text, false),
    ("fragments", Int, false),
    ("orig_ttl", SmallInt, true),
    ("resp_ttl", SmallInt, true),
    ("orig_tcp_flags", SmallInt, true),
    ("resp_tcp_flags", SmallInt, true),
    ("orig_first_ts", Time, true),
    ("orig_last_ts", Time, true),
    ("resp_first_ts", Time, true),
    ("resp_last_ts", Time, true),
    ("findings", SmallInt, false),
    ("flow_id", Int, false),
    ("open_at_start", Bool, false),
    ("open_at_end", Bool, false),
    ("open_until", Time, true),
    ("ts_us", Int, false),
    ("last_ts_us", Int, false),
];

pub const FINDINGS: Columns = &[
    ("finding_id", Text, false),
    ("ts", Time, false),
    ("stage", Text, false),
    ("plugin", Text, false),
    ("tag", Text, false),
    ("class", Text, false),
    ("severity", Text, false),
    ("confidence", SmallInt, false),
    ("summary", Text, false),
    ("subject", Text, false),
    ("uid", Text, true),
    ("host", Text, true),
    ("flow_uids", TextList, false),
    ("rollup", Bool, false),
    ("attributes", Text, false),
];

pub const HOST_OBSERVATIONS: Columns = &[
    ("mac", Text, true),
    ("ip", Text, false),
    ("vlan", SmallInt, true),
    ("evidence", TextList, false),
    ("first_ts", Time, false),
    ("last_ts", Time, false),
];

/// What the stages published about hosts (names from DNS, vendors, device kinds, OS hints), so
/// that `run --from-lake` and other tools know them without the payloads they came from.
pub const HOST_FACTS: Columns = &[
    ("ip", Text, false),
    ("stage", Text, false),
    ("key", Text, false),
    ("value", Text, false),
    ("observed", Time, true),
];

pub const FILES: Columns = &[
    ("finding_id", Text, false),
    ("ts", Time, false),
    ("uid", Text, true),
    ("protocol", Text, true),
    ("direction", Text, true),
    ("name", Text, true),
    ("declared_type", Text, true),
    ("detected_type", Text, true),
    ("size", Int, true),
    ("missing", Int, true),
    ("complete", Bool, false),
    ("md5", Text, true),
    ("sha1", Text, true),
    ("sha256", Text, true),
];

pub const CAPTURES: Columns = &[
    ("sha256", Text, false),
    ("file", Text, false),
    ("size", Int, false),
    ("format", Text, false),
    ("first_ts", Time, true),
    ("last_ts", Time, true),
    ("packets", Int, false),
    ("bytes", Int, false),
    ("flows", Int, false),
    ("read_error", Text, true),
    ("schema_version", Text, false),
    ("tool_version", Text, false),
    ("plugins", TextList, false),
];

/// Nanoseconds → microseconds, or `None` for the WIT's "never" (0).
pub fn micros(ns: u64) -> Option<i64> {
    (ns != 0).then_some((ns / 1000) as i64)
}

/// `00:1a:2b:3c:4d:5e`.
pub fn mac_text(mac: u64) -> String {
    let b = mac.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

pub fn ip_text(ip: wit::IpAddress) -> String {
    ip_from_wit(ip).to_string()
}

/// Zeek's `proto`: `tcp`, `udp`, `icmp` (ICMPv6 too, as Zeek writes it), else the protocol number.
pub fn proto_text(f: &wit::Flow) -> String {
    match f.protocol {
        wit::Protocol::Tcp => "tcp".into(),
        wit::Protocol::Udp => "udp".into(),
        wit::Protocol::Icmp | wit::Protocol::Icmpv6 => "icmp".into(),
        wit::Protocol::Other => f.ip_protocol.to_string(),
    }
}

pub fn conn_state_text(s: wit::ConnState) -> &'static str {
    use wit::ConnState::*;
    match s {
        S0 => "S0",
        S1 => "S1",
        Sf => "SF",
        Rej => "REJ",
        S2 => "S2",
        S3 => "S3",
        Rsto => "RSTO",
        Rstr => "RSTR",
        Rstos0 => "RSTOS0",
        Rstrh => "RSTRH",
        Sh => "SH",
        Shr => "SHR",
        Oth => "OTH",
    }
}

/// The flow's first and last packet, in microseconds.
pub fn span(f: &wit::Flow) -> (i64, i64) {
    let firsts = [f.to_server.first_seen, f.to_client.first_seen];
    let first = firsts.into_iter().filter(|&t| t != 0).min().unwrap_or(0);
    let last = f.to_server.last_seen.max(f.to_client.last_seen);
    ((first / 1000) as i64, (last / 1000) as i64)
}

/// Where a flow stands at the edges of its capture file, for the merge of a sensor's rotated files
/// (docs/lake.md "Flows across rotated files"): the flow table's `open_at_start` and `open_until`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowEdge {
    pub open_at_start: bool,
    /// Nanoseconds; `None` when the flow ended inside the capture.
    pub open_until: Option<u64>,
}

/// A flow's row; `uid` and `community_id` come from the ids module.
pub fn flow_row(f: &wit::Flow, edge: FlowEdge, uid: String, community_id: String) -> Vec<Value> {
    let (first, last) = span(f);
    let icmp = matches!(f.protocol, wit::Protocol::Icmp | wit::Protocol::Icmpv6);
    let (os, oc) = (&f.to_server, &f.to_client);
    let sent = |d: &wit::Direction, v: i32| (d.packets > 0).then_some(v);
    vec![
        Value::Time(Some(first)),
        Value::Text(Some(uid)),
        Value::Text(Some(ip_text(f.client.ip))),
        Value::SmallInt(Some(i32::from(f.client.port))),
        Value::Text(Some(ip_text(f.server.ip))),
        Value::SmallInt(Some(i32::from(f.server.port))),
        Value::Text(Some(proto_text(f))),
        Value::Text(service(f)),
        Value::Float(Some((last - first) as f64 / 1e6)),
        Value::Int(Some(os.payload_bytes as i64)),
        Value::Int(Some(oc.payload_bytes as i64)),
        Value::Text(Some(conn_state_text(f.conn_state).into())),
        Value::Text(Some(f.history.clone())),
        Value::Int(Some(os.packets as i64)),
        Value::Int(Some(os.bytes as i64)),
        Value::Int(Some(oc.packets as i64)),
        Value::Int(Some(oc.bytes as i64)),
        Value::Text(f.client.mac.map(mac_text)),
        Value::Text(f.server.mac.map(mac_text)),
        Value::Text(Some(community_id)),
        Value::Time(Some(last)),
        Value::SmallInt(Some(i32::from(f.ip_protocol))),
        Value::SmallInt(f.vlan.first().map(|&v| i32::from(v))),
        Value::SmallInt(f.vlan.get(1).map(|&v| i32::from(v))),
        Value::Text(tunnel_text(f)),
        Value::SmallInt(icmp.then_some(i32::from(f.icmp_type))),
        Value::SmallInt(icmp.then_some(i32::from(f.icmp_code))),
        Value::Text(Some(orientation_text(f.orientation).into())),
        Value::Text(Some(end_reason_text(f.end_reason).into())),
        Value::Int(Some(i64::from(f.fragments))),
        Value::SmallInt(sent(os, i32::from(os.ttl))),
        Value::SmallInt(sent(oc, i32::from(oc.ttl))),
        Value::SmallInt(sent(os, i32::from(os.tcp_flags))),
        Value::SmallInt(sent(oc, i32::from(oc.tcp_flags))),
        Value::Time(micros(os.first_seen)),
        Value::Time(micros(os.last_seen)),
        Value::Time(micros(oc.first_seen)),
        Value::Time(micros(oc.last_seen)),
        Value::SmallInt(Some(f.findings.len().min(i32::MAX as usize) as i32)),
        Value::Int(Some(f.id as i64)),
        Value::Bool(edge.open_at_start),
        Value::Bool(edge.open_until.is_some()),
        // Rounded up: a packet before this microsecond would have continued the flow.
        Value::Time(edge.open_until.map(|ns| ns.div_ceil(1000) as i64)),
        Value::Int(Some(first)),
        Value::Int(Some(last)),
    ]
}

/// The traffic classes of the flow's findings (a tag's first part, as diagrams and filters group
/// them), in the order they were found, comma-separated; `None` when nothing was found.
fn service(f: &wit::Flow) -> Option<String> {
    let mut classes: Vec<&str> = Vec::new();
    for r in &f.findings {
        let class = r.finding.tag.split('.').next().unwrap_or("");
        if !class.is_empty() && !classes.contains(&class) {
            classes.push(class);
        }
    }
    (!classes.is_empty()).then(|| classes.join(","))
}

fn end_reason_text(r: wit::EndReason) -> &'static str {
    match r {
        wit::EndReason::Fin => "fin",
        wit::EndReason::Rst => "rst",
        wit::EndReason::Idle => "idle",
        wit::EndReason::CaptureEnd => "capture-end",
        wit::EndReason::Evicted => "evicted",
    }
}

fn orientation_text(o: wit::Orientation) -> &'static str {
    match o {
        wit::Orientation::Syn => "syn",
        wit::Orientation::FirstPacket => "first-packet",
        wit::Orientation::PortHeuristic => "port-heuristic",
    }
}

fn tunnel_kind_text(k: wit::TunnelKind) -> &'static str {
    use wit::TunnelKind::*;
    match k {
        Pppoe => "pppoe",
        Mpls => "mpls",
        Gre => "gre",
        Erspan => "erspan",
        Vxlan => "vxlan",
        Geneve => "geneve",
        IpInIp => "ip-in-ip",
        GtpU => "gtp-u",
    }
}

/// `vxlan:42/gre` (outer first, with the layer's id when it has one); `None` when not tunnelled.
pub fn tunnel_text(f: &wit::Flow) -> Option<String> {
    let layers: Vec<String> = f
        .tunnel
        .iter()
        .map(|t| {
            let kind = tunnel_kind_text(t.kind);
            match t.id {
                Some(id) => format!("{kind}:{id}"),
                None => kind.to_string(),
            }
        })
        .collect();
    (!layers.is_empty()).then(|| layers.join("/"))
}

pub fn severity_text(s: wit::Severity) -> &'static str {
    match s {
        wit::Severity::Info => "info",
        wit::Severity::Low => "low",
        wit::Severity::Medium => "medium",
        wit::Severity::High => "high",
    }
}
