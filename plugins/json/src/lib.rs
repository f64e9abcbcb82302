//! The `json` output: one machine-readable file with everything the run learned, for other tools and
//! for tests. Flows are compact summaries (no payload bytes) streamed into the file as they end, so the
//! report stays a fraction of the capture's size and the plugin's memory stays flat.

use pcapxray_plugin_sdk::{
    Artifact, Finding, FindingRecord, Flow, HostInfo, Output, PluginError, Report, Subject,
    tables::{self, Row, Table},
    time::iso8601,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod write;

/// The version of report.json's layout, its first key. It changes with every change to the layout
/// (plugins/json/README.md lists them): 2 has `capture.packet_fates` in place of `decode_errors`,
/// `capture.timestamp_anomalies` and `tunnel` on flows; 4 adds the `files` and `credentials` tables.
pub const SCHEMA_VERSION: u32 = 4;
const SCHEMA_PRETTY: &str = "\n  \"schema_version\": 4,";
const SCHEMA_COMPACT: &str = "\"schema_version\":4,";

/// The `config` table of a `json` stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// File name inside the report folder.
    file: String,
    /// Indent the JSON for people (true) or write it compact (false).
    pretty: bool,
    /// Include one entry per flow.
    flows: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file: "report.json".into(),
            pretty: true,
            flows: true,
        }
    }
}

pub struct Json {
    config: Config,
    /// Where the streamed document is: which array is open and how many items it has.
    section: Section,
    items: u64,
    /// Entries of the findings list per tag (a roll-up counts once).
    tags: BTreeMap<String, u64>,
    /// Findings on the flows streamed so far.
    flow_findings: u64,
    /// Hosts written.
    hosts: usize,
    /// The files and credentials tables, written by `finish` (a row per file or login, not per
    /// packet or flow).
    rows: Vec<Row>,
}

/// The part of the document being written. The document is
/// `{"flows": [...], "findings": [...], "hosts": [...], ...}`: flows, loose findings and hosts are
/// streamed as they come, the rest is written by `finish`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Start,
    Flows,
    Findings,
    Hosts,
}

impl Json {
    fn artifact(&self, bytes: Vec<u8>) -> Artifact {
        Artifact {
            name: self.config.file.clone(),
            media_type: "application/json".into(),
            bytes,
        }
    }

    /// Moves the document forward to `section`, writing the brackets and keys in between.
    fn enter(&mut self, section: Section, out: &mut Vec<u8>) {
        let pretty = self.config.pretty;
        if self.section == Section::Start {
            out.extend_from_slice(b"{");
            out.extend_from_slice(if pretty {
                SCHEMA_PRETTY.as_bytes()
            } else {
                SCHEMA_COMPACT.as_bytes()
            });
            if self.config.flows {
                out.extend_from_slice(if pretty {
                    b"\n  \"flows\": ["
                } else {
                    b"\"flows\":["
                });
            }
            self.section = Section::Flows;
            self.items = 0;
        }
        if section >= Section::Findings && self.section == Section::Flows {
            if self.config.flows {
                out.extend_from_slice(if pretty && self.items > 0 {
                    b"\n  ],"
                } else {
                    b"],"
                });
            }
            out.extend_from_slice(if pretty {
                b"\n  \"findings\": ["
            } else {
                b"\"findings\":["
            });
            self.section = Section::Findings;
            self.items = 0;
        }
        if section >= Section::Hosts && self.section == Section::Findings {
            out.extend_from_slice(match (self.items > 0, pretty) {
                (true, true) => b"\n  ],\n  \"hosts\": [",
                (_, true) => b"],\n  \"hosts\": [",
                (_, false) => b"],\"hosts\":[",
            });
            self.section = Section::Hosts;
            self.items = 0;
        }
    }

    /// The next part of the file: `items` appended to the array of `section` (about `size` bytes each).
    fn items_part<T: Serialize>(
        &mut self,
        section: Section,
        items: impl ExactSizeIterator<Item = T>,
        size: usize,
    ) -> Result<Artifact, PluginError> {
        let mut out: Vec<u8> = Vec::with_capacity(items.len() * size);
        self.enter(section, &mut out);
        for item in items {
            self.item(&mut out);
            serde_json::to_writer(&mut out, &item)
                .map_err(|e| PluginError::other(e.to_string()))?;
        }
        Ok(self.artifact(out))
    }

