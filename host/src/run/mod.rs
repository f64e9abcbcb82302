//! One run: capture → decoder → flow table → analyzers → outputs → report folder. Stages that fail are
//! stopped and named; everything else still runs and still writes its files.

mod analyzers;
mod from_lake;
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
pub use from_lake::FromLake;
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
    /// Read the flows of a lake's captures, joined across files, instead of `capture`
    /// (`run --from-lake`); `capture` then names the evidence.
    pub from_lake: Option<FromLake>,
    /// Set from elsewhere to cancel the run: it stops as soon as it can, writes nothing and returns
    /// [`RunError::Cancelled`] (the report folder is left as it was).
    pub cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
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
    /// Cancelled through [`RunOptions::cancel`]; nothing was written.
    #[error("the analysis was cancelled after {packets} packets; no report was written")]
    Cancelled { packets: u64 },
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
    /// What it printed to stdout, cleaned (shown by `run -v`).
    pub printed_to_stdout: Option<String>,
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
            printed_to_stdout: stage.printed_to_stdout(),
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
    opts: RunOptions,
    lake: Option<crate::lake::LakeOptions>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let (mut run, mut held) = Run::prepare(opts, lake)?;
    let read = match run.read(held.reader, &mut held.outputs) {
        Ok(read) => read,
        Err(e) => {
            // The output threads end before the staging folder they write into is removed.
            held.outputs.abandon();
            return Err(e);
        }
    };
    let lost = run.finish_analyzers(&read, &mut held.outputs);
    let (capture_info, mut problems) = run.gather_capture(&read);
    problems.extend(lost);
    let (written, host_count) = run.write_outputs(held.outputs, held.folder, capture_info)?;
    problems.extend(written.failures.iter().map(|m| {
        format!("{m}; what it had not handed over before it stopped is missing from the report")
    }));
    run.progress_at_end(&read, "done");
    Ok(run.summary(read, written, host_count, problems, started))
}

/// A run between its phases: what `prepare` set up, used by every later phase.
struct Run {
    opts: RunOptions,
    pipeline: pipeline::Pipeline,
    /// The evidence's name in reports and messages.
    capture: String,
    /// The capture file's size in bytes.
    total: u64,
    /// The hidden folder the outputs write into (the pending folder swaps it in at the end).
    staging: PathBuf,
    services: Arc<Services>,
    /// The stages as the report lists them, before their failures are known.
    plugin_runs: Vec<wit::PluginRun>,
    analyzers: Analyzers,
    /// Declared last, dropped last: it drives the epoch ticker that enforces the stages' time limits.
    _runtime: Runtime,
}

/// What a prepared run hands on to be used up by its phases: the capture (by the read loop), the
/// output threads and the report folder (by `write_outputs`).
struct Held {
    reader: Source,
    outputs: Outputs,
    folder: PendingFolder,
}

/// Where a run's flows come from.
enum Source {
    Capture(Box<CaptureReader>),
    /// A lake's captures, in time order (`--from-lake`).
    Lake(FromLake, Vec<crate::lake::read::LakeCapture>),
}

/// What the output stages wrote, with the analyzers' failures put before theirs.
struct WrittenFiles {
    files: Vec<PathBuf>,
    out_dir: PathBuf,
    failures: Vec<String>,
    stats: Vec<StageStats>,
}

impl Run {
    /// Open and prepare: loads the pipeline, opens the capture (before compiling plugins: a wrong file
    /// fails at once), prepares the report folder, starts the runtime, the stages, the output threads
    /// and the lake writer.
    fn prepare(
        opts: RunOptions,
        lake: Option<crate::lake::LakeOptions>,
    ) -> Result<(Run, Held), RunError> {
        let pipeline =
            pipeline::load(&opts.pipeline, &builtins::exists).map_err(RunError::Pipeline)?;
        let reader = match &opts.from_lake {
            Some(lake) => Source::Lake(lake.clone(), from_lake::open(lake)?),
            None => Source::Capture(Box::new(CaptureReader::open(&opts.capture)?)),
        };
        // Everything is written into a hidden sibling that replaces the report folder only at the end.
        let folder = PendingFolder::prepare(&opts.out_dir).map_err(RunError::Folder)?;
        let staging = folder.staging().to_path_buf();
        let services = Arc::new(Services {
            log: crate::caps::log::Logger::new(opts.bar.clone(), opts.verbose),
            hosts: Arc::new(Mutex::new(HostTable::default())),
            queries: Default::default(),
            out_dir: Some(staging.clone()),
            created: Default::default(),
            cancel: opts.cancel.clone().unwrap_or_default(),
        });
        let runtime = Runtime::new()
            .map_err(|e| RunError::Other(format!("cannot start the WebAssembly runtime: {e:#}")))?;
        let stages =
            stages::start_stages(&runtime, &pipeline, &services).map_err(RunError::Pipeline)?;
        // Compiling the plugins the first time can take a minute: a cancel during it ends the run here.
        if services.cancelled() {
            return Err(RunError::Cancelled { packets: 0 });
        }
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
        let analyzers = Analyzers::new(stages.analyzers, services.clone());
        let mut outputs = Outputs::start(stages.outputs, &staging, services.clone())
            .map_err(|e| RunError::Other(format!("cannot start the output thread: {e}")))?;
        if let Some(lake) = lake {
            let writer =
                crate::lake::LakeWriter::new(lake).map_err(|e| RunError::Other(e.to_string()))?;
            outputs
                .add_lake(writer, services.clone())
                .map_err(|e| RunError::Other(format!("cannot start the lake's thread: {e}")))?;
        }
        let capture = opts
            .evidence_name
            .clone()
            .unwrap_or_else(|| opts.capture.display().to_string());
        let total = match &reader {
            Source::Capture(r) => r.file_size(),
            Source::Lake(..) => 0,
        };
        let run = Run {
            opts,
            pipeline,
            capture,
            total,
            staging,
            services,
            plugin_runs,
            analyzers,
            _runtime: runtime,
        };
        let held = Held {
            reader,
            outputs,
            folder,
        };
        Ok((run, held))
    }

