//! What a plugin's store holds: its WASI context (empty: no files, no network, no environment), its
//! memory limiter, and the host services it may call, checked against the stage's grants.

use super::printed::PrintLog;
use crate::bindings::analyzer::pcapxray::plugin::{batch, log, model, types};
use crate::bindings::wit;
use crate::caps::{self, Grants, Services, Session};
use crate::flow::{AddressOrder, HostSnapshot};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct StageState {
    wasi: WasiCtx,
    /// What the plugin printed to stderr (a Rust panic message, a Python traceback), kept to explain
    /// a failure.
    pub stderr: PrintLog,
    /// What the plugin printed to stdout (`print`, `console.log`, `println!`), kept like stderr.
    pub stdout: PrintLog,
    table: ResourceTable,
    pub limits: PeakLimits,
    /// The stage's capabilities: its grants, the run's services, what each capability keeps open.
    pub caps: Session,
    /// Set while an output takes a batch: the hosts of that batch as they were when the analyzers
    /// were done with it. The model answers from it, so what an output sees does not depend on how
    /// far the analyzers have got meanwhile (outputs run on threads of their own).
    pub snapshot: Option<Arc<HostSnapshot>>,
    /// The flows of the call in progress, packed, for `batch.flows` (plugins with `packed-flows`).
    pub packed: Vec<u8>,
    /// The addresses of the host table in order, taken at the first `hosts-after` call of a walk (one
    /// that starts from the beginning), so that each further page is a binary search, not a sort.
    host_order: AddressOrder,
    /// When the call in progress reaches its time limit (see `runtime::stage::arm`); moved later by
    /// the time the plugin spent waiting on capabilities.
    pub deadline: std::time::Instant,
}

/// The stage's memory limit, remembering the most linear memory the plugin asked for.
pub struct PeakLimits {
    inner: StoreLimits,
    /// Largest linear memory size granted, in bytes.
    pub peak: usize,
    /// Set when the plugin asked for memory beyond its limit (the call then traps).
    pub refused: bool,
}

impl wasmtime::ResourceLimiter for PeakLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let granted = self.inner.memory_growing(current, desired, maximum);
        match granted {
            Ok(true) => self.peak = self.peak.max(desired),
            Ok(false) | Err(_) => self.refused = true,
        }
        granted
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
    pub fn new(stage: &str, grants: Grants, memory_mb: u64, services: Arc<Services>) -> StageState {
        let (stderr, stdout) = (PrintLog::new("stderr"), PrintLog::new("stdout"));
        StageState {
            // Deliberately empty: no preopened folders, no environment, no arguments, no network.
            wasi: WasiCtx::builder()
                .stderr(stderr.clone())
                .stdout(stdout.clone())
                .build(),
            stderr,
            stdout,
            table: ResourceTable::new(),
            limits: PeakLimits {
                inner: StoreLimitsBuilder::new()
                    .memory_size((memory_mb as usize).saturating_mul(1 << 20))
                    .trap_on_grow_failure(true)
                    .build(),
                peak: 0,
                refused: false,
            },
            caps: Session::new(stage, grants, services),
            snapshot: None,
            packed: Vec::new(),
            host_order: AddressOrder::default(),
            deadline: std::time::Instant::now(),
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

impl batch::Host for StageState {
    fn flows(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.packed)
    }
}

impl log::Host for StageState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Debug => caps::log::Level::Debug,
            log::Level::Info => caps::log::Level::Info,
            log::Level::Warn => caps::log::Level::Warn,
            log::Level::Error => caps::log::Level::Error,
        };
        self.caps
            .services
            .log
            .plugin(level, &self.caps.stage, &message);
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
            .caps
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts.get(&ip).map(|h| super::convert::host_to_wit(ip, h))
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
            .caps
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hosts
            .addresses()
            .into_iter()
            .filter_map(|ip| hosts.get(&ip).map(|h| super::convert::host_to_wit(ip, h)))
            .collect()
    }

    fn hosts_after(&mut self, after: Option<wit::IpAddress>, limit: u32) -> Vec<wit::HostInfo> {
        let after = after.map(super::convert::ip_from_wit);
        let snapshot = self.snapshot.clone();
        let hosts = self
            .caps
            .services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if after.is_none() || self.host_order.is_empty() {
            self.host_order = match &snapshot {
                Some(s) => AddressOrder::from_sorted(s.addresses()),
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
                let entry = match (&snapshot, self.host_order.slot(i)) {
                    (Some(s), _) => s.get(&ip),
                    (None, Some(slot)) => hosts.get_slot(slot),
                    (None, None) => hosts.get(&ip),
                };
                entry.map(|h| super::convert::host_to_wit(ip, h))
            })
            .collect();
        if end == self.host_order.len() {
            // The walk is over: free the order until the next one.
            self.host_order = AddressOrder::default();
        }
        page
    }
}
