//! Every fuzz target over every committed input, on the stable toolchain, in every `cargo test`: the
//! seed corpus (`corpus/<target>/`, rebuilt by `fuzz-seeds` from the shared captures) and the crash
//! regressions (`regressions/<target>/`, inputs that once crashed, each with its fix). A missing or
//! empty corpus fails loudly instead of passing on nothing. With `PCAPXRAY_LONG_TESTS=1` a short live
//! libFuzzer campaign runs per target as well (`run.sh`).

use pcapxray_fuzz::TARGETS;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `dir`, sorted; an absent folder has none.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` on each file; returns the files that panicked, with the panic message.
fn replay(run: fn(&[u8]), inputs: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in inputs {
        let bytes = std::fs::read(path).expect("a readable input");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&bytes))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    failures
}

#[test]
fn every_target_survives_its_committed_corpus_and_crash_regressions() {
    assert!(
        here().join("regressions").is_dir(),
        "tests/fuzz/regressions is missing"
    );
    let mut failures = Vec::new();
    for target in TARGETS {
        let corpus = files(&here().join("corpus").join(target.name));
        assert!(
            !corpus.is_empty(),
            "the seed corpus of fuzz target {} (tests/fuzz/corpus/{}) is missing or empty; \
             rebuild it with `cargo run -p pcapxray-fuzz --bin fuzz-seeds`",
            target.name,
            target.name
        );
        let regressions = files(&here().join("regressions").join(target.name));
        failures.extend(replay(target.run, &corpus));
        failures.extend(replay(target.run, &regressions));
        eprintln!(
            "{}: {} seeds and {} crash regressions replayed",
            target.name,
            corpus.len(),
            regressions.len()
        );
    }
    assert!(
        failures.is_empty(),
        "inputs that fail:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_seeds_come_from_real_captures() {
    // Each target starts from real traffic, not only from what the fuzzer invents.
    let dhcp = files(&here().join("corpus/dhcp"));
    assert!(
        dhcp.iter()
            .any(|p| p.to_string_lossy().contains("dhcp_message_types"))
    );
    // Reader seeds are cuts of the larger shared captures (whole copies are not kept in the repo).
    let reader = files(&here().join("corpus/capture_reader"));
    assert!(reader.len() >= 5, "{reader:?}");
}

#[test]
fn a_crash_in_a_target_is_reported_by_the_replay() {
    // The replay really notices a panicking input (and names the file).
    fn boom(data: &[u8]) {
        assert!(data.is_empty(), "boom");
    }
    let dir = here().join("corpus/dhcp");
    let failures = replay(boom, &files(&dir));
    assert_eq!(failures.len(), files(&dir).len());
    assert!(failures[0].contains("corpus/dhcp") && failures[0].ends_with("boom"));
}

/// The long-test switch: a live libFuzzer campaign of `PCAPXRAY_FUZZ_SECONDS` (default 60) per
/// target through `run.sh`, when `PCAPXRAY_LONG_TESTS=1` and cargo-fuzz is installed.
#[test]
fn live_fuzzing_of_every_target_behind_the_long_tests_switch() {
    if std::env::var("PCAPXRAY_LONG_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: live fuzzing runs only with PCAPXRAY_LONG_TESTS=1");
        return;
    }
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("skipped: cargo-fuzz is not installed (`cargo install cargo-fuzz --locked`)");
        return;
    }
    let seconds = std::env::var("PCAPXRAY_FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    for target in TARGETS {
        let status = Command::new(here().join("run.sh"))
            .args([target.name, &seconds])
            .status()
            .expect("run.sh starts");
        assert!(
            status.success(),
            "live fuzzing of {} found a crash",
            target.name
        );
    }
}
