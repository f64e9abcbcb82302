//! The analyzer stages of a run: each batch of finished flows goes through them in order, and what one
//! finds is on the flows (and hosts) before the next one looks.

use super::rollup::{self, Rollups};
use crate::bindings::wit;
use crate::caps::{Services, log::Level};
use crate::flow::{FinishedFlow, HostNote, StreamChunk, StreamFilter, StreamStats};
use crate::runtime::{AnalyzerStage, convert};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Analyzers {
    pub stages: Vec<AnalyzerStage>,
    services: Arc<Services>,
    /// Findings that are not on a flow of the current batch (host, capture, and flow findings raised in
    /// `finish`), waiting to be handed to the outputs.
    pub loose: Vec<wit::FindingRecord>,
    /// The findings of the run as reports list them (roll-ups counted once), by tag.
    pub by_tag: BTreeMap<String, u64>,
    /// Flow findings, before they were rolled up.
    pub flow_findings: u64,
    /// The run's flow findings, gathered into roll-ups handed to the outputs at the end.
    pub rollups: Rollups,
    /// Bytes of scratch file the roll-ups used (known once they are taken).
    pub rollups_scratch: u64,
    /// The stages' run notes, in the order they were made.
    pub notes: Vec<wit::NoteRecord>,
    /// Why stages were stopped.
    pub failures: Vec<String>,
    /// (flow, stream stage bit) pairs whose stage said it wants no more of the flow's streams
    /// (`outcome.streams-done`); forgotten when the flow is analyzed, after its last chunk.
    stopped: FxHashSet<(u64, u8)>,
    /// The highest flow id handed to the stages so far, in a batch of flows or a stream chunk: a
    /// finding about a higher one (or flow 0) names a flow that does not exist.
    max_flow: u64,
    /// What the host refused of each stage's findings, said in one run note per stage at the end.
    refused: BTreeMap<String, Refused>,
}

/// Findings of one stage the host did not pass on, and references it dropped.
#[derive(Default)]
struct Refused {
    /// Findings about a flow that does not exist (the first such id).
    unknown_flow: (u64, Option<u64>),
    /// Findings without a tag, or with white space or control characters in it.
    bad_tag: (u64, Option<String>),
    /// Ids of flows that do not exist, taken out of findings' `flows` lists.
    dropped_references: u64,
}

impl Analyzers {
    pub fn new(stages: Vec<AnalyzerStage>, services: Arc<Services>) -> Analyzers {
        let scratch = services.out_dir.clone();
        Analyzers {
            stages,
            services,
            loose: Vec::new(),
            by_tag: BTreeMap::new(),
            flow_findings: 0,
            rollups: Rollups::new(scratch),
            rollups_scratch: 0,
            notes: Vec::new(),
            failures: Vec::new(),
            stopped: FxHashSet::default(),
            max_flow: 0,
            refused: BTreeMap::new(),
        }
    }

