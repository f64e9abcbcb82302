//! The columns of `flows.csv` and `findings.csv`, and one row of each from the model. Plain functions
//! of their input, tested natively; the plugin glue decides when rows are written.

use crate::cells::{self, defuse};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::tables::Row;
use pcapxray_plugin_sdk::{
    Finding, FindingRecord, Flow, HostInfo, Severity, Subject, format_mac,
    net::{IpClass, well_known_service},
    time::iso8601,
};
use std::net::IpAddr;

/// The header of `flows.csv`.
pub const FLOW_COLUMNS: &[&str] = &[
    "id",
    "start",
    "end",
    "duration_seconds",
    "protocol",
    "ip_protocol",
    "client_ip",
    "client_port",
    "client_mac",
    "client_name",
    "server_ip",
    "server_port",
    "server_mac",
    "server_name",
    "service",
    "vlan",
    "orientation",
    "end_reason",
    "conn_state",
    "history",
    "packets_to_server",
    "bytes_to_server",
    "payload_bytes_to_server",
    "packets_to_client",
    "bytes_to_client",
    "payload_bytes_to_client",
    "tags",
    "max_severity",
];

/// The header of `findings.csv`.
pub const FINDING_COLUMNS: &[&str] = &[
    "stage",
    "tag",
    "severity",
    "confidence",
    "subject",
    "flow_id",
    "host",
    "summary",
    "attributes",
    "count",
    "flows",
];

/// Flow ids listed in a `findings.csv` cell; report.json and report.sqlite list them all.
pub const FLOWS_PER_CELL: usize = 100;

/// The header of `hosts.csv`.
pub const HOST_COLUMNS: &[&str] = &[
    "ip",
    "class",
    "macs",
    "name",
    "names",
    "vendor",
    "os",
    "dhcp_hostname",
    "device",
    "first_seen",
    "last_seen",
    "packets_sent",
    "packets_received",
    "bytes_sent",
    "bytes_received",
    "seen_in_arp",
];

/// Cell text from the capture or a plugin: escaped, and defused when `formula_escape` is set.
#[derive(Clone, Copy)]
pub struct Cells {
    /// Prefix `'` to text a spreadsheet would run as a formula.
    pub formula_escape: bool,
}

impl Cells {
    fn text(&self, value: &str) -> String {
        let t = cells::text(value);
        if self.formula_escape { defuse(t) } else { t }
    }
}

fn time(ts: u64) -> String {
    if ts == 0 { String::new() } else { iso8601(ts) }
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
    }
}

/// The server's name as the flow's own findings give it: SNI or `Host` (`server.name` first).
pub fn flow_server_name(flow: &Flow) -> Option<&str> {
    [names::web::SERVER_NAME, names::tls::SNI, names::http::HOST]
        .iter()
        .find_map(|key| flow.finding_value(key))
}

/// One `flows.csv` row. `client_name` and `server_name` are the names known for the endpoints.
pub fn flow_row(
    flow: &Flow,
    client_name: Option<&str>,
    server_name: Option<&str>,
    c: &Cells,
) -> Vec<String> {
    let ports = flow.is_tcp() || flow.is_udp();
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
    let port = |p: u16| if ports { p.to_string() } else { String::new() };
    let vlan: Vec<String> = flow.vlan.iter().map(u16::to_string).collect();
    vec![
        flow.id.to_string(),
        time(first),
        time(last),
        format!("{:.6}", last.saturating_sub(first) as f64 / 1e9),
        flow.protocol.as_str().into(),
        flow.ip_protocol.to_string(),
        flow.client_ip().to_string(),
        port(flow.client.port),
        flow.client.mac.map(format_mac).unwrap_or_default(),
        c.text(client_name.unwrap_or("")),
        flow.server_ip().to_string(),
        port(flow.server.port),
        flow.server.mac.map(format_mac).unwrap_or_default(),
        c.text(server_name.unwrap_or("")),
        if ports {
            well_known_service(flow.protocol, flow.server.port)
                .unwrap_or("")
                .into()
        } else {
            String::new()
        },
        vlan.join(";"),
        flow.orientation.as_str().into(),
        flow.end_reason.as_str().into(),
        flow.conn_state.as_str().into(),
        flow.history.clone(),
        flow.to_server.packets.to_string(),
        flow.to_server.bytes.to_string(),
        flow.to_server.payload_bytes.to_string(),
        flow.to_client.packets.to_string(),
        flow.to_client.bytes.to_string(),
        flow.to_client.payload_bytes.to_string(),
        c.text(&tags.join(";")),
        worst.map(|s| s.as_str()).unwrap_or("").into(),
    ]
}

