//! The plugin authors' workbench: `plugin new` in Rust, Python and JavaScript built with their real
//! toolchains (cargo, componentize-py from PyPI, componentize-js pinned in tests/js-plugin) and run on
//! a real capture; `pcapxray wit`; a Python exception's own message and line in the report; and
//! components built against another WIT refused before they are compiled.

use crate::authoring::clean_cargo_env;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pcapxray plugin new NAME --lang LANG --dir dir/NAME`.
fn new_plugin(dir: &Path, name: &str, lang: &str) -> PathBuf {
    crate::support::plugin_new(dir, name, "--lang", lang)
}

/// componentize-js as `tests/js-plugin/package-lock.json` pins it (`npm ci` once per test run).
fn componentize_js() -> PathBuf {
    static TOOL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TOOL.get_or_init(|| {
        let dir = repo().join("tests/js-plugin");
        let tool = dir.join("node_modules/.bin/componentize-js");
        if !tool.exists() {
            let ci = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .expect("run npm (Node.js is needed for the JavaScript template)");
            assert!(
                ci.status.success(),
                "npm ci in tests/js-plugin failed:\n{}",
                String::from_utf8_lossy(&ci.stderr)
            );
        }
        tool
    })
    .clone()
}

/// Runs the folder's own build.sh (which runs the unit tests of Python and JavaScript first) with
/// the toolchains of this test run; returns NAME.wasm.
fn build(folder: &Path) -> PathBuf {
    let mut cmd = Command::new(folder.join("build.sh"));
    clean_cargo_env(&mut cmd);
    cmd.env("PCAPXRAY_PY_VENV", py_venv());
    if folder.join("package.json").exists() {
        cmd.env("PCAPXRAY_COMPONENTIZE_JS", componentize_js());
    }
    let out = cmd.output().expect("run build.sh");
    assert!(
        out.status.success(),
        "{}/build.sh failed:\n{}\n{}",
        folder.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let name = folder.file_name().unwrap().to_str().unwrap();
    folder.join(format!("{name}.wasm"))
}

/// `pcapxray run` of the folder's own pipeline.toml (the plugin with `port = 80`, and json).
fn run_template(folder: &Path, cache: Option<&Path>, verbose: bool) -> (Output, PathBuf) {
    let out_dir = folder.join("report");
    let mut cmd = command();
    if let Some(cache) = cache {
        cmd.env("PCAPXRAY_CACHE_DIR", cache);
    }
    cmd.arg("run")
        .arg(folder.join("pipeline.toml"))
        .arg(testdata("http_get_bro_org.pcap"))
        .arg("-o")
        .arg(&out_dir)
        .arg("-q");
    if verbose {
        cmd.arg("-v");
    }
    (cmd.output().expect("run pcapxray"), out_dir)
}

/// The one finding a port-80 template must raise on http_get_bro_org.pcap, from expectations.json
/// (tshark): its one TCP connection, to 192.150.187.43:80 from the capture's other host.
fn expected_summary() -> String {
    let facts = &expectations()["http_get_bro_org.pcap"];
    let target = facts["tcp_syn_targets"][0].as_str().unwrap();
    let (server, port) = target.rsplit_once(':').unwrap();
    let client = facts["ip_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .find(|h| *h != server)
        .unwrap();
    format!("flow from {client} to {server} port {port}")
}

fn report_of(out: &Output, out_dir: &Path) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(out_dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).unwrap()
}

fn summaries(report: &serde_json::Value, tag: &str) -> Vec<String> {
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == tag)
        .map(|f| f["summary"].as_str().unwrap().to_string())
        .collect()
}

/// Edits `file` of a plugin folder: each anchor (which must be there) gets its replacement.
fn edit(folder: &Path, file: &str, edits: &[(&str, &str)]) {
    let path = folder.join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (anchor, replacement) in edits {
        assert!(text.contains(anchor), "{anchor:?} is not in {file}");
        text = text.replacen(anchor, replacement, 1);
    }
    std::fs::write(&path, text).unwrap();
}

/// The 1-based number of the line of `file` that contains `needle`.
fn line_of(folder: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(folder.join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

/// `pcapxray run` (with `-v`) of the built plugin with `config = { port = PORT }` and json.
fn run_with_port(folder: &Path, port: u16) -> (Output, Option<serde_json::Value>) {
    let name = folder.file_name().unwrap().to_str().unwrap();
    let pipeline = folder.join(format!("port-{port}.toml"));
    std::fs::write(
        &pipeline,
        format!(
            "[[analyzer]]\nplugin = \"{name}.wasm\"\nconfig = {{ port = {port} }}\n[[output]]\nplugin = \"json\"\n"
        ),
    )
    .unwrap();
    let out_dir = folder.join(format!("report-{port}"));
    let out = command()
        .arg("run")
        .arg(&pipeline)
        .arg(testdata("http_get_bro_org.pcap"))
        .arg("-o")
        .arg(&out_dir)
        .args(["-q", "-v"])
        .output()
        .expect("run pcapxray");
    let report = std::fs::read_to_string(out_dir.join("report.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    (out, report)
}

/// The failure record (`plugins[].error`) of `stage` in a report.
/// Runs the plugin in `folder` on port `port` (see [`run_with_port`]) expecting its stage `stage` to be
/// stopped (exit 2): the run's output and the stage's failure record in report.json.
fn stopped_with_port(folder: &Path, port: u16, stage: &str) -> (Output, String) {
    let (out, report) = run_with_port(folder, port);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error = stage_error(&report.expect("report.json"), stage);
    (out, error)
}

fn stage_error(report: &serde_json::Value, stage: &str) -> String {
    report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["stage"] == stage)
        .expect("the stage is listed")["error"]
        .as_str()
        .expect("the stage's failure record")
        .to_string()
}

#[test]
fn the_rust_template_passes_its_test_builds_and_reports_flows_to_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "port-watch", "rust");
    let mut test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    test.arg("test").current_dir(&folder);
    clean_cargo_env(&mut test);
    let tested = test.output().unwrap();
    assert!(
        tested.status.success(),
        "cargo test of the template failed:\n{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(String::from_utf8_lossy(&tested.stdout).contains("test result: ok. 2 passed"));
    build(&folder);
    let (out, out_dir) = run_template(&folder, None, false);
    let report = report_of(&out, &out_dir);
    assert_eq!(summaries(&report, "port-watch.port"), [expected_summary()]);
    // Issue #16: the Rust template took `port = 0`, which the Python and JavaScript ones refuse.
    assert_eq!(validate_port_0(&folder), PORT_0_REFUSED);
}

/// What `pcapxray validate` says of the folder's plugin with `config = { port = 0 }`.
fn validate_port_0(folder: &Path) -> String {
    let name = folder.file_name().unwrap().to_str().unwrap();
    let pipeline = folder.join("port-0.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[[analyzer]]\nplugin = \"{name}.wasm\"\nconfig = {{ port = 0 }}\n[[output]]\nplugin = \"json\"\n"
        ),
    )
    .unwrap();
    let out = pcapxray(&["validate", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    said.lines()
        .find(|l| l.contains("config.port"))
        .map(|l| l.split_once("config.port").unwrap().1.to_string())
        .unwrap_or_else(|| panic!("no config.port error in:\n{said}"))
}

/// The refusal of `port = 0` after `config.port`, the same in every language.
const PORT_0_REFUSED: &str = ": must be a port number from 1 to 65535";

#[test]
fn the_python_template_builds_reports_flows_to_its_port_and_says_it_is_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "py-port-watch", "python");
    // Issue #16: the names earlier stages write, for reading `flow.findings`, come with the folder.
    let names = std::fs::read_to_string(folder.join("NAMES.md")).unwrap();
    assert!(
        names.contains("- `dns.queries`: Attribute: the names asked, comma-joined"),
        "{names}"
    );
    let wasm = build(&folder);
    // A cache of its own: the first run compiles the 18 MB component and says so, the second loads it.
    let cache = dir.path().join("cache");
    let (out, out_dir) = run_template(&folder, Some(&cache), false);
    let report = report_of(&out, &out_dir);
    assert_eq!(
        summaries(&report, "py-port-watch.port"),
        [expected_summary()]
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("note: compiling plugin {}", wasm.display()))
            && said.contains("later runs load it from"),
        "{said}"
    );
    let (again, _) = run_template(&folder, Some(&cache), false);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("note: compiling"));
}

#[test]
fn the_javascript_template_builds_reports_flows_to_its_port_and_inspect_shows_its_grants() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "js-port-watch", "js");
    let wasm = build(&folder);
    let (out, out_dir) = run_template(&folder, None, false);
    let report = report_of(&out, &out_dir);
    assert_eq!(
        summaries(&report, "js-port-watch.port"),
        [expected_summary()]
    );
    // componentize-js imports every capability of the world; the template's pipeline grants none.
    let inspected = pcapxray(&[
        "plugins",
        "inspect",
        wasm.to_str().unwrap(),
        "--pipeline",
        folder.join("pipeline.toml").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&inspected.stdout);
    assert_eq!(inspected.status.code(), Some(0), "{text}");
    assert!(text.contains("links        yes"), "{text}");
    assert!(
        text.contains("capabilities files, dns, whois, extract imported (an import is no grant"),
        "{text}"
    );
    assert!(
        text.contains(
            "stage `js-port-watch`: granted none; imported only files, dns, whois, extract"
        ),
        "{text}"
    );
}

#[test]
fn a_javascript_component_built_without_its_flags_is_shown_with_the_import_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "js-http", "js");
    let wasm = folder.join("js-http.wasm");
    let built = Command::new(componentize_js())
        .current_dir(&folder)
        .args([
            "app.js",
            "--wit",
            "wit",
            "--world-name",
            "analyzer-plugin",
            "-o",
        ])
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let inspected = pcapxray(&["plugins", "inspect", wasm.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspected.stdout);
    assert_eq!(inspected.status.code(), Some(2), "{text}");
    assert!(
        text.contains("kind         analyzer")
            && text.contains("links        NO: it imports `wasi:http/"),
        "{text}"
    );
    assert!(text.contains("  missing    wasi:http/types@"), "{text}");
    assert!(
        text.contains("componentize-js -d http -d fetch-event"),
        "{text}"
    );
    // A run refuses it with the same words.
    let run = run_pipeline(
        dir.path(),
        &format!(
            "[[analyzer]]\nplugin = {:?}\n[[output]]\nplugin = \"json\"\n",
            wasm.display().to_string()
        ),
        &testdata("http_get_bro_org.pcap"),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("cannot be linked: it imports `wasi:http/"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_python_exception_reaches_the_report_and_run_v_with_its_own_message_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "py-crash", "python");
    // The plugin's bug: a key its configuration never has, read in `analyze`.
    let app = folder.join("app.py");
    let text = std::fs::read_to_string(&app).unwrap();
    let anchor = "    def analyze(self, flows) -> types.Outcome:\n";
    assert!(text.contains(anchor));
    let text = text.replace(
        anchor,
        &format!("{anchor}        CONFIG[\"no-such-key\"]\n"),
    );
    let line = text
        .lines()
        .position(|l| l.contains("CONFIG[\"no-such-key\"]"))
        .unwrap()
        + 1;
    std::fs::write(&app, text).unwrap();
    build(&folder);
    let (out, out_dir) = run_template(&folder, None, true);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let stage = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["stage"] == "py-crash")
        .expect("the stage is listed");
    let error = stage["error"].as_str().expect("the stage's failure record");
    let at = format!("line {line}, in analyze");
    let first =
        format!("returned an error from `analyze`: KeyError: 'no-such-key' (at app.py:{line})");
    for wanted in [
        first.as_str(),
        "KeyError: 'no-such-key'",
        at.as_str(),
        "Traceback (most recent call last)",
    ] {
        assert!(error.contains(wanted), "{wanted:?} missing from:\n{error}");
    }
    assert!(
        !error.contains("Python function threw an unexpected exception"),
        "{error}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stage `py-crash` printed to stderr:")
            && stdout.contains(&at)
            && stdout.contains("    KeyError: 'no-such-key'"),
        "{stdout}"
    );
}

