//! Bad input gets a clear error naming what is wrong and where; never a panic, a hang or lost results.

use crate::support::*;

#[test]
fn the_corrupt_capture_reports_its_18_good_packets_and_where_reading_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(
        dir.path(),
        WEB_JSON,
        &testdata("corrupt_smtp_bad_record_after_18_packets.pcap"),
    );
    assert_eq!(run.code, 2, "{}", run.all_output());
    let report = run.report();
    assert_eq!(report["capture"]["packets"], 18);
    let read_error = report["capture"]["read_error"]
        .as_str()
        .expect("a read error in the report");
    // 24-byte file header + 18 records; tshark: "File has 3925868813-byte packet".
    assert!(
        read_error.contains("byte offset") && read_error.contains("3925868813"),
        "{read_error}"
    );
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("byte offset"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("INCOMPLETE"), "{}", run.stdout);
}

#[test]
fn a_file_that_is_not_a_capture_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are my case notes, not packets\n").unwrap();
    let run = run_pipeline(dir.path(), WEB_JSON, &text);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("is not a packet capture"),
        "{}",
        run.stderr
    );
    assert!(!run.out_dir.join("report.json").exists());
}

#[test]
fn an_empty_file_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let run = run_pipeline(dir.path(), WEB_JSON, &empty);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is empty (0 bytes)"), "{}", run.stderr);
}

#[test]
fn a_capture_with_a_header_and_no_packets_gives_an_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), WEB_JSON, &testdata("empty_no_packets.pcap"));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    assert_eq!(report["capture"]["packets"], 0);
    // Said, so an empty report is not read as "nothing suspicious found".
    let notes = report["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["key"] == "capture.no-packets" && n["stage"] == "host"),
        "{notes:?}"
    );
    assert!(
        run.stdout.contains("The capture holds no packets"),
        "{}",
        run.stdout
    );
}

/// A usage error exits 1 (nothing analyzed), not 2, which means "a report was written but is
/// incomplete"; --help exits 0.
#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    for args in [
        &["run", "pipeline.toml"][..],
        &["run", "--bogus", "a", "b"],
        &["nonsense"],
    ] {
        let out = pcapxray(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage"),
            "{args:?}"
        );
    }
    assert_eq!(pcapxray(&["--help"]).status.code(), Some(0));
    assert_eq!(pcapxray(&["--version"]).status.code(), Some(0));
}

#[test]
fn a_missing_capture_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), WEB_JSON, &dir.path().join("nope.pcap"));
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("nope.pcap"), "{}", run.stderr);
}

