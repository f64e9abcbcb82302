//! Shared helpers: where things are, running the binary, reading its report.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared captures and data files (`../shared/testdata`). Tests that need them fail loudly if the
/// folder is missing; they never pass silently.
pub fn testdata(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    assert!(
        dir.is_dir(),
        "the shared test data folder {} is missing; these tests need the real captures in it",
        dir.display()
    );
    let path = dir.join(name);
    assert!(
        path.exists(),
        "shared test file {} is missing",
        path.display()
    );
    path
}

/// `expectations.json` from the shared test data.
pub fn expectations() -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(testdata("expectations.json")).expect("read expectations.json");
    serde_json::from_str::<Value>(&text)
        .expect("parse expectations.json")
        .as_object()
        .expect("an object")
        .clone()
}

/// A component built by host/build.rs (built-in or test-only), by crate name.
pub fn built_plugin(krate: &str) -> PathBuf {
    let path =
        Path::new(pcapxray::builtins::BUILD_DIR).join(format!("{}.wasm", krate.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A virtualenv under target/ named `name` with the pinned PyPI `packages`, made once and kept; `ready`
/// runs in it (program in `bin/`, arguments) to tell whether it is complete. A test that needs it and
/// cannot make it fails saying what is missing.
pub fn venv(name: &str, packages: &[&str], ready: (&str, &[&str])) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let is_ready = || {
        Command::new(venv.join("bin").join(ready.0))
            .args(ready.1)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !is_ready() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "python3 -m venv failed: {name} needs Python 3 with venv"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(packages)
            .status();
        assert!(
            pip.is_ok_and(|s| s.success()),
            "pip install {} failed (PyPI must be reachable once; the venv is kept in target/)",
            packages.join(" ")
        );
        assert!(
            is_ready(),
            "the {name} venv is incomplete after installing {packages:?}"
        );
    }
    venv
}

/// A virtualenv with componentize-py (PyPI, the version `plugin new --lang python` pins), made once
/// per test run and shared, so that tests building Python plugins do not race to create it.
pub fn py_venv() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        venv(
            "py-venv",
            &["componentize-py==0.25.1"],
            ("componentize-py", &["--version"]),
        )
    })
    .clone()
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The result of one `pcapxray` invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub out_dir: PathBuf,
}

impl Run {
    /// The JSON report of the run.
    pub fn report(&self) -> Value {
        let path = self.out_dir.join("report.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "no report at {}: {e}\nstdout:\n{}\nstderr:\n{}",
                path.display(),
                self.stdout,
                self.stderr
            )
        });
        serde_json::from_str(&text).expect("report.json is JSON")
    }

    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The binary, with its plugin cache kept in the build folder instead of the user's home.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pcapxray"));
    cmd.env(
        "PCAPXRAY_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"),
    );
    cmd
}

pub fn pcapxray(args: &[&str]) -> Output {
    command().args(args).output().expect("run pcapxray")
}

/// Writes `pipeline` into `dir` and runs it over `capture`, reports into `dir/report`.
pub fn run_pipeline(dir: &Path, pipeline: &str, capture: &Path) -> Run {
    let pipeline_path = dir.join("pipeline.toml");
    std::fs::write(&pipeline_path, pipeline).expect("write pipeline");
    let out_dir = dir.join("report");
    let out = pcapxray(&[
        "run",
        pipeline_path.to_str().unwrap(),
        capture.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "-q",
    ]);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        out_dir,
    }
}

/// The minimal pipeline: the web analyzer and the JSON report.
pub const WEB_JSON: &str = "[[analyzer]]\nplugin = \"web\"\n[[output]]\nplugin = \"json\"\n";

/// Every finding of a report once: those on flows, and the entries of the findings list that are not
/// roll-ups of them (a finding raised late stands for `count` flows).
pub fn all_findings(report: &Value) -> Vec<&Value> {
    let on_flows = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap());
    let listed = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rollup"] != true);
    on_flows.chain(listed).collect()
}

/// How many findings an entry stands for: its `count`, or 1.
pub fn occurrences(finding: &Value) -> u64 {
    finding["count"].as_u64().unwrap_or(1)
}

/// The values of attribute `key` over findings tagged `tag` (sorted, distinct).
pub fn finding_values(report: &Value, tag: &str, key: &str) -> Vec<String> {
    let mut v: Vec<String> = all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == tag)
        .filter_map(|f| f["attributes"][key].as_str().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// RFC 4180 records (quoted fields, doubled quotes, CRLF or LF), and whether the text ended with a
/// complete record (its line ending outside quotes). An unterminated last record is not returned.
pub fn parse_csv(text: &str) -> (Vec<Vec<String>>, bool) {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    let complete = !quoted && field.is_empty() && record.is_empty();
    (records, complete)
}

/// The attributes of every finding on a flow of a report whose tag starts with `prefix`, each with
/// its `tag`, `severity` and `summary` added.
pub fn flow_findings_tagged(
    report: &Value,
    prefix: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|f| f["tag"].as_str().unwrap().starts_with(prefix))
        .map(|f| {
            let mut a: std::collections::BTreeMap<String, String> = f["attributes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            for key in ["tag", "severity", "summary"] {
                a.insert(key.into(), f[key].as_str().unwrap().into());
            }
            a
        })
        .collect()
}

/// `pcapxray plugin new NAME OPTION VALUE --dir dir/NAME` (OPTION `--lang` or `--kind`); the new
/// plugin's folder.
pub fn plugin_new(dir: &Path, name: &str, option: &str, value: &str) -> std::path::PathBuf {
    let folder = dir.join(name);
    let out = pcapxray(&[
        "plugin",
        "new",
        name,
        option,
        value,
        "--dir",
        folder.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    folder
}
