//! The HTML around the data: two small server-rendered pages (start and case) that read well without
//! scripts, the embedded assets that bring them to life, and the headers every response carries.
//!
//! Everything that reaches HTML from a case (file names, errors) is escaped here; report contents are
//! never rendered by the server at all, the page's script puts them in with `textContent`. The
//! Content-Security-Policy allows scripts only from this server, and requests whose `Host` is a name
//! other than `localhost` are refused, so a web site cannot reach the server through DNS rebinding; a
//! changing request from another origin, or from an opaque one (`Origin: null`, as a sandboxed frame
//! sends), is refused too. Pages carry `Referrer-Policy: same-origin`, so the browser names our own
//! origin on our own form posts.

use super::cases::{CaseMeta, Status};
use super::files::ReportFile;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Pages: scripts, styles, data and images only from this server; no frames, no plug-ins.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Report files opened in the browser: a sandbox without scripts (their content comes from a capture).
pub const FILE_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

/// The html plugin's one script, which report.html carries inline (table sorting, reveal buttons).
const REPORT_SCRIPT: &str = include_str!("../../../plugins/html/src/report.js");

/// A report.html opened in the browser: the same sandbox, but its own script may run, allowed by its
/// hash and nothing else (an opaque origin: it reaches neither this server's pages nor its data).
pub fn report_html_csp() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(REPORT_SCRIPT));
    format!(
        "sandbox allow-scripts; default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    )
}

/// Files embedded in the binary, served under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "start.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/start.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "explore-worker.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/explore-worker.js"),
    ),
    (
        "case.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/case.js"),
    ),
    (
        "diagram.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/diagram.js"),
    ),
    (
        "timeline.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/timeline.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

const INDEX_HTML: &str = include_str!("assets/index.html");
const CASE_HTML: &str = include_str!("assets/case.html");
const MESSAGE_HTML: &str = include_str!("assets/message.html");
const TOR_HTML: &str = include_str!("assets/tor.html");

/// An embedded asset by name.
pub fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media_type, body)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => message(StatusCode::NOT_FOUND, "Not found", "There is no such file."),
    }
}

/// Escapes text for HTML content and quoted attribute values. Characters that change how the text
/// around them reads without being seen (bidirectional overrides, zero-width characters) are shown
/// as escapes, `\u{202e}`: an uploaded `invoice\u{202e}gnp.pcap` must not read as `invoicepcap.png`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// The characters the reports also write as escapes (the plugin SDK's `encoding::is_invisible`; the
/// host does not link the SDK): zero-width characters, bidirectional marks, embeddings, overrides
/// and isolates, invisible operators, the byte-order mark, interlinear annotation.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// Fills `{{KEY}}` slots in one pass, so a value can never introduce another slot. Values must already
/// be HTML.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 4 + end]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A page with a heading and one message (errors, refusals).
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = fill(
        MESSAGE_HTML,
        &[("TITLE", &escape(title)), ("MESSAGE", &escape(text))],
    );
    html(status, body)
}

/// The start page: upload form and the list of cases.
pub fn index(cases: &[CaseMeta], max_upload: u64) -> Response {
    let rows: String = cases.iter().map(case_row).collect();
    let (empty, table_hidden) = if cases.is_empty() {
        (
            "<p id=\"no-cases\">No cases yet. Upload a capture to start.</p>",
            "hidden",
        )
    } else {
        ("", "")
    };
    let body = fill(
        INDEX_HTML,
        &[
            ("LIMIT_BYTES", &max_upload.to_string()),
            ("LIMIT", &escape(&human_size(max_upload))),
            ("ROWS", &rows),
            ("EMPTY", empty),
            ("TABLE_HIDDEN", table_hidden),
        ],
    );
    html(StatusCode::OK, body)
}

fn case_row(c: &CaseMeta) -> String {
    let id = escape(&c.id);
    format!(
        "<tr data-id=\"{id}\"><td><a href=\"/cases/{id}\">{heading}</a>{evidence}</td><td>{size}</td><td><time datetime=\"{iso}\">{when}</time></td><td class=\"status status-{status}\">{status}</td><td><form method=\"post\" action=\"/cases/{id}/delete\"><button type=\"submit\" class=\"danger\" aria-label=\"Delete case {heading}\">Delete</button></form></td></tr>",
        heading = escape(c.title.as_deref().unwrap_or(&c.name)),
        evidence = if c.title.is_some() {
            format!(" <span class=\"hint\">{}</span>", escape(&c.name))
        } else {
            String::new()
        },
        size = escape(&human_size(c.size)),
        iso = utc(c.uploaded, true),
        when = utc(c.uploaded, false),
        status = c.status.as_str(),
    )
}

