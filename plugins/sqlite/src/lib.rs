//! # pcapxray `sqlite` output
//!
//! The database PcapXray's authors wanted: `report.sqlite`, with the capture, its hosts and their
//! facts, every flow, every finding and its attributes, the DNS questions and answers and the HTTP
//! transactions and TLS server names, the plugins that ran and the queries they sent — tables with
//! keys and indexes an investigator can join and filter with plain SQL.
//!
//! A plugin cannot link SQLite (C code) inside the sandbox, so the host runs it: the stage must be
//! granted `sqlite = true`, and the plugin sends statements through the `sqlite` capability. Flows
//! and their findings are inserted batch by batch as they arrive (one call per table per batch), so
//! the plugin keeps nothing per flow; hosts, late findings, the capture summary, plugins and queries
//! are inserted at the end, then the indexes are built.
//!
//! The logic is in [`Writer`], generic over the database, so the native unit tests run it against an
//! in-memory SQLite; this file also holds the configuration and the SDK glue.

#[cfg(test)]
mod db;
mod rows;
mod schema;

use pcapxray_plugin_sdk::host::{OutputHost, WitHost};
use pcapxray_plugin_sdk::{
    Artifact, CapabilityError, ConfigError, FindingRecord, Flow, Output, PluginError, Report,
    export_output,
    sqlite::Value,
    tables::{self, Row, Table},
};
use rows::{Batch, Ids};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::IpAddr;

/// Rows sent per call at the end of the run (hosts, findings), so no list grows with the capture.
const CHUNK: usize = 4096;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The database file, relative to the report folder.
    pub database: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            database: "report.sqlite".into(),
        }
    }
}

/// Loads the model into a database.
pub struct Writer<H: OutputHost> {
    host: H,
    database: String,
    /// The tables exist.
    ready: bool,
    ids: Ids,
    flows: u64,
}

impl<H: OutputHost> Writer<H> {
    /// Creates the tables. A refused grant is an error now (so `pcapxray validate` reports it too);
    /// any other failure is retried with the first batch (while a pipeline is only validated, there
    /// is no report folder yet).
    pub fn start(host: H, database: &str) -> Result<Writer<H>, PluginError> {
        let mut w = Writer {
            host,
            database: database.to_string(),
            ready: false,
            ids: Ids::default(),
            flows: 0,
        };
        match w.host.sqlite_execute(&w.database, &schema::create()) {
            Ok(()) => w.ready = true,
            Err(e @ CapabilityError::NotGranted(_)) => return Err(w.refused(&e)),
            Err(_) => {}
        }
        Ok(w)
    }

    fn refused(&self, e: &CapabilityError) -> PluginError {
        match e {
            CapabilityError::NotGranted(m) => PluginError::Capability(format!(
                "the sqlite output writes {} through the host's `sqlite` capability, which this stage is not granted: \
                 add `grants = {{ sqlite = true }}` to its [[output]] table ({m})",
                self.database
            )),
            other => PluginError::Capability(format!(
                "cannot write {}: {} ({})",
                self.database,
                other.message(),
                other.kind()
            )),
        }
    }

    fn ensure_ready(&mut self) -> Result<(), PluginError> {
        if !self.ready {
            self.host
                .sqlite_execute(&self.database, schema::TABLES)
                .map_err(|e| self.refused(&e))?;
            self.ready = true;
        }
        Ok(())
    }

    fn insert(&mut self, sql: &str, rows: &[Vec<Value>]) -> Result<(), PluginError> {
        if rows.is_empty() {
            return Ok(());
        }
        for chunk in rows.chunks(CHUNK) {
            self.host
                .sqlite_insert(&self.database, sql, chunk)
                .map_err(|e| self.refused(&e))?;
        }
        Ok(())
    }

    /// Inserts a batch of flows with their findings, DNS and web rows: one call per table.
    pub fn consume(&mut self, flows: &[Flow]) -> Result<(), PluginError> {
        self.ensure_ready()?;
        let mut batch = Batch::default();
        for flow in flows {
            batch.flow(&mut self.ids, flow);
        }
        self.flows += flows.len() as u64;
        self.insert_batch(&batch)?;
        let rows: Vec<Row> = flows.iter().flat_map(tables::rows_of_flow).collect();
        self.insert_tables(&rows)
    }

    /// Inserts rows of the files and credentials tables.
    fn insert_tables(&mut self, rows: &[Row]) -> Result<(), PluginError> {
        for table in Table::ALL {
            let values: Vec<Vec<Value>> = rows
                .iter()
                .filter(|r| r.table == table)
                .map(rows::table_row)
                .collect();
            self.insert(&schema::insert_table(table), &values)?;
        }
        Ok(())
    }