/// Issue #16: componentize-py can return nothing but a `PluginError` from an export. A capability's
/// `Err`, `Err("text")` and a wrong type returned trapped the plugin with a `KeyError` or
/// `AttributeError` of componentize-py's runtime instead of the message; and `print` (stdout) was
/// dropped. The template's `guarded` turns each into the export's error, with the line of app.py.
#[test]
fn python_template_failures_reach_the_report_with_their_own_message_and_line_and_print_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "py-guard", "python");
    edit(
        &folder,
        "app.py",
        &[
            (
                "from wit_world.imports import capability, types",
                "from wit_world.imports import capability, files, types",
            ),
            (
                "        CONFIG.update(table)\n",
                "        CONFIG.update(table)\n        if CONFIG[\"port\"] == 1:\n            raise Err(\"port 1 is reserved\")\n",
            ),
            (
                "    def analyze(self, flows) -> types.Outcome:\n",
                "    def analyze(self, flows) -> types.Outcome:\n        print(f\"analyze: {len(flows)} flow(s)\")\n        if CONFIG[\"port\"] == 81:\n            files.read_file(\"ports.txt\")\n",
            ),
            ("severity=types.Severity.LOW,", "severity=\"low\","),
        ],
    );
    build(&folder);
    assert_eq!(validate_port_0(&folder), PORT_0_REFUSED);

    // `Err("text")` in configure: the pipeline is refused with the text and its line.
    let (out, _) = run_with_port(&folder, 1);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let wanted = format!(
        "returned an error from `configure`: port 1 is reserved (at app.py:{})",
        line_of(&folder, "app.py", "port 1 is reserved")
    );
    assert!(said.contains(&wanted), "{wanted:?} missing from:\n{said}");

    // A capability call without the grant: the host's own refusal, and the line of the call.
    let (out, error) = stopped_with_port(&folder, 81, "py-guard");
    let wanted = format!(
        "returned an error from `analyze`: capability: stage `py-guard` asked to read `ports.txt`, \
         but the pipeline does not grant it `files` (add it under [analyzer.grants] or \
         [output.grants] to allow it) (at app.py:{})",
        line_of(&folder, "app.py", "files.read_file")
    );
    assert!(error.contains(&wanted), "{wanted:?} missing from:\n{error}");
    assert!(!error.contains("PyErr"), "{error}");
    // What it printed to stdout is kept beside its stderr, in the report and by `run -v`.
    assert!(
        error.contains("It printed to stdout:\nanalyze: 1 flow(s)"),
        "{error}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stage `py-guard` printed to stdout:\n    analyze: 1 flow(s)"),
        "{stdout}"
    );

    // A wrong type returned is named instead of trapping in componentize-py's conversion.
    let (_, error) = stopped_with_port(&folder, 80, "py-guard");
    assert!(
        error.contains(
            "returned an error from `analyze`: TypeError: analyze().findings[0].severity is 'low', not a Severity"
        ),
        "{error}"
    );
}