    /// Like `items_part`, with each item written by `put` (the hand-written writers of `write.rs`).
    fn items_part_with<T>(
        &mut self,
        section: Section,
        items: &[T],
        size: usize,
        mut put: impl FnMut(&mut write::Writer, &T) -> Result<(), PluginError>,
    ) -> Result<Artifact, PluginError> {
        let mut out: Vec<u8> = Vec::with_capacity(items.len() * size);
        self.enter(section, &mut out);
        for item in items {
            self.item(&mut out);
            put(&mut write::Writer(&mut out), item)?;
        }
        Ok(self.artifact(out))
    }

    /// The separator before the next array item.
    fn item(&mut self, out: &mut Vec<u8>) {
        let text: &[u8] = match (self.items, self.config.pretty) {
            (0, true) => b"\n    ",
            (_, true) => b",\n    ",
            (0, false) => b"",
            (_, false) => b",",
        };
        out.extend_from_slice(text);
        self.items += 1;
    }
}

impl Output for Json {
    const NAME: &'static str = "json";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes report.json: capture summary, hosts, flows with tags, findings and the plugins that produced them.";
    const NEEDS_PAYLOAD: bool = false;
    const STREAMS_FINDINGS: bool = true;
    const STREAMS_HOSTS: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<Json, PluginError> {
        if config.file.is_empty() || config.file.contains("..") {
            return Err(PluginError::Config(vec![
                pcapxray_plugin_sdk::ConfigError {
                    key: "file".into(),
                    message: "must be a plain file name such as report.json".into(),
                },
            ]));
        }
        Ok(Json {
            config,
            section: Section::Start,
            items: 0,
            tags: BTreeMap::new(),
            flow_findings: 0,
            hosts: 0,
            rows: Vec::new(),
        })
    }

    /// Flows are streamed into the file as they come (one line each), so the plugin holds none.
    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.flow_findings += flows.iter().map(|f| f.findings.len() as u64).sum::<u64>();
        self.rows
            .extend(flows.iter().flat_map(tables::rows_of_flow));
        if !self.config.flows || flows.is_empty() {
            return Ok(Vec::new());
        }
        let part = self.items_part_with(Section::Flows, &flows, 768, |w, f| w.flow(f))?;
        Ok(vec![part])
    }

    /// The findings list is streamed too, into the `findings` array after the flows: findings about
    /// hosts and the capture, and the roll-ups of flow findings (with all their flows).
    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        self.rows.extend(tables::rows_of_records(&findings));
        for f in &findings {
            *self.tags.entry(f.finding.tag.clone()).or_default() += 1;
            // Flow findings raised after their flows were written (in an analyzer's finish) are
            // only here, rolled up: the findings on flows count them too.
            if !f.rollup && matches!(f.finding.subject, Subject::Flow(_)) {
                self.flow_findings += f.finding.occurrences();
            }
        }
        let items = findings.iter().map(record_json);
        Ok(vec![self.items_part(Section::Findings, items, 512)?])
    }

    /// Hosts are streamed too, into the `hosts` array after the findings.
    fn consume_hosts(&mut self, hosts: Vec<HostInfo>) -> Result<Vec<Artifact>, PluginError> {
        self.hosts += hosts.len();
        Ok(vec![self.items_part_with(
            Section::Hosts,
            &hosts,
            384,
            |w, h| w.host(h),
        )?])
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        let mut out =
            Vec::with_capacity(4096 + report.plugins.len() * 256 + report.queries.len() * 256);
        self.enter(Section::Hosts, &mut out);
        // Close the hosts array and splice the members of `rest` (a whole object) after it.
        out.extend_from_slice(match (self.items > 0, self.config.pretty) {
            (true, true) => b"\n  ],",
            _ => b"],",
        });
        let start = out.len();
        let mut rest = rest_json(&report, &self.tags, self.hosts, self.flow_findings);
        rest.files = table_json(&self.rows, Table::Files);
        rest.credentials = table_json(&self.rows, Table::Credentials);
        let encoded = if self.config.pretty {
            serde_json::to_writer_pretty(&mut out, &rest)
        } else {
            serde_json::to_writer(&mut out, &rest)
        };
        encoded.map_err(|e| PluginError::other(format!("cannot encode the report: {e}")))?;
        if out.get(start) == Some(&b'{') {
            out.remove(start);
        }
        out.push(b'\n');
        Ok(vec![self.artifact(out)])
    }
}

fn ts(t: u64) -> Option<String> {
    (t != 0).then(|| iso8601(t))
}

// The document's parts, serialized straight from the plugin's input (no intermediate `Value` tree:
// a capture can have hundreds of thousands of hosts and flows).

