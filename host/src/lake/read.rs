//! Reading a lake back (`pcapxray run --from-lake`, `serve --lake`): its captures in time order, then
//! each capture's flow pieces and host observations, one capture at a time, so memory follows one
//! file's rows and the flows open across its edges, never the whole lake.

use super::{LakeError, schema};
use crate::bindings::wit;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One capture the lake holds (a row of `captures`), with where its other tables are.
#[derive(Clone, Debug)]
pub struct LakeCapture {
    pub sensor: String,
    pub date: String,
    pub sha256: String,
    pub file: String,
    /// The capture file's size in bytes.
    pub size: i64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    pub packets: i64,
    pub bytes: i64,
    pub flows: i64,
}

impl LakeCapture {
    /// The folder of this capture's partition of `table`.
    pub fn dir(&self, root: &Path, table: &str) -> PathBuf {
        root.join(table)
            .join(format!("sensor={}", self.sensor))
            .join(format!("date={}", self.date))
            .join(format!("capture={}", self.sha256))
    }
}

/// A flow row: a piece of a connection as one capture file saw it.
#[derive(Clone, Debug)]
pub struct FlowPiece {
    pub uid: String,
    pub ts_us: i64,
    pub last_ts_us: i64,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub ip_proto: u8,
    pub history: String,
    pub orig_side: Side,
    pub resp_side: Side,
    pub vlan: Vec<u16>,
    pub tunnel: Option<String>,
    pub icmp: (u8, u8),
    pub orientation: String,
    pub end_reason: String,
    pub fragments: u32,
    pub open_at_start: bool,
    pub open_at_end: bool,
    pub open_until_us: Option<i64>,
    /// The findings its run raised on it (filled by the caller from `flow_findings`).
    pub findings: Vec<wit::FindingRecord>,
}

/// One direction of a piece.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side {
    pub packets: i64,
    pub ip_bytes: i64,
    pub payload_bytes: i64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    pub tcp_flags: Option<i32>,
    pub ttl: Option<i32>,
    pub mac: Option<u64>,
}

/// A row of `host_observations`.
#[derive(Clone, Debug)]
pub struct Observation {
    pub mac: Option<u64>,
    pub ip: IpAddr,
    pub evidence: Vec<String>,
    pub first_us: i64,
    pub last_us: i64,
}

/// The captures of the lake at `root` (of one sensor, when given), in time order (first packet,
/// then sensor and hash). Refuses a lake written by another schema version, naming the capture.
pub fn captures(root: &Path, sensor: Option<&str>) -> Result<Vec<LakeCapture>, LakeError> {
    let table = root.join("captures");
    if !table.is_dir() {
        return Err(LakeError::NotALake(root.to_path_buf()));
    }
    let mut found = Vec::new();
    for sensor_dir in partitions(&table, "sensor")? {
        let name = value_of(&sensor_dir, "sensor");
        if sensor.is_some_and(|s| s != name) {
            continue;
        }
        for date_dir in partitions(&sensor_dir, "date")? {
            for capture_dir in partitions(&date_dir, "capture")? {
                for file in parquet_files(&capture_dir)? {
                    read(&file, |batch| {
                        capture_rows(
                            batch,
                            &file,
                            &name,
                            &value_of(&date_dir, "date"),
                            &mut found,
                        )
                    })?;
                }
            }
        }
    }
    found.sort_by(|a, b| {
        (a.first_us, &a.sensor, &a.sha256).cmp(&(b.first_us, &b.sensor, &b.sha256))
    });
    Ok(found)
}

/// The flow pieces of one capture, in the order its run finished them.
pub fn flow_pieces(root: &Path, capture: &LakeCapture) -> Result<Vec<FlowPiece>, LakeError> {
    let mut pieces = Vec::new();
    for file in parquet_files(&capture.dir(root, "flows"))? {
        read(&file, |batch| piece_rows(batch, &file, &mut pieces))?;
    }
    Ok(pieces)
}

