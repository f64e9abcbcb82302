//! What the case page explores, in the least bytes: report.json carries every field of every flow for
//! other tools (a 1 GB capture gives a report.json of well over 100 MB, too much for a page to fetch
//! and parse in seconds), while the page needs a dozen fields per flow. This module writes, once per
//! report, `explore.json` beside the case's `report/` folder: the flows and the hosts as columns (one
//! array per field, texts as indexes into one list of distinct texts, times as microsecond offsets:
//! a browser parses arrays of numbers many times faster than as many small objects), and the findings (without roll-ups, which
//! repeat flow findings), notes and capture facts as report.json has them; the attributes of the flows' findings (more than half of the bytes) go to
//! `explore-details.json`, which the page reads after it has drawn. It is derived, never the truth:
//! it is made again whenever report.json is newer, and a case without it still works.
//!
//! The files and credentials tables are report.json's `files` and `credentials` (the SDK's `tables`
//! rows). Secrets never reach the page with the model: each credential's `secret` (and any finding
//! attribute named `secret`) is replaced by a mask, and the secrets are kept apart in `secrets.json`,
//! which the server hands out one at a time when the investigator asks ([`secret`]).

use super::evidence::{iso_micros, micros};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    flows: Option<ReadFlows>,
    #[serde(default)]
    findings: WithoutRollups,
    #[serde(default)]
    hosts: Gathered,
    #[serde(default)]
    capture: Value,
    #[serde(default)]
    notes: Vec<Value>,
    #[serde(default)]
    files: Vec<Value>,
    #[serde(default)]
    credentials: Vec<Value>,
}

/// report.json's findings without the roll-ups (`"rollup": true`), each dropped as soon as it is read:
/// they repeat the flows' own findings with complete lists of flows, a quarter of a big report.
#[derive(Default)]
struct WithoutRollups(Vec<Value>);

impl Each<Value> for WithoutRollups {
    fn take(&mut self, finding: Value) {
        if finding.get("rollup") != Some(&Value::Bool(true)) {
            self.0.push(finding);
        }
    }
}

impl<'de> Deserialize<'de> for WithoutRollups {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EachOf::<Self, Value>::new("a list of findings"))
    }
}

/// What takes the elements of a JSON list one at a time as they are read (see [`EachOf`]).
trait Each<T> {
    fn take(&mut self, item: T);
}

/// Reads a JSON list into an [`Each`], element by element, so that no element outlives its turn.
struct EachOf<S, T> {
    expecting: &'static str,
    kind: std::marker::PhantomData<(S, T)>,
}

impl<S, T> EachOf<S, T> {
    fn new(expecting: &'static str) -> Self {
        EachOf {
            expecting,
            kind: std::marker::PhantomData,
        }
    }
}

impl<'de, S: Each<T> + Default, T: Deserialize<'de>> serde::de::Visitor<'de> for EachOf<S, T> {
    type Value = S;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<S, A::Error> {
        let mut sink = S::default();
        while let Some(item) = seq.next_element::<T>()? {
            sink.take(item);
        }
        Ok(sink)
    }
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
struct Model {
    /// What the page checks before reading the rest.
    format: &'static str,
    /// Microseconds since the epoch that the columns' times count from.
    base: u64,
    /// Every text the flow and host columns name by its index here, each once.
    strings: Vec<String>,
    /// `null` when report.json was written without flows.
    flows: Option<FlowColumns>,
    /// The findings that report.json lists on its flows, without their `attributes` (most of the
    /// bytes), which `explore-details.json` holds; `flow_findings_of` names each one's flow.
    flow_findings: Columns,
    flow_findings_of: Vec<u64>,
    findings: Vec<Value>,
    hosts: Columns,
    capture: Value,
    notes: Vec<Value>,
    /// report.json's files table.
    files: Vec<Value>,
    /// report.json's credentials table, each `secret` masked; `secret_index` says which entry of
    /// `secrets.json` holds it.
    credentials: Vec<Value>,
}

/// Texts by index, each kept once: a capture of 130,000 flows names a few thousand protocols,
/// addresses, states and tag lists over and over.
#[derive(Default)]
struct Strings {
    index: HashMap<String, u32>,
    list: Vec<String>,
}

