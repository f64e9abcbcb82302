//! One running stage: a store, an instance, and calls guarded by the stage's limits. An analyzer stage
//! and an output stage are different types ([`AnalyzerStage`], [`OutputStage`]) sharing the call
//! machinery, so only the calls of a stage's world can be made on it; a call that fails says why in a
//! [`StageError`].

use super::plugin::{LoadedPlugin, PluginPre, Runtime};
use super::state::StageState;
use crate::bindings::{analyzer, output, wit};
use crate::caps::Services;
use crate::flow::HostSnapshot;
use crate::pipeline::{Grants, Limits, StageSpec};
use std::sync::Arc;
use wasmtime::Store;

/// A world a stage's plugin implements: how to instantiate it and hand it its configuration.
pub trait World {
    type Instance;
    /// The instance of `pre`, when `pre` is of this world.
    fn instantiate(
        pre: &PluginPre,
        store: &mut Store<StageState>,
    ) -> Option<wasmtime::Result<Self::Instance>>;
    fn configure(
        instance: &Self::Instance,
        store: &mut Store<StageState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), wit::PluginError>>;
}

/// The analyzer world.
pub struct Analyzer;
/// The output world.
pub struct Output;

impl World for Analyzer {
    type Instance = analyzer::AnalyzerPlugin;
    fn instantiate(
        pre: &PluginPre,
        store: &mut Store<StageState>,
    ) -> Option<wasmtime::Result<Self::Instance>> {
        match pre {
            PluginPre::Analyzer(pre) => Some(pre.instantiate(store)),
            PluginPre::Output(_) => None,
        }
    }
    fn configure(
        instance: &Self::Instance,
        store: &mut Store<StageState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), wit::PluginError>> {
        instance
            .pcapxray_plugin_analyzer()
            .call_configure(store, config)
    }
}

impl World for Output {
    type Instance = output::OutputPlugin;
    fn instantiate(
        pre: &PluginPre,
        store: &mut Store<StageState>,
    ) -> Option<wasmtime::Result<Self::Instance>> {
        match pre {
            PluginPre::Output(pre) => Some(pre.instantiate(store)),
            PluginPre::Analyzer(_) => None,
        }
    }
    fn configure(
        instance: &Self::Instance,
        store: &mut Store<StageState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), wit::PluginError>> {
        instance
            .pcapxray_plugin_output()
            .call_configure(store, config)
    }
}

/// Why a stage did not start or a call into it failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StageError {
    /// The stage's configuration was refused; each entry is (key path, message).
    #[error("{}", config_text(.0))]
    Config(Vec<(String, String)>),
    /// The stage was stopped (now or by an earlier call) and makes no further calls.
    #[error("{0}")]
    Stopped(Stop),
}

/// A stopped stage: who, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.text())]
pub struct Stop {
    /// `stage `web` (plugin web 0.1.0)`.
    pub who: String,
    pub cause: StopCause,
}