/// The host observations of one capture.
pub fn observations(root: &Path, capture: &LakeCapture) -> Result<Vec<Observation>, LakeError> {
    let mut rows = Vec::new();
    for file in parquet_files(&capture.dir(root, "host_observations"))? {
        read(&file, |batch| observation_rows(batch, &file, &mut rows))?;
    }
    Ok(rows)
}

/// The host facts of one capture: (address, stage, key, value, observed in µs).
pub fn host_facts(root: &Path, capture: &LakeCapture) -> Result<Vec<HostFact>, LakeError> {
    let mut rows = Vec::new();
    for file in parquet_files(&capture.dir(root, "host_facts"))? {
        read(&file, |batch| fact_rows(batch, &file, &mut rows))?;
    }
    Ok(rows)
}

/// A row of `host_facts`.
#[derive(Clone, Debug)]
pub struct HostFact {
    pub ip: IpAddr,
    pub stage: String,
    pub key: String,
    pub value: String,
    pub observed_us: Option<i64>,
}

fn fact_rows(batch: &RecordBatch, file: &Path, out: &mut Vec<HostFact>) -> Result<(), LakeError> {
    let c = Cols { batch, file };
    let (ip, stage, key, value, observed) = (
        c.text("ip")?,
        c.text("stage")?,
        c.text("key")?,
        c.text("value")?,
        c.time("observed")?,
    );
    for i in 0..batch.num_rows() {
        out.push(HostFact {
            ip: ip
                .value(i)
                .parse()
                .map_err(|_| c.bad_value("ip", ip.value(i)))?,
            stage: stage.value(i).to_string(),
            key: key.value(i).to_string(),
            value: value.value(i).to_string(),
            observed_us: opt(observed, i, || observed.value(i)),
        });
    }
    Ok(())
}

/// The findings one capture's run raised on its flows (roll-ups aside), by the flow's uid, in the
/// order they were raised; their subject is set again when the flow gets its id.
pub fn flow_findings(
    root: &Path,
    capture: &LakeCapture,
) -> Result<HashMap<String, Vec<wit::FindingRecord>>, LakeError> {
    let mut by_uid: HashMap<String, Vec<wit::FindingRecord>> = HashMap::new();
    for file in parquet_files(&capture.dir(root, "findings"))? {
        read(&file, |batch| finding_rows(batch, &file, &mut by_uid))?;
    }
    Ok(by_uid)
}

fn finding_rows(
    batch: &RecordBatch,
    file: &Path,
    out: &mut HashMap<String, Vec<wit::FindingRecord>>,
) -> Result<(), LakeError> {
    let c = Cols { batch, file };
    let (uid, rollup, stage, tag, severity) = (
        c.text("uid")?,
        c.boolean("rollup")?,
        c.text("stage")?,
        c.text("tag")?,
        c.text("severity")?,
    );
    let (confidence, summary, attributes) = (
        c.small("confidence")?,
        c.text("summary")?,
        c.text("attributes")?,
    );
    for i in 0..batch.num_rows() {
        if !uid.is_valid(i) || rollup.value(i) {
            continue;
        }
        let severity = match severity.value(i) {
            "info" => wit::Severity::Info,
            "low" => wit::Severity::Low,
            "medium" => wit::Severity::Medium,
            "high" => wit::Severity::High,
            other => return Err(c.bad_value("severity", other)),
        };
        let attrs: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(attributes.value(i))
                .map_err(|_| c.bad_value("attributes", attributes.value(i)))?;
        let attributes = attrs
            .into_iter()
            .map(|(key, v)| wit::Attribute {
                key,
                value: match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
            })
            .collect();
        out.entry(uid.value(i).to_string())
            .or_default()
            .push(wit::FindingRecord {
                stage: stage.value(i).to_string(),
                finding: wit::Finding {
                    tag: tag.value(i).to_string(),
                    subject: wit::Subject::Flow(0),
                    severity,
                    confidence: u8::try_from(confidence.value(i)).unwrap_or(100),
                    summary: summary.value(i).to_string(),
                    attributes,
                    flows: Vec::new(),
                },
                rollup: false,
            });
    }
    Ok(())
}