impl Strings {
    fn of(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.index.insert(text.to_string(), i);
        self.list.push(text.to_string());
        i
    }
}

/// The flows, one array per field, each the length of the flow list (the page reads a column of
/// numbers many times faster than as many small objects). Texts are indexes into `strings`; `tags`
/// indexes `tag_sets`. Times are numbers, not texts, so the page neither reads nor parses a quarter
/// of a million time stamps before it can draw: `t0` is `start` in microseconds after the model's
/// `base` and `t1` is `end` in microseconds after `start` (after `base` when a flow has no start),
/// `null` when missing. A flow's `start` and `duration_seconds` as report.json writes them follow
/// from those, and only the flows where they do not are listed, in `starts` and `durations`.
#[derive(Serialize, Default)]
struct FlowColumns {
    id: Vec<u64>,
    protocol: Vec<u32>,
    client_ip: Vec<u32>,
    client_port: Vec<u16>,
    client_mac: Vec<Option<u32>>,
    server_ip: Vec<u32>,
    server_port: Vec<u16>,
    t0: Vec<Option<u64>>,
    t1: Vec<Option<i64>>,
    conn_state: Vec<u32>,
    history: Vec<u32>,
    to_server_packets: Vec<u64>,
    to_server_bytes: Vec<u64>,
    to_client_packets: Vec<u64>,
    to_client_bytes: Vec<u64>,
    tags: Vec<u32>,
    /// Each distinct list of tags once.
    tag_sets: Vec<Vec<String>>,
    /// By flow index, a `start` that is not `t0` written as reports write times.
    starts: BTreeMap<usize, Option<String>>,
    /// By flow index, a `duration_seconds` that is not `t1 - t0` in seconds (0 without a start).
    durations: BTreeMap<usize, f64>,
    /// While reading: each flow's start and end in microseconds since the epoch (`t0` and `t1`
    /// once the earliest start is known), and the index of each list of tags.
    #[serde(skip)]
    start_end: Vec<(Option<u64>, Option<u64>)>,
    #[serde(skip)]
    sets: HashMap<Vec<String>, u32>,
}

/// `b - a` in microseconds, for the model's offsets.
fn offset(a: u64, b: u64) -> i64 {
    (i128::from(b) - i128::from(a)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl FlowColumns {
    fn push(&mut self, f: &Flow, strings: &mut Strings) {
        let c = self;
        let i = c.id.len();
        c.id.push(f.id);
        c.protocol.push(strings.of(&f.protocol));
        c.client_ip.push(strings.of(&f.client.ip));
        c.client_port.push(f.client.port);
        c.client_mac
            .push(f.client.mac.as_deref().map(|m| strings.of(m)));
        c.server_ip.push(strings.of(&f.server.ip));
        c.server_port.push(f.server.port);
        let start = f.start.as_deref().and_then(micros);
        let end = f.end.as_deref().and_then(micros);
        c.start_end.push((start, end));
        if start.map(iso_micros) != f.start {
            c.starts.insert(i, f.start.clone());
        }
        // What the page works out: `end - start`, an end missing being the start.
        let derived = start.map_or(0.0, |s| offset(s, end.unwrap_or(s)) as f64 / 1e6);
        if derived.to_bits() != f.duration_seconds.to_bits() {
            c.durations.insert(i, f.duration_seconds);
        }
        c.conn_state.push(strings.of(&f.conn_state));
        c.history.push(strings.of(&f.history));
        c.to_server_packets.push(f.to_server.packets);
        c.to_server_bytes.push(f.to_server.bytes);
        c.to_client_packets.push(f.to_client.packets);
        c.to_client_bytes.push(f.to_client.bytes);
        let set = match c.sets.get(&f.tags) {
            Some(&set) => set,
            None => {
                let next = u32::try_from(c.tag_sets.len()).unwrap_or(u32::MAX);
                c.sets.insert(f.tags.clone(), next);
                c.tag_sets.push(f.tags.clone());
                next
            }
        };
        c.tags.push(set);
    }

    /// The times as offsets from the earliest start, which is returned (0 without one).
    fn finish(&mut self) -> u64 {
        let base = self
            .start_end
            .iter()
            .filter_map(|(start, _)| *start)
            .min()
            .unwrap_or(0);
        for (start, end) in std::mem::take(&mut self.start_end) {
            self.t0.push(start.map(|t| t - base));
            self.t1.push(end.map(|e| offset(start.unwrap_or(base), e)));
        }
        base
    }
}

/// report.json's flows, read one at a time into the model's columns, the flows' findings without
/// their attributes and, apart, those attributes: a big report holds a hundred thousand flows, and
/// none is kept whole.
#[derive(Default)]
struct ReadFlows {
    strings: Strings,
    columns: FlowColumns,
    /// The flows' findings without `attributes`, in order, and the flow of each.
    findings: Gathered,
    findings_of: Vec<u64>,
    /// The attributes of each of `findings`, by index into `texts` (see [`Details`]).
    texts: Strings,
    attributes: Vec<Option<Vec<Value>>>,
}

impl Each<Flow> for ReadFlows {
    fn take(&mut self, mut f: Flow) {
        self.columns.push(&f, &mut self.strings);
        for mut x in std::mem::take(&mut f.findings) {
            // A finding's own `secret` attribute is masked; the credentials table reveals it.
            drop(take_secret(&mut x));
            let attributes = x
                .as_object_mut()
                .and_then(|o| o.remove("attributes"))
                .unwrap_or(Value::Null);
            self.attributes
                .push(attribute_pairs(&attributes, &mut self.texts));
            self.findings.take(without_own_subject(x, f.id));
            self.findings_of.push(f.id);
        }
    }
}

impl<'de> Deserialize<'de> for ReadFlows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EachOf::<Self, Flow>::new("a list of flows"))
    }
}

