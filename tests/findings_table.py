#!/usr/bin/env python3
"""Findings per tag on every capture of the shared corpus, for the table in README.md.

    tests/findings_table.py collect BINARY OUT.tsv   # run the default pipeline on every capture
    tests/findings_table.py compare BEFORE.tsv AFTER.tsv   # the Markdown table, before -> after

`collect` runs config/pipeline.toml's analyzers (the Tor stage reading the shared consensus instead of
~/.local/share/pcapxray/tor) with only the json output, over every .pcap/.pcapng in
../shared/testdata (and config/demo.pcap), and writes `capture<TAB>tag<TAB>count` lines.
"""
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
CONSENSUS = TESTDATA / "tor_cached-consensus_2022-11-19"


def pipeline():
    text = (REPO / "config" / "pipeline.toml").read_text()
    analyzers = text.split("[[output]]")[0]
    analyzers = analyzers.replace('"~/.local/share/pcapxray/tor"', json.dumps(str(CONSENSUS)))
    return analyzers + '[[output]]\nplugin = "json"\n'


def captures():
    if not TESTDATA.is_dir():
        sys.exit(f"{TESTDATA} is missing: the table needs the shared captures")
    found = sorted(p for p in TESTDATA.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return [REPO / "config" / "demo.pcap"] + found


def findings(report):
    """The findings an analyst reads: from schema 3 on, the findings list (a roll-up of flow findings
    counts once; run notes are not findings); before, every finding on a flow and off."""
    if report.get("schema_version", 1) >= 3:
        yield from report["findings"]
        return
    for flow in report["flows"]:
        yield from flow["findings"]
    yield from report["findings"]


def collect(binary, out):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "pipeline.toml").write_text(pipeline())
        env = dict(os.environ, PCAPXRAY_CACHE_DIR=str(tmp / "cache"))
        for capture in captures():
            report_dir = tmp / ("report-" + capture.name)
            subprocess.run(
                [binary, "run", str(tmp / "pipeline.toml"), str(capture), "-o", str(report_dir), "-q"],
                env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            path = report_dir / "report.json"
            if not path.exists():
                rows.append((capture.name, "(no report)", 0))
                continue
            counts = collections.Counter(f["tag"] for f in findings(json.loads(path.read_text())))
            if not counts:
                rows.append((capture.name, "(none)", 0))
            rows.extend((capture.name, tag, n) for tag, n in sorted(counts.items()))
    with open(out, "w") as f:
        for row in rows:
            f.write("\t".join(map(str, row)) + "\n")


def read(path):
    table = collections.defaultdict(dict)
    for line in open(path):
        capture, tag, n = line.rstrip("\n").split("\t")
        table[capture][tag] = int(n)
    return table


def compare(before_path, after_path):
    before, after = read(before_path), read(after_path)
    print("| capture | findings per tag, before → after (unchanged tags as one number) |")
    print("|---|---|")
    for capture in sorted(set(before) | set(after), key=lambda c: (c != "demo.pcap", c)):
        b, a = before.get(capture, {}), after.get(capture, {})
        cells = []
        for tag in sorted((set(b) | set(a)) - {"(none)", "(no report)"}):
            x, y = b.get(tag, 0), a.get(tag, 0)
            cells.append(f"{tag} {x}" if x == y else f"**{tag} {x} → {y}**")
        if "(no report)" in b or "(no report)" in a:
            cells.append("no report")
        print(f"| `{capture}` | {', '.join(cells) or '—'} |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
