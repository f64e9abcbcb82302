//! The consensus documents a stage may use, found through the `files` capability, and the choice of
//! the one that fits a flow's time. Relays join, leave and move every hour, so a match is only as good
//! as the consensus it came from: the one valid when the flow started is used; when no document covers
//! that time, the nearest one is, and the finding says how far away it was.
//!
//! A folder can hold many documents (a month of hourly consensuses is 720 files), so only their
//! headers are kept for all of them and at most [`CACHED`] documents are held parsed; others are read
//! again when a flow needs them. The file access goes through the SDK's [`Host`] trait so the whole
//! catalogue is tested natively with its fake host.

pub use crate::consensus::Validity;
use crate::consensus::{Consensus, Depth, Flavor, ParseError, format_time};
use pcapxray_plugin_sdk::CapabilityError;
use pcapxray_plugin_sdk::host::Host;

/// Parsed documents kept in memory at once.
pub const CACHED: usize = 4;

/// Most documents taken from the configured sources; the rest are ignored with a warning.
pub const MAX_DOCUMENTS: usize = 5_000;

/// One consensus document the stage can use.
#[derive(Clone, Debug)]
pub struct Document {
    /// The path it was read from.
    pub path: String,
    /// Its file name, for reports (paths differ between machines; names do not).
    pub name: String,
    /// Full or microdescriptor flavour.
    pub flavor: Flavor,
    /// Its validity times.
    pub validity: Validity,
    /// False once reading it again failed: it is no longer chosen.
    pub usable: bool,
}

impl Document {
    /// `name (valid-after YYYY-MM-DD HH:MM:SS)`, the `tor.consensus` attribute.
    pub fn label(&self) -> String {
        format!(
            "{} (valid-after {})",
            self.name,
            format_time(self.validity.valid_after)
        )
    }
}

/// How the document used for a flow relates to the flow's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The flow started between `valid-after` and `valid-until`.
    Valid,
    /// No document covers the flow; this one is the nearest, `seconds` away.
    Nearest {
        /// Distance from the flow's start to the document's validity interval.
        seconds: i64,
    },
}

impl Fit {
    /// Whole hours away, rounded (0 for a valid document).
    pub fn hours(self) -> i64 {
        match self {
            Fit::Valid => 0,
            Fit::Nearest { seconds } => (seconds + 1800) / 3600,
        }
    }

    /// The `tor.consensus-match` attribute: `valid`, or `nearest (N hours away)`.
    pub fn describe(self) -> String {
        match self {
            Fit::Valid => "valid".into(),
            Fit::Nearest { .. } => {
                let h = self.hours();
                format!("nearest ({h} hour{} away)", if h == 1 { "" } else { "s" })
            }
        }
    }
}

/// A message for the stage's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Worth the investigator's attention.
    Warn(String),
    /// Progress.
    Info(String),
    /// Details.
    Debug(String),
}

/// The documents found in the configured sources.
#[derive(Default)]
pub struct Catalog {
    /// Every usable document, sorted by `valid-after` (one per `valid-after`, the full flavour
    /// preferred).
    pub documents: Vec<Document>,
    /// Why a configured source gave nothing, one line per source.
    pub failures: Vec<String>,
    /// Those of `failures` that only say the source does not exist (a folder `pcapxray tor fetch`
    /// never filled): not worth a warning while another source gives documents.
    pub missing: Vec<String>,
    /// Messages for the log.
    pub notes: Vec<Note>,
    /// Documents read in full that end before their `directory-footer` (a truncated file), by name.
    pub truncated: std::collections::BTreeSet<String>,
    /// Parsed documents, least recently used first: (index into `documents`, document).
    cache: Vec<(usize, Consensus)>,
}