/// Pipeline files under tests/ui/ and the exact errors `validate` must print for them (`.err`).
/// Set PCAPXRAY_BLESS=1 to rewrite the expected files after a deliberate change.
#[test]
fn broken_pipelines_get_every_error_with_line_and_column() {
    let root = repo();
    let mut cases: Vec<_> = std::fs::read_dir(root.join("tests/ui"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5);
    let root_text = root.canonicalize().unwrap().display().to_string();
    let mut failures = Vec::new();
    for case in cases {
        let rel = case.strip_prefix(&root).unwrap();
        let out = command()
            .current_dir(&root)
            .args(["validate", rel.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} should be refused",
            rel.display()
        );
        let got = String::from_utf8_lossy(&out.stderr).replace(&root_text, "$ROOT");
        let expected_path = case.with_extension("err");
        if std::env::var_os("PCAPXRAY_BLESS").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                rel.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unknown_config_key_stops_run_before_reading_and_names_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = "[[analyzer]]\nplugin = \"web\"\nconfig = { colour = \"red\" }\n[[output]]\nplugin = \"json\"\n";
    let run = run_pipeline(dir.path(), pipeline, &testdata("http_get_bro_org.pcap"));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("pipeline.toml:3:12: stage `web`: config.colour: unknown field `colour`"),
        "{}",
        run.stderr
    );
    assert!(!run.out_dir.join("report.json").exists());
}

#[test]
fn the_shipped_pipelines_are_valid() {
    let root = repo();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = pcapxray(&["validate", path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

/// `plugin = "/tmp"` used to say "does not exist", and a text file dumped a multi-line byte array (#12).
#[test]
fn plugin_paths_that_are_not_regular_files_or_not_components_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let elf = std::env::current_exe().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let cases = [
        (
            dir.path().to_path_buf(),
            "is not a regular file (it is a folder)",
        ),
        (
            "/dev/null".into(),
            "is not a regular file (it is a character device)",
        ),
        (fifo, "is not a regular file (it is a named pipe)"),
        (
            "/etc/passwd".into(),
            "is not a WebAssembly component: it looks like a text file starting with \"root:",
        ),
        (
            elf,
            "is not a WebAssembly component: it looks like an ELF executable",
        ),
        (
            core,
            "is not a WebAssembly component: it is a core WebAssembly module, not a component",
        ),
    ];
    for (path, expected) in cases {
        let pipeline = format!(
            "[[analyzer]]\nplugin = \"{}\"\n[[output]]\nplugin = \"json\"\n",
            path.display()
        );
        let file = dir.path().join("p.toml");
        std::fs::write(&file, pipeline).unwrap();
        for cmd in ["validate", "run"] {
            let mut args = vec![cmd, file.to_str().unwrap()];
            let capture = testdata("http_get_bro_org.pcap");
            let out_dir = dir.path().join("out");
            if cmd == "run" {
                args.extend([capture.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
            }
            let out = pcapxray(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{cmd} {}: {stderr}",
                path.display()
            );
            assert!(
                stderr.contains(expected),
                "{cmd} {}: expected {expected:?} in:\n{stderr}",
                path.display()
            );
            assert!(
                stderr.lines().count() <= 3,
                "short and to the point:\n{stderr}"
            );
            assert!(!out_dir.exists());
        }
    }
}

#[test]
fn validate_warns_about_grants_a_stage_cannot_use_and_risky_grants() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "[[analyzer]]\nplugin = \"web\"\n\
         [[output]]\nplugin = \"json\"\ngrants = { files = [\"/\"], sqlite = true }\n\
         [[output]]\nplugin = \"graph\"\ngrants = { graphviz = { program = \"/bin/touch\" } }\n\
         [[output]]\nplugin = \"sqlite\"\ngrants = { sqlite = true }\n",
    )
    .unwrap();
    let out = pcapxray(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings are not errors: {stderr}"
    );
    assert!(stdout.contains("ok with 4 warning(s)"), "{stdout}");
    for expected in [
        "p.toml:3:1: warning: stage `json`: granted `files`, but plugin json does not import the files capability",
        "p.toml:3:1: warning: stage `json`: granted `sqlite`, but plugin json does not import the sqlite capability",
        "p.toml:3:1: warning: stage `json`: grants `files` read access to / (the whole file system)",
        "p.toml:6:1: warning: stage `graph`: `graphviz.program` is \"/bin/touch\", which is not a Graphviz program",
    ] {
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
    // The sqlite output imports what it is granted: no warning for it.
    assert!(!stderr.contains("stage `sqlite`"), "{stderr}");
    // The same warnings reach a run's log, and the run still goes ahead.
    let run = run_pipeline(
        dir.path(),
        &std::fs::read_to_string(&file).unwrap(),
        &testdata("http_get_bro_org.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
}

/// A stage's config with several problems gets all of them at once, each at its own line and column,
/// so that one edit fixes them all (the Rust SDK reads the table again without each bad key).
#[test]
fn validate_lists_every_config_problem_of_a_stage_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "[[analyzer]]\nplugin = \"tor\"\nconfig = { nonsense = 1, also_wrong = \"x\" }\n\n\
         [[analyzer]]\nplugin = \"beacon\"\nconfig = { min_connections = \"ten\", bogus = true }\n\n\
         [[output]]\nplugin = \"json\"\n",
    )
    .unwrap();
    let out = pcapxray(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let problems: Vec<&str> = stderr.lines().filter(|l| l.contains("p.toml:")).collect();
    assert_eq!(problems.len(), 4, "{stderr}");
    for (line, expected) in problems.iter().zip([
        "p.toml:3:12: stage `tor`: config.nonsense: unknown field `nonsense`",
        "p.toml:3:26: stage `tor`: config.also_wrong: unknown field `also_wrong`",
        "p.toml:7:12: stage `beacon`: config.min_connections: invalid type: string \"ten\"",
        "p.toml:7:37: stage `beacon`: config.bogus: unknown field `bogus`",
    ]) {
        assert!(line.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("error: 4 problem(s)"), "{stderr}");
}
