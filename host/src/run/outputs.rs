//! The output stages of a run, each on its own thread: while the main thread decodes and analyzes the
//! next batch, the outputs format the last one, side by side (their `finish`, which formats whole
//! reports, is most of their work). Bounded channels keep at most a few batches in flight, so memory
//! stays flat; batches are shared between the threads, not copied.

use super::StageStats;
use super::payloads::take_payloads;
use crate::bindings::wit;
use crate::caps::{Services, log::Level};
use crate::flow::{HostSlot, HostSnapshot, HostTable};
use crate::output::ReportWriter;
use crate::runtime::{OutputStage, StageError, convert};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// What an output thread is handed. Flows and findings come with the hosts they involve as they were
/// when the analyzers were done with them: the analyzers may be batches ahead by the time an output
/// asks, and its report must not depend on that.
#[derive(Clone)]
enum Message {
    Flows(Arc<Batch>, Arc<HostSnapshot>),
    Findings(Arc<Vec<wit::FindingRecord>>, Arc<HostSnapshot>),
    Hosts(Arc<Vec<wit::HostInfo>>),
    Finish(Arc<wit::Report>),
}

/// A batch of annotated flows, and the same packed, made by the first output that asks for it
/// (off the analyzer thread) and shared by the others.
struct Batch {
    flows: Vec<wit::Flow>,
    /// Each flow's place at the capture's edges, for the lake (same order as `flows`).
    edges: Vec<crate::lake::FlowEdge>,
    packed: OnceLock<Vec<u8>>,
}

impl Batch {
    fn packed(&self) -> Vec<u8> {
        self.packed
            .get_or_init(|| {
                let refs: Vec<&wit::Flow> = self.flows.iter().collect();
                crate::runtime::pack_flows(&refs, true)
            })
            .clone()
    }
}

/// What the outputs did.
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Why stages were stopped or files refused.
    pub failures: Vec<String>,
    /// Time and memory of each output stage.
    pub stats: Vec<StageStats>,
}

struct Worker {
    sender: SyncSender<Message>,
    handle: JoinHandle<(Vec<String>, StageStats)>,
}

pub struct Outputs {
    workers: Vec<Worker>,
    /// Shared by the workers: a file belongs to the first stage that writes it.
    writer: Arc<Mutex<ReportWriter>>,
    /// True when no output reads payloads: they are dropped before the batch is handed over.
    strip_payloads: bool,
}

impl Outputs {
    pub fn start(
        stages: Vec<OutputStage>,
        out_dir: &Path,
        services: Arc<Services>,
    ) -> std::io::Result<Outputs> {
        let strip_payloads = stages.iter().all(|s| !s.plugin.needs_payload);
        let writer = Arc::new(Mutex::new(ReportWriter::new(out_dir)));
        let mut workers = Vec::new();
        for stage in stages {
            let (sender, receiver) = sync_channel(2);
            let (writer, services) = (writer.clone(), services.clone());
            let handle = std::thread::Builder::new()
                .name(format!("output {}", stage.spec.name))
                .spawn(move || work(stage, &writer, &services, receiver))?;
            workers.push(Worker { sender, handle });
        }
        Ok(Outputs {
            workers,
            writer,
            strip_payloads,
        })
    }

    fn send(&self, message: Message) {
        for worker in &self.workers {
            // A send fails only if the worker is gone; it has recorded why.
            let _ = worker.sender.send(message.clone());
        }
    }

    /// Adds the lake, which the host writes itself, as one more output with its own thread.
    pub fn add_lake(
        &mut self,
        lake: crate::lake::LakeWriter,
        services: Arc<Services>,
    ) -> std::io::Result<()> {
        let (sender, receiver) = sync_channel(2);
        let handle = std::thread::Builder::new()
            .name("output lake".into())
            .spawn(move || work_lake(lake, receiver, &services))?;
        self.workers.push(Worker { sender, handle });
        Ok(())
    }

    /// Hands a batch of annotated flows to the outputs, with their hosts as they are now in `hosts`
    /// (`slots`: where the table keeps them, as adding the flows to it said).
    pub fn consume(
        &mut self,
        mut flows: Vec<wit::Flow>,
        edges: Vec<crate::lake::FlowEdge>,
        slots: &[HostSlot],
        hosts: &Mutex<HostTable>,
    ) {
        if self.strip_payloads {
            flows.iter_mut().for_each(|f| drop(take_payloads(f)));
        }
        let snapshot = hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .snapshot_slots(slots);
        let batch = Batch {
            flows,
            edges,
            packed: OnceLock::new(),
        };
        self.send(Message::Flows(Arc::new(batch), Arc::new(snapshot)));
    }