/// Issue #16: `guarded` turned a componentize-js ComponentError (a refused capability) into
/// `[object Object]`, and `finish`, `analyzeLink` and `analyzeStream` ran unguarded, so an error there
/// trapped without its line; `console.log` (stdout) was dropped.
#[test]
fn javascript_template_failures_reach_the_report_with_their_own_message_and_line_from_every_export()
{
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "js-guard", "js");
    edit(
        &folder,
        "app.js",
        &[
            (
                "import { DEFAULTS, configErrors, hits } from \"./detector.js\";\n",
                "import { DEFAULTS, configErrors, hits } from \"./detector.js\";\nimport { readFile } from \"pcapxray:plugin/files@0.6.0\";\n",
            ),
            (
                "    return guarded(() => outcome(hits(seen(flows), config.port).map(finding)));",
                "    return guarded(() => {\n      console.log(`analyze: ${flows.length} flow(s)`);\n      if (config.port === 81) readFile(\"ports.txt\");\n      return outcome(hits(seen(flows), config.port).map(finding));\n    });",
            ),
            (
                "  finish() {\n    return guarded(() => outcome());",
                "  finish() {\n    return guarded(() => outcome(config.totals.list));",
            ),
        ],
    );
    build(&folder);
    assert_eq!(validate_port_0(&folder), PORT_0_REFUSED);

    // A capability call without the grant: the host's own refusal, and the line of the call.
    let (out, error) = stopped_with_port(&folder, 81, "js-guard");
    for wanted in [
        "returned an error from `analyze`: capability: stage `js-guard` asked to read `ports.txt`, \
         but the pipeline does not grant it `files` (add it under [analyzer.grants] or \
         [output.grants] to allow it) (at "
            .to_string(),
        format!(
            "@app.js:{}:",
            line_of(&folder, "app.js", "readFile(\"ports.txt\")")
        ),
        "It printed to stdout:\nanalyze: 1 flow(s)".to_string(),
    ] {
        assert!(error.contains(&wanted), "{wanted:?} missing from:\n{error}");
    }
    assert!(!error.contains("[object Object]"), "{error}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stage `js-guard` printed to stdout:\n    analyze: 1 flow(s)"),
        "{stdout}"
    );

    // An error thrown in `finish`: its message and the line of app.js.
    let (_, error) = stopped_with_port(&folder, 80, "js-guard");
    let wanted = format!(
        "@app.js:{}:",
        line_of(&folder, "app.js", "config.totals.list")
    );
    assert!(
        error.contains("returned an error from `finish`: TypeError: ") && error.contains(&wanted),
        "{wanted:?} missing from:\n{error}"
    );
}