/// Subfolders `KEY=...` of `dir`, sorted.
fn partitions(dir: &Path, key: &str) -> Result<Vec<PathBuf>, LakeError> {
    let prefix = format!("{key}=");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| LakeError::io("read the folder", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn value_of(dir: &Path, key: &str) -> String {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.strip_prefix(&format!("{key}="))
        .unwrap_or(name)
        .to_string()
}

/// The Parquet files of a partition folder (none when it does not exist), sorted.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, LakeError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| LakeError::io("read the folder", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    Ok(files)
}

fn read(
    file: &Path,
    mut each: impl FnMut(&RecordBatch) -> Result<(), LakeError>,
) -> Result<(), LakeError> {
    let parquet = |error| LakeError::Parquet {
        path: file.to_path_buf(),
        error,
    };
    let f = std::fs::File::open(file).map_err(|e| LakeError::io("open", file, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(parquet)?
        .build()
        .map_err(parquet)?;
    for batch in reader {
        let batch = batch.map_err(|e| LakeError::Parquet {
            path: file.to_path_buf(),
            error: e.into(),
        })?;
        each(&batch)?;
    }
    Ok(())
}

/// Typed access to the columns of one batch, each looked up once.
struct Cols<'a> {
    batch: &'a RecordBatch,
    file: &'a Path,
}

impl<'a> Cols<'a> {
    fn get(&self, name: &str, kind: &str) -> Result<&'a dyn Array, LakeError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| self.wrong(name, kind))
    }

    fn wrong(&self, name: &str, kind: &str) -> LakeError {
        LakeError::Column {
            path: self.file.to_path_buf(),
            column: name.to_string(),
            expected: kind.to_string(),
        }
    }

    fn text(&self, name: &str) -> Result<&'a arrow_array::StringArray, LakeError> {
        self.get(name, "text")?
            .as_string_opt::<i32>()
            .ok_or_else(|| self.wrong(name, "text"))
    }

    fn int(&self, name: &str) -> Result<&'a arrow_array::Int64Array, LakeError> {
        self.get(name, "int64")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| self.wrong(name, "int64"))
    }

    fn small(&self, name: &str) -> Result<&'a arrow_array::Int32Array, LakeError> {
        self.get(name, "int32")?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| self.wrong(name, "int32"))
    }

    fn time(&self, name: &str) -> Result<&'a arrow_array::TimestampMicrosecondArray, LakeError> {
        self.get(name, "timestamp (microseconds)")?
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| self.wrong(name, "timestamp (microseconds)"))
    }

    fn boolean(&self, name: &str) -> Result<&'a arrow_array::BooleanArray, LakeError> {
        self.get(name, "boolean")?
            .as_boolean_opt()
            .ok_or_else(|| self.wrong(name, "boolean"))
    }

    fn list(&self, name: &str) -> Result<&'a arrow_array::ListArray, LakeError> {
        self.get(name, "list of text")?
            .as_list_opt::<i32>()
            .ok_or_else(|| self.wrong(name, "list of text"))
    }

    fn bad_value(&self, column: &str, value: &str) -> LakeError {
        LakeError::Value {
            path: self.file.to_path_buf(),
            column: column.to_string(),
            value: value.to_string(),
        }
    }
}

fn opt<A: Array + ?Sized, T>(a: &A, i: usize, v: impl FnOnce() -> T) -> Option<T> {
    a.is_valid(i).then(v)
}

