#!/usr/bin/env python3
"""Merge a pcapxray lake with DuckDB: the same merge the Spark driver runs, on one machine.

    python3 tools/lake/merge_duckdb.py ROOT OUT [--sql FILE]

Registers the views `flows`, `findings`, `host_observations`, `files` and `captures` over the lake
folder ROOT (hive partitions `sensor`, `date`, `capture` read as text), runs the merge SQL
(docs/lake-merge.sql beside this repository's tools/, or --sql FILE) and writes every view it
defines whose name starts with `merged_` as OUT/<view>/part-0.parquet (zstd), replacing what was
there. Prints the rows of each and the time taken. Needs the `duckdb` package from PyPI.

Exit codes: 0 done, 1 something is wrong (the message says what and where), 2 bad arguments.
"""

import argparse
import os
import re
import shutil
import sys
import time

TABLES = ["flows", "findings", "host_observations", "files", "captures"]
DEFAULT_SQL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "lake-merge.sql")
VIEW = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+TEMPORARY\s+VIEW\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)


class Failure(Exception):
    """An error for the user: printed as `error: ...`, exit code 1."""


def statements(path):
    """The statements of a merge SQL file: `--` comment lines dropped, split at a `;` that ends a
    line. Returns (view name, text) pairs; every statement must create a temporary view."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise Failure(f"cannot read the merge SQL {path}: {e.strerror}")
    out, current = [], []
    for line in lines:
        if line.lstrip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if "\n".join(current).strip():
        out.append("\n".join(current))
    result = []
    for i, text in enumerate(s for s in out if s.strip()):
        m = VIEW.match(text)
        if not m:
            first = text.strip().splitlines()[0]
            raise Failure(f"{path}: statement {i + 1} is not `CREATE OR REPLACE TEMPORARY VIEW name AS ...`: {first}")
        result.append((m.group(1), text))
    if not result:
        raise Failure(f"{path} has no statements")
    return result


def table_glob(root, table):
    """The lake's Parquet files of `table`, or a Failure saying the lake lacks them."""
    folder = os.path.join(root, table)
    if not os.path.isdir(folder):
        raise Failure(f"{root} has no `{table}` folder: not a pcapxray lake, or no capture was run into it")
    return os.path.join(folder, "*", "*", "*", "*.parquet")


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def merge(root, out, sql):
    if not os.path.isdir(root):
        raise Failure(f"the lake folder {root} does not exist (or is not a folder)")
    globs = {t: table_glob(root, t) for t in TABLES}
    parts = statements(sql)
    try:
        import duckdb
    except ImportError:
        raise Failure("merge_duckdb.py needs the duckdb package from PyPI (pip install duckdb)")
    started = time.monotonic()
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for table, pattern in globs.items():
        try:
            db.execute(
                f"CREATE OR REPLACE TEMPORARY VIEW {table} AS SELECT * FROM read_parquet({quote(pattern)}, "
                "hive_partitioning = true, hive_types_autocast = false)"
            )
        except duckdb.Error as e:
            raise Failure(f"cannot read the `{table}` table of {root}: {e}")
    for i, (view, text) in enumerate(parts):
        try:
            db.execute(text)
        except duckdb.Error as e:
            raise Failure(f"{sql}: statement {i + 1} (view {view}) failed: {e}")
    merged = [v for v, _ in parts if v.startswith("merged_")]
    if not merged:
        raise Failure(f"{sql} defines no view named merged_*")
    counts = {}
    for view in merged:
        folder = os.path.join(out, view)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.makedirs(folder)
        except OSError as e:
            raise Failure(f"cannot make {folder}: {e.strerror}")
        target = os.path.join(folder, "part-0.parquet")
        try:
            db.execute(f"COPY (SELECT * FROM {view}) TO {quote(target)} (FORMAT parquet, COMPRESSION zstd)")
            counts[view] = db.execute(f"SELECT count(*) FROM read_parquet({quote(target)})").fetchone()[0]
        except duckdb.Error as e:
            raise Failure(f"cannot write {view} to {target}: {e}")
    return counts, time.monotonic() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description="Merge a pcapxray lake with DuckDB (docs/lake.md).")
    parser.add_argument("root", metavar="ROOT", help="the lake folder of `pcapxray run --lake ROOT`")
    parser.add_argument("out", metavar="OUT", help="where the merged views go, one folder each")
    parser.add_argument("--sql", default=DEFAULT_SQL, help="the merge SQL [default: docs/lake-merge.sql]")
    args = parser.parse_args(argv)
    try:
        counts, seconds = merge(args.root, args.out, os.path.normpath(args.sql))
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for view, n in counts.items():
        print(f"{view}: {n} rows")
    print(f"merged in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
