//! The lake beyond one machine (issue #15 point 4): the PySpark driver (`tools/lake/spark_driver.py`)
//! in Spark's local mode against the DuckDB merge (`tools/lake/merge_duckdb.py`), both running
//! docs/lake-merge.sql over the same lake of a real capture split into rotated files. The Spark test
//! needs Java 17 and pyspark from PyPI and takes about a minute: it runs only with
//! `PCAPXRAY_LONG_TESTS=1`. The errors of merge_duckdb.py are checked on every run.

use crate::lake::{PIPELINE, lake_venv};
use crate::support;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The capture cut into rotated files (the one tests/e2e/lake_merge.rs cuts at the same packets).
const CAPTURE: &str = "mixed_pcapxray_malicious_traffic.pcap";

fn long_tests() -> bool {
    std::env::var("PCAPXRAY_LONG_TESTS").as_deref() == Ok("1")
}

fn tool(name: &str) -> PathBuf {
    support::repo().join("tools/lake").join(name)
}

/// A virtualenv with pyspark (4.x runs on Java 17), DuckDB, boto3 and moto's S3 server, made once
/// and kept in target/tmp.
fn spark_venv() -> PathBuf {
    support::venv(
        "spark-venv",
        &[
            "pyspark==4.0.1",
            "duckdb==2.0.1",
            "boto3==1.44.5",
            "moto[server]==5.2.5",
        ],
        (
            "python",
            &["-c", "import pyspark, duckdb, boto3, moto.server"],
        ),
    )
}

/// moto's S3-compatible server on 127.0.0.1, stopped when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl S3Server {
    fn start(venv: &Path) -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        server
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Credentials for moto (it accepts any).
const S3_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the Python of `venv` on `script` with `args`; its stdout as JSON.
fn python_json(venv: &Path, script: &str, args: &[&str]) -> Value {
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// `spark-submit --master local[2] tools/lake/spark_driver.py ARGS`, with the venv's Python for the
/// driver and the executors.
fn spark_submit(venv: &Path, args: &[&str]) -> Output {
    let python = venv.join("bin/python");
    Command::new(venv.join("bin/spark-submit"))
        .envs(S3_ENV)
        .args([
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=4",
        ])
        .arg(tool("spark_driver.py"))
        .args(args)
        .env("PYSPARK_PYTHON", &python)
        .env("PYSPARK_DRIVER_PYTHON", &python)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env(
            "PCAPXRAY_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"),
        )
        .output()
        .expect("run spark-submit")
}

/// The merged views of two merge outputs, read by DuckDB: their names, and for each its column
/// names and types and its rows (as JSON, sorted).
const COMPARE: &str = r#"
import duckdb, json, os, sys
spark_out, duck_out, lake = sys.argv[1:4]
db = duckdb.connect()
db.execute("SET TimeZone = 'UTC'")
def views(root):
    return sorted(v for v in os.listdir(root) if v.startswith("merged_"))
out = {"spark_views": views(spark_out), "duckdb_views": views(duck_out), "tables": {}}
for v in out["duckdb_views"]:
    t = {}
    for name, root in (("spark", spark_out), ("duckdb", duck_out)):
        rel = db.sql(f"SELECT * FROM read_parquet('{root}/{v}/*.parquet')")
        t[name] = {
            "columns": [[c, str(ty)] for c, ty in zip(rel.columns, rel.types)],
            "rows": sorted(json.dumps(list(r), default=str) for r in rel.fetchall()),
        }
    out["tables"][v] = t
def lake_table(t):
    return (f"read_parquet('{lake}/{t}/*/*/*/*.parquet', hive_partitioning = true, "
            "hive_types_autocast = false)")
out["lake_flows"] = db.execute(f"SELECT count(*) FROM {lake_table('flows')}").fetchall()[0][0]
out["open_pieces"] = db.execute(
    f"SELECT count(*) FROM {lake_table('flows')} WHERE open_at_start OR open_at_end").fetchall()[0][0]
out["captures"] = db.execute(f"SELECT capture, sha256, file FROM {lake_table('captures')} ORDER BY file").fetchall()
print(json.dumps(out))
"#;

