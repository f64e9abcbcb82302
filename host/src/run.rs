//! One run: capture → decoder → flow table → analyzers → outputs → report folder. Stages that fail are
//! stopped and named; everything else still runs and still writes its files.

use crate::caps::{Services, log::Level};
use crate::decode::{CaptureReader, Decoded, Decoder};
use crate::flow::{FinishedFlow, FlowTable, HostNote, HostTable};
use crate::pipeline::{self, Diagnostics, StageKind};
use crate::runtime::bindings::wit;
use crate::runtime::{Runtime, Stage, convert};
use crate::{builtins, output, stages};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What `pcapxray run` needs.
pub struct RunOptions {
    pub pipeline: PathBuf,
    pub capture: PathBuf,
    pub out_dir: PathBuf,
    pub verbose: bool,
    /// Progress bar for the terminal.
    pub bar: Option<indicatif::ProgressBar>,
    /// Called now and then with progress (for the web UI).
    pub on_progress: Option<Box<dyn FnMut(&Progress) + Send>>,
}

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
    pub hosts: usize,
    pub findings_by_tag: BTreeMap<String, u64>,
    pub decode_errors: BTreeMap<String, u64>,
    pub seconds: f64,
    pub out_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Stopped stages and reading problems: what is missing from the report.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl RunSummary {
    /// 0 when everything ran, 2 when the report is incomplete.
    pub fn exit_code(&self) -> i32 {
        if self.problems.is_empty() { 0 } else { 2 }
    }
}

/// Most findings kept from one stage; a plugin that floods is cut off with a warning.
const MAX_FINDINGS_PER_STAGE: usize = 2_000_000;

struct Dispatcher<'a> {
    stages: Vec<Stage>,
    services: &'a Arc<Services>,
    findings: Vec<wit::FindingRecord>,
    per_stage: FxHashMap<String, usize>,
    reported: Vec<String>,
}

impl Dispatcher<'_> {
    fn dispatch(&mut self, batch: Vec<FinishedFlow>) {
        if batch.is_empty() {
            return;
        }
        let mut flows: Vec<wit::Flow> = batch.into_iter().map(convert::flow_to_wit).collect();
        let index: FxHashMap<u64, usize> =
            flows.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        for i in 0..self.stages.len() {
            if self.stages[i].spec.kind != StageKind::Analyzer || !self.stages[i].running() {
                continue;
            }
            match self.stages[i].analyze(&flows) {
                Ok(outcome) => self.apply(i, outcome, &mut flows, &index),
                Err(message) => self.failed(message),
            }
        }
        for stage in self
            .stages
            .iter_mut()
            .filter(|s| s.spec.kind == StageKind::Output && s.running())
        {
            if let Err(message) = stage.consume(&flows) {
                self.services.log.host(Level::Error, &message);
                self.reported.push(message);
            }
        }
    }

    fn failed(&mut self, message: String) {
        self.services.log.host(Level::Error, &message);
        self.reported.push(message);
    }

    fn apply(
        &mut self,
        stage: usize,
        outcome: wit::Outcome,
        flows: &mut [wit::Flow],
        index: &FxHashMap<u64, usize>,
    ) {
        let name = self.stages[stage].spec.name.clone();
        if !outcome.host_facts.is_empty() {
            let mut hosts = self
                .services
                .hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for fact in outcome.host_facts {
                let note = HostNote {
                    stage: name.clone(),
                    key: fact.key,
                    value: fact.value,
                    observed: fact.observed,
                };
                hosts.add_note(convert::ip_from_wit(fact.host), note);
            }
        }
        let count = self.per_stage.entry(name.clone()).or_default();
        for finding in outcome.findings {
            if *count >= MAX_FINDINGS_PER_STAGE {
                self.services.log.host(
                    Level::Warn,
                    &format!("stage `{name}` raised more than {MAX_FINDINGS_PER_STAGE} findings; the rest are dropped"),
                );
                break;
            }
            *count += 1;
            if let wit::Subject::Flow(id) = finding.subject
                && let Some(&i) = index.get(&id)
            {
                flows[i].annotations.push(wit::Annotation {
                    stage: name.clone(),
                    tag: finding.tag.clone(),
                    severity: finding.severity,
                    attributes: finding.attributes.clone(),
                });
            }
            self.findings.push(wit::FindingRecord {
                stage: name.clone(),
                finding,
            });
        }
    }

    fn finish_analyzers(&mut self, progress: &mut dyn FnMut(String)) {
        for i in 0..self.stages.len() {
            if self.stages[i].spec.kind != StageKind::Analyzer || !self.stages[i].running() {
                continue;
            }
            progress(format!("finishing {}", self.stages[i].spec.name));
            match self.stages[i].finish_analyzer() {
                Ok(outcome) => self.apply(i, outcome, &mut [], &FxHashMap::default()),
                Err(message) => self.failed(message),
            }
        }
    }
}

