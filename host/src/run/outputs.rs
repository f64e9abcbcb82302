//! The output stages of a run, on their own thread: while the main thread decodes and analyzes the next
//! batch, the outputs format the last one. A bounded channel keeps at most a few batches in flight, so
//! memory stays flat.

use super::payloads::{take_payloads, with_payloads};
use crate::caps::{Services, log::Level};
use crate::output::ReportWriter;
use crate::runtime::Stage;
use crate::runtime::bindings::wit;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

enum Message {
    Flows(Vec<wit::Flow>),
    Findings(Vec<wit::FindingRecord>),
    Finish(Box<wit::Report>),
}

/// What the outputs did.
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Why stages were stopped or files refused.
    pub failures: Vec<String>,
}

pub struct Outputs {
    sender: Option<SyncSender<Message>>,
    worker: Option<JoinHandle<Written>>,
    /// True when no output reads payloads: they are dropped before crossing the channel.
    strip_payloads: bool,
}

impl Outputs {
    pub fn start(
        stages: Vec<Stage>,
        out_dir: &Path,
        services: Arc<Services>,
    ) -> std::io::Result<Outputs> {
        let strip_payloads = stages.iter().all(|s| !s.plugin.needs_payload);
        let (sender, receiver) = sync_channel(2);
        let writer = ReportWriter::new(out_dir);
        let worker = std::thread::Builder::new()
            .name("outputs".into())
            .spawn(move || work(stages, writer, services, receiver))?;
        Ok(Outputs {
            sender: Some(sender),
            worker: Some(worker),
            strip_payloads,
        })
    }

    /// Hands a batch of annotated flows to the outputs.
    pub fn consume(&mut self, mut flows: Vec<wit::Flow>) {
        if self.strip_payloads {
            flows.iter_mut().for_each(|f| drop(take_payloads(f)));
        }
        if let Some(sender) = &self.sender {
            // A send fails only if the worker is gone; `finish` reports why.
            let _ = sender.send(Message::Flows(flows));
        }
    }

    /// Hands the outputs findings that are not on a flow (host, capture, and late flow findings).
    pub fn findings(&mut self, findings: Vec<wit::FindingRecord>) {
        if findings.is_empty() {
            return;
        }
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Findings(findings));
        }
    }

    /// Ends the outputs with the report and waits for their files.
    pub fn finish(mut self, report: wit::Report) -> Written {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Message::Finish(Box::new(report)));
        }
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(written)) => written,
            _ => Written {
                files: Vec::new(),
                failures: vec!["the output thread stopped unexpectedly".into()],
            },
        }
    }
}

fn work(
    mut stages: Vec<Stage>,
    mut writer: ReportWriter,
    services: Arc<Services>,
    rx: Receiver<Message>,
) -> Written {
    let mut failures = Vec::new();
    for message in rx {
        match message {
            Message::Flows(mut flows) => {
                for stage in stages.iter_mut().filter(|s| s.running()) {
                    let needs = stage.plugin.needs_payload;
                    let result = with_payloads(&mut flows, needs, |f| stage.consume(f));
                    record(stage, result, &mut writer, &services, &mut failures);
                }
            }
            Message::Findings(findings) => {
                for stage in stages.iter_mut().filter(|s| s.running()) {
                    let result = stage.consume_findings(&findings);
                    record(stage, result, &mut writer, &services, &mut failures);
                }
            }
            Message::Finish(report) => {
                for stage in stages.iter_mut().filter(|s| s.running()) {
                    let result = stage.finish_output(&report);
                    record(stage, result, &mut writer, &services, &mut failures);
                }
                break;
            }
        }
    }
    Written {
        files: writer.files,
        failures,
    }
}

/// Writes what a stage returned, or notes why it failed.
fn record(
    stage: &Stage,
    result: Result<Vec<wit::Artifact>, String>,
    writer: &mut ReportWriter,
    services: &Services,
    failures: &mut Vec<String>,
) {
    let mut fail = |message: String| {
        services.log.host(Level::Error, &message);
        failures.push(message);
    };
    match result {
        Ok(artifacts) => {
            for a in artifacts {
                if let Err(e) = writer.write(&stage.spec.name, &a.name, &a.bytes) {
                    fail(format!("stage `{}`: {e}", stage.spec.name));
                }
            }
        }
        Err(message) => fail(message),
    }
}
