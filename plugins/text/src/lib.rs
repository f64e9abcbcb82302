//! # pcapxray `text` output
//!
//! The three reports an investigator who used PcapXray expects, as plain text to read, grep and attach
//! to a case file: `devices.txt` (what each machine is), `communication.txt` (who talked to whom, on
//! which ports, and what was found about it) and `payloads.txt` (HTTP transactions, TLS server names,
//! DNS, and short printable excerpts of the rest). Unlike the ancestor's payload dump, every report is
//! bounded: flows are folded into per-host-pair aggregates or streamed into `payloads.txt` as they
//! arrive, and `payloads.txt` stops at a configured size. `files.txt` and `credentials.txt` list the
//! SDK's files and credentials tables, streamed and bounded (`listing`).
//!
//! The report logic lives in plain modules (`devices`, `communication`, `payloads`, `clean`) that make
//! no host calls and are tested natively; this file holds the configuration and the SDK glue.

mod clean;
mod communication;
mod devices;
mod kept;
mod listing;
mod payloads;

use communication::Communication;
use kept::Kept;
use listing::Listing;
use payloads::Payloads;
use pcapxray_plugin_sdk::{
    Artifact, ConfigError, FindingRecord, Flow, HostInfo, Output, PluginError, Report,
    export_output, log,
    tables::{self, Table},
};
use serde::Deserialize;

/// The files this plugin can write.
const REPORTS: [&str; 5] = [
    "devices",
    "communication",
    "payloads",
    "files",
    "credentials",
];

/// Default of `max_hosts`: far above a LAN's machines, a bounded slice of a flood.
const DEFAULT_MAX_HOSTS: usize = 4096;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Which reports to write: any of `devices`, `communication`, `payloads`, `files`,
    /// `credentials`.
    pub reports: Vec<String>,
    /// Payload bytes shown per direction of a flow without web or DNS findings (0: no excerpts).
    pub max_excerpt_bytes: usize,
    /// Size bound of `payloads.txt`, in bytes.
    pub max_payload_report_bytes: u64,
    /// Peers listed per host in `communication.txt`, largest first; the rest are summed in one line.
    pub max_peers: usize,
    /// Hosts with a MAC address listed in `devices.txt` (local ones first); the rest are counted.
    pub max_hosts: usize,
    /// Host pairs listed in `communication.txt` (the first seen); flows of the rest are counted.
    pub max_pairs: usize,
    /// Files (and credentials) listed in `files.txt` (`credentials.txt`); the rest are counted.
    pub max_table_rows: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            reports: REPORTS.iter().map(|r| r.to_string()).collect(),
            max_excerpt_bytes: 256,
            max_payload_report_bytes: 2 * 1024 * 1024,
            max_peers: 1000,
            max_hosts: DEFAULT_MAX_HOSTS,
            max_pairs: communication::DEFAULT_MAX_PAIRS,
            max_table_rows: 10_000,
        }
    }
}

impl Config {
    fn check(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut error = |key: &str, message: String| {
            errors.push(ConfigError {
                key: key.into(),
                message,
            })
        };
        for (i, r) in self.reports.iter().enumerate() {
            if !REPORTS.contains(&r.as_str()) {
                error(
                    &format!("reports.{i}"),
                    format!(
                        "unknown report `{r}`; the reports are devices, communication, payloads, \
                         files and credentials"
                    ),
                );
            }
        }
        if self.max_excerpt_bytes > 65_536 {
            error(
                "max_excerpt_bytes",
                format!(
                    "must be at most 65536 (the pipeline keeps at most `payload_bytes` anyway), not {}",
                    self.max_excerpt_bytes
                ),
            );
        }
        if self.max_payload_report_bytes < 4096 {
            error(
                "max_payload_report_bytes",
                format!(
                    "must be at least 4096, not {}",
                    self.max_payload_report_bytes
                ),
            );
        }
        if self.max_peers == 0 {
            error("max_peers", "must be at least 1".into());
        }
        if self.max_hosts == 0 {
            error("max_hosts", "must be at least 1".into());
        }
        if self.max_pairs == 0 {
            error("max_pairs", "must be at least 1".into());
        }
        if self.max_table_rows == 0 {
            error("max_table_rows", "must be at least 1".into());
        }
        errors
    }

