//! The report folder is replaced whole or not at all.
//!
//! A run never writes into the folder the user named. It writes into a fresh hidden sibling
//! (`.NAME.pcapxray-tmp-PID-N`, same parent, so the same file system) and only when the run has produced
//! a report does it swap that sibling into place: with one atomic `renameat2(RENAME_EXCHANGE)` where the
//! file system supports it, else with two renames. So:
//! - a pipeline or capture error, or a run that produced nothing, never touches an existing report (the
//!   sibling is removed, and a folder that did not exist is not created);
//! - a run killed part-way leaves the previous report as it was; its half-written sibling is hidden,
//!   never read, and removed by the next run into the same folder;
//! - an existing folder is replaced only when everything in it is what an earlier run wrote: every entry
//!   is a regular file listed in its marker (`.pcapxray-report`) or a folder on the way to one. A marker
//!   that names a path outside the folder, anything not a regular file, a symbolic link anywhere inside,
//!   or a file the marker does not list (a user's notes) makes the run refuse, before any work, with the
//!   reason. Nothing is ever followed out of the folder, because nothing inside it is written through an
//!   existing path.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The file in a report folder that lists, one relative path per line, the files the run wrote.
pub const MARKER: &str = ".pcapxray-report";

/// Why a report folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(
        "the report folder {0} already exists and was not written by pcapxray (it has no {MARKER} file); choose another with -o"
    )]
    NotOurs(PathBuf),
    #[error("the report folder {0} is not a folder")]
    NotAFolder(PathBuf),
    #[error(
        "the report folder {0} is a symbolic link; pcapxray replaces report folders whole and will not follow a link: give the real folder with -o"
    )]
    IsSymlink(PathBuf),
    #[error(
        "the report folder {dir} holds {entry}, which pcapxray did not write ({why}); move it away or choose another folder with -o"
    )]
    Foreign {
        dir: PathBuf,
        entry: String,
        why: &'static str,
    },
    #[error(
        "the marker {} names {entry:?}, which is not a plain path inside the folder; the folder was not touched",
        .dir.join(MARKER).display()
    )]
    BadMarker { dir: PathBuf, entry: String },
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + use<> {
    let path = path.to_path_buf();
    move |source| FolderError::Io { what, path, source }
}

