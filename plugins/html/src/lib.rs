//! The `html` output: one self-contained `report.html` an investigator can open anywhere, mail, or
//! attach to a case file — the capture summary, the diagrams (inline SVG with a view selector), and
//! sortable tables of hosts, flows, findings, files, credentials and the plugins that ran. Secrets
//! in the credentials table are masked until the reader clicks one (see `page`). Nothing is loaded from outside
//! (no CDN, no fonts, no images; a Content-Security-Policy forbids it), and everything that came from
//! the capture is escaped, because host names, SNI values and user agents are attacker-controlled.

mod page;

use pcapxray_diagram::NetGraph;
use pcapxray_diagram::text::clean;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt};
use pcapxray_plugin_sdk::tables::{self, Row, Table};
use pcapxray_plugin_sdk::time::iso8601;
use pcapxray_plugin_sdk::{
    Artifact, ConfigError, Finding, FindingRecord, Flow, HostInfo, Output, PluginError, Report,
    Severity, Subject, log,
};
use serde::Deserialize;
use std::collections::{BTreeMap, BinaryHeap};

/// Default of `max_hosts`: hosts listed in the hosts table (those with the most bytes).
pub const MAX_HOSTS: usize = 5000;

/// Attributes listed per finding, and the length of each value.
const MAX_ATTRIBUTES: usize = 8;
const ATTRIBUTE_CHARS: usize = 200;

/// The `config` table of an `html` stage.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Flows listed in the flows table (the first ones to end); also the most findings, files and
    /// credentials listed.
    pub max_flows: usize,
    /// The page title (default: `pcapxray report: <capture file>`).
    pub title: Option<String>,
    /// Hosts listed in the hosts table, most traffic first; the page says how many there are in all.
    pub max_hosts: usize,
    /// Hosts the diagram keeps one by one; later ones are folded into their address blocks.
    pub diagram_max_hosts: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_flows: 5000,
            title: None,
            max_hosts: MAX_HOSTS,
            diagram_max_hosts: pcapxray_diagram::DEFAULT_MAX_HOSTS,
        }
    }
}

/// One row of the flows table.
#[derive(Clone, Debug)]
pub struct FlowRow {
    id: u64,
    protocol: &'static str,
    client: String,
    server: String,
    start: u64,
    duration: f64,
    packets: u64,
    bytes: u64,
    tags: Vec<String>,
}

/// One row of the findings table.
#[derive(Clone, Debug)]
pub struct FindingRow {
    stage: String,
    tag: String,
    severity: Severity,
    confidence: u8,
    subject: String,
    summary: String,
    attributes: Vec<(String, String)>,
    /// How many findings the row stands for (a roll-up), and its first flows.
    count: u64,
    flows: Vec<u64>,
}

/// Flow ids shown in a findings row; report.json lists them all.
const FLOWS_PER_ROW: usize = 20;

/// The findings table, bounded: when full, a more severe finding replaces the latest of the least
/// severe ones, so what matters most is always listed.
#[derive(Debug, Default)]
pub struct Findings {
    /// Per severity (info, low, medium, high).
    rows: [Vec<FindingRow>; 4],
    limit: usize,
    /// Findings not listed, per tag.
    dropped: BTreeMap<String, u64>,
    /// Every finding, per tag (listed or not).
    counts: BTreeMap<String, u64>,
}

fn rank(s: Severity) -> usize {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
    }
}

impl Findings {
    fn new(limit: usize) -> Findings {
        Findings {
            limit,
            ..Findings::default()
        }
    }