fn capture_rows(
    batch: &RecordBatch,
    file: &Path,
    sensor: &str,
    date: &str,
    out: &mut Vec<LakeCapture>,
) -> Result<(), LakeError> {
    let c = Cols { batch, file };
    let (sha, name, size, first, last) = (
        c.text("sha256")?,
        c.text("file")?,
        c.int("size")?,
        c.time("first_ts")?,
        c.time("last_ts")?,
    );
    let (packets, bytes, flows, version) = (
        c.int("packets")?,
        c.int("bytes")?,
        c.int("flows")?,
        c.text("schema_version")?,
    );
    for i in 0..batch.num_rows() {
        if version.value(i) != schema::SCHEMA_VERSION {
            return Err(LakeError::Version {
                path: file.to_path_buf(),
                capture: name.value(i).to_string(),
                found: version.value(i).to_string(),
            });
        }
        out.push(LakeCapture {
            sensor: sensor.to_string(),
            date: date.to_string(),
            sha256: sha.value(i).to_string(),
            file: name.value(i).to_string(),
            size: size.value(i),
            first_us: opt(first, i, || first.value(i)),
            last_us: opt(last, i, || last.value(i)),
            packets: packets.value(i),
            bytes: bytes.value(i),
            flows: flows.value(i),
        });
    }
    Ok(())
}

/// The columns of one direction (`orig` or `resp`).
struct SideCols<'a> {
    pkts: &'a arrow_array::Int64Array,
    ip_bytes: &'a arrow_array::Int64Array,
    bytes: &'a arrow_array::Int64Array,
    first: &'a arrow_array::TimestampMicrosecondArray,
    last: &'a arrow_array::TimestampMicrosecondArray,
    flags: &'a arrow_array::Int32Array,
    ttl: &'a arrow_array::Int32Array,
    mac: &'a arrow_array::StringArray,
}

