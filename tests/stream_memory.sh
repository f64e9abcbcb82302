#!/usr/bin/env bash
# Peak memory of a run over one large download, with and without a stage that asks for streams (#11).
# The stream budget bounds what reassembly holds, so the peak must not grow with the transfer.
#
#   tests/stream_memory.sh [MB ...]        (default: 10 100; needs `cargo build -p pcapxray -p pcapgen`)
#
# Prints, per transfer size, the peak RSS (GNU time's %M, KiB) and wall time of `pcapxray run` with the stream-hash
# test plugin asking for streams and with the same plugin not asking. Captures go to target/tmp and
# are deleted afterwards. PROFILE=release measures the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-debug}
bin=target/$profile/pcapxray
gen=target/$profile/pcapgen
plugin=target/wasm-plugins/wasm32-wasip2/wasm/pcapxray_test_stream_hash.wasm
[ -x "$bin" ] && [ -x "$gen" ] && [ -f "$plugin" ] || { echo "build first: cargo build -p pcapxray -p pcapgen" >&2; exit 1; }
tmp=$(mktemp -d target/tmp/stream-memory.XXXX)
trap 'rm -rf "$tmp"' EXIT
for streams in true false; do
  cat > "$tmp/$streams.toml" <<TOML
[flows]
stream_budget_mb = ${BUDGET_MB:-64}
[[analyzer]]
plugin = "$PWD/$plugin"
streams = $streams
[[output]]
plugin = "json"
TOML
done
printf '%-12s %-10s %-26s %-26s\n' transfer capture "streams: peak RSS, time" "no streams: peak RSS, time"
for mb in "${@:-10 100}"; do
  for m in $mb; do
    cap="$tmp/bulk-$m.pcap"
    "$gen" shape bulk-transfer-mb "$m" "$cap" >/dev/null
    size=$(du -m "$cap" | cut -f1)
    peak() { /usr/bin/time -f '%M KiB, %e s' "$bin" run "$tmp/$1.toml" "$cap" -o "$tmp/report-$1" -q 2>&1 >/dev/null | tail -1; }
    printf '%-12s %-10s %-26s %-26s\n' "$m MB" "$size MB" "$(peak true)" "$(peak false)"
    rm -f "$cap"
  done
done
