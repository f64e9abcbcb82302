//! A report folder is replaced whole or not at all (issue #12): a pipeline or capture error never touches
//! an existing report, a killed run leaves the previous report as it was and nothing a later run keeps,
//! and the writer never follows a link out of the folder or trusts a marker that names what it did not
//! write.

use crate::support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const CAPTURE: &str = "http_get_bro_org.pcap";

/// Every file under `dir` (relative path → bytes), links included as their target path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, target.to_string_lossy().as_bytes().to_vec());
            } else if t.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A first good report into `dir/report` with the json and graph outputs.
fn first_report(dir: &Path) -> Run {
    let pipeline = format!("{WEB_JSON}[[output]]\nplugin = \"graph\"\n");
    let run = run_pipeline(dir, &pipeline, &testdata(CAPTURE));
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.out_dir.join("report.json").is_file());
    assert!(run.out_dir.join("graph").is_dir());
    run
}

#[test]
fn a_broken_pipeline_or_plugin_never_touches_the_previous_report_or_creates_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = first_report(tmp.path());
    let before = snapshot(&run.out_dir);
    let passwd = "/etc/passwd";
    for (what, pipeline) in [
        (
            "a config typo",
            "[[analyzer]]\nplugin = \"web\"\n[[output]]\nplugin = \"json\"\nconfig = { zzz = 1 }\n"
                .to_string(),
        ),
        (
            "a plugin path of /etc/passwd",
            format!("{WEB_JSON}[[analyzer]]\nplugin = \"{passwd}\"\n"),
        ),
        (
            "a memory limit of 1 MiB",
            "[[analyzer]]\nplugin = \"web\"\nlimits = { memory_mb = 1 }\n[[output]]\nplugin = \"json\"\n"
                .to_string(),
        ),
    ] {
        let again = run_pipeline(tmp.path(), &pipeline, &testdata(CAPTURE));
        assert_eq!(again.code, 1, "{what}: {}", again.all_output());
        assert_eq!(snapshot(&run.out_dir), before, "{what} changed the report");
        assert_eq!(
            names(tmp.path()),
            vec!["pipeline.toml".to_string(), "report".into()],
            "{what} left something beside the report"
        );
    }
    // A fresh folder is not created by a run that fails.
    let fresh = tmp.path().join("fresh");
    let out = pcapxray(&[
        "run",
        tmp.path().join("pipeline.toml").to_str().unwrap(),
        testdata(CAPTURE).to_str().unwrap(),
        "-o",
        fresh.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!fresh.exists(), "a failed run created {}", fresh.display());
    // A capture that is not a capture: the same.
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a capture\n").unwrap();
    let again = run_pipeline(tmp.path(), WEB_JSON, &text);
    assert_eq!(again.code, 1, "{}", again.all_output());
    assert_eq!(snapshot(&run.out_dir), before);
}

#[test]
fn a_symlinked_subfolder_is_refused_and_nothing_is_written_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = first_report(tmp.path());
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("all.svg"), "keep me").unwrap();
    std::fs::write(victim.join("precious.txt"), "keep me too").unwrap();
    std::fs::remove_dir_all(run.out_dir.join("graph")).unwrap();
    std::os::unix::fs::symlink(&victim, run.out_dir.join("graph")).unwrap();
    let before = snapshot(&run.out_dir);

    let pipeline = format!("{WEB_JSON}[[output]]\nplugin = \"graph\"\n");
    let again = run_pipeline(tmp.path(), &pipeline, &testdata(CAPTURE));
    assert_eq!(again.code, 1, "{}", again.all_output());
    let out = again.all_output();
    assert!(
        out.contains("graph") && out.contains("symbolic link"),
        "the refusal names the link: {out}"
    );
    assert_eq!(snapshot(&run.out_dir), before);
    assert_eq!(names(&victim), vec!["all.svg", "precious.txt"]);
    assert_eq!(
        std::fs::read_to_string(victim.join("all.svg")).unwrap(),
        "keep me"
    );
}

#[test]
fn an_edited_marker_or_a_foreign_file_is_refused_and_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = first_report(tmp.path());
    let marker = run.out_dir.join(".pcapxray-report");
    let listed = std::fs::read_to_string(&marker).unwrap();
    assert!(listed.lines().any(|l| l == "report.json"), "{listed}");

    // A marker that names something outside the folder.
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "mine").unwrap();
    std::fs::write(&marker, format!("{listed}../outside.txt\n")).unwrap();
    let before = snapshot(&run.out_dir);
    let again = run_pipeline(tmp.path(), WEB_JSON, &testdata(CAPTURE));
    assert_eq!(again.code, 1, "{}", again.all_output());
    assert!(
        again.all_output().contains("../outside.txt"),
        "{}",
        again.all_output()
    );
    assert_eq!(snapshot(&run.out_dir), before);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine");

    // A file in the folder the marker does not list (a user's notes) is not deleted by a new run.
    std::fs::write(&marker, &listed).unwrap();
    std::fs::write(run.out_dir.join("notes.txt"), "analyst notes").unwrap();
    let before = snapshot(&run.out_dir);
    let again = run_pipeline(tmp.path(), WEB_JSON, &testdata(CAPTURE));
    assert_eq!(again.code, 1, "{}", again.all_output());
    assert!(
        again.all_output().contains("notes.txt"),
        "{}",
        again.all_output()
    );
    assert_eq!(snapshot(&run.out_dir), before);

    // Without the notes the folder is replaced whole: the graph files of the first run are gone.
    std::fs::remove_file(run.out_dir.join("notes.txt")).unwrap();
    let again = run_pipeline(tmp.path(), WEB_JSON, &testdata(CAPTURE));
    assert_eq!(again.code, 0, "{}", again.all_output());
    assert_eq!(names(&run.out_dir), vec![".pcapxray-report", "report.json"]);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "report.json\n",
        "the marker lists exactly what the run wrote"
    );
}

#[test]
fn a_killed_run_leaves_the_previous_report_and_nothing_a_later_run_keeps() {
    let tmp = tempfile::tempdir().unwrap();
    let run = first_report(tmp.path());
    let before = snapshot(&run.out_dir);

    // An analyzer that never returns (with a long call limit) keeps the run busy until it is killed.
    let pipeline = format!(
        "[[analyzer]]\nplugin = \"{}\"\nlimits = {{ call_timeout_ms = 120000 }}\n[[output]]\nplugin = \"json\"\n",
        built_plugin("pcapxray-test-spin").display()
    );
    let path = tmp.path().join("spin.toml");
    std::fs::write(&path, pipeline).unwrap();
    let mut child = command()
        .args([
            "run",
            path.to_str().unwrap(),
            testdata(CAPTURE).to_str().unwrap(),
            "-o",
            run.out_dir.to_str().unwrap(),
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staging = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".report.pcapxray-tmp-")
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while staging(tmp.path()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the run never started writing its report"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        snapshot(&run.out_dir),
        before,
        "the killed run changed the report"
    );
    let left = staging(tmp.path());
    assert_eq!(
        left.len(),
        1,
        "the killed run's folder is hidden beside the report"
    );
    // Whatever it had half-written stays there, out of sight.
    std::fs::write(left[0].join("stale.json"), "{\"half\":").unwrap();

    let again = run_pipeline(tmp.path(), WEB_JSON, &testdata(CAPTURE));
    assert_eq!(again.code, 0, "{}", again.all_output());
    assert_eq!(names(&run.out_dir), vec![".pcapxray-report", "report.json"]);
    assert!(
        staging(tmp.path()).is_empty(),
        "the killed run's leftovers were removed"
    );
}
