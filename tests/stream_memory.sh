#!/usr/bin/env bash
# Peak memory of the default pipeline over one large HTTP download, against the same capture without
# the download (#11): the stream budget bounds what reassembly holds and `files` hashes as the bytes
# stream by, so the peak must not grow with the transfer beyond the budget.
#
#   tests/stream_memory.sh [MB ...]        (default: 100 1000; needs `cargo build --release -p pcapxray -p pcapgen`)
#
# For each size, `pcapgen shape http-download-mb MB` (one GET, a 200 response with Content-Length and
# MB million bytes of body) and `http-download-mb 0` (the same connection with an empty body) run
# through config/pipeline.toml; it prints the peak RSS (GNU time's %M) and wall time of both, the
# difference, and the budget, and the SHA-256 and size `files` reported. Captures go to target/tmp
# and are deleted afterwards. PROFILE=debug measures the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
bin=target/$profile/pcapxray
gen=target/$profile/pcapgen
[ -x "$bin" ] && [ -x "$gen" ] || { echo "build first: cargo build --profile $profile -p pcapxray -p pcapgen" >&2; exit 1; }
mkdir -p target/tmp
tmp=$(mktemp -d target/tmp/stream-memory.XXXX)
trap 'rm -rf "$tmp"' EXIT
budget=$(sed -n 's/^stream_budget_mb *= *\([0-9]*\).*/\1/p' config/pipeline.toml)
budget=${budget:-32}
peak() { # capture report-dir → "KiB seconds"
  /usr/bin/time -f '%M %e' "$bin" run config/pipeline.toml "$1" -o "$2" -q 2>&1 >/dev/null | tail -1
}
"$gen" shape http-download-mb 0 "$tmp/empty.pcap" >/dev/null
read -r base_kib base_s < <(peak "$tmp/empty.pcap" "$tmp/report-empty")
printf 'stream budget %s MiB; without the download: peak %s MiB, %s s\n' "$budget" $((base_kib / 1024)) "$base_s"
printf '%-10s %-10s %-12s %-8s %-20s %s\n' download capture "peak (MiB)" "time (s)" "peak - without (MiB)" "files: size, sha256"
for mb in "${@:-100 1000}"; do
  cap="$tmp/download-$mb.pcap"
  "$gen" shape http-download-mb "$mb" "$cap" >/dev/null
  size=$(du -m "$cap" | cut -f1)
  read -r kib s < <(peak "$cap" "$tmp/report-$mb")
  file=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join("%s %s" % (f["attributes"].get("size"), f["attributes"].get("sha256")) for f in r.get("files", [])) or "none")
' "$tmp/report-$mb/report.json")
  printf '%-10s %-10s %-12s %-8s %-20s %s\n' "$mb MB" "$size MB" $((kib / 1024)) "$s" $(((kib - base_kib) / 1024)) "$file"
  rm -f "$cap"
done