#[cfg(test)]
#[derive(Serialize)]
struct EndpointOut {
    ip: String,
    port: u16,
    mac: Option<String>,
}

#[cfg(test)]
#[derive(Serialize)]
struct DirectionOut {
    packets: u64,
    bytes: u64,
    payload_bytes: u64,
    tcp_flags: u8,
    ttl: u8,
}

/// One tunnel layer of a flow; `outer_client`/`outer_server` and `id` only where the layer has them.
#[derive(Serialize)]
struct TunnelOut {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
}

fn tunnel_json(t: &pcapxray_plugin_sdk::TunnelLayer) -> TunnelOut {
    TunnelOut {
        kind: t.kind.as_str(),
        outer_client: t.outer_client.map(|ip| ip.to_string()),
        outer_server: t.outer_server.map(|ip| ip.to_string()),
        id: t.id,
    }
}

#[cfg(test)]
#[derive(Serialize)]
struct FlowOut<'a> {
    id: u64,
    protocol: &'static str,
    client: EndpointOut,
    server: EndpointOut,
    start: Option<String>,
    end: Option<String>,
    duration_seconds: f64,
    vlan: &'a [u16],
    /// Omitted for flows that were not tunnelled, so their entries keep their shape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tunnel: Vec<TunnelOut>,
    orientation: &'static str,
    end_reason: &'static str,
    /// Zeek's connection state and history.
    conn_state: &'static str,
    history: &'a str,
    to_server: DirectionOut,
    to_client: DirectionOut,
    tags: Vec<&'a str>,
    findings: Vec<FindingOut<'a>>,
}

#[cfg(test)]
fn endpoint(e: &pcapxray_plugin_sdk::Endpoint) -> EndpointOut {
    EndpointOut {
        ip: e.ip.to_string(),
        port: e.port,
        mac: e.mac.map(pcapxray_plugin_sdk::format_mac),
    }
}

#[cfg(test)]
fn direction(d: &pcapxray_plugin_sdk::Direction) -> DirectionOut {
    DirectionOut {
        packets: d.packets,
        bytes: d.bytes,
        payload_bytes: d.payload_bytes,
        tcp_flags: d.tcp_flags,
        ttl: d.ttl,
    }
}

#[cfg(test)]
fn flow_json(f: &Flow) -> FlowOut<'_> {
    let mut tags: Vec<&str> = Vec::new();
    for r in &f.findings {
        if !tags.contains(&r.finding.tag.as_str()) {
            tags.push(&r.finding.tag);
        }
    }
    FlowOut {
        id: f.id,
        protocol: f.protocol.as_str(),
        client: endpoint(&f.client),
        server: endpoint(&f.server),
        start: ts(f.first_seen()),
        end: ts(f.last_seen()),
        duration_seconds: f.last_seen().saturating_sub(f.first_seen()) as f64 / 1e9,
        vlan: &f.vlan,
        tunnel: f.tunnel.iter().map(tunnel_json).collect(),
        orientation: f.orientation.as_str(),
        end_reason: f.end_reason.as_str(),
        conn_state: f.conn_state.as_str(),
        history: &f.history,
        to_server: direction(&f.to_server),
        to_client: direction(&f.to_client),
        tags,
        findings: f
            .findings
            .iter()
            .map(|r| finding_json(&r.stage, &r.finding))
            .collect(),
    }
}

#[derive(Serialize)]
struct NoteOut<'a> {
    stage: &'a str,
    key: &'a str,
    value: &'a str,
    observed: Option<String>,
}

#[cfg(test)]
#[derive(Serialize)]
struct HostOut<'a> {
    ip: String,
    class: &'static str,
    macs: Vec<String>,
    names: Vec<&'a str>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    packets_sent: u64,
    packets_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
    seen_in_arp: bool,
    notes: Vec<NoteOut<'a>>,
}

#[cfg(test)]
fn host_json(h: &pcapxray_plugin_sdk::HostInfo) -> HostOut<'_> {
    let names = h.names();
    HostOut {
        ip: h.ip.to_string(),
        class: pcapxray_plugin_sdk::net::IpClass::of(h.ip.into()).as_str(),
        macs: h
            .macs
            .iter()
            .map(|m| pcapxray_plugin_sdk::format_mac(*m))
            .collect(),
        names,
        first_seen: ts(h.first_seen),
        last_seen: ts(h.last_seen),
        packets_sent: h.packets_sent,
        packets_received: h.packets_received,
        bytes_sent: h.bytes_sent,
        bytes_received: h.bytes_received,
        seen_in_arp: h.seen_in_arp,
        notes: h
            .notes
            .iter()
            .map(|n| NoteOut {
                stage: &n.stage,
                key: &n.key,
                value: &n.value,
                observed: n.observed.map(iso8601),
            })
            .collect(),
    }
}