    /// Runs a batch through every analyzer; returns the annotated flows. `prior` (by position; may
    /// be shorter) holds findings raised on a flow before this run (by the runs of a lake's
    /// captures): they are on the flow before the first stage looks, and count as its findings,
    /// except those of a stage of this pipeline that judges flows without their payloads (not
    /// `payload-flows-only`): that stage judges the whole flow again, knowing every file.
    pub fn analyze(
        &mut self,
        batch: Vec<FinishedFlow>,
        prior: Vec<Vec<wit::FindingRecord>>,
    ) -> Vec<wit::Flow> {
        let mut flows: Vec<wit::Flow> = batch.into_iter().map(convert::flow_to_wit).collect();
        self.max_flow = flows.iter().map(|f| f.id).fold(self.max_flow, u64::max);
        for (flow, records) in flows.iter_mut().zip(prior) {
            for mut record in records {
                let rejudged = self
                    .stages
                    .iter()
                    .any(|s| s.spec.name == record.stage && !s.plugin.payload_flows_only);
                if rejudged {
                    continue;
                }
                record.finding.subject = wit::Subject::Flow(flow.id);
                self.rollups
                    .add_live(&record, flow.id, flow.client.ip, flow.server.ip);
                self.flow_findings += 1;
                flow.findings.push(record);
            }
        }
        let index: FxHashMap<u64, usize> =
            flows.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        if !self.stopped.is_empty() {
            let bits = self.stream_stages().count() as u8;
            for f in &flows {
                for bit in 0..bits {
                    self.stopped.remove(&(f.id, bit));
                }
            }
        }
        // The batch as the last stage got it packed: (which flows, with payloads, flow findings
        // then, the bytes). Stages only add findings to flows, so while none was added the next
        // stage that picks the same flows gets the same bytes, without packing them again (on a
        // flood of one-packet flows packing was a tenth of the analyzers' thread).
        let mut last_packed: Option<(bool, bool, u64, Vec<u8>)> = None;
        for i in 0..self.stages.len() {
            if !self.stages[i].running() {
                continue;
            }
            let findings_now = self.flow_findings;
            let stage = &mut self.stages[i];
            let only_payload = stage.plugin.payload_flows_only;
            let with_payload = stage.plugin.needs_payload;
            let picked: Vec<&wit::Flow> = flows
                .iter()
                .filter(|f| !only_payload || carried_payload(f))
                .collect();
            if picked.is_empty() {
                continue;
            }
            let result = stage.analyze(&picked, with_payload, || match &last_packed {
                Some((o, w, n, bytes))
                    if (*o, *w, *n) == (only_payload, with_payload, findings_now) =>
                {
                    bytes.clone()
                }
                _ => {
                    let bytes = crate::runtime::pack_flows(&picked, with_payload);
                    last_packed = Some((only_payload, with_payload, findings_now, bytes.clone()));
                    bytes
                }
            });
            drop(picked);
            match result {
                Ok(outcome) => self.apply(i, outcome, &mut flows, &index),
                Err(e) => self.failed(e.to_string()),
            }
        }
        flows
    }

    /// Calls every analyzer's `finish`. `progress` is told which stage is finishing.
    /// Whether any stage asked for link-layer events.
    pub fn wants_link_events(&self) -> bool {
        self.stages.iter().any(|s| s.plugin.wants_link_events)
    }

    /// The stream filter of each stage that asked for streams, in stage order: bit i of a chunk's
    /// `stages` is the i-th of them. Empty when none asked (the flow table then reassembles nothing).
    pub fn stream_filters(&self) -> Vec<StreamFilter> {
        self.stream_stages()
            .map(|i| self.stages[i].spec.streams.clone().unwrap_or_default())
            .collect()
    }