impl Catalog {
    /// Reads the sources: each is a consensus file or a folder whose files starting with
    /// `network-status-version` are taken (sub-folders are not entered).
    pub fn load(sources: &[String], files: &dyn Host) -> Catalog {
        let mut catalog = Catalog::default();
        let mut pending: Vec<(Document, Option<Consensus>)> = Vec::new();
        for source in sources {
            let before = pending.len();
            match files.list_dir(source) {
                Ok(names) => {
                    let mut skipped = 0usize;
                    for name in names.iter().filter(|n| !n.starts_with('.')) {
                        if pending.len() >= MAX_DOCUMENTS {
                            catalog.notes.push(Note::Warn(format!(
                                "More than {MAX_DOCUMENTS} consensus documents configured; the rest of {source} is ignored."
                            )));
                            break;
                        }
                        let path = join(source, name);
                        let bytes = match files.read_file(&path) {
                            Ok(bytes) => bytes,
                            // Sub-folders and unreadable entries are not consensus files.
                            Err(e) => {
                                catalog.notes.push(Note::Debug(format!(
                                    "Skipped {path}: {}: {}",
                                    e.kind(),
                                    e.message()
                                )));
                                skipped += 1;
                                continue;
                            }
                        };
                        if !looks_like_consensus(&bytes) {
                            skipped += 1;
                            continue;
                        }
                        match catalog.admit(&path, name, &bytes, pending.len()) {
                            Ok(entry) => pending.push(entry),
                            Err(e) => catalog
                                .notes
                                .push(Note::Warn(format!("Skipped {path}: {e}."))),
                        }
                    }
                    if pending.len() == before {
                        catalog.failures.push(format!(
                            "{source}: the folder holds no Tor consensus document ({} entr{} looked at)",
                            names.len(),
                            if names.len() == 1 { "y" } else { "ies" }
                        ));
                    } else if skipped > 0 {
                        catalog.notes.push(Note::Debug(format!(
                            "{source}: {skipped} entries are not consensus documents."
                        )));
                    }
                }
                Err(
                    e @ (CapabilityError::NotGranted(_)
                    | CapabilityError::Denied(_)
                    | CapabilityError::NotFound(_)),
                ) => {
                    let line = format!("{source}: {}: {}", e.kind(), e.message());
                    if matches!(e, CapabilityError::NotFound(_)) {
                        catalog.missing.push(line.clone());
                    }
                    catalog.failures.push(line);
                }
                // Not a folder (or the listing failed): try it as a file.
                Err(_) => match files.read_file(source) {
                    Ok(bytes) => {
                        let name = source
                            .trim_end_matches('/')
                            .rsplit('/')
                            .next()
                            .unwrap_or(source);
                        match catalog.admit(source, name, &bytes, pending.len()) {
                            Ok(entry) => pending.push(entry),
                            Err(e) => catalog.failures.push(format!("{source}: {e}")),
                        }
                    }
                    Err(e) => {
                        catalog
                            .failures
                            .push(format!("{source}: {}: {}", e.kind(), e.message()))
                    }
                },
            }
        }
        // One document per valid-after: the full flavour when both are there, else the first found.
        pending.sort_by_key(|(d, _)| (d.validity.valid_after, d.flavor != Flavor::Full));
        pending.dedup_by_key(|(d, _)| d.validity.valid_after);
        for (document, parsed) in pending {
            if let Some(c) = parsed
                && catalog.cache.len() < CACHED
            {
                catalog.cache.push((catalog.documents.len(), c));
            }
            catalog.documents.push(document);
        }
        catalog
    }

    /// Parses one document: fully while the cache has room, else only its header.
    fn admit(
        &mut self,
        path: &str,
        name: &str,
        bytes: &[u8],
        admitted: usize,
    ) -> Result<(Document, Option<Consensus>), ParseError> {
        let text = String::from_utf8_lossy(bytes);
        let depth = if admitted < CACHED {
            Depth::Full
        } else {
            Depth::Header
        };
        let c = Consensus::parse(&text, depth)?;
        let document = Document {
            path: path.to_string(),
            name: name.to_string(),
            flavor: c.flavor.unwrap_or(Flavor::Full),
            validity: c.validity(),
            usable: true,
        };
        if depth == Depth::Full {
            self.note_parsed(&document, &c);
            Ok((document, Some(c)))
        } else {
            Ok((document, None))
        }
    }

    fn note_parsed(&mut self, document: &Document, c: &Consensus) {
        self.notes.push(Note::Info(format!(
            "Read {} ({} consensus, {} relays, {} extra OR addresses).",
            document.label(),
            document.flavor.as_str(),
            c.relays.len(),
            c.extra_addresses
        )));
        if c.problem_count > 0 {
            let first: Vec<String> = c.problems.iter().map(|p| p.to_string()).collect();
            self.notes.push(Note::Warn(format!(
                "{}: skipped {} malformed line{} ({}).",
                document.name,
                c.problem_count,
                if c.problem_count == 1 { "" } else { "s" },
                first.join("; ")
            )));
        }
        if !c.complete && self.truncated.insert(document.name.clone()) {
            self.notes.push(Note::Warn(format!(
                "{} ends before its `directory-footer`: the file looks truncated, relays after the cut are missing.",
                document.name
            )));
        }
    }

    /// True when at least one document is usable.
    pub fn is_empty(&self) -> bool {
        !self.documents.iter().any(|d| d.usable)
    }

