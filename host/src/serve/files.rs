//! Report files for download. The requested name comes from a URL, so it is treated as hostile: it must
//! be a plain relative path (no `..`, `.`, empty segments, absolute paths, backslashes, NUL or other
//! control characters, and no `%`, so a name that was percent-encoded twice cannot be decoded into a
//! traversal by anyone later), and after resolving symbolic links it must still lie inside the case's
//! report folder and be a regular file. Only then is it read.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// One file of a report, as listed to the page.
#[derive(Debug, Serialize)]
pub struct ReportFile {
    /// Relative path inside the report folder, `/`-separated.
    pub path: String,
    pub size: u64,
}

/// Every file of a report folder (sub-folders included), sorted by path. The run's bookkeeping files
/// (names starting with `.`) are left out.
pub fn list(report_dir: &Path) -> Vec<ReportFile> {
    let mut out = Vec::new();
    walk(report_dir, report_dir, "", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<ReportFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        // Links are not followed: a report folder only ever holds what the run wrote.
        if kind.is_dir() {
            walk(root, &entry.path(), &format!("{rel}/"), out);
        } else if kind.is_file() && resolve(root, &rel).is_ok() {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(ReportFile { path: rel, size });
        }
    }
}

/// Why a requested name was refused: `BadName` → 400, `NotFound` → 404.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    BadName,
    NotFound,
}

/// The file `name` inside `report_dir`, if `name` is a plain relative path to a regular file there.
pub fn resolve(report_dir: &Path, name: &str) -> Result<PathBuf, Refused> {
    if name.starts_with('.')
        || name.contains('%')
        || name.chars().any(char::is_control)
        || name.split('/').any(|seg| seg.starts_with('.'))
    {
        return Err(Refused::BadName);
    }
    let joined = crate::output::artifact_path(report_dir, name).map_err(|_| Refused::BadName)?;
    let root = report_dir.canonicalize().map_err(|_| Refused::NotFound)?;
    let real = joined.canonicalize().map_err(|_| Refused::NotFound)?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(Refused::NotFound);
    }
    Ok(real)
}

/// Media type by extension; unknown files are plain bytes.
pub fn media_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "dot" | "gv" | "log" | "md") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_of_files_inside_the_report_folder_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report");
        std::fs::create_dir_all(report.join("graph")).unwrap();
        std::fs::write(report.join("report.json"), "{}").unwrap();
        std::fs::write(report.join("graph/all.svg"), "<svg/>").unwrap();
        std::fs::write(report.join(".pcapxray-report"), "report.json\n").unwrap();
        std::fs::write(dir.path().join("capture.pcap"), "secret").unwrap();

        assert!(resolve(&report, "report.json").is_ok());
        assert!(resolve(&report, "graph/all.svg").is_ok());
        for bad in [
            "../capture.pcap",
            "graph/../../capture.pcap",
            "/etc/passwd",
            "..\\capture.pcap",
            "%2e%2e/capture.pcap",
            "report.json\0",
            ".pcapxray-report",
            "./report.json",
            "graph//all.svg",
            "",
        ] {
            assert_eq!(resolve(&report, bad), Err(Refused::BadName), "{bad:?}");
        }
        assert_eq!(resolve(&report, "graph"), Err(Refused::NotFound));
        assert_eq!(resolve(&report, "missing.json"), Err(Refused::NotFound));

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("capture.pcap"), report.join("link"))
                .unwrap();
            assert_eq!(resolve(&report, "link"), Err(Refused::NotFound));
        }
        let listed: Vec<String> = list(&report).into_iter().map(|f| f.path).collect();
        assert_eq!(listed, ["graph/all.svg", "report.json"]);
    }
}
