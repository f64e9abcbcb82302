//! `pcapxray run --lake`: the Parquet tables of a real capture, read back with the `parquet` crate and
//! with DuckDB from PyPI, checked against report.json of the same run, against Community IDs computed
//! by the PyPI reference implementation straight from the capture, and across re-runs.

use crate::support::{self, Run};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A capture with TCP, UDP, ICMPv6, IPv4 and IPv6 flows, and files.
const CAPTURE: &str = "mixed_pcapxray_malicious_traffic.pcap";
/// Its first packet is at 1512954884.25625 (expectations.json); `date -u -d @1512954884` says
/// Mon Dec 11 01:14:44 UTC 2017.
const CAPTURE_DATE: &str = "2017-12-11";

pub const PIPELINE: &str = r#"
[[analyzer]]
plugin = "web"
streams = { protocols = ["tcp"] }
[[analyzer]]
plugin = "files"
streams = true
[[analyzer]]
plugin = "dns"
[[analyzer]]
plugin = "beacon"
[[analyzer]]
plugin = "behaviour"
[[analyzer]]
plugin = "suspicious"
[[analyzer]]
plugin = "devices"
[[output]]
plugin = "json"
"#;

const TABLES: [&str; 6] = [
    "flows",
    "findings",
    "files",
    "host_observations",
    "host_facts",
    "captures",
];

/// A virtualenv with DuckDB and the Community ID reference implementation (and dpkt, which its
/// `community-id-pcap` reads captures with), made once per test run.
pub fn lake_venv() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        support::venv(
            "lake-venv",
            &["duckdb==2.0.1", "communityid==1.5.0", "dpkt==1.9.8"],
            ("python", &["-c", "import duckdb, communityid, dpkt"]),
        )
    })
    .clone()
}

/// Runs the pipeline over `capture` into `lake` (and a report folder in `dir`).
fn run_lake(dir: &Path, capture: &Path, lake: &Path, sensor: &str) -> Run {
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let out_dir = dir.join(format!(
        "report-{}",
        capture.file_stem().unwrap().to_string_lossy()
    ));
    let out = support::pcapxray(&[
        "run",
        pipeline.to_str().unwrap(),
        capture.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        sensor,
    ]);
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        out_dir,
    };
    assert_eq!(run.code, 0, "{}", run.all_output());
    run
}

/// Every Parquet file under `dir`, sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Runs Python in the lake venv with `script`; returns its stdout parsed as JSON.
pub fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(lake_venv().join("bin/python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// Every table of the lake as JSON rows, read by DuckDB (hive partitions as columns), sorted.
fn lake_rows(lake: &Path) -> BTreeMap<String, Vec<String>> {
    const SCRIPT: &str = r#"
import duckdb, json, sys
root = sys.argv[1]
out = {}
for t in ["flows", "findings", "files", "host_observations", "host_facts", "captures"]:
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)")
    cols = rel.columns
    out[t] = sorted(json.dumps(dict(zip(cols, r)), default=str, sort_keys=True) for r in rel.fetchall())
print(json.dumps(out))
"#;
    let v = python(SCRIPT, &[lake.to_str().unwrap()]);
    serde_json::from_value(v).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn lake_tables_sit_in_their_partitions_with_spark_safe_types_and_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let capture = support::testdata(CAPTURE);
    run_lake(dir.path(), &capture, &lake, "tap-1");
    let hash = sha256_hex(&capture);
    for table in TABLES {
        let part = lake
            .join(table)
            .join("sensor=tap-1")
            .join(format!("date={CAPTURE_DATE}"))
            .join(format!("capture={hash}"))
            .join("part-0.parquet");
        assert!(part.is_file(), "{} is missing", part.display());
        let file = std::fs::File::open(&part).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        for rg in reader.metadata().row_groups() {
            for c in rg.columns() {
                assert!(
                    matches!(c.compression(), parquet::basic::Compression::ZSTD(_)),
                    "{table}.{} is {:?}",
                    c.column_path(),
                    c.compression()
                );
            }
        }
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&part).unwrap(),
        )
        .unwrap();
        for field in builder.schema().fields() {
            let name = field.name();
            assert!(!name.contains('.'), "{table}.{name}: a dotted column name");
            match field.data_type() {
                DataType::Timestamp(unit, tz) => {
                    assert_eq!(*unit, TimeUnit::Microsecond, "{table}.{name}");
                    assert_eq!(tz.as_deref(), Some("UTC"), "{table}.{name}");
                }
                DataType::Int32 | DataType::Int64 | DataType::Utf8 | DataType::Float64 => {}
                DataType::Boolean | DataType::List(_) => {}
                other => panic!("{table}.{name} is {other:?}: not a type every engine reads alike"),
            }
        }
    }
    // Nothing is left in the staging folder.
    assert!(parquet_files(&lake.join(".staging")).is_empty());
}