    /// The document for a flow that started at `t` (seconds since the epoch): the most recent one
    /// valid then, else the nearest in time.
    pub fn select(&self, t: i64) -> Option<(usize, Fit)> {
        let valid = self
            .documents
            .iter()
            .enumerate()
            .filter(|(_, d)| d.usable && d.validity.covers(t))
            .max_by_key(|(_, d)| d.validity.valid_after);
        if let Some((i, _)) = valid {
            return Some((i, Fit::Valid));
        }
        self.documents
            .iter()
            .enumerate()
            .filter(|(_, d)| d.usable)
            .min_by_key(|(_, d)| {
                (
                    d.validity.distance(t),
                    std::cmp::Reverse(d.validity.valid_after),
                )
            })
            .map(|(i, d)| {
                (
                    i,
                    Fit::Nearest {
                        seconds: d.validity.distance(t),
                    },
                )
            })
    }

    /// Document `index`, parsed (read again through `files` when it is not cached).
    pub fn get(&mut self, index: usize, files: &dyn Host) -> Option<&Consensus> {
        if let Some(pos) = self.cache.iter().position(|(i, _)| *i == index) {
            let entry = self.cache.remove(pos);
            self.cache.push(entry);
            return self.cache.last().map(|(_, c)| c);
        }
        let document = self.documents.get(index)?.clone();
        let parsed = files
            .read_file(&document.path)
            .map_err(|e| format!("{}: {}", e.kind(), e.message()))
            .and_then(|bytes| {
                Consensus::parse(&String::from_utf8_lossy(&bytes), Depth::Full)
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok(c) => {
                self.note_parsed(&document, &c);
                if self.cache.len() >= CACHED {
                    self.cache.remove(0);
                }
                self.cache.push((index, c));
                self.cache.last().map(|(_, c)| c)
            }
            Err(e) => {
                self.notes.push(Note::Warn(format!(
                    "Could not read {} again: {e}; its flows are not matched.",
                    document.path
                )));
                // Forget it so the next flow does not try again.
                if let Some(d) = self.documents.get_mut(index) {
                    d.usable = false;
                }
                None
            }
        }
    }

    /// Takes the messages gathered since the last call.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
}

/// `folder/name`.
fn join(folder: &str, name: &str) -> String {
    if folder.ends_with('/') {
        format!("{folder}{name}")
    } else {
        format!("{folder}/{name}")
    }
}

/// True when the file starts like a consensus (`network-status-version`, possibly after CollecTor's
/// `@type` annotation lines).
pub fn looks_like_consensus(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        if rest.starts_with(b"network-status-version") {
            return true;
        }
        if !rest.starts_with(b"@") {
            return false;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    pub use pcapxray_plugin_sdk::testing::FakeHost;

    /// A one-relay full consensus valid for three hours from `valid_after` (`YYYY-MM-DD HH`).
    pub fn doc(valid_after: &str, nickname: &str, ip: &str, or_port: u16) -> Vec<u8> {
        let (date, hour) = valid_after.split_once(' ').unwrap();
        let h: u32 = hour.parse().unwrap();
        format!(
            "network-status-version 3\nvote-status consensus\nvalid-after {date} {h:02}:00:00\n\
             fresh-until {date} {:02}:00:00\nvalid-until {date} {:02}:00:00\n\
             r {nickname} AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY {date} 00:00:00 {ip} {or_port} 0\n\
             s Fast Running Valid\ndirectory-footer\n",
            h + 1,
            h + 3
        )
        .into_bytes()
    }

    fn t(s: &str) -> i64 {
        let (d, tm) = s.split_once(' ').unwrap();
        crate::consensus::parse_time(&[d, tm]).unwrap()
    }

    #[test]
    fn reads_folders_and_files_and_picks_the_document_of_the_flow_time() {
        let fs = FakeHost::new("tor").grant_files();
        fs.file(
            "/tor/cached-consensus",
            &doc("2022-11-19 10", "early", "1.1.1.1", 443),
        );
        fs.file("/tor/later", &doc("2022-11-19 12", "late", "2.2.2.2", 9001));
        fs.file("/tor/notes.txt", b"not a consensus");
        fs.file("/tor/sub/x", &doc("2022-11-19 01", "hidden", "3.3.3.3", 1));
        fs.file("/other/one", &doc("2022-11-20 00", "single", "4.4.4.4", 80));
        let mut c = Catalog::load(&["/tor".into(), "/other/one".into()], &fs);
        assert!(c.failures.is_empty(), "{:?}", c.failures);
        let names: Vec<_> = c.documents.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["cached-consensus", "later", "one"]);
        assert_eq!(
            c.documents[0].label(),
            "cached-consensus (valid-after 2022-11-19 10:00:00)"
        );

        // 12:30 is covered by both the 10:00 and the 12:00 documents: the fresher wins.
        assert_eq!(c.select(t("2022-11-19 12:30:00")), Some((1, Fit::Valid)));
        assert_eq!(c.select(t("2022-11-19 10:30:00")), Some((0, Fit::Valid)));
        // Before everything: the earliest, 5 hours away.
        let (i, fit) = c.select(t("2022-11-19 05:00:00")).unwrap();
        assert_eq!(
            (i, fit.describe()),
            (0, "nearest (5 hours away)".to_string())
        );
        // Between 15:00 (end of `later`) and 2022-11-20 00:00: the nearer one.
        let (i, fit) = c.select(t("2022-11-19 16:00:00")).unwrap();
        assert_eq!(
            (i, fit.describe()),
            (1, "nearest (1 hour away)".to_string())
        );
        let (i, _) = c.select(t("2022-11-19 22:00:00")).unwrap();
        assert_eq!(i, 2);
        let relay = c.get(2, &fs).unwrap().relays[0].nickname.clone();
        assert_eq!(relay, "single");
    }

    #[test]
    fn explains_why_nothing_could_be_read() {
        let fs = FakeHost::new("tor").grant_files();
        fs.deny("/secret");
        fs.file("/empty/readme", b"hello");
        fs.file("/bad", b"network-status-version 3\nvalid-after soon\n");
        let c = Catalog::load(
            &[
                "/secret/tor".into(),
                "/missing".into(),
                "/empty".into(),
                "/bad".into(),
            ],
            &fs,
        );
        assert!(c.is_empty());
        assert_eq!(c.select(0), None);
        assert_eq!(c.failures.len(), 4, "{:?}", c.failures);
        assert!(
            c.failures[0].starts_with("/secret/tor: denied:"),
            "{}",
            c.failures[0]
        );
        assert!(
            c.failures[1].starts_with("/missing: not found:"),
            "{}",
            c.failures[1]
        );
        assert!(
            c.failures[2].contains("holds no Tor consensus document"),
            "{}",
            c.failures[2]
        );
        assert!(
            c.failures[3].starts_with("/bad: line 2:"),
            "{}",
            c.failures[3]
        );
    }

    #[test]
    fn keeps_few_documents_parsed_and_reads_others_again() {
        let fs = FakeHost::new("tor").grant_files();
        for day in 10..20 {
            fs.file(
                &format!("/tor/c{day}"),
                &doc(
                    &format!("2022-11-{day} 10"),
                    &format!("relay{day}"),
                    "1.1.1.1",
                    443,
                ),
            );
        }
        let mut c = Catalog::load(&["/tor".into()], &fs);
        assert_eq!(c.documents.len(), 10);
        for (round, day) in [19, 10, 15, 19, 11, 12, 13, 14].into_iter().enumerate() {
            let (i, fit) = c.select(t(&format!("2022-11-{day} 11:00:00"))).unwrap();
            assert_eq!(fit, Fit::Valid);
            let nick = c.get(i, &fs).unwrap().relays[0].nickname.clone();
            assert_eq!(nick, format!("relay{day}"), "round {round}");
            assert!(c.cache.len() <= CACHED);
        }
        // A document that vanished is dropped, not retried.
        fs.state().files.as_mut().unwrap().remove("/tor/c16");
        let (i, _) = c.select(t("2022-11-16 11:00:00")).unwrap();
        assert!(c.get(i, &fs).is_none());
        assert!(
            c.take_notes()
                .iter()
                .any(|n| matches!(n, Note::Warn(w) if w.contains("Could not read /tor/c16 again")))
        );
        let (j, fit) = c.select(t("2022-11-16 11:00:00")).unwrap();
        assert_ne!(j, i);
        assert!(matches!(fit, Fit::Nearest { .. }));
    }

    #[test]
    fn recognises_consensus_files_by_their_start() {
        assert!(looks_like_consensus(b"network-status-version 3\n"));
        assert!(looks_like_consensus(
            b"@type network-status-consensus-3 1.0\nnetwork-status-version 3\n"
        ));
        assert!(!looks_like_consensus(b"@type x"));
        assert!(!looks_like_consensus(b"\x89PNG"));
        assert!(!looks_like_consensus(b""));
    }
}
