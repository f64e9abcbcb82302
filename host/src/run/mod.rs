//! One run: capture → decoder → flow table → analyzers → outputs → report folder. Stages that fail are
//! stopped and named; everything else still runs and still writes its files.

mod analyzers;
mod link;
mod outputs;
mod payloads;
mod reading;
mod rollup;

use crate::bindings::wit;
use crate::caps::{Services, log::Level};
use crate::decode::CaptureReader;
use crate::flow::HostTable;
use crate::output::folder::PendingFolder;
use crate::pipeline::{self, Diagnostics, StageKind, StageSpec};
use crate::runtime::{LoadedPlugin, Runtime, Stage, World, convert};
use crate::{builtins, stages};
use analyzers::Analyzers;
use outputs::Outputs;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What `pcapxray run` needs.
pub struct RunOptions {
    pub pipeline: PathBuf,
    pub capture: PathBuf,
    /// The name the reports give the evidence (`capture.file`, messages); `None` = the capture path as
    /// given. The web interface names an upload by its file name, never by the server's case folder.
    pub evidence_name: Option<String>,
    pub out_dir: PathBuf,
    pub verbose: bool,
    /// Progress bar for the terminal.
    pub bar: Option<indicatif::ProgressBar>,
    /// Called now and then with progress (for the web UI).
    pub on_progress: Option<ProgressFn>,
}

/// Receives progress updates.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// How far a run has got.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub packets: u64,
    pub flows: u64,
    /// What is happening: `reading`, `finishing <stage>`, `writing <stage>`, `done`.
    pub phase: String,
}

/// A run that failed before it could produce a report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Pipeline(Diagnostics),
    #[error(transparent)]
    Capture(#[from] crate::decode::OpenError),
    #[error(transparent)]
    Folder(crate::output::folder::FolderError),
    /// The capture had packets, but none of them could be analyzed (why, by fate).
    #[error("{capture}: no packet could be analyzed: {fates}")]
    NothingAnalyzed { capture: String, fates: String },
    #[error("{0}")]
    Other(String),
}

/// What a finished run reports.
#[derive(Debug, Default, serde::Serialize)]
pub struct RunSummary {
    pub capture: String,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    /// The most flows that were active at once (memory follows this, not the capture size).
    pub max_active_flows: usize,
    pub hosts: usize,
    /// The findings as reports list them (a roll-up of flow findings counts once), by tag.
    pub findings_by_tag: BTreeMap<String, u64>,
    /// Flow findings before they were rolled up.
    pub flow_findings: u64,
    /// Bytes of scratch file the run used (roll-ups beyond their memory bound), removed when it ended.
    pub scratch_bytes: u64,
    /// The run notes: `[stage] key: message`, in the order they were made.
    pub notes: Vec<String>,
    /// What became of the packets, in table order; the counts sum to `packets`.
    pub packet_fates: Vec<FateCount>,
    /// Timestamps running backwards, jumping or out of range, one sentence per kind.
    pub timestamp_anomalies: Vec<String>,
    pub seconds: f64,
    pub out_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Stopped stages and reading problems: what is missing from the report.
    pub problems: Vec<String>,
    /// Time and memory of each stage, in pipeline order.
    pub stages: Vec<StageStats>,
    pub warnings: Vec<String>,
}

/// Packets of one fate.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FateCount {
    pub key: String,
    pub label: String,
    pub packets: u64,
}

/// What one stage cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageStats {
    pub stage: String,
    /// Calls made into the plugin.
    pub calls: u64,
    /// Seconds spent in those calls, handing over their arguments included.
    pub seconds: f64,
    /// Of those, seconds spent in `finish`.
    pub finish_seconds: f64,
    /// The most linear memory the plugin had, in bytes.
    pub peak_memory: usize,
    /// What it printed to stderr, cleaned (shown by `run -v`).
    pub printed: Option<String>,
}

impl StageStats {
    fn of<W: World>(stage: &Stage<W>) -> StageStats {
        StageStats {
            stage: stage.spec.name.clone(),
            calls: stage.calls,
            seconds: stage.busy.as_secs_f64(),
            finish_seconds: stage.busy_finish.as_secs_f64(),
            peak_memory: stage.peak_memory(),
            printed: stage.printed(),
        }
    }
}

