//! The lake: what one run found, as Parquet tables (`flows`, `findings`, `host_observations`, `files`,
//! `captures`) in a folder partitioned by sensor, date and capture, for Spark, DuckDB or Trino to query
//! across many captures. The host writes it, not a plugin: Parquet's zstd codec is C code that a
//! `wasm32-wasip2` plugin cannot build without clang (docs/lake.md). Its promise is the job contract of
//! `layout`: ids derived from content (`ids`) and a capture's partitions replaced whole, so a run
//! repeated by an engine's retry leaves the lake as one run would.
//!
//! Flows are written as they come; findings, hosts and the capture row at the end, when the capture's
//! hash and plugin versions are known.

mod ids;
mod layout;
pub mod merge;
pub mod read;
pub mod schema;
mod table;

use crate::bindings::wit;
pub use schema::FlowEdge;
use schema::{mac_text, micros};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use table::{Columns, ParquetFile, Rows, Value};

/// Why the lake could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(
        "sensor name `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`"
    )]
    Sensor(String),
    #[error("cannot {what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot move {} to {}: {error}", from.display(), to.display())]
    Move {
        from: PathBuf,
        to: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    Parquet {
        path: PathBuf,
        error: parquet::errors::ParquetError,
    },
    #[error("the flows file is closed")]
    Closed,
    #[error("{} is not a pcapxray lake (it has no `captures` folder); make one with `pcapxray run PIPELINE CAPTURE --lake ROOT`", .0.display())]
    NotALake(PathBuf),
    #[error("{}: column `{column}` is missing or not {expected}", path.display())]
    Column {
        path: PathBuf,
        column: String,
        expected: String,
    },
    #[error("{}: column `{column}` holds `{value}`, which is not what the lake writes", path.display())]
    Value {
        path: PathBuf,
        column: String,
        value: String,
    },
    #[error("{}: capture {capture} was written with lake schema {found}, this pcapxray reads schema {}; run the capture again with `pcapxray run --lake`", path.display(), schema::SCHEMA_VERSION)]
    Version {
        path: PathBuf,
        capture: String,
        found: String,
    },
}

impl LakeError {
    fn io(what: &'static str, path: &std::path::Path, error: std::io::Error) -> LakeError {
        LakeError::Io {
            what,
            path: path.to_path_buf(),
            error,
        }
    }
}

pub use layout::check_sensor;

/// Where and as whom `run --lake` writes.
#[derive(Clone, Debug)]
pub struct LakeOptions {
    pub root: PathBuf,
    /// The sensor (or case) name: a partition value and part of every flow's `uid`.
    pub sensor: String,
}

/// The sensor name when none is given.
pub const DEFAULT_SENSOR: &str = "default";

/// A flow as findings refer to it.
struct FlowRef {
    uid: String,
    first_us: i64,
}

/// A finding kept until the end of the run (its plugin and time are known then).
struct PendingFinding {
    record: wit::FindingRecord,
    time_us: Option<i64>,
}

/// Key of a host observation: MAC, IP, outer VLAN.
type ObservationKey = (Option<u64>, String, Option<i32>);

#[derive(Default)]
struct Observation {
    first_us: i64,
    last_us: i64,
    evidence: BTreeSet<&'static str>,
}

/// Receives a run's records and writes the lake at the end.
pub struct LakeWriter {
    opts: LakeOptions,
    staging: PathBuf,
    flows_file: Option<ParquetFile>,
    flow_rows: Rows,
    flows: HashMap<u64, FlowRef>,
    findings: Vec<PendingFinding>,
    observations: BTreeMap<ObservationKey, Observation>,
    /// Rows of `host_facts`, made when the hosts arrive at the end.
    facts: Vec<Vec<Value>>,
}

