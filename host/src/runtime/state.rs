//! What a plugin's store holds: its WASI context (empty: no files, no network, no environment), its
//! memory limiter, and the host services it may call, checked against the stage's grants.

use super::bindings::analyzer::pcapxray::plugin::{
    capability, dns, files, log, model, types, whois,
};
use super::bindings::{CapabilityError, wit};
use crate::caps::{self, Services};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct StageState {
    wasi: WasiCtx,
    /// What the plugin printed to stderr (a Rust panic message lands here), kept to explain a trap.
    pub stderr: MemoryOutputPipe,
    table: ResourceTable,
    pub limits: StoreLimits,
    /// The stage name, for log lines and refusals.
    pub stage: String,
    pub grants: crate::pipeline::Grants,
    pub services: Arc<Services>,
}

impl StageState {
    pub fn new(
        stage: &str,
        grants: crate::pipeline::Grants,
        memory_mb: u64,
        services: Arc<Services>,
    ) -> StageState {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        StageState {
            // Deliberately empty: no preopened folders, no environment, no arguments, no network.
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            stderr,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size((memory_mb as usize).saturating_mul(1 << 20))
                .trap_on_grow_failure(true)
                .build(),
            stage: stage.to_string(),
            grants,
            services,
        }
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
        let hosts = self
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts.get(&ip).map(|h| super::convert::host_to_wit(ip, h))
    }

    fn all_hosts(&mut self) -> Vec<wit::HostInfo> {
        let hosts = self
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts
            .sorted()
            .into_iter()
            .map(|(ip, h)| super::convert::host_to_wit(ip, h))
            .collect()
    }
}

impl files::Host for StageState {
    fn read_file(&mut self, path: String) -> Result<Vec<u8>, CapabilityError> {
        caps::files::read(&self.stage, &self.grants.files, &path)
    }

    fn list_dir(&mut self, path: String) -> Result<Vec<String>, CapabilityError> {
        caps::files::list(&self.stage, &self.grants.files, &path)
    }
}

impl dns::Host for StageState {
    fn reverse(&mut self, ips: Vec<wit::IpAddress>) -> Vec<Result<Vec<String>, CapabilityError>> {
        let refusal = caps::not_granted(&self.stage, "dns", "for reverse DNS lookups");
        match &self.grants.dns {
            None => ips.iter().map(|_| Err(refusal.clone())).collect(),
            Some(_) => ips
                .iter()
                .map(|_| Err(caps::not_available("dns")))
                .collect(),
        }
    }

    fn forward(&mut self, names: Vec<String>) -> Vec<Result<Vec<wit::IpAddress>, CapabilityError>> {
        let refusal = caps::not_granted(&self.stage, "dns", "for DNS lookups");
        match &self.grants.dns {
            None => names.iter().map(|_| Err(refusal.clone())).collect(),
            Some(_) => names
                .iter()
                .map(|_| Err(caps::not_available("dns")))
                .collect(),
        }
    }
}

impl whois::Host for StageState {
    fn lookup(
        &mut self,
        ips: Vec<wit::IpAddress>,
    ) -> Vec<Result<whois::NetworkOwner, CapabilityError>> {
        let refusal = caps::not_granted(&self.stage, "whois", "for RDAP lookups");
        match &self.grants.whois {
            None => ips.iter().map(|_| Err(refusal.clone())).collect(),
            Some(_) => ips
                .iter()
                .map(|_| Err(caps::not_available("whois")))
                .collect(),
        }
    }
}
