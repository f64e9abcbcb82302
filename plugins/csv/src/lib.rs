//! # pcapxray `csv` output
//!
//! RFC 4180 files for spreadsheets and SIEM import: `flows.csv` (one row per flow: times, endpoints
//! with MAC addresses and names, bytes and packets each way, tags), `findings.csv` (one row per
//! finding: stage, tag, severity, confidence, subject, summary, attributes) and `hosts.csv` (one row
//! per host, with the names and device facts known at the end, to join the others with). Flows and
//! their findings are streamed: each batch becomes rows appended to the files at once, and the findings
//! only known at the end of the run (about hosts, the capture, or flows decided late) are appended by
//! `finish`. `files.csv` and `credentials.csv` (one row per file / credential, the columns of the
//! SDK's `tables` module, secrets whole) are streamed the same way. The plugin keeps nothing per
//! flow, only a bounded cache of host names.
//!
//! Rows and cells are built in `rows` and `cells`, plain functions tested natively; this file holds
//! the configuration, the name cache and the SDK glue.

mod cells;
mod rows;

use pcapxray_plugin_sdk::{
    Artifact, FindingRecord, Flow, HostInfo, IpAddress, Output, PluginError, Report, export_output,
    tables::{self, Row, Table},
};
use rows::{Cells, FINDING_COLUMNS, FLOW_COLUMNS, HOST_COLUMNS};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Prefix `'` to text cells that start with `=`, `+`, `-` or `@`, so a spreadsheet shows them
    /// instead of running them as formulas.
    pub formula_escape: bool,
    /// Fill `client_name` and `server_name` from the host facts earlier stages published (a lookup in
    /// the host's model per new address); when false, only the flow's own SNI or `Host` is used.
    pub host_names: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            formula_escape: true,
            host_names: true,
        }
    }
}

/// Names of hosts, looked up once per address. Known names are kept (up to `CAPACITY`, then the
/// cache starts over); an address without a name is asked again in the next batch, since a later DNS
/// answer may name it.
#[derive(Default)]
struct Names {
    known: HashMap<IpAddr, String>,
    unknown: HashSet<IpAddr>,
}

impl Names {
    const CAPACITY: usize = 65_536;

    fn get(
        &mut self,
        ip: IpAddress,
        lookup: &mut impl FnMut(&IpAddress) -> Option<HostInfo>,
    ) -> Option<&str> {
        let key = IpAddr::from(ip);
        if !self.known.contains_key(&key) {
            if self.unknown.contains(&key) {
                return None;
            }
            match lookup(&ip).and_then(|h| h.best_name().map(str::to_string)) {
                Some(name) => {
                    if self.known.len() >= Self::CAPACITY {
                        self.known.clear();
                    }
                    self.known.insert(key, name);
                }
                None => {
                    self.unknown.insert(key);
                    return None;
                }
            }
        }
        self.known.get(&key).map(String::as_str)
    }

    fn end_batch(&mut self) {
        self.unknown.clear();
    }
}

/// The output.
pub struct Csv {
    config: Config,
    cells: Cells,
    names: Names,
    flows_started: bool,
    findings_started: bool,
    /// Whether `files.csv` / `credentials.csv` got their header.
    tables_started: [bool; 2],
}

fn csv_file(name: &str, bytes: Vec<u8>) -> Artifact {
    Artifact {
        name: name.into(),
        media_type: "text/csv; charset=utf-8; header=present".into(),
        bytes,
    }
}

impl Csv {
    /// `consume` with the host-name lookup passed in (the model in the plugin, a map in tests).
    fn consume_with(
        &mut self,
        flows: &[Flow],
        mut lookup: impl FnMut(&IpAddress) -> Option<HostInfo>,
    ) -> Result<Vec<Artifact>, PluginError> {
        let mut flow_rows = Vec::with_capacity(flows.len());
        for flow in flows {
            let client = if self.config.host_names {
                self.names
                    .get(flow.client.ip, &mut lookup)
                    .map(str::to_string)
            } else {
                None
            };
            let server = match rows::flow_server_name(flow) {
                Some(n) => Some(n.to_string()),
                None if self.config.host_names => self
                    .names
                    .get(flow.server.ip, &mut lookup)
                    .map(str::to_string),
                None => None,
            };
            flow_rows.push(rows::flow_row(
                flow,
                client.as_deref(),
                server.as_deref(),
                &self.cells,
            ));
        }
        self.names.end_batch();
        let mut out = Vec::new();
        if !flow_rows.is_empty() {
            out.push(self.flows_part(&flow_rows)?);
        }
        let rows: Vec<Row> = flows.iter().flat_map(tables::rows_of_flow).collect();
        out.extend(self.tables_parts(&rows, false)?);
        Ok(out)
    }