/// Why one file of a Tor upload was not imported, in words for the page.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UploadRefusal(pub String);

/// The Tor relays page: the consensuses held, what they cover, the upload form, and what the last
/// upload gave (`result`).
pub fn tor(
    docs: &[crate::torimport::Stored],
    result: &[Result<crate::torimport::Imported, UploadRefusal>],
    read: bool,
    max_upload: u64,
) -> Response {
    let spans = crate::torimport::coverage(docs);
    let coverage = if docs.is_empty() {
        "None yet: Tor relays are not recognised in analyses until consensuses are added."
            .to_string()
    } else {
        format!(
            "{} {}, covering (UTC) {}.",
            docs.len(),
            if docs.len() == 1 {
                "consensus"
            } else {
                "consensuses"
            },
            spans
                .iter()
                .map(|(a, b)| format!("{} to {}", escape(a), escape(b)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let rows: String = docs
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&d.valid_after),
                escape(&d.valid_until)
            )
        })
        .collect();
    let result_html = if result.is_empty() {
        String::new()
    } else {
        let items: String = result
            .iter()
            .map(|r| match r {
                Ok(got) => format!("<li>{}</li>", escape(&got.describe())),
                Err(e) => format!("<li class=\"error\">{}</li>", escape(&e.0)),
            })
            .collect();
        format!(
            "<section id=\"tor-result\" role=\"status\" aria-labelledby=\"result-heading\"><h2 id=\"result-heading\">Added</h2><ul>{items}</ul></section>"
        )
    };
    let not_read = if read {
        ""
    } else {
        "<p class=\"warning\" id=\"tor-not-read\">This server's pipeline does not read the consensuses kept here, so analyses do not use them; whoever runs the server can add this server's tor folder to the pipeline's tor stage.</p>"
    };
    let body = fill(
        TOR_HTML,
        &[
            ("RESULT", &result_html),
            ("LIMIT", &escape(&human_size(max_upload))),
            ("NOT_READ", not_read),
            ("COVERAGE", &coverage),
            ("ROWS", &rows),
            ("TABLE_HIDDEN", if docs.is_empty() { "hidden" } else { "" }),
        ],
    );
    html(StatusCode::OK, body)
}

/// The case page: live progress, then the explore view (built by `case.js` from `report.json`).
pub fn case(meta: &CaseMeta, files: &[ReportFile]) -> Response {
    let id = escape(&meta.id);
    let list: String = files
        .iter()
        .map(|f| {
            let path = escape(&f.path);
            format!(
                "<li><a href=\"/cases/{id}/report/{path}\" download>{path}</a> <span class=\"size\">{}</span></li>",
                escape(&human_size(f.size))
            )
        })
        .collect();
    let error = meta.error.as_deref().map(escape).unwrap_or_default();
    let title = meta.title.as_deref().map(escape).unwrap_or_default();
    let heading = meta.title.as_deref().unwrap_or(&meta.name);
    let body = fill(
        CASE_HTML,
        &[
            ("ID", &id),
            ("NAME", &escape(&meta.name)),
            ("TITLE", &title),
            ("HEADING", &escape(heading)),
            (
                "EVIDENCE_HIDDEN",
                if meta.title.is_some() { "" } else { "hidden" },
            ),
            (
                "RERUN_HIDDEN",
                if meta.status.finished() { "" } else { "hidden" },
            ),
            ("SIZE", &escape(&human_size(meta.size))),
            (
                "LAKE",
                &meta
                    .lake
                    .as_deref()
                    .map(|p| escape(&p.display().to_string()))
                    .unwrap_or_default(),
            ),
            (
                "LAKE_HIDDEN",
                if meta.lake.is_some() { "" } else { "hidden" },
            ),
            (
                "ORIGINAL_HIDDEN",
                if meta.lake.is_some() { "hidden" } else { "" },
            ),
            ("STATUS", meta.status.as_str()),
            (
                "REFRESH",
                if meta.status.finished() {
                    ""
                } else {
                    "<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>"
                },
            ),
            ("ERROR", &error),
            ("ERROR_HIDDEN", if error.is_empty() { "hidden" } else { "" }),
            ("FILES", &list),
            (
                "FILES_HIDDEN",
                if meta.status == Status::Done {
                    ""
                } else {
                    "hidden"
                },
            ),
        ],
    );
    html(StatusCode::OK, body)
}

