//! Tor consensuses brought in by hand, for relay matching on any date without going online:
//! `pcapxray tor import FILE...` and the web interface's Tor relays page both end here.
//!
//! What it promises: every file given is read as a stream (a monthly Tor Metrics archive,
//! `consensuses-YYYY-MM.tar.xz`, is hundreds of megabytes compressed and never held whole); each
//! network-status consensus in it (a plain document, or a member of a `.tar`, `.tar.xz` or `.xz`) is
//! stored in the tor folder under a name made from its `valid-after` time, the way `tor fetch` names
//! what it downloads, so importing twice stores nothing twice; anything else is skipped and said
//! (which member, why). The `tor` analyzer reads that folder, and [`coverage`] says which times the
//! stored documents cover, so a capture outside them can be pointed out.

use crate::torfetch::{INCOMPLETE, complete, validity, write_atomically};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest document accepted (a full consensus is about 2–3 MB).
const MAX_DOCUMENT: u64 = 32 << 20;
/// Reasons kept for skipped members; beyond that only counted.
const MAX_REASONS: usize = 20;

/// One consensus in the tor folder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    /// File name in the tor folder.
    pub file: String,
    /// `2022-11-19 10:00:00` (UTC), as the document says.
    pub valid_after: String,
    pub valid_until: String,
}

/// What one imported file gave.
#[derive(Debug, Default, serde::Serialize)]
pub struct Imported {
    /// The file as the user named it.
    pub source: String,
    pub stored: Vec<Stored>,
    /// Members that were not consensuses, with the reason (the first [`MAX_REASONS`]).
    pub skipped: Vec<String>,
    /// How many were skipped in all.
    pub skipped_count: u64,
}

impl Imported {
    fn skip(&mut self, reason: String) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_REASONS {
            self.skipped.push(reason);
        }
    }

    /// One line for people: `x: 720 consensuses stored (valid 2022-11-01 00:00:00 to …); 1 skipped`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}: ", self.source);
        match (self.stored.first(), self.stored.last()) {
            (Some(first), Some(last)) => text.push_str(&format!(
                "{} stored, valid from {} to {} UTC",
                plural(self.stored.len(), "consensus", "consensuses"),
                first.valid_after,
                last.valid_until
            )),
            _ => text.push_str("no consensus in it"),
        }
        if self.skipped_count > 0 {
            text.push_str(&format!(
                "; {} skipped: {}",
                self.skipped_count,
                self.skipped.join("; ")
            ));
        }
        text
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: io::Error,
    },
    #[error("cannot write into the tor folder {folder}: {error}")]
    Write { folder: String, error: io::Error },
}

/// Imports the consensuses of `path` (shown as `source` in messages) into `dir`.
pub fn import(path: &Path, source: &str, dir: &Path) -> Result<Imported, ImportError> {
    let read_err = |error| ImportError::Read {
        source_name: source.to_string(),
        error,
    };
    std::fs::create_dir_all(dir).map_err(|error| ImportError::Write {
        folder: dir.display().to_string(),
        error,
    })?;
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut out = Imported {
        source: source.to_string(),
        ..Imported::default()
    };
    read_any(Box::new(BufReader::new(file)), source, dir, &mut out).map_err(read_err)?;
    out.stored.sort_by(|a, b| a.valid_after.cmp(&b.valid_after));
    Ok(out)
}

/// The first bytes of a stream, and the stream with them put back.
fn peek(mut r: Box<dyn Read + '_>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + '_>)> {
    let mut head = Vec::with_capacity(n);
    (&mut r).take(n as u64).read_to_end(&mut head)?;
    let again = io::Cursor::new(head.clone()).chain(r);
    Ok((head, Box::new(again)))
}

const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

/// An xz stream, a tar archive or a single document, told apart by their first bytes.
fn read_any(r: Box<dyn Read + '_>, name: &str, dir: &Path, out: &mut Imported) -> io::Result<()> {
    let (head, r) = peek(r, 512)?;
    if head.starts_with(XZ_MAGIC) {
        let inner = name.strip_suffix(".xz").unwrap_or(name).to_string();
        return read_any(Box::new(xz2::read::XzDecoder::new(r)), &inner, dir, out);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return read_tar(r, name, dir, out);
    }
    read_document(r, name, dir, out)
}