impl LakeWriter {
    pub fn new(opts: LakeOptions) -> Result<LakeWriter, LakeError> {
        check_sensor(&opts.sensor)?;
        let staging = layout::staging(&opts.root)?;
        let flows_file = ParquetFile::create(&staging.join("flows.parquet"), schema::FLOWS)?;
        Ok(LakeWriter {
            opts,
            staging,
            flows_file: Some(flows_file),
            flow_rows: Rows::new(schema::FLOWS),
            flows: HashMap::new(),
            findings: Vec::new(),
            observations: BTreeMap::new(),
            facts: Vec::new(),
        })
    }

    /// A batch of finished flows with the findings raised on them.
    pub fn flows(&mut self, flows: &[wit::Flow], edges: &[FlowEdge]) -> Result<(), LakeError> {
        for (i, f) in flows.iter().enumerate() {
            let edge = edges.get(i).copied().unwrap_or_default();
            let community_id = ids::flow_community_id(f);
            let (first_us, last_us) = schema::span(f);
            let uid = ids::flow_uid(
                &self.opts.sensor,
                &community_id,
                first_us,
                &ids::path_key(f),
            );
            self.flow_rows
                .push(schema::flow_row(f, edge, uid.clone(), community_id));
            for r in &f.findings {
                self.findings.push(PendingFinding {
                    record: r.clone(),
                    time_us: Some(first_us),
                });
            }
            let vlan = f.vlan.first().map(|&v| i32::from(v));
            for (ep, d) in [(&f.client, &f.to_server), (&f.server, &f.to_client)] {
                if d.packets > 0 {
                    let (first, last) = (micros(d.first_seen), micros(d.last_seen));
                    let key = (ep.mac, schema::ip_text(ep.ip), vlan);
                    self.observe(
                        key,
                        first.unwrap_or(first_us),
                        last.unwrap_or(last_us),
                        "flow",
                    );
                }
            }
            self.flows.insert(f.id, FlowRef { uid, first_us });
        }
        let file = self.flows_file.as_mut().ok_or(LakeError::Closed)?;
        file.write(&mut self.flow_rows)
    }

    /// Findings handed over apart from their flows (host and capture findings, late ones, roll-ups).
    pub fn findings(&mut self, records: &[wit::FindingRecord]) {
        for r in records {
            let time_us = match r.finding.subject {
                wit::Subject::Flow(id) => self.flows.get(&id).map(|f| f.first_us),
                _ => None,
            };
            let from_flows = r
                .finding
                .flows
                .iter()
                .filter_map(|id| self.flows.get(id).map(|f| f.first_us))
                .min();
            self.findings.push(PendingFinding {
                record: r.clone(),
                time_us: time_us.or(from_flows),
            });
        }
    }

    /// The hosts, at the end of the run: each MAC an address was seen behind (in ARP or frames) that
    /// no flow showed already.
    pub fn hosts(&mut self, hosts: &[wit::HostInfo]) {
        for h in hosts {
            let ip = schema::ip_text(h.ip);
            for n in &h.notes {
                self.facts.push(vec![
                    Value::Text(Some(ip.clone())),
                    Value::Text(Some(n.stage.clone())),
                    Value::Text(Some(n.key.clone())),
                    Value::Text(Some(n.value.clone())),
                    Value::Time(n.observed.and_then(micros)),
                ]);
            }
            let evidence = if h.seen_in_arp { "arp" } else { "host" };
            let (first, last) = (
                micros(h.first_seen).unwrap_or(0),
                micros(h.last_seen).unwrap_or(0),
            );
            for &mac in &h.macs {
                let seen = self
                    .observations
                    .range((Some(mac), ip.clone(), None)..)
                    .next()
                    .is_some_and(|((m, i, _), _)| *m == Some(mac) && *i == ip);
                if !seen || h.seen_in_arp {
                    self.observe((Some(mac), ip.clone(), None), first, last, evidence);
                }
            }
        }
    }

    fn observe(&mut self, key: ObservationKey, first: i64, last: i64, evidence: &'static str) {
        let o = self.observations.entry(key).or_insert_with(|| Observation {
            first_us: first,
            last_us: last,
            ..Default::default()
        });
        o.first_us = o.first_us.min(first);
        o.last_us = o.last_us.max(last);
        o.evidence.insert(evidence);
    }

