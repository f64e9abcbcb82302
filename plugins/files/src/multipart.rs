//! multipart/form-data request bodies (RFC 7578), split as they stream by: each part that names a
//! `filename` is a file of its own, hashed into its own [`Sink`]; form fields are skipped. Memory is the
//! current part's header block (at most [`MAX_PART_HEAD`]) and the few bytes that could be the start of
//! the next boundary.

use crate::report::FileInfo;
use crate::sink::{Sink, Summary};
use pcapxray_plugin_sdk::names;

/// A part's header block longer than this loses the framing.
pub const MAX_PART_HEAD: usize = 16 * 1024;

enum State {
    /// Before the first boundary.
    Preamble,
    /// Reading a part's header block.
    Head,
    /// Reading a part's content (into `part` when it is a file).
    Body,
    /// The closing boundary was seen, or the framing was lost.
    Done,
}

/// One multipart body being split.
pub struct Multipart {
    delimiter: Vec<u8>,
    state: State,
    buf: Vec<u8>,
    part: Option<(FileInfo, Sink)>,
    /// Files found, in order.
    pub parts: Vec<(FileInfo, Summary)>,
    /// False once a gap or an oversized head lost the framing.
    pub intact: bool,
}

/// The boundary of a `multipart/form-data` Content-Type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/form-data") {
        return None;
    }
    param(content_type, "boundary").filter(|b| !b.is_empty() && b.len() <= 200)
}

/// A `key=value` parameter of a header value (quotes removed), case-insensitive key.
pub fn param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

impl Multipart {
    pub fn new(boundary: &str) -> Multipart {
        let mut m = Multipart {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: State::Preamble,
            buf: Vec::new(),
            part: None,
            parts: Vec::new(),
            intact: true,
        };
        // The first boundary may open the body without a line break before it.
        m.buf.extend_from_slice(b"\r\n");
        m
    }

    pub fn data(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Done) {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(bytes);
        let mut at = 0;
        while let Some(used) = self.step(&buf[at..]) {
            at += used;
            if used == 0 || matches!(self.state, State::Done) {
                break;
            }
        }
        if !matches!(self.state, State::Done) {
            buf.drain(..at.min(buf.len()));
            self.buf = buf;
        }
    }

    /// Consumes from the front of `bytes`; `None` or `Some(0)` when more input is needed.
    fn step(&mut self, bytes: &[u8]) -> Option<usize> {
        match self.state {
            State::Preamble | State::Body => {
                let Some(i) = find(bytes, &self.delimiter) else {
                    // Keep what could be the start of the delimiter.
                    let keep = (self.delimiter.len() - 1).min(bytes.len());
                    let n = bytes.len() - keep;
                    self.content(&bytes[..n]);
                    return Some(n);
                };
                self.content(&bytes[..i]);
                match after_delimiter(&bytes[i + self.delimiter.len()..]) {
                    After::Need => Some(i),
                    After::Close => {
                        self.end_part(true);
                        self.state = State::Done;
                        Some(bytes.len())
                    }
                    After::Open(n) => {
                        self.end_part(true);
                        self.state = State::Head;
                        Some(i + self.delimiter.len() + n)
                    }
                    After::Content => {
                        self.content(&bytes[i..i + 1]);
                        Some(i + 1)
                    }
                }
            }
            State::Head => match find(bytes, b"\r\n\r\n") {
                Some(i) => {
                    self.start_part(&bytes[..i]);
                    self.state = State::Body;
                    Some(i + 4)
                }
                None if bytes.len() > MAX_PART_HEAD => {
                    self.lose();
                    None
                }
                None => None,
            },
            State::Done => None,
        }
    }

    fn content(&mut self, bytes: &[u8]) {
        if let (State::Body, Some((_, sink))) = (&self.state, self.part.as_mut()) {
            sink.data(bytes);
        }
    }

    fn start_part(&mut self, head: &[u8]) {
        let text = String::from_utf8_lossy(head);
        let mut disposition = None;
        let mut content_type = None;
        for line in text.split("\r\n") {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-disposition" => disposition = Some(v.trim().to_string()),
                    "content-type" => content_type = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let Some(d) = disposition else { return };
        let Some(filename) = param(&d, "filename") else {
            return;
        };
        let mut info = FileInfo::new("http", "upload", filename.clone());
        info.declared_type =
            content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_string());
        info.attr(
            names::files::FORM_FIELD,
            param(&d, "name").unwrap_or_default(),
        );
        info.attr(names::files::MULTIPART, "true");
        self.part = Some((info, Sink::new(&filename)));
    }

    fn end_part(&mut self, framed: bool) {
        if let Some((mut info, sink)) = self.part.take() {
            info.framed = framed;
            self.parts.push((info, sink.finish()));
        }
    }

    fn lose(&mut self) {
        self.intact = false;
        self.end_part(false);
        self.state = State::Done;
        self.buf.clear();
    }

    /// `n` bytes of the body were never seen: the current part has a hole, and the boundary that
    /// might have been in it cannot be found, so splitting stops.
    pub fn gap(&mut self, n: u64) {
        if let Some((_, sink)) = self.part.as_mut() {
            sink.gap(n);
        }
        if !matches!(self.state, State::Done) {
            self.lose();
        }
    }

    /// The body is over.
    pub fn finish(mut self) -> Vec<(FileInfo, Summary)> {
        if self.part.is_some() {
            // What was held back as a possible delimiter start belongs to the part.
            let held = std::mem::take(&mut self.buf);
            self.content(&held);
            self.end_part(false);
        }
        self.parts
    }
}

/// What follows `CRLF--boundary`.
enum After {
    /// Not enough bytes yet to tell.
    Need,
    /// `--`: the closing delimiter.
    Close,
    /// Optional white space and a line break of this many bytes: a part starts after them.
    Open(usize),
    /// Anything else: the bytes were content that looked like a delimiter.
    Content,
}

fn after_delimiter(bytes: &[u8]) -> After {
    if bytes.len() < 2 {
        return After::Need;
    }
    if bytes.starts_with(b"--") {
        return After::Close;
    }
    let blank = bytes
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    match &bytes[blank..] {
        [] | [b'\r'] if blank < 256 => After::Need,
        [b'\r', b'\n', ..] => After::Open(blank + 2),
        [b'\n', ..] => After::Open(blank + 1),
        _ => After::Content,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn file_parts_are_split_at_any_chunking() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n\
line one\r\n--XyZnot yet\r\n--XyZ--\r\n";
        let want = crate::sink::hex(&Sha256::digest(b"line one\r\n--XyZnot yet"));
        for step in [1, 2, 5, 13, 1000] {
            let mut m = Multipart::new("XyZ");
            for piece in body.chunks(step) {
                m.data(piece);
            }
            let parts = m.finish();
            assert_eq!(parts.len(), 1, "step {step}");
            assert_eq!(parts[0].0.name, "a.txt");
            assert_eq!(parts[0].0.declared_type.as_deref(), Some("text/plain"));
            assert_eq!(parts[0].1.sha256, want, "step {step}");
            assert!(parts[0].0.framed);
        }
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("text/plain; boundary=abc"), None);
    }
}