/// One `findings.csv` row.
pub fn finding_row(stage: &str, f: &Finding, c: &Cells) -> Vec<String> {
    let (subject, flow, host) = match f.subject {
        Subject::Flow(id) => ("flow", id.to_string(), String::new()),
        Subject::Host(ip) => ("host", String::new(), ip.to_string()),
        Subject::Capture => ("capture", String::new(), String::new()),
    };
    vec![
        c.text(stage),
        c.text(&f.tag),
        f.severity.as_str().into(),
        f.confidence.to_string(),
        subject.into(),
        flow,
        host,
        c.text(&f.summary),
        {
            let a = cells::attributes(
                f.attributes
                    .iter()
                    .map(|a| (a.key.as_str(), a.value.as_str())),
            );
            if c.formula_escape { defuse(a) } else { a }
        },
        f.occurrences().to_string(),
        flow_list(&f.flows),
    ]
}

/// The first [`FLOWS_PER_CELL`] flow ids, space-separated, and `… (N in all)` when there are more.
fn flow_list(flows: &[u64]) -> String {
    let mut out: Vec<String> = flows
        .iter()
        .take(FLOWS_PER_CELL)
        .map(u64::to_string)
        .collect();
    if flows.len() > FLOWS_PER_CELL {
        out.push(format!("… ({} in all)", flows.len()));
    }
    out.join(" ")
}

/// One `hosts.csv` row.
pub fn host_row(h: &HostInfo, c: &Cells) -> Vec<String> {
    let ip = IpAddr::from(h.ip);
    let fact = |key: &str| {
        h.notes
            .iter()
            .find(|n| n.key == key)
            .map(|n| n.value.as_str())
    };
    let names = h.names();
    let macs: Vec<String> = h.macs.iter().map(|m| format_mac(*m)).collect();
    vec![
        ip.to_string(),
        IpClass::of(ip).as_str().into(),
        macs.join(";"),
        c.text(h.best_name().unwrap_or("")),
        c.text(&names.join(";")),
        c.text(fact("vendor").unwrap_or("")),
        c.text(fact("os").unwrap_or("")),
        c.text(fact(names::dhcp::HOSTNAME).unwrap_or("")),
        c.text(fact("device").unwrap_or("")),
        time(h.first_seen),
        time(h.last_seen),
        h.packets_sent.to_string(),
        h.packets_received.to_string(),
        h.bytes_sent.to_string(),
        h.bytes_received.to_string(),
        u8::from(h.seen_in_arp).to_string(),
    ]
}

/// A finding record's row.
pub fn record_row(r: &FindingRecord, c: &Cells) -> Vec<String> {
    finding_row(&r.stage, &r.finding, c)
}

/// A row of the files or credentials table, in the order of [`Table::header`]; text cells defused.
pub fn table_row(row: &Row, c: &Cells) -> Vec<String> {
    row.cells().iter().map(|v| c.text(v)).collect()
}

