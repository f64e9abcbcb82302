//! One running stage: a store, an instance, and calls guarded by the stage's limits.

use super::bindings::{analyzer, output, wit};
use super::plugin::{EPOCH_TICK, LoadedPlugin, PluginPre, Runtime};
use super::state::StageState;
use crate::caps::Services;
use crate::flow::HostSnapshot;
use crate::pipeline::{Grants, Limits, StageSpec};
use std::sync::Arc;
use wasmtime::Store;

enum Instance {
    Analyzer(analyzer::AnalyzerPlugin),
    Output(output::OutputPlugin),
}

/// Why a stage stopped.
#[derive(Debug, Clone)]
pub enum StageFailure {
    /// The stage's configuration was refused; each entry is (key path, message).
    Config(Vec<(String, String)>),
    /// The plugin trapped, ran out of time or memory, or returned an error.
    Stopped(String),
}

pub struct Stage {
    pub spec: StageSpec,
    pub plugin: Arc<LoadedPlugin>,
    store: Store<StageState>,
    instance: Option<Instance>,
    /// Set once the stage has been stopped; no further calls are made.
    pub failure: Option<String>,
    /// Calls made into the plugin and the time they took (lowering the arguments included).
    pub calls: u64,
    pub busy: std::time::Duration,
    /// Of `busy`, the time spent in `finish`.
    pub busy_finish: std::time::Duration,
}

/// Calls `describe` in a throwaway store.
pub(super) fn describe(rt: &Runtime, plugin: &LoadedPlugin) -> Result<wit::PluginInfo, String> {
    let services = Arc::new(Services::default());
    let mut store = new_store(
        rt,
        "describe",
        Grants::default(),
        Limits::default(),
        services,
    );
    store.set_epoch_deadline(deadline_ticks(5_000));
    match &plugin.pre {
        PluginPre::Analyzer(pre) => {
            let inst = pre.instantiate(&mut store).map_err(|e| format!("{e:#}"))?;
            inst.pcapxray_plugin_analyzer()
                .call_describe(&mut store)
                .map_err(|e| format!("{e:#}"))
        }
        PluginPre::Output(pre) => {
            let inst = pre.instantiate(&mut store).map_err(|e| format!("{e:#}"))?;
            inst.pcapxray_plugin_output()
                .call_describe(&mut store)
                .map_err(|e| format!("{e:#}"))
        }
    }
}

fn new_store(
    rt: &Runtime,
    stage: &str,
    grants: Grants,
    limits: Limits,
    services: Arc<Services>,
) -> Store<StageState> {
    let mut store = Store::new(
        &rt.engine,
        StageState::new(stage, grants, limits.memory_mb, services),
    );
    store.limiter(|s| &mut s.limits);
    // Time spent waiting for DNS or RDAP answers is the network's, not the plugin's: credit it back.
    store.epoch_deadline_callback(|mut ctx| {
        let credit = std::mem::take(&mut ctx.data_mut().host_time);
        let ticks = (credit.as_millis() / EPOCH_TICK.as_millis()) as u64;
        if ticks > 0 {
            Ok(wasmtime::UpdateDeadline::Continue(ticks))
        } else {
            Err(wasmtime::Trap::Interrupt.into())
        }
    });
    store
}

fn deadline_ticks(ms: u64) -> u64 {
    (ms / EPOCH_TICK.as_millis() as u64).max(1) + 1
}

impl Stage {
    /// Instantiates the plugin for a stage and hands it its configuration.
    pub fn start(
        rt: &Runtime,
        spec: StageSpec,
        plugin: Arc<LoadedPlugin>,
        services: Arc<Services>,
    ) -> Result<Stage, StageFailure> {
        let mut store = new_store(rt, &spec.name, spec.grants.clone(), spec.limits, services);
        store.set_epoch_deadline(deadline_ticks(spec.limits.call_timeout_ms));
        let who = describe_stage(&spec, &plugin);
        let instance = match &plugin.pre {
            PluginPre::Analyzer(pre) => pre.instantiate(&mut store).map(Instance::Analyzer),
            PluginPre::Output(pre) => pre.instantiate(&mut store).map(Instance::Output),
        }
        .map_err(|e| StageFailure::Stopped(format!("{who} could not be instantiated: {e:#}")))?;
        let mut stage = Stage {
            spec,
            plugin,
            store,
            instance: Some(instance),
            failure: None,
            calls: 0,
            busy: std::time::Duration::ZERO,
            busy_finish: std::time::Duration::ZERO,
        };
        let config = stage.spec.config.to_string();
        let result = stage.call("configure", |store, inst| match inst {
            Instance::Analyzer(a) => a.pcapxray_plugin_analyzer().call_configure(store, &config),
            Instance::Output(o) => o.pcapxray_plugin_output().call_configure(store, &config),
        });
        match result {
            Ok(()) => Ok(stage),
            Err(CallError::Config(errors)) => Err(StageFailure::Config(errors)),
            Err(CallError::Stopped(m)) => Err(StageFailure::Stopped(m)),
        }
    }

