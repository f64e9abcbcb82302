//! Read-only access to granted files and folders. Paths are resolved (symlinks included) before they
//! are compared with the grants, so `..` and links cannot leave a granted folder.

use super::Grants;
use super::Session;
use super::not_granted;
use crate::bindings::CapabilityError;
use crate::bindings::analyzer::pcapxray::plugin::files;
use crate::config::{TomlReader, expand_home, normalize};
use std::path::PathBuf;
use toml::Spanned;
use toml::de::DeValue;

/// `grants.files`: the files and folders the stage may read, relative to the pipeline's folder `base`.
pub fn grant_from_toml(
    r: &mut TomlReader,
    v: &Spanned<DeValue>,
    stage: &str,
    base: &std::path::Path,
) -> Vec<PathBuf> {
    let mut granted = Vec::new();
    match v.get_ref() {
        DeValue::Array(items) => {
            for item in items {
                if let Some(p) = r.string(item, "grants.files entries") {
                    granted.push(normalize(&base.join(expand_home(&p))));
                }
            }
        }
        _ => r.err(
            v.span(),
            format!("stage `{stage}`: `grants.files` must be an array of paths"),
        ),
    }
    granted
}

/// Largest file a plugin may read in one call.
const MAX_READ: u64 = 512 << 20;

fn resolve(
    stage: &str,
    grants: &Grants,
    path: &str,
    what: &str,
) -> Result<PathBuf, CapabilityError> {
    if grants.files.is_empty() {
        return Err(not_granted(stage, "files", &format!("to {what} `{path}`")));
    }
    // `~/` and relative paths mean what they mean in the pipeline file.
    let full = super::resolve_like_pipeline(grants, path);
    let real = std::fs::canonicalize(&full).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CapabilityError::NotFound(format!("{path}: no such file or folder"))
        }
        _ => CapabilityError::Other(format!("{path}: {e}")),
    })?;
    let allowed = grants.files.iter().any(|g| {
        let g = std::fs::canonicalize(g).unwrap_or_else(|_| g.clone());
        real == g || real.starts_with(&g)
    });
    if !allowed {
        return Err(CapabilityError::Denied(format!(
            "stage `{stage}` may not {what} `{path}`: it is outside the files and folders granted to it"
        )));
    }
    Ok(real)
}

pub fn read(stage: &str, grants: &Grants, path: &str) -> Result<Vec<u8>, CapabilityError> {
    let real = resolve(stage, grants, path, "read")?;
    let meta =
        std::fs::metadata(&real).map_err(|e| CapabilityError::Other(format!("{path}: {e}")))?;
    if !meta.is_file() {
        return Err(CapabilityError::Other(format!("{path} is not a file")));
    }
    if meta.len() > MAX_READ {
        return Err(CapabilityError::Other(format!(
            "{path} is {} bytes, more than the {MAX_READ} bytes a plugin may read at once",
            meta.len()
        )));
    }
    std::fs::read(&real).map_err(|e| CapabilityError::Other(format!("{path}: {e}")))
}

pub fn list(stage: &str, grants: &Grants, path: &str) -> Result<Vec<String>, CapabilityError> {
    let real = resolve(stage, grants, path, "list")?;
    let entries =
        std::fs::read_dir(&real).map_err(|e| CapabilityError::Other(format!("{path}: {e}")))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

impl files::Host for Session {
    fn read_file(&mut self, path: String) -> Result<Vec<u8>, CapabilityError> {
        super::files::read(&self.stage, &self.grants, &path)
    }

    fn list_dir(&mut self, path: String) -> Result<Vec<String>, CapabilityError> {
        super::files::list(&self.stage, &self.grants, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_refused_without_a_grant_and_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("granted");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"no").unwrap();
        let a = inside.join("a.txt");
        let none = Grants {
            base_dir: dir.path().to_path_buf(),
            ..Grants::default()
        };
        assert!(matches!(
            read("s", &none, a.to_str().unwrap()),
            Err(CapabilityError::NotGranted(_))
        ));
        let grants = Grants {
            files: vec![inside.clone()],
            ..none
        };
        // Relative paths are resolved against the pipeline's folder.
        assert_eq!(read("s", &grants, "granted/a.txt").unwrap(), b"hello");
        assert_eq!(read("s", &grants, a.to_str().unwrap()).unwrap(), b"hello");
        let escape = inside.join("../secret.txt");
        assert!(matches!(
            read("s", &grants, escape.to_str().unwrap()),
            Err(CapabilityError::Denied(_))
        ));
        assert_eq!(
            list("s", &grants, inside.to_str().unwrap()).unwrap(),
            vec!["a.txt"]
        );
    }
}