fn read_tar(r: Box<dyn Read + '_>, name: &str, dir: &Path, out: &mut Imported) -> io::Result<()> {
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries()? {
        let entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = format!("{name}: {}", entry.path()?.display());
        read_document(Box::new(entry), &member, dir, out)?;
    }
    Ok(())
}

/// One document: stored when it is a consensus, else skipped with the reason.
fn read_document(
    r: Box<dyn Read + '_>,
    name: &str,
    dir: &Path,
    out: &mut Imported,
) -> io::Result<()> {
    let mut bytes = Vec::new();
    r.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        out.skip(format!(
            "{name} is larger than {} MiB, more than a consensus",
            MAX_DOCUMENT >> 20
        ));
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        out.skip(format!("{name} is not text"));
        return Ok(());
    };
    match header(text) {
        Some(_) if !complete(text) => out.skip(format!("{name}: {INCOMPLETE}")),
        Some((flavor, after, until)) => {
            let file = file_name(&after, flavor);
            write_atomically(&dir.join(&file), &bytes)?;
            out.stored.push(Stored {
                file,
                valid_after: after,
                valid_until: until,
            });
        }
        None => out.skip(format!(
            "{name} is not a network-status consensus (it does not start with `network-status-version 3` and its validity)"
        )),
    }
    Ok(())
}

/// The flavour (`microdesc` or empty) and validity of a consensus; CollecTor's `@type` annotation
/// lines before the document are allowed, as the `tor` analyzer allows them.
fn header(text: &str) -> Option<(&'static str, String, String)> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with('@') {
            break;
        }
        start += line.len();
    }
    let doc = &text[start..];
    let (after, until) = validity(doc)?;
    let flavor = if doc.lines().next()?.contains("microdesc") {
        "microdesc"
    } else {
        ""
    };
    Some((flavor, after, until))
}

/// `consensus-2022-11-19-10-00-00` (the name `tor fetch` gives), `consensus-microdesc-…` for the
/// other flavour.
fn file_name(valid_after: &str, flavor: &str) -> String {
    let time: String = valid_after
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '-' })
        .collect();
    if flavor.is_empty() {
        format!("consensus-{time}")
    } else {
        format!("consensus-{flavor}-{time}")
    }
}

/// Every consensus in `dir` (by its header; other files are left out), oldest first.
pub fn list(dir: &Path) -> Vec<Stored> {
    let mut found: Vec<Stored> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            if file.starts_with('.') || !e.file_type().ok()?.is_file() {
                return None;
            }
            let mut head = Vec::new();
            std::fs::File::open(e.path())
                .ok()?
                .take(16 * 1024)
                .read_to_end(&mut head)
                .ok()?;
            let (_, after, until) = header(&String::from_utf8_lossy(&head))?;
            Some(Stored {
                file,
                valid_after: after,
                valid_until: until,
            })
        })
        .collect();
    found.sort_by(|a, b| a.valid_after.cmp(&b.valid_after).then(a.file.cmp(&b.file)));
    found
}