    /// `files.csv` and `credentials.csv` parts for `rows`; with `all`, a header-only part for a table
    /// that has none yet, so both files exist after every run.
    fn tables_parts(&mut self, rows: &[Row], all: bool) -> Result<Vec<Artifact>, PluginError> {
        let mut out = Vec::new();
        for (i, table) in Table::ALL.into_iter().enumerate() {
            let mine = rows.iter().filter(|r| r.table == table);
            if mine.clone().next().is_none() && (self.tables_started[i] || !all) {
                continue;
            }
            let header = (!self.tables_started[i]).then(|| table.header());
            self.tables_started[i] = true;
            let cells = self.cells;
            let bytes = rows::encode(header.as_deref(), mine.map(|r| rows::table_row(r, &cells)))
                .map_err(PluginError::other)?;
            out.push(csv_file(&format!("{}.csv", table.name()), bytes));
        }
        Ok(out)
    }

    fn flows_part<R: AsRef<[String]>>(
        &mut self,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<Artifact, PluginError> {
        let header = (!self.flows_started).then_some(FLOW_COLUMNS);
        self.flows_started = true;
        let bytes = rows::encode(header, rows).map_err(PluginError::other)?;
        Ok(csv_file("flows.csv", bytes))
    }

    fn findings_part<R: AsRef<[String]>>(
        &mut self,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<Artifact, PluginError> {
        let header = (!self.findings_started).then_some(FINDING_COLUMNS);
        self.findings_started = true;
        let bytes = rows::encode(header, rows).map_err(PluginError::other)?;
        Ok(csv_file("findings.csv", bytes))
    }
}

impl Output for Csv {
    const NAME: &'static str = "csv";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes flows.csv (one row per flow), findings.csv (one row per finding), hosts.csv, files.csv and credentials.csv, RFC 4180, for spreadsheets and SIEM import.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Csv, PluginError> {
        Ok(Csv {
            cells: Cells {
                formula_escape: config.formula_escape,
            },
            config,
            names: Names::default(),
            flows_started: false,
            findings_started: false,
            tables_started: [false; 2],
        })
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.consume_with(&flows, pcapxray_plugin_sdk::hosts::get)
    }

    /// The findings list (findings about hosts and the capture, and the roll-ups of flow findings) is
    /// appended to `findings.csv` as it comes; a flow's own findings are its `tags` in `flows.csv`.
    const STREAMS_FINDINGS: bool = true;

    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        let cells = self.cells;
        let rows = findings.iter().map(|r| rows::record_row(r, &cells));
        let mut out = vec![self.findings_part(rows)?];
        out.extend(self.tables_parts(&tables::rows_of_records(&findings), false)?);
        Ok(out)
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        let mut out = Vec::new();
        // Both files exist after every run, with their header at least.
        if !self.flows_started {
            out.push(self.flows_part(std::iter::empty::<Vec<String>>())?);
        }
        if !report.findings.is_empty() || !self.findings_started {
            let cells = self.cells;
            let rows = report.findings.iter().map(|r| rows::record_row(r, &cells));
            out.push(self.findings_part(rows)?);
        }
        out.extend(self.tables_parts(&tables::rows_of_records(&report.findings), true)?);
        // Row by row: a capture can have hundreds of thousands of hosts.
        let hosts = report.hosts.iter().map(|h| rows::host_row(h, &self.cells));
        let bytes = rows::encode(Some(HOST_COLUMNS), hosts).map_err(PluginError::other)?;
        out.push(csv_file("hosts.csv", bytes));
        Ok(out)
    }
}