    /// Hands the outputs findings that are not on a flow (host, capture, and late flow findings), with
    /// the hosts they are about as they are now.
    pub fn findings(&mut self, findings: Vec<wit::FindingRecord>, hosts: &Mutex<HostTable>) {
        if findings.is_empty() {
            return;
        }
        let ips = findings.iter().filter_map(|r| match r.finding.subject {
            wit::Subject::Host(ip) => Some(convert::ip_from_wit(ip)),
            _ => None,
        });
        let snapshot = hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .snapshot(ips);
        self.send(Message::Findings(Arc::new(findings), Arc::new(snapshot)));
    }

    /// Hands the outputs a batch of hosts (at the end, when the host table no longer changes).
    pub fn hosts(&mut self, hosts: Vec<wit::HostInfo>) {
        if !hosts.is_empty() {
            self.send(Message::Hosts(Arc::new(hosts)));
        }
    }

    /// Ends the outputs without a report (the run was cancelled) and waits for their threads, which
    /// skip what is left in their queues.
    pub fn abandon(self) {
        for worker in self.workers {
            drop(worker.sender);
            let _ = worker.handle.join();
        }
    }

    /// Ends the outputs with the report and waits for their files.
    pub fn finish(self, report: wit::Report) -> Written {
        self.send(Message::Finish(Arc::new(report)));
        let mut failures = Vec::new();
        let mut stats = Vec::new();
        for worker in self.workers {
            drop(worker.sender);
            match worker.handle.join() {
                Ok((f, s)) => {
                    failures.extend(f);
                    stats.push(s);
                }
                Err(_) => failures.push("an output thread stopped unexpectedly".into()),
            }
        }
        let files =
            std::mem::take(&mut self.writer.lock().unwrap_or_else(|e| e.into_inner()).files);
        Written {
            files,
            failures,
            stats,
        }
    }
}

/// One output stage's thread: every message in order, until `Finish`.
fn work(
    mut stage: OutputStage,
    writer: &Mutex<ReportWriter>,
    services: &Services,
    rx: Receiver<Message>,
) -> (Vec<String>, StageStats) {
    let mut failures = Vec::new();
    for message in rx {
        if !stage.running() || services.cancelled() {
            continue;
        }
        let (result, last) = match &message {
            Message::Flows(flows, hosts) => {
                stage.set_snapshot(Some(hosts.clone()));
                (stage.consume(&flows.flows, || flows.packed()), false)
            }
            Message::Findings(findings, hosts) => {
                stage.set_snapshot(Some(hosts.clone()));
                (stage.consume_findings(findings), false)
            }
            // At the end the host table no longer changes: the model answers from it.
            Message::Hosts(hosts) => {
                stage.set_snapshot(None);
                (stage.consume_hosts(hosts), false)
            }
            Message::Finish(report) => {
                stage.set_snapshot(None);
                (stage.finish(report), true)
            }
        };
        record(&stage, result, writer, services, &mut failures);
        if last {
            break;
        }
    }
    (failures, StageStats::of(&stage))
}

/// The lake's thread: like a stage's, but the host writes the files (outside the report folder).
fn work_lake(
    mut lake: crate::lake::LakeWriter,
    rx: Receiver<Message>,
    services: &Services,
) -> (Vec<String>, StageStats) {
    let started = std::time::Instant::now();
    let mut calls = 0;
    let mut failure = None;
    for message in rx {
        calls += 1;
        match &message {
            Message::Flows(flows, _) => failure = lake.flows(&flows.flows, &flows.edges).err(),
            Message::Findings(findings, _) => lake.findings(findings),
            Message::Hosts(hosts) => lake.hosts(hosts),
            // A cancelled run publishes nothing: its analyzers were stopped mid-call, so their
            // findings are not the capture's (dropping the writer removes its staging folder).
            Message::Finish(_) if services.cancelled() => break,
            Message::Finish(report) => {
                failure = lake.finish(report).err();
                break;
            }
        }
        if failure.is_some() {
            break;
        }
    }
    let stats = StageStats {
        stage: "lake".into(),
        calls,
        seconds: started.elapsed().as_secs_f64(),
        finish_seconds: 0.0,
        peak_memory: 0,
        printed: None,
        printed_to_stdout: None,
    };
    let failures = failure.map(|e| format!("the lake was not written: {e}"));
    (failures.into_iter().collect(), stats)
}

/// Writes what a stage returned, or notes why it failed.
fn record(
    stage: &OutputStage,
    result: Result<Vec<wit::Artifact>, StageError>,
    writer: &Mutex<ReportWriter>,
    services: &Services,
    failures: &mut Vec<String>,
) {
    let mut fail = |message: String| {
        services.log.host(Level::Error, &message);
        failures.push(message);
    };
    match result {
        Ok(artifacts) => {
            let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
            for a in artifacts {
                if let Err(e) = writer.write(&stage.spec.name, &a.name, &a.bytes) {
                    fail(format!("stage `{}`: {e}", stage.spec.name));
                }
            }
        }
        Err(e) => fail(e.to_string()),
    }
}