/// RFC 4180 text for `rows` (CRLF line ends, fields quoted when they need it), with `header` first
/// when given. Rows are encoded as the iterator yields them, so a long list never exists as cells.
pub fn encode<R: AsRef<[String]>>(
    header: Option<&[&str]>,
    rows: impl IntoIterator<Item = R>,
) -> Result<Vec<u8>, String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::with_capacity(64 * 1024));
    if let Some(h) = header {
        w.write_record(h).map_err(|e| e.to_string())?;
    }
    for row in rows {
        w.write_record(row.as_ref()).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{finding, flow};

    const SAFE: Cells = Cells {
        formula_escape: true,
    };

    #[test]
    fn a_flow_row_has_every_column_in_order() {
        let mut f = flow(5, "192.168.1.23", "34.223.124.45", 80);
        f.findings.push(finding(
            "web",
            5,
            "web.http",
            "HTTP GET",
            &[("server.name", "neverssl.com")],
        ));
        let mut odd = finding("suspicious", 5, "suspicious", "x", &[]);
        odd.finding.severity = Severity::Medium;
        f.findings.push(odd);
        let row = flow_row(&f, Some("laptop"), flow_server_name(&f), &SAFE);
        assert_eq!(row.len(), FLOW_COLUMNS.len());
        let get = |col: &str| row[FLOW_COLUMNS.iter().position(|c| *c == col).unwrap()].as_str();
        assert_eq!(get("id"), "5");
        assert_eq!(get("start"), "2024-03-12T09:00:06.000000Z");
        assert_eq!(get("duration_seconds"), "0.005000");
        assert_eq!(get("client_ip"), "192.168.1.23");
        assert_eq!(get("client_port"), "49152");
        assert_eq!(get("client_mac"), "f8:bc:12:6e:4d:21");
        assert_eq!(get("client_name"), "laptop");
        assert_eq!(get("server_name"), "neverssl.com");
        assert_eq!(get("service"), "http");
        assert_eq!(get("tags"), "web.http;suspicious");
        assert_eq!(get("max_severity"), "medium");
        assert_eq!(get("bytes_to_server"), "100");
    }

    #[test]
    fn a_finding_row_names_its_subject_and_lists_attributes() {
        let r = finding(
            "web",
            5,
            "web.http",
            "=cmd|' /C calc'!A0",
            &[("http.uri", "/a;b"), ("http.user-agent", "x\ny")],
        );
        let row = record_row(&r, &SAFE);
        assert_eq!(row.len(), FINDING_COLUMNS.len());
        assert_eq!(row[4..7], ["flow", "5", ""]);
        assert_eq!(row[7], "'=cmd|' /C calc'!A0");
        assert_eq!(row[8], "http.uri=/a\\;b; http.user-agent=x\\ny");
        let raw = record_row(
            &r,
            &Cells {
                formula_escape: false,
            },
        );
        assert_eq!(raw[7], "=cmd|' /C calc'!A0");
    }

    #[test]
    fn a_host_row_has_its_names_and_facts() {
        let mut h = pcapxray_plugin_sdk::testing::host("192.168.1.23", &[0xf8bc126e4d21, 1]);
        h.notes = vec![
            pcapxray_plugin_sdk::testing::note("devices", "dhcp.hostname", "alice-laptop"),
            pcapxray_plugin_sdk::testing::note("dns", "name", "alice.lan"),
            pcapxray_plugin_sdk::testing::note("web", "name", "=alice"),
            pcapxray_plugin_sdk::testing::note("devices", "vendor", "Dell Inc."),
        ];
        let row = host_row(&h, &SAFE);
        assert_eq!(row.len(), HOST_COLUMNS.len());
        assert_eq!(
            row[..6],
            [
                "192.168.1.23",
                "private",
                "f8:bc:12:6e:4d:21;00:00:00:00:00:01",
                "alice.lan",
                "alice.lan;=alice",
                "Dell Inc."
            ]
        );
        assert_eq!(row[7], "alice-laptop");
    }

    #[test]
    fn hostile_cells_read_back_as_one_record_each() {
        let nasty = ["a,b\"c\r\nd", "\u{1f600}\u{202e}", "=1+1", "\"", "", "x\0y"];
        let mut r = finding("web", 1, "web.http", nasty[0], &[]);
        for (i, v) in nasty.iter().enumerate() {
            r.finding
                .attributes
                .push(pcapxray_plugin_sdk::Attribute::new(format!("k{i}"), *v));
        }
        let rows: Vec<Vec<String>> = (0..3).map(|_| record_row(&r, &SAFE)).collect();
        let bytes = encode(Some(FINDING_COLUMNS), &rows).unwrap();
        // One physical line per record: control characters were escaped.
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 4);
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let back: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(back.len(), 3);
        assert_eq!(&back[0][7], "a,b\"c\\r\\nd");
        assert!(
            back[0][8].starts_with("k0=a,b\"c\\r\\nd; k1="),
            "{:?}",
            &back[0][8]
        );
    }

    #[test]
    fn encodes_rfc_4180() {
        let rows = vec![vec![
            "a,b".to_string(),
            "say \"hi\"".into(),
            "".into(),
            "plain".into(),
        ]];
        let text = String::from_utf8(encode(Some(&["w", "x", "y", "z"]), &rows).unwrap()).unwrap();
        assert_eq!(text, "w,x,y,z\r\n\"a,b\",\"say \"\"hi\"\"\",,plain\r\n");
    }
}