/// Runs a pipeline over a capture.
pub fn run(mut opts: RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let pipeline = pipeline::load(&opts.pipeline, &builtins::exists).map_err(RunError::Pipeline)?;
    // Open the capture before compiling plugins: a wrong file should fail at once.
    let mut reader = CaptureReader::open(&opts.capture)?;
    prepare_out_dir(&opts.out_dir)?;
    let hash = spawn_sha256(&opts.capture);
    let services = Arc::new(Services {
        log: crate::caps::log::Logger::new(opts.bar.clone(), opts.verbose),
        hosts: Arc::new(Mutex::new(HostTable::default())),
    });
    let rt = Runtime::new()
        .map_err(|e| RunError::Other(format!("cannot start the WebAssembly runtime: {e}")))?;
    let stages = stages::start_stages(&rt, &pipeline, &services).map_err(RunError::Pipeline)?;
    let mut d = Dispatcher {
        stages,
        services: &services,
        findings: Vec::new(),
        per_stage: FxHashMap::default(),
        reported: Vec::new(),
    };

    let (capture, out_dir) = (opts.capture.clone(), opts.out_dir.clone());
    let total = reader.file_size();
    if let Some(bar) = &opts.bar {
        bar.set_length(total);
    }
    let report_progress = |p: &Progress, opts: &mut RunOptions| {
        if let Some(bar) = &opts.bar {
            bar.set_position(p.bytes_read);
            bar.set_message(format!(
                "{} packets, {} flows, {}",
                p.packets, p.flows, p.phase
            ));
        }
        if let Some(cb) = opts.on_progress.as_mut() {
            cb(p);
        }
    };

    let mut decoder = Decoder::default();
    let mut table = FlowTable::new(pipeline.flows.clone());
    let mut decode_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut non_ip: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut packets, mut bytes, mut first_ts, mut last_ts) = (0u64, 0u64, 0u64, 0u64);
    let mut read_error = None;
    loop {
        let frame = match reader.next_frame() {
            None => break,
            Some(Err(e)) => {
                read_error = Some(e);
                break;
            }
            Some(Ok(frame)) => frame,
        };
        packets += 1;
        bytes += frame.data.len() as u64;
        if first_ts == 0 || frame.ts < first_ts {
            first_ts = frame.ts;
        }
        last_ts = last_ts.max(frame.ts);
        match decoder.decode(&frame) {
            Ok(Decoded::Ip(pkt)) => table.add(frame.ts, &pkt),
            Ok(Decoded::Arp(arp)) => {
                let mut hosts = services.hosts.lock().unwrap_or_else(|e| e.into_inner());
                hosts.add_arp(frame.ts, arp.sender_ip.into(), arp.sender_mac);
                if arp.operation == 2 {
                    hosts.add_arp(frame.ts, arp.target_ip.into(), arp.target_mac);
                }
            }
            Ok(Decoded::FragmentHeld) => {}
            Ok(Decoded::NonIp { ether_type }) => *non_ip.entry(ether_type).or_default() += 1,
            Err(e) => *decode_errors.entry(e.kind()).or_default() += 1,
        }
        if table.batch_ready() {
            let batch =
                table.take_batch(&mut services.hosts.lock().unwrap_or_else(|e| e.into_inner()));
            d.dispatch(batch);
        }
        if packets % 65_536 == 0 {
            let p = Progress {
                bytes_read: reader.position(),
                bytes_total: total,
                packets,
                flows: table.flows_total(),
                phase: "reading".into(),
            };
            report_progress(&p, &mut opts);
        }
    }
    table.end_capture();
    while table.has_ready() {
        let batch = table.take_batch(&mut services.hosts.lock().unwrap_or_else(|e| e.into_inner()));
        d.dispatch(batch);
    }
    let flows_total = table.flows_total();
    let mut phase = |phase: String| {
        let p = Progress {
            bytes_read: total,
            bytes_total: total,
            packets,
            flows: flows_total,
            phase,
        };
        report_progress(&p, &mut opts);
    };
    d.finish_analyzers(&mut phase);

    let mut problems = Vec::new();
    if let Some(e) = &read_error {
        let message = format!(
            "{}: {e}; the report covers the {} packets before that point",
            capture.display(),
            e.packets
        );
        services.log.host(Level::Warn, &message);
        problems.push(message);
    }
    let format = reader.format().clone();
    let capture_info = wit::CaptureInfo {
        file: capture.display().to_string(),
        size: total,
        sha256: hash.join().unwrap_or_default(),
        format: format.name.to_string(),
        format_details: format.details.clone(),
        link_types: reader.link_types().iter().map(|l| l.describe()).collect(),
        packets,
        bytes,
        first_packet: first_ts,
        last_packet: last_ts,
        decode_errors: decode_errors
            .iter()
            .map(|(k, v)| wit::Attribute {
                key: k.clone(),
                value: v.to_string(),
            })
            .chain(non_ip.iter().map(|(t, n)| wit::Attribute {
                key: format!("not ip (ether type 0x{t:04x})"),
                value: n.to_string(),
            }))
            .collect(),
        read_error: read_error.as_ref().map(|e| e.to_string()),
        flows: flows_total,
    };
    let (report, host_count) = {
        let hosts = services.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let report = wit::Report {
            capture: capture_info,
            hosts: hosts
                .sorted()
                .into_iter()
                .map(|(ip, h)| convert::host_to_wit(ip, h))
                .collect(),
            findings: std::mem::take(&mut d.findings),
            plugins: d
                .stages
                .iter()
                .map(|s| wit::PluginRun {
                    stage: s.spec.name.clone(),
                    name: s.plugin.name.clone(),
                    version: s.plugin.version.clone(),
                    kind: match s.spec.kind {
                        StageKind::Analyzer => wit::PluginKind::Analyzer,
                        StageKind::Output => wit::PluginKind::Output,
                    },
                    digest: s.plugin.digest.clone(),
                    error: s.failure.clone(),
                })
                .collect(),
        };
        (report, hosts.len())
    };

    let mut files = Vec::new();
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..d.stages.len() {
        if d.stages[i].spec.kind != StageKind::Output || !d.stages[i].running() {
            continue;
        }
        let name = d.stages[i].spec.name.clone();
        phase(format!("writing {name}"));
        match d.stages[i].finish_output(&report) {
            Ok(artifacts) => {
                for a in artifacts {
                    if let Some(other) = written.get(&a.name) {
                        d.failed(format!("stage `{name}` wants to write {} too, which stage `{other}` already wrote; kept the first", a.name));
                        continue;
                    }
                    match output::write_artifact(&out_dir, &a.name, &a.bytes) {
                        Ok(path) => {
                            written.insert(a.name.clone(), name.clone());
                            files.push(path);
                        }
                        Err(e) => d.failed(format!("stage `{name}`: {e}")),
                    }
                }
            }
            Err(message) => d.failed(message),
        }
    }
    write_marker(&out_dir, &files);
    for s in &d.stages {
        if let Some(f) = &s.failure
            && !d.reported.contains(f)
        {
            d.reported.push(f.clone());
        }
    }
    problems.extend(
        d.reported
            .iter()
            .map(|m| format!("{m}; its results are missing from the report")),
    );
    let mut findings_by_tag = BTreeMap::new();
    for f in &report.findings {
        *findings_by_tag.entry(f.finding.tag.clone()).or_default() += 1;
    }
    phase("done".into());
    Ok(RunSummary {
        capture: capture.display().to_string(),
        packets,
        bytes,
        flows: flows_total,
        hosts: host_count,
        findings_by_tag,
        decode_errors,
        seconds: started.elapsed().as_secs_f64(),
        out_dir: out_dir.clone(),
        files,
        problems,
        warnings: services.log.kept(),
    })
}