    fn wants(&self, report: &str) -> bool {
        self.reports.iter().any(|r| r == report)
    }
}

/// The output.
pub struct Text {
    config: Config,
    communication: Communication,
    analysis: devices::Analysis,
    payloads: Payloads,
    /// The hosts kept as they stream in (made at the first batch of hosts).
    kept: Option<Kept>,
    /// `files.txt` and `credentials.txt`, the ones asked for.
    listings: Vec<Listing>,
}

impl Text {
    /// Parts of `files.txt` / `credentials.txt` for `rows`.
    fn list(&mut self, rows: &[tables::Row], out: &mut Vec<Artifact>) {
        for listing in &mut self.listings {
            let text = listing.part(rows);
            if !text.is_empty() {
                out.push(text_file(&listing.file(), text));
            }
        }
    }

    fn note(&mut self, findings: &[FindingRecord]) {
        for r in findings {
            if self.config.wants("communication") {
                self.communication.note(r);
            }
            if self.config.wants("devices") {
                self.analysis.note(r);
            }
        }
    }
}

fn text_file(name: &str, text: String) -> Artifact {
    Artifact {
        name: name.into(),
        media_type: "text/plain; charset=utf-8".into(),
        bytes: text.into_bytes(),
    }
}

impl Output for Text {
    const NAME: &'static str = "text";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes devices.txt, communication.txt, payloads.txt, files.txt and credentials.txt: devices, who talked to whom, HTTP, TLS, DNS and payload excerpts, files and credentials, as bounded plain text.";
    const NEEDS_PAYLOAD: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<Text, PluginError> {
        let errors = config.check();
        if !errors.is_empty() {
            return Err(PluginError::Config(errors));
        }
        let listings = Table::ALL
            .into_iter()
            .filter(|t| config.wants(t.name()))
            .map(|t| Listing::new(t, config.max_table_rows))
            .collect();
        Ok(Text {
            listings,
            payloads: Payloads::new(config.max_excerpt_bytes, config.max_payload_report_bytes),
            communication: Communication::new(config.max_pairs),
            analysis: devices::Analysis::default(),
            kept: None,
            config,
        })
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        if self.config.wants("communication") {
            for flow in &flows {
                self.communication.add(flow);
            }
        }
        let mut out = Vec::new();
        if self.config.wants("payloads") {
            let text = self.payloads.batch(&flows);
            if !text.is_empty() {
                out.push(text_file("payloads.txt", text));
            }
        }
        let rows: Vec<tables::Row> = flows.iter().flat_map(tables::rows_of_flow).collect();
        self.list(&rows, &mut out);
        Ok(out)
    }