#[test]
fn lake_flows_are_the_reports_flows_with_reference_community_ids() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let capture = support::testdata(CAPTURE);
    let run = run_lake(dir.path(), &capture, &lake, "tap-1");
    let report = run.report();
    let flows: Vec<RecordBatch> = parquet_files(&lake.join("flows"))
        .iter()
        .flat_map(|p| read_parquet(p))
        .collect();
    let rows: usize = flows.iter().map(|b| b.num_rows()).sum();
    let expected = report["flows"].as_array().unwrap();
    assert_eq!(rows, expected.len());
    assert_eq!(rows as u64, report["capture"]["flows"].as_u64().unwrap());
    assert!(rows > 50, "the capture has many flows, not {rows}");

    // Each row against the report's flow of the same id.
    let by_id: BTreeMap<i64, &Value> = expected
        .iter()
        .map(|f| (f["id"].as_i64().unwrap(), f))
        .collect();
    let mut lake_tuples = Vec::new();
    for b in &flows {
        let json = arrow_json_rows(b);
        for row in json {
            let f = by_id[&row["flow_id"].as_i64().unwrap()];
            assert_eq!(row["id_orig_h"], f["client"]["ip"], "{row}");
            assert_eq!(row["id_orig_p"], f["client"]["port"], "{row}");
            assert_eq!(row["id_resp_h"], f["server"]["ip"], "{row}");
            assert_eq!(row["id_resp_p"], f["server"]["port"], "{row}");
            assert_eq!(row["orig_pkts"], f["to_server"]["packets"], "{row}");
            assert_eq!(row["resp_pkts"], f["to_client"]["packets"], "{row}");
            assert_eq!(row["orig_ip_bytes"], f["to_server"]["bytes"], "{row}");
            assert_eq!(row["resp_ip_bytes"], f["to_client"]["bytes"], "{row}");
            assert_eq!(row["orig_bytes"], f["to_server"]["payload_bytes"], "{row}");
            assert_eq!(row["conn_state"], f["conn_state"], "{row}");
            assert_eq!(row["history"], f["history"], "{row}");
            let proto = match f["protocol"].as_str().unwrap() {
                "icmpv6" => "icmp".to_string(),
                "other" => row["ip_proto"].to_string(),
                p => p.to_string(),
            };
            assert_eq!(row["proto"].as_str().unwrap(), proto, "{row}");
            lake_tuples.push(row);
        }
    }
    // uids are unique.
    let uids: BTreeSet<&str> = lake_tuples
        .iter()
        .map(|r| r["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids.len(), rows);

    // Community IDs: the PyPI reference implementation computes one per packet of the capture; the
    // packet that opened each flow (same time, same addresses and ports) must have the flow's.
    let packets = reference_packet_ids(&capture);
    let mut checked = 0;
    for row in &lake_tuples {
        let ts = row["ts_us"].as_i64().unwrap();
        let with_ports = matches!(row["ip_proto"].as_i64(), Some(6 | 17));
        let end = |h: &str, p: &str| {
            let port = if with_ports {
                row[p].to_string()
            } else {
                String::new()
            };
            format!("{} {port}", row[h].as_str().unwrap())
        };
        let ends = [end("id_orig_h", "id_orig_p"), end("id_resp_h", "id_resp_p")];
        let opening: Vec<&Packet> = packets
            .range(ts - 1..=ts + 1)
            .flat_map(|(_, v)| v)
            .filter(|p| {
                let (src, dst) = if with_ports {
                    (
                        format!("{} {}", p.src, p.sport),
                        format!("{} {}", p.dst, p.dport),
                    )
                } else {
                    (format!("{} ", p.src), format!("{} ", p.dst))
                };
                (src == ends[0] && dst == ends[1]) || (src == ends[1] && dst == ends[0])
            })
            .collect();
        assert!(!opening.is_empty(), "no packet opens {row:?}");
        for Packet { id, .. } in opening {
            assert_eq!(row["community_id"].as_str().unwrap(), id, "{row}");
            checked += 1;
        }
    }
    assert!(checked >= rows);
    // And every TCP and UDP packet's id is some flow's. (Not so for ICMP: a pcapxray flow holds every
    // ICMP message between two hosts and carries the Community ID of the first, while Community ID
    // gives each pair of message types its own.)
    let ids: BTreeSet<&str> = lake_tuples
        .iter()
        .map(|r| r["community_id"].as_str().unwrap())
        .collect();
    for (ts, v) in &packets {
        for p in v.iter().filter(|p| matches!(p.proto, 6 | 17)) {
            assert!(
                ids.contains(p.id.as_str()),
                "packet at {ts} µs {p:?} is no flow's"
            );
        }
    }
}

/// An IP packet with its reference Community ID.
#[derive(Debug)]
struct Packet {
    proto: u8,
    src: String,
    dst: String,
    sport: String,
    dport: String,
    id: String,
}

/// The capture's IP packets by time in microseconds, with the Community ID that the PyPI reference
/// implementation (`communityid` 1.5.0) computes for each; dpkt reads the capture. (Its own
/// `community-id-pcap` stops at the first IPv6 packet with an extension header, hence this driver.)
/// IP fragments are left out: only the first carries ports.
fn reference_packet_ids(capture: &Path) -> BTreeMap<i64, Vec<Packet>> {
    const SCRIPT: &str = r#"
import communityid, dpkt, json, socket, sys
cid = communityid.CommunityID()
make = {6: communityid.FlowTuple.make_tcp, 17: communityid.FlowTuple.make_udp,
        132: communityid.FlowTuple.make_sctp, 1: communityid.FlowTuple.make_icmp,
        58: communityid.FlowTuple.make_icmp6}
out = []
for ts, buf in dpkt.pcap.Reader(open(sys.argv[1], "rb")):
    ip = dpkt.ethernet.Ethernet(buf).data
    if isinstance(ip, dpkt.ip.IP):
        family = socket.AF_INET
        if ip.off & 0x3FFF:
            continue
    elif isinstance(ip, dpkt.ip6.IP6):
        family = socket.AF_INET6
        if 44 in getattr(ip, "extension_hdrs", {}) and ip.extension_hdrs[44] is not None:
            continue
    else:
        continue
    src, dst, l4 = socket.inet_ntop(family, ip.src), socket.inet_ntop(family, ip.dst), ip.data
    if ip.p in (6, 17, 132):
        a, b = l4.sport, l4.dport
    elif ip.p in (1, 58):
        a, b = l4.type, l4.code
    else:
        a = b = None
    tpl = make[ip.p](src, dst, a, b) if a is not None else communityid.FlowTuple.make_ip(src, dst, ip.p)
    out.append([round(ts * 1e6), ip.p, src, dst, "" if a is None else str(a), "" if b is None else str(b), cid.calc(tpl)])
print(json.dumps(out))
"#;
    let rows = python(SCRIPT, &[capture.to_str().unwrap()]);
    let mut packets: BTreeMap<i64, Vec<Packet>> = BTreeMap::new();
    for r in rows.as_array().unwrap() {
        let text = |i: usize| r[i].as_str().unwrap().to_string();
        packets
            .entry(r[0].as_i64().unwrap())
            .or_default()
            .push(Packet {
                proto: r[1].as_u64().unwrap() as u8,
                src: text(2),
                dst: text(3),
                sport: text(4),
                dport: text(5),
                id: text(6),
            });
    }
    let count: usize = packets.values().map(Vec::len).sum();
    assert!(count > 900, "the reference read {count} IP packets");
    packets
}

/// The rows of a batch as JSON objects (timestamps as `<name>_us` integers too).
fn arrow_json_rows(batch: &RecordBatch) -> Vec<Value> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
    let mut rows = vec![serde_json::Map::new(); batch.num_rows()];
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        for (i, row) in rows.iter_mut().enumerate() {
            let v = if col.is_null(i) {
                Value::Null
            } else {
                match field.data_type() {
                    DataType::Utf8 => Value::from(col.as_string::<i32>().value(i)),
                    DataType::Int32 => Value::from(col.as_primitive::<Int32Type>().value(i)),
                    DataType::Int64 => Value::from(col.as_primitive::<Int64Type>().value(i)),
                    DataType::Timestamp(..) => {
                        let us = col.as_primitive::<TimestampMicrosecondType>().value(i);
                        row.insert(format!("{}_us", field.name()), Value::from(us));
                        Value::from(us)
                    }
                    _ => continue,
                }
            };
            row.insert(field.name().clone(), v);
        }
    }
    rows.into_iter().map(Value::Object).collect()
}