/// `1.5 MiB`, `820 KiB`, `12 bytes`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut unit = "";
    for u in UNITS {
        v /= 1024.0;
        unit = u;
        if v < 1024.0 {
            break;
        }
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// Unix seconds as `2026-11-01 10:00 UTC` (or ISO 8601 for `datetime` attributes).
fn utc(secs: u64, iso: bool) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = crate::clock::civil_from_days(days);
    let (h, min, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if iso {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
    }
}

/// Whether the client asked for a page rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Refuses requests that name the server by a foreign host name (DNS rebinding) and changing requests
/// from other origins, then adds the security headers to whatever the handler answered.
pub async fn guard(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !local_host(host) {
        return with_headers(message(
            StatusCode::MISDIRECTED_REQUEST,
            "Unknown host name",
            "pcapxray serve answers only to IP addresses and localhost (a protection against DNS rebinding); open it as http://127.0.0.1:PORT/.",
        ));
    }
    let changing = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changing && !same_origin(headers, host) {
        return with_headers(message(
            StatusCode::FORBIDDEN,
            "Refused",
            "Changes are accepted only from pcapxray's own pages.",
        ));
    }
    with_headers(next.run(request).await)
}

fn with_headers(mut response: Response<Body>) -> Response<Body> {
    let h = response.headers_mut();
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: with it Chromium sends `Origin: null` on the page's own form posts, which
        // the origin check must refuse (a sandboxed frame on any site sends the same). `same-origin`
        // keeps the origin on our own requests and sends nothing to other sites.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// An IP address or `localhost` (with or without a port).
fn local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let name = name.to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
}

/// No `Origin` (a plain client such as curl) or one naming this very server; and not a browser's
/// cross-site fetch.
fn same_origin(headers: &HeaderMap, host: &str) -> bool {
    let get = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if get("sec-fetch-site").is_some_and(|s| s == "cross-site" || s == "same-site") {
        return false;
    }
    match get("origin") {
        None => true,
        Some(origin) => origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_filled_once_and_values_cannot_add_slots() {
        let out = fill(
            "<h1>{{A}}</h1>{{B}}{{C}}",
            &[("A", &escape("<x>{{B}}")), ("B", "b")],
        );
        assert_eq!(out, "<h1>&lt;x&gt;{{B}}</h1>b{{C}}");
        // A right-to-left override shows as its escape: the name reads as it is.
        assert_eq!(
            escape("invoice\u{202e}gnp.pcap\u{200b}"),
            "invoice\\u{202e}gnp.pcap\\u{200b}"
        );
    }

    #[test]
    fn report_html_may_run_exactly_the_html_plugins_script() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let csp = report_html_csp();
        assert!(
            csp.starts_with("sandbox allow-scripts; default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        let hash =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(REPORT_SCRIPT));
        assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
        // No other script: neither inline nor from anywhere, and no way out of the opaque origin.
        assert!(!csp.contains("allow-same-origin"), "{csp}");
        assert!(
            csp.contains(&format!("script-src 'sha256-{hash}';")),
            "{csp}"
        );
    }

    #[test]
    fn only_addresses_and_localhost_are_accepted_as_host() {
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:1",
            "[::1]:8080",
            "a.localhost",
        ] {
            assert!(local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "evil.example",
            "",
            "[nope]:1",
            "127.0.0.1.evil.example",
        ] {
            assert!(!local_host(bad), "{bad}");
        }
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0, false), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_510_822_988, true), "2017-11-16T09:03:08Z");
        assert_eq!(human_size(574_160), "561 KiB");
        assert_eq!(human_size(2_147_483_648), "2.0 GiB");
    }
}