/// `{"flow": id}`, `{"host": ip}` or `"capture"`.
#[derive(Serialize)]
#[serde(untagged)]
enum SubjectOut {
    Flow { flow: u64 },
    Host { host: String },
    Capture(&'static str),
}

#[derive(Serialize)]
struct FindingOut<'a> {
    stage: &'a str,
    tag: &'a str,
    subject: SubjectOut,
    severity: &'static str,
    confidence: u8,
    summary: &'a str,
    attributes: Attributes<'a>,
    /// How many findings a roll-up (or a finding resting on several flows) stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    /// Every flow it rests on, ascending.
    #[serde(skip_serializing_if = "Option::is_none")]
    flows: Option<&'a [u64]>,
    /// True for a roll-up of flow findings (each of which is also under its flow's `findings`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    rollup: bool,
}

/// Attributes as a JSON object, in the order the plugin gave them.
struct Attributes<'a>(&'a [pcapxray_plugin_sdk::Attribute]);

impl Serialize for Attributes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|a| (&a.key, &a.value)))
    }
}

/// An entry of the top-level findings list: a roll-up carries its flows and how many findings it
/// stands for.
fn record_json(r: &FindingRecord) -> FindingOut<'_> {
    let mut out = finding_json(&r.stage, &r.finding);
    if !r.finding.flows.is_empty() {
        out.count = Some(r.finding.occurrences());
        out.flows = Some(&r.finding.flows);
    }
    out.rollup = r.rollup;
    out
}

fn finding_json<'a>(stage: &'a str, f: &'a Finding) -> FindingOut<'a> {
    let subject = match f.subject {
        Subject::Flow(id) => SubjectOut::Flow { flow: id },
        Subject::Host(ip) => SubjectOut::Host {
            host: ip.to_string(),
        },
        Subject::Capture => SubjectOut::Capture("capture"),
    };
    FindingOut {
        stage,
        tag: &f.tag,
        subject,
        severity: f.severity.as_str(),
        confidence: f.confidence,
        summary: &f.summary,
        attributes: Attributes(&f.attributes),
        count: None,
        flows: None,
        rollup: false,
    }
}

#[derive(Serialize)]
struct CaptureOut<'a> {
    file: &'a str,
    size: u64,
    sha256: &'a str,
    format: &'a str,
    format_details: &'a str,
    link_types: &'a [String],
    packets: u64,
    bytes: u64,
    first_packet: Option<String>,
    last_packet: Option<String>,
    duration_seconds: f64,
    /// What became of every packet; the counts sum to `packets`.
    packet_fates: Vec<FateOut<'a>>,
    /// Timestamps running backwards, jumping or out of range (empty when the clock looks sane).
    timestamp_anomalies: Vec<AnomalyOut<'a>>,
    read_error: Option<&'a str>,
    flows: u64,
}

#[derive(Serialize)]
struct FateOut<'a> {
    key: &'a str,
    label: &'a str,
    packets: u64,
}

#[derive(Serialize)]
struct AnomalyOut<'a> {
    kind: &'a str,
    packets: u64,
    first_packet_number: u64,
    first_timestamp: String,
    largest_step_seconds: f64,
    message: &'a str,
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    hosts: usize,
    /// Entries of the top-level `findings` list (a roll-up counts once).
    findings: usize,
    findings_by_tag: BTreeMap<&'a str, u64>,
    /// Findings on flows (`flows[].findings`), before they were rolled up.
    flow_findings: u64,
    /// Run notes.
    notes: usize,
}

#[derive(Serialize)]
struct RunNoteOut<'a> {
    stage: &'a str,
    key: &'a str,
    level: &'static str,
    message: &'a str,
    attributes: Attributes<'a>,
}

#[derive(Serialize)]
struct PluginOut<'a> {
    stage: &'a str,
    name: &'a str,
    version: &'a str,
    kind: &'static str,
    digest: String,
    error: Option<&'a str>,
}

