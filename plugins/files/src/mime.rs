//! One Internet message (RFC 5322 with MIME, RFC 2045–2046) read as it streams by: the whole message
//! is a file (`<Subject>.eml`, as sent after SMTP/POP3 dot-unstuffing), and each attachment — a leaf
//! part with a file name or `Content-Disposition: attachment` — is a file of its own, its base64 or
//! quoted-printable transfer encoding undone line by line. Nested multiparts are followed through a
//! stack of boundaries. A kept crate (`mail-parser`) was not used because it parses a whole message
//! held in memory; this reader keeps one line (at most [`MAX_LINE`]), one header block (at most
//! [`MAX_HEADERS`]) and [`MAX_DEPTH`] boundaries, whatever the message's size.

use crate::decode::{Base64, quoted_printable_line};
use crate::multipart::param;
use crate::report::FileInfo;
use crate::sink::{Sink, Summary};
use pcapxray_plugin_sdk::names;

pub const MAX_LINE: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64 * 1024;
pub const MAX_DEPTH: usize = 8;

enum Coding {
    Base64(Base64),
    QuotedPrintable,
    Identity,
}

struct Attachment {
    info: FileInfo,
    sink: Sink,
    coding: Coding,
    /// A line break that belongs to the content unless a boundary follows.
    pending_crlf: bool,
    /// Decoded bytes, capped.
    left: u64,
}

/// A message being read.
pub struct Message {
    proto: &'static str,
    whole: Sink,
    subject: Option<String>,
    line: Vec<u8>,
    /// True while reading a header block (the message's or a part's).
    in_headers: bool,
    headers: Vec<u8>,
    top: bool,
    boundaries: Vec<String>,
    current: Option<Attachment>,
    cap: u64,
    /// Attachments found, in order.
    pub files: Vec<(FileInfo, Summary)>,
}

impl Message {
    pub fn new(proto: &'static str, cap: u64) -> Message {
        Message {
            proto,
            whole: Sink::new("message.eml"),
            subject: None,
            line: Vec::new(),
            in_headers: true,
            headers: Vec::new(),
            top: true,
            boundaries: Vec::new(),
            current: None,
            cap,
            files: Vec::new(),
        }
    }

