#!/usr/bin/env python3
"""pcapxray on Spark: `pcapxray run --lake` over many captures, one Spark task each, then the merge.

    spark-submit [--master local[2] | yarn | k8s://...] tools/lake/spark_driver.py \\
        --pipeline PIPELINE --lake ROOT [--sensor S] [--pcapxray BIN] [--merged OUT] \\
        [--sql FILE] [--results FILE] [--s3-endpoint URL] CAPTURE|FOLDER|s3://BUCKET/PREFIX ...

1. Lists the captures: a file as given; a folder's .pcap, .pcapng and .cap files (not descending,
   sorted by name); every such object under an `s3://bucket/prefix` (through boto3, imported only
   then; `--s3-endpoint` for an S3-compatible store such as MinIO or Ceph).
2. Runs one Spark task per capture (`sc.parallelize(captures, len(captures))`; a capture file is the
   unit of work, it cannot be split). Each task runs
   `pcapxray run PIPELINE CAPTURE --lake ROOT --sensor S -o <temporary report folder> -q` on its
   executor; an S3 capture is first downloaded to a temporary file there. The lake's job contract
   (docs/lake.md) makes a retried or repeated task safe: a capture's partitions are replaced whole.
3. Prints one line per capture with its exit code (and writes them as JSON with `--results`). If a
   capture failed (exit code other than 0 and 2), it lists the failed captures and exits 1 without
   merging: rerun the driver (captures done already are simply replaced).
4. With `--merged OUT`: registers the lake's tables as the views `flows`, `findings`,
   `host_observations`, `files`, `captures` (partition columns as text), runs docs/lake-merge.sql
   (or `--sql FILE`) and writes every view named `merged_*` as Parquet (zstd) to `OUT/<view>/`.
   Exits 2 when every capture ran but some reports are incomplete (pcapxray's exit code 2), as
   `pcapxray batch` does; 0 otherwise.

What every executor needs: the pcapxray binary (`--pcapxray`, default `pcapxray` on PATH), the
pipeline file and its plugins at the same path, and ROOT as a shared filesystem (NFS, a
ReadWriteMany volume, a FUSE-mounted bucket...) that every executor and the driver see at the same
path: pcapxray writes the lake with renames on a local filesystem, so ROOT cannot be an s3:// URL.
Local captures must be readable at the same path from every executor too; S3 captures need only
boto3 and credentials (the usual AWS_* variables) on the executors.

Only the Python standard library, pyspark and (for S3) boto3 are used.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TABLES = ["flows", "findings", "host_observations", "files", "captures"]
EXTENSIONS = (".pcap", ".pcapng", ".cap")
DEFAULT_SQL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "lake-merge.sql")


class Failure(Exception):
    """An error for the user: printed as `error: ...`, exit code 1."""


# --- listing the captures (on the driver) ------------------------------------------------------

def split_s3(url):
    """`s3://bucket/prefix` -> (bucket, prefix)."""
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise Failure(f"{url}: no bucket name")
    return bucket, prefix


def s3_client(endpoint):
    try:
        import boto3
    except ImportError:
        raise Failure("s3:// captures need the boto3 package (pip install boto3) on the driver and executors")
    return boto3.client("s3", endpoint_url=endpoint) if endpoint else boto3.client("s3")


def list_s3(url, endpoint):
    bucket, prefix = split_s3(url)
    client = s3_client(endpoint)
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.lower().endswith(EXTENSIONS):
                    found.append(f"s3://{bucket}/{key}")
    except Exception as e:  # botocore's errors: no such bucket, no credentials, endpoint down
        raise Failure(f"cannot list {url}: {e}")
    return sorted(found)


def list_captures(inputs, endpoint):
    """Every capture named by `inputs`, in the order given (folders and prefixes sorted by name)."""
    captures = []
    for item in inputs:
        if item.startswith("s3://"):
            captures.extend(list_s3(item, endpoint))
        elif os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if n.lower().endswith(EXTENSIONS))
            captures.extend(os.path.abspath(os.path.join(item, n)) for n in names
                            if os.path.isfile(os.path.join(item, n)))
        elif os.path.isfile(item):
            captures.append(os.path.abspath(item))
        else:
            raise Failure(f"{item}: no such capture file or folder")
    if not captures:
        raise Failure(f"no captures (.pcap, .pcapng, .cap) in {' '.join(inputs)}")
    return captures


# --- one task: one capture (on an executor) ----------------------------------------------------

def run_capture(capture, settings):
    """Runs `pcapxray run --lake` over one capture; returns a dict with its exit code and the end
    of its error output. Never raises: a failure is a result, listed by the driver."""
    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="pcapxray-task-")
    result = {"capture": capture, "exit_code": None, "error": None}
    try:
        local = capture
        if capture.startswith("s3://"):
            bucket, key = split_s3(capture)
            local = os.path.join(scratch, os.path.basename(key) or "capture.pcap")
            s3_client(settings["s3_endpoint"]).download_file(bucket, key, local)
        cmd = [settings["pcapxray"], "run", settings["pipeline"], local, "--lake", settings["lake"],
               "--sensor", settings["sensor"], "-o", os.path.join(scratch, "report"), "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        result["exit_code"] = done.returncode
        if done.returncode != 0:
            result["error"] = done.stderr.strip()[-2000:] or done.stdout.strip()[-2000:]
    except Exception as e:  # the binary missing, a download refused: say so for this capture
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


# --- the merge (on the driver) -----------------------------------------------------------------

def statements(path):
    """The statements of the merge SQL as (view name, text) pairs: merge_duckdb.statements (beside
    this script; imported on the driver only, executors never need it), its errors as this driver's."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import merge_duckdb

    try:
        return merge_duckdb.statements(path)
    except merge_duckdb.Failure as e:
        raise Failure(str(e)) from None