    /// Runs one call under the stage's limits. A trap or error stops the stage for good.
    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(
            &mut Store<StageState>,
            &Instance,
        ) -> wasmtime::Result<Result<R, wit::PluginError>>,
    ) -> Result<R, CallError> {
        let who = describe_stage(&self.spec, &self.plugin);
        if let Some(failure) = &self.failure {
            return Err(CallError::Stopped(failure.clone()));
        }
        let Some(instance) = self.instance.as_ref() else {
            return Err(CallError::Stopped(format!("{who} is not running")));
        };
        self.store
            .set_epoch_deadline(deadline_ticks(self.spec.limits.call_timeout_ms));
        let started = std::time::Instant::now();
        let result = f(&mut self.store, instance);
        self.calls += 1;
        self.busy += started.elapsed();
        if what == "finish" {
            self.busy_finish += started.elapsed();
        }
        let message = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(wit::PluginError::Config(errors))) if what == "configure" => {
                return Err(CallError::Config(
                    errors.into_iter().map(|e| (e.key, e.message)).collect(),
                ));
            }
            Ok(Err(e)) => format!(
                "{who} returned an error from `{what}`: {}",
                plugin_error_text(&e)
            ),
            Err(trap) => self.trap_message(&who, what, &trap),
        };
        self.instance = None;
        self.store.data_mut().abandon_extractions();
        self.failure = Some(message.clone());
        Err(CallError::Stopped(message))
    }

    fn trap_message(&self, who: &str, what: &str, trap: &wasmtime::Error) -> String {
        let text = format!("{trap:#}");
        if matches!(
            trap.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        ) {
            format!(
                "{who} was stopped: `{what}` ran longer than its limit of {} ms (limits.call_timeout_ms)",
                self.spec.limits.call_timeout_ms
            )
        } else if text.contains("growing memory") || text.contains("memory size") {
            format!(
                "{who} was stopped: it needed more memory than its limit of {} MiB (limits.memory_mb)",
                self.spec.limits.memory_mb
            )
        } else {
            // The root cause ("wasm `unreachable` instruction executed"), not the backtrace's heading.
            let first = trap.root_cause().to_string();
            match self.store.data().stderr.text() {
                None => format!("{who} trapped in `{what}`: {first}"),
                Some(printed) => {
                    let lines: Vec<&str> = printed.lines().collect();
                    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
                    format!("{who} trapped in `{what}`: {first}; it printed: {tail}")
                }
            }
        }
    }

    /// What the plugin printed to stderr so far, cleaned of runtime boilerplate (the last 64 KiB,
    /// with a notice when more was cut).
    pub fn printed(&self) -> Option<String> {
        self.store.data().stderr.text()
    }

    /// Why the stage was stopped, followed by everything it printed: a Python traceback or a
    /// JavaScript stack with the plugin's own message and line. This is the stage's `error` in
    /// report.json.
    pub fn failure_record(&self) -> Option<String> {
        let failure = self.failure.clone()?;
        Some(match self.printed() {
            Some(printed) => format!("{failure}\nIt printed to stderr:\n{printed}"),
            None => failure,
        })
    }

    /// What the model answers from during the next calls: a snapshot of some hosts, or (`None`) the
    /// live host table.
    pub fn set_snapshot(&mut self, snapshot: Option<Arc<HostSnapshot>>) {
        self.store.data_mut().snapshot = snapshot;
    }

    /// Whether flows go to this stage packed: when the plugin fetches them so, unless
    /// `PCAPXRAY_FLOWS_AS_RECORDS=1` asks for records (to measure what packing saves, README
    /// "Benchmark").
    fn packed(&self) -> bool {
        static AS_RECORDS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let as_records = *AS_RECORDS.get_or_init(|| {
            std::env::var_os("PCAPXRAY_FLOWS_AS_RECORDS").is_some_and(|v| v == "1")
        });
        self.plugin.packed_flows && !as_records
    }

    /// The most linear memory the plugin has had, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().limits.peak
    }

    /// Hands a batch to an analyzer, packed when the plugin fetches it that way (`with_payload` says
    /// whether the packed flows carry their payloads; flows passed as records carry what they hold).
    pub fn analyze(
        &mut self,
        flows: &[&wit::Flow],
        with_payload: bool,
    ) -> Result<wit::Outcome, String> {
        let owned: Vec<wit::Flow>;
        let records: &[wit::Flow] = if self.packed() {
            self.store.data_mut().packed = super::packed::pack(flows, with_payload);
            &[]
        } else {
            owned = flows
                .iter()
                .map(|f| {
                    let mut f = (*f).clone();
                    if !with_payload {
                        for d in [&mut f.to_server, &mut f.to_client] {
                            (d.payload, d.datagrams) = (Vec::new(), Vec::new());
                        }
                    }
                    f
                })
                .collect();
            &owned
        };
        let result = self
            .call("analyze", |store, inst| match inst {
                Instance::Analyzer(a) => a.pcapxray_plugin_analyzer().call_analyze(store, records),
                Instance::Output(_) => unreachable!("analyze is only called on analyzers"),
            })
            .map_err(CallError::into_message);
        self.store.data_mut().packed = Vec::new();
        result
    }

    /// Hands an analyzer the link-layer events of a stretch of the capture.
    pub fn analyze_link(&mut self, batch: &wit::LinkBatch) -> Result<wit::Outcome, String> {
        self.call("analyze-link", |store, inst| match inst {
            Instance::Analyzer(a) => a.pcapxray_plugin_analyzer().call_analyze_link(store, batch),
            Instance::Output(_) => unreachable!("analyze-link is only called on analyzers"),
        })
        .map_err(CallError::into_message)
    }

    /// Hands an analyzer chunks of live flows' streams.
    pub fn analyze_stream(&mut self, batch: &[wit::StreamChunk]) -> Result<wit::Outcome, String> {
        self.call("analyze-stream", |store, inst| match inst {
            Instance::Analyzer(a) => a
                .pcapxray_plugin_analyzer()
                .call_analyze_stream(store, batch),
            Instance::Output(_) => unreachable!("analyze-stream is only called on analyzers"),
        })
        .map_err(CallError::into_message)
    }

    /// Ends an analyzer.
    pub fn finish_analyzer(&mut self) -> Result<wit::Outcome, String> {
        let result = self
            .call("finish", |store, inst| match inst {
                Instance::Analyzer(a) => a.pcapxray_plugin_analyzer().call_finish(store),
                Instance::Output(_) => unreachable!("finish_analyzer is only called on analyzers"),
            })
            .map_err(CallError::into_message);
        // Files still open now will never be closed: their partial bytes must not reach the report.
        self.store.data_mut().abandon_extractions();
        result
    }

    /// Hands a batch of annotated flows to an output; returns file parts to append now. `packed` gives
    /// the same flows packed, for a plugin that fetches them that way.
    pub fn consume(
        &mut self,
        flows: &[wit::Flow],
        packed: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<wit::Artifact>, String> {
        let records = if self.packed() {
            self.store.data_mut().packed = packed();
            &[]
        } else {
            flows
        };
        let result = self
            .call("consume", |store, inst| match inst {
                Instance::Output(o) => o.pcapxray_plugin_output().call_consume(store, records),
                Instance::Analyzer(_) => unreachable!("consume is only called on outputs"),
            })
            .map_err(CallError::into_message);
        self.store.data_mut().packed = Vec::new();
        result
    }

    /// Hands an output the findings that are not on a flow.
    pub fn consume_findings(
        &mut self,
        findings: &[wit::FindingRecord],
    ) -> Result<Vec<wit::Artifact>, String> {
        self.call("consume-findings", |store, inst| match inst {
            Instance::Output(o) => o
                .pcapxray_plugin_output()
                .call_consume_findings(store, findings),
            Instance::Analyzer(_) => unreachable!("consume_findings is only called on outputs"),
        })
        .map_err(CallError::into_message)
    }

    /// Ends an output and collects its files.
    /// Hands an output a batch of hosts.
    pub fn consume_hosts(&mut self, hosts: &[wit::HostInfo]) -> Result<Vec<wit::Artifact>, String> {
        self.call("consume-hosts", |store, inst| match inst {
            Instance::Output(o) => o.pcapxray_plugin_output().call_consume_hosts(store, hosts),
            Instance::Analyzer(_) => unreachable!("consume_hosts is only called on outputs"),
        })
        .map_err(CallError::into_message)
    }

    pub fn finish_output(&mut self, report: &wit::Report) -> Result<Vec<wit::Artifact>, String> {
        self.call("finish", |store, inst| match inst {
            Instance::Output(o) => o.pcapxray_plugin_output().call_finish(store, report),
            Instance::Analyzer(_) => unreachable!("finish_output is only called on outputs"),
        })
        .map_err(CallError::into_message)
    }

    /// True while the stage can still be called.
    pub fn running(&self) -> bool {
        self.failure.is_none()
    }
}

enum CallError {
    Config(Vec<(String, String)>),
    Stopped(String),
}

impl CallError {
    fn into_message(self) -> String {
        match self {
            CallError::Config(errors) => errors
                .into_iter()
                .map(|(k, m)| format!("{k}: {m}"))
                .collect::<Vec<_>>()
                .join("; "),
            CallError::Stopped(m) => m,
        }
    }
}

/// `stage `web` (plugin web 0.1.0)`
pub fn describe_stage(spec: &StageSpec, plugin: &LoadedPlugin) -> String {
    format!(
        "stage `{}` (plugin {} {})",
        spec.name, plugin.name, plugin.version
    )
}

fn plugin_error_text(e: &wit::PluginError) -> String {
    match e {
        wit::PluginError::Config(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        wit::PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        wit::PluginError::Capability(m) => format!("capability: {m}"),
        wit::PluginError::Other(m) => m.clone(),
    }
}