    /// Writes the remaining tables and publishes all of them into the capture's partitions; returns
    /// the files written.
    pub fn finish(mut self, report: &wit::Report) -> Result<Vec<PathBuf>, LakeError> {
        self.flows_file.take().ok_or(LakeError::Closed)?.close()?;
        let capture = &report.capture;
        let capture_start = micros(capture.first_packet).unwrap_or(0);
        let plugin_of: HashMap<&str, &str> = report
            .plugins
            .iter()
            .map(|p| (p.stage.as_str(), p.name.as_str()))
            .collect();
        let (findings, files) = self.finding_rows(&plugin_of, capture_start);
        self.write("findings.parquet", schema::FINDINGS, findings)?;
        self.write("files.parquet", schema::FILES, files)?;
        let observations = self.observation_rows();
        self.write(
            "host_observations.parquet",
            schema::HOST_OBSERVATIONS,
            observations,
        )?;
        let facts = std::mem::take(&mut self.facts);
        self.write("host_facts.parquet", schema::HOST_FACTS, facts)?;
        self.write(
            "captures.parquet",
            schema::CAPTURES,
            vec![capture_row(report)],
        )?;
        let partition = layout::Partition {
            sensor: self.opts.sensor.clone(),
            date: layout::date_of(capture.first_packet),
            sha256: capture.sha256.clone(),
        };
        let mut written = Vec::new();
        // `captures` last: a capture listed there has every table in place.
        for table in [
            "flows",
            "findings",
            "files",
            "host_observations",
            "host_facts",
            "captures",
        ] {
            let staged = self.staging.join(format!("{table}.parquet"));
            let dir = partition.dir(&self.opts.root, table);
            written.push(layout::publish(&staged, &dir)?);
        }
        Ok(written)
    }

    fn write(&self, file: &str, columns: Columns, rows: Vec<Vec<Value>>) -> Result<(), LakeError> {
        let path = self.staging.join(file);
        let mut out = ParquetFile::create(&path, columns)?;
        let mut batch = Rows::new(columns);
        for row in rows {
            batch.push(row);
        }
        out.write(&mut batch)?;
        out.close()
    }

    /// The rows of `findings` and of `files` (one per file a `files.*` finding names).
    fn finding_rows(
        &self,
        plugin_of: &HashMap<&str, &str>,
        capture_start: i64,
    ) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
        let mut ranks: HashMap<String, u32> = HashMap::new();
        let (mut findings, mut files) = (Vec::new(), Vec::new());
        for p in &self.findings {
            let (r, f) = (&p.record, &p.record.finding);
            let plugin = plugin_of.get(r.stage.as_str()).copied().unwrap_or(&r.stage);
            let (subject, uid, host) = match f.subject {
                wit::Subject::Flow(id) => {
                    let uid = self.flows.get(&id).map(|f| f.uid.clone());
                    let text = format!("flow:{}", uid.as_deref().unwrap_or("?"));
                    (text, uid, None)
                }
                wit::Subject::Host(ip) => {
                    let ip = schema::ip_text(ip);
                    (format!("host:{ip}"), None, Some(ip))
                }
                wit::Subject::Capture => ("capture".to_string(), None, None),
            };
            let time = p.time_us.unwrap_or(capture_start);
            let id = ids::finding_id(plugin, &f.tag, &subject, time, &f.summary, r.rollup);
            let rank = ranks.entry(id.clone()).or_default();
            *rank += 1;
            // Identical findings of one capture: the second and later get their rank in the id.
            let id = match *rank {
                1 => id,
                n => format!("{id}.{n}"),
            };
            if f.tag.starts_with("files.") && !r.rollup {
                files.push(file_row(&id, time, uid.clone(), &f.attributes));
            }
            findings.push(finding_row(id, time, r, plugin, subject, uid, host, self));
        }
        (findings, files)
    }

    fn observation_rows(&self) -> Vec<Vec<Value>> {
        self.observations
            .iter()
            .map(|((mac, ip, vlan), o)| {
                vec![
                    Value::Text(mac.map(mac_text)),
                    Value::Text(Some(ip.clone())),
                    Value::SmallInt(*vlan),
                    Value::TextList(o.evidence.iter().map(|e| e.to_string()).collect()),
                    Value::Time(Some(o.first_us)),
                    Value::Time(Some(o.last_us)),
                ]
            })
            .collect()
    }
}

