//! What the case page explores, in the least bytes: report.json carries every field of every flow for
//! other tools (a 1 GB capture gives a report.json of well over 100 MB, too much for a page to fetch
//! and parse in seconds), while the page needs a dozen fields per flow. This module writes, once per
//! report, `explore.json` beside the case's `report/` folder: the flows as rows of those fields, and the
//! hosts, findings (without roll-ups, which repeat flow findings), notes and capture facts as
//! report.json has them; the attributes of the flows' findings (more than half of the bytes) go to
//! `explore-details.json`, which the page reads after it has drawn. It is derived, never the truth:
//! it is made again whenever report.json is newer, and a case without it still works.
//!
//! The files and credentials tables are report.json's `files` and `credentials` (the SDK's `tables`
//! rows). Secrets never reach the page with the model: each credential's `secret` (and any finding
//! attribute named `secret`) is replaced by a mask, and the secrets are kept apart in `secrets.json`,
//! which the server hands out one at a time when the investigator asks ([`secret`]).

use super::evidence::micros;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The columns of a flow row, in order; the page reads them by these names. `t0` and `t1` are
/// `start` and `end` in microseconds since the epoch (`null` when missing), so the page does not
/// parse a quarter of a million time stamps before it can draw.
pub const FLOW_COLUMNS: [&str; 19] = [
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
    "t0",
    "t1",
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
    #[serde(default)]
    files: Vec<Value>,
    #[serde(default)]
    credentials: Vec<Value>,
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
    /// The findings of each flow that report.json lists on the flow: `[flow id, [finding, ...]]`,
    /// without their `attributes` (most of the bytes), which `explore-details.json` holds.
    flow_findings: Vec<(u64, Vec<Value>)>,
    findings: Vec<Value>,
    hosts: Vec<Value>,
    capture: Value,
    notes: Vec<Value>,
    /// report.json's files table.
    files: Vec<Value>,
    /// report.json's credentials table, each `secret` masked; `secret_index` says which entry of
    /// `secrets.json` holds it.
    credentials: Vec<Value>,
}

/// The attribute holding a secret (the SDK's `tables::SECRET`).
const SECRET: &str = "secret";
/// What the page shows in place of a secret (the SDK's `tables::MASK`).
const MASK: &str = "\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}";

/// Masks the secret in a finding's or a row's `attributes`, returning it.
fn take_secret(item: &mut Value) -> Option<String> {
    let attrs = item.get_mut("attributes")?.as_object_mut()?;
    let secret = attrs.get_mut(SECRET)?;
    let text = secret.as_str().filter(|s| !s.is_empty())?.to_string();
    *secret = Value::String(MASK.into());
    Some(text)
}

/// The credentials with their secrets masked, and the secrets.
fn split_secrets(mut credentials: Vec<Value>) -> (Vec<Value>, Vec<String>) {
    let mut secrets = Vec::new();
    for c in &mut credentials {
        if let Some(secret) = take_secret(c) {
            c["secret_index"] = Value::from(secrets.len());
            secrets.push(secret);
        }
    }
    (credentials, secrets)
}

/// Secret `index` of a case's credentials table, once its model was made.
pub fn secret(case_dir: &Path, index: usize) -> Option<String> {
    model(case_dir).ok()??;
    let text = std::fs::read(case_dir.join("secrets.json")).ok()?;
    let secrets: Vec<String> = serde_json::from_slice(&text).ok()?;
    secrets.into_iter().nth(index)
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
        f.tags,
        f.start.as_deref().and_then(micros),
        f.end.as_deref().and_then(micros)
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
const FORMAT: &str = "pcapxray-explore-4";

/// The attributes of the flows' findings, in `flow_findings`' order: what the page reads after it
/// has drawn the first picture (the evidence, DNS and web columns).
#[derive(Serialize)]
struct Details {
    format: &'static str,
    /// `[flow id, [attributes of its first finding, of its second, ...]]`.
    flow_attributes: Vec<(u64, Vec<Value>)>,
}

/// The details file of a case's model (made with the model).
pub fn details(case_dir: &Path) -> io::Result<Option<PathBuf>> {
    Ok(model(case_dir)?.map(|m| m.with_file_name(DETAILS)))
}
const DETAILS: &str = "explore-details.json";

/// A flow's findings without their attributes, and the attributes.
fn split_attributes(findings: &[Value]) -> (Vec<Value>, Vec<Value>) {
    findings
        .iter()
        .map(|x| {
            let mut x = x.clone();
            let attributes = x
                .as_object_mut()
                .and_then(|o| o.remove("attributes"))
                .unwrap_or(Value::Null);
            (x, attributes)
        })
        .unzip()
}

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
    let mut report: Report =
        serde_json::from_reader(BufReader::new(file)).map_err(io::Error::other)?;
    let (credentials, secrets) = split_secrets(std::mem::take(&mut report.credentials));
    // A finding's own `secret` attribute is masked too; the credentials table reveals it.
    let mut flows = report.flows.take();
    for f in flows.iter_mut().flatten() {
        f.findings.iter_mut().for_each(|x| drop(take_secret(x)));
    }
    report.flows = flows;
    report
        .findings
        .iter_mut()
        .for_each(|x| drop(take_secret(x)));
    write_atomic(&model.with_file_name("secrets.json"), &secrets)?;
    let flows = report.flows.as_deref().unwrap_or_default();
    let (flow_findings, flow_attributes) = flows
        .iter()
        .filter(|f| !f.findings.is_empty())
        .map(|f| {
            let (findings, attributes) = split_attributes(&f.findings);
            ((f.id, findings), (f.id, attributes))
        })
        .unzip();
    write_atomic(
        &model.with_file_name(DETAILS),
        &Details {
            format: FORMAT,
            flow_attributes,
        },
    )?;
    let out = Model {
        format: FORMAT,
        columns: &FLOW_COLUMNS,
        flows: report
            .flows
            .as_ref()
            .map(|_| flows.iter().map(row).collect()),
        flow_findings,
        // Roll-ups repeat flow findings for the report's readers; the page lists each flow's own.
        findings: report
            .findings
            .into_iter()
            .filter(|x| x.get("rollup") != Some(&Value::Bool(true)))
            .collect(),
        hosts: report.hosts,
        capture: report.capture,
        notes: report.notes,
        files: report.files,
        credentials,
    };
    write_atomic(model, &out)
}

/// Writes `value` as JSON into `path` through a temporary file beside it.
fn write_atomic(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("model");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
    serde_json::to_writer(&mut w, value).map_err(io::Error::other)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)
}
