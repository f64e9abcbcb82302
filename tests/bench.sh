#!/usr/bin/env bash
# Throughput and memory benchmark: the default pipeline on every capture shape of issue #13, on two
# cores and pinned to one, with tshark beside it where installed. Ratios come from the same run: these
# machines are noisy, absolute figures are not comparable between runs.
#
# usage: tests/bench.sh [SHAPE...]
#   SHAPE        any of: bench syn-flood arp-1m sweep-64k udp-1m (default: all of them)
# environment:
#   SIZE_MB=1024 size of the `bench` capture (copies of the shared captures)
#   INPUTS=DIR   captures `bench` copies (default ../shared/testdata)
#   PIPELINE=config/pipeline.toml   the pipeline measured
#   ONE_CORE=1   also run pinned to one core (taskset), for the two-core/one-core ratio (0: skip)
#   TSHARK=1     also run `tshark -q -z conv,ip` where installed (0: skip)
#   DIR=...      where captures are kept between runs (default ${TMPDIR:-/tmp}/pcapxray-bench)
#   GEN_ONLY=1   only build pcapgen and generate the captures
#
# The shapes (pcapgen recipes, each reproducible):
#   bench      pcapgen bench --size-mb $SIZE_MB --inputs $INPUTS   (~2.4 M packets at 1 GB)
#   syn-flood  pcapgen shape syn-flood 200000       200,000 spoofed sources, one SYN each, 2 s, no replies
#   arp-1m     pcapgen shape arp-many-macs 1000000  1,000,000 MACs, one ARP request each
#   sweep-64k  pcapgen shape host-sweep 65536       one source, 65,536 targets, one port
#   udp-1m     pcapgen shape udp-many-hosts 1000000 1,000,000 IP hosts, one UDP packet each
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
INPUTS=${INPUTS:-$(pwd)/../shared/testdata}
PIPELINE=${PIPELINE:-config/pipeline.toml}
DIR=${DIR:-${TMPDIR:-/tmp}/pcapxray-bench}
SHAPES=("$@")
if [[ ${#SHAPES[@]} -eq 0 ]]; then
    SHAPES=(bench syn-flood arp-1m sweep-64k udp-1m)
fi

if [[ ! -x /usr/bin/time ]]; then
    echo "bench.sh: /usr/bin/time (GNU time) is missing; install it with: apt-get install -y time" >&2
    exit 1
fi
if [[ "${ONE_CORE:-1}" == 1 ]] && ! command -v taskset >/dev/null 2>&1; then
    echo "bench.sh: taskset (util-linux) is missing; install it or set ONE_CORE=0" >&2
    exit 1
fi
if [[ ! -f "$PIPELINE" ]]; then
    echo "bench.sh: pipeline file $PIPELINE not found" >&2
    exit 1
fi

if [[ "${GEN_ONLY:-0}" != 1 ]]; then
    echo "== building pcapxray (release)"
    cargo build --release -p pcapxray
fi
echo "== building pcapgen (release)"
cargo build --release -p pcapgen
PCAPGEN=target/release/pcapgen
mkdir -p "$DIR"

# capture SHAPE: the path of SHAPE's capture, generated if missing.
capture() {
    local shape=$1 path
    case "$shape" in
        bench) path="$DIR/bench-${SIZE_MB}mb.pcap" ;;
        *) path="$DIR/$shape.pcap" ;;
    esac
    if [[ ! -s "$path" ]]; then
        echo "== generating $path" >&2
        case "$shape" in
            bench) "$PCAPGEN" bench --out "$path.part" --size-mb "$SIZE_MB" --inputs "$INPUTS" >&2 ;;
            syn-flood) "$PCAPGEN" shape syn-flood 200000 "$path.part" >&2 ;;
            arp-1m) "$PCAPGEN" shape arp-many-macs 1000000 "$path.part" >&2 ;;
            sweep-64k) "$PCAPGEN" shape host-sweep 65536 "$path.part" >&2 ;;
            udp-1m) "$PCAPGEN" shape udp-many-hosts 1000000 "$path.part" >&2 ;;
            *)
                echo "bench.sh: unknown shape $shape (bench syn-flood arp-1m sweep-64k udp-1m)" >&2
                exit 1
                ;;
        esac
        mv "$path.part" "$path"
    fi
    echo "$path"
}

