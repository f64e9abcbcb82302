//! What a plugin asks of the host, as traits: [`Host`] (both worlds: log, the host table, files,
//! DNS, RDAP), [`AnalyzerHost`] (analyzers: keeping file bytes) and [`OutputHost`] (outputs: SQLite,
//! Graphviz). [`WitHost`] is the real host (the WIT imports, which exist only inside the component);
//! `testing::FakeHost` (feature `testing`) stands in for it in native unit tests. A plugin that
//! keeps a `Box<dyn Host>` (or is generic over `H: Host`) runs the same code in both.
//!
//! The split follows the WIT worlds: an analyzer that held a `dyn OutputHost` would import the
//! output-only interfaces and fail to load.

use crate::whois::NetworkOwner;
use crate::{CapabilityError, HostInfo};
use std::net::IpAddr;

/// How much a log message matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// A detail for plugin authors.
    Debug,
    /// Normal progress.
    Info,
    /// Something the investigator should know about the results.
    Warn,
    /// Something failed; results may be incomplete.
    Error,
}

/// What every plugin may ask of the host. Each capability call fails with
/// [`CapabilityError::NotGranted`] unless the pipeline grants the capability to the stage.
pub trait Host {
    /// A message to the investigator.
    fn log(&self, level: LogLevel, message: &str);
    /// One host of the host table, with the facts published so far (see [`crate::hosts`]).
    fn host(&self, ip: IpAddr) -> Option<HostInfo>;
    /// A whole granted file (`grants.files`).
    fn read_file(&self, path: &str) -> Result<Vec<u8>, CapabilityError>;
    /// The entry names of a granted folder, sorted (`grants.files`).
    fn list_dir(&self, path: &str) -> Result<Vec<String>, CapabilityError>;
    /// Reverse (PTR) lookups, one result per address (`grants.dns`).
    fn reverse_dns(&self, ips: &[IpAddr]) -> Vec<Result<Vec<String>, CapabilityError>>;
    /// Forward lookups, one result per name (`grants.dns`).
    fn forward_dns(&self, names: &[String]) -> Vec<Result<Vec<IpAddr>, CapabilityError>>;
    /// Owners of addresses through RDAP, one result per address (`grants.whois`).
    fn whois(&self, ips: &[IpAddr]) -> Vec<Result<NetworkOwner, CapabilityError>>;
}

/// What only an analyzer may ask: keeping the bytes of found files (`grants.extract`, see
/// [`crate::extract`]).
pub trait AnalyzerHost: Host {
    /// Starts a file; returns its handle.
    fn extract_open(&self, extension: &str) -> Result<u32, CapabilityError>;
    /// Appends bytes; false once a cap stopped the file from being kept.
    fn extract_append(&self, handle: u32, bytes: &[u8]) -> Result<bool, CapabilityError>;
    /// Ends the file and says what was kept.
    fn extract_close(&self, handle: u32) -> Result<crate::extract::Kept, CapabilityError>;
    /// Drops a file without keeping it.
    fn extract_discard(&self, handle: u32);
}

/// What only an output may ask: SQLite databases in the report folder and Graphviz.
pub trait OutputHost: Host {
    /// Runs statements without parameters on `database` (`grants.sqlite`).
    fn sqlite_execute(&self, database: &str, sql: &str) -> Result<(), CapabilityError>;
    /// Runs one statement once per row, in one transaction (`grants.sqlite`).
    fn sqlite_insert(
        &self,
        database: &str,
        sql: &str,
        rows: &[Vec<crate::sqlite::Value>],
    ) -> Result<u64, CapabilityError>;
    /// Renders DOT text with a Graphviz layout engine to a format (`grants.graphviz`).
    fn graphviz(&self, dot: &str, engine: &str, format: &str) -> Result<Vec<u8>, CapabilityError>;
}

/// The real host: the WIT imports of the component.
#[derive(Clone, Copy, Debug, Default)]
pub struct WitHost;

impl Host for WitHost {
    fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => crate::log::debug(message),
            LogLevel::Info => crate::log::info(message),
            LogLevel::Warn => crate::log::warn(message),
            LogLevel::Error => crate::log::error(message),
        }
    }

    fn host(&self, ip: IpAddr) -> Option<HostInfo> {
        crate::hosts::get(&ip.into())
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, CapabilityError> {
        crate::files::read(path)
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, CapabilityError> {
        crate::files::list(path)
    }

    fn reverse_dns(&self, ips: &[IpAddr]) -> Vec<Result<Vec<String>, CapabilityError>> {
        let ips: Vec<crate::IpAddress> = ips.iter().map(|&ip| ip.into()).collect();
        crate::dns::reverse(&ips)
    }

    fn forward_dns(&self, names: &[String]) -> Vec<Result<Vec<IpAddr>, CapabilityError>> {
        crate::dns::forward(names)
            .into_iter()
            .map(|r| r.map(|ips| ips.into_iter().map(IpAddr::from).collect()))
            .collect()
    }

    fn whois(&self, ips: &[IpAddr]) -> Vec<Result<NetworkOwner, CapabilityError>> {
        let ips: Vec<crate::IpAddress> = ips.iter().map(|&ip| ip.into()).collect();
        crate::whois::lookup(&ips)
    }
}

impl AnalyzerHost for WitHost {
    fn extract_open(&self, extension: &str) -> Result<u32, CapabilityError> {
        crate::extract::open(extension)
    }

    fn extract_append(&self, handle: u32, bytes: &[u8]) -> Result<bool, CapabilityError> {
        crate::extract::append(handle, bytes)
    }

    fn extract_close(&self, handle: u32) -> Result<crate::extract::Kept, CapabilityError> {
        crate::extract::close(handle)
    }

    fn extract_discard(&self, handle: u32) {
        crate::extract::discard(handle)
    }
}

impl OutputHost for WitHost {
    fn sqlite_execute(&self, database: &str, sql: &str) -> Result<(), CapabilityError> {
        crate::sqlite::execute(database, sql)
    }

    fn sqlite_insert(
        &self,
        database: &str,
        sql: &str,
        rows: &[Vec<crate::sqlite::Value>],
    ) -> Result<u64, CapabilityError> {
        crate::sqlite::insert(database, sql, rows)
    }

    fn graphviz(&self, dot: &str, engine: &str, format: &str) -> Result<Vec<u8>, CapabilityError> {
        crate::graphviz::render(dot, engine, format)
    }
}
