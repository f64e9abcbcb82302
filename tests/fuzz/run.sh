#!/usr/bin/env bash
# A live fuzz campaign on one target, with libFuzzer through cargo-fuzz, on the stable toolchain:
#
#   tests/fuzz/run.sh TARGET [SECONDS | -runs=N] [more libFuzzer flags]   (default: 600 seconds)
#   tests/fuzz/run.sh --list                                              (the target names)
#
# It installs cargo-fuzz when it is missing, builds the harness (tests/fuzz/harness, optimised, with
# debug assertions and overflow checks, no sanitizer: the targets are safe Rust and a sanitizer needs
# a nightly compiler), then fuzzes one process on one core, starting from the committed seeds and
# crash regressions. New inputs go to target/fuzz/corpus/TARGET, crashes to
# target/fuzz/artifacts/TARGET/ (copy one to tests/fuzz/regressions/TARGET/ with its fix).
# libFuzzer's closing statistics (executions, exec/s, peak memory) end the output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$here/harness/Cargo.toml" | grep -v harness)
usage="usage: $0 TARGET [SECONDS | -runs=N] [libFuzzer flags...]; targets: $(echo $targets)"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
if [ "$1" = --list ]; then echo "$targets"; exit 0; fi
target=$1; shift
grep -qx "$target" <<<"$targets" || { echo "unknown target '$target'; $usage" >&2; exit 2; }
limit=${1:-600}
[ $# -gt 0 ] && shift
case "$limit" in
    -runs=[0-9]*) limit_flag=$limit ;;
    *[!0-9]* | '') echo "not a number of seconds or -runs=N: '$limit'; $usage" >&2; exit 2 ;;
    *) limit_flag=-max_total_time=$limit ;;
esac
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
work="$root/target/fuzz/corpus/$target"
artifacts="$root/target/fuzz/artifacts/$target"
mkdir -p "$work" "$artifacts"
corpora=("$work" "$here/corpus/$target")
[ -d "$here/regressions/$target" ] && corpora+=("$here/regressions/$target")
cd "$root"
exec cargo fuzz run --fuzz-dir "$here/harness" --target-dir "$root/target/fuzz" \
    --sanitizer none --release --debug-assertions "$target" "${corpora[@]}" -- \
    "$limit_flag" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