#[test]
fn a_python_component_built_against_another_wit_version_is_refused_before_it_is_compiled() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "py-old", "python");
    for file in std::fs::read_dir(folder.join("wit")).unwrap() {
        let path = file.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("@0.6.0", "@0.5.0")).unwrap();
    }
    let wasm = build(&folder);
    let cache = dir.path().join("cache");
    let out = command()
        .env("PCAPXRAY_CACHE_DIR", &cache)
        .args(["plugins", "inspect", wasm.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("was built for WIT package pcapxray:plugin@0.5.0, but this pcapxray speaks pcapxray:plugin@0.6.0")
            && said.contains("rebuild it against this pcapxray's WIT (pcapxray:plugin@0.6.0"),
        "{said}"
    );
    // Issue #16: the hint named only `pcapxray wit --out wit`, but a Rust plugin builds with the
    // SDK's own copy of the WIT.
    assert!(
        said.contains("replace its `pcapxray-sdk/` folder with the one `pcapxray plugin new NAME --dir NEW` writes"),
        "{said}"
    );
    // Refused from its type information: nothing was compiled, nothing cached.
    assert!(!said.contains("note: compiling"), "{said}");
    assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().next().is_none());
}

#[test]
fn a_component_whose_wit_changed_shape_under_the_same_version_is_refused_naming_the_record() {
    let reshaped = built_plugin("pcapxray-test-reshaped-wit");
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &format!(
            "[[analyzer]]\nplugin = {:?}\n[[output]]\nplugin = \"json\"\n",
            reshaped.display().to_string()
        ),
        &testdata("http_get_bro_org.pcap"),
    );
    assert_eq!(run.code, 1);
    for wanted in [
        "was built against a WIT that says pcapxray:plugin@0.6.0 but differs from this pcapxray's",
        "record `plugin-info` of interface `types`: 7 member(s) in the component, 8 here; the component lacks `payload-flows-only: bool`",
        "the component's `analyzer` lacks function `analyze`",
        "rebuild it against this pcapxray's WIT (pcapxray:plugin@0.6.0",
    ] {
        assert!(
            run.stderr.contains(wanted),
            "{wanted:?} missing from:\n{}",
            run.stderr
        );
    }
}

