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
    assert!(String::from_utf8_lossy(&tested.stdout).contains("test result: ok. 1 passed"));
    build(&folder);
    let (out, out_dir) = run_template(&folder, None, false);
    let report = report_of(&out, &out_dir);
    assert_eq!(summaries(&report, "port-watch.port"), [expected_summary()]);
}

#[test]
fn the_python_template_builds_reports_flows_to_its_port_and_says_it_is_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let folder = new_plugin(dir.path(), "py-port-watch", "python");
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
    for wanted in [
        "trapped in `analyze`",
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
