//! HTTP/1.x message framing over one direction of a reassembled stream: every message of a keep-alive
//! or pipelined connection, its head parsed with `httparse`, its body delimited as RFC 9112 section 6
//! says (chunked, then Content-Length, then — for responses — until the connection closes), and the
//! body handed, after de-chunking, to an [`Entity`] (which undoes content codings and splits
//! multipart uploads), never kept. Bytes missing inside a body (a gap) are counted and the body goes
//! on; a gap inside a head or chunk-size line loses the framing, and the rest of the direction is
//! skipped (said on the body and counted).

use crate::Ctx;
use crate::entity::{Entity, EntityOut};
use crate::report::{FileInfo, Found};
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData, Timestamp};
use std::collections::VecDeque;

/// A head longer than this is not HTTP we can frame (the rest of the direction is skipped).
pub const MAX_HEAD: usize = 256 * 1024;

/// One parsed message head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Request method, or empty for a response.
    pub method: String,
    /// Request target, or empty.
    pub uri: String,
    /// Response status, or 0.
    pub status: u16,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }
}

/// A finished message with a body (or an empty one that was declared).
pub struct Body {
    pub head: Head,
    /// For a response: the request it answers, when it was seen.
    pub request: Option<Head>,
    /// What the body carried.
    pub out: EntityOut,
    /// False when the body was cut short: the stream ended or lost its framing inside it.
    pub framed: bool,
}

impl Body {
    #[cfg(test)]
    fn sha256(&self) -> &str {
        &self.out.summary.sha256
    }
}

#[derive(Debug)]
enum State {
    /// Collecting a head until its empty line.
    Head(Vec<u8>),
    /// `left` body bytes (Content-Length).
    Sized(u64),
    /// Collecting a chunk-size line.
    ChunkSize(Vec<u8>),
    /// `left` bytes of chunk data, then its CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data (`left` bytes of it).
    ChunkEnd(u8),
    /// Trailer fields after the last chunk, until the empty line.
    Trailers(Vec<u8>),
    /// A response body that lasts until the connection closes.
    UntilClose,
    /// The framing is lost: nothing more is parsed.
    Lost,
}

/// What a message's body is being handed to.
struct Open {
    head: Head,
    request: Option<Head>,
    entity: Entity,
}

/// One direction: requests (client to server) or responses.
pub struct Direction {
    responses: bool,
    /// Cap on a body's decoded bytes.
    cap: u64,
    state: State,
    open: Option<Open>,
    /// Finished bodies, taken by the caller.
    pub bodies: Vec<Body>,
    /// Heads seen (messages), in order.
    pub messages: u64,
    /// Request heads not yet taken (requests only), for pairing with responses.
    pub requests: Vec<Head>,
}

impl Direction {
    /// A direction carrying requests (`responses` false) or responses.
    pub fn new(responses: bool, cap: u64) -> Direction {
        Direction {
            responses,
            cap,
            state: State::Head(Vec::new()),
            open: None,
            bodies: Vec::new(),
            messages: 0,
            requests: Vec::new(),
        }
    }

    /// True once the framing is lost.
    pub fn lost(&self) -> bool {
        matches!(self.state, State::Lost)
    }

    /// The next bytes of the direction. `request_of_next` gives, for a response, the request it
    /// answers, when known (a HEAD response has no body).
    pub fn data(&mut self, mut bytes: &[u8], request_of_next: &mut dyn FnMut() -> Option<Head>) {
        while !bytes.is_empty() {
            let used = self.step(bytes, request_of_next);
            bytes = &bytes[used..];
            if self.lost() {
                return;
            }
        }
    }

    /// `n` bytes of the direction were never seen.
    pub fn gap(&mut self, n: u64) {
        self.missing(n);
        match &mut self.state {
            State::Sized(left) if n <= *left => {
                *left -= n;
                if *left == 0 {
                    self.close(true);
                }
            }
            State::ChunkData(left) if n <= *left => {
                *left -= n;
                if *left == 0 {
                    self.state = State::ChunkEnd(2);
                }
            }
            State::UntilClose | State::Lost => {}
            _ => {
                // The gap swallows framing: what follows cannot be placed.
                self.close(false);
                self.state = State::Lost;
            }
        }
    }

    /// The direction ended: a body open until the close is complete, any other is cut short. The
    /// rest of a body whose length was declared (Content-Length) was never seen: it is missing at
    /// the file's end, not merely absent from the count.
    pub fn end(&mut self) {
        if let State::Sized(left) = self.state {
            self.missing(left);
        }
        let complete = matches!(self.state, State::UntilClose);
        self.close(complete);
        self.state = State::Lost;
    }

    fn missing(&mut self, n: u64) {
        if let Some(open) = &mut self.open {
            open.entity.gap(n);
        }
    }

