//! The Python template: the component glue (`app.py`) apart from the detector (`detector.py`), which
//! uses no pcapxray types so `python3 -m unittest` tests it without building anything; built with
//! componentize-py from PyPI into a virtualenv.

use super::{File, fill, pipeline};

/// The componentize-py release the template installs (the one the e2e test builds with).
pub const COMPONENTIZE_PY: &str = "0.25.1";

pub fn files(name: &str) -> Vec<File> {
    let wasm = format!("{name}.wasm");
    let values = [
        ("name", name),
        ("wasm", wasm.as_str()),
        ("componentize_py", COMPONENTIZE_PY),
    ];
    vec![
        ("app.py", fill(APP, &values)),
        ("detector.py", fill(DETECTOR, &values)),
        ("test_detector.py", fill(TEST, &values)),
        ("build.sh", fill(BUILD, &values)),
        ("pipeline.toml", pipeline(&wasm)),
        ("README.md", fill(README, &values)),
        (".gitignore", format!(".venv/\n__pycache__/\n{wasm}\n")),
    ]
}

const APP: &str = r#""""{{name}}: a pcapxray analyzer plugin in Python.

This module is the component's face: it turns the host's records into plain values for
detector.py and the detector's answers into findings. Built by build.sh with componentize-py.
"""

import dataclasses
import enum
import functools
import ipaddress
import json
import os
import sys
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import capability, types

import detector

# componentize-py may create a new `Analyzer` object for every call, so the plugin's state lives in the
# module, which lasts as long as the instance the host keeps for the stage.
CONFIG = dict(detector.DEFAULTS)

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_ERRORS = (types.PluginError_Config, types.PluginError_InvalidInput, types.PluginError_Capability,
                 types.PluginError_Other)
CAPABILITY_ERRORS = (capability.CapabilityError_NotGranted, capability.CapabilityError_Denied,
                     capability.CapabilityError_NotFound, capability.CapabilityError_Timeout,
                     capability.CapabilityError_Other)


def guarded(export):
    """Makes whatever an export raises reach the host as the export's error, with its message.

    componentize-py can only hand the host `Err(types.PluginError_...)`: anything else raised (an
    exception, a capability's `Err`, `Err("text")`) or a value of the wrong type returned would trap
    the plugin and lose the message. Here a capability's error becomes `capability` with the host's
    own words, anything else `other`, each with the line of this folder's code it came from; the
    traceback goes to stderr, which the host keeps in report.json (`plugins[].error`) and
    `pcapxray run -v` prints.
    """

    @functools.wraps(export)
    def guarded_export(*args):
        try:
            return checked(export(*args), f"{export.__name__}()")
        except Err as e:
            if isinstance(e.value, PLUGIN_ERRORS):
                raise
            error = plugin_error(e, e.value)
        except Exception as e:
            error = plugin_error(e, f"{type(e).__name__}: {e}")
        finally:
            sys.stdout.flush()  # `print` is buffered: the host gets what this call printed now
        raise Err(error)

    return guarded_export


def plugin_error(e: Exception, what) -> types.PluginError:
    traceback.print_exc()
    ours = [f for f in traceback.extract_tb(e.__traceback__)
            if f.filename.startswith(HERE + os.sep) and f.name not in ("guarded_export", "checked")]
    at = f" (at {os.path.relpath(ours[-1].filename, HERE)}:{ours[-1].lineno})" if ours else ""
    if isinstance(what, CAPABILITY_ERRORS):
        return types.PluginError_Capability(f"{what.value}{at}")
    return types.PluginError_Other(f"{what}{at}")


def checked(value, path: str):
    """`value`, after checking that its text, number and enum fields hold what the WIT says
    (`severity=types.Severity.LOW`, not "low"): componentize-py converts them after the export has
    returned, where a wrong type can only trap."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            checked(item, f"{path}[{i}]")
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            got, want = getattr(value, field.name), field.type
            if isinstance(want, type) and issubclass(want, (str, int, enum.Enum)) and not isinstance(got, want):
                raise TypeError(f"{path}.{field.name} is {got!r}, not a {want.__name__}")
            checked(got, f"{path}.{field.name}")
    return value


def address(ip) -> str:
    """A WIT ip-address as text."""
    if isinstance(ip, types.IpAddress_V4):
        return str(ipaddress.IPv4Address(ip.value))
    return str(ipaddress.IPv6Address((ip.value.high << 64) | ip.value.low))


def outcome(findings=()) -> types.Outcome:
    return types.Outcome(findings=list(findings), host_facts=[], notes=[], streams_done=[])


class Analyzer(exports.Analyzer):
    # Not guarded: `describe` returns no result, so it has no error to give.
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="{{name}}",
            version="0.1.0",
            description="Reports flows to a configured server port (Python).",
            kind=types.PluginKind.ANALYZER,
            needs_payload=False,
            wants_link_events=False,
            # Flows arrive as records in the `analyze` argument (packed flows are for the Rust SDK).
            packed_flows=False,
            payload_flows_only=False,
        )

    @guarded
    def configure(self, config: str) -> None:
        table = json.loads(config or "{}")
        errors = detector.config_errors(table)
        if errors:
            raise Err(types.PluginError_Config([types.ConfigError(key=k, message=m) for k, m in errors]))
        CONFIG.update(table)

    @guarded
    def analyze(self, flows) -> types.Outcome:
        seen = [
            detector.Seen(flow.id, address(flow.client.ip), address(flow.server.ip), flow.server.port)
            for flow in flows
        ]
        return outcome(
            types.Finding(
                tag="{{name}}.port",
                subject=types.Subject_Flow(hit.flow),
                severity=types.Severity.LOW,
                confidence=50,
                summary=summary,
                attributes=[types.Attribute(key="port", value=str(hit.port))],
                flows=[],
            )
            for hit, summary in detector.hits(seen, CONFIG["port"])
        )

    @guarded
    def analyze_link(self, batch) -> types.Outcome:
        # Not called: describe() does not ask for link-layer events.
        return outcome()

    @guarded
    def analyze_stream(self, batch) -> types.Outcome:
        # Not called unless the pipeline sets `streams` for this stage.
        return outcome()

    @guarded
    def finish(self) -> types.Outcome:
        return outcome()