    fn len(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    fn add(&mut self, stage: &str, f: &Finding) {
        *self.counts.entry(f.tag.clone()).or_default() += 1;
        let r = rank(f.severity);
        if self.len() >= self.limit {
            match (0..r).find(|&lower| !self.rows[lower].is_empty()) {
                Some(lower) => {
                    if let Some(old) = self.rows[lower].pop() {
                        *self.dropped.entry(old.tag).or_default() += 1;
                    }
                }
                None => {
                    *self.dropped.entry(f.tag.clone()).or_default() += 1;
                    return;
                }
            }
        }
        let subject = match f.subject {
            Subject::Flow(id) => format!("flow {id}"),
            Subject::Host(ip) => format!("host {ip}"),
            Subject::Capture => "capture".to_string(),
        };
        self.rows[r].push(FindingRow {
            stage: clean(stage, 64),
            tag: clean(&f.tag, 80),
            severity: f.severity,
            confidence: f.confidence,
            subject,
            summary: clean(&f.summary, 600),
            attributes: f
                .attributes
                .iter()
                .take(MAX_ATTRIBUTES)
                .map(|a| {
                    // A secret is never written into the findings table; the credentials table
                    // reveals it on a click.
                    let value = if a.key == tables::SECRET {
                        tables::mask(&a.value).to_string()
                    } else {
                        clean(&a.value, ATTRIBUTE_CHARS)
                    };
                    (clean(&a.key, 64), value)
                })
                .collect(),
            count: f.occurrences(),
            flows: f.flows.iter().take(FLOWS_PER_ROW).copied().collect(),
        });
    }

    /// Listed findings, most severe first, then in the order they came.
    fn listed(&self) -> impl Iterator<Item = &FindingRow> {
        self.rows.iter().rev().flatten()
    }
}

/// A host ranked for the hosts table: more bytes first, then the lower address.
struct Ranked(HostInfo);

impl Ranked {
    fn key(&self) -> (u64, std::cmp::Reverse<std::net::IpAddr>) {
        let h = &self.0;
        (
            h.bytes_sent + h.bytes_received,
            std::cmp::Reverse(std::net::IpAddr::from(h.ip)),
        )
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The hosts table's rows as hosts stream in: the `max_hosts` with the most traffic are kept (a
/// min-heap, the least of them on top), the rest only counted.
struct TopHosts {
    heap: BinaryHeap<std::cmp::Reverse<Ranked>>,
    total: usize,
    max: usize,
}

impl Default for TopHosts {
    fn default() -> TopHosts {
        TopHosts::new(MAX_HOSTS)
    }
}

impl TopHosts {
    fn new(max: usize) -> TopHosts {
        TopHosts {
            heap: BinaryHeap::new(),
            total: 0,
            max,
        }
    }

    fn add(&mut self, host: HostInfo) {
        self.total += 1;
        let host = Ranked(host);
        // Full, and not above the least kept: it would be pushed only to be popped again.
        if self.heap.len() >= self.max && self.heap.peek().is_none_or(|least| host <= least.0) {
            return;
        }
        self.heap.push(std::cmp::Reverse(host));
        if self.heap.len() > self.max {
            self.heap.pop();
        }
    }

    /// The kept hosts, most traffic first.
    fn sorted(&mut self) -> Vec<HostInfo> {
        let mut kept: Vec<Ranked> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|r| r.0)
            .collect();
        kept.sort_by(|a, b| b.cmp(a));
        kept.into_iter().map(|r| r.0).collect()
    }
}

/// The plugin.
pub struct Html {
    config: Config,
    model: NetGraph,
    flows: Vec<FlowRow>,
    /// Row of each listed flow, to add the tags of findings raised at the end.
    flow_rows: HashMap<u64, usize>,
    flows_seen: u64,
    findings: Findings,
    hosts: TopHosts,
    /// The files and credentials tables (at most `max_flows` rows each) and how many rows each had.
    tables: TableRows,
}

/// The rows of the files and credentials tables, bounded.
#[derive(Debug, Default)]
pub struct TableRows {
    rows: Vec<Row>,
    /// Rows seen per table (files, credentials), listed or not.
    seen: [u64; 2],
    limit: usize,
}

impl TableRows {
    fn add(&mut self, rows: Vec<Row>) {
        for row in rows {
            let i = Table::ALL.iter().position(|t| *t == row.table).unwrap_or(0);
            self.seen[i] += 1;
            if self.seen[i] as usize <= self.limit {
                self.rows.push(row);
            }
        }
    }