impl RunSummary {
    /// 0 when everything ran, 2 when the report is incomplete.
    pub fn exit_code(&self) -> i32 {
        if self.problems.is_empty() { 0 } else { 2 }
    }
}

/// Runs a pipeline over a capture.
pub fn run(opts: RunOptions) -> Result<RunSummary, RunError> {
    run_into_lake(opts, None)
}

/// Runs a pipeline over a capture and, given a lake, also writes the run's tables into it.
pub fn run_into_lake(
    mut opts: RunOptions,
    lake: Option<crate::lake::LakeOptions>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let pipeline = pipeline::load(&opts.pipeline, &builtins::exists).map_err(RunError::Pipeline)?;
    // Open the capture before compiling plugins: a wrong file should fail at once.
    let reader = CaptureReader::open(&opts.capture)?;
    // Everything is written into a hidden sibling that replaces the report folder only at the end.
    let folder = PendingFolder::prepare(&opts.out_dir).map_err(RunError::Folder)?;
    let staging = folder.staging().to_path_buf();
    let services = Arc::new(Services {
        log: crate::caps::log::Logger::new(opts.bar.clone(), opts.verbose),
        hosts: Arc::new(Mutex::new(HostTable::default())),
        queries: Default::default(),
        out_dir: Some(staging.clone()),
        created: Default::default(),
    });
    let rt = Runtime::new()
        .map_err(|e| RunError::Other(format!("cannot start the WebAssembly runtime: {e:#}")))?;
    let stages = stages::start_stages(&rt, &pipeline, &services).map_err(RunError::Pipeline)?;
    for w in stages::grant_warnings(&pipeline, &stages) {
        services
            .log
            .host(Level::Warn, &w.to_string().replacen("warning: ", "", 1));
    }
    let plugin_runs: Vec<wit::PluginRun> = stages
        .plugins(&pipeline)
        .into_iter()
        .map(|(spec, plugin)| plugin_run(spec, plugin))
        .collect();
    let mut analyzers = Analyzers::new(stages.analyzers, services.clone());
    let mut outputs = Outputs::start(stages.outputs, &staging, services.clone())
        .map_err(|e| RunError::Other(format!("cannot start the output thread: {e}")))?;
    if let Some(lake) = lake {
        let writer =
            crate::lake::LakeWriter::new(lake).map_err(|e| RunError::Other(e.to_string()))?;
        outputs
            .add_lake(writer)
            .map_err(|e| RunError::Other(format!("cannot start the lake's thread: {e}")))?;
    }

    let capture = opts
        .evidence_name
        .clone()
        .unwrap_or_else(|| opts.capture.display().to_string());
    let total = reader.file_size();
    if let Some(bar) = &opts.bar {
        bar.set_length(total);
    }
    let link_events = analyzers.wants_link_events();
    let clock = crate::clock::Clock::new(reading::latest_plausible(&opts.capture));
    let mut settings = pipeline.flows.clone();
    settings.stream_filters = analyzers.stream_filters();
    let (work, reading) = reading::start(reader, settings, clock, link_events)
        .map_err(|e| RunError::Other(format!("cannot start the reading thread: {e}")))?;
    for w in work {
        {
            let mut hosts = services.hosts.lock().unwrap_or_else(|e| e.into_inner());
            for arp in &w.arps {
                hosts.add_arp(arp.ts, arp.ip, arp.mac);
            }
            for u in &w.unflowed {
                hosts.add_unflowed(u);
            }
            for flow in &w.flows {
                hosts.add_flow(flow);
            }
        }
        if !w.link.is_empty() {
            analyzers.link(w.link.into_wit());
            outputs.findings(std::mem::take(&mut analyzers.loose), &services.hosts);
        }
        if !w.chunks.is_empty() {
            analyzers.streams(&w.chunks);
            drop(w.chunks);
            outputs.findings(std::mem::take(&mut analyzers.loose), &services.hosts);
        }
        if !w.flows.is_empty() {
            outputs.consume(analyzers.analyze(w.flows), &services.hosts);
            outputs.findings(std::mem::take(&mut analyzers.loose), &services.hosts);
        }
        report_progress(
            &mut opts,
            w.position,
            total,
            w.packets,
            w.flows_total,
            "reading",
        );
    }
    let read = reading
        .join()
        .map_err(|_| RunError::Other("the reading thread stopped unexpectedly".into()))?;
    let (stats, read_error) = (read.stats, read.read_error);
    if stats.packets > 0 && !stats.fates.any_analyzed() {
        return Err(RunError::NothingAnalyzed {
            capture: capture.clone(),
            fates: stats.fates.describe(),
        });
    }
    let flows_total = read.flows_total;
    let packets = stats.packets;
    analyzers.stream_notes(&read.streams, pipeline.flows.stream_budget.total >> 20);
    analyzers.eviction_note(read.evicted, pipeline.flows.max_active_flows);
    analyzers.finish(&mut |phase| {
        report_progress(&mut opts, total, total, packets, flows_total, &phase)
    });
    let mut problems = Vec::new();
    send_rollups(&mut analyzers, &mut outputs, &services, &mut problems);

    if let Some(e) = &read_error {
        let message = format!(
            "{capture}: {e}; the report covers the {} packets before that point",
            e.packets
        );
        services.log.host(Level::Warn, &message);
        problems.push(message);
    }
    let anomalies = stats.clock.anomalies();
    for a in &anomalies {
        services
            .log
            .host(Level::Warn, &format!("{capture}: {}", a.describe()));
    }
    let (first_packet, last_packet) = stats.clock.span();
    let format = read.format;
    let capture_info = wit::CaptureInfo {
        file: capture.clone(),
        size: total,
        sha256: read.sha256,
        format: format.name.to_string(),
        format_details: format.details.clone(),
        link_types: read.link_types,
        packets,
        bytes: stats.bytes,
        first_packet,
        last_packet,
        packet_fates: convert::fates_to_wit(&stats.fates),
        timestamp_anomalies: anomalies.iter().map(convert::anomaly_to_wit).collect(),
        read_error: read_error.as_ref().map(|e| e.to_string()),
        flows: flows_total,
    };
    // Stage failures known so far go into the report; the outputs' own fate is in the summary.
    let plugins = plugin_runs
        .into_iter()
        .map(|mut run| {
            run.error = analyzers
                .stages
                .iter()
                .find(|s| s.spec.name == run.stage)
                .and_then(|s| s.failure_record());
            run
        })
        .collect();
    report_progress(
        &mut opts,
        total,
        total,
        packets,
        flows_total,
        "writing reports",
    );
    let host_count = send_hosts(&services.hosts, &mut outputs);
    let report = wit::Report {
        capture: capture_info,
        plugins,
        queries: services.queries.take(),
        notes: analyzers.notes.clone(),
    };
    let mut written = outputs.finish(report);
    written.files.sort();
    written.files.extend(
        services
            .created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..),
    );
    let out_dir = folder.commit(&written.files).map_err(RunError::Folder)?;
    let files = written
        .files
        .iter()
        .map(|f| out_dir.join(f.strip_prefix(&staging).unwrap_or(f)))
        .collect();
    let mut stage_stats: Vec<StageStats> = analyzers.stages.iter().map(StageStats::of).collect();
    stage_stats.extend(written.stats);
    let mut failures = analyzers.failures.clone();
    failures.extend(written.failures);
    problems.extend(
        failures
            .iter()
            .map(|m| format!("{m}; its results are missing from the report")),
    );
    report_progress(&mut opts, total, total, packets, flows_total, "done");
    Ok(RunSummary {
        capture: capture.clone(),
        packets,
        bytes: stats.bytes,
        flows: flows_total,
        max_active_flows: read.max_active,
        hosts: host_count,
        findings_by_tag: std::mem::take(&mut analyzers.by_tag),
        flow_findings: analyzers.flow_findings,
        scratch_bytes: analyzers.rollups_scratch,
        notes: analyzers
            .notes
            .iter()
            .map(|n| format!("[{}] {}: {}", n.stage, n.note.key, n.note.message))
            .collect(),
        packet_fates: stats
            .fates
            .iter()
            .map(|(fate, packets)| FateCount {
                key: fate.key(),
                label: fate.label(),
                packets,
            })
            .collect(),
        timestamp_anomalies: anomalies.iter().map(|a| a.describe()).collect(),
        seconds: started.elapsed().as_secs_f64(),
        out_dir,
        files,
        problems,
        stages: stage_stats,
        warnings: services.log.kept(),
    })
}

