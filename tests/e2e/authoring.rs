//! Plugins written outside the workspace: the `plugin new` output template, a plugin in another
//! language (Python, built from source with componentize-py), `plugins inspect`, and the WIT version
//! check. The templates of every language are tested in `workbench.rs`.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A cargo command for a crate outside this workspace: none of the test's own cargo settings leak in.
pub fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir);
    clean_cargo_env(&mut cmd);
    cmd
}

/// Removes the test's own cargo settings from a command that builds a crate outside this workspace,
/// and shares one target folder between them, so the SDK's dependencies compile once.
pub fn clean_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
        {
            cmd.env_remove(key);
        }
    }
    // Shared by the template tests, so the SDK's dependencies compile once.
    cmd.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("authoring-target"),
    );
}

fn new_plugin(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let crate_dir = crate::support::plugin_new(dir, name, "--kind", kind);
    let build = cargo(&crate_dir)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "the template does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("authoring-target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

#[test]
fn plugin_new_creates_an_output_that_builds_and_writes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = new_plugin(dir.path(), "tag-counts", "output");
    let pipeline = format!(
        "[[analyzer]]\nplugin = \"web\"\n[[output]]\nplugin = {:?}\n[[output]]\nplugin = \"json\"\n",
        wasm.display().to_string()
    );
    let run = run_pipeline(dir.path(), &pipeline, &testdata("http_get_bro_org.pcap"));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let text = std::fs::read_to_string(run.out_dir.join("tag-counts.txt")).unwrap();
    assert!(
        text.contains("flows    1") && text.contains("1  web.http"),
        "{text}"
    );
}

#[test]
fn a_python_plugin_built_from_source_runs_through_the_host() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("long_dns_names.wasm");
    let build = Command::new(repo().join("examples/python-long-dns/build.sh"))
        .arg(&out)
        .env("PCAPXRAY_PY_VENV", py_venv())
        .output()
        .expect("run examples/python-long-dns/build.sh (needs python3)");
    assert!(
        build.status.success(),
        "building the Python example failed (it needs python3 and componentize-py from PyPI):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |config: &str| {
        format!(
            "[[analyzer]]\nplugin = {:?}\n{config}[[output]]\nplugin = \"json\"\n",
            out.display().to_string()
        )
    };
    let run = run_pipeline(
        dir.path(),
        &pipeline(""),
        &testdata("ipv6_fragmented_dns.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    // expectations.json: the capture's two questions have six labels each.
    assert_eq!(
        finding_values(&run.report(), "dns.long-name", "dns.name"),
        [
            "txtpadding_323.n1.netalyzr.icsi.berkeley.edu",
            "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline("config = { max_labels = 6 }\n"),
        &testdata("ipv6_fragmented_dns.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(finding_values(&run.report(), "dns.long-name", "dns.name").is_empty());
    // Its configuration is checked like any plugin's.
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        &pipeline("config = { colour = 1 }\n"),
        &testdata("ipv6_fragmented_dns.pcap"),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("config.colour: unknown key"),
        "{}",
        run.stderr
    );
}

#[test]
fn plugins_inspect_shows_what_a_component_is_and_asks_for() {
    let out = pcapxray(&[
        "plugins",
        "inspect",
        built_plugin("pcapxray-plugin-enrich").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "name         enrich",
        "kind         analyzer",
        "wit          pcapxray:plugin@0.6.0",
        "capabilities dns, whois",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("digest       sha256:")
            && text.contains("exports\n  pcapxray:plugin/analyzer@0.6.0"),
        "{text}"
    );
}

#[test]
fn a_component_built_for_another_wit_major_version_is_refused_with_both_versions_named() {
    let future = built_plugin("pcapxray-test-future-wit");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = format!(
        "[[analyzer]]\nplugin = {:?}\n[[output]]\nplugin = \"json\"\n",
        future.display().to_string()
    );
    let run = run_pipeline(dir.path(), &pipeline, &testdata("http_get_bro_org.pcap"));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("was built for WIT package pcapxray:plugin@1.0.0, but this pcapxray speaks pcapxray:plugin@0.6.0"),
        "{}",
        run.stderr
    );
    let out = pcapxray(&["plugins", "inspect", future.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pcapxray:plugin@1.0.0"));
}
