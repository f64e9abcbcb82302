//! What a plugin's store holds: its WASI context (empty: no files, no network, no environment), its
//! memory limiter, and the host services it may call, checked against the stage's grants.

use super::bindings::analyzer::pcapxray::plugin::{
    batch, capability, dns, extract, files, log, model, types, whois,
};
use super::bindings::output::pcapxray::plugin::{graphviz, sqlite};
use super::bindings::{CapabilityError, wit};
use crate::caps::{self, Services};
use crate::flow::{AddressOrder, HostNote, HostSnapshot};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct StageState {
    wasi: WasiCtx,
    /// What the plugin printed to stderr (a Rust panic message, a Python traceback), kept to explain
    /// a failure.
    pub stderr: super::stderr::StderrLog,
    table: ResourceTable,
    pub limits: PeakLimits,
    /// The stage name, for log lines and refusals.
    pub stage: String,
    pub grants: crate::pipeline::Grants,
    pub services: Arc<Services>,
    /// Time spent in capability calls (DNS, RDAP) since the last epoch deadline: it does not count
    /// against the stage's call time limit.
    pub host_time: std::time::Duration,
    /// Set while an output takes a batch: the hosts of that batch as they were when the analyzers
    /// were done with it. The model answers from it, so what an output sees does not depend on how
    /// far the analyzers have got meanwhile (outputs run on threads of their own).
    pub snapshot: Option<Arc<HostSnapshot>>,
    /// The flows of the call in progress, packed, for `batch.flows` (plugins with `packed-flows`).
    pub packed: Vec<u8>,
    /// The addresses of the host table in order, taken at the first `hosts-after` call of a walk (one
    /// that starts from the beginning), so that each further page is a binary search, not a sort.
    host_order: AddressOrder,
    dns: Option<Result<caps::dns::Dns, String>>,
    whois: Option<caps::whois::Whois>,
    databases: caps::sqlite::Databases,
    extractor: caps::extract::Extractor,
}

/// The stage's memory limit, remembering the most linear memory the plugin asked for.
pub struct PeakLimits {
    inner: StoreLimits,
    /// Largest linear memory size granted, in bytes.
    pub peak: usize,
}

impl wasmtime::ResourceLimiter for PeakLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let granted = self.inner.memory_growing(current, desired, maximum)?;
        if granted {
            self.peak = self.peak.max(desired);
        }
        Ok(granted)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl StageState {
    pub fn new(
        stage: &str,
        grants: crate::pipeline::Grants,
        memory_mb: u64,
        services: Arc<Services>,
    ) -> StageState {
        let stderr = super::stderr::StderrLog::default();
        StageState {
            // Deliberately empty: no preopened folders, no environment, no arguments, no network.
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            stderr,
            table: ResourceTable::new(),
            limits: PeakLimits {
                inner: StoreLimitsBuilder::new()
                    .memory_size((memory_mb as usize).saturating_mul(1 << 20))
                    .trap_on_grow_failure(true)
                    .build(),
                peak: 0,
            },
            stage: stage.to_string(),
            grants,
            services,
            host_time: std::time::Duration::ZERO,
            snapshot: None,
            packed: Vec::new(),
            host_order: AddressOrder::default(),
            dns: None,
            whois: None,
            databases: Default::default(),
            extractor: Default::default(),
        }
    }

    /// Adds facts learnt through a capability to the host table, under this stage's name.
    fn note(&self, ip: IpAddr, key: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let note = HostNote {
            stage: self.stage.clone(),
            key: key.into(),
            value: value.into(),
            observed: None,
        };
        self.services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_note(ip, note);
    }
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for StageState {}

impl batch::Host for StageState {
    fn flows(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.packed)
    }
}
impl capability::Host for StageState {}

impl log::Host for StageState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Debug => caps::log::Level::Debug,
            log::Level::Info => caps::log::Level::Info,
            log::Level::Warn => caps::log::Level::Warn,
            log::Level::Error => caps::log::Level::Error,
        };
        self.services.log.plugin(level, &self.stage, &message);
    }
}

impl model::Host for StageState {
    fn get_host(&mut self, ip: wit::IpAddress) -> Option<wit::HostInfo> {
        let ip = super::convert::ip_from_wit(ip);
        if let Some(snapshot) = &self.snapshot {
            return snapshot
                .get(&ip)
                .map(|h| super::convert::host_to_wit(ip, h));
        }
        let hosts = self
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts.get(&ip).map(|h| super::convert::host_to_wit(ip, &h))
    }