/// Hosts handed to the outputs per call.
const HOSTS_PER_BATCH: usize = 4096;

/// Hands the findings left over and then the roll-ups to the outputs, 4,096 at a time; a roll-up that
/// cannot be read back from its scratch file is a problem of the run (the report misses it).
fn send_rollups(
    analyzers: &mut Analyzers,
    outputs: &mut Outputs,
    services: &Services,
    problems: &mut Vec<String>,
) {
    const CHUNK: usize = 4096;
    let mut loose = std::mem::take(&mut analyzers.loose);
    while !loose.is_empty() {
        outputs.findings(
            loose.drain(..loose.len().min(CHUNK)).collect(),
            &services.hosts,
        );
    }
    let lost = |e: std::io::Error| {
        format!("the roll-ups of flow findings could not be read back from their scratch file: {e}")
    };
    let rollups = match analyzers.take_rollups() {
        Ok(rollups) => rollups,
        Err(e) => {
            let message = lost(e);
            services.log.host(Level::Error, &message);
            problems.push(message);
            return;
        }
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    for r in rollups {
        match r {
            Ok(record) => {
                analyzers.count(&record);
                chunk.push(record);
                if chunk.len() == CHUNK {
                    outputs.findings(std::mem::take(&mut chunk), &services.hosts);
                }
            }
            Err(e) => {
                let message = lost(e);
                services.log.host(Level::Error, &message);
                problems.push(message);
                break;
            }
        }
    }
    if !chunk.is_empty() {
        outputs.findings(chunk, &services.hosts);
    }
}

/// Hands every host to the outputs in batches sorted by address; returns how many there are. The table
/// is only locked while a batch is copied: an output may read it while it takes the batch.
fn send_hosts(hosts: &Mutex<HostTable>, outputs: &mut Outputs) -> usize {
    let order = hosts.lock().unwrap_or_else(|e| e.into_inner()).order();
    for start in (0..order.len()).step_by(HOSTS_PER_BATCH) {
        let end = (start + HOSTS_PER_BATCH).min(order.len());
        let batch: Vec<wit::HostInfo> = {
            let table = hosts.lock().unwrap_or_else(|e| e.into_inner());
            (start..end)
                .filter_map(|i| {
                    let ip = order.get(i);
                    table.get(&ip).map(|h| convert::host_to_wit(ip, &h))
                })
                .collect()
        };
        outputs.hosts(batch);
    }
    order.len()
}

fn report_progress(
    opts: &mut RunOptions,
    read: u64,
    total: u64,
    packets: u64,
    flows: u64,
    phase: &str,
) {
    let p = Progress {
        bytes_read: read,
        bytes_total: total,
        packets,
        flows,
        phase: phase.to_string(),
    };
    if let Some(bar) = &opts.bar {
        bar.set_position(p.bytes_read);
        bar.set_message(format!(
            "{} packets, {} flows, {}",
            p.packets, p.flows, p.phase
        ));
    }
    if let Some(cb) = opts.on_progress.as_mut() {
        cb(&p);
    }
}

fn plugin_run(spec: &StageSpec, plugin: &LoadedPlugin) -> wit::PluginRun {
    wit::PluginRun {
        stage: spec.name.clone(),
        name: plugin.name.clone(),
        version: plugin.version.clone(),
        kind: match spec.kind {
            StageKind::Analyzer => wit::PluginKind::Analyzer,
            StageKind::Output => wit::PluginKind::Output,
        },
        digest: plugin.digest.clone(),
        error: None,
    }
}