/// A report being written: the hidden sibling the run writes into, and the folder it will replace.
/// Dropped without [`PendingFolder::commit`], it removes the sibling and leaves the folder as it was.
#[derive(Debug)]
pub struct PendingFolder {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

impl PendingFolder {
    /// Checks that `target` may be replaced and creates the staging sibling. Nothing at `target` is
    /// changed. Leftover siblings of runs that were killed are removed here.
    pub fn prepare(target: &Path) -> Result<PendingFolder, FolderError> {
        let target = absolute(target)?;
        check_replaceable(&target)?;
        let (parent, name) = split(&target)?;
        fs::create_dir_all(&parent).map_err(io("create", &parent))?;
        remove_stale_siblings(&parent, &name);
        let staging = parent.join(format!(
            "{}{}-{}",
            staging_prefix(&name),
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of this very pid (a restarted server) is as stale as any other.
        if staging.symlink_metadata().is_ok() {
            let _ = fs::remove_dir_all(&staging);
        }
        fs::create_dir(&staging).map_err(io("create", &staging))?;
        Ok(PendingFolder {
            target,
            staging,
            committed: false,
        })
    }

    /// Where the run writes.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Where the report will be.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the marker listing `files` (paths inside the staging folder) and puts the report in
    /// place of the target folder. The previous report, if any, is removed afterwards.
    pub fn commit(mut self, files: &[PathBuf]) -> Result<PathBuf, FolderError> {
        let list: String = files
            .iter()
            .filter_map(|f| f.strip_prefix(&self.staging).ok())
            .map(|p| format!("{}\n", p.display()))
            .collect();
        let marker = self.staging.join(MARKER);
        fs::write(&marker, list).map_err(io("write", &marker))?;
        // The folder may have changed since `prepare` (another run, a user): check again.
        check_replaceable(&self.target)?;
        if self.target.symlink_metadata().is_err() {
            fs::rename(&self.staging, &self.target)
                .map_err(io("move the report to", &self.target))?;
        } else {
            exchange(&self.staging, &self.target)?;
            // The staging path now holds the previous report.
            let _ = fs::remove_dir_all(&self.staging);
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for PendingFolder {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

fn absolute(target: &Path) -> Result<PathBuf, FolderError> {
    std::path::absolute(target).map_err(io("resolve", target))
}

fn split(target: &Path) -> Result<(PathBuf, String), FolderError> {
    match (target.parent(), target.file_name()) {
        (Some(parent), Some(name)) => {
            Ok((parent.to_path_buf(), name.to_string_lossy().into_owned()))
        }
        _ => Err(FolderError::NotAFolder(target.to_path_buf())),
    }
}

fn staging_prefix(name: &str) -> String {
    format!(".{name}.pcapxray-tmp-")
}

/// Removes `.NAME.pcapxray-tmp-PID-N` siblings whose process is gone (a run that was killed).
fn remove_stale_siblings(parent: &Path, name: &str) {
    let prefix = staging_prefix(name);
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| p != std::process::id() && process_alive(p));
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if pid.is_some() && !alive && is_dir {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without a cheap way to ask, assume it is alive: a leftover stays hidden, it is never read.
        true
    }
}

/// May the folder at `target` be replaced? Yes when it does not exist, is empty, or holds exactly what
/// its marker lists.
fn check_replaceable(target: &Path) -> Result<(), FolderError> {
    let meta = match target.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("read", target)(e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(FolderError::IsSymlink(target.to_path_buf()));
    }
    if !meta.is_dir() {
        return Err(FolderError::NotAFolder(target.to_path_buf()));
    }
    let marker = target.join(MARKER);
    let listed = match marker.symlink_metadata() {
        Ok(m) if m.is_file() => read_marker(target, &marker)?,
        Ok(_) => {
            return Err(FolderError::Foreign {
                dir: target.to_path_buf(),
                entry: MARKER.to_string(),
                why: "the marker is not a regular file",
            });
        }
        Err(_) => {
            let empty = fs::read_dir(target)
                .map_err(io("read", target))?
                .next()
                .is_none();
            return if empty {
                Ok(())
            } else {
                Err(FolderError::NotOurs(target.to_path_buf()))
            };
        }
    };
    check_entries(target, target, &listed)
}

/// The marker's entries, each checked to be a plain relative path.
fn read_marker(dir: &Path, marker: &Path) -> Result<BTreeSet<PathBuf>, FolderError> {
    let text = fs::read(marker).map_err(io("read", marker))?;
    let text = String::from_utf8_lossy(&text);
    let mut listed = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let path =
            super::artifact_path(Path::new(""), line).map_err(|_| FolderError::BadMarker {
                dir: dir.to_path_buf(),
                entry: line.to_string(),
            })?;
        listed.insert(path);
    }
    Ok(listed)
}

/// Every entry under `dir` must be a regular file the marker lists, or a folder (never a link).
fn check_entries(root: &Path, dir: &Path, listed: &BTreeSet<PathBuf>) -> Result<(), FolderError> {
    for entry in fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let kind = entry.file_type().map_err(io("read", &path))?;
        let foreign = |why| FolderError::Foreign {
            dir: root.to_path_buf(),
            entry: rel.display().to_string(),
            why,
        };
        if kind.is_symlink() {
            return Err(foreign("a symbolic link"));
        } else if kind.is_dir() {
            check_entries(root, &path, listed)?;
        } else if !kind.is_file() {
            return Err(foreign("not a regular file"));
        } else if rel != Path::new(MARKER) && !listed.contains(&rel) {
            return Err(foreign("not listed in the folder's marker"));
        }
    }
    Ok(())
}

/// Swaps two folders atomically where the file system can; otherwise moves the old one aside, the new
/// one in, and leaves the old one at `staging`.
fn exchange(staging: &Path, target: &Path) -> Result<(), FolderError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let (a, b) = (
            std::ffi::CString::new(staging.as_os_str().as_bytes()),
            std::ffi::CString::new(target.as_os_str().as_bytes()),
        );
        if let (Ok(a), Ok(b)) = (a, b) {
            // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            if rc == 0 {
                return Ok(());
            }
        }
    }
    let aside = staging.with_extension("old");
    fs::rename(target, &aside).map_err(io("move the previous report from", target))?;
    if let Err(e) = fs::rename(staging, target) {
        // Put the previous report back: not having either is the one outcome to avoid.
        let _ = fs::rename(&aside, target);
        return Err(io("move the report to", target)(e));
    }
    fs::rename(&aside, staging).map_err(io("move", &aside))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dir: &Path, files: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for f in files {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f).unwrap();
        }
        let list: String = files.iter().map(|f| format!("{f}\n")).collect();
        fs::write(dir.join(MARKER), list).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_report_replaces_the_old_one_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        report(&out, &["report.json", "graph/all.svg"]);
        let pending = PendingFolder::prepare(&out).unwrap();
        fs::write(pending.staging().join("new.txt"), "new").unwrap();
        let file = pending.staging().join("new.txt");
        pending.commit(&[file]).unwrap();
        assert_eq!(names(&out), vec![MARKER.to_string(), "new.txt".into()]);
        assert_eq!(fs::read_to_string(out.join(MARKER)).unwrap(), "new.txt\n");
        // Nothing is left beside it.
        assert_eq!(names(tmp.path()), vec!["out".to_string()]);
    }

    #[test]
    fn a_dropped_run_leaves_the_old_report_and_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        report(&out, &["report.json"]);
        let pending = PendingFolder::prepare(&out).unwrap();
        fs::write(pending.staging().join("half.json"), "{").unwrap();
        drop(pending);
        assert_eq!(names(&out), vec![MARKER.to_string(), "report.json".into()]);
        assert_eq!(names(tmp.path()), vec!["out".to_string()]);

        let fresh = tmp.path().join("fresh");
        drop(PendingFolder::prepare(&fresh).unwrap());
        assert!(!fresh.exists());
    }

    #[test]
    fn folders_with_foreign_content_links_or_bad_markers_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        report(&out, &["report.json"]);
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = PendingFolder::prepare(&out).unwrap_err().to_string();
        assert!(
            e.contains("notes.txt") && e.contains("did not write"),
            "{e}"
        );

        let linked = tmp.path().join("linked");
        report(&linked, &["report.json"]);
        std::os::unix::fs::symlink(tmp.path(), linked.join("graph")).unwrap();
        let e = PendingFolder::prepare(&linked).unwrap_err().to_string();
        assert!(e.contains("graph") && e.contains("symbolic link"), "{e}");

        let marked = tmp.path().join("marked");
        report(&marked, &["report.json"]);
        fs::write(marked.join(MARKER), "report.json\n../victim\n").unwrap();
        let e = PendingFolder::prepare(&marked).unwrap_err().to_string();
        assert!(e.contains("../victim"), "{e}");

        let other = tmp.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("x"), "x").unwrap();
        assert!(matches!(
            PendingFolder::prepare(&other),
            Err(FolderError::NotOurs(_))
        ));

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        assert!(matches!(
            PendingFolder::prepare(&link),
            Err(FolderError::IsSymlink(_))
        ));
    }

    #[test]
    fn siblings_of_killed_runs_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        // pid 0 never names a live process we own; /proc/1 always exists.
        let dead = tmp.path().join(".out.pcapxray-tmp-999999999-0");
        let live = tmp.path().join(".out.pcapxray-tmp-1-0");
        fs::create_dir(&dead).unwrap();
        fs::create_dir(&live).unwrap();
        let pending = PendingFolder::prepare(&out).unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
        drop(pending);
    }
}
