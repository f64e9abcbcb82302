//! The JavaScript template: the component glue (`app.js`) apart from the detector (`detector.js`),
//! which `node --test` tests without building anything; built with componentize-js from npm,
//! without the WASI HTTP interfaces the host does not provide (`-d http -d fetch-event`).

use super::{File, fill, pipeline};

/// The componentize-js release the template pins (the one `tests/js-plugin` locks for CI).
pub const COMPONENTIZE_JS: &str = "0.23.0";

pub fn files(name: &str) -> Vec<File> {
    let wasm = format!("{name}.wasm");
    let values = [
        ("name", name),
        ("wasm", wasm.as_str()),
        ("componentize_js", COMPONENTIZE_JS),
    ];
    vec![
        ("app.js", fill(APP, &values)),
        ("detector.js", fill(DETECTOR, &values)),
        ("detector.test.js", fill(TEST, &values)),
        ("package.json", fill(PACKAGE, &values)),
        ("build.sh", fill(BUILD, &values)),
        ("pipeline.toml", pipeline(&wasm)),
        ("README.md", fill(README, &values)),
        (".gitignore", format!("node_modules/\n{wasm}\n")),
    ]
}

const APP: &str = r#"// {{name}}: a pcapxray analyzer plugin in JavaScript.
//
// This module is the component's face: it turns the host's records into plain values for detector.js
// and the detector's answers into findings. Built by build.sh with componentize-js. WIT names become
// camelCase (`host-facts` is `hostFacts`), u64 values are BigInt, enums are strings and variants are
// `{ tag, val }`; returning a value is `ok`, throwing `{ tag, val }` is `err` (see `guarded`).

import { DEFAULTS, configErrors, hits } from "./detector.js";

let config = { ...DEFAULTS };

/** A WIT ip-address as text. */
function address(ip) {
  if (ip.tag === "v4") {
    const v = ip.val;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  }
  const groups = [];
  for (const half of [ip.val.high, ip.val.low]) {
    for (let shift = 48n; shift >= 0n; shift -= 16n) {
      groups.push(((half >> shift) & 0xffffn).toString(16));
    }
  }
  return groups.join(":");
}

const outcome = (findings = []) => ({ findings, hostFacts: [], notes: [], streamsDone: [] });

/**
 * Runs an export's body `f` so that whatever it throws reaches the host as the export's error, with
 * its message. componentize-js passes on only a thrown plugin-error (`{ tag, val }`); anything else
 * would trap and lose the message. A capability's refusal (thrown as a ComponentError whose
 * `payload` is the capability-error) becomes `capability` with the host's own words, any other
 * error `other` with its message; both name the line of this folder's code it came from.
 */
function guarded(f) {
  try {
    return f();
  } catch (e) {
    if (isVariant(e) && PLUGIN_ERRORS.includes(e.tag)) throw e;
    const capability = isVariant(e?.payload); // a refused capability call throws a ComponentError
    const message = capability ? e.payload.val : String(e);
    if (e?.stack) console.error(`${message}\n${e.stack}`); // kept in report.json, printed by `run -v`
    const frame = ourFrame(e);
    throw { tag: capability ? "capability" : "other", val: frame ? `${message} (at ${frame})` : message };
  }
}

const PLUGIN_ERRORS = ["config", "invalid-input", "capability", "other"];
const isVariant = (v) => v !== null && typeof v === "object" && "tag" in v && "val" in v;

/** The first frame of an error's stack in this folder's code (componentize-js's is initializer.js). */
function ourFrame(e) {
  const frames = String(e?.stack ?? "").split("\n");
  return frames.find((f) => /\.js:\d+/.test(f) && !f.includes("initializer.js"))?.trim();
}

/** What the detector needs of each flow. */
function seen(flows) {
  return flows.map((f) => ({
    flow: f.id,
    client: address(f.client.ip),
    server: address(f.server.ip),
    port: f.server.port,
  }));
}

/** The finding for one hit of the detector. */
function finding([hit, summary]) {
  return {
    tag: "{{name}}.port",
    subject: { tag: "flow", val: hit.flow },
    severity: "low",
    confidence: 50,
    summary,
    attributes: [{ key: "port", value: String(hit.port) }],
    flows: [],
  };
}