/// Why a stage was stopped.
#[derive(Debug, Clone)]
pub enum StopCause {
    /// Its plugin could not be instantiated (wasmtime's reason).
    NotInstantiated(String),
    /// Its plugin is of the other world than the stage's list.
    WrongWorld,
    /// A call ran longer than `limits.call_timeout_ms`.
    TimedOut { call: &'static str, limit_ms: u64 },
    /// It asked for more linear memory than `limits.memory_mb`.
    OutOfMemory { limit_mb: u64 },
    /// It trapped: the root cause, and the last lines it printed to stderr.
    Trapped {
        call: &'static str,
        cause: String,
        printed: Option<String>,
    },
    /// It returned an error.
    Returned { call: &'static str, error: String },
    /// An earlier failure stopped it.
    Earlier(String),
    /// The run was cancelled during one of its calls.
    Cancelled { call: &'static str },
}

impl Stop {
    fn text(&self) -> String {
        let who = &self.who;
        match &self.cause {
            StopCause::NotInstantiated(reason) => {
                format!("{who} could not be instantiated: {reason}")
            }
            StopCause::WrongWorld => {
                format!("{who} is not of the world its stage is listed under")
            }
            StopCause::TimedOut { call, limit_ms } => format!(
                "{who} was stopped: `{call}` ran longer than its limit of {limit_ms} ms (limits.call_timeout_ms)"
            ),
            StopCause::OutOfMemory { limit_mb } => format!(
                "{who} was stopped: it needed more memory than its limit of {limit_mb} MiB (limits.memory_mb)"
            ),
            StopCause::Trapped {
                call,
                cause,
                printed: None,
            } => format!("{who} trapped in `{call}`: {cause}"),
            StopCause::Trapped {
                call,
                cause,
                printed: Some(tail),
            } => format!("{who} trapped in `{call}`: {cause}; it printed: {tail}"),
            StopCause::Returned { call, error } => {
                format!("{who} returned an error from `{call}`: {error}")
            }
            StopCause::Earlier(message) => message.clone(),
            StopCause::Cancelled { call } => {
                format!("{who} was stopped in `{call}`: the run was cancelled")
            }
        }
    }
}

fn config_text(errors: &[(String, String)]) -> String {
    errors
        .iter()
        .map(|(k, m)| format!("{k}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A running stage of world `W`.
pub struct Stage<W: World> {
    pub spec: StageSpec,
    pub plugin: Arc<LoadedPlugin>,
    store: Store<StageState>,
    instance: Option<W::Instance>,
    /// Set once the stage has been stopped; no further calls are made.
    pub failure: Option<String>,
    /// Calls made into the plugin and the time they took (lowering the arguments included).
    pub calls: u64,
    pub busy: std::time::Duration,
    /// Of `busy`, the time spent in `finish`.
    pub busy_finish: std::time::Duration,
}

pub type AnalyzerStage = Stage<Analyzer>;
pub type OutputStage = Stage<Output>;

/// Calls `describe` in a throwaway store.
pub(super) fn describe(rt: &Runtime, plugin: &LoadedPlugin) -> wasmtime::Result<wit::PluginInfo> {
    let services = Arc::new(Services::default());
    let mut store = new_store(
        rt,
        "describe",
        Grants::default(),
        Limits::default(),
        services,
    );
    arm(&mut store, 5_000);
    match &plugin.pre {
        PluginPre::Analyzer(pre) => pre
            .instantiate(&mut store)?
            .pcapxray_plugin_analyzer()
            .call_describe(&mut store),
        PluginPre::Output(pre) => pre
            .instantiate(&mut store)?
            .pcapxray_plugin_output()
            .call_describe(&mut store),
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
    // Called at every epoch tick while the plugin runs (the epoch deadline is always the next tick):
    // a cancelled run interrupts the call at once; otherwise the call is stopped once it passes its
    // own deadline, which the time spent waiting for DNS or RDAP answers moves later (that time is
    // the network's, not the plugin's).
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        if state.caps.services.cancelled() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        state.deadline += std::mem::take(&mut state.caps.host_time);
        if std::time::Instant::now() < state.deadline {
            Ok(wasmtime::UpdateDeadline::Continue(1))
        } else {
            Err(wasmtime::Trap::Interrupt.into())
        }
    });
    store
}

/// Gives the next call `ms` milliseconds (measured at the runtime's ticks, so up to one tick more).
fn arm(store: &mut Store<StageState>, ms: u64) {
    let state = store.data_mut();
    state.deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    state.caps.host_time = std::time::Duration::ZERO;
    store.set_epoch_deadline(1);
}

impl<W: World> Stage<W> {
    /// Instantiates the plugin for a stage and hands it its configuration.
    pub fn start(
        rt: &Runtime,
        spec: StageSpec,
        plugin: Arc<LoadedPlugin>,
        services: Arc<Services>,
    ) -> Result<Stage<W>, StageError> {
        let mut store = new_store(rt, &spec.name, spec.grants.clone(), spec.limits, services);
        arm(&mut store, spec.limits.call_timeout_ms);
        let who = describe_stage(&spec, &plugin);
        let stop = |cause| StageError::Stopped(Stop { who, cause });
        let instance = match W::instantiate(&plugin.pre, &mut store) {
            None => return Err(stop(StopCause::WrongWorld)),
            Some(Err(e)) => return Err(stop(StopCause::NotInstantiated(format!("{e:#}")))),
            Some(Ok(instance)) => instance,
        };
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
        stage.call("configure", |store, inst| {
            W::configure(inst, store, &config)
        })?;
        Ok(stage)
    }

    /// Runs one call under the stage's limits. A trap or error stops the stage for good.
    fn call<R>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(
            &mut Store<StageState>,
            &W::Instance,
        ) -> wasmtime::Result<Result<R, wit::PluginError>>,
    ) -> Result<R, StageError> {
        let who = describe_stage(&self.spec, &self.plugin);
        if let Some(failure) = &self.failure {
            return Err(StageError::Stopped(Stop {
                who,
                cause: StopCause::Earlier(failure.clone()),
            }));
        }
        let Some(instance) = self.instance.as_ref() else {
            return Err(StageError::Stopped(Stop {
                cause: StopCause::Earlier(format!("{who} is not running")),
                who,
            }));
        };
        arm(&mut self.store, self.spec.limits.call_timeout_ms);
        let started = std::time::Instant::now();
        let result = f(&mut self.store, instance);
        self.calls += 1;
        self.busy += started.elapsed();
        if what == "finish" {
            self.busy_finish += started.elapsed();
        }
        let cause = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(wit::PluginError::Config(errors))) if what == "configure" => {
                return Err(StageError::Config(
                    errors.into_iter().map(|e| (e.key, e.message)).collect(),
                ));
            }
            Ok(Err(e)) => StopCause::Returned {
                call: what,
                error: plugin_error_text(&e),
            },
            Err(trap) => self.trap_cause(what, &trap),
        };
        let stop = Stop { who, cause };
        self.instance = None;
        self.store.data_mut().caps.abandon_extractions();
        self.failure = Some(stop.to_string());
        Err(StageError::Stopped(stop))
    }

    fn trap_cause(&self, call: &'static str, trap: &wasmtime::Error) -> StopCause {
        let interrupted = matches!(
            trap.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        );
        if interrupted && self.store.data().caps.services.cancelled() {
            StopCause::Cancelled { call }
        } else if interrupted {
            StopCause::TimedOut {
                call,
                limit_ms: self.spec.limits.call_timeout_ms,
            }
        } else if self.store.data().limits.refused {
            StopCause::OutOfMemory {
                limit_mb: self.spec.limits.memory_mb,
            }
        } else {
            // The root cause ("wasm `unreachable` instruction executed"), not the backtrace's heading.
            let printed = self.store.data().stderr.text().map(|printed| {
                let lines: Vec<&str> = printed.lines().collect();
                lines[lines.len().saturating_sub(3)..].join(" / ")
            });
            StopCause::Trapped {
                call,
                cause: trap.root_cause().to_string(),
                printed,
            }
        }
    }

    /// What the plugin printed to stderr so far, cleaned of runtime boilerplate (the last 64 KiB,
    /// with a notice when more was cut).
    pub fn printed(&self) -> Option<String> {
        self.store.data().stderr.text()
    }

    /// What the plugin printed to stdout so far, kept and cleaned like [`Stage::printed`].
    pub fn printed_to_stdout(&self) -> Option<String> {
        self.store.data().stdout.text()
    }

    /// Why the stage was stopped, followed by everything it printed: a Python traceback or a
    /// JavaScript stack with the plugin's own message and line, and what it printed to stdout while
    /// debugging. This is the stage's `error` in report.json.
    pub fn failure_record(&self) -> Option<String> {
        let mut record = self.failure.clone()?;
        for (stream, printed) in [
            ("stderr", self.printed()),
            ("stdout", self.printed_to_stdout()),
        ] {
            if let Some(printed) = printed {
                record.push_str(&format!("\nIt printed to {stream}:\n{printed}"));
            }
        }
        Some(record)
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

    /// True while the stage can still be called.
    pub fn running(&self) -> bool {
        self.failure.is_none()
    }
}

impl Stage<Analyzer> {
    /// Hands a batch to an analyzer, packed when the plugin fetches it that way (`packed` gives them
    /// so, `pack_flows(flows, with_payload)` or the same bytes kept from an earlier stage);
    /// `with_payload` says whether the flows carry their payloads (flows passed as records carry what
    /// they hold).
    pub fn analyze(
        &mut self,
        flows: &[&wit::Flow],
        with_payload: bool,
        packed: impl FnOnce() -> Vec<u8>,
    ) -> Result<wit::Outcome, StageError> {
        let owned: Vec<wit::Flow>;
        let records: &[wit::Flow] = if self.packed() {
            self.store.data_mut().packed = packed();
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
        let result = self.call("analyze", |store, a| {
            a.pcapxray_plugin_analyzer().call_analyze(store, records)
        });
        self.store.data_mut().packed = Vec::new();
        result
    }

    /// Hands an analyzer the link-layer events of a stretch of the capture.
    pub fn analyze_link(&mut self, batch: &wit::LinkBatch) -> Result<wit::Outcome, StageError> {
        self.call("analyze-link", |store, a| {
            a.pcapxray_plugin_analyzer().call_analyze_link(store, batch)
        })
    }

    /// Hands an analyzer chunks of live flows' streams.
    pub fn analyze_stream(
        &mut self,
        batch: &[wit::StreamChunk],
    ) -> Result<wit::Outcome, StageError> {
        self.call("analyze-stream", |store, a| {
            a.pcapxray_plugin_analyzer()
                .call_analyze_stream(store, batch)
        })
    }

    /// Ends an analyzer.
    pub fn finish(&mut self) -> Result<wit::Outcome, StageError> {
        let result = self.call("finish", |store, a| {
            a.pcapxray_plugin_analyzer().call_finish(store)
        });
        // Files still open now will never be closed: their partial bytes must not reach the report.
        self.store.data_mut().caps.abandon_extractions();
        result
    }
}

impl Stage<Output> {
    /// Hands a batch of annotated flows to an output; returns file parts to append now. `packed` gives
    /// the same flows packed, for a plugin that fetches them that way.
    pub fn consume(
        &mut self,
        flows: &[wit::Flow],
        packed: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<wit::Artifact>, StageError> {
        let records = if self.packed() {
            self.store.data_mut().packed = packed();
            &[]
        } else {
            flows
        };
        let result = self.call("consume", |store, o| {
            o.pcapxray_plugin_output().call_consume(store, records)
        });
        self.store.data_mut().packed = Vec::new();
        result
    }

    /// Hands an output the findings that are not on a flow.
    pub fn consume_findings(
        &mut self,
        findings: &[wit::FindingRecord],
    ) -> Result<Vec<wit::Artifact>, StageError> {
        self.call("consume-findings", |store, o| {
            o.pcapxray_plugin_output()
                .call_consume_findings(store, findings)
        })
    }

    /// Hands an output a batch of hosts.
    pub fn consume_hosts(
        &mut self,
        hosts: &[wit::HostInfo],
    ) -> Result<Vec<wit::Artifact>, StageError> {
        self.call("consume-hosts", |store, o| {
            o.pcapxray_plugin_output().call_consume_hosts(store, hosts)
        })
    }

    /// Ends an output and collects its files.
    pub fn finish(&mut self, report: &wit::Report) -> Result<Vec<wit::Artifact>, StageError> {
        self.call("finish", |store, o| {
            o.pcapxray_plugin_output().call_finish(store, report)
        })
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