#[test]
fn running_a_capture_again_leaves_every_table_with_the_same_rows_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let capture = support::testdata(CAPTURE);
    let other = support::testdata("vlan_8021q_icmp_arp.pcap");
    run_lake(dir.path(), &capture, &lake, "tap-1");
    run_lake(dir.path(), &other, &lake, "tap-1");
    let before = lake_rows(&lake);
    let files_before = parquet_files(&lake);
    assert_eq!(files_before.len(), 2 * TABLES.len());
    run_lake(dir.path(), &capture, &lake, "tap-1");
    let after = lake_rows(&lake);
    assert_eq!(parquet_files(&lake), files_before);
    for table in TABLES {
        assert_eq!(before[table], after[table], "{table} changed on a re-run");
    }
    assert_eq!(before["captures"].len(), 2);
    assert!(!after["findings"].is_empty());
    // No id twice in the lake.
    for (table, key) in [("flows", "uid"), ("findings", "finding_id")] {
        let ids: Vec<String> = after[table]
            .iter()
            .map(|r| serde_json::from_str::<Value>(r).unwrap()[key].to_string())
            .collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{table}.{key} repeats");
    }
    // Another sensor gets its own partitions and its own flow uids for the same traffic.
    run_lake(dir.path(), &other, &lake, "tap-2");
    let two = lake_rows(&lake);
    assert_eq!(two["captures"].len(), 3);
    let uid_sets: Vec<BTreeSet<String>> = ["tap-1", "tap-2"]
        .iter()
        .map(|s| {
            two["flows"]
                .iter()
                .map(|r| serde_json::from_str::<Value>(r).unwrap())
                .filter(|r| r["sensor"] == *s && r["proto"] == "icmp")
                .map(|r| r["uid"].to_string())
                .collect()
        })
        .collect();
    assert!(!uid_sets[1].is_empty());
    assert!(uid_sets[0].is_disjoint(&uid_sets[1]));
}