/// A list of report.json's objects (hosts, findings), one array per field (every field any object
/// has, `null` where one lacks it); a field whose values are all texts holds indexes into `strings`
/// and is listed in `texts`, unless, given a `base`, they are all times as reports write them: then it
/// holds microseconds after `base` (the model's) and is listed in `times`.
#[derive(Serialize, Default)]
struct Columns {
    count: usize,
    columns: serde_json::Map<String, Value>,
    texts: Vec<String>,
    times: Vec<String>,
}

impl Columns {
    fn new(gathered: Gathered, base: Option<u64>, strings: &mut Strings) -> Columns {
        let mut out = Columns {
            count: gathered.count,
            ..Columns::default()
        };
        for (key, column) in gathered.fields {
            let texts = column.iter().all(|v| v.is_string() || v.is_null());
            // Every time reads back to the same text, or the column stays texts; each cell is read
            // once.
            let time = |v: &Value| -> Option<Value> {
                if v.is_null() {
                    return Some(Value::Null);
                }
                let (base, t) = (base?, micros(v.as_str()?)?);
                (v.as_str() == Some(iso_micros(t).as_str())).then(|| offset(base, t).into())
            };
            let times = match base {
                Some(_) if texts && column.iter().any(|v| !v.is_null()) => {
                    column.iter().map(time).collect::<Option<Vec<Value>>>()
                }
                _ => None,
            };
            let column = if let Some(times) = times {
                out.times.push(key.clone());
                times
            } else if texts {
                out.texts.push(key.clone());
                column
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map_or(Value::Null, |s| Value::from(strings.of(s)))
                    })
                    .collect()
            } else {
                column
            };
            out.columns.insert(key, Value::Array(column));
        }
        out
    }
}

/// Objects gathered into one list of values per field as they are read, each object taken apart at
/// once (a million hosts as a million maps took gigabytes): the fields in the order they first
/// appear, `null` where an object lacks one.
#[derive(Default)]
struct Gathered {
    count: usize,
    fields: Vec<(String, Vec<Value>)>,
    index: HashMap<String, usize>,
}