declare -A CAPTURES
for shape in "${SHAPES[@]}"; do
    CAPTURES[$shape]=$(capture "$shape")
done
if [[ "${GEN_ONLY:-0}" == 1 ]]; then
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcapxray-bench-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# measure NAME COMMAND...: runs COMMAND under GNU time; sets SECS, RSS_MB and OK.
measure() {
    local name=$1
    shift
    local tfile="$WORK/$name.time"
    OK=1
    if ! /usr/bin/time -v -o "$tfile" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "   $name failed (exit status above 0); last lines of its output:" >&2
        tail -n 8 "$WORK/$name.err" "$WORK/$name.out" >&2 || true
        OK=0
    fi
    local elapsed rss_kb
    elapsed=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tfile")
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tfile")
    SECS=$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$elapsed")
    RSS_MB=$(awk -v r="$rss_kb" 'BEGIN { printf "%.0f", r / 1024 }')
}

ROWS=()
STAGES=()
for shape in "${SHAPES[@]}"; do
    cap=${CAPTURES[$shape]}
    packets=$("$PCAPGEN" count "$cap")
    echo "== $shape: $cap ($packets packets)"
    # One untimed run first: it compiles the plugins into the cache, as any second run finds them.
    target/release/pcapxray run "$PIPELINE" "$cap" -o "$WORK/warm" -q >/dev/null 2>&1 || true
    measure "$shape-2" target/release/pcapxray run -v "$PIPELINE" "$cap" -o "$WORK/out-$shape" -q
    two=$SECS two_rss=$RSS_MB two_ok=$OK
    STAGES+=("$shape:" "$(grep -E ' calls .* MiB peak memory$' "$WORK/$shape-2.out" || true)")
    one=- ratio=-
    if [[ "${ONE_CORE:-1}" == 1 ]]; then
        measure "$shape-1" taskset -c 0 target/release/pcapxray run "$PIPELINE" "$cap" -o "$WORK/out1-$shape" -q
        one=$SECS
        ratio=$(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
    fi
    ts=- ts_rss=- ts_ratio=-
    if [[ "${TSHARK:-1}" == 1 ]] && command -v tshark >/dev/null 2>&1; then
        measure "$shape-tshark" tshark -q -r "$cap" -z conv,ip
        ts=$SECS ts_rss=$RSS_MB
        ts_ratio=$(awk -v a="$ts" -v b="$two" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')
    fi
    status=ok
    [[ $two_ok == 1 ]] || status="exit>0"
    ROWS+=("$(awk -v n="$shape" -v p="$packets" -v s="$two" -v r="$two_rss" -v o="$one" -v q="$ratio" \
        -v t="$ts" -v tr="$ts_rss" -v x="$ts_ratio" -v st="$status" 'BEGIN {
        pps = (s > 0) ? p / s : 0
        printf "%-10s %9d %8.2f %10.0f %8d %8s %6s %8s %8s %7s  %s", n, p, s, pps, r, o, q, t, tr, x, st }')")
done

echo
echo "pipeline: $PIPELINE; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-10s %9s %8s %10s %8s %8s %6s %8s %8s %7s  %s\n' shape packets "2-core s" packets/s "RSS MiB" \
    "1-core s" "1/2" "tshark s" "ts MiB" "ts/ours" status
printf '%s\n' "${ROWS[@]}"
echo
echo "stages (seconds inside the plugin's calls, threads sharing the cores; peak linear memory):"
printf '%s\n' "${STAGES[@]}"