#[test]
fn duckdb_reads_the_lake_as_utc_microseconds_and_signed_integers_and_runs_the_ecs_and_ocsf_views() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let capture = support::testdata(CAPTURE);
    let run = run_lake(dir.path(), &capture, &lake, "tap-1");
    let report = run.report();
    let views = support::repo().join("docs/lake-views.sql");
    const SCRIPT: &str = r#"
import duckdb, json, sys
root, views = sys.argv[1], sys.argv[2]
db = duckdb.connect()
for t in ["flows", "findings", "files", "host_observations", "captures"]:
    db.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)")
types = {t: dict((r[0], r[1]) for r in db.execute(f"DESCRIBE {t}").fetchall())
         for t in ["flows", "findings", "host_observations", "captures"]}
db.execute(open(views).read())
ecs = db.execute('''SELECT count(*), sum("network.bytes"), count(DISTINCT "network.community_id"),
    sum(CASE WHEN "network.community_id" = f.community_id THEN 1 ELSE 0 END)
    FROM flows_ecs e JOIN flows f ON e."event.id" = f.uid''').fetchone()
ocsf = db.execute('''SELECT count(*), sum("traffic.bytes"), min(class_uid), max(class_uid),
    sum(CASE WHEN "time" = epoch_ms(f.ts) THEN 1 ELSE 0 END)
    FROM flows_ocsf o JOIN flows f ON o."metadata.uid" = f.uid''').fetchone()