impl Each<Value> for Gathered {
    fn take(&mut self, item: Value) {
        if let Value::Object(map) = item {
            for (key, value) in map {
                let i = match self.index.get(&key) {
                    Some(&i) => i,
                    None => {
                        self.fields
                            .push((key.clone(), vec![Value::Null; self.count]));
                        self.index.insert(key, self.fields.len() - 1);
                        self.fields.len() - 1
                    }
                };
                self.fields[i].1.push(value);
            }
        }
        self.count += 1;
        for (_, column) in &mut self.fields {
            if column.len() < self.count {
                column.push(Value::Null);
            }
        }
    }
}

impl<'de> Deserialize<'de> for Gathered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EachOf::<Self, Value>::new("a list of objects"))
    }
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
        let written = write(&report, &model);
        release_freed_memory();
        written?;
    }
    Ok(Some(model))
}

/// Hands the heap's free pages back to the system. Reading a big report.json takes a few hundred MB
/// for a few seconds; glibc would keep them in the server for good, and a browser opening the case
/// next would have to be given other memory, which on a virtual machine can be many times slower to
/// touch the first time (measured: a page opened right after an analysis took twice as long).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory at the heaps' ends and between their chunks to
    // the kernel; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the page checks first; a model of another format (an older server's) is made again.
const FORMAT: &str = "pcapxray-explore-6";

/// The attributes of the flows' findings, in `flow_findings`' order: what the page reads after it
/// has drawn the first picture (the evidence, DNS and web columns).
#[derive(Serialize)]
struct Details {
    format: &'static str,
    /// Every key and text value the attributes name by index here, each once (a capture of
    /// 80,000 findings holds a few thousand distinct values).
    strings: Vec<String>,
    /// For each finding of `flow_findings`, in order, its attributes as `[key, value, key, value,
    /// ...]` (`null` when it has none): a key is an index into `strings`, and so is a value when a
    /// number; a value of another kind comes as a one-element array holding it.
    flow_attributes: Vec<Option<Vec<Value>>>,
}

/// A finding's attributes as `[key, value, ...]` by index into `strings` (see [`Details`]).
fn attribute_pairs(attributes: &Value, strings: &mut Strings) -> Option<Vec<Value>> {
    let pairs = attributes.as_object()?.iter().flat_map(|(k, v)| {
        let value = match v.as_str() {
            Some(text) => Value::from(strings.of(text)),
            None => Value::Array(vec![v.clone()]),
        };
        [Value::from(strings.of(k)), value]
    });
    Some(pairs.collect())
}

/// The details file of a case's model (made with the model).
pub fn details(case_dir: &Path) -> io::Result<Option<PathBuf>> {
    Ok(model(case_dir)?.map(|m| m.with_file_name(DETAILS)))
}
const DETAILS: &str = "explore-details.json";