    /// Findings that are not on a flow (about hosts and the capture, and late flow findings) are
    /// folded in as they come, instead of being held by the SDK until `finish`.
    const STREAMS_FINDINGS: bool = true;

    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        self.note(&findings);
        let mut out = Vec::new();
        self.list(&tables::rows_of_records(&findings), &mut out);
        Ok(out)
    }

    /// Hosts are kept up to the bounds as they come (see `kept`), not held whole by the SDK.
    const STREAMS_HOSTS: bool = true;

    fn consume_hosts(&mut self, hosts: Vec<HostInfo>) -> Result<Vec<Artifact>, PluginError> {
        let kept = self.kept_hosts();
        for h in &hosts {
            kept.offer(h);
        }
        Ok(Vec::new())
    }

    fn finish(&mut self, mut report: Report) -> Result<Vec<Artifact>, PluginError> {
        // Empty when the findings were streamed; taken in all the same if an SDK hands them here.
        self.note(&report.findings);
        let mut listed = Vec::new();
        self.list(&tables::rows_of_records(&report.findings), &mut listed);
        // Empty when the hosts were streamed; taken in all the same if an SDK hands them here.
        for h in std::mem::take(&mut report.hosts) {
            self.kept_hosts().offer(&h);
        }
        let mut kept = self
            .kept
            .take()
            .unwrap_or_else(|| Kept::new(1, Default::default()));
        let mut out = Vec::new();
        if self.config.wants("devices") {
            let counts = devices::Counts {
                without_mac: kept.without_mac,
                left_out: kept.left_out(),
            };
            report.hosts = kept.for_devices();
            if counts.left_out > 0 {
                log::warn(&format!(
                    "devices.txt lists {} of {} hosts with a MAC address and counts the rest (config max_hosts raises the bound).",
                    report.hosts.len(),
                    kept.with_mac
                ));
            }
            out.push(text_file(
                "devices.txt",
                devices::render(&report, &self.analysis, counts),
            ));
        }
        if self.communication.dropped_flows > 0 {
            log::warn(&format!(
                "communication.txt lists the first {} host pairs; {} flows of further pairs are counted, not listed (config max_pairs raises the bound).",
                self.config.max_pairs, self.communication.dropped_flows
            ));
        }
        report.hosts = kept.for_communication();
        if self.config.wants("communication") {
            // In parts: the host appends them to the file in order.
            for part in self.communication.render(&report, self.config.max_peers) {
                out.push(text_file("communication.txt", part));
            }
        }
        if self.config.wants("payloads") {
            let text = self
                .payloads
                .finish(&report.capture.file, self.config.max_payload_report_bytes);
            out.push(text_file("payloads.txt", text));
        }
        out.extend(listed);
        for listing in &mut self.listings {
            out.push(text_file(&listing.file(), listing.finish()));
        }
        Ok(out)
    }
}

impl Text {
    /// The kept hosts, made at the first host (the flows, and so the listed pairs, are all in).
    fn kept_hosts(&mut self) -> &mut Kept {
        let (max, communication) = (self.config.max_hosts, &self.communication);
        self.kept
            .get_or_insert_with(|| Kept::new(max, communication.endpoints()))
    }
}

export_output!(Text);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{flow_with as flow, host, report};

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_and_checks_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"reports": ["devices"], "max_excerpt_bytes": 0}"#).unwrap();
        assert!(c.wants("devices") && !c.wants("payloads"));
        assert!(config(r#"{"max_excerpt": 5}"#).is_err());
        let bad =
            config(r#"{"reports": ["graphs"], "max_payload_report_bytes": 10, "max_peers": 0}"#)
                .unwrap();
        let keys: Vec<String> = bad.check().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["reports.0", "max_payload_report_bytes", "max_peers"]);
        assert!(Text::new(bad).is_err());
    }

    #[test]
    fn writes_the_files_it_was_asked_for() {
        let mut t = Text::new(Config::default()).unwrap();
        let parts = t
            .consume(vec![flow(1, "10.0.0.1", "10.0.0.2", 25, b"HELO", b"220")])
            .unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, "payloads.txt");
        let files = t.finish(report(vec![host("10.0.0.1", &[1])])).unwrap();
        let mut names: Vec<&str> = files.iter().map(|a| a.name.as_str()).collect();
        names.dedup();
        assert_eq!(
            names,
            [
                "devices.txt",
                "communication.txt",
                "payloads.txt",
                "files.txt",
                "credentials.txt"
            ]
        );

        let mut only = Text::new(config(r#"{"reports": ["devices"]}"#).unwrap()).unwrap();
        assert!(
            only.consume(vec![flow(1, "10.0.0.1", "10.0.0.2", 25, b"HELO", b"")])
                .unwrap()
                .is_empty()
        );
        let files = only.finish(report(Vec::new())).unwrap();
        assert_eq!(files.len(), 1);
    }
}