    fn stream_stages(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.stages.len()).filter(|i| self.stages[*i].spec.streams.is_some())
    }

    /// Hands the stream chunks of a stretch to the stages that asked for them, before the stretch's
    /// flows: each stage gets the chunks whose `stages` bit is its own, in order.
    pub fn streams(&mut self, chunks: &[StreamChunk]) {
        // A stage may raise a finding on a flow from its stream, before the flow itself comes.
        self.max_flow = chunks.iter().map(|c| c.flow).fold(self.max_flow, u64::max);
        let wanting: Vec<usize> = self.stream_stages().collect();
        for (bit, i) in wanting.into_iter().enumerate() {
            if !self.stages[i].running() {
                continue;
            }
            let stopped = &self.stopped;
            let batch: Vec<wit::StreamChunk> = chunks
                .iter()
                .filter(|c| c.stages & (1 << bit) != 0)
                .filter(|c| stopped.is_empty() || !stopped.contains(&(c.flow, bit as u8)))
                .map(convert::chunk_to_wit)
                .collect();
            if batch.is_empty() {
                continue;
            }
            match self.stages[i].analyze_stream(&batch) {
                Ok(mut outcome) => {
                    for flow in std::mem::take(&mut outcome.streams_done) {
                        self.stopped.insert((flow, bit as u8));
                    }
                    self.apply(i, outcome, &mut [], &FxHashMap::default())
                }
                Err(e) => self.failed(e.to_string()),
            }
        }
    }

    /// The host's run notes about reassembly: conflicting overlaps and what the budget cut.
    pub fn stream_notes(&mut self, stats: &StreamStats, budget_mb: usize) {
        let attr = |key: &str, value: u64| wit::Attribute {
            key: key.into(),
            value: value.to_string(),
        };
        if stats.conflicts > 0 {
            self.host_note(wit::RunNote {
                key: "streams.conflicting-overlaps".into(),
                level: wit::NoteLevel::Warning,
                message: format!(
                    "{} TCP segments in {} flows carried bytes that differ from bytes already received \
                     at the same place in the stream (evasion or corruption); the first copy was kept",
                    stats.conflicts, stats.conflict_flows
                ),
                attributes: vec![
                    attr("segments", stats.conflicts),
                    attr("flows", stats.conflict_flows),
                ],
            });
        }
        if stats.cut_streams > 0 {
            self.host_note(wit::RunNote {
                key: "streams.budget".into(),
                level: wit::NoteLevel::Warning,
                message: format!(
                    "The stream budget ({budget_mb} MB, [flows] stream_budget_mb) was exhausted by data \
                     held out of order: {} stream directions were cut and {} bytes were delivered as \
                     missing (gaps) instead of waiting for them",
                    stats.cut_streams, stats.cut_bytes
                ),
                attributes: vec![
                    attr("streams", stats.cut_streams),
                    attr("bytes", stats.cut_bytes),
                    attr("budget_mb", budget_mb as u64),
                ],
            });
        }
    }

    /// The host's run note when the flow table had to end flows early.
    pub fn eviction_note(&mut self, evicted: u64, max_active: usize) {
        if evicted == 0 {
            return;
        }
        self.host_note(wit::RunNote {
            key: "flows.evicted".into(),
            level: wit::NoteLevel::Warning,
            message: format!(
                "{evicted} flows were ended before their idle timeout (end reason `evicted`) because \
                 {max_active} flows were active at once ([flows] max_active_flows); a conversation that \
                 went on afterwards appears as more than one flow"
            ),
            attributes: vec![
                wit::Attribute {
                    key: "flows".into(),
                    value: evicted.to_string(),
                },
                wit::Attribute {
                    key: "max_active_flows".into(),
                    value: max_active.to_string(),
                },
            ],
        });
    }

    /// The host's run note for a capture without a single packet (a valid header and nothing
    /// after it, or a damaged first record): the empty report is the whole truth, not a failure to
    /// find anything.
    pub fn empty_capture_note(&mut self, packets: u64, read_error: bool) {
        if packets > 0 {
            return;
        }
        let why = if read_error {
            "the capture broke before its first packet (see the read error)"
        } else {
            "the file is a valid capture with a header and no packet records"
        };
        self.host_note(wit::RunNote {
            key: "capture.no-packets".into(),
            level: wit::NoteLevel::Warning,
            message: format!(
                "The capture holds no packets: {why}; this report is empty for that reason"
            ),
            attributes: Vec::new(),
        });
    }

    /// Whether a stage's finding may go on: refused when its tag is empty or holds white space or
    /// control characters, or when it is about a flow that does not exist; ids of flows that do not
    /// exist are taken out of its `flows` list. Refusals are counted for [`Analyzers::refusal_notes`].
    fn admit(&mut self, stage: &str, finding: &mut wit::Finding) -> bool {
        let max = self.max_flow;
        let exists = |id: u64| (1..=max).contains(&id);
        let tag = &finding.tag;
        let bad_tag = tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control());
        let unknown = match finding.subject {
            wit::Subject::Flow(id) => (!exists(id)).then_some(id),
            _ => None,
        };
        let before = finding.flows.len();
        finding.flows.retain(|id| exists(*id));
        let dropped = (before - finding.flows.len()) as u64;
        if !bad_tag && unknown.is_none() && dropped == 0 {
            return true;
        }
        let r = self.refused.entry(stage.to_string()).or_default();
        r.dropped_references += dropped;
        if bad_tag {
            r.bad_tag.0 += 1;
            r.bad_tag
                .1
                .get_or_insert_with(|| tag.chars().take(64).collect());
            return false;
        }
        if let Some(id) = unknown {
            r.unknown_flow.0 += 1;
            r.unknown_flow.1.get_or_insert(id);
            return false;
        }
        true
    }

    /// One run note per stage whose findings the host refused (see [`Analyzers::admit`]); call once,
    /// after `finish`.
    pub fn refusal_notes(&mut self) {
        for (stage, r) in std::mem::take(&mut self.refused) {
            let mut parts = Vec::new();
            if let (n, Some(id)) = r.unknown_flow {
                parts.push(format!(
                    "{n} finding{} about a flow that does not exist (the first: flow {id}; flows are numbered 1 to {})",
                    if n == 1 { "" } else { "s" },
                    self.max_flow
                ));
            }
            if let (n, Some(tag)) = &r.bad_tag {
                parts.push(format!(
                    "{n} finding{} whose tag is empty or holds white space or control characters (the first: {tag:?})",
                    if *n == 1 { "" } else { "s" }
                ));
            }
            if r.dropped_references > 0 {
                parts.push(format!(
                    "{} reference{} to flows that do not exist taken out of findings' flow lists",
                    r.dropped_references,
                    if r.dropped_references == 1 { "" } else { "s" }
                ));
            }
            let message = format!(
                "stage `{stage}` raised what the reports cannot stand behind, left out: {}",
                parts.join("; ")
            );
            self.services.log.host(Level::Warn, &message);
            self.host_note(wit::RunNote {
                key: "findings.refused".into(),
                level: wit::NoteLevel::Warning,
                message,
                attributes: [
                    ("stage", stage.clone()),
                    ("unknown_flow", r.unknown_flow.0.to_string()),
                    ("bad_tag", r.bad_tag.0.to_string()),
                    ("dropped_references", r.dropped_references.to_string()),
                ]
                .into_iter()
                .map(|(key, value)| wit::Attribute {
                    key: key.into(),
                    value,
                })
                .collect(),
            });
        }
    }

    fn host_note(&mut self, note: wit::RunNote) {
        self.notes.push(wit::NoteRecord {
            stage: "host".into(),
            note,
        });
    }

    /// Hands the link-layer events of a stretch to the stages that asked for them.
    pub fn link(&mut self, batch: wit::LinkBatch) {
        for i in 0..self.stages.len() {
            if !self.stages[i].running() || !self.stages[i].plugin.wants_link_events {
                continue;
            }
            match self.stages[i].analyze_link(&batch) {
                Ok(outcome) => self.apply(i, outcome, &mut [], &FxHashMap::default()),
                Err(e) => self.failed(e.to_string()),
            }
        }
    }

    pub fn finish(&mut self, progress: &mut dyn FnMut(String)) {
        for i in 0..self.stages.len() {
            if !self.stages[i].running() {
                continue;
            }
            progress(format!("finishing {}", self.stages[i].spec.name));
            match self.stages[i].finish() {
                Ok(outcome) => self.apply(i, outcome, &mut [], &FxHashMap::default()),
                Err(e) => self.failed(e.to_string()),
            }
        }
    }

    /// The roll-ups of the run's flow findings, read back in order; call once, after `finish`, and
    /// count each with [`Analyzers::count`].
    pub fn take_rollups(&mut self) -> std::io::Result<rollup::Finished> {
        self.rollups_scratch = self.rollups.scratch_bytes();
        if let Some(why) = self.rollups.scratch_refused() {
            let message = format!(
                "the roll-ups of flow findings stayed in memory: their scratch file could not be written ({why})"
            );
            self.services.log.host(Level::Warn, &message);
        }
        std::mem::take(&mut self.rollups).finish()
    }

    /// Counts a roll-up by its tag.
    pub fn count(&mut self, rollup: &wit::FindingRecord) {
        *self.by_tag.entry(rollup.finding.tag.clone()).or_default() += 1;
    }

    fn failed(&mut self, message: String) {
        self.services.log.host(Level::Error, &message);
        self.failures.push(message);
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
        for note in outcome.notes {
            self.notes.push(wit::NoteRecord {
                stage: name.clone(),
                note,
            });
        }
        for mut finding in outcome.findings {
            if !self.admit(&name, &mut finding) {
                continue;
            }
            let record = wit::FindingRecord {
                stage: name.clone(),
                finding,
                rollup: false,
            };
            // A flow finding travels on its flow to the outputs, and into its roll-up; one about a
            // flow that has gone by only into its roll-up; the others go to the outputs on their own.
            if let wit::Subject::Flow(id) = record.finding.subject {
                if let Some(&i) = index.get(&id) {
                    let flow = &mut flows[i];
                    self.rollups
                        .add_live(&record, id, flow.client.ip, flow.server.ip);
                    flow.findings.push(record);
                } else {
                    self.rollups.add_late(record, id);
                }
                self.flow_findings += 1;
                continue;
            }
            *self.by_tag.entry(record.finding.tag.clone()).or_default() += 1;
            self.loose.push(record);
        }
    }
}

/// Whether a flow carried payload in either direction (stages with `payload-flows-only` get no others).
fn carried_payload(f: &wit::Flow) -> bool {
    f.to_server.payload_bytes > 0 || f.to_client.payload_bytes > 0
}