const MARKER: &str = ".pcapxray-report";

/// Makes sure the report folder can be written without mixing old and new results: a folder an earlier
/// run wrote is cleared of that run's files; any other non-empty folder is refused.
fn prepare_out_dir(dir: &Path) -> Result<(), RunError> {
    let marker = dir.join(MARKER);
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map(|mut it| it.next().is_none())
            .unwrap_or(false);
        if marker.is_file() {
            let listed = std::fs::read_to_string(&marker).unwrap_or_default();
            for line in listed.lines().filter(|l| !l.is_empty()) {
                if let Ok(path) = output::artifact_path(dir, line) {
                    let _ = std::fs::remove_file(path);
                }
            }
        } else if !empty {
            return Err(RunError::Other(format!(
                "the report folder {} already exists and was not written by pcapxray; choose another with -o",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        RunError::Other(format!(
            "cannot create the report folder {}: {e}",
            dir.display()
        ))
    })
}

fn write_marker(dir: &Path, files: &[PathBuf]) {
    let list: String = files
        .iter()
        .filter_map(|f| f.strip_prefix(dir).ok())
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let _ = std::fs::write(dir.join(MARKER), list);
}

/// Hashes the capture on another core while it is being decoded.
fn spawn_sha256(path: &Path) -> std::thread::JoinHandle<String> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Read;
        let Ok(mut file) = std::fs::File::open(&path) else {
            return String::new();
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(_) => return String::new(),
            }
        }
        crate::runtime::hex_digest(&hasher.finalize())
    })
}