/// A flow's finding without its `subject` when that is the flow itself; `false` when it has none.
fn without_own_subject(mut finding: Value, flow: u64) -> Value {
    if let Some(o) = finding.as_object_mut() {
        match o.get("subject") {
            None => drop(o.insert("subject".into(), Value::Bool(false))),
            Some(s) if *s == serde_json::json!({ "flow": flow }) => drop(o.remove("subject")),
            Some(_) => {}
        }
    }
    finding
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
    report
        .findings
        .0
        .iter_mut()
        .for_each(|x| drop(take_secret(x)));
    write_atomic(&model.with_file_name("secrets.json"), &secrets)?;
    let has_flows = report.flows.is_some();
    let mut flows = report.flows.take().unwrap_or_default();
    write_atomic(
        &model.with_file_name(DETAILS),
        &Details {
            format: FORMAT,
            strings: std::mem::take(&mut flows.texts.list),
            flow_attributes: std::mem::take(&mut flows.attributes),
        },
    )?;
    let base = flows.columns.finish();
    let mut strings = std::mem::take(&mut flows.strings);
    let out = Model {
        format: FORMAT,
        base,
        flow_findings: Columns::new(flows.findings, None, &mut strings),
        flow_findings_of: flows.findings_of,
        flows: has_flows.then_some(flows.columns),
        // Roll-ups repeat flow findings for the report's readers; the page lists each flow's own.
        findings: report.findings.0,
        hosts: Columns::new(report.hosts, Some(base), &mut strings),
        strings: Vec::new(),
        capture: report.capture,
        notes: report.notes,
        files: report.files,
        credentials,
    };
    write_atomic(
        model,
        &Model {
            strings: strings.list,
            ..out
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow(
        id: u64,
        start: Option<&str>,
        end: Option<&str>,
        duration: f64,
        findings: Value,
    ) -> Value {
        json!({
            "id": id, "protocol": "tcp",
            "client": { "ip": "10.0.0.1", "port": 1024, "mac": null },
            "server": { "ip": "10.0.0.2", "port": 80 },
            "start": start, "end": end, "duration_seconds": duration,
            "conn_state": "SF", "history": "ShADadFf",
            "to_server": { "packets": 1, "bytes": 60 }, "to_client": { "packets": 1, "bytes": 60 },
            "tags": [], "findings": findings,
        })
    }

    /// The model's times are offsets, and only what they cannot give back is listed: a start not in
    /// the reports' own form, a duration finer than a microsecond. Roll-ups are left out, and a
    /// finding names its flow only when it is about another subject.
    #[test]
    fn times_are_offsets_with_exceptions_and_rollups_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("report")).unwrap();
        let own =
            json!({ "tag": "web.http", "subject": { "flow": 2 }, "attributes": { "a": "1" } });
        let other = json!({ "tag": "beacon", "subject": { "host": "10.0.0.1" } });
        let report = json!({
            "flows": [
                flow(1, Some("2024-01-01T00:00:01.000000Z"), Some("2024-01-01T00:00:03.500000Z"), 2.5, json!([])),
                // Nanoseconds in the duration; a start written another way.
                flow(2, Some("2024-01-01T00:00:00.000002Z"), Some("2024-01-01T00:00:00.000003Z"), 0.0000012, json!([own, other])),
                flow(3, Some("2024-01-01T00:00:02Z"), None, 0.0, json!([])),
            ],
            "findings": [
                { "tag": "beacon", "rollup": true, "flows": [1, 2, 3] },
                { "tag": "behaviour.port-scan", "subject": { "host": "10.0.0.1" } },
            ],
            "hosts": [
                { "ip": "10.0.0.1", "first_seen": "2024-01-01T00:00:00.000002Z" },
                // Fields in another order, one missing, one more.
                { "seen_in_arp": true, "ip": "10.0.0.2" },
            ],
        });
        std::fs::write(dir.path().join("report/report.json"), report.to_string()).unwrap();
        let path = model(dir.path()).unwrap().unwrap();
        let m: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let base = micros("2024-01-01T00:00:00.000002Z").unwrap();
        assert_eq!(m["base"], base);
        let flows = &m["flows"];
        assert_eq!(flows["t0"], json!([999_998, 0, 1_999_998]));
        assert_eq!(flows["t1"], json!([2_500_000, 1, null]));
        assert_eq!(flows["starts"], json!({ "2": "2024-01-01T00:00:02Z" }));
        assert_eq!(flows["durations"], json!({ "1": 0.0000012 }));
        // The flow's own finding lost its subject and its attributes; the other kept its subject.
        assert_eq!(m["flow_findings_of"], json!([2, 2]));
        let subjects = &m["flow_findings"]["columns"]["subject"];
        assert_eq!(subjects, &json!([null, { "host": "10.0.0.1" }]));
        assert!(m["flow_findings"]["columns"].get("attributes").is_none());
        assert_eq!(
            m["findings"].as_array().unwrap().len(),
            1,
            "{}",
            m["findings"]
        );
        let hosts = &m["hosts"];
        assert_eq!(hosts["count"], 2);
        assert_eq!(hosts["times"], json!(["first_seen"]));
        assert_eq!(hosts["texts"], json!(["ip"]));
        assert_eq!(hosts["columns"]["first_seen"], json!([0, null]));
        assert_eq!(hosts["columns"]["seen_in_arp"], json!([null, true]));
        let strings = m["strings"].as_array().unwrap();
        let ips: Vec<&Value> = hosts["columns"]["ip"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &strings[i.as_u64().unwrap() as usize])
            .collect();
        assert_eq!(ips, [&json!("10.0.0.1"), &json!("10.0.0.2")]);
        let details: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("explore-details.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(details["flow_attributes"].as_array().unwrap().len(), 2);
    }
}