"#;

const DETECTOR: &str = r#""""What {{name}} looks for, in plain Python (no pcapxray types), so that it can be tested with
`python3 -m unittest` before it is built into a component."""

from dataclasses import dataclass

DEFAULTS = {"port": 4444}


@dataclass
class Seen:
    """What the detector needs of a flow."""

    flow: int
    client: str
    server: str
    port: int


def config_errors(table: dict) -> list:
    """(key, message) for every problem in the stage's `config` table."""
    errors = [(key, f"unknown key; expected one of {', '.join(DEFAULTS)}") for key in table if key not in DEFAULTS]
    port = table.get("port", DEFAULTS["port"])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        errors.append(("port", "must be a port number from 1 to 65535"))
    return errors


def hits(flows, port: int) -> list:
    """(flow, summary) for every flow to `port`."""
    return [(f, f"flow from {f.client} to {f.server} port {f.port}") for f in flows if f.port == port]
"#;

const TEST: &str = r#""""Unit tests of detector.py:  python3 -m unittest"""

import unittest

import detector


class DetectorTest(unittest.TestCase):
    def test_flows_to_the_configured_port_are_reported(self):
        flows = [detector.Seen(1, "10.0.0.2", "10.0.0.9", 8080), detector.Seen(2, "10.0.0.2", "10.0.0.9", 443)]
        found = detector.hits(flows, 8080)
        self.assertEqual([(f.flow, s) for f, s in found], [(1, "flow from 10.0.0.2 to 10.0.0.9 port 8080")])

    def test_unknown_keys_and_bad_ports_are_refused(self):
        self.assertEqual(detector.config_errors({"port": 80}), [])
        self.assertEqual([k for k, _ in detector.config_errors({"colour": 1, "port": 0})], ["colour", "port"])


if __name__ == "__main__":
    unittest.main()
"#;

const BUILD: &str = r#"#!/usr/bin/env bash
# Builds {{wasm}}, the plugin as a WebAssembly component:  ./build.sh
# Needs Python 3; installs componentize-py {{componentize_py}} from PyPI into .venv (or $PCAPXRAY_PY_VENV).
set -euo pipefail
cd "$(dirname "$0")"
venv="${PCAPXRAY_PY_VENV:-.venv}"
if ! "$venv/bin/componentize-py" --version >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "componentize-py=={{componentize_py}}"
fi
python3 -m unittest --quiet
"$venv/bin/componentize-py" -d wit -w analyzer-plugin componentize app -o {{wasm}}
echo "built $PWD/{{wasm}}"
"#;

const README: &str = r#"# {{name}}

A pcapxray analyzer plugin in Python, started with `pcapxray plugin new --lang python`.

    ./build.sh                              # tests detector.py, then builds {{wasm}} (componentize-py)
    python3 -m unittest                     # the tests alone
    pcapxray plugins inspect {{wasm}}       # what the host sees
    pcapxray run pipeline.toml CAPTURE.pcap

`detector.py` decides, `app.py` turns the host's records into its input and its answers into
findings. `wit/` is the WIT package of the pcapxray that wrote this folder; componentize-py
generates the `wit_world` module from it. `NAMES.md` lists the tags and attribute names the
built-in stages write, which your plugin reads in `flow.findings`.

Every export in `app.py` that can fail is `@guarded`: an exception stops the stage with its
message and the line of your code in report.json (`plugins[].error`), a refused capability with
the host's own words, and the traceback follows. `pcapxray run -v` prints it, and what the plugin
printed (`print` included).
"#;