    fn hash(&mut self, bytes: &[u8]) {
        if let Some(open) = &mut self.open {
            open.entity.data(bytes);
        }
    }

    fn close(&mut self, complete: bool) {
        if let Some(open) = self.open.take() {
            self.bodies.push(Body {
                head: open.head,
                request: open.request,
                out: open.entity.finish(),
                framed: complete,
            });
        }
        self.state = State::Head(Vec::new());
    }

    /// Consumes some of `bytes` in the current state; returns how many.
    fn step(&mut self, bytes: &[u8], request_of_next: &mut dyn FnMut() -> Option<Head>) -> usize {
        match &mut self.state {
            State::Head(buf) => {
                let (used, done) = take_line_block(buf, bytes);
                if !starts_like_http(buf, self.responses) {
                    self.state = State::Lost;
                } else if done {
                    let head = std::mem::take(buf);
                    self.head(&head, request_of_next);
                } else if buf.len() > MAX_HEAD {
                    self.state = State::Lost;
                }
                used
            }
            State::Sized(left) => {
                let n = (*left).min(bytes.len() as u64) as usize;
                *left -= n as u64;
                let finished = *left == 0;
                self.hash(&bytes[..n]);
                if finished {
                    self.close(true);
                }
                n
            }
            State::ChunkSize(line) => {
                let (used, done) = take_line(line, bytes);
                if done {
                    match chunk_size(line) {
                        Some(0) => self.state = State::Trailers(Vec::new()),
                        Some(n) => self.state = State::ChunkData(n),
                        None => {
                            self.close(false);
                            self.state = State::Lost;
                        }
                    }
                } else if line.len() > 1024 {
                    self.close(false);
                    self.state = State::Lost;
                }
                used
            }
            State::ChunkData(left) => {
                let n = (*left).min(bytes.len() as u64) as usize;
                *left -= n as u64;
                if *left == 0 {
                    self.state = State::ChunkEnd(2);
                }
                self.hash(&bytes[..n]);
                n
            }
            State::ChunkEnd(left) => {
                let n = usize::from(*left).min(bytes.len());
                *left -= n as u8;
                if *left == 0 {
                    self.state = State::ChunkSize(Vec::new());
                }
                n
            }
            State::Trailers(line) => {
                // Trailer fields are skipped line by line; the empty line ends the message.
                let (used, done) = take_line(line, bytes);
                if done {
                    if line.as_slice() == b"\r\n" || line.as_slice() == b"\n" {
                        self.close(true);
                    } else {
                        line.clear();
                    }
                }
                used
            }
            State::UntilClose => {
                self.hash(bytes);
                bytes.len()
            }
            State::Lost => bytes.len(),
        }
    }

    /// A complete head: decide how its body is delimited.
    fn head(&mut self, raw: &[u8], request_of_next: &mut dyn FnMut() -> Option<Head>) {
        let Some(head) = parse_head(raw, self.responses) else {
            self.state = State::Lost;
            return;
        };
        if self.responses && head.status < 200 {
            return; // 1xx: the real response follows
        }
        self.messages += 1;
        let request = if self.responses {
            request_of_next()
        } else {
            self.requests.push(head.clone());
            None
        };
        let method = request.as_ref().map_or("", |r| r.method.as_str());
        let bodiless =
            self.responses && (method == "HEAD" || head.status == 204 || head.status == 304);
        let chunked = head.chunked();
        let length = head.content_length();
        let state = if bodiless {
            None
        } else if chunked {
            Some(State::ChunkSize(Vec::new()))
        } else if let Some(n) = length {
            Some(State::Sized(n))
        } else if self.responses {
            Some(State::UntilClose)
        } else {
            None // a request without a length has no body
        };
        let declared = chunked || length.is_some_and(|n| n > 0) || self.responses;
        if let Some(state) = state.filter(|_| declared) {
            let entity = Entity::new(
                head.header("content-encoding"),
                head.header("content-type"),
                &name(&head, request.as_ref()),
                self.cap,
            );
            self.open = Some(Open {
                head,
                request,
                entity,
            });
            self.state = state;
            if matches!(self.state, State::Sized(0)) {
                self.close(true);
            }
        } else {
            self.state = State::Head(Vec::new());
        }
    }
}

/// One TCP conversation read as HTTP: requests and responses paired in order.
pub struct Conversation {
    requests: Direction,
    responses: Direction,
    /// Requests not yet answered, oldest first.
    pending: VecDeque<Head>,
}

impl Conversation {
    pub fn new(cap: u64) -> Conversation {
        Conversation {
            requests: Direction::new(false, cap),
            responses: Direction::new(true, cap),
            pending: VecDeque::new(),
        }
    }