def merge(spark, lake, sql, out):
    """Registers the lake's tables, runs the merge SQL, writes the merged_* views under `out`."""
    parts = statements(sql)
    # Partition columns (sensor, date, capture) stay text, as DuckDB reads them with
    # hive_types_autocast = false; timestamps are written as microseconds, never INT96.
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    for table in TABLES:
        folder = os.path.join(lake, table)
        if not os.path.isdir(folder):
            raise Failure(f"{lake} has no `{table}` folder: not a pcapxray lake")
        spark.read.option("basePath", folder).parquet(folder).createOrReplaceTempView(table)
    for i, (view, text) in enumerate(parts):
        try:
            spark.sql(text)
        except Exception as e:  # pyspark.errors.AnalysisException and kin
            raise Failure(f"{sql}: statement {i + 1} (view {view}) failed: {e}")
    merged = [v for v, _ in parts if v.startswith("merged_")]
    if not merged:
        raise Failure(f"{sql} defines no view named merged_*")
    counts = {}
    for view in merged:
        target = os.path.join(os.path.abspath(out), view)
        spark.table(view).write.mode("overwrite").option("compression", "zstd").parquet(target)
        counts[view] = spark.read.parquet(target).count()
    return counts


# --- main --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="pcapxray run --lake on Spark, then the merge (docs/lake.md).")
    p.add_argument("captures", nargs="+", metavar="CAPTURE|FOLDER|s3://BUCKET/PREFIX")
    p.add_argument("--pipeline", required=True, help="the pipeline file (same path on every executor)")
    p.add_argument("--lake", required=True, help="the lake folder, shared by every executor and the driver")
    p.add_argument("--sensor", default="default", help="sensor name of the lake's partitions [default: default]")
    p.add_argument("--pcapxray", default="pcapxray", help="the pcapxray binary on the executors [default: on PATH]")
    p.add_argument("--merged", metavar="OUT", help="run the merge and write the merged views here")
    p.add_argument("--sql", default=DEFAULT_SQL, help="the merge SQL [default: docs/lake-merge.sql]")
    p.add_argument("--results", metavar="FILE", help="write each capture's exit code and time as JSON")
    p.add_argument("--s3-endpoint", metavar="URL", help="endpoint of an S3-compatible store")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        print("error: spark_driver.py runs under spark-submit (or with pyspark installed)", file=sys.stderr)
        return 1
    sql = os.path.normpath(args.sql)
    lake = os.path.abspath(args.lake)
    settings = {
        "pipeline": os.path.abspath(args.pipeline),
        "lake": lake,
        "sensor": args.sensor,
        "pcapxray": args.pcapxray,
        "s3_endpoint": args.s3_endpoint,
    }
    try:
        if args.merged:
            statements(sql)  # a broken SQL file is found before any capture runs
        captures = list_captures(args.captures, args.s3_endpoint)
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    spark = SparkSession.builder.appName("pcapxray-lake").getOrCreate()
    try:
        started = time.monotonic()
        results = (spark.sparkContext.parallelize(captures, len(captures))
                   .map(lambda c: run_capture(c, settings))
                   .collect())
        print(f"{len(captures)} captures in {time.monotonic() - started:.2f} s")
        for r in results:
            print(f"exit {r['exit_code'] if r['exit_code'] is not None else '-'}  {r['seconds']:8.2f} s  {r['capture']}")
        if args.results:
            with open(args.results, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1)
        failed = [r for r in results if r["exit_code"] not in (0, 2)]
        if failed:
            print(f"error: {len(failed)} of {len(captures)} captures failed; the lake holds the others, "
                  "nothing was merged:", file=sys.stderr)
            for r in failed:
                print(f"  {r['capture']} (exit code {r['exit_code']}): {r['error']}", file=sys.stderr)
            return 1
        incomplete = any(r["exit_code"] == 2 for r in results)
        if args.merged:
            started = time.monotonic()
            try:
                counts = merge(spark, lake, sql, args.merged)
            except Failure as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
            for view, n in counts.items():
                print(f"{view}: {n} rows")
            print(f"merged in {time.monotonic() - started:.2f} s")
        return 2 if incomplete else 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