    /// The listed rows of `table`, and how many it had in all.
    pub fn of(&self, table: Table) -> (Vec<&Row>, u64) {
        let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
        let rows = self.rows.iter().filter(|r| r.table == table).collect();
        (rows, self.seen[i])
    }
}

impl Html {
    /// Checks the configuration.
    pub fn checked(config: Config) -> Result<Html, PluginError> {
        for (key, value) in [
            ("max_flows", config.max_flows),
            ("max_hosts", config.max_hosts),
            ("diagram_max_hosts", config.diagram_max_hosts),
        ] {
            if value > 1_000_000 {
                return Err(PluginError::Config(vec![ConfigError {
                    key: key.into(),
                    message: "must be at most 1000000 (a browser cannot open a bigger page)".into(),
                }]));
            }
        }
        Ok(Html {
            findings: Findings::new(config.max_flows.max(100)),
            model: NetGraph::with_max_hosts(config.diagram_max_hosts),
            flows: Vec::new(),
            flow_rows: HashMap::new(),
            flows_seen: 0,
            hosts: TopHosts::new(config.max_hosts.max(1)),
            tables: TableRows {
                limit: config.max_flows.max(100),
                ..TableRows::default()
            },
            config,
        })
    }

    /// Takes a batch of flows: the model for the diagrams, the first rows of the flows table, and
    /// their findings.
    pub fn add_flows(&mut self, flows: &[Flow]) {
        self.model.consume(flows);
        self.tables
            .add(flows.iter().flat_map(tables::rows_of_flow).collect());
        // A flow's own findings are its tags here; the findings table lists their roll-ups.
        for flow in flows {
            self.flows_seen += 1;
            if self.flows.len() >= self.config.max_flows {
                continue;
            }
            let mut tags: Vec<String> = Vec::new();
            for r in &flow.findings {
                let tag = clean(&r.finding.tag, 80);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            let endpoint = |e: &pcapxray_plugin_sdk::Endpoint| {
                let ip = std::net::IpAddr::from(e.ip);
                match (ip, e.port) {
                    (_, 0) => ip.to_string(),
                    (std::net::IpAddr::V6(_), port) => format!("[{ip}]:{port}"),
                    (_, port) => format!("{ip}:{port}"),
                }
            };
            self.flow_rows.insert(flow.id, self.flows.len());
            self.flows.push(FlowRow {
                id: flow.id,
                protocol: flow.protocol.as_str(),
                client: endpoint(&flow.client),
                server: endpoint(&flow.server),
                start: flow.first_seen(),
                duration: flow.last_seen().saturating_sub(flow.first_seen()) as f64 / 1e9,
                packets: flow.packets(),
                bytes: flow.bytes(),
                tags,
            });
        }
    }

    /// Takes the findings list: findings about hosts and the capture, late flow findings, and the
    /// roll-ups of flow findings (whose flows already carry them as tags).
    pub fn add_findings(&mut self, records: &[FindingRecord]) {
        let late: Vec<FindingRecord> = records.iter().filter(|r| !r.rollup).cloned().collect();
        self.tables.add(tables::rows_of_records(&late));
        self.model.note_findings(&late);
        for r in records {
            self.findings.add(&r.stage, &r.finding);
            if r.rollup {
                continue;
            }
            let f = &r.finding;
            let subject = match f.subject {
                Subject::Flow(id) => Some(id),
                _ => None,
            };
            for id in subject.into_iter().chain(f.flows.iter().copied()) {
                if let Some(&row) = self.flow_rows.get(&id) {
                    let tag = clean(&f.tag, 80);
                    let tags = &mut self.flows[row].tags;
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
        }
    }

    /// Takes a batch of hosts: the model, and the rows of the hosts table.
    pub fn add_hosts(&mut self, hosts: Vec<HostInfo>) {
        self.model.add_hosts(&hosts);
        for h in hosts {
            self.hosts.add(h);
        }
    }

    /// The whole page, and notes for the log. Findings and hosts still in the report (when they were
    /// not streamed) are taken first.
    pub fn render(&mut self, mut report: Report) -> (String, Vec<String>) {
        let findings = std::mem::take(&mut report.findings);
        self.add_findings(&findings);
        let hosts = std::mem::take(&mut report.hosts);
        self.add_hosts(hosts);
        self.model.finish(&report);
        let report = &report;
        let mut notes = Vec::new();
        if self.flows_seen > self.flows.len() as u64 {
            notes.push(format!(
                "report.html lists the first {} of {} flows (config max_flows).",
                self.flows.len(),
                self.flows_seen
            ));
        }
        let dropped: u64 = self.findings.dropped.values().sum();
        if dropped > 0 {
            notes.push(format!(
                "report.html lists {} findings, most severe first; {dropped} more are counted in the summary only.",
                self.findings.len()
            ));
        }
        if self.hosts.total > self.hosts.max {
            notes.push(format!(
                "report.html lists the {} hosts with the most traffic of {} (config max_hosts).",
                self.hosts.max, self.hosts.total
            ));
        }
        if self.model.folded_hosts() > 0 {
            notes.push(format!(
                "The diagrams of report.html draw {} hosts one by one and fold {} more into their address blocks (config diagram_max_hosts).",
                self.model.max_hosts(),
                self.model.folded_hosts()
            ));
        }
        if self.model.folded_flows() > 0 {
            notes.push(format!(
                "The diagrams of report.html keep {} conversations one by one and count {} flows of later ones between the address blocks of their ends.",
                pcapxray_diagram::MAX_CONVERSATIONS,
                self.model.folded_flows()
            ));
        }
        let hosts_total = self.hosts.total;
        let hosts = self.hosts.sorted();
        let page = page::Page {
            title: self.title(report),
            report,
            hosts: &hosts,
            hosts_total,
            model: &self.model,
            flows: &self.flows,
            flows_seen: self.flows_seen,
            findings: &self.findings,
            tables: &self.tables,
        };
        (page.render(), notes)
    }

    fn title(&self, report: &Report) -> String {
        match &self.config.title {
            Some(t) => clean(t, 200),
            None => {
                let file = &report.capture.file;
                let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
                format!("pcapxray report: {}", clean(name, 160))
            }
        }
    }
}

impl Output for Html {
    const NAME: &'static str = "html";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes report.html: one self-contained page with the capture summary, the diagrams, and sortable hosts, flows, findings, files and credentials tables.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Html, PluginError> {
        Html::checked(config)
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.add_flows(&flows);
        Ok(Vec::new())
    }

    /// Findings not on a flow are folded into the tables and the model as they come.
    const STREAMS_FINDINGS: bool = true;

    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        self.add_findings(&findings);
        Ok(Vec::new())
    }

    /// Hosts are folded in as they come too: only the rows of the hosts table are kept.
    const STREAMS_HOSTS: bool = true;

    fn consume_hosts(&mut self, hosts: Vec<HostInfo>) -> Result<Vec<Artifact>, PluginError> {
        self.add_hosts(hosts);
        Ok(Vec::new())
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        let (html, notes) = self.render(report);
        for note in notes {
            log::info(&note);
        }
        Ok(vec![Artifact {
            name: "report.html".into(),
            media_type: "text/html".into(),
            bytes: html.into_bytes(),
        }])
    }
}

/// `2017-12-10T19:25:47.946213Z`, or empty for 0.
pub(crate) fn ts(t: u64) -> String {
    if t == 0 { String::new() } else { iso8601(t) }
}

pcapxray_plugin_sdk::export_output!(Html);

#[cfg(test)]
mod tests;