    pub fn chunk(&mut self, chunk: &StreamChunk, ctx: &mut Ctx) {
        let pending = &mut self.pending;
        let dir = if chunk.to_server {
            &mut self.requests
        } else {
            &mut self.responses
        };
        match &chunk.data {
            StreamData::Data(bytes) => dir.data(bytes, &mut || pending.pop_front()),
            StreamData::Gap(n) => dir.gap(*n),
            StreamData::End(_) => dir.end(),
            StreamData::Start(_) => {}
        }
        self.pending.extend(self.requests.requests.drain(..));
        self.report(chunk.flow, chunk.time, ctx);
    }

    fn report(&mut self, flow: FlowId, time: Timestamp, ctx: &mut Ctx) {
        let bodies: Vec<Body> = self
            .requests
            .bodies
            .drain(..)
            .chain(self.responses.bodies.drain(..))
            .collect();
        for body in bodies {
            for found in found(body, time) {
                ctx.found(flow, found);
            }
        }
    }

    pub fn close(mut self, flow: FlowId, time: Timestamp, ctx: &mut Ctx) {
        self.requests.end();
        self.responses.end();
        self.report(flow, time, ctx);
    }
}

/// The files of one body: the body itself (unless empty) and its multipart parts.
fn found(body: Body, time: Timestamp) -> Vec<Found> {
    let Body {
        head,
        request,
        out,
        framed,
    } = body;
    let upload = head.status == 0;
    let mut files = Vec::new();
    if out.summary.size == 0
        && out.summary.missing == 0
        && out.encoded.as_ref().is_none_or(|e| e.1 == 0)
    {
        return files;
    }
    let request = if upload {
        Some(&head)
    } else {
        request.as_ref()
    };
    let what = match (upload, head.status) {
        (true, _) => "upload",
        (false, 206) => "partial download",
        _ => "download",
    };
    let mut info = FileInfo::new("http", what, name(&head, request));
    info.framed = framed;
    info.problem = out.problem;
    info.declared_type = head
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    if let Some(r) = request {
        info.attr("method", r.method.clone());
        info.attr("uri", r.uri.clone());
        info.attr("host", r.header("host").unwrap_or_default());
    }
    if !upload {
        info.attr("status", head.status.to_string());
    }
    info.attr(
        "content_range",
        head.header("content-range").unwrap_or_default(),
    );
    info.attr(
        "content_encoding",
        head.header("content-encoding").unwrap_or_default(),
    );
    info.attr(
        "transfer_encoding",
        head.header("transfer-encoding").unwrap_or_default(),
    );
    if let Some((sha, size)) = out.encoded {
        info.attr("encoded_sha256", sha);
        info.attr("encoded_size", size.to_string());
    }
    for (mut part, summary) in out.parts {
        for key in ["method", "uri", "host"] {
            if let Some((_, v)) = info.attrs.iter().find(|(k, _)| *k == key) {
                part.attrs.push((key, v.clone()));
            }
        }
        files.push(Found {
            info: part,
            summary,
            time,
        });
    }
    files.insert(
        0,
        Found {
            info,
            summary: out.summary,
            time,
        },
    );
    files
}

/// The file's name: `filename=` of Content-Disposition, else the last segment of the request path.
pub fn name(head: &Head, request: Option<&Head>) -> String {
    let disposition = head
        .header("content-disposition")
        .and_then(|v| crate::multipart::param(v, "filename"));
    let uri = request.map_or(head.uri.as_str(), |r| r.uri.as_str());
    let path = uri.split(['?', '#']).next().unwrap_or("");
    disposition
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| match path.rsplit('/').next() {
            Some(last) if !last.is_empty() => last.to_string(),
            _ => path.to_string(),
        })
}

/// Appends bytes up to and including the first `\r\n\r\n` (allowing for one split across calls);
/// returns (bytes used, whether the block is complete). Leading empty lines are skipped.
fn take_line_block(buf: &mut Vec<u8>, bytes: &[u8]) -> (usize, bool) {
    let mut used = 0;
    if buf.is_empty() {
        while bytes[used..].starts_with(b"\r\n") {
            used += 2;
        }
    }
    let start = buf.len().saturating_sub(3);
    buf.extend_from_slice(&bytes[used..]);
    match find(&buf[start..], b"\r\n\r\n") {
        Some(i) => {
            let end = start + i + 4;
            let extra = buf.len() - end;
            buf.truncate(end);
            (bytes.len() - extra, true)
        }
        None => (bytes.len(), false),
    }
}

/// Appends bytes up to and including the first `\n`; returns (bytes used, whether a line ended).
fn take_line(line: &mut Vec<u8>, bytes: &[u8]) -> (usize, bool) {
    match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => {
            line.extend_from_slice(&bytes[..=i]);
            (i + 1, true)
        }
        None => {
            line.extend_from_slice(bytes);
            (bytes.len(), false)
        }
    }
}

