//! Artifacts → files in the report folder. Plugin-chosen names are untrusted: only plain relative paths
//! are accepted, so no output plugin can write outside the report folder.

use std::path::{Component, Path, PathBuf};

/// Checks an artifact name and returns where it goes inside `dir`.
pub fn artifact_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty() || name.len() > 255 || name.contains('\\') || name.contains('\0') {
        return Err(format!(
            "artifact name {name:?} is not a plain relative path"
        ));
    }
    let rel = Path::new(name);
    let plain_segments = name.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !plain_segments || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "artifact name {name:?} must be a relative path without `..` or `.`"
        ));
    }
    Ok(dir.join(rel))
}

/// Writes one artifact, creating folders as needed.
pub fn write_artifact(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let path = artifact_path(dir, name)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
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
