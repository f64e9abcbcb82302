//! Keeping the bytes of files found in a capture (`grants.extract`). A plugin opens a file, appends
//! its bytes as they stream by and closes it; the host writes them into `files/` of the run's report
//! folder under a name it derives itself: the SHA-256 of the bytes it was given plus a checked
//! extension, so a name can never leave the folder and never depends on the capture's word. Files are
//! created new (never through an existing path) with mode 0644: nothing extracted is executable. A file
//! larger than the per-file cap, or one that would take the stage past its total cap, is dropped as soon
//! as it crosses the line, so disk use never exceeds the caps; `close` says which cap stopped it, for the
//! plugin's run note. Bytes of files still open when the stage ends are removed.

use super::Session;
use crate::bindings::CapabilityError;
use crate::bindings::analyzer::pcapxray::plugin::extract;
use crate::config::TomlReader;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeValue;

/// Caps on the bytes a stage may extract (`grants.extract = { total_mb, file_mb }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractGrant {
    /// Largest file kept, in bytes; a larger one is not kept at all.
    pub file_bytes: u64,
    /// Bytes the stage may keep in all; a file that would cross it is not kept.
    pub total_bytes: u64,
}

/// `grants.extract`: `true` or `{ total_mb, file_mb }`.
pub fn grant_from_toml(
    r: &mut TomlReader,
    v: &Spanned<DeValue>,
    stage: &str,
) -> Option<ExtractGrant> {
    const MB: u64 = 1 << 20;
    let mut grant = ExtractGrant {
        file_bytes: 64 * MB,
        total_bytes: 256 * MB,
    };
    match v.get_ref() {
        DeValue::Boolean(b) => return b.then_some(grant),
        DeValue::Table(t) => {
            for (key, v) in t.iter() {
                match key.get_ref().as_ref() {
                    "file_mb" => grant.file_bytes = r.uint(v, "file_mb", 1, 1 << 20).unwrap_or(64) * MB,
                    "total_mb" => grant.total_bytes = r.uint(v, "total_mb", 1, 1 << 24).unwrap_or(256) * MB,
                    other => r.err(
                        key.span(),
                        format!("stage `{stage}`: unknown key `{other}` in grants.extract; expected total_mb, file_mb"),
                    ),
                }
            }
        }
        _ => r.err(
            v.span(),
            format!("stage `{stage}`: `grants.extract` must be true or a table"),
        ),
    }
    Some(grant)
}

/// The folder inside the report folder that holds extracted files.
pub const FOLDER: &str = "files";

/// What became of a closed file (the WIT `kept` variant, host side).
#[derive(Debug, PartialEq, Eq)]
pub enum Kept {
    /// Written under this path relative to the report folder.
    Written(String),
    OverFileCap,
    OverTotalCap,
}

/// Why an open file stopped being kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dropped {
    FileCap,
    TotalCap,
}

struct OpenFile {
    extension: String,
    /// The partial file and its bytes so far, while it is still kept.
    partial: Option<(PathBuf, File)>,
    hash: Sha256,
    size: u64,
    dropped: Option<Dropped>,
}

/// One stage's extracted files.
#[derive(Default)]
pub struct Extractor {
    open: HashMap<u32, OpenFile>,
    next: u32,
    /// Bytes on disk for this stage: kept files and partial ones.
    used: u64,
    /// Names already written, by SHA-256: a second copy of the same bytes is not written again,
    /// whatever extension it came with.
    written: HashMap<String, String>,
}

/// `extension` if it is 1 to 8 lower-case ASCII letters or digits, else `bin`.
pub fn safe_extension(extension: &str) -> String {
    let ok = (1..=8).contains(&extension.len())
        && extension
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        extension.to_string()
    } else {
        "bin".to_string()
    }
}

fn other(what: &str, path: &Path, e: std::io::Error) -> CapabilityError {
    CapabilityError::Other(format!("cannot {what} {}: {e}", path.display()))
}

