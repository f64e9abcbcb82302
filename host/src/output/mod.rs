//! Artifacts → files in the report folder. Plugin-chosen names are untrusted: only plain relative paths
//! are accepted, so no output plugin can write outside the report folder.

pub mod folder;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Why an artifact could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact name {0:?} is not a plain relative path")]
    NotPlain(String),
    #[error("artifact name {0:?} must be a relative path without `..` or `.`")]
    DotSegment(String),
    #[error(
        "stage `{stage}` wants to write {name}, which stage `{owner}` already wrote; kept the first"
    )]
    Taken {
        stage: String,
        name: String,
        owner: String,
    },
    #[error("cannot {what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Checks an artifact name and returns where it goes inside `dir`.
pub fn artifact_path(dir: &Path, name: &str) -> Result<PathBuf, ArtifactError> {
    if name.is_empty() || name.len() > 255 || name.contains('\\') || name.contains('\0') {
        return Err(ArtifactError::NotPlain(name.to_string()));
    }
    let rel = Path::new(name);
    let plain_segments = name
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !plain_segments || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(ArtifactError::DotSegment(name.to_string()));
    }
    Ok(dir.join(rel))
}

/// Writes the artifacts of a run. A file belongs to the first stage that writes it; the same stage's
/// later artifacts of that name are appended (streamed reports), another stage's are refused.
pub struct ReportWriter {
    dir: PathBuf,
    owners: BTreeMap<String, String>,
    /// Files written, in the order they were created.
    pub files: Vec<PathBuf>,
}

impl ReportWriter {
    pub fn new(dir: &Path) -> ReportWriter {
        ReportWriter {
            dir: dir.to_path_buf(),
            owners: BTreeMap::new(),
            files: Vec::new(),
        }
    }

    /// Writes or appends one artifact for `stage`.
    pub fn write(&mut self, stage: &str, name: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
        let path = artifact_path(&self.dir, name)?;
        let append = match self.owners.get(name) {
            Some(owner) if owner == stage => true,
            Some(owner) => {
                return Err(ArtifactError::Taken {
                    stage: stage.to_string(),
                    name: name.to_string(),
                    owner: owner.clone(),
                });
            }
            None => false,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| ArtifactError::Io {
                what: "create",
                path: parent.to_path_buf(),
                error,
            })?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(|error| ArtifactError::Io {
                what: "write",
                path: path.clone(),
                error,
            })?;
        if !append {
            self.owners.insert(name.to_string(), stage.to_string());
            self.files.push(path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::artifact_path;
    use std::path::Path;

    #[test]
    fn artifact_names_cannot_leave_the_report_folder() {
        let dir = Path::new("/r");
        assert_eq!(
            artifact_path(dir, "graph/all.svg").unwrap(),
            Path::new("/r/graph/all.svg")
        );
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            "./a",
            "",
            "a\\b",
            "a/./b",
        ] {
            assert!(artifact_path(dir, bad).is_err(), "{bad}");
        }
    }
}
