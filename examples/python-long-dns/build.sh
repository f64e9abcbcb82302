#!/usr/bin/env bash
# Builds the Python example plugin into a WebAssembly component from source.
#   examples/python-long-dns/build.sh [OUT.wasm]
# Needs Python 3 and componentize-py from PyPI (installed here into a virtualenv if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/long_dns_names.wasm}"
venv="${PCAPXRAY_PY_VENV:-$here/.venv}"
if ! "$venv/bin/componentize-py" --version >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "componentize-py==0.25.1"
fi
cd "$here"
"$venv/bin/componentize-py" -d ../../wit -w analyzer-plugin componentize app -o "$out"
echo "built $out"
