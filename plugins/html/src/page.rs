//! The page itself: markup, inline style and script. Every value that came from the capture or a
//! plugin goes through `e()` (escaping for HTML text and attributes) or is a number; the only markup
//! not built here is the diagrams' SVG, which the SDK's renderer escapes the same way.

use crate::{FindingRow, Findings, FlowRow, TableRows, ts};
use pcapxray_diagram::text::{clean, escape_xml as e};
use pcapxray_diagram::{
    LAYOUT_BUDGET_MS, NetGraph, View, ViewOptions, available_views, to_svg, to_svg_unplaced,
};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::tables::{self, Row, Table};
use pcapxray_plugin_sdk::{HostInfo, Report, format_mac};
use std::fmt::Write;

/// Where the page is written: a `String`, or [`Count`] to learn its size first.
pub trait Out: Write {
    fn push_str(&mut self, s: &str);
}

impl Out for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

/// Counts the bytes written.
pub struct Count(pub usize);

impl Write for Count {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

impl Out for Count {
    fn push_str(&mut self, s: &str) {
        self.0 += s.len();
    }
}

pub struct Page<'a> {
    pub title: String,
    pub report: &'a Report,
    /// The hosts listed (at most `max_hosts`, most traffic first) and how many there are in all.
    pub hosts: &'a [HostInfo],
    pub hosts_total: usize,
    pub model: &'a NetGraph,
    pub flows: &'a [FlowRow],
    pub flows_seen: u64,
    pub findings: &'a Findings,
    pub tables: &'a TableRows,
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1b1b1b; --muted: #555; --line: #d6d6d6; --head: #f2f4f7; --warn: #fff3cd; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: #fff; }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 8px 24px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: #fff; z-index: 1; }
nav a { margin-right: 16px; color: #1f5fbf; }
main { padding: 0 24px 40px; }
section { margin-top: 28px; }
h2 { font-size: 18px; margin: 0 0 10px; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; word-break: break-all; }
.warning { background: var(--warn); border: 1px solid #e0c36a; padding: 8px 12px; border-radius: 4px; margin: 8px 0; }
.note { color: var(--muted); }
.table-wrap { overflow-x: auto; max-height: 70vh; overflow-y: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: var(--head); position: sticky; top: 0; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; text-align: inherit; }
th button::after { content: " \2195"; color: #999; }
th[aria-sort="ascending"] button::after { content: " \2191"; color: var(--fg); }
th[aria-sort="descending"] button::after { content: " \2193"; color: var(--fg); }
td code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.sev-high { color: #fff; background: #b00020; padding: 0 6px; border-radius: 3px; }
.sev-medium { color: #fff; background: #d62828; padding: 0 6px; border-radius: 3px; }
.sev-low { background: #ffe08a; padding: 0 6px; border-radius: 3px; }
.sev-info { background: #e6e6e6; padding: 0 6px; border-radius: 3px; }
.diagram-controls { margin: 0 0 8px; }
figure.diagram { margin: 0; overflow: auto; max-height: 85vh; border: 1px solid var(--line); }
figure.diagram figcaption { padding: 4px 8px; color: var(--muted); border-bottom: 1px solid var(--line); }
ul.attrs { margin: 0; padding-left: 16px; }
button.reveal { font: inherit; font-size: 12px; cursor: pointer; }
"#;

/// The page's one script (sorting, reveal buttons), in its own file so that `pcapxray serve` can allow
/// exactly this script, by its hash, when it shows a report.html (host/src/serve/pages.rs).
const SCRIPT: &str = include_str!("report.js");

/// A sortable table: `columns` are (header, numeric).
fn table_start(out: &mut impl Out, id: &str, caption: &str, columns: &[(&str, bool)]) {
    let _ = write!(
        out,
        "<div class=\"table-wrap\"><table class=\"sortable\" id=\"{id}\"><caption class=\"note\">{}</caption><thead><tr>",
        e(caption)
    );
    for (name, numeric) in columns {
        let _ = write!(
            out,
            "<th scope=\"col\"{}><button type=\"button\">{}</button></th>",
            if *numeric {
                " class=\"num\" data-type=\"number\""
            } else {
                ""
            },
            e(name)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
}

fn table_end(out: &mut impl Out) {
    out.push_str("</tbody></table></div>\n");
}

fn num_cell(out: &mut impl Out, v: impl std::fmt::Display) {
    let _ = write!(out, "<td class=\"num\" data-sort=\"{v}\">{v}</td>");
}

fn text_cell(out: &mut impl Out, v: &str) {
    let _ = write!(out, "<td>{}</td>", e(v));
}

impl Page<'_> {
    /// The page, written twice: once to count its bytes, then into a buffer of exactly that size.
    /// A string grown by doubling would hold up to twice the page plus the copy it grew from, and a
    /// plugin's linear memory keeps its peak; the second pass costs far less than the diagrams, which
    /// are drawn once.
    pub fn render(&self) -> String {
        let mut diagrams = String::new();
        self.diagrams(&mut diagrams);
        let mut count = Count(0);
        self.write(&mut count, &diagrams);
        let mut out = String::with_capacity(count.0);
        self.write(&mut out, &diagrams);
        debug_assert_eq!(out.len(), count.0);
        out
    }

    fn write(&self, out: &mut impl Out, diagrams: &str) {
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n<meta name=\"generator\" content=\"pcapxray html {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            env!("CARGO_PKG_VERSION"),
            e(&self.title)
        );
        let _ = writeln!(
            out,
            "<header><h1>{}</h1><p>{}</p></header>",
            e(&self.title),
            e(&format!(
                "{} · {} packets · {} flows · {} hosts",
                clean(&self.report.capture.file, 300),
                self.report.capture.packets,
                self.report.capture.flows,
                self.hosts_total
            ))
        );
        out.push_str("<nav aria-label=\"Sections\"><a href=\"#summary\">Summary</a><a href=\"#diagram\">Diagram</a><a href=\"#hosts\">Hosts</a><a href=\"#flows\">Flows</a><a href=\"#findings\">Findings</a><a href=\"#files\">Files</a><a href=\"#credentials\">Credentials</a><a href=\"#notes\">Run notes</a><a href=\"#plugins\">Plugins</a></nav>\n<main>\n");
        self.summary(out);
        out.push_str(diagrams);
        self.hosts(out);
        self.flows(out);
        self.findings(out);
        self.files(out);
        self.credentials(out);
        self.notes(out);
        self.plugins(out);
        let _ = write!(
            out,
            "</main>\n<footer class=\"note\" style=\"padding: 8px 24px\">Written by pcapxray's html plugin {}. Sort a table by clicking its column headers.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
    }

    fn summary(&self, out: &mut impl Out) {
        let c = &self.report.capture;
        out.push_str("<section id=\"summary\" aria-labelledby=\"summary-h\"><h2 id=\"summary-h\">Capture</h2>\n");
        if let Some(err) = &c.read_error {
            let _ = write!(
                out,
                "<p class=\"warning\" role=\"alert\"><strong>Incomplete:</strong> reading stopped early: {}. Everything before that point is in this report.</p>",
                e(&clean(err, 500))
            );
        }
        for p in self.report.plugins.iter().filter(|p| p.error.is_some()) {
            let _ = write!(
                out,
                "<p class=\"warning\" role=\"alert\"><strong>Incomplete:</strong> stage {} was stopped: {}</p>",
                e(&p.stage),
                e(&clean(p.error.as_deref().unwrap_or_default(), 500))
            );
        }
        for a in &c.timestamp_anomalies {
            let _ = write!(
                out,
                "<p class=\"warning\" role=\"note\"><strong>Timestamps:</strong> {}</p>",
                e(&clean(&a.message, 500))
            );
        }
        out.push_str("<dl class=\"summary\">");
        let mut row = |k: &str, v: String| {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", e(k), e(&v));
        };
        row("File", clean(&c.file, 500));
        row("Size", format!("{} bytes", c.size));
        row("SHA-256", c.sha256.clone());
        row("Format", format!("{} ({})", c.format, c.format_details));
        row("Link types", c.link_types.join(", "));
        row("Packets", c.packets.to_string());
        row("Bytes", c.bytes.to_string());
        row("First packet", ts(c.first_packet));
        row("Last packet", ts(c.last_packet));
        row(
            "Duration",
            format!(
                "{:.3} s",
                c.last_packet.saturating_sub(c.first_packet) as f64 / 1e9
            ),
        );
        row("Flows", c.flows.to_string());
        row("Hosts", self.hosts_total.to_string());
        out.push_str("</dl>\n");
        self.packet_fates(out);
        let counts = &self.findings.counts;
        if !counts.is_empty() {
            table_start(
                out,
                "findings-by-tag",
                "Findings per tag",
                &[("Tag", false), ("Findings", true)],
            );
            for (tag, n) in counts {
                out.push_str("<tr>");
                let _ = write!(out, "<td><code>{}</code></td>", e(&clean(tag, 80)));
                num_cell(out, n);
                out.push_str("</tr>\n");
            }
            table_end(out);
        }
        out.push_str("</section>\n");
    }

    /// What became of every packet: a table whose counts sum to the packets read.
    fn packet_fates(&self, out: &mut impl Out) {
        let c = &self.report.capture;
        if c.packet_fates.is_empty() {
            return;
        }
        let caption = format!(
            "Packets by fate (they sum to the {} packets read)",
            c.packets
        );
        table_start(
            out,
            "packet-fates",
            &caption,
            &[("Fate", false), ("Key", false), ("Packets", true)],
        );
        for f in &c.packet_fates {
            out.push_str("<tr>");
            text_cell(out, &clean(&f.label, 200));
            let _ = write!(out, "<td><code>{}</code></td>", e(&clean(&f.key, 80)));
            num_cell(out, f.packets);
            out.push_str("</tr>\n");
        }
        table_end(out);
    }

    fn diagrams(&self, out: &mut String) {
        out.push_str("<section id=\"diagram\" aria-labelledby=\"diagram-h\"><h2 id=\"diagram-h\">Diagram</h2>\n");
        let views: Vec<View> = available_views(self.model)
            .into_iter()
            // Cut as the graph output's SVGs are, so that a diagram stays a readable size.
            .map(|(name, bits)| View::fitted(self.model, &name, bits, &ViewOptions::default(), 0).0)
            .collect();
        out.push_str("<p class=\"diagram-controls\"><label for=\"view-select\">View: </label><select id=\"view-select\" aria-controls=\"diagrams\">");
        for v in &views {
            let _ = write!(
                out,
                "<option value=\"{n}\">{n} ({} nodes, {} edges)</option>",
                v.nodes.len(),
                v.edges.len(),
                n = e(&v.name)
            );
        }
        out.push_str("</select></p>\n<div id=\"diagrams\">\n");
        let started = std::time::Instant::now();
        for (i, v) in views.iter().enumerate() {
            let _ = writeln!(
                out,
                "<figure class=\"diagram\" data-view=\"{n}\" id=\"view-{n}\"><figcaption>{}</figcaption>",
                e(&pcapxray_diagram::caption(v)),
                n = e(&v.name)
            );
            let prefix = format!("v{i}-");
            if started.elapsed().as_millis() > u128::from(LAYOUT_BUDGET_MS) {
                out.push_str(&to_svg_unplaced(
                    v,
                    &self.title,
                    &prefix,
                    "Not laid out: the time for drawing diagrams in this run was spent on the views before this one (the graph plugin's DOT files have every view).",
                ));
            } else {
                out.push_str(&to_svg(v, &self.title, &prefix));
            }
            out.push_str("</figure>\n");
        }
        out.push_str("</div>\n</section>\n");
    }

    fn hosts(&self, out: &mut impl Out) {
        let hosts = self.hosts;
        let total = self.hosts_total;
        let _ = writeln!(
            out,
            "<section id=\"hosts\" aria-labelledby=\"hosts-h\"><h2 id=\"hosts-h\">Hosts ({total})</h2>"
        );
        if total > hosts.len() {
            let _ = write!(
                out,
                "<p class=\"note\">The {} hosts with the most traffic of {total} are listed (config max_hosts); report.json has them all.</p>",
                hosts.len()
            );
        }
        table_start(
            out,
            "hosts-table",
            "Hosts: addresses, hardware, names and traffic",
            &[
                ("IP", false),
                ("Network", false),
                ("MAC", false),
                ("Vendor", false),
                ("Names", false),
                ("OS", false),
                ("Other facts", false),
                ("Packets sent", true),
                ("Packets received", true),
                ("Bytes sent", true),
                ("Bytes received", true),
                ("First seen", false),
                ("Last seen", false),
            ],
        );
        // Local as the `devices` analyzer decided, when it ran; else by the address's class.
        let decided = pcapxray_plugin_sdk::results::lan_decided(hosts);
        for h in hosts {
            let ip = std::net::IpAddr::from(h.ip);
            let local = h.shown_local(decided);
            let mut names: Vec<String> = Vec::new();
            let mut vendor: Vec<String> = Vec::new();
            let mut os: Vec<String> = Vec::new();
            let mut other: Vec<String> = Vec::new();
            for n in &h.notes {
                let (list, value) = match n.key.as_str() {
                    names::host::NAME | names::dhcp::HOSTNAME => (&mut names, clean(&n.value, 120)),
                    names::host::VENDOR => (&mut vendor, clean(&n.value, 120)),
                    names::host::OS => (&mut os, clean(&n.value, 120)),
                    _ => (
                        &mut other,
                        format!("{}: {}", clean(&n.key, 64), clean(&n.value, 120)),
                    ),
                };
                if list.len() < 12 && !list.contains(&value) {
                    list.push(value);
                }
            }
            out.push_str("<tr>");
            let _ = write!(
                out,
                "<th scope=\"row\" class=\"mono\" data-sort=\"{}\">{}</th>",
                sort_key(ip),
                e(&ip.to_string())
            );
            text_cell(out, if local { "local" } else { "internet" });
            let macs: Vec<String> = h.macs.iter().map(|&m| format_mac(m)).collect();
            let _ = write!(out, "<td class=\"mono\">{}</td>", e(&macs.join(" ")));
            text_cell(out, &vendor.join("; "));
            text_cell(out, &names.join(", "));
            text_cell(out, &os.join("; "));
            text_cell(out, &other.join("; "));
            num_cell(out, h.packets_sent);
            num_cell(out, h.packets_received);
            num_cell(out, h.bytes_sent);
            num_cell(out, h.bytes_received);
            text_cell(out, &ts(h.first_seen));
            text_cell(out, &ts(h.last_seen));
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    fn flows(&self, out: &mut impl Out) {
        let _ = writeln!(
            out,
            "<section id=\"flows\" aria-labelledby=\"flows-h\"><h2 id=\"flows-h\">Flows ({})</h2>",
            self.flows_seen
        );
        if self.flows_seen > self.flows.len() as u64 {
            let _ = writeln!(
                out,
                "<p class=\"note\" role=\"note\">Only the first {} of {} flows to end are listed (config <code>max_flows</code>); report.json has them all.</p>",
                self.flows.len(),
                self.flows_seen
            );
        }
        table_start(
            out,
            "flows-table",
            "Flows in the order they ended",
            &[
                ("Flow", true),
                ("Protocol", false),
                ("Client", false),
                ("Server", false),
                ("Start", false),
                ("Duration (s)", true),
                ("Packets", true),
                ("Bytes", true),
                ("Tags", false),
            ],
        );
        for f in self.flows {
            out.push_str("<tr>");
            num_cell(out, f.id);
            text_cell(out, f.protocol);
            let _ = write!(out, "<td class=\"mono\">{}</td>", e(&f.client));
            let _ = write!(out, "<td class=\"mono\">{}</td>", e(&f.server));
            text_cell(out, &ts(f.start));
            let _ = write!(
                out,
                "<td class=\"num\" data-sort=\"{d}\">{d:.3}</td>",
                d = f.duration
            );
            num_cell(out, f.packets);
            num_cell(out, f.bytes);
            text_cell(out, &f.tags.join(", "));
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    fn findings(&self, out: &mut impl Out) {
        let listed: Vec<&FindingRow> = self.findings.listed().collect();
        let total: u64 = self.findings.counts.values().sum();
        let _ = writeln!(
            out,
            "<section id=\"findings\" aria-labelledby=\"findings-h\"><h2 id=\"findings-h\">Findings ({total})</h2>"
        );
        let dropped: u64 = self.findings.dropped.values().sum();
        if dropped > 0 {
            let _ = writeln!(
                out,
                "<p class=\"note\" role=\"note\">{} findings are listed, most severe first; {dropped} more are only counted (see the summary; report.json has them all).</p>",
                listed.len()
            );
        }
        table_start(
            out,
            "findings-table",
            "Findings, most severe first",
            &[
                ("Tag", false),
                ("Severity", true),
                ("Confidence", true),
                ("Subject", false),
                ("Count", true),
                ("Summary", false),
                ("Details", false),
                ("Stage", false),
            ],
        );
        for f in listed {
            out.push_str("<tr>");
            let _ = write!(out, "<td><code>{}</code></td>", e(&f.tag));
            let sev = f.severity.as_str();
            let _ = write!(
                out,
                "<td data-sort=\"{}\"><span class=\"sev-{sev}\">{sev}</span></td>",
                crate::rank(f.severity)
            );
            num_cell(out, f.confidence);
            let _ = write!(out, "<td class=\"mono\">{}</td>", e(&f.subject));
            num_cell(out, f.count);
            text_cell(out, &f.summary);
            out.push_str("<td>");
            if !f.attributes.is_empty() {
                out.push_str("<ul class=\"attrs\">");
                for (k, v) in &f.attributes {
                    let _ = write!(out, "<li><code>{}</code>: {}</li>", e(k), e(v));
                }
                out.push_str("</ul>");
            }
            if f.count > 1 {
                let ids: Vec<String> = f.flows.iter().map(u64::to_string).collect();
                let more = if f.count as usize > f.flows.len() {
                    format!(" … ({} in all; report.json lists every one)", f.count)
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<p class=\"flows\">flows {}{}</p>",
                    e(&ids.join(", ")),
                    e(&more)
                );
            }
            out.push_str("</td>");
            text_cell(out, &f.stage);
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    /// The heading of the files or credentials section, and the note when rows were left out.
    fn table_heading(&self, out: &mut impl Out, table: Table, title: &str) -> Vec<&Row> {
        let (rows, seen) = self.tables.of(table);
        let id = table.name();
        let _ = writeln!(
            out,
            "<section id=\"{id}\" aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{title} ({seen})</h2>"
        );
        if seen > rows.len() as u64 {
            let _ = writeln!(
                out,
                "<p class=\"note\" role=\"note\">Only the first {} of {seen} are listed (config <code>max_flows</code>); report.json, the csv and sqlite reports list them all.</p>",
                rows.len()
            );
        }
        rows
    }

    /// Where a row was seen: flow, time, client, server.
    fn row_start(out: &mut impl Out, r: &Row) {
        out.push_str("<tr>");
        num_cell(out, r.flow);
        text_cell(out, &r.time);
        let _ = write!(out, "<td class=\"mono\">{}</td>", e(&clean(&r.client, 64)));
        let _ = write!(out, "<td class=\"mono\">{}</td>", e(&clean(&r.server, 64)));
    }

    fn cell(out: &mut impl Out, r: &Row, key: &str) {
        text_cell(out, &clean(r.get(key).unwrap_or(""), 300));
    }

    fn files(&self, out: &mut impl Out) {
        let rows = self.table_heading(out, Table::Files, "Files");
        table_start(
            out,
            "files-table",
            "Files carried over the flows, in the order their flows ended",
            &[
                ("Flow", true),
                ("Time", false),
                ("Client", false),
                ("Server", false),
                ("Protocol", false),
                ("Name", false),
                ("Type", false),
                ("Size", true),
                ("Missing", true),
                ("SHA-256", false),
                ("Kept as", false),
                ("Details", false),
            ],
        );
        for r in rows {
            Self::row_start(out, r);
            Self::cell(out, r, names::files::PROTOCOL);
            Self::cell(out, r, names::files::NAME);
            let kind = r
                .get(names::files::DETECTED_TYPE)
                .or(r.get(names::files::DECLARED_TYPE))
                .unwrap_or("");
            text_cell(out, &clean(kind, 120));
            for key in [names::files::SIZE, names::files::MISSING] {
                num_cell(
                    out,
                    r.get(key).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
                );
            }
            let _ = write!(
                out,
                "<td class=\"mono\">{}</td>",
                e(&clean(r.get(names::files::SHA256).unwrap_or(""), 64))
            );
            let kept = r
                .get(names::files::EXTRACTED)
                .or(r.get(names::files::NOT_EXTRACTED))
                .unwrap_or("");
            text_cell(out, &clean(kept, 300));
            self.details(out, r);
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    /// The other attributes and the summary of a row.
    fn details(&self, out: &mut impl Out, r: &Row) {
        out.push_str("<td><ul class=\"attrs\">");
        let shown = [
            names::files::PROTOCOL,
            names::files::NAME,
            names::files::SIZE,
            names::files::MISSING,
            names::files::SHA256,
            names::files::EXTRACTED,
        ];
        for a in r
            .attributes
            .iter()
            .filter(|a| !shown.contains(&a.key.as_str()))
        {
            if a.key == tables::SECRET {
                continue;
            }
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                e(&clean(&a.key, 64)),
                e(&clean(&a.value, 300))
            );
        }
        let _ = write!(out, "</ul>{}</td>", e(&clean(&r.summary, 600)));
    }

    fn credentials(&self, out: &mut impl Out) {
        let rows = self.table_heading(out, Table::Credentials, "Credentials");
        let _ = writeln!(
            out,
            "<p class=\"note\">Secrets are masked; click one to show it. The page keeps each secret base64-encoded until then (not on screen, not found by a page search), which guards against onlookers, not against whoever has the file: report.json and report.sqlite hold them whole.</p>"
        );
        table_start(
            out,
            "credentials-table",
            "Credentials sent over the flows",
            &[
                ("Flow", true),
                ("Time", false),
                ("Client", false),
                ("Server", false),
                ("Protocol", false),
                ("User", false),
                ("Domain", false),
                ("Workstation", false),
                ("Secret", false),
                ("Format", false),
                ("Service", false),
                ("Outcome", false),
                ("Tag", false),
            ],
        );
        for r in rows {
            Self::row_start(out, r);
            for key in ["protocol", "user", "domain", "workstation"] {
                Self::cell(out, r, key);
            }
            match r.get(tables::SECRET).filter(|s| !s.is_empty()) {
                Some(secret) => {
                    let _ = write!(
                        out,
                        "<td><button type=\"button\" class=\"reveal\" title=\"Show this secret\" data-secret=\"{}\">{} show</button></td>",
                        e(&tables::conceal(secret)),
                        tables::MASK
                    );
                }
                None => text_cell(out, ""),
            }
            for key in ["secret_format", "service", "outcome"] {
                Self::cell(out, r, key);
            }
            let _ = write!(out, "<td><code>{}</code></td>", e(&clean(&r.tag, 80)));
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    /// Statements about the run, apart from the findings: limits reached, capabilities missing.
    fn notes(&self, out: &mut impl Out) {
        let notes = &self.report.notes;
        let _ = writeln!(
            out,
            "<section id=\"notes\" aria-labelledby=\"notes-h\"><h2 id=\"notes-h\">Run notes ({})</h2>",
            notes.len()
        );
        if notes.is_empty() {
            out.push_str("<p class=\"note\">No stage reached a limit or missed something it needed.</p></section>\n");
            return;
        }
        table_start(
            out,
            "notes-table",
            "Statements about the run, not the traffic",
            &[
                ("Level", false),
                ("Stage", false),
                ("Note", false),
                ("Message", false),
                ("Details", false),
            ],
        );
        for n in notes {
            out.push_str("<tr>");
            text_cell(out, n.note.level.as_str());
            text_cell(out, &clean(&n.stage, 64));
            let _ = write!(out, "<td><code>{}</code></td>", e(&clean(&n.note.key, 80)));
            text_cell(out, &clean(&n.note.message, 600));
            let details: Vec<String> = n
                .note
                .attributes
                .iter()
                .take(20)
                .map(|a| format!("{}={}", clean(&a.key, 64), clean(&a.value, 200)))
                .collect();
            text_cell(out, &details.join("; "));
            out.push_str("</tr>\n");
        }
        table_end(out);
        out.push_str("</section>\n");
    }

    fn plugins(&self, out: &mut impl Out) {
        out.push_str("<section id=\"plugins\" aria-labelledby=\"plugins-h\"><h2 id=\"plugins-h\">Plugins</h2>\n");
        table_start(
            out,
            "plugins-table",
            "The stages of this run, in order",
            &[
                ("Stage", false),
                ("Plugin", false),
                ("Version", false),
                ("Kind", false),
                ("Digest", false),
                ("Status", false),
            ],
        );
        for p in &self.report.plugins {
            out.push_str("<tr>");
            text_cell(out, &p.stage);
            text_cell(out, &p.name);
            text_cell(out, &p.version);
            text_cell(out, p.kind.as_str());
            let _ = write!(
                out,
                "<td class=\"mono\" title=\"sha256:{d}\">sha256:{}</td>",
                e(&p.digest.chars().take(16).collect::<String>()),
                d = e(&p.digest)
            );
            match &p.error {
                None => text_cell(out, "ran to the end"),
                Some(err) => text_cell(out, &format!("stopped: {}", clean(err, 300))),
            }
            out.push_str("</tr>\n");
        }
        table_end(out);
        if !self.report.queries.is_empty() {
            out.push_str("<h3>Queries sent on the plugins' behalf</h3>\n");
            table_start(
                out,
                "queries-table",
                "Every outbound query made through a granted capability",
                &[
                    ("Stage", false),
                    ("Capability", false),
                    ("Query", false),
                    ("Server", false),
                    ("Answer", false),
                    ("Sent", false),
                ],
            );
            for q in &self.report.queries {
                out.push_str("<tr>");
                text_cell(out, &q.stage);
                text_cell(out, &q.capability);
                text_cell(out, &clean(&q.query, 300));
                text_cell(out, &clean(&q.server, 300));
                text_cell(out, &clean(&q.answer, 300));
                text_cell(out, &ts(q.sent));
                out.push_str("</tr>\n");
            }
            table_end(out);
        }
        out.push_str("</section>\n");
    }
}

/// Addresses sort numerically, IPv4 before IPv6: zero-padded decimal.
fn sort_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("4{:010}", u32::from(v4)),
        std::net::IpAddr::V6(v6) => format!("6{:039}", u128::from(v6)),
    }
}