    /// The next bytes of the message.
    pub fn data(&mut self, bytes: &[u8]) {
        self.whole.data(bytes);
        let mut rest = bytes;
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.line.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    let line = std::mem::take(&mut self.line);
                    self.on_line(&line);
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                    if self.line.len() > MAX_LINE {
                        // Too long to be a boundary or header: content.
                        let line = std::mem::take(&mut self.line);
                        self.content(&line, false);
                    }
                }
            }
        }
    }

    /// `n` bytes of the message were never seen: the message and the open attachment have a hole.
    pub fn gap(&mut self, n: u64) {
        self.whole.gap(n);
        if let Some(a) = &mut self.current {
            a.sink.gap(n);
        }
        self.line.clear();
    }

    fn on_line(&mut self, raw: &[u8]) {
        if self.in_headers {
            let text = raw.strip_suffix(b"\n").unwrap_or(raw);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.is_empty() {
                self.headers_done();
            } else if self.headers.len() + raw.len() <= MAX_HEADERS {
                self.headers.extend_from_slice(raw);
            }
            return;
        }
        if raw.starts_with(b"--") && self.boundary_line(raw) {
            return;
        }
        self.content(raw, true);
    }

    /// Handles `raw` if it is a boundary of an open multipart; true if it was.
    fn boundary_line(&mut self, raw: &[u8]) -> bool {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end();
        let Some(level) = self.boundaries.iter().rposition(|b| {
            text.strip_prefix("--").is_some_and(|t| {
                t.strip_prefix(b.as_str())
                    .is_some_and(|r| r.is_empty() || r == "--")
            })
        }) else {
            return false;
        };
        self.end_attachment(true);
        let closing = text.ends_with("--") && text.len() == self.boundaries[level].len() + 4;
        self.boundaries.truncate(level + 1);
        if closing {
            self.boundaries.pop();
        } else {
            self.in_headers = true;
            self.headers.clear();
        }
        true
    }

    /// A line (or piece of one) of a part's content.
    fn content(&mut self, raw: &[u8], whole_line: bool) {
        let Some(a) = &mut self.current else { return };
        let mut out = Vec::new();
        match &mut a.coding {
            Coding::Base64(d) => d.data(raw, &mut out),
            Coding::QuotedPrintable => {
                if a.pending_crlf {
                    out.extend_from_slice(b"\r\n");
                }
                let text = raw.strip_suffix(b"\n").unwrap_or(raw);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                quoted_printable_line(text, &mut out, true);
                a.pending_crlf = whole_line && !text.trim_ascii_end().ends_with(b"=");
            }
            Coding::Identity => {
                if a.pending_crlf {
                    out.extend_from_slice(b"\r\n");
                }
                let text = raw.strip_suffix(b"\n").unwrap_or(raw);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                out.extend_from_slice(text);
                a.pending_crlf = whole_line;
            }
        }
        let n = (out.len() as u64).min(a.left) as usize;
        a.sink.data(&out[..n]);
        a.left -= n as u64;
        if n < out.len() && a.info.problem.is_none() {
            a.info.problem = Some("decoding stopped at the cap on decoded bytes".into());
        }
    }

    fn headers_done(&mut self) {
        self.in_headers = false;
        let headers = unfold(&std::mem::take(&mut self.headers));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if self.top {
            self.top = false;
            self.subject = get("subject");
        }
        let content_type = get("content-type").unwrap_or_default();
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime.starts_with("multipart/") {
            if let Some(b) = param(&content_type, "boundary")
                && self.boundaries.len() < MAX_DEPTH
            {
                self.boundaries.push(b);
            }
            return;
        }
        let disposition = get("content-disposition").unwrap_or_default();
        let name = param(&disposition, "filename").or_else(|| param(&content_type, "name"));
        let attached = disposition
            .trim()
            .to_ascii_lowercase()
            .starts_with("attachment");
        if name.is_none() && !attached {
            return;
        }
        let name = name.unwrap_or_default();
        let mut info = FileInfo::new(self.proto, "attachment", name.clone());
        info.declared_type = (!mime.is_empty()).then_some(mime);
        let coding = match get("content-transfer-encoding")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "base64" => Coding::Base64(Base64::default()),
            "quoted-printable" => Coding::QuotedPrintable,
            _ => Coding::Identity,
        };
        self.current = Some(Attachment {
            info,
            sink: Sink::new(&name),
            coding,
            pending_crlf: false,
            left: self.cap,
        });
    }

    fn end_attachment(&mut self, framed: bool) {
        if let Some(mut a) = self.current.take() {
            a.info.framed = framed;
            if let Some(s) = &self.subject {
                a.info.attr(names::files::SUBJECT, s.clone());
            }
            self.files.push((a.info, a.sink.finish()));
        }
    }

    /// The message ended (`framed`: where its protocol said it would). Returns the message itself
    /// and its attachments.
    pub fn finish(mut self, framed: bool) -> Vec<(FileInfo, Summary)> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.on_line(&line);
        }
        // An attachment still open when the message ends lacked its closing boundary, which
        // single-part messages never have.
        let single = self.boundaries.is_empty();
        self.end_attachment(framed && single);
        let subject = self.subject.clone().unwrap_or_default();
        let mut info = FileInfo::new(self.proto, "message", format!("{subject}.eml"));
        info.declared_type = Some("message/rfc822".into());
        info.framed = framed;
        info.attr(names::files::SUBJECT, subject);
        let mut files = vec![(info, self.whole.finish())];
        files.append(&mut self.files);
        files
    }
}

/// Header fields of a block, continuation lines joined.
fn unfold(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn attachments_are_decoded_at_any_chunking() {
        let msg = b"Subject: hi\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nbody text\r\n\
--b1\r\nContent-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment;\r\n filename=\"a.zip\"\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n\
--b1\r\nContent-Disposition: attachment; filename=q.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 =\r\nok\r\nline2\r\n--b1--\r\n";
        for step in [1, 3, 17, 10_000] {
            let mut m = Message::new("smtp", 1 << 20);
            for piece in msg.chunks(step) {
                m.data(piece);
            }
            let files = m.finish(true);
            let names: Vec<&str> = files.iter().map(|(i, _)| i.name.as_str()).collect();
            assert_eq!(names, ["hi.eml", "a.zip", "q.txt"], "step {step}");
            let sha = |b: &[u8]| crate::sink::hex(&Sha256::digest(b));
            assert_eq!(files[0].1.sha256, sha(msg));
            assert_eq!(files[1].1.sha256, sha(b"hello world"), "step {step}");
            assert_eq!(
                files[2].1.sha256,
                sha("café ok\r\nline2".as_bytes()),
                "step {step}"
            );
            assert!(files.iter().all(|(i, _)| i.framed));
        }
    }
}