/// Whether the first bytes of a head can be HTTP: `HTTP/` for a response, a method token and a space
/// for a request. Decided as soon as there are enough bytes, so a TLS or binary stream is given up at
/// once instead of being buffered.
pub fn starts_like_http(buf: &[u8], response: bool) -> bool {
    if response {
        let n = buf.len().min(5);
        return buf[..n] == b"HTTP/"[..n];
    }
    let token = buf
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    match buf.get(token) {
        None => token == buf.len() && token < 16,
        Some(b' ') => token > 0,
        Some(_) => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The size of a chunk-size line (hex, extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let hex = text.split(';').next()?.trim();
    u64::from_str_radix(hex, 16).ok()
}

fn parse_head(raw: &[u8], response: bool) -> Option<Head> {
    let mut fields = vec![httparse::EMPTY_HEADER; 256];
    let mut head = Head::default();
    let headers: &[httparse::Header] = if response {
        let mut r = httparse::Response::new(&mut fields);
        r.parse(raw).ok()?.is_complete().then_some(())?;
        head.status = r.code?;
        r.headers
    } else {
        let mut r = httparse::Request::new(&mut fields);
        r.parse(raw).ok()?.is_complete().then_some(())?;
        head.method = r.method?.to_string();
        head.uri = r.path?.to_string();
        r.headers
    };
    head.headers = headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    use sha2::{Digest, Sha256};

    fn sha(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Feeds `text` to a response direction in pieces of `step` bytes.
    fn responses(text: &[u8], step: usize, methods: &[&str]) -> Direction {
        let mut d = Direction::new(true, 1 << 20);
        let mut methods = methods.iter().map(|m| Head {
            method: m.to_string(),
            ..Head::default()
        });
        for piece in text.chunks(step) {
            d.data(piece, &mut || methods.next());
        }
        d.end();
        d
    }

    #[test]
    fn keep_alive_responses_are_each_framed_by_length_or_chunks() {
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\n\r\nuntil close";
        for step in [1, 3, 7, 1000] {
            let d = responses(text, step, &["GET"; 5]);
            let got: Vec<(String, u64, bool)> = d
                .bodies
                .iter()
                .map(|b| (b.sha256().to_string(), b.out.summary.size, b.framed))
                .collect();
            let want = vec![
                (sha(b"hello"), 5, true),
                (sha(b"abcde"), 5, true),
                (sha(b"z"), 1, true),
                (sha(b"until close"), 11, true),
            ];
            assert_eq!(got, want, "step {step}");
            assert_eq!(d.messages, 5);
        }
    }

    #[test]
    fn a_head_response_has_no_body_and_1xx_is_skipped() {
        let text = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let d = responses(text, 4, &["HEAD", "GET"]);
        assert_eq!(d.bodies.len(), 1);
        assert_eq!(d.bodies[0].sha256(), sha(b"ok"));
        assert_eq!(d.messages, 2);
    }

    #[test]
    fn a_gap_inside_a_body_is_counted_and_the_next_message_still_parses() {
        let mut d = Direction::new(true, 1 << 20);
        let mut get = || {
            Some(Head {
                method: "GET".into(),
                ..Head::default()
            })
        };
        d.data(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            &mut get,
        );
        d.gap(4);
        d.data(b"hij", &mut get);
        d.data(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", &mut get);
        // A third body cut by the end of the capture: 7 of its 10 declared bytes never came.
        d.data(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            &mut get,
        );
        d.end();
        assert_eq!(d.bodies.len(), 3);
        assert_eq!(
            (
                d.bodies[2].out.summary.size,
                d.bodies[2].out.summary.missing
            ),
            (3, 7)
        );
        assert!(!d.bodies[2].framed);
        assert_eq!(
            (
                d.bodies[0].out.summary.size,
                d.bodies[0].out.summary.missing
            ),
            (6, 4)
        );
        assert_eq!(d.bodies[0].sha256(), sha(b"abchij"));
        assert!(d.bodies[1].framed);
    }

    #[test]
    fn requests_with_bodies_are_uploads_and_others_have_none() {
        let mut d = Direction::new(false, 1 << 20);
        let text = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /up HTTP/1.1\r\nContent-Length: 4\r\n\r\ndataGET /x HTTP/1.1\r\n\r\n";
        d.data(text, &mut || None);
        d.end();
        assert_eq!(d.messages, 3);
        assert_eq!(d.bodies.len(), 1);
        assert_eq!(d.bodies[0].head.uri, "/up");
        assert_eq!(d.bodies[0].sha256(), sha(b"data"));
    }

    #[test]
    fn a_stream_that_is_not_http_is_given_up() {
        let mut d = Direction::new(true, 1 << 20);
        d.data(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
            &mut || None,
        );
        assert!(d.lost());
        assert!(d.bodies.is_empty());
    }
}
