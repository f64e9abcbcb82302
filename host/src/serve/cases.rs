//! Cases on disk: one folder per uploaded capture, `<data>/<id>/` holding `capture.pcap`, `report/` and
//! `case.json` (name, size, times, status, error, summary). The folder is the truth, so cases survive a
//! restart and can be copied or deleted by hand; the server keeps no other index.
//!
//! Case ids are 128 random bits in lower-case hex, made by the server and checked on every request, so a
//! URL can never name anything but a case folder.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A validated case id: 32 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CaseId(String);

impl CaseId {
    /// A new random id.
    pub fn generate() -> CaseId {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).expect("the operating system provides random bytes");
        CaseId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// `Some` only for a well-formed id.
    pub fn parse(s: &str) -> Option<CaseId> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| CaseId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an analysis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Uploaded, waiting for a free analysis slot.
    Queued,
    Running,
    /// Finished with a report (possibly incomplete: see `summary.problems`).
    Done,
    /// No report: see `error`.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed)
    }
}

/// Live counters of a running analysis (from [`crate::run::Progress`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub packets: u64,
    pub flows: u64,
    pub phase: String,
}

impl From<&crate::run::Progress> for Progress {
    fn from(p: &crate::run::Progress) -> Progress {
        Progress {
            bytes_read: p.bytes_read,
            bytes_total: p.bytes_total,
            packets: p.packets,
            flows: p.flows,
            phase: p.phase.clone(),
        }
    }
}

/// The outcome of a finished run, for the case list and the explore page.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub packets: u64,
    pub flows: u64,
    pub hosts: usize,
    pub findings: u64,
    pub seconds: f64,
    /// What is missing from the report (stopped stages, a damaged capture).
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// What became of the packets, in table order (absent from cases analyzed before it existed).
    #[serde(default)]
    pub packet_fates: Vec<crate::run::FateCount>,
    /// Said when the Tor consensuses the analysis could read do not cover the capture's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tor_note: Option<String>,
}

/// `case.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseMeta {
    pub id: String,
    /// The uploaded file's name: the evidence's name in every report (never used as a path).
    pub name: String,
    /// What the investigator called the case, if anything (shown above the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Capture size in bytes.
    pub size: u64,
    /// Unix seconds.
    pub uploaded: u64,
    pub started: Option<u64>,
    pub finished: Option<u64>,
    pub status: Status,
    pub error: Option<String>,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default)]
    pub summary: Option<Summary>,
    /// A case whose evidence is a lake (`serve --lake`): its flows are read from there, joined across
    /// rotated files (`run --from-lake`), instead of from an uploaded capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake: Option<PathBuf>,
}

impl CaseMeta {
    pub fn new(id: &CaseId, name: String, size: u64) -> CaseMeta {
        CaseMeta {
            id: id.as_str().to_string(),
            name,
            title: None,
            size,
            uploaded: now(),
            started: None,
            finished: None,
            status: Status::Queued,
            error: None,
            progress: None,
            summary: None,
            lake: None,
        }
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const META: &str = "case.json";
const CAPTURE: &str = "capture.pcap";
const REPORT: &str = "report";

/// The data folder.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating) the data folder and tidies what an earlier server left behind: a folder without
    /// `case.json` is an upload that never finished and is removed; an analysis that was queued or
    /// running when the server stopped is marked failed, saying so.
    pub fn open(dir: &Path) -> io::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let store = Store {
            dir: std::path::absolute(dir)?,
        };
        for entry in std::fs::read_dir(&store.dir)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().and_then(CaseId::parse) else {
                continue;
            };
            match store.load(&id) {
                None => {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
                Some(mut meta) if !meta.status.finished() => {
                    meta.status = Status::Failed;
                    meta.error = Some(
                        "the server stopped before this analysis finished; re-run the case to analyze it again"
                            .into(),
                    );
                    store.save(&meta)?;
                }
                Some(_) => {}
            }
        }
        Ok(store)
    }

    pub fn case_dir(&self, id: &CaseId) -> PathBuf {
        self.dir.join(id.as_str())
    }

    pub fn capture_path(&self, id: &CaseId) -> PathBuf {
        self.case_dir(id).join(CAPTURE)
    }

    pub fn report_dir(&self, id: &CaseId) -> PathBuf {
        self.case_dir(id).join(REPORT)
    }

    /// A new, empty case folder.
    pub fn create(&self, id: &CaseId) -> io::Result<PathBuf> {
        let dir = self.case_dir(id);
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// `case.json` of a case, if the case exists.
    pub fn load(&self, id: &CaseId) -> Option<CaseMeta> {
        let text = std::fs::read_to_string(self.case_dir(id).join(META)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes `case.json` atomically (a reader never sees half a file).
    pub fn save(&self, meta: &CaseMeta) -> io::Result<()> {
        let id = CaseId::parse(&meta.id).ok_or_else(|| io::Error::other("bad case id"))?;
        let dir = self.case_dir(&id);
        let tmp = dir.join(".case.json.tmp");
        let text = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(META))
    }

    /// Every case, newest first.
    pub fn list(&self) -> Vec<CaseMeta> {
        let mut cases: Vec<CaseMeta> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(CaseId::parse))
            .filter_map(|id| self.load(&id))
            .collect();
        cases.sort_by(|a, b| b.uploaded.cmp(&a.uploaded).then(b.id.cmp(&a.id)));
        cases
    }

    /// What an investigator may call a case: no control characters, at most 200 characters; empty
    /// means no name.
    pub fn clean_title(raw: &str) -> Option<String> {
        let clean: String = raw.chars().filter(|c| !c.is_control()).take(200).collect();
        let clean = clean.trim();
        (!clean.is_empty()).then(|| clean.to_string())
    }

    /// Deletes a case folder with everything in it.
    pub fn remove(&self, id: &CaseId) -> io::Result<()> {
        std::fs::remove_dir_all(self.case_dir(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_made_ids_are_accepted() {
        let id = CaseId::generate();
        assert_eq!(CaseId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(CaseId::generate(), id);
        for bad in [
            "",
            "..",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde/",
            "../23456789abcdef0123456789abcdef",
        ] {
            assert!(CaseId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn interrupted_uploads_and_analyses_are_tidied_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (done, running, partial) = (CaseId::generate(), CaseId::generate(), CaseId::generate());
        for id in [&done, &running, &partial] {
            store.create(id).unwrap();
        }
        let mut meta = CaseMeta::new(&done, "a.pcap".into(), 1);
        meta.status = Status::Done;
        store.save(&meta).unwrap();
        let mut meta = CaseMeta::new(&running, "b.pcap".into(), 1);
        meta.status = Status::Running;
        store.save(&meta).unwrap();

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load(&done).unwrap().status, Status::Done);
        let interrupted = store.load(&running).unwrap();
        assert_eq!(interrupted.status, Status::Failed);
        assert!(interrupted.error.unwrap().contains("server stopped"));
        assert!(!store.case_dir(&partial).exists());
        assert_eq!(store.list().len(), 2);
    }
}