    /// The read loop: reads the capture on its own thread and hands each stretch of work to the
    /// analyzers and outputs; fails when the capture had packets but none could be analyzed.
    fn read(&mut self, source: Source, outputs: &mut Outputs) -> Result<reading::Read, RunError> {
        let reader = match source {
            Source::Capture(reader) => *reader,
            Source::Lake(lake, captures) => {
                return from_lake::read(self, &lake.root, captures, outputs);
            }
        };
        if let Some(bar) = &self.opts.bar {
            bar.set_length(self.total);
        }
        let link_events = self.analyzers.wants_link_events();
        let clock = crate::clock::Clock::new(reading::latest_plausible(&self.opts.capture));
        let mut settings = self.pipeline.flows.clone();
        settings.stream_filters = self.analyzers.stream_filters();
        let (work, reading) = reading::start(reader, settings, clock, link_events)
            .map_err(|e| RunError::Other(format!("cannot start the reading thread: {e}")))?;
        let mut packets = 0;
        for w in work.iter() {
            if self.services.cancelled() {
                break;
            }
            packets = w.packets;
            self.take_work(w, outputs);
        }
        if self.services.cancelled() {
            // The reading thread stops at its next hand-over, which fails once `work` is gone.
            drop(work);
            let _ = reading.join();
            return Err(RunError::Cancelled { packets });
        }
        let read = reading
            .join()
            .map_err(|_| RunError::Other("the reading thread stopped unexpectedly".into()))?;
        if read.stats.packets > 0 && !read.stats.fates.any_analyzed() {
            return Err(RunError::NothingAnalyzed {
                capture: self.capture.clone(),
                fates: read.stats.fates.describe(),
            });
        }
        Ok(read)
    }