/// Creates `path`, which must not exist yet, readable and writable by its owner only plus readable by
/// others, never executable.
fn create_new(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    options.open(path)
}

impl Extractor {
    /// Starts a file in `dir/files/`.
    pub fn open(&mut self, dir: &Path, extension: &str) -> Result<u32, CapabilityError> {
        let folder = dir.join(FOLDER);
        if !folder.is_dir() {
            std::fs::create_dir(&folder).map_err(|e| other("create", &folder, e))?;
        }
        let handle = self.next;
        self.next = self.next.wrapping_add(1);
        let path = folder.join(format!(".partial-{handle}"));
        let file = create_new(&path).map_err(|e| other("create", &path, e))?;
        self.open.insert(
            handle,
            OpenFile {
                extension: safe_extension(extension),
                partial: Some((path, file)),
                hash: Sha256::new(),
                size: 0,
                dropped: None,
            },
        );
        Ok(handle)
    }

    fn file(&mut self, handle: u32) -> Result<&mut OpenFile, CapabilityError> {
        self.open
            .get_mut(&handle)
            .ok_or_else(|| CapabilityError::NotFound(format!("no open file has handle {handle}")))
    }

    /// Appends bytes; false once the file is no longer kept.
    pub fn append(
        &mut self,
        grant: &ExtractGrant,
        handle: u32,
        bytes: &[u8],
    ) -> Result<bool, CapabilityError> {
        let used = self.used;
        let file = self.file(handle)?;
        if file.dropped.is_some() {
            return Ok(false);
        }
        let n = bytes.len() as u64;
        let over = if file.size + n > grant.file_bytes {
            Some(Dropped::FileCap)
        } else if used + n > grant.total_bytes {
            Some(Dropped::TotalCap)
        } else {
            None
        };
        if let Some(why) = over {
            let size = file.size;
            file.dropped = Some(why);
            if let Some((path, _)) = file.partial.take() {
                let _ = std::fs::remove_file(path);
            }
            self.used -= size;
            return Ok(false);
        }
        let (path, out) = file
            .partial
            .as_mut()
            .expect("kept files have a partial file");
        out.write_all(bytes).map_err(|e| other("write", path, e))?;
        file.hash.update(bytes);
        file.size += n;
        self.used += n;
        Ok(true)
    }

    /// Ends a file: renames it to its content-addressed name (relative to `dir`) and registers new
    /// files in `created`.
    pub fn close(
        &mut self,
        dir: &Path,
        handle: u32,
        created: &mut Vec<PathBuf>,
    ) -> Result<Kept, CapabilityError> {
        let file = self.open.remove(&handle).ok_or_else(|| {
            CapabilityError::NotFound(format!("no open file has handle {handle}"))
        })?;
        match file.dropped {
            Some(Dropped::FileCap) => return Ok(Kept::OverFileCap),
            Some(Dropped::TotalCap) => return Ok(Kept::OverTotalCap),
            None => {}
        }
        let (partial, out) = file.partial.expect("kept files have a partial file");
        drop(out);
        let sha256 = hex(&file.hash.finalize());
        if let Some(name) = self.written.get(&sha256) {
            let _ = std::fs::remove_file(&partial);
            self.used -= file.size;
            return Ok(Kept::Written(name.clone()));
        }
        let name = format!("{FOLDER}/{sha256}.{}", file.extension);
        let target = dir.join(&name);
        std::fs::rename(&partial, &target).map_err(|e| other("rename", &partial, e))?;
        created.push(target);
        self.written.insert(sha256, name.clone());
        Ok(Kept::Written(name))
    }

    /// Drops a file without keeping it.
    pub fn discard(&mut self, handle: u32) {
        if let Some(OpenFile {
            partial: Some((path, _)),
            size,
            ..
        }) = self.open.remove(&handle)
        {
            let _ = std::fs::remove_file(path);
            self.used -= size;
        }
    }