    fn all_hosts(&mut self) -> Vec<wit::HostInfo> {
        if let Some(snapshot) = &self.snapshot {
            return snapshot
                .sorted()
                .into_iter()
                .map(|(ip, h)| super::convert::host_to_wit(ip, h))
                .collect();
        }
        let hosts = self
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts
            .addresses()
            .into_iter()
            .filter_map(|ip| hosts.get(&ip).map(|h| super::convert::host_to_wit(ip, &h)))
            .collect()
    }

    fn hosts_after(&mut self, after: Option<wit::IpAddress>, limit: u32) -> Vec<wit::HostInfo> {
        let after = after.map(super::convert::ip_from_wit);
        let snapshot = self.snapshot.clone();
        let hosts = self
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if after.is_none() || self.host_order.is_empty() {
            self.host_order = match &snapshot {
                Some(s) => AddressOrder::from_sorted(s.sorted().into_iter().map(|(ip, _)| ip)),
                None => hosts.order(),
            };
        }
        let start = match after {
            None => 0,
            Some(ip) => self.host_order.after(ip),
        };
        let end = start
            .saturating_add(limit as usize)
            .min(self.host_order.len());
        let page = (start.min(end)..end)
            .filter_map(|i| {
                let ip = self.host_order.get(i);
                let entry = match &snapshot {
                    Some(s) => s.get(&ip).cloned(),
                    None => hosts.get(&ip),
                };
                entry.map(|h| super::convert::host_to_wit(ip, &h))
            })
            .collect();
        if end == self.host_order.len() {
            // The walk is over: free the order until the next one.
            self.host_order = AddressOrder::default();
        }
        page
    }
}

impl files::Host for StageState {
    fn read_file(&mut self, path: String) -> Result<Vec<u8>, CapabilityError> {
        caps::files::read(&self.stage, &self.grants, &path)
    }

    fn list_dir(&mut self, path: String) -> Result<Vec<String>, CapabilityError> {
        caps::files::list(&self.stage, &self.grants, &path)
    }
}

impl dns::Host for StageState {
    fn reverse(&mut self, ips: Vec<wit::IpAddress>) -> Vec<Result<Vec<String>, CapabilityError>> {
        let ips: Vec<IpAddr> = ips.into_iter().map(super::convert::ip_from_wit).collect();
        let started = Instant::now();
        let answers = match self.dns_service("for reverse DNS lookups") {
            Err(e) => return ips.iter().map(|_| Err(e.clone())).collect(),
            Ok(()) => {
                let (stage, services) = (self.stage.clone(), self.services.clone());
                match self.dns.as_mut() {
                    Some(Ok(dns)) => dns.reverse(&stage, &ips, &services.queries),
                    _ => unreachable!("checked by dns_service"),
                }
            }
        };
        self.host_time += started.elapsed();
        for (ip, answer) in ips.iter().zip(&answers) {
            if let Ok(names) = answer {
                for name in names {
                    self.note(*ip, "name", name);
                    self.note(*ip, "dns.ptr", name);
                }
            }
        }
        answers
    }

    fn forward(&mut self, names: Vec<String>) -> Vec<Result<Vec<wit::IpAddress>, CapabilityError>> {
        let started = Instant::now();
        let answers = match self.dns_service("for DNS lookups") {
            Err(e) => return names.iter().map(|_| Err(e.clone())).collect(),
            Ok(()) => {
                let (stage, services) = (self.stage.clone(), self.services.clone());
                match self.dns.as_mut() {
                    Some(Ok(dns)) => dns.forward(&stage, &names, &services.queries),
                    _ => unreachable!("checked by dns_service"),
                }
            }
        };
        self.host_time += started.elapsed();
        answers
            .into_iter()
            .map(|r| r.map(|ips| ips.into_iter().map(super::convert::ip_to_wit).collect()))
            .collect()
    }
}

impl StageState {
    /// The stage's resolver, created on first use; a refusal when `dns` is not granted.
    fn dns_service(&mut self, what: &str) -> Result<(), CapabilityError> {
        let Some(grant) = &self.grants.dns else {
            return Err(caps::not_granted(&self.stage, "dns", what));
        };
        let dns = self.dns.get_or_insert_with(|| caps::dns::Dns::new(grant));
        dns.as_ref()
            .map(|_| ())
            .map_err(|e| CapabilityError::Other(e.clone()))
    }
}

