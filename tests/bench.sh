#!/usr/bin/env bash
# Throughput benchmark: pcapxray (and tshark, if installed) on a ~1 GB capture.
#
# usage: tests/bench.sh [CAPTURE]
#   CAPTURE      where the benchmark capture is (generated there if missing);
#                default: ${TMPDIR:-/tmp}/pcapxray-bench/bench-${SIZE_MB}mb.pcap
# environment:
#   SIZE_MB=1024 size of the generated capture
#   INPUTS=DIR   captures to copy (default ../shared/testdata)
#   PIPELINES="config/pipeline-fast.toml config/pipeline.toml"   pipelines measured, in order
#   GEN_ONLY=1   only build pcapgen and generate the capture
#
# The capture is built by `pcapgen bench`: copies of the real Ethernet
# captures in INPUTS, addresses rewritten per copy, timestamps shifted.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
INPUTS=${INPUTS:-$(pwd)/../shared/testdata}
PIPELINES=${PIPELINES:-config/pipeline-fast.toml config/pipeline.toml}
CAPTURE=${1:-${TMPDIR:-/tmp}/pcapxray-bench/bench-${SIZE_MB}mb.pcap}

if [[ ! -x /usr/bin/time ]]; then
    echo "bench.sh: /usr/bin/time (GNU time) is missing; install it with: apt-get install -y time" >&2
    exit 1
fi

if [[ "${GEN_ONLY:-0}" != 1 ]]; then
    echo "== building pcapxray (release)"
    cargo build --release
fi
echo "== building pcapgen (release)"
cargo build --release -p pcapgen
PCAPGEN=target/release/pcapgen

if [[ -s "$CAPTURE" ]]; then
    echo "== using existing capture $CAPTURE"
else
    echo "== generating $CAPTURE (${SIZE_MB} MiB from $INPUTS)"
    mkdir -p "$(dirname "$CAPTURE")"
    gen_start=$(date +%s.%N)
    "$PCAPGEN" bench --out "$CAPTURE.part" --size-mb "$SIZE_MB" --inputs "$INPUTS"
    mv "$CAPTURE.part" "$CAPTURE"
    gen_end=$(date +%s.%N)
    awk -v s="$gen_start" -v e="$gen_end" 'BEGIN { printf "   generation took %.2f s\n", e - s }'
fi
PACKETS=$("$PCAPGEN" count "$CAPTURE")
BYTES=$(stat -c %s "$CAPTURE")
echo "   $PACKETS packets, $BYTES bytes"

if [[ "${GEN_ONLY:-0}" == 1 ]]; then
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcapxray-bench-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# measure NAME COMMAND...: runs COMMAND under GNU time, appends a table row.
ROWS=()
STAGES=()
measure() {
    local name=$1
    shift
    local tfile="$WORK/$name.time"
    echo "== $name: $*"
    if ! /usr/bin/time -v -o "$tfile" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "   $name failed; last lines of its output:" >&2
        tail -n 20 "$WORK/$name.err" "$WORK/$name.out" >&2 || true
        ROWS+=("$(printf '%-16s %12s %10s %14s %12s' "$name" "$PACKETS" failed - -)")
        return 0
    fi
    local elapsed rss_kb secs
    elapsed=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tfile")
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tfile")
    # Elapsed is h:mm:ss or m:ss.ss
    secs=$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$elapsed")
    ROWS+=("$(awk -v n="$name" -v p="$PACKETS" -v s="$secs" -v r="$rss_kb" 'BEGIN {
        pps = (s > 0) ? p / s : 0
        printf "%-16s %12d %10.2f %14.0f %12.1f", n, p, s, pps, r / 1024 }')")
}

for pipeline in $PIPELINES; do
    if [[ ! -f "$pipeline" ]]; then
        echo "bench.sh: pipeline file $pipeline not found" >&2
        exit 1
    fi
    name=$(basename "$pipeline" .toml)
    # One untimed run first: it compiles the plugins into the cache, as any second run finds them.
    target/release/pcapxray run "$pipeline" "$CAPTURE" -o "$WORK/warm-$name" -q >/dev/null 2>&1 || true
    measure "$name" target/release/pcapxray run -v "$pipeline" "$CAPTURE" -o "$WORK/out-$name" -q
    # What each stage cost (from `run -v`): calls, seconds inside them, peak linear memory.
    STAGES+=("$name:" "$(grep -E ' calls .* MiB peak memory$' "$WORK/$name.out" || true)")
done

if command -v tshark >/dev/null 2>&1; then
    measure tshark tshark -q -r "$CAPTURE" -z conv,ip
else
    echo "== tshark is not installed (for a comparison: apt-get install -y tshark)"
fi

echo
echo "capture: $CAPTURE ($BYTES bytes)"
printf '%-16s %12s %10s %14s %12s\n' tool packets seconds packets/s "peak RSS MiB"
printf '%s\n' "${ROWS[@]}"
echo
echo "stages (seconds inside the plugin's calls, threads sharing the cores; peak linear memory):"
printf '%s\n' "${STAGES[@]}"