#[test]
fn pcapxray_wit_prints_the_package_and_writes_its_files() {
    let out = pcapxray(&["wit"]);
    assert!(out.status.success());
    let mut resolve = wit_parser::Resolve::default();
    let id = resolve
        .push_str("plugin.wit", &String::from_utf8(out.stdout).unwrap())
        .expect("the printed WIT parses");
    assert_eq!(
        resolve.packages[id].name.to_string(),
        "pcapxray:plugin@0.6.0"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = pcapxray(&["wit", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    for file in std::fs::read_dir(repo().join("wit")).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "wit") {
            let written = dir.path().join(path.file_name().unwrap());
            assert_eq!(
                std::fs::read_to_string(&written).unwrap(),
                std::fs::read_to_string(&path).unwrap(),
                "{}",
                written.display()
            );
        }
    }
}

#[test]
fn help_shows_plugin_new_with_its_languages_and_the_wit_command() {
    let top = String::from_utf8(pcapxray(&["--help"]).stdout).unwrap();
    assert!(
        top.contains("plugin new NAME --lang rust|python|js") && top.contains("[alias: plugin]"),
        "{top}"
    );
    assert!(top.contains("\n  wit "), "{top}");
    let new = String::from_utf8(pcapxray(&["plugin", "new", "--help"]).stdout).unwrap();
    assert!(
        new.contains("--lang <LANG>") && new.contains("python") && new.contains("js"),
        "{new}"
    );
}