// Every export that returns a result runs its body in `guarded` (`describe` has no error to give).
export const analyzer = {
  describe() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      description: "Reports flows to a configured server port (JavaScript).",
      kind: "analyzer",
      needsPayload: false,
      wantsLinkEvents: false,
      // Flows arrive as records in the `analyze` argument (packed flows are for the Rust SDK).
      packedFlows: false,
      payloadFlowsOnly: false,
    };
  },

  configure(text) {
    guarded(() => {
      const table = JSON.parse(text || "{}");
      const errors = configErrors(table);
      if (errors.length > 0) {
        throw { tag: "config", val: errors.map(([key, message]) => ({ key, message })) };
      }
      config = { ...DEFAULTS, ...table };
    });
  },

  analyze(flows) {
    return guarded(() => outcome(hits(seen(flows), config.port).map(finding)));
  },

  // Not called: describe() does not ask for link-layer events.
  analyzeLink(_batch) {
    return guarded(() => outcome());
  },

  // Not called unless the pipeline sets `streams` for this stage.
  analyzeStream(_batch) {
    return guarded(() => outcome());
  },

  finish() {
    return guarded(() => outcome());
  },
};
"#;

const DETECTOR: &str = r#"// What {{name}} looks for, in plain JavaScript (no pcapxray types), so that `node --test` tests it
// before it is built into a component.

export const DEFAULTS = { port: 4444 };

/** [key, message] for every problem in the stage's `config` table. */
export function configErrors(table) {
  const errors = Object.keys(table)
    .filter((key) => !(key in DEFAULTS))
    .map((key) => [key, `unknown key; expected one of ${Object.keys(DEFAULTS).join(", ")}`]);
  const port = table.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    errors.push(["port", "must be a port number from 1 to 65535"]);
  }
  return errors;
}

/** [flow, summary] for every flow to `port`; a flow is { flow, client, server, port }. */
export function hits(flows, port) {
  return flows
    .filter((f) => f.port === port)
    .map((f) => [f, `flow from ${f.client} to ${f.server} port ${f.port}`]);
}
"#;

const TEST: &str = r#"// Unit tests of detector.js:  node --test
import { test } from "node:test";
import assert from "node:assert/strict";
import { configErrors, hits } from "./detector.js";

test("flows to the configured port are reported", () => {
  const flows = [
    { flow: 1n, client: "10.0.0.2", server: "10.0.0.9", port: 8080 },
    { flow: 2n, client: "10.0.0.2", server: "10.0.0.9", port: 443 },
  ];
  const found = hits(flows, 8080);
  assert.deepEqual(
    found.map(([f, s]) => [f.flow, s]),
    [[1n, "flow from 10.0.0.2 to 10.0.0.9 port 8080"]],
  );
});

test("unknown keys and bad ports are refused", () => {
  assert.deepEqual(configErrors({ port: 80 }), []);
  assert.deepEqual(
    configErrors({ colour: 1, port: 0 }).map(([k]) => k),
    ["colour", "port"],
  );
});
"#;

const PACKAGE: &str = r#"{
  "name": "{{name}}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "description": "A pcapxray analyzer plugin in JavaScript",
  "scripts": {
    "test": "node --test",
    "build": "./build.sh"
  },
  "devDependencies": {
    "@bytecodealliance/componentize-js": "{{componentize_js}}"
  }
}
"#;

const BUILD: &str = r#"#!/usr/bin/env bash
# Builds {{wasm}}, the plugin as a WebAssembly component:  ./build.sh
# Needs Node.js 18 or later; installs componentize-js {{componentize_js}} from npm into node_modules
# (or uses $PCAPXRAY_COMPONENTIZE_JS). `-d http -d fetch-event` leaves out the WASI HTTP interfaces,
# which pcapxray does not provide: without it the host cannot link the component.
set -euo pipefail
cd "$(dirname "$0")"
componentize="${PCAPXRAY_COMPONENTIZE_JS:-node_modules/.bin/componentize-js}"
if [ ! -x "$componentize" ]; then
    npm install --no-audit --no-fund
fi
node --test
"$componentize" app.js --wit wit --world-name analyzer-plugin -d http -d fetch-event -o {{wasm}}
echo "built $PWD/{{wasm}}"
"#;

const README: &str = r#"# {{name}}

A pcapxray analyzer plugin in JavaScript, started with `pcapxray plugin new --lang js`.

    ./build.sh                              # tests detector.js, then builds {{wasm}} (componentize-js)
    node --test                             # the tests alone
    pcapxray plugins inspect {{wasm}}       # what the host sees
    pcapxray run pipeline.toml CAPTURE.pcap

`detector.js` decides, `app.js` turns the host's records into its input and its answers into
findings. `wit/` is the WIT package of the pcapxray that wrote this folder. `NAMES.md` lists the
tags and attribute names the built-in stages write, which your plugin reads in `flow.findings`.

Every export in `app.js` that can fail runs its body in `guarded`: an error thrown stops the stage
with its message and the line in app.js in report.json (`plugins[].error`), a refused capability
with the host's own words. `pcapxray run -v` prints what the plugin printed (`console.log`
included).
"#;
