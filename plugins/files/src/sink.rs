//! Where the bytes of one file go, whatever protocol carried it: three hashes (MD5, SHA-1, SHA-256)
//! updated as the bytes pass, the byte ranges that were never seen, the first bytes kept for type
//! detection, and — when the stage is granted `extract` — the bytes handed on to the host. Nothing is
//! held whole: a sink's memory is its hashers, at most [`HEAD`] bytes and at most [`MAX_RANGES`]
//! missing ranges, whatever the file's size. A file with missing bytes is not extracted (its bytes
//! would not match its hashes); its hashes are of the bytes seen.

use md5::Md5;
use pcapxray_plugin_sdk::CapabilityError;
use pcapxray_plugin_sdk::extract::{self, Kept};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::cell::Cell;

/// Bytes kept from a file's start to detect its type.
pub const HEAD: usize = 1024;
/// Missing ranges listed per file; more are counted in the total only.
pub const MAX_RANGES: usize = 32;

thread_local! {
    /// Whether to try extracting at all: off by configuration, or once the host said the stage is not
    /// granted `extract`.
    static EXTRACT: Cell<bool> = const { Cell::new(false) };
}

/// Turns extraction on or off for the sinks made from now on.
pub fn set_extract(on: bool) {
    EXTRACT.with(|e| e.set(on));
}

#[derive(Debug)]
enum Extract {
    Off,
    /// Waiting for the head to pick an extension.
    Pending,
    Open(u32),
    /// Not kept, and why (for the finding).
    Stopped(String),
}

/// One file being received.
pub struct Sink {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
    missing: u64,
    ranges: Vec<(u64, u64)>,
    head: Vec<u8>,
    /// Extension of the declared name, the fallback for the extracted file's name.
    declared_ext: String,
    extract: Extract,
}

/// What a finished sink knew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// Bytes seen.
    pub size: u64,
    /// Bytes never seen.
    pub missing: u64,
    /// `start-end` (inclusive offsets in the file) of the first missing ranges, comma-separated.
    pub ranges: String,
    /// MIME type and extension detected from the content's first bytes.
    pub detected: Option<(String, String)>,
    /// Where the bytes were kept (`files/<sha256>.<ext>`), or why not.
    pub extracted: Result<String, String>,
}

impl Sink {
    /// A sink for a file whose declared name is `name` (for the extension of the kept copy).
    pub fn new(name: &str) -> Sink {
        let on = EXTRACT.with(Cell::get);
        Sink {
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            size: 0,
            missing: 0,
            ranges: Vec::new(),
            head: Vec::new(),
            declared_ext: extension_of(name).unwrap_or_default(),
            extract: if on { Extract::Pending } else { Extract::Off },
        }
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next bytes of the file.
    pub fn data(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
        if self.head.len() < HEAD {
            let n = (HEAD - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            if self.head.len() == HEAD {
                self.start_extract();
                let head = std::mem::take(&mut self.head);
                self.keep(&head);
                self.head = head;
                self.keep(&bytes[n..]);
            }
        } else {
            self.keep(bytes);
        }
    }

    /// `n` bytes of the file were never seen.
    pub fn gap(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        let start = self.size + self.missing;
        if self.ranges.len() < MAX_RANGES {
            self.ranges.push((start, start + n - 1));
        }
        self.missing += n;
        self.stop_extract("not kept: bytes of it are missing");
    }

    fn start_extract(&mut self) {
        if !matches!(self.extract, Extract::Pending) {
            return;
        }
        let ext = detect(&self.head)
            .map(|(_, ext)| ext)
            .unwrap_or_else(|| self.declared_ext.clone());
        self.extract = match extract::open(&ext) {
            Ok(handle) => Extract::Open(handle),
            Err(CapabilityError::NotGranted(_)) => {
                set_extract(false);
                Extract::Off
            }
            Err(e) => Extract::Stopped(format!("not kept: {}", e.message())),
        };
    }

    fn keep(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Extract::Open(handle) = self.extract {
            match extract::append(handle, bytes) {
                Ok(true) => {}
                Ok(false) => {} // a cap: `close` says which
                Err(e) => {
                    extract::discard(handle);
                    self.extract = Extract::Stopped(format!("not kept: {}", e.message()));
                }
            }
        }
    }

    fn stop_extract(&mut self, why: &str) {
        if let Extract::Open(handle) = self.extract {
            extract::discard(handle);
        }
        if !matches!(self.extract, Extract::Off) {
            self.extract = Extract::Stopped(why.to_string());
        }
    }

    /// Drops the kept bytes: the transfer was not a file after all.
    pub fn discard(mut self) {
        self.stop_extract("discarded");
    }

    /// The file is over.
    pub fn finish(mut self) -> Summary {
        if self.size > 0 && self.head.len() < HEAD {
            self.start_extract();
            let head = std::mem::take(&mut self.head);
            self.keep(&head);
            self.head = head;
        }
        let extracted = match std::mem::replace(&mut self.extract, Extract::Off) {
            Extract::Open(handle) => match extract::close(handle) {
                Ok(Kept::Written(path)) => Ok(path),
                Ok(Kept::OverFileCap) => Err("not kept: larger than the cap per file".into()),
                Ok(Kept::OverTotalCap) => {
                    Err("not kept: the total extraction cap was reached".into())
                }
                Err(e) => Err(format!("not kept: {}", e.message())),
            },
            Extract::Stopped(why) => Err(why),
            Extract::Off | Extract::Pending => Err(String::new()),
        };
        let ranges = self
            .ranges
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect::<Vec<_>>()
            .join(",");
        Summary {
            md5: hex(&self.md5.finalize()),
            sha1: hex(&self.sha1.finalize()),
            sha256: hex(&self.sha256.finalize()),
            size: self.size,
            missing: self.missing,
            ranges,
            detected: detect(&self.head),
            extracted,
        }
    }
}

/// MIME type and extension from magic bytes.
pub fn detect(head: &[u8]) -> Option<(String, String)> {
    let t = infer::get(head)?;
    Some((t.mime_type().to_string(), t.extension().to_string()))
}

/// The lower-cased extension of a file name (`invoice.pdf.exe` → `exe`), when it has one.
pub fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= 8
        && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| ext.to_ascii_lowercase())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_sizes_and_missing_ranges_follow_the_bytes() {
        let mut s = Sink::new("a.txt");
        s.data(b"abc");
        s.gap(5);
        s.data(b"def");
        let sum = s.finish();
        assert_eq!(sum.size, 6);
        assert_eq!(sum.missing, 5);
        assert_eq!(sum.ranges, "3-7");
        // `printf abcdef | sha256sum`, `md5sum`, `sha1sum`
        assert_eq!(
            sum.sha256,
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
        assert_eq!(sum.md5, "e80b5017098950fc58aad83c8c14978e");
        assert_eq!(sum.sha1, "1f8ac10f23c5b5bc1167bda84b833e5c057a77d2");
    }

    #[test]
    fn extensions_are_the_last_one() {
        assert_eq!(extension_of("invoice.pdf.exe").as_deref(), Some("exe"));
        assert_eq!(extension_of("README"), None);
        assert_eq!(extension_of(".bashrc"), None);
        assert_eq!(extension_of("a/b.PDF").as_deref(), Some("pdf"));
    }
}