    /// Removes the bytes of every file still open (the stage ended or failed without closing them).
    pub fn abandon(&mut self) {
        let handles: Vec<u32> = self.open.keys().copied().collect();
        for handle in handles {
            self.discard(handle);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl extract::Host for Session {
    fn open(&mut self, extension: String) -> Result<u32, CapabilityError> {
        let dir = self.extract_dir("to keep a file's bytes")?.0;
        self.extractor.open(&dir, &extension)
    }

    fn append(&mut self, handle: u32, bytes: Vec<u8>) -> Result<bool, CapabilityError> {
        let grant = self.extract_dir("to keep a file's bytes")?.1;
        self.extractor.append(&grant, handle, &bytes)
    }

    fn close(&mut self, handle: u32) -> Result<extract::Kept, CapabilityError> {
        let dir = self.extract_dir("to keep a file's bytes")?.0;
        let mut created = Vec::new();
        let kept = self.extractor.close(&dir, handle, &mut created);
        self.register(created);
        Ok(match kept? {
            super::extract::Kept::Written(name) => extract::Kept::Written(name),
            super::extract::Kept::OverFileCap => extract::Kept::OverFileCap,
            super::extract::Kept::OverTotalCap => extract::Kept::OverTotalCap,
        })
    }

    fn discard(&mut self, handle: u32) {
        self.extractor.discard(handle);
    }
}

impl Session {
    /// The report folder and the caps, when this stage may extract files.
    fn extract_dir(
        &self,
        what: &str,
    ) -> Result<(std::path::PathBuf, ExtractGrant), CapabilityError> {
        let Some(grant) = self.grants.extract else {
            return Err(super::not_granted(&self.stage, "extract", what));
        };
        let dir = self.report_dir()?;
        Ok((dir, grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(file_bytes: u64, total_bytes: u64) -> ExtractGrant {
        ExtractGrant {
            file_bytes,
            total_bytes,
        }
    }

    #[test]
    fn files_are_named_by_their_hash_and_caps_drop_what_crosses_them() {
        let dir = tempfile::tempdir().unwrap();
        let g = grant(10, 16);
        let mut x = Extractor::default();
        let mut created = Vec::new();
        let a = x.open(dir.path(), "txt").unwrap();
        assert!(x.append(&g, a, b"hello").unwrap());
        // sha256("hello"), checked with `printf hello | sha256sum`.
        let name = "files/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.txt";
        assert_eq!(
            x.close(dir.path(), a, &mut created).unwrap(),
            Kept::Written(name.into())
        );
        assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), b"hello");
        let big = x.open(dir.path(), "../../x").unwrap();
        assert!(x.append(&g, big, b"0123456789").unwrap());
        assert!(!x.append(&g, big, b"a").unwrap());
        assert_eq!(
            x.close(dir.path(), big, &mut created).unwrap(),
            Kept::OverFileCap
        );
        // 5 bytes kept, 6 open in `c`: `d` cannot take 6 more under the total of 16.
        let c = x.open(dir.path(), "bin").unwrap();
        assert!(x.append(&g, c, b"123456").unwrap());
        let d = x.open(dir.path(), "bin").unwrap();
        assert!(!x.append(&g, d, b"abcdef").unwrap());
        assert_eq!(
            x.close(dir.path(), d, &mut created).unwrap(),
            Kept::OverTotalCap
        );
        x.discard(c);
        let left = x.open(dir.path(), "pdf").unwrap();
        x.append(&g, left, b"ab").unwrap();
        x.abandon();
        let names: Vec<String> = std::fs::read_dir(dir.path().join(FOLDER))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![name.trim_start_matches("files/").to_string()]);
        assert_eq!(created.len(), 1);
    }

    #[test]
    fn extensions_that_are_not_short_lowercase_words_become_bin() {
        assert_eq!(safe_extension("pdf"), "pdf");
        assert_eq!(safe_extension("../exe"), "bin");
        assert_eq!(safe_extension("EXE"), "bin");
        assert_eq!(safe_extension(""), "bin");
        assert_eq!(safe_extension("averylongext"), "bin");
    }
}