/// The times the documents cover, as merged `(from, to)` spans in their own format
/// (`2022-11-19 10:00:00`, which sorts as text).
pub fn coverage(docs: &[Stored]) -> Vec<(String, String)> {
    let mut spans: Vec<(String, String)> = docs
        .iter()
        .map(|d| (d.valid_after.clone(), d.valid_until.clone()))
        .collect();
    spans.sort();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => {
                if to > last.1 {
                    last.1 = to;
                }
            }
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Whether the spans cover every moment from `first` to `last` (same text format).
pub fn covers(spans: &[(String, String)], first: &str, last: &str) -> bool {
    spans
        .iter()
        .any(|(from, to)| from.as_str() <= first && last <= to.as_str())
}

/// The web interface's tor folder inside its data folder.
pub fn data_dir(data: &Path) -> PathBuf {
    data.join("tor")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOOTER: &str = "directory-footer\nbandwidth-weights Wbd=0\ndirectory-signature 0232AF901C31A04EE9848595AF9BB7620D4C5B2E 1\n-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n";

    fn doc(after: &str, until: &str) -> String {
        format!(
            "@type network-status-consensus-3 1.0\nnetwork-status-version 3\nvote-status consensus\nvalid-after {after}\nfresh-until {after}\nvalid-until {until}\n{FOOTER}"
        )
    }

    #[test]
    fn a_tar_xz_archive_gives_its_consensuses_and_says_what_it_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        for (name, body) in [
            (
                "consensuses-2022-11/19/2022-11-19-10-00-00-consensus",
                doc("2022-11-19 10:00:00", "2022-11-19 13:00:00"),
            ),
            (
                "consensuses-2022-11/19/2022-11-19-11-00-00-consensus",
                doc("2022-11-19 11:00:00", "2022-11-19 14:00:00"),
            ),
            ("consensuses-2022-11/README", "not one\n".to_string()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
        io::Write::write_all(&mut xz, &tar).unwrap();
        let archive = dir.path().join("consensuses-2022-11.tar.xz");
        std::fs::write(&archive, xz.finish().unwrap()).unwrap();

        let tor = dir.path().join("tor");
        let got = import(&archive, "consensuses-2022-11.tar.xz", &tor).unwrap();
        let files: Vec<&str> = got.stored.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "consensus-2022-11-19-10-00-00",
                "consensus-2022-11-19-11-00-00"
            ]
        );
        assert_eq!(got.skipped_count, 1);
        assert!(got.skipped[0].contains("consensuses-2022-11.tar: consensuses-2022-11/README is not a network-status consensus"), "{:?}", got.skipped);
        assert_eq!(list(&tor), got.stored);
        let spans = coverage(&list(&tor));
        assert_eq!(
            spans,
            [(
                "2022-11-19 10:00:00".to_string(),
                "2022-11-19 14:00:00".to_string()
            )]
        );
        assert!(covers(&spans, "2022-11-19 12:00:00", "2022-11-19 13:30:00"));
        assert!(!covers(
            &spans,
            "2022-11-19 12:00:00",
            "2022-11-19 14:30:00"
        ));
        // Importing again stores nothing twice.
        import(&archive, "again", &tor).unwrap();
        assert_eq!(list(&tor).len(), 2);
    }

    #[test]
    fn a_truncated_consensus_is_skipped_and_never_replaces_a_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let tor = dir.path().join("tor");
        let whole = doc("2022-11-19 10:00:00", "2022-11-19 13:00:00");
        let file = dir.path().join("whole");
        std::fs::write(&file, &whole).unwrap();
        assert_eq!(import(&file, "whole", &tor).unwrap().stored.len(), 1);
        // Cut inside the signatures, and before the footer: both refused, the stored one kept.
        for cut in [whole.len() - 10, whole.find("directory-footer").unwrap()] {
            let file = dir.path().join("cut");
            std::fs::write(&file, &whole[..cut]).unwrap();
            let got = import(&file, "cut", &tor).unwrap();
            assert!(got.stored.is_empty());
            assert!(
                got.skipped[0].starts_with("cut: the consensus ends before its `directory-footer`"),
                "{:?}",
                got.skipped
            );
            let kept = std::fs::read_to_string(tor.join("consensus-2022-11-19-10-00-00")).unwrap();
            assert_eq!(kept, whole);
        }
    }

    #[test]
    fn a_file_that_is_no_consensus_is_skipped_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "hello\n").unwrap();
        let got = import(&file, "notes.txt", &dir.path().join("tor")).unwrap();
        assert!(got.stored.is_empty());
        assert_eq!(
            got.describe(),
            "notes.txt: no consensus in it; 1 skipped: notes.txt is not a network-status consensus (it does not start with `network-status-version 3` and its validity)"
        );
    }
}