    /// Inserts a batch: first bare rows for the hosts it names for the first time, then the rest in
    /// the order their keys need.
    fn insert_batch(&mut self, b: &Batch) -> Result<(), PluginError> {
        use schema::insert::*;
        let hosts: Vec<Vec<Value>> = self
            .ids
            .take_new_hosts()
            .into_iter()
            .map(|(ip, id)| rows::bare_host(id, ip))
            .collect();
        self.insert(NEW_HOSTS, &hosts)?;
        self.insert(FLOWS, &b.flows)?;
        self.insert(FINDINGS, &b.findings)?;
        self.insert(FINDING_FLOWS, &b.finding_flows)?;
        self.insert(FINDING_ATTRIBUTES, &b.attributes)?;
        self.insert(DNS, &b.dns)?;
        self.insert(WEB, &b.web)
    }

    /// Inserts findings that were not on a flow of `consume` (about hosts and the capture, and flow
    /// findings raised at the end of the run).
    pub fn findings(&mut self, findings: &[FindingRecord]) -> Result<(), PluginError> {
        self.ensure_ready()?;
        for part in findings.chunks(CHUNK) {
            let mut batch = Batch::default();
            for r in part {
                let listing = rows::Listing::Listed { rollup: r.rollup };
                batch.finding(&mut self.ids, &r.stage, &r.finding, 0, listing);
            }
            self.insert_batch(&batch)?;
            self.insert_tables(&tables::rows_of_records(part))?;
        }
        Ok(())
    }

    /// Inserts the hosts, capture, plugins and queries (and any findings still in the report), then
    /// builds the indexes.
    pub fn finish(&mut self, report: &Report) -> Result<(), PluginError> {
        use schema::insert::*;
        self.findings(&report.findings)?;

        let mut listed: HashSet<IpAddr> = HashSet::with_capacity(report.hosts.len());
        for part in report.hosts.chunks(CHUNK) {
            let (mut hosts, mut macs, mut facts) = (Vec::new(), Vec::new(), Vec::new());
            for h in part {
                let ip = IpAddr::from(h.ip);
                if !listed.insert(ip) {
                    continue;
                }
                let id = self.ids.host(ip);
                hosts.push(rows::host(id, h, &mut macs, &mut facts));
            }
            // The upsert completes bare rows and adds the hosts no flow named.
            self.ids.take_new_hosts();
            self.insert(HOSTS, &hosts)?;
            self.insert(HOST_MACS, &macs)?;
            self.insert(HOST_FACTS, &facts)?;
        }

        let complete =
            report.capture.read_error.is_none() && report.plugins.iter().all(|p| p.error.is_none());
        let capture = rows::capture(
            &report.capture,
            self.ids.host_count(),
            self.ids.listed(),
            complete,
        );
        self.insert(CAPTURE, &[capture])?;
        let plugins: Vec<Vec<Value>> = report
            .plugins
            .iter()
            .enumerate()
            .map(|(i, p)| rows::plugin(i, p))
            .collect();
        self.insert(PLUGINS, &plugins)?;
        let queries: Vec<Vec<Value>> = report.queries.iter().map(rows::query).collect();
        self.insert(QUERIES, &queries)?;
        let notes: Vec<Vec<Value>> = report.notes.iter().map(rows::run_note).collect();
        self.insert(RUN_NOTES, &notes)?;
        self.host
            .sqlite_execute(&self.database, schema::INDEXES)
            .map_err(|e| self.refused(&e))
    }
}

/// True when `name` is a plain relative path inside the report folder.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The output.
pub struct Sqlite(Writer<WitHost>);

impl Output for Sqlite {
    const NAME: &'static str = "sqlite";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes report.sqlite (needs grants.sqlite): capture, hosts and facts, flows, findings and attributes, DNS, web, plugins and queries, indexed for SQL.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Sqlite, PluginError> {
        if !plain_name(&config.database) {
            return Err(PluginError::Config(vec![ConfigError {
                key: "database".into(),
                message: format!(
                    "must be a file name inside the report folder, such as report.sqlite, not {:?}",
                    config.database
                ),
            }]));
        }
        Ok(Sqlite(Writer::start(WitHost, &config.database)?))
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.0.consume(&flows)?;
        Ok(Vec::new())
    }

    /// Findings that are not on a flow are inserted as they come.
    const STREAMS_FINDINGS: bool = true;

    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        self.0.findings(&findings)?;
        Ok(Vec::new())
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        self.0.finish(&report)?;
        pcapxray_plugin_sdk::log::info(&format!(
            "Wrote {} flows, {} hosts and {} findings into {}.",
            self.0.flows,
            report.hosts.len(),
            self.0.ids.findings(),
            self.0.database
        ));
        // The host writes the file itself; there is no artifact to return.
        Ok(Vec::new())
    }
}

export_output!(Sqlite);

#[cfg(test)]
mod tests;