/// A real capture split into three rotated files (flows open across both cuts) goes through the
/// Spark driver in local mode and through merge_duckdb.py: the merged tables are the same, row by
/// row, all columns, ids included. A capture that cannot be read makes the driver fail naming it,
/// while the others still land in the lake. The same files from an S3-compatible server (moto, on
/// 127.0.0.1, started and stopped here) give the same merged tables.
#[test]
fn spark_driver_over_rotated_files_merges_to_the_same_tables_as_duckdb() {
    if !long_tests() {
        eprintln!(
            "skipped: the Spark driver test runs only with PCAPXRAY_LONG_TESTS=1 (needs Java 17 and pyspark)"
        );
        return;
    }
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "the Spark test needs Java 17 on PATH: apt-get install openjdk-17-jre-headless (.ci/run does)"
    );
    let venv = spark_venv();
    let dir = tempfile::tempdir().unwrap();
    let rotated = dir.path().join("rotated");
    std::fs::create_dir(&rotated).unwrap();
    // Cut inside TCP connections (web, TLS) and a UDP exchange, as tests/e2e/lake_merge.rs does.
    let parts: Vec<PathBuf> = pcapgen::split::split(
        &support::testdata(CAPTURE),
        &rotated,
        pcapgen::split::Cuts::Before(vec![326, 652]),
    )
    .expect("split")
    .into_iter()
    .map(|(path, _)| path)
    .collect();
    assert_eq!(parts.len(), 3);
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let lake = dir.path().join("lake");
    let bin = env!("CARGO_BIN_EXE_pcapxray");
    let base = [
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        "tap-1",
        "--pcapxray",
        bin,
    ];

    // First the three files and one that is no capture: the driver lists it and merges nothing.
    let bad = dir.path().join("broken.pcap");
    std::fs::write(&bad, b"this is not a capture file").unwrap();
    let spark_out = dir.path().join("merged-spark");
    let results = dir.path().join("results.json");
    let mut args = base.to_vec();
    args.extend([
        "--merged",
        spark_out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        rotated.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    let out = spark_submit(&venv, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // spark-submit hands the driver's stderr on through its stdout.
    let all = text(&out);
    assert!(
        all.contains("error: 1 of 4 captures failed")
            && all.contains(&format!("  {} (exit code 1): error: ", bad.display())),
        "{}",
        text(&out)
    );
    let codes: Vec<(String, i64)> = exit_codes(&results);
    let mut want: Vec<(String, i64)> = parts.iter().map(|p| (p.display().to_string(), 0)).collect();
    want.push((bad.display().to_string(), 1));
    assert_eq!(codes, want);
    assert!(!spark_out.exists(), "nothing is merged after a failure");

    // Then the three files again (their partitions are replaced) and the merge.
    let mut args = base.to_vec();
    args.extend([
        "--merged",
        spark_out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        rotated.to_str().unwrap(),
    ]);
    let started = Instant::now();
    let out = spark_submit(&venv, &args);
    let spark_seconds = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let want: Vec<(String, i64)> = parts.iter().map(|p| (p.display().to_string(), 0)).collect();
    assert_eq!(exit_codes(&results), want);

    let duck_out = dir.path().join("merged-duckdb");
    let started = Instant::now();
    let merged = Command::new(venv.join("bin/python"))
        .arg(tool("merge_duckdb.py"))
        .args([&lake, &duck_out])
        .output()
        .unwrap();
    let duck_seconds = started.elapsed().as_secs_f64();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    eprintln!(
        "spark driver (local[2], 3 captures, merge included): {spark_seconds:.1} s; merge_duckdb.py: {duck_seconds:.1} s\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&merged.stdout)
    );

    let got = python_json(
        &venv,
        COMPARE,
        &[
            spark_out.to_str().unwrap(),
            duck_out.to_str().unwrap(),
            lake.to_str().unwrap(),
        ],
    );
    assert_eq!(got["spark_views"], got["duckdb_views"]);
    let views: BTreeSet<&str> = got["duckdb_views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for v in [
        "merged_flows",
        "merged_findings",
        "merged_host_observations",
    ] {
        assert!(views.contains(v), "{v} missing from {views:?}");
    }
    for (view, t) in got["tables"].as_object().unwrap() {
        let (spark, duck) = (&t["spark"], &t["duckdb"]);
        assert_eq!(spark["columns"], duck["columns"], "{view}: columns differ");
        let rows = |v: &Value| -> Vec<String> {
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect()
        };
        let (s, d) = (rows(spark), rows(duck));
        let only_spark: Vec<&String> = s.iter().filter(|r| !d.contains(r)).take(5).collect();
        let only_duck: Vec<&String> = d.iter().filter(|r| !s.contains(r)).take(5).collect();
        assert_eq!(
            s,
            d,
            "{view}: {} rows from Spark, {} from DuckDB; only in Spark: {only_spark:#?}; only in DuckDB: {only_duck:#?}",
            s.len(),
            d.len()
        );
        if view != "merged_files" {
            assert!(!d.is_empty(), "{view} is empty");
        }
    }
    // The cuts fell inside flows: the lake has pieces open at a file's start or end, and merging
    // joined them, so there are fewer merged flows than rows in the lake.
    assert!(
        got["open_pieces"].as_u64().unwrap() >= 4,
        "{}",
        got["open_pieces"]
    );
    let merged_flows = got["tables"]["merged_flows"]["duckdb"]["rows"]
        .as_array()
        .unwrap()
        .len() as u64;
    let lake_flows = got["lake_flows"].as_u64().unwrap();
    assert!(
        merged_flows < lake_flows,
        "{merged_flows} merged flows from {lake_flows} fragments"
    );
    // Every capture is in `captures`, under its own hash, with the file the driver gave.
    let mut captured: Vec<(String, String, String)> = got["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_string();
            (s(0), s(1), s(2))
        })
        .collect();
    captured.sort();
    let mut want: Vec<(String, String, String)> = parts
        .iter()
        .map(|p| (sha256_hex(p), sha256_hex(p), p.display().to_string()))
        .collect();
    want.sort();
    assert_eq!(captured, want);

    // The same three files from an S3-compatible store (moto's server on 127.0.0.1): listed under
    // their prefix (other objects left out), downloaded by each task, the same merged tables.
    let s3 = S3Server::start(&venv);
    const UPLOAD: &str = r#"
import boto3, os, sys
endpoint, folder = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket="captures")
for name in sorted(os.listdir(folder)):
    s3.upload_file(os.path.join(folder, name), "captures", f"tap-1/{name}")
s3.put_object(Bucket="captures", Key="tap-1/notes.txt", Body=b"not a capture")
s3.put_object(Bucket="captures", Key="other/part-9.pcap", Body=b"not under the prefix")
print("[]")
"#;
    let upload = Command::new(venv.join("bin/python"))
        .envs(S3_ENV)
        .arg("-c")
        .arg(UPLOAD)
        .args([s3.endpoint.as_str(), rotated.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(upload.status.success(), "{}", text(&upload));
    let lake_s3 = dir.path().join("lake-s3");
    let merged_s3 = dir.path().join("merged-s3");
    let args = [
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--lake",
        lake_s3.to_str().unwrap(),
        "--sensor",
        "tap-1",
        "--pcapxray",
        bin,
        "--merged",
        merged_s3.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--s3-endpoint",
        s3.endpoint.as_str(),
        "s3://captures/tap-1/",
    ];
    let out = spark_submit(&venv, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let want: Vec<(String, i64)> = parts
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            (format!("s3://captures/tap-1/{name}"), 0)
        })
        .collect();
    assert_eq!(exit_codes(&results), want);
    drop(s3);
    let from_s3 = python_json(
        &venv,
        COMPARE,
        &[
            merged_s3.to_str().unwrap(),
            spark_out.to_str().unwrap(),
            lake_s3.to_str().unwrap(),
        ],
    );
    assert_eq!(from_s3["spark_views"], got["spark_views"]);
    for (view, t) in from_s3["tables"].as_object().unwrap() {
        assert_eq!(
            t["spark"], t["duckdb"],
            "{view}: from S3 and from files differ"
        );
    }
    // The lake has the same captures; their `file` is where the task downloaded them (pcapxray
    // run names the evidence by the path it reads).
    let hashes = |v: &Value| -> BTreeSet<String> {
        v["captures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(hashes(&from_s3), hashes(&got));
}

/// (capture, exit code) of the driver's `--results` file, in the order of its captures.
fn exit_codes(results: &Path) -> Vec<(String, i64)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["capture"].as_str().unwrap().to_string(),
                r["exit_code"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// merge_duckdb.py says what is wrong, with exit code 1 and no Python traceback, for a missing lake
/// folder, a folder that is no lake, a missing SQL file and a statement that fails; and merges a real
/// lake of rotated files into `OUT/<view>/part-0.parquet` with the row counts it prints, with the
/// types and `open_until` that Spark gives too.
#[test]
fn merge_duckdb_names_what_is_wrong_and_writes_each_merged_view() {
    let venv = lake_venv();
    let dir = tempfile::tempdir().unwrap();
    let merge = |args: &[&Path]| {
        Command::new(venv.join("bin/python"))
            .arg(tool("merge_duckdb.py"))
            .args(args)
            .output()
            .unwrap()
    };
    // A lake of one capture cut into three rotated files where flows are open.
    let lake = dir.path().join("lake");
    let rotated = crate::lake_merge::split(&support::testdata(CAPTURE), dir.path(), &[326, 652]);
    crate::lake_merge::batch(dir.path(), &rotated, &lake);

    let out_dir = dir.path().join("out");
    let missing = dir.path().join("no-such-lake");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad_sql = dir.path().join("bad.sql");
    std::fs::write(
        &bad_sql,
        "-- a column no table has\nCREATE OR REPLACE TEMPORARY VIEW merged_flows AS\nSELECT no_such_column FROM flows;\n",
    )
    .unwrap();
    let sql = Path::new("--sql");
    let cases: [(Vec<&Path>, String); 4] = [
        (
            vec![&missing, &out_dir],
            format!(
                "error: the lake folder {} does not exist",
                missing.display()
            ),
        ),
        (
            vec![&empty, &out_dir],
            format!("error: {} has no `flows` folder", empty.display()),
        ),
        (
            vec![&lake, &out_dir, sql, Path::new("/no/such/merge.sql")],
            "error: cannot read the merge SQL /no/such/merge.sql".to_string(),
        ),
        (
            vec![&lake, &out_dir, sql, &bad_sql],
            format!(
                "error: {}: statement 1 (view merged_flows) failed: ",
                bad_sql.display()
            ),
        ),
    ];
    for (args, message) in cases {
        let out = merge(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(stderr.starts_with(&message), "{args:?}: {stderr}");
        assert!(!stderr.contains("Traceback"), "{args:?}: {stderr}");
    }
    assert!(!out_dir.exists());

    // The real lake with docs/lake-merge.sql.
    let out = merge(&[&lake, &out_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    for line in stdout.lines() {
        let Some((view, rows)) = line.split_once(": ") else {
            continue;
        };
        let rows: usize = rows.trim_end_matches(" rows").parse().unwrap();
        let part = out_dir.join(view).join("part-0.parquet");
        let file = std::fs::File::open(&part).unwrap_or_else(|e| panic!("{}: {e}", part.display()));
        use parquet::file::reader::FileReader;
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows() as usize, rows, "{view}");
        for rg in meta.row_groups() {
            for c in rg.columns() {
                assert!(
                    matches!(c.compression(), parquet::basic::Compression::ZSTD(_)),
                    "{view}: {:?}",
                    c.compression()
                );
            }
        }
        seen += 1;
    }
    assert!(seen >= 3, "{stdout}");
    assert!(stdout.contains("merged_flows: "), "{stdout}");

    // Regressions found by the Spark test: DuckDB summed the counters into 128-bit integers, which its
    // Parquet writer stored as DOUBLE (Spark: BIGINT); and DuckDB's MAX_BY skipped a closed last
    // piece's NULL `open_until` and took an earlier piece's, so a closed flow said when it would stay
    // open until.
    let file = std::fs::File::open(out_dir.join("merged_flows/part-0.parquet")).unwrap();
    let batches: Vec<arrow_array::RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let schema = batches[0].schema();
    for col in [
        "orig_pkts",
        "resp_pkts",
        "orig_bytes",
        "resp_bytes",
        "orig_ip_bytes",
        "resp_ip_bytes",
        "fragments",
        "findings",
        "pieces",
    ] {
        assert_eq!(
            schema.field_with_name(col).unwrap().data_type(),
            &arrow_schema::DataType::Int64,
            "merged_flows.{col}"
        );
    }
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let (mut joined_and_closed, mut open) = (0, 0);
    for b in &batches {
        let open_at_end = b.column_by_name("open_at_end").unwrap().as_boolean();
        let open_until = b.column_by_name("open_until").unwrap();
        let pieces = b
            .column_by_name("pieces")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>();
        for i in 0..b.num_rows() {
            assert_eq!(
                open_until.is_null(i),
                !open_at_end.value(i),
                "row {i}: open_until is set exactly when the flow is open at the end"
            );
            joined_and_closed += usize::from(pieces.value(i) > 1 && !open_at_end.value(i));
            open += usize::from(open_at_end.value(i));
        }
    }
    assert!(
        joined_and_closed > 0 && open > 0,
        "{joined_and_closed} {open}"
    );
}