impl whois::Host for StageState {
    fn lookup(
        &mut self,
        ips: Vec<wit::IpAddress>,
    ) -> Vec<Result<whois::NetworkOwner, CapabilityError>> {
        let ips: Vec<IpAddr> = ips.into_iter().map(super::convert::ip_from_wit).collect();
        let Some(grant) = &self.grants.whois else {
            let refusal = caps::not_granted(&self.stage, "whois", "for RDAP lookups");
            return ips.iter().map(|_| Err(refusal.clone())).collect();
        };
        let started = Instant::now();
        let whois = self
            .whois
            .get_or_insert_with(|| caps::whois::Whois::new(grant));
        let answers = whois.lookup(&self.stage, &ips, &self.services.queries);
        self.host_time += started.elapsed();
        for (ip, answer) in ips.iter().zip(&answers) {
            if let Ok(owner) = answer {
                self.note(*ip, "whois.network", &owner.network_name);
                self.note(*ip, "whois.org", &owner.organisation);
                self.note(*ip, "whois.country", &owner.country);
                self.note(*ip, "whois.cidr", &owner.cidrs.join(", "));
            }
        }
        answers
    }
}

impl sqlite::Host for StageState {
    fn execute(&mut self, database: String, sql: String) -> Result<(), CapabilityError> {
        let dir = self.sqlite_dir()?;
        let mut created = Vec::new();
        let result = self.databases.execute(&dir, &database, &sql, &mut created);
        self.register(created);
        result
    }

    fn insert(
        &mut self,
        database: String,
        sql: String,
        rows: Vec<Vec<sqlite::Value>>,
    ) -> Result<u64, CapabilityError> {
        let dir = self.sqlite_dir()?;
        let mut created = Vec::new();
        let started = Instant::now();
        let result = self
            .databases
            .insert(&dir, &database, &sql, &rows, &mut created);
        self.host_time += started.elapsed();
        self.register(created);
        result
    }
}

impl StageState {
    /// The report folder, when this stage may keep databases there.
    fn sqlite_dir(&self) -> Result<std::path::PathBuf, CapabilityError> {
        if !self.grants.sqlite {
            return Err(caps::not_granted(
                &self.stage,
                "sqlite",
                "to write a SQLite database",
            ));
        }
        self.services.out_dir.clone().ok_or_else(|| {
            CapabilityError::Other("there is no report folder while validating a pipeline".into())
        })
    }

    fn register(&self, created: Vec<std::path::PathBuf>) {
        if !created.is_empty() {
            self.services
                .created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(created);
        }
    }
}

impl graphviz::Host for StageState {
    fn render(
        &mut self,
        dot: String,
        engine: String,
        format: String,
    ) -> Result<Vec<u8>, CapabilityError> {
        let Some(grant) = &self.grants.graphviz else {
            return Err(caps::not_granted(
                &self.stage,
                "graphviz",
                "to run Graphviz",
            ));
        };
        let started = Instant::now();
        let result = caps::graphviz::render(grant, &dot, &engine, &format);
        self.host_time += started.elapsed();
        result
    }
}

impl extract::Host for StageState {
    fn open(&mut self, extension: String) -> Result<u32, CapabilityError> {
        let dir = self.extract_dir("to keep a file's bytes")?.0;
        self.extractor.open(&dir, &extension)
    }

    fn append(&mut self, handle: u32, bytes: Vec<u8>) -> Result<bool, CapabilityError> {
        let grant = self.extract_dir("to keep a file's bytes")?.1;
        self.extractor.append(&grant, handle, &bytes)
    }

    fn close(&mut self, handle: u32) -> Result<extract::Kept, CapabilityError> {
        let dir = self.extract_dir("to keep a file's bytes")?.0;
        let mut created = Vec::new();
        let kept = self.extractor.close(&dir, handle, &mut created);
        self.register(created);
        Ok(match kept? {
            caps::extract::Kept::Written(name) => extract::Kept::Written(name),
            caps::extract::Kept::OverFileCap => extract::Kept::OverFileCap,
            caps::extract::Kept::OverTotalCap => extract::Kept::OverTotalCap,
        })
    }

    fn discard(&mut self, handle: u32) {
        self.extractor.discard(handle);
    }
}

impl StageState {
    /// The report folder and the caps, when this stage may extract files.
    fn extract_dir(
        &self,
        what: &str,
    ) -> Result<(std::path::PathBuf, crate::pipeline::ExtractGrant), CapabilityError> {
        let Some(grant) = self.grants.extract else {
            return Err(caps::not_granted(&self.stage, "extract", what));
        };
        let dir = self.services.out_dir.clone().ok_or_else(|| {
            CapabilityError::Other("there is no report folder while validating a pipeline".into())
        })?;
        Ok((dir, grant))
    }

    /// Removes the bytes of files the plugin left open (it ended or was stopped).
    pub fn abandon_extractions(&mut self) {
        self.extractor.abandon();
    }
}