/// Everything but the flows, the findings and the hosts, which were streamed before.
#[derive(Serialize)]
struct RestOut<'a> {
    capture: CaptureOut<'a>,
    summary: SummaryOut<'a>,
    plugins: Vec<PluginOut<'a>>,
    /// Every query sent on a plugin's behalf through a granted capability (empty when none was granted).
    queries: Vec<QueryOut<'a>>,
    /// Statements about the run, not the traffic: limits reached, capabilities missing.
    notes: Vec<RunNoteOut<'a>>,
    /// One entry per file carried over a flow (`files.*` findings), with every attribute.
    files: Vec<RowOut<'a>>,
    /// One entry per credential (`credentials.*` findings, and `cleartext.*` logins the credentials
    /// analyzer did not report), secrets whole.
    credentials: Vec<RowOut<'a>>,
}

/// A row of the files or credentials table.
#[derive(Serialize)]
struct RowOut<'a> {
    flow: u64,
    time: Option<&'a str>,
    client: &'a str,
    server: &'a str,
    stage: &'a str,
    tag: &'a str,
    severity: &'static str,
    summary: &'a str,
    attributes: Attributes<'a>,
}

fn table_json(rows: &[Row], table: Table) -> Vec<RowOut<'_>> {
    rows.iter()
        .filter(|r| r.table == table)
        .map(|r| RowOut {
            flow: r.flow,
            time: (!r.time.is_empty()).then_some(r.time.as_str()),
            client: &r.client,
            server: &r.server,
            stage: &r.stage,
            tag: &r.tag,
            severity: r.severity.as_str(),
            summary: &r.summary,
            attributes: Attributes(&r.attributes),
        })
        .collect()
}

#[derive(Serialize)]
struct QueryOut<'a> {
    stage: &'a str,
    capability: &'a str,
    query: &'a str,
    server: &'a str,
    answer: &'a str,
    sent: Option<String>,
}

fn rest_json<'a>(
    report: &'a Report,
    flow_tags: &'a BTreeMap<String, u64>,
    hosts: usize,
    flow_findings: u64,
) -> RestOut<'a> {
    let by_tag: BTreeMap<&str, u64> = flow_tags.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let findings = by_tag.values().sum::<u64>() as usize;
    let c = &report.capture;
    RestOut {
        capture: CaptureOut {
            file: &c.file,
            size: c.size,
            sha256: &c.sha256,
            format: &c.format,
            format_details: &c.format_details,
            link_types: &c.link_types,
            packets: c.packets,
            bytes: c.bytes,
            first_packet: ts(c.first_packet),
            last_packet: ts(c.last_packet),
            duration_seconds: c.last_packet.saturating_sub(c.first_packet) as f64 / 1e9,
            packet_fates: c
                .packet_fates
                .iter()
                .map(|f| FateOut {
                    key: &f.key,
                    label: &f.label,
                    packets: f.packets,
                })
                .collect(),
            timestamp_anomalies: c
                .timestamp_anomalies
                .iter()
                .map(|a| AnomalyOut {
                    kind: &a.kind,
                    packets: a.packets,
                    first_packet_number: a.first_packet_number,
                    first_timestamp: iso8601(a.first_timestamp),
                    largest_step_seconds: a.largest_step as f64 / 1e9,
                    message: &a.message,
                })
                .collect(),
            read_error: c.read_error.as_deref(),
            flows: c.flows,
        },
        summary: SummaryOut {
            hosts,
            findings,
            findings_by_tag: by_tag,
            flow_findings,
            notes: report.notes.len(),
        },
        notes: report
            .notes
            .iter()
            .map(|n| RunNoteOut {
                stage: &n.stage,
                key: &n.note.key,
                level: n.note.level.as_str(),
                message: &n.note.message,
                attributes: Attributes(&n.note.attributes),
            })
            .collect(),
        plugins: report
            .plugins
            .iter()
            .map(|p| PluginOut {
                stage: &p.stage,
                name: &p.name,
                version: &p.version,
                kind: p.kind.as_str(),
                digest: format!("sha256:{}", p.digest),
                error: p.error.as_deref(),
            })
            .collect(),
        queries: report
            .queries
            .iter()
            .map(|q| QueryOut {
                stage: &q.stage,
                capability: &q.capability,
                query: &q.query,
                server: &q.server,
                answer: &q.answer,
                sent: ts(q.sent),
            })
            .collect(),
        files: Vec::new(),
        credentials: Vec::new(),
    }
}

pcapxray_plugin_sdk::export_output!(Json);

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn the_schema_version_written_is_the_constant() {
        let v: serde_json::Value =
            serde_json::from_str(&format!("{{{}\"x\":0}}", SCHEMA_COMPACT)).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        let v: serde_json::Value =
            serde_json::from_str(&format!("{{{}\"x\":0}}", SCHEMA_PRETTY)).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
    }
}