findings = db.execute('SELECT count(*), count(DISTINCT "event.id") FROM findings_ecs').fetchone()
print(json.dumps({"types": types, "ecs": ecs, "ocsf": ocsf, "findings": findings}, default=str))
"#;
    let out = python(SCRIPT, &[lake.to_str().unwrap(), views.to_str().unwrap()]);
    let types = &out["types"];
    assert_eq!(types["flows"]["ts"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["flows"]["last_ts"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["findings"]["ts"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(
        types["host_observations"]["first_ts"],
        "TIMESTAMP WITH TIME ZONE"
    );
    assert_eq!(types["captures"]["first_ts"], "TIMESTAMP WITH TIME ZONE");
    for (table, cols) in types.as_object().unwrap() {
        for (col, ty) in cols.as_object().unwrap() {
            let ty = ty.as_str().unwrap();
            assert!(!ty.starts_with('U'), "{table}.{col} is unsigned ({ty})");
            assert!(!ty.contains("TIMESTAMP_NS"), "{table}.{col} is {ty}");
        }
    }
    assert_eq!(types["flows"]["orig_pkts"], "BIGINT");
    assert_eq!(types["flows"]["id_orig_p"], "INTEGER");
    // Every flow, once, in both views, with the bytes report.json counts.
    let flows = report["flows"].as_array().unwrap();
    let bytes: u64 = flows
        .iter()
        .map(|f| {
            f["to_server"]["bytes"].as_u64().unwrap() + f["to_client"]["bytes"].as_u64().unwrap()
        })
        .sum();
    let n = flows.len() as u64;
    let ecs = out["ecs"].as_array().unwrap();
    assert_eq!(ecs[0].as_u64(), Some(n));
    assert_eq!(ecs[1].to_string().trim_matches('"'), bytes.to_string());
    assert_eq!(ecs[3].as_u64(), Some(n));
    let ocsf = out["ocsf"].as_array().unwrap();
    assert_eq!(ocsf[0].as_u64(), Some(n));
    assert_eq!(ocsf[1].to_string().trim_matches('"'), bytes.to_string());
    assert_eq!(
        (ocsf[2].as_u64(), ocsf[3].as_u64()),
        (Some(4001), Some(4001))
    );
    assert_eq!(ocsf[4].as_u64(), Some(n));
    let findings = out["findings"].as_array().unwrap();
    assert!(findings[0].as_u64().unwrap() > 0);
    assert_eq!(findings[0], findings[1], "finding ids repeat");
}

#[test]
fn a_sensor_name_that_could_leave_the_lake_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    let out = support::pcapxray(&[
        "run",
        dir.path().join("p.toml").to_str().unwrap(),
        support::testdata(CAPTURE).to_str().unwrap(),
        "-o",
        dir.path().join("r").to_str().unwrap(),
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        "../x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sensor name `../x`"), "{err}");
    assert!(!lake.exists());
}

#[test]
fn lake_files_are_the_files_tshark_exported_with_the_flows_that_carried_them() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let name = "http_keepalive_chunked_gzip_3_objects.pcap";
    let capture = support::testdata(&format!("files/captures/{name}"));
    run_lake(dir.path(), &capture, &lake, "tap-1");
    let text = std::fs::read_to_string(support::testdata("files/files_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let mut want: Vec<(String, i64, String)> = expected[name]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let sha = f["sha256"].as_str().unwrap().to_string();
            (
                sha,
                f["size"].as_i64().unwrap(),
                f["flow"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(want.len(), 3);
    let rows: Vec<Value> = parquet_files(&lake.join("files"))
        .iter()
        .flat_map(|p| read_parquet(p))
        .flat_map(|b| arrow_json_rows(&b))
        .collect();
    let flows: BTreeMap<String, Value> = parquet_files(&lake.join("flows"))
        .iter()
        .flat_map(|p| read_parquet(p))
        .flat_map(|b| arrow_json_rows(&b))
        .map(|f| (f["uid"].as_str().unwrap().to_string(), f))
        .collect();
    let mut got: Vec<(String, i64, String)> = rows
        .iter()
        .map(|r| {
            let f = &flows[r["uid"].as_str().unwrap()];
            let flow = format!(
                "{}:{} -> {}:{}",
                f["id_orig_h"].as_str().unwrap(),
                f["id_orig_p"],
                f["id_resp_h"].as_str().unwrap(),
                f["id_resp_p"]
            );
            (
                r["sha256"].as_str().unwrap().to_string(),
                r["size"].as_i64().unwrap(),
                flow,
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn a_batch_with_two_jobs_fills_the_lake_exactly_as_one_run_per_capture() {
    let dir = tempfile::tempdir().unwrap();
    let captures = [
        support::testdata(CAPTURE),
        support::testdata("vlan_8021q_icmp_arp.pcap"),
        support::testdata("files/captures/http_keepalive_chunked_gzip_3_objects.pcap"),
    ];
    let single = dir.path().join("single");
    for c in &captures {
        run_lake(dir.path(), c, &single, "tap-1");
    }
    let batched = dir.path().join("batched");
    let pipeline = dir.path().join("pipeline.toml");
    let mut args = vec![
        "batch".to_string(),
        pipeline.display().to_string(),
        "--lake".into(),
        batched.display().to_string(),
        "--sensor".into(),
        "tap-1".into(),
        "--jobs".into(),
        "2".into(),
    ];
    args.extend(captures.iter().map(|c| c.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = support::pcapxray(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 captures, 2 jobs"), "{stdout}");
    assert_eq!(lake_rows(&batched), lake_rows(&single));
    // No report folder or staging file is left behind in the lake.
    let staging: Vec<_> = std::fs::read_dir(batched.join(".staging"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

/// A folder without capture files (a mistyped path, the wrong folder) fails the batch naming it,
/// instead of a batch of nothing that succeeds.
#[test]
fn a_batch_over_a_folder_without_captures_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("exports");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a capture").unwrap();
    let lake = dir.path().join("lake");
    let out = support::pcapxray(&[
        "batch",
        "config/pipeline.toml",
        empty.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot find a capture file (.pcap, .pcapng or .cap) in {}",
            empty.display()
        )),
        "{stderr}"
    );
    assert!(!lake.exists());
}