impl Drop for LakeWriter {
    /// A run that stopped early leaves nothing behind (published files have left the staging folder).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

#[allow(clippy::too_many_arguments)]
fn finding_row(
    id: String,
    time: i64,
    r: &wit::FindingRecord,
    plugin: &str,
    subject: String,
    uid: Option<String>,
    host: Option<String>,
    lake: &LakeWriter,
) -> Vec<Value> {
    let f = &r.finding;
    let flow_uids = f
        .flows
        .iter()
        .filter_map(|id| lake.flows.get(id).map(|f| f.uid.clone()))
        .collect();
    let attributes: serde_json::Map<String, serde_json::Value> = f
        .attributes
        .iter()
        .map(|a| (a.key.clone(), serde_json::Value::String(a.value.clone())))
        .collect();
    vec![
        Value::Text(Some(id)),
        Value::Time(Some(time)),
        Value::Text(Some(r.stage.clone())),
        Value::Text(Some(plugin.to_string())),
        Value::Text(Some(f.tag.clone())),
        Value::Text(Some(f.tag.split('.').next().unwrap_or("").to_string())),
        Value::Text(Some(schema::severity_text(f.severity).into())),
        Value::SmallInt(Some(i32::from(f.confidence))),
        Value::Text(Some(f.summary.clone())),
        Value::Text(Some(subject)),
        Value::Text(uid),
        Value::Text(host),
        Value::TextList(flow_uids),
        Value::Bool(r.rollup),
        Value::Text(Some(serde_json::Value::Object(attributes).to_string())),
    ]
}

fn file_row(id: &str, time: i64, uid: Option<String>, attributes: &[wit::Attribute]) -> Vec<Value> {
    let get = |k: &str| {
        attributes
            .iter()
            .find(|a| a.key == k)
            .map(|a| a.value.clone())
    };
    let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    vec![
        Value::Text(Some(id.to_string())),
        Value::Time(Some(time)),
        Value::Text(uid),
        Value::Text(get("protocol")),
        Value::Text(get("direction")),
        Value::Text(get("name")),
        Value::Text(get("declared_type")),
        Value::Text(get("detected_type")),
        Value::Int(int("size")),
        Value::Int(int("missing")),
        Value::Bool(get("complete").as_deref() == Some("true")),
        Value::Text(get("md5")),
        Value::Text(get("sha1")),
        Value::Text(get("sha256")),
    ]
}

fn capture_row(report: &wit::Report) -> Vec<Value> {
    let c = &report.capture;
    let plugins = report
        .plugins
        .iter()
        .map(|p| format!("{}={}@{} sha256:{}", p.stage, p.name, p.version, p.digest))
        .collect();
    vec![
        Value::Text(Some(c.sha256.clone())),
        Value::Text(Some(c.file.clone())),
        Value::Int(Some(c.size as i64)),
        Value::Text(Some(c.format.clone())),
        Value::Time(micros(c.first_packet)),
        Value::Time(micros(c.last_packet)),
        Value::Int(Some(c.packets as i64)),
        Value::Int(Some(c.bytes as i64)),
        Value::Int(Some(c.flows as i64)),
        Value::Text(c.read_error.clone()),
        Value::Text(Some(schema::SCHEMA_VERSION.into())),
        Value::Text(Some(env!("CARGO_PKG_VERSION").into())),
        Value::TextList(plugins),
    ]
}
