//! Golden tests: each built-in plugin's findings and host facts on real captures, compared with what
//! was reviewed and stored under tests/golden/. A case is a `NAME.toml`:
//!
//! ```toml
//! capture = "http_get_bro_org.pcap"   # a shared capture, or a repository path such as "config/demo.pcap"
//! stage = "web"                       # the stage whose results are compared
//! pipeline = """ ...pipeline text; it must have a json output... """
//! ```
//!
//! and its reviewed result `NAME.golden.json`. For an output plugin, `file = "report.json"` compares that
//! JSON file of the report instead (with the parts that change between builds and machines — plugin
//! digests, the capture's path — replaced by placeholders). `PCAPXRAY_BLESS=1` rewrites the result files after a
//! deliberate change; review the diff before committing it.

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;

#[test]
fn every_plugin_matches_its_reviewed_results_on_real_captures() {
    let dir = repo().join("tests/golden");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases in {}", dir.display());
    let bless = std::env::var_os("PCAPXRAY_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let got = run_case(case);
        let golden = case.with_extension("golden.json");
        if bless {
            std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&golden) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => {
                failures.push(format!(
                    "{}: no {} (run with PCAPXRAY_BLESS=1 and review it)",
                    case.display(),
                    golden.display()
                ));
                continue;
            }
        };
        if got != expected {
            failures.push(format!(
                "{}: results differ from {}\n--- got\n{}",
                case.display(),
                golden.display(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn run_case(case: &Path) -> Value {
    let spec: toml::Table = toml::from_str(&std::fs::read_to_string(case).unwrap()).unwrap();
    let capture = spec["capture"].as_str().unwrap();
    let stage = spec["stage"].as_str().unwrap();
    let pipeline = spec["pipeline"].as_str().unwrap();
    let capture_path = if capture.contains('/') {
        repo().join(capture)
    } else {
        testdata(capture)
    };
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), pipeline, &capture_path);
    assert!(
        run.code == 0 || run.code == 2,
        "{}: {}",
        case.display(),
        run.all_output()
    );
    let report = run.report();
    if let Some(file) = spec.get("file").and_then(|f| f.as_str()) {
        let text = std::fs::read_to_string(run.out_dir.join(file)).unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        doc["capture"]["file"] = json!("<capture>");
        for plugin in doc["plugins"].as_array_mut().into_iter().flatten() {
            plugin["digest"] = json!("<digest>");
        }
        return doc;
    }
    let flows: std::collections::HashMap<u64, &Value> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f))
        .collect();
    // Flow ids depend on packet order only, but a flow is easier to review by its endpoints.
    let describe = |subject: &Value| -> Value {
        match subject
            .get("flow")
            .and_then(Value::as_u64)
            .and_then(|id| flows.get(&id))
        {
            Some(f) => json!(format!(
                "{} {}:{} -> {}:{}",
                f["protocol"].as_str().unwrap(),
                f["client"]["ip"].as_str().unwrap(),
                f["client"]["port"],
                f["server"]["ip"].as_str().unwrap(),
                f["server"]["port"]
            )),
            None => subject.clone(),
        }
    };
    let mut findings: Vec<Value> = all_findings(&report)
        .into_iter()
        .filter(|f| f["stage"] == stage)
        .map(|f| {
            let mut out = json!({
                "subject": describe(&f["subject"]),
                "tag": f["tag"],
                "severity": f["severity"],
                "confidence": f["confidence"],
                "summary": f["summary"],
                "attributes": f["attributes"],
            });
            // A finding that stands for several flows lists them all, by their endpoints.
            if occurrences(f) > 1 {
                out["count"] = json!(occurrences(f));
                let mut on: Vec<Value> = f["flows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|id| describe(&json!({ "flow": id })))
                    .collect();
                on.sort_by_key(|v| v.to_string());
                out["flows"] = Value::Array(on);
            }
            out
        })
        .collect();
    findings.sort_by_key(|f| f.to_string());
    let mut facts: Vec<Value> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| {
            h["notes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["stage"] == stage)
                .map(move |n| json!({"host": h["ip"], "key": n["key"], "value": n["value"]}))
        })
        .collect();
    facts.sort_by_key(|f| f.to_string());
    let notes: Vec<Value> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["stage"] == stage)
        .cloned()
        .collect();
    if notes.is_empty() {
        json!({ "findings": findings, "host_facts": facts })
    } else {
        json!({ "findings": findings, "host_facts": facts, "run_notes": notes })
    }
}