    /// One stretch of the read loop: host-table updates first, then link events, stream chunks and
    /// flows through the analyzers to the outputs, then progress.
    fn take_work(&mut self, w: reading::Work, outputs: &mut Outputs) {
        let services = &self.services;
        let analyzers = &mut self.analyzers;
        let mut slots = Vec::with_capacity(2 * w.flows.len());
        {
            let mut hosts = services.hosts.lock().unwrap_or_else(|e| e.into_inner());
            for arp in &w.arps {
                hosts.add_arp(arp.ts, arp.ip, arp.mac);
            }
            for (ip, note) in w.notes {
                hosts.add_note(ip, note);
            }
            for u in &w.unflowed {
                hosts.add_unflowed(u);
            }
            for flow in &w.flows {
                slots.extend(hosts.add_flow(flow));
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
            let edges = w
                .flows
                .iter()
                .map(|f| crate::lake::FlowEdge {
                    open_at_start: f.open_at_start,
                    open_until: f.open_until,
                })
                .collect();
            let flows = analyzers.analyze(w.flows, w.prior);
            outputs.consume(flows, edges, &slots, &services.hosts);
            outputs.findings(std::mem::take(&mut analyzers.loose), &services.hosts);
        }
        let total = self.total;
        report_progress(
            &mut self.opts,
            w.position,
            total,
            w.packets,
            w.flows_total,
            "reading",
        );
    }

    /// Finish analyzers: the reading notes (streams cut, flows evicted), each analyzer's `finish`, and
    /// the findings not on a flow (roll-ups included) handed to the outputs; returns what was lost
    /// (roll-ups that could not be read back from their scratch file).
    fn finish_analyzers(&mut self, read: &reading::Read, outputs: &mut Outputs) -> Vec<String> {
        let analyzers = &mut self.analyzers;
        analyzers.stream_notes(&read.streams, self.pipeline.flows.stream_budget.total >> 20);
        analyzers.eviction_note(read.evicted, self.pipeline.flows.max_active_flows);
        analyzers.empty_capture_note(read.stats.packets, read.read_error.is_some());
        let (opts, total) = (&mut self.opts, self.total);
        let (packets, flows_total) = (read.stats.packets, read.flows_total);
        analyzers
            .finish(&mut |phase| report_progress(opts, total, total, packets, flows_total, &phase));
        analyzers.refusal_notes();
        let mut lost = Vec::new();
        send_rollups(analyzers, outputs, &self.services, &mut lost);
        lost
    }

    /// Gather the capture's record for the report, logging a read error and the timestamp anomalies;
    /// the read error, when there is one, is the run's first problem.
    fn gather_capture(&self, read: &reading::Read) -> (wit::CaptureInfo, Vec<String>) {
        let capture = &self.capture;
        let stats = &read.stats;
        let mut problems = Vec::new();
        if let Some(e) = &read.read_error {
            let message = format!(
                "{capture}: {e}; the report covers the {} packets before that point",
                e.packets
            );
            self.services.log.host(Level::Warn, &message);
            problems.push(message);
        }
        let anomalies = stats.clock.anomalies();
        for a in &anomalies {
            self.services
                .log
                .host(Level::Warn, &format!("{capture}: {}", a.describe()));
        }
        let (first_packet, last_packet) = stats.clock.span();
        let info = wit::CaptureInfo {
            file: capture.clone(),
            size: self.total,
            sha256: read.sha256.clone(),
            format: read.format.name.to_string(),
            format_details: read.format.details.clone(),
            link_types: read.link_types.clone(),
            packets: stats.packets,
            bytes: stats.bytes,
            first_packet,
            last_packet,
            packet_fates: convert::fates_to_wit(&stats.fates),
            timestamp_anomalies: anomalies.iter().map(convert::anomaly_to_wit).collect(),
            read_error: read.read_error.as_ref().map(|e| e.to_string()),
            flows: read.flows_total,
        };
        (info, problems)
    }

    /// The stages as the report lists them, with the analyzers' failures known so far (the outputs'
    /// own fate is in the summary).
    fn plugin_runs(&mut self) -> Vec<wit::PluginRun> {
        let analyzers = &self.analyzers;
        std::mem::take(&mut self.plugin_runs)
            .into_iter()
            .map(|mut run| {
                run.error = analyzers
                    .stages
                    .iter()
                    .find(|s| s.spec.name == run.stage)
                    .and_then(|s| s.failure_record());
                run
            })
            .collect()
    }

    /// Write outputs: every host to the outputs, then the report (the capture, the stages, the queries,
    /// the run notes); waits for their files and swaps the staging folder in for the report folder.
    /// Returns what was written and how many hosts there are.
    fn write_outputs(
        &mut self,
        mut outputs: Outputs,
        folder: PendingFolder,
        capture: wit::CaptureInfo,
    ) -> Result<(WrittenFiles, usize), RunError> {
        let plugins = self.plugin_runs();
        let (total, packets, flows) = (self.total, capture.packets, capture.flows);
        report_progress(
            &mut self.opts,
            total,
            total,
            packets,
            flows,
            "writing reports",
        );
        let host_count = send_hosts(&self.services.hosts, &mut outputs);
        let report = wit::Report {
            capture,
            plugins,
            queries: self.services.queries.take(),
            notes: self.analyzers.notes.clone(),
        };
        let mut written = outputs.finish(report);
        written.files.sort();
        written.files.extend(
            self.services
                .created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..),
        );
        if self.services.cancelled() {
            // Cancelled while the stages finished: their calls were interrupted, so what they wrote
            // is not the report; the staging folder goes, the report folder stays as it was.
            return Err(RunError::Cancelled { packets });
        }
        let out_dir = folder.commit(&written.files).map_err(RunError::Folder)?;
        let files = written
            .files
            .iter()
            .map(|f| out_dir.join(f.strip_prefix(&self.staging).unwrap_or(f)))
            .collect();
        let mut stats: Vec<StageStats> = self.analyzers.stages.iter().map(StageStats::of).collect();
        stats.extend(written.stats);
        let mut failures = self.analyzers.failures.clone();
        failures.extend(written.failures);
        let written = WrittenFiles {
            files,
            out_dir,
            failures,
            stats,
        };
        Ok((written, host_count))
    }

    /// Reports progress once reading is over.
    fn progress_at_end(&mut self, read: &reading::Read, phase: &str) {
        let total = self.total;
        report_progress(
            &mut self.opts,
            total,
            total,
            read.stats.packets,
            read.flows_total,
            phase,
        );
    }

    /// The run's summary for the command line and the web interface.
    fn summary(
        &mut self,
        read: reading::Read,
        written: WrittenFiles,
        hosts: usize,
        problems: Vec<String>,
        started: Instant,
    ) -> RunSummary {
        let analyzers = &mut self.analyzers;
        let stats = read.stats;
        RunSummary {
            capture: self.capture.clone(),
            packets: stats.packets,
            bytes: stats.bytes,
            flows: read.flows_total,
            max_active_flows: read.max_active,
            hosts,
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
            timestamp_anomalies: stats
                .clock
                .anomalies()
                .iter()
                .map(|a| a.describe())
                .collect(),
            seconds: started.elapsed().as_secs_f64(),
            out_dir: written.out_dir,
            files: written.files,
            problems,
            stages: written.stats,
            warnings: self.services.log.kept(),
        }
    }
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
                    let slot = order.slot(i)?;
                    table
                        .get_slot(slot)
                        .map(|h| convert::host_to_wit(order.get(i), h))
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