impl<'a> SideCols<'a> {
    fn of(c: &Cols<'a>, side: &str) -> Result<SideCols<'a>, LakeError> {
        Ok(SideCols {
            pkts: c.int(&format!("{side}_pkts"))?,
            ip_bytes: c.int(&format!("{side}_ip_bytes"))?,
            bytes: c.int(&format!("{side}_bytes"))?,
            first: c.time(&format!("{side}_first_ts"))?,
            last: c.time(&format!("{side}_last_ts"))?,
            flags: c.small(&format!("{side}_tcp_flags"))?,
            ttl: c.small(&format!("{side}_ttl"))?,
            mac: c.text(&format!("{side}_l2_addr"))?,
        })
    }

    fn side(&self, c: &Cols<'_>, side: &str, i: usize) -> Result<Side, LakeError> {
        let mac = match opt(self.mac, i, || self.mac.value(i)) {
            Some(text) => {
                Some(parse_mac(text).ok_or_else(|| c.bad_value(&format!("{side}_l2_addr"), text))?)
            }
            None => None,
        };
        Ok(Side {
            packets: self.pkts.value(i),
            ip_bytes: self.ip_bytes.value(i),
            payload_bytes: self.bytes.value(i),
            first_us: opt(self.first, i, || self.first.value(i)),
            last_us: opt(self.last, i, || self.last.value(i)),
            tcp_flags: opt(self.flags, i, || self.flags.value(i)),
            ttl: opt(self.ttl, i, || self.ttl.value(i)),
            mac,
        })
    }
}

fn piece_rows(batch: &RecordBatch, file: &Path, out: &mut Vec<FlowPiece>) -> Result<(), LakeError> {
    let c = Cols { batch, file };
    let (uid, ts, last_ts) = (c.text("uid")?, c.int("ts_us")?, c.int("last_ts_us")?);
    let (orig_h, orig_p, resp_h, resp_p) = (
        c.text("id_orig_h")?,
        c.small("id_orig_p")?,
        c.text("id_resp_h")?,
        c.small("id_resp_p")?,
    );
    let (ip_proto, history, vlan, inner_vlan, tunnel) = (
        c.small("ip_proto")?,
        c.text("history")?,
        c.small("vlan")?,
        c.small("inner_vlan")?,
        c.text("tunnel")?,
    );
    let (icmp_type, icmp_code, orientation, end_reason, fragments) = (
        c.small("icmp_type")?,
        c.small("icmp_code")?,
        c.text("orientation")?,
        c.text("end_reason")?,
        c.int("fragments")?,
    );
    let (open_at_start, open_at_end, open_until) = (
        c.boolean("open_at_start")?,
        c.boolean("open_at_end")?,
        c.time("open_until")?,
    );
    let (orig, resp) = (SideCols::of(&c, "orig")?, SideCols::of(&c, "resp")?);
    let ip = |col: &str, a: &arrow_array::StringArray, i: usize| {
        a.value(i)
            .parse::<IpAddr>()
            .map_err(|_| c.bad_value(col, a.value(i)))
    };
    let port = |a: &arrow_array::Int32Array, i: usize| u16::try_from(a.value(i)).unwrap_or(0);
    let byte = |a: &arrow_array::Int32Array, i: usize| {
        opt(a, i, || u8::try_from(a.value(i)).unwrap_or(0)).unwrap_or(0)
    };
    for i in 0..batch.num_rows() {
        let vlans = [vlan, inner_vlan]
            .iter()
            .filter_map(|a| opt(*a, i, || u16::try_from(a.value(i)).unwrap_or(0)))
            .collect();
        out.push(FlowPiece {
            uid: uid.value(i).to_string(),
            ts_us: ts.value(i),
            last_ts_us: last_ts.value(i),
            orig: (ip("id_orig_h", orig_h, i)?, port(orig_p, i)),
            resp: (ip("id_resp_h", resp_h, i)?, port(resp_p, i)),
            ip_proto: u8::try_from(ip_proto.value(i)).unwrap_or(0),
            history: history.value(i).to_string(),
            orig_side: orig.side(&c, "orig", i)?,
            resp_side: resp.side(&c, "resp", i)?,
            vlan: vlans,
            tunnel: opt(tunnel, i, || tunnel.value(i).to_string()),
            icmp: (byte(icmp_type, i), byte(icmp_code, i)),
            orientation: orientation.value(i).to_string(),
            end_reason: end_reason.value(i).to_string(),
            fragments: u32::try_from(fragments.value(i)).unwrap_or(u32::MAX),
            open_at_start: open_at_start.value(i),
            open_at_end: open_at_end.value(i),
            open_until_us: opt(open_until, i, || open_until.value(i)),
            findings: Vec::new(),
        });
    }
    Ok(())
}

fn observation_rows(
    batch: &RecordBatch,
    file: &Path,
    out: &mut Vec<Observation>,
) -> Result<(), LakeError> {
    let c = Cols { batch, file };
    let (mac, ip, evidence, first, last) = (
        c.text("mac")?,
        c.text("ip")?,
        c.list("evidence")?,
        c.time("first_ts")?,
        c.time("last_ts")?,
    );
    for i in 0..batch.num_rows() {
        let mac = match opt(mac, i, || mac.value(i)) {
            Some(text) => Some(parse_mac(text).ok_or_else(|| c.bad_value("mac", text))?),
            None => None,
        };
        let list = evidence.value(i);
        let words = list
            .as_string_opt::<i32>()
            .map(|s| s.iter().flatten().map(str::to_string).collect())
            .unwrap_or_default();
        out.push(Observation {
            mac,
            ip: ip
                .value(i)
                .parse()
                .map_err(|_| c.bad_value("ip", ip.value(i)))?,
            evidence: words,
            first_us: first.value(i),
            last_us: last.value(i),
        });
    }
    Ok(())
}

/// `00:1a:2b:3c:4d:5e` → the MAC as the host table keys it.
fn parse_mac(text: &str) -> Option<u64> {
    let mut mac = 0u64;
    let mut n = 0;
    for part in text.split(':') {
        if part.len() != 2 {
            return None;
        }
        mac = (mac << 8) | u64::from(u8::from_str_radix(part, 16).ok()?);
        n += 1;
    }
    (n == 6).then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_reads_back_as_the_lake_wrote_it() {
        let mac = 0x001a_2b3c_4d5e;
        assert_eq!(parse_mac(&schema::mac_text(mac)), Some(mac));
        assert_eq!(parse_mac("00:1a:2b"), None);
        assert_eq!(parse_mac("00:1a:2b:3c:4d:zz"), None);
    }
}
