//! `pcapxray batch`: many captures into one lake on one machine, by a pool of workers each running one
//! capture at a time (a capture file is the unit of work: it cannot be split by byte offsets). Every
//! capture goes through exactly what `run --lake` does, so the lake is the same whether its captures
//! came one `run` at a time, from a batch, or from tasks of a cluster engine; how many workers ran
//! them, and in what order they finished, changes nothing in it.

use crate::lake::LakeOptions;
use crate::run::{RunOptions, run_into_lake};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What `pcapxray batch` needs.
pub struct BatchOptions {
    pub pipeline: PathBuf,
    /// Capture files, in the order given (folders already expanded).
    pub captures: Vec<PathBuf>,
    pub lake: LakeOptions,
    /// Captures analyzed at once.
    pub jobs: usize,
    /// Where each capture's report folder goes (`<name>-report`); `None` keeps no report folders.
    pub out: Option<PathBuf>,
    /// Set from elsewhere (Ctrl-C) to cancel the batch: running captures stop as `run` does on a
    /// cancel (writing nothing into the lake or their report folders), queued ones never start.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// How one capture of a batch went.
pub struct BatchItem {
    pub capture: PathBuf,
    /// `Ok((flows, problems))`, or why nothing was written.
    pub result: Result<(u64, Vec<String>), crate::run::RunError>,
    pub seconds: f64,
    /// Not started: the batch was cancelled while it waited (`result` says so too).
    pub not_started: bool,
}

impl BatchOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Runs every capture into the lake; returns one item per capture, in the order given.
pub fn batch(opts: &BatchOptions) -> Vec<BatchItem> {
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..opts.captures.len()).collect());
    let done: Mutex<Vec<Option<BatchItem>>> =
        Mutex::new((0..opts.captures.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, opts.captures.len().max(1)) {
            scope.spawn(|| {
                while let Some(i) = next(&queue) {
                    let item = if opts.cancelled() {
                        BatchItem {
                            capture: opts.captures[i].clone(),
                            result: Err(crate::run::RunError::Other(
                                "not analyzed: the batch was cancelled before it started".into(),
                            )),
                            seconds: 0.0,
                            not_started: true,
                        }
                    } else {
                        run_one(opts, i)
                    };
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(item);
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn next(queue: &Mutex<VecDeque<usize>>) -> Option<usize> {
    queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
}

fn run_one(opts: &BatchOptions, i: usize) -> BatchItem {
    let started = Instant::now();
    let capture = opts.captures[i].clone();
    let (out_dir, scratch) = report_dir(opts, i);
    let run = RunOptions {
        pipeline: opts.pipeline.clone(),
        capture: capture.clone(),
        evidence_name: None,
        out_dir,
        verbose: false,
        bar: None,
        on_progress: None,
        from_lake: None,
        cancel: opts.cancel.clone(),
    };
    let result = run_into_lake(run, Some(opts.lake.clone())).map(|s| (s.flows, s.problems));
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    BatchItem {
        capture,
        result,
        seconds: started.elapsed().as_secs_f64(),
        not_started: false,
    }
}

/// The report folder of capture `i`, and the scratch folder to delete afterwards when no report
/// folders are kept. Names carry the index, so two captures with the same name never share one.
fn report_dir(opts: &BatchOptions, i: usize) -> (PathBuf, Option<PathBuf>) {
    let stem = opts.captures[i]
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("capture");
    match &opts.out {
        Some(out) => (out.join(format!("{i:04}-{stem}-report")), None),
        None => {
            let scratch = opts
                .lake
                .root
                .join(".staging")
                .join(format!("batch-{}-{i}", std::process::id()));
            (scratch.join("report"), Some(scratch))
        }
    }
}

/// The capture files among `paths`: files as given, and the `.pcap`, `.pcapng` and `.cap` files of
/// folders (not descending further), sorted by name. A folder without any is an error naming it: a
/// mistyped folder must not make an empty batch that succeeds.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, crate::lake::LakeError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|error| crate::lake::LakeError::Io {
                    what: "list",
                    path: p.clone(),
                    error,
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_capture(f))
                .collect();
            if found.is_empty() {
                return Err(crate::lake::LakeError::Io {
                    what: "find a capture file (.pcap, .pcapng or .cap) in",
                    path: p.clone(),
                    error: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the folder has none (folders are not searched further down)",
                    ),
                });
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_capture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "pcap" | "pcapng" | "cap"))
}
