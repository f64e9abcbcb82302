//! Background analyses. Each case gets a task that waits for one of a few slots (a semaphore), then runs
//! [`crate::run::run`] on a blocking thread; the run's progress callback writes into a `watch` channel
//! that the Server-Sent Events of the case page read. Every path out of a run (report, error, panic)
//! ends in `done` or `failed` with the reason, saved in `case.json`: the page never waits forever.

use super::cases::{CaseId, CaseMeta, Progress, Status, Store, Summary, now};
use crate::run::{RunOptions, RunSummary};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, watch};

/// The analyses that are queued or running.
pub struct Jobs {
    store: Arc<Store>,
    pipeline: PathBuf,
    slots: Arc<Semaphore>,
    /// The folders the pipeline's `tor` stages read, to say when their consensuses miss a capture.
    tor_folders: Vec<PathBuf>,
    live: Mutex<HashMap<String, Live>>,
}

/// A queued or running case.
struct Live {
    tx: Arc<watch::Sender<CaseMeta>>,
    /// Set by [`Jobs::cancel`]; the run watches it.
    cancel: Arc<AtomicBool>,
    /// A re-run's case as it was before, with its report: what a cancelled re-run goes back to.
    earlier: Option<CaseMeta>,
}

impl Jobs {
    pub fn new(
        store: Arc<Store>,
        pipeline: PathBuf,
        at_once: usize,
        tor_folders: Vec<PathBuf>,
    ) -> Arc<Jobs> {
        Arc::new(Jobs {
            store,
            pipeline,
            slots: Arc::new(Semaphore::new(at_once)),
            tor_folders,
            live: Mutex::new(HashMap::new()),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the analysis of a freshly uploaded case (its `case.json` says `queued`).
    pub fn enqueue(self: &Arc<Self>, meta: CaseMeta) {
        self.enqueue_after(meta, None);
    }

    /// Queues an analysis; `earlier` is the case before a re-run (kept if the re-run is cancelled).
    fn enqueue_after(self: &Arc<Self>, meta: CaseMeta, earlier: Option<CaseMeta>) {
        let Some(id) = CaseId::parse(&meta.id) else {
            return;
        };
        let (tx, _) = watch::channel(meta);
        let tx = Arc::new(tx);
        let cancel = Arc::new(AtomicBool::new(false));
        let live = Live {
            tx: tx.clone(),
            cancel: cancel.clone(),
            earlier,
        };
        self.live().insert(id.as_str().to_string(), live);
        let jobs = self.clone();
        tokio::spawn(async move { jobs.run_case(id, tx, cancel).await });
    }

    /// The state of a case: live while it is queued or running, else from its folder.
    pub fn current(&self, id: &CaseId) -> Option<CaseMeta> {
        if let Some(live) = self.live().get(id.as_str()) {
            return Some(live.tx.borrow().clone());
        }
        self.store.load(id)
    }

    /// The state of every queued or running case at one moment (so a list of cases never shows more
    /// running than can run: a case that ends and the one that takes its slot are never both counted).
    pub fn snapshot(&self) -> HashMap<String, CaseMeta> {
        self.live()
            .iter()
            .map(|(id, live)| (id.clone(), live.tx.borrow().clone()))
            .collect()
    }

    /// Updates of a queued or running case; `None` once it has finished (read `current`).
    pub fn subscribe(&self, id: &CaseId) -> Option<watch::Receiver<CaseMeta>> {
        self.live().get(id.as_str()).map(|live| live.tx.subscribe())
    }

    /// Analyzes a finished case again with the pipeline as it is now (after a failure or a change to
    /// the pipeline), from the capture it keeps: no new upload. Its report is replaced when the run
    /// ends; until then the earlier one stays.
    pub fn rerun(self: &Arc<Self>, id: &CaseId) -> Result<(), ChangeError> {
        if self.live().contains_key(id.as_str()) {
            return Err(ChangeError::Busy);
        }
        let mut meta = self.store.load(id).ok_or(ChangeError::NotFound)?;
        let earlier = (meta.status == Status::Done).then(|| meta.clone());
        meta.status = Status::Queued;
        meta.started = None;
        meta.finished = None;
        meta.error = None;
        meta.progress = None;
        self.store
            .save(&meta)
            .map_err(|e| ChangeError::Io(e.to_string()))?;
        self.enqueue_after(meta, earlier);
        Ok(())
    }

    /// Cancels a queued or running analysis. A queued one leaves the queue at once; a running one
    /// stops within moments (the run checks between batches, and a plugin call in progress is
    /// interrupted). Either way no report is written: a re-run goes back to the case as it was with
    /// its earlier report, anything else ends `failed`, saying it was cancelled.
    pub fn cancel(&self, id: &CaseId) -> Result<(), ChangeError> {
        let mut live = self.live();
        let Some(entry) = live.get(id.as_str()) else {
            return match self.store.load(id) {
                Some(_) => Err(ChangeError::NotRunning),
                None => Err(ChangeError::NotFound),
            };
        };
        entry.cancel.store(true, Ordering::Relaxed);
        if entry.tx.borrow().status != Status::Queued {
            // The running job ends the case itself when its run returns.
            return Ok(());
        }
        let entry = live.remove(id.as_str()).expect("looked up above");
        drop(live);
        let meta = cancelled(&entry, 0);
        let saved = self.store.save(&meta);
        entry.tx.send_replace(meta);
        saved.map_err(|e| ChangeError::Io(e.to_string()))
    }

    /// Opens a lake as a case (`serve --lake`): the case that already reads this lake is analyzed
    /// again (the lake may have grown since), else a new one is made. Returns its id.
    pub fn open_lake(self: &Arc<Self>, root: &Path) -> std::io::Result<String> {
        if let Some(meta) = self
            .store
            .list()
            .into_iter()
            .find(|m| m.lake.as_deref() == Some(root))
        {
            let id = CaseId::parse(&meta.id).ok_or_else(|| std::io::Error::other("bad case id"))?;
            return match self.rerun(&id) {
                Ok(()) | Err(ChangeError::Busy) => Ok(meta.id),
                Err(ChangeError::Io(e)) => Err(std::io::Error::other(e)),
                Err(ChangeError::NotFound) => Err(std::io::Error::other("its case vanished")),
                Err(ChangeError::NotRunning) => Err(std::io::Error::other("nothing to cancel")),
            };
        }
        let id = CaseId::generate();
        self.store.create(&id)?;
        let mut meta = CaseMeta::new(&id, format!("lake {}", root.display()), 0);
        meta.lake = Some(root.to_path_buf());
        self.store.save(&meta)?;
        self.enqueue(meta);
        Ok(id.as_str().to_string())
    }

    /// Names a case (`None` takes the name away), whatever its state.
    pub fn rename(&self, id: &CaseId, title: Option<String>) -> Result<(), ChangeError> {
        let mut live = self.live();
        let mut meta = match live.get_mut(id.as_str()) {
            Some(entry) => {
                // The running job saves what its channel holds when it ends (and a cancelled
                // re-run the case as it was, renamed too).
                entry.tx.send_modify(|m| m.title = title.clone());
                if let Some(earlier) = &mut entry.earlier {
                    earlier.title = title.clone();
                }
                entry.tx.borrow().clone()
            }
            None => self.store.load(id).ok_or(ChangeError::NotFound)?,
        };
        meta.title = title;
        self.store
            .save(&meta)
            .map_err(|e| ChangeError::Io(e.to_string()))
    }

    /// Deletes a case unless it is being analyzed right now. A queued case is taken off the queue.
    pub fn delete(&self, id: &CaseId) -> Result<(), DeleteError> {
        let mut live = self.live();
        if let Some(entry) = live.get(id.as_str()) {
            if entry.tx.borrow().status == Status::Running {
                return Err(DeleteError::Running);
            }
            entry.cancel.store(true, Ordering::Relaxed);
            live.remove(id.as_str());
        }
        if self.store.load(id).is_none() {
            return Err(DeleteError::NotFound);
        }
        self.store
            .remove(id)
            .map_err(|e| DeleteError::Io(e.to_string()))
    }

    async fn run_case(
        self: Arc<Self>,
        id: CaseId,
        tx: Arc<watch::Sender<CaseMeta>>,
        cancel: Arc<AtomicBool>,
    ) {
        let Ok(_slot) = self.slots.clone().acquire_owned().await else {
            return;
        };
        {
            // Under the lock `cancel` takes: a case is either cancelled while queued (and ended by
            // `cancel`) or seen running by it (and ended here when its run returns), never both.
            let _live = self.live();
            // Deleted or cancelled while it waited? (It may be queued again since, by another job.)
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            tx.send_modify(|m| {
                m.status = Status::Running;
                m.started = Some(now());
                m.progress = Some(Progress {
                    bytes_total: m.size,
                    phase: "starting".into(),
                    ..Progress::default()
                });
            });
        }
        let _ = self.store.save(&tx.borrow().clone());
        let lake = tx.borrow().lake.clone();
        let capture = lake.clone().unwrap_or_else(|| self.store.capture_path(&id));
        let opts = RunOptions {
            pipeline: self.pipeline.clone(),
            capture: capture.clone(),
            evidence_name: Some(tx.borrow().name.clone()),
            out_dir: self.store.report_dir(&id),
            verbose: false,
            bar: None,
            on_progress: Some(progress_sink(tx.clone())),
            from_lake: lake.map(|root| crate::run::FromLake { root, sensor: None }),
            cancel: Some(cancel.clone()),
        };
        let outcome = tokio::task::spawn_blocking(move || crate::run::run(opts)).await;
        let mut meta = tx.borrow().clone();
        meta.finished = Some(now());
        meta.summary = None;
        match outcome {
            Ok(Ok(summary)) => {
                meta.status = Status::Done;
                let mut summary = summarize(&summary, &meta.name, &capture);
                let (folders, case_dir) = (self.tor_folders.clone(), self.store.case_dir(&id));
                // The page's compact model is made now, not when the page first asks for it.
                summary.tor_note = tokio::task::spawn_blocking(move || {
                    let _ = super::explore::model(&case_dir);
                    tor_note(&folders, &case_dir.join("report"))
                })
                .await
                .ok()
                .flatten();
                meta.summary = Some(summary);
            }
            Ok(Err(crate::run::RunError::Cancelled { packets })) => {
                if let Some(entry) = self.live().get(id.as_str()) {
                    meta = cancelled(entry, packets);
                }
            }
            Ok(Err(e)) => {
                meta.status = Status::Failed;
                meta.error = Some(localize(&e.to_string(), &meta.name, &capture));
            }
            Err(e) => {
                meta.status = Status::Failed;
                meta.error = Some(format!(
                    "the analysis stopped unexpectedly ({e}); this is a bug in pcapxray"
                ));
            }
        }
        // Saved before it is announced, so whoever sees `done` also finds it on disk.
        if self.store.save(&meta).is_err() && meta.status == Status::Done {
            meta.status = Status::Failed;
            meta.error =
                Some("the analysis finished but its case.json could not be written".into());
        }
        tx.send_replace(meta);
        self.live().remove(id.as_str());
    }
}

/// What a cancelled case becomes: a re-run goes back to the case as it was before (done, with its
/// earlier report, which was never replaced); anything else has no report and says why.
fn cancelled(entry: &Live, packets: u64) -> CaseMeta {
    if let Some(earlier) = &entry.earlier {
        return earlier.clone();
    }
    let mut meta = entry.tx.borrow().clone();
    let started = meta.status == Status::Running;
    meta.status = Status::Failed;
    meta.finished = Some(now());
    meta.progress = None;
    meta.summary = None;
    meta.error = Some(if started {
        format!(
            "The analysis was cancelled after {packets} packets, at the investigator's request; no report was written. Analyze it again to get one."
        )
    } else {
        "The analysis was cancelled before it started, at the investigator's request; no report was written. Analyze it again to get one.".to_string()
    });
    meta
}

/// Why a case could not be re-run, renamed or cancelled.
#[derive(Debug)]
pub enum ChangeError {
    NotFound,
    /// Queued or running already.
    Busy,
    /// Neither queued nor running: nothing to cancel.
    NotRunning,
    Io(String),
}

/// Why a case could not be deleted.
#[derive(Debug)]
pub enum DeleteError {
    NotFound,
    Running,
    Io(String),
}

/// The run's progress callback: every update replaces the last (a `watch` keeps only the newest).
fn progress_sink(tx: Arc<watch::Sender<CaseMeta>>) -> crate::run::ProgressFn {
    Box::new(move |p| {
        tx.send_modify(|m| m.progress = Some(Progress::from(p)));
    })
}

/// The summary for the page, with the uploaded name instead of the server's own path.
fn summarize(s: &RunSummary, name: &str, capture: &Path) -> Summary {
    let local = |v: &Vec<String>| v.iter().map(|m| localize(m, name, capture)).collect();
    Summary {
        packets: s.packets,
        flows: s.flows,
        hosts: s.hosts,
        findings: s.findings_by_tag.values().sum(),
        seconds: s.seconds,
        problems: local(&s.problems),
        warnings: local(&s.warnings),
        packet_fates: s.packet_fates.clone(),
        tor_note: None,
    }
}

/// The capture's first and last packet as report.json gives them.
#[derive(serde::Deserialize)]
struct CaptureTimes {
    capture: Times,
}

#[derive(serde::Deserialize)]
struct Times {
    first_packet: Option<String>,
    last_packet: Option<String>,
}

/// A sentence when the pipeline reads Tor consensuses, some are there, and none covers the whole
/// capture (with none at all the `tor` stage says so itself).
fn tor_note(folders: &[PathBuf], report_dir: &Path) -> Option<String> {
    use crate::torimport::{coverage, covers, list};
    let docs: Vec<_> = folders.iter().flat_map(|f| list(f)).collect();
    if docs.is_empty() {
        return None;
    }
    let file = std::fs::File::open(report_dir.join("report.json")).ok()?;
    let times: CaptureTimes = serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
    // `2011-03-18T19:06:07.096535Z` → `2011-03-18 19:06:07`, the consensus's own format.
    let plain = |t: &str| t.get(..19).map(|t| t.replace('T', " "));
    let first = plain(times.capture.first_packet.as_deref()?)?;
    let last = plain(times.capture.last_packet.as_deref()?)?;
    let spans = coverage(&docs);
    if covers(&spans, &first, &last) {
        return None;
    }
    let held: Vec<String> = spans
        .iter()
        .take(5)
        .map(|(a, b)| format!("{a} to {b}"))
        .collect();
    Some(format!(
        "The Tor consensuses this server holds cover {}{} (UTC), not all of this capture ({first} to {last} UTC): relays were matched against the nearest consensus in time, whose relays may have changed. Add consensuses of the capture's dates on the Tor relays page, then analyze the case again.",
        held.join(", "),
        if spans.len() > 5 { " and more" } else { "" }
    ))
}

/// A message for the page: the uploaded name instead of the server's own path.
fn localize(message: &str, name: &str, capture: &Path) -> String {
    message.replace(&capture.display().to_string(), name)
}
