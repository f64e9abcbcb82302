//! What the case page explores, in the least bytes: report.json carries every field of every flow for
//! other tools (a 1 GB capture gives a report.json of well over 100 MB, too much for a page to fetch
//! and parse in seconds), while the page needs a dozen fields per flow. This module writes, once per
//! report, `explore.json` beside the case's `report/` folder: the flows as rows of those fields, and the
//! hosts, findings (without roll-ups, which repeat flow findings), notes and capture facts as
//! report.json has them. It is derived, never the truth:
//! it is made again whenever report.json is newer, and a case without it still works.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The columns of a flow row, in order; the page reads them by these names.
pub const FLOW_COLUMNS: [&str; 17] = [
    "id",
    "protocol",
    "client_ip",
    "client_port",
    "client_mac",
    "server_ip",
    "server_port",
    "start",
    "end",
    "duration_seconds",
    "conn_state",
    "history",
    "to_server_packets",
    "to_server_bytes",
    "to_client_packets",
    "to_client_bytes",
    "tags",
];

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    flows: Option<Vec<Flow>>,
    #[serde(default)]
    findings: Vec<Value>,
    #[serde(default)]
    hosts: Vec<Value>,
    #[serde(default)]
    capture: Value,
    #[serde(default)]
    notes: Vec<Value>,
}

#[derive(Deserialize)]
struct Flow {
    id: u64,
    protocol: String,
    client: Endpoint,
    server: Endpoint,
    start: Option<String>,
    end: Option<String>,
    #[serde(default)]
    duration_seconds: f64,
    #[serde(default)]
    conn_state: String,
    #[serde(default)]
    history: String,
    to_server: Direction,
    to_client: Direction,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    findings: Vec<Value>,
}

#[derive(Deserialize)]
struct Endpoint {
    ip: String,
    port: u16,
    #[serde(default)]
    mac: Option<String>,
}

#[derive(Deserialize)]
struct Direction {
    packets: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Model<'a> {
    /// What the page checks before reading the rest.
    format: &'static str,
    columns: &'a [&'a str],
    /// `null` when report.json was written without flows.
    flows: Option<Vec<Value>>,
    /// The findings of each flow that report.json lists on the flow: `[flow id, [finding, ...]]`.
    flow_findings: Vec<(u64, Vec<Value>)>,
    findings: Vec<Value>,
    hosts: Vec<Value>,
    capture: Value,
    notes: Vec<Value>,
}

fn row(f: &Flow) -> Value {
    serde_json::json!([
        f.id,
        f.protocol,
        f.client.ip,
        f.client.port,
        f.client.mac,
        f.server.ip,
        f.server.port,
        f.start,
        f.end,
        f.duration_seconds,
        f.conn_state,
        f.history,
        f.to_server.packets,
        f.to_server.bytes,
        f.to_client.packets,
        f.to_client.bytes,
        f.tags
    ])
}

/// The explore model of a case, made from its report.json when missing or older. `None` when the case
/// has no report.json (the page then says there is nothing to explore).
pub fn model(case_dir: &Path) -> io::Result<Option<PathBuf>> {
    let report = case_dir.join("report").join("report.json");
    let model = case_dir.join("explore.json");
    let Ok(source) = std::fs::metadata(&report) else {
        return Ok(None);
    };
    let fresh = std::fs::metadata(&model)
        .and_then(|m| Ok(m.modified()? >= source.modified()?))
        .unwrap_or(false)
        && current_format(&model);
    if !fresh {
        write(&report, &model)?;
    }
    Ok(Some(model))
}

/// What the page checks first; a model of another format (an older server's) is made again.
const FORMAT: &str = "pcapxray-explore-2";

/// Whether a model file starts with this server's format (serde writes `format` first).
fn current_format(model: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(model)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n].starts_with(format!("{{\"format\":\"{FORMAT}\"").as_bytes())
}

fn write(report: &Path, model: &Path) -> io::Result<()> {
    let file = std::fs::File::open(report)?;
    let report: Report = serde_json::from_reader(BufReader::new(file)).map_err(io::Error::other)?;
    let flows = report.flows.as_deref().unwrap_or_default();
    let out = Model {
        format: FORMAT,
        columns: &FLOW_COLUMNS,
        flows: report
            .flows
            .as_ref()
            .map(|_| flows.iter().map(row).collect()),
        flow_findings: flows
            .iter()
            .filter(|f| !f.findings.is_empty())
            .map(|f| (f.id, f.findings.clone()))
            .collect(),
        // Roll-ups repeat flow findings for the report's readers; the page lists each flow's own.
        findings: report
            .findings
            .into_iter()
            .filter(|x| x.get("rollup") != Some(&Value::Bool(true)))
            .collect(),
        hosts: report.hosts,
        capture: report.capture,
        notes: report.notes,
    };
    let tmp = model.with_file_name(".explore.json.tmp");
    let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
    serde_json::to_writer(&mut w, &out).map_err(io::Error::other)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, model)
}
