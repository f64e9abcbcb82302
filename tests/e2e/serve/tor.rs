//! Tor relays without the command line (issue 14 point 9): the Tor relays page in Chromium
//! (tests/browser/tor.mjs) and `pcapxray tor import`.

use super::*;
use std::io::Write as _;

/// A Tor Metrics style monthly archive (`consensuses-YYYY-MM.tar.xz`: CollecTor's `@type` line, one
/// consensus per file, other files beside them) holding the shared consensus.
fn metrics_archive(path: &Path) {
    let consensus = std::fs::read(testdata("tor_cached-consensus_2022-11-19")).unwrap();
    let mut annotated = b"@type network-status-consensus-3 1.0\n".to_vec();
    annotated.extend_from_slice(&consensus);
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [
        (
            "consensuses-2022-11/19/2022-11-19-10-00-00-consensus",
            annotated.as_slice(),
        ),
        (
            "consensuses-2022-11/README.txt",
            b"not a consensus\n".as_slice(),
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body).unwrap();
    }
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&tar.into_inner().unwrap()).unwrap();
    std::fs::write(path, xz.finish().unwrap()).unwrap();
}

/// Issue 14 point 9: consensuses added on the Tor relays page (a monthly archive and a text file that
/// is none) are kept in the data folder and used by the next analysis, which then finds the relay of
/// the Tor example and says that the consensus does not cover the capture's date (2018, the consensus
/// is of 2022).
#[test]
fn consensuses_added_on_the_tor_page_are_used_by_later_analyses_which_say_when_they_miss_the_date()
{
    let server = Server::start_with(&[], true);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("consensuses-2022-11.tar.xz");
    metrics_archive(&archive);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let add = format!("{},{}", archive.display(), text.display());
    let capture = testdata("tor_browser_pcapxray_example.pcap");
    let r = drive(
        "tor.mjs",
        &[
            "--url".as_ref(),
            server.url("/").as_ref(),
            "--capture".as_ref(),
            capture.as_os_str(),
            "--out".as_ref(),
            dir.path().as_os_str(),
            "--add".as_ref(),
            add.as_ref(),
        ],
    );
    assert!(r["consoleErrors"].as_array().unwrap().is_empty(), "{r}");
    assert!(r["before"].as_str().unwrap().starts_with("None yet"), "{r}");
    assert_eq!(
        r["notReadBefore"], 0,
        "the built-in pipeline reads the data folder: {r}"
    );
    // The form's post was answered with a redirect; reloading showed the result again, posting nothing.
    let url = r["addedUrl"].as_str().unwrap();
    assert!(
        url.starts_with("/tor?added=") && url.len() == "/tor?added=".len() + 32,
        "{r}"
    );
    assert_eq!(r["addedAfterReload"], r["added"], "{r}");
    assert_eq!(r["postsOnReload"], 0, "{r}");
    let added = r["added"].as_array().unwrap();
    assert!(
        added[0].as_str().unwrap().starts_with(
            "consensuses-2022-11.tar.xz: 1 consensus stored, valid from 2022-11-19 10:00:00 to 2022-11-19 13:00:00 UTC; 1 skipped: consensuses-2022-11.tar: consensuses-2022-11/README.txt is not a network-status consensus"
        ),
        "{r}"
    );
    assert!(
        added[1]
            .as_str()
            .unwrap()
            .starts_with("notes.txt: no consensus in it"),
        "{r}"
    );
    assert_eq!(
        r["after"], "1 consensus, covering (UTC) 2022-11-19 10:00:00 to 2022-11-19 13:00:00.",
        "{r}"
    );
    assert_eq!(
        r["rows"],
        serde_json::json!([["2022-11-19 10:00:00", "2022-11-19 13:00:00"]])
    );
    assert!(
        server
            .data
            .join("tor/consensus-2022-11-19-10-00-00")
            .is_file()
    );

    // The analysis afterwards matched the relay, with no "no consensus" note, and says the date is
    // not covered, in the Tor view and in its run section.
    let id = r["caseUrl"].as_str().unwrap().rsplit('/').next().unwrap();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data.join(id).join("report/report.json")).unwrap(),
    )
    .unwrap();
    let relays = finding_values(&report, "tor.relay", "tor.consensus");
    assert!(
        !relays.is_empty(),
        "no tor.relay finding: {}",
        report["summary"]
    );
    assert!(
        relays.iter().all(|c| c.contains("2022-11-19 10:00:00")),
        "{relays:?}"
    );
    let notes = report["notes"].to_string();
    assert!(!notes.contains("tor.no-consensus"), "{notes}");
    assert!(
        r["tor"]["findings"].as_str().unwrap().contains("tor.relay"),
        "{r}"
    );
    assert_eq!(r["tor"]["noteVisible"], true, "{r}");
    let first = report["capture"]["first_packet"].as_str().unwrap()[..19].replace('T', " ");
    for note in [&r["tor"]["note"], &r["tor"]["runNote"]] {
        let note = note.as_str().unwrap();
        assert!(
            note.contains(
                "cover 2022-11-19 10:00:00 to 2022-11-19 13:00:00 (UTC), not all of this capture"
            ) && note.contains(&first)
                && note.contains("Tor relays page"),
            "{note}"
        );
    }
    assert_eq!(
        server.case(id)["case"]["summary"]["tor_note"],
        r["tor"]["note"],
        "{r}"
    );
}

/// `pcapxray tor import` stores the archive's consensus in the folder given (as the page does in the
/// data folder), says what it skipped, and fails when nothing was a consensus.
#[test]
fn tor_import_on_the_command_line_stores_an_archives_consensuses_and_fails_on_none() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("consensuses-2022-11.tar.xz");
    metrics_archive(&archive);
    let tor = dir.path().join("tor");
    let out = pcapxray(&[
        "tor",
        "import",
        archive.to_str().unwrap(),
        "--dir",
        tor.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 consensus stored, valid from 2022-11-19 10:00:00 to 2022-11-19 13:00:00 UTC; 1 skipped"), "{stdout}");
    assert!(
        stdout.contains(
            "now holds 1 consensuses, covering (UTC) 2022-11-19 10:00:00 to 2022-11-19 13:00:00"
        ),
        "{stdout}"
    );
    let stored = std::fs::read(tor.join("consensus-2022-11-19-10-00-00")).unwrap();
    assert!(stored.ends_with(&std::fs::read(testdata("tor_cached-consensus_2022-11-19")).unwrap()));

    let none = dir.path().join("notes.txt");
    std::fs::write(&none, "hello\n").unwrap();
    let out = pcapxray(&[
        "tor",
        "import",
        none.to_str().unwrap(),
        "--dir",
        tor.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no consensus was stored"));
    let missing = pcapxray(&[
        "tor",
        "import",
        "/nonexistent/file",
        "--dir",
        tor.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/file"));
}