export_output!(Csv);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{finding, flow, host, ip, note, report};

    fn text(a: &Artifact) -> &str {
        std::str::from_utf8(&a.bytes).unwrap()
    }

    #[test]
    fn streams_flows_and_findings_with_one_header_each() {
        let mut csv = Csv::new(Config::default()).unwrap();
        let mut laptop = host("192.168.1.23", &[1]);
        laptop.notes.push(note("dns", "name", "laptop.lan"));
        let mut lookups = 0;
        let mut lookup = |a: &IpAddress| {
            lookups += 1;
            (*a == laptop.ip).then(|| laptop.clone())
        };
        let mut f1 = flow(1, "192.168.1.23", "8.8.8.8", 53);
        f1.findings
            .push(finding("dns", 1, "dns", "DNS A example.com", &[]));
        let f2 = flow(2, "192.168.1.23", "8.8.8.8", 53);
        let first = csv.consume_with(&[f1, f2], &mut lookup).unwrap();
        // A flow's own findings are its tags; findings.csv gets the roll-ups later.
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "flows.csv");
        let flows = text(&first[0]);
        assert!(flows.starts_with("id,start,end,duration_seconds,protocol,"));
        assert_eq!(flows.lines().count(), 3);
        assert!(flows.contains(",laptop.lan,8.8.8.8,53,"), "{flows}");
        // One lookup per address and batch: the laptop is known, 8.8.8.8 is asked once.
        assert_eq!(lookups, 2);
        let mut rolled = finding("dns", 1, "dns", "DNS A example.com", &[]);
        rolled.finding = rolled.finding.flows([2, 1]);
        rolled.rollup = true;
        let listed = csv.consume_findings(vec![rolled]).unwrap();
        assert_eq!(
            text(&listed[0]),
            "stage,tag,severity,confidence,subject,flow_id,host,summary,attributes,count,flows\r\ndns,dns,info,100,flow,1,,DNS A example.com,,2,1 2\r\n"
        );

        let second = csv
            .consume_with(&[flow(3, "192.168.1.23", "1.1.1.1", 443)], |_| None)
            .unwrap();
        assert_eq!(second.len(), 1);
        assert!(!text(&second[0]).starts_with("id,"));

        let mut r = report(Vec::new());
        r.findings.push(pcapxray_plugin_sdk::FindingRecord {
            stage: "beacon".into(),
            finding: pcapxray_plugin_sdk::Finding::on_host(
                ip("192.168.1.23"),
                "beacon",
                pcapxray_plugin_sdk::Severity::High,
            ),
            rollup: false,
        });
        r.hosts.push(host("192.168.1.23", &[1]));
        let end = csv.finish(r).unwrap();
        assert_eq!(end.len(), 4);
        assert_eq!(
            text(&end[0]),
            "beacon,beacon,high,100,host,,192.168.1.23,,,1,\r\n"
        );
        assert_eq!(end[3].name, "hosts.csv");
        assert!(text(&end[3]).starts_with("ip,class,macs,name,"));
        assert_eq!(text(&end[3]).lines().count(), 2);
    }

    #[test]
    fn streamed_findings_get_the_header_once() {
        let mut csv = Csv::new(Config::default()).unwrap();
        let late = vec![finding("suspicious", 9, "suspicious", "late", &[])];
        let first = csv.consume_findings(late.clone()).unwrap();
        assert!(text(&first[0]).starts_with("stage,tag,"));
        let second = csv.consume_findings(late).unwrap();
        assert_eq!(
            text(&second[0]),
            "suspicious,suspicious,info,100,flow,9,,late,,1,\r\n"
        );
        assert!(csv.consume_findings(Vec::new()).unwrap().is_empty());
        let end = csv.finish(report(Vec::new())).unwrap();
        let names: Vec<&str> = end.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["flows.csv", "files.csv", "credentials.csv", "hosts.csv"]
        );
    }

    #[test]
    fn files_and_logins_stream_into_their_own_files_with_one_header_each() {
        let mut csv = Csv::new(Config::default()).unwrap();
        let mut f = flow(4, "10.0.0.2", "10.0.0.9", 21);
        f.findings.push(finding(
            "files",
            4,
            "files.ftp",
            "FTP download",
            &[("name", "=cmd.exe"), ("sha256", "ab12"), ("size", "3")],
        ));
        f.findings.push(finding(
            "suspicious",
            4,
            "cleartext.ftp",
            "FTP login",
            &[
                ("cleartext.user", "anonymous"),
                ("cleartext.protocol", "FTP"),
            ],
        ));
        let first = csv
            .consume_with(std::slice::from_ref(&f), |_| None)
            .unwrap();
        let names: Vec<&str> = first.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["flows.csv", "files.csv", "credentials.csv"]);
        let files = text(&first[1]);
        let mut lines = files.lines();
        assert_eq!(
            lines.next().unwrap(),
            "flow,time,client,server,stage,tag,severity,protocol,direction,name,declared_type,\
             detected_type,size,missing,missing_ranges,complete,md5,sha1,sha256,extracted,\
             not_extracted,mismatch,attributes"
        );
        let row = lines.next().unwrap();
        assert!(row.starts_with("4,2024-03-12T09:00"), "{row}");
        assert!(
            row.contains(",10.0.0.2:49152,10.0.0.9:21,files,files.ftp,info,"),
            "{row}"
        );
        assert!(
            row.contains(",'=cmd.exe,") && row.contains(",ab12,"),
            "{row}"
        );
        assert!(
            text(&first[2]).contains(",ftp,anonymous,"),
            "{}",
            text(&first[2])
        );
        let again = csv.consume_with(&[f], |_| None).unwrap();
        assert!(!text(&again[1]).starts_with("flow,"));
        let names: Vec<String> = csv
            .finish(report(Vec::new()))
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(
            names,
            ["findings.csv", "hosts.csv"],
            "no second header at the end"
        );
    }

    #[test]
    fn an_empty_run_writes_both_headers() {
        let mut csv = Csv::new(Config::default()).unwrap();
        let end = csv.finish(report(Vec::new())).unwrap();
        let names: Vec<&str> = end.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "flows.csv",
                "findings.csv",
                "files.csv",
                "credentials.csv",
                "hosts.csv"
            ]
        );
        for file in &end {
            assert_eq!(text(file).lines().count(), 1);
        }
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(serde_json::from_str::<Config>(r#"{"formula_escape": false}"#).is_ok());
        assert!(serde_json::from_str::<Config>(r#"{"delimiter": ";"}"#).is_err());
    }
}
