//! HTTP/1.x read from a whole reassembled connection, chunk by chunk, so every transaction of a
//! keep-alive or pipelined connection is counted however long it runs. What it promises: memory per
//! connection stays bounded whatever the traffic — a head is buffered up to [`MAX_HEAD`] bytes (a
//! longer one is still recognised from its first line and marked), bodies are skipped, not kept
//! (only the field names of a form are read as they pass), and a tunnel keeps its first
//! [`MAX_TUNNEL`] bytes for its TLS hellos. A gap or a message it cannot frame ends the reading of
//! that direction; what was read stays.

use crate::http::{
    self, After, Body, FormKind, MAX_FORM_FIELDS, Request, RequestHead, Response, ResponseHead,
};
use crate::text::{MAX_VALUE_CHARS, clean};
use std::collections::VecDeque;

/// Bytes of one message head held while it is incomplete.
pub const MAX_HEAD: usize = 32 * 1024;
/// Bytes of a tunnel kept (its TLS hellos).
pub const MAX_TUNNEL: usize = 16 * 1024;
/// Bytes of a URL-encoded form body kept to read its field names.
const MAX_URLENCODED: usize = 16 * 1024;
/// Longest line held: chunk sizes, trailers, multipart lines.
const MAX_LINE: usize = 2048;
/// Requests awaiting their response, kept to frame responses (`HEAD`, `CONNECT`).
const MAX_PENDING: usize = 1024;
/// Characters kept of a form field name.
const MAX_FIELD_CHARS: usize = 64;

/// Where a direction is.
#[derive(Debug)]
enum State {
    /// Reading a message head (held in `buf`).
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// Reading a chunked body.
    Chunked(Chunk),
    /// Everything up to the end of the connection is body.
    Close,
    /// After `CONNECT`: the tunnel's bytes.
    Tunnel,
    /// Nothing more is read (gap, unframeable message, not HTTP).
    Stopped,
}

#[derive(Debug)]
enum Chunk {
    /// The chunk-size line (held in `buf`).
    Size,
    /// This many chunk bytes left.
    Data(u64),
    /// The CRLF after a chunk's data: bytes left.
    DataEnd(u8),
    /// Trailer lines up to the blank one.
    Trailer,
}

/// One direction of the connection.
#[derive(Debug)]
struct Side {
    state: State,
    /// The head or line being read.
    buf: Vec<u8>,
    /// The form of the request body being read, and the index of its request.
    form: Option<(FormReader, Option<usize>)>,
    /// Messages parsed.
    messages: usize,
}

impl Default for Side {
    fn default() -> Side {
        Side {
            state: State::Head,
            buf: Vec::new(),
            form: None,
            messages: 0,
        }
    }
}

/// A connection read as HTTP/1.x.
#[derive(Debug, Default)]
pub struct Conversation {
    client: Side,
    server: Side,
    /// The first `max` requests.
    pub requests: Vec<Request>,
    /// Requests seen, including those past `max` (and one known only by its first line).
    pub request_count: usize,
    /// The first `max` final responses.
    pub responses: Vec<Response>,
    /// Final responses seen.
    pub response_count: usize,
    /// Methods of the requests not answered yet.
    pending: VecDeque<String>,
    /// The first bytes the client sent into a `CONNECT` tunnel.
    pub client_tunnel: Vec<u8>,
    /// The first bytes the server sent through it.
    pub server_tunnel: Vec<u8>,
    /// True when a head was longer than [`MAX_HEAD`].
    pub head_over_limit: bool,
    max: usize,
}

impl Conversation {
    /// A conversation listing at most `max` transactions.
    pub fn new(max: usize) -> Conversation {
        Conversation {
            max,
            ..Conversation::default()
        }
    }

    /// The next bytes of one direction.
    pub fn data(&mut self, to_server: bool, mut data: &[u8]) {
        while !data.is_empty() {
            let used = if to_server {
                self.client_step(data)
            } else {
                self.server_step(data)
            };
            if used == 0 && !data.is_empty() && self.side(to_server).buf.is_empty() {
                // Nothing consumed and nothing held: the direction is stopped.
                return;
            }
            data = &data[used.min(data.len())..];
        }
    }

    /// `n` bytes of one direction were never seen.
    pub fn gap(&mut self, to_server: bool, n: u64) {
        let side = self.side_mut(to_server);
        side.form = None;
        side.state = match std::mem::replace(&mut side.state, State::Stopped) {
            State::Body(left) if n < left => State::Body(left - n),
            State::Body(_) => State::Head,
            State::Chunked(Chunk::Data(left)) if n < left => State::Chunked(Chunk::Data(left - n)),
            State::Close => State::Close,
            _ => State::Stopped,
        };
        side.buf.clear();
    }

    /// The direction ended: a form still being read is finished.
    pub fn end(&mut self, to_server: bool) {
        self.finish_form(to_server);
    }

    fn side(&self, to_server: bool) -> &Side {
        if to_server {
            &self.client
        } else {
            &self.server
        }
    }

    fn side_mut(&mut self, to_server: bool) -> &mut Side {
        if to_server {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    /// One step of the client direction; returns the bytes it consumed.
    fn client_step(&mut self, data: &[u8]) -> usize {
        match self.client.state {
            State::Head => match read_head(&mut self.client.buf, data, http::request_head) {
                Read::Complete(head, used) => {
                    self.on_request(head);
                    used
                }
                Read::Partial(used) => used,
                Read::TooLong => {
                    self.on_long_request();
                    0
                }
                Read::Invalid => {
                    self.client.state = State::Stopped;
                    0
                }
            },
            State::Tunnel => {
                keep(&mut self.client_tunnel, data);
                data.len()
            }
            _ => body_step(&mut self.client, data, &mut self.requests),
        }
    }

    /// One step of the server direction.
    fn server_step(&mut self, data: &[u8]) -> usize {
        match self.server.state {
            State::Head => match read_head(&mut self.server.buf, data, http::response_head) {
                Read::Complete(head, used) => {
                    self.on_response(head);
                    used
                }
                Read::Partial(used) => used,
                Read::TooLong => {
                    self.on_long_response();
                    0
                }
                Read::Invalid => {
                    self.server.state = State::Stopped;
                    0
                }
            },
            State::Tunnel => {
                keep(&mut self.server_tunnel, data);
                data.len()
            }
            _ => body_step(&mut self.server, data, &mut []),
        }
    }

    fn push_request(&mut self, request: Request) -> Option<usize> {
        self.request_count += 1;
        self.client.messages += 1;
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(request.method.clone());
        }
        (self.requests.len() < self.max).then(|| {
            self.requests.push(request);
            self.requests.len() - 1
        })
    }

    fn on_request(&mut self, head: RequestHead) {
        let connect = head.request.method.eq_ignore_ascii_case("CONNECT");
        let index = self.push_request(head.request);
        self.client.state = if connect {
            State::Tunnel
        } else {
            body_state(head.body)
        };
        if let (Some(kind), State::Body(_) | State::Chunked(_)) = (head.form, &self.client.state) {
            self.client.form = Some((FormReader::new(kind), index));
        }
    }

    /// A request head longer than [`MAX_HEAD`]: known by its first line, its body cannot be framed.
    fn on_long_request(&mut self) {
        self.head_over_limit = true;
        let line = first_line(&self.client.buf);
        let mut words = line.splitn(3, |&b| b == b' ');
        let method = words.next().unwrap_or_default();
        let uri = words.next().unwrap_or_default();
        if is_method(method) && !uri.is_empty() {
            self.push_request(Request {
                method: clean(method, 32),
                uri: clean(uri, MAX_VALUE_CHARS),
                ..Request::default()
            });
        }
        self.client.buf = Vec::new();
        self.client.state = State::Stopped;
    }

    fn on_response(&mut self, head: ResponseHead) {
        if http::is_interim(head.response.status) {
            return;
        }
        let method = self.pending.pop_front().unwrap_or_else(|| "GET".into());
        let after = http::after_response(&method, &head);
        self.push_response(head.response);
        self.server.state = match after {
            After::Body(body) => body_state(body),
            After::Close => State::Close,
            After::Switch => State::Stopped,
            After::Tunnel => State::Tunnel,
        };
    }

    fn push_response(&mut self, response: Response) {
        self.response_count += 1;
        self.server.messages += 1;
        if self.responses.len() < self.max {
            self.responses.push(response);
        }
    }

    fn on_long_response(&mut self) {
        self.head_over_limit = true;
        let line = first_line(&self.server.buf);
        let mut words = line.splitn(3, |&b| b == b' ');
        let version = words.next().unwrap_or_default();
        let status = std::str::from_utf8(words.next().unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<u16>().ok());
        if let (true, Some(status)) = (version.starts_with(b"HTTP/1."), status) {
            self.pending.pop_front();
            self.push_response(Response {
                status,
                reason: clean(words.next().unwrap_or_default(), 256),
                ..Response::default()
            });
        }
        self.server.buf = Vec::new();
        self.server.state = State::Stopped;
    }

    fn finish_form(&mut self, to_server: bool) {
        if let Some((form, Some(index))) = self.side_mut(to_server).form.take()
            && let Some(request) = self.requests.get_mut(index)
        {
            request.form_fields = form.finish();
        }
    }
}

/// The state a body framed so starts.
fn body_state(body: Body) -> State {
    match body {
        Body::Length(0) => State::Head,
        Body::Length(n) => State::Body(n),
        Body::Chunked => State::Chunked(Chunk::Size),
        Body::Unknown | Body::Invalid => State::Stopped,
    }
}

fn keep(tunnel: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_TUNNEL.saturating_sub(tunnel.len());
    tunnel.extend_from_slice(&data[..room.min(data.len())]);
}

/// The first line of a buffer (all of it without a line end).
fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|&b| b == b'\r' || b == b'\n');
    &buf[..end.unwrap_or(buf.len())]
}

/// A request method token as HTTP/1.x clients send them: upper-case letters, dashes.
pub fn is_method(token: &[u8]) -> bool {
    (3..=20).contains(&token.len())
        && token
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

/// The outcome of reading a head.
enum Read<T> {
    /// Parsed; this many bytes of the chunk were used.
    Complete(T, usize),
    /// Held whole; more is needed.
    Partial(usize),
    /// Longer than [`MAX_HEAD`].
    TooLong,
    /// Not a message head.
    Invalid,
}

/// Reads a head from what `buf` holds and the chunk `data`. Parses `data` in place when nothing is
/// held, so a head within one chunk is never copied.
fn read_head<T>(buf: &mut Vec<u8>, data: &[u8], parse: impl Fn(&[u8]) -> http::Parsed<T>) -> Read<T>
where
    T: HeadLen,
{
    let held = buf.len();
    let result = if held == 0 {
        parse(data)
    } else {
        let room = MAX_HEAD.saturating_sub(held).min(data.len());
        buf.extend_from_slice(&data[..room]);
        parse(buf)
    };
    match result {
        Ok(Some(head)) => {
            let used = head.head_len().saturating_sub(held);
            buf.clear();
            Read::Complete(head, used)
        }
        Ok(None) if held == 0 => {
            let room = MAX_HEAD.min(data.len());
            buf.extend_from_slice(&data[..room]);
            if buf.len() >= MAX_HEAD {
                Read::TooLong
            } else {
                Read::Partial(room)
            }
        }
        Ok(None) if buf.len() >= MAX_HEAD => Read::TooLong,
        Ok(None) => Read::Partial(buf.len() - held),
        Err(()) => {
            buf.clear();
            Read::Invalid
        }
    }
}

/// The length of a parsed head.
trait HeadLen {
    fn head_len(&self) -> usize;
}

impl HeadLen for RequestHead {
    fn head_len(&self) -> usize {
        self.len
    }
}

impl HeadLen for ResponseHead {
    fn head_len(&self) -> usize {
        self.len
    }
}

/// One step through a body (plain, chunked or up to the close); returns the bytes consumed.
fn body_step(side: &mut Side, data: &[u8], requests: &mut [Request]) -> usize {
    match side.state {
        State::Body(left) => {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
            feed_form(side, &data[..n]);
            side.state = State::Body(left - n as u64);
            if left == n as u64 {
                end_body(side, requests);
            }
            n
        }
        State::Chunked(_) => chunked_step(side, data, requests),
        State::Close => data.len(),
        _ => 0,
    }
}

fn feed_form(side: &mut Side, data: &[u8]) {
    if let Some((form, _)) = &mut side.form {
        form.feed(data);
    }
}

/// The end of a request or response body: the form it carried is read, the next head follows.
fn end_body(side: &mut Side, requests: &mut [Request]) {
    if let Some((form, index)) = side.form.take()
        && let Some(request) = index.and_then(|i| requests.get_mut(i))
    {
        request.form_fields = form.finish();
    }
    side.state = State::Head;
}

/// Takes bytes up to and including a line end into `buf`; `Some(used)` with the line complete in
/// `buf`, `None` when all of `data` was held (or dropped past [`MAX_LINE`]).
fn take_line(buf: &mut Vec<u8>, data: &[u8]) -> (usize, bool) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => {
            if buf.len() + at < MAX_LINE {
                buf.extend_from_slice(&data[..at]);
            }
            (at + 1, true)
        }
        None => {
            let room = MAX_LINE.saturating_sub(buf.len()).min(data.len());
            buf.extend_from_slice(&data[..room]);
            (data.len(), false)
        }
    }
}

fn chunked_step(side: &mut Side, data: &[u8], requests: &mut [Request]) -> usize {
    let State::Chunked(chunk) = &mut side.state else {
        return 0;
    };
    match chunk {
        Chunk::Size | Chunk::Trailer => {
            let (used, complete) = take_line(&mut side.buf, data);
            if !complete {
                return used;
            }
            let line = std::mem::take(&mut side.buf);
            let line = line.trim_ascii();
            if matches!(chunk, Chunk::Trailer) {
                if line.is_empty() {
                    end_body(side, requests);
                }
                return used;
            }
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            match std::str::from_utf8(size.trim_ascii())
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
            {
                Some(0) => *chunk = Chunk::Trailer,
                Some(n) => *chunk = Chunk::Data(n),
                None => side.state = State::Stopped,
            }
            used
        }
        Chunk::Data(left) => {
            let n = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
            *left -= n as u64;
            if *left == 0 {
                *chunk = Chunk::DataEnd(2);
            }
            feed_form(side, &data[..n]);
            n
        }
        Chunk::DataEnd(left) => {
            // CRLF after the data; a bare LF is accepted.
            let n = usize::from(*left).min(data.len());
            let lf = data[..n].iter().position(|&b| b == b'\n');
            match lf {
                Some(at) => {
                    *chunk = Chunk::Size;
                    at + 1
                }
                None => {
                    *left -= n as u8;
                    if *left == 0 {
                        *chunk = Chunk::Size;
                    }
                    n
                }
            }
        }
    }
}

/// Reads the field names of a form body as it passes.
#[derive(Debug)]
enum FormReader {
    /// `a=1&b=2`: the first [`MAX_URLENCODED`] bytes, and whether more came.
    UrlEncoded(Vec<u8>, bool),
    /// Part headers after each boundary line.
    Multipart {
        /// `--` and the boundary.
        delimiter: Vec<u8>,
        line: Vec<u8>,
        in_headers: bool,
        names: Vec<String>,
    },
}

impl FormReader {
    fn new(kind: FormKind) -> FormReader {
        match kind {
            FormKind::UrlEncoded => FormReader::UrlEncoded(Vec::new(), false),
            FormKind::Multipart(boundary) => FormReader::Multipart {
                delimiter: [&b"--"[..], &boundary].concat(),
                line: Vec::new(),
                in_headers: false,
                names: Vec::new(),
            },
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        match self {
            FormReader::UrlEncoded(kept, more) => {
                let room = MAX_URLENCODED.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
                *more |= room < data.len();
            }
            FormReader::Multipart {
                delimiter,
                line,
                in_headers,
                names,
            } => {
                while !data.is_empty() {
                    let (used, complete) = take_line(line, data);
                    data = &data[used..];
                    if complete {
                        multipart_line(delimiter, line.trim_ascii_end(), in_headers, names);
                        line.clear();
                    }
                }
            }
        }
    }

    /// The distinct field names read, at most [`MAX_FORM_FIELDS`].
    fn finish(self) -> Vec<String> {
        match self {
            FormReader::UrlEncoded(kept, more) => {
                let mut pairs: Vec<&[u8]> = kept.split(|&b| b == b'&').collect();
                if more {
                    // The last pair may be cut mid-name.
                    pairs.pop();
                }
                let mut names = Vec::new();
                for pair in pairs {
                    let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
                    add_name(&mut names, &percent_decode(name));
                }
                names
            }
            FormReader::Multipart { names, .. } => names,
        }
    }
}

fn add_name(names: &mut Vec<String>, name: &[u8]) {
    let name = clean(name, MAX_FIELD_CHARS);
    if !name.is_empty() && names.len() < MAX_FORM_FIELDS && !names.contains(&name) {
        names.push(name);
    }
}

/// One line of a multipart body: boundary lines open part headers, whose `Content-Disposition`
/// names the field.
fn multipart_line(delimiter: &[u8], line: &[u8], in_headers: &mut bool, names: &mut Vec<String>) {
    if line.starts_with(delimiter) {
        *in_headers = !line[delimiter.len()..].starts_with(b"--");
    } else if *in_headers {
        if line.is_empty() {
            *in_headers = false;
        } else if let Some(name) = disposition_name(line) {
            add_name(names, &name);
        }
    }
}

/// The `name` parameter of a `Content-Disposition: form-data; name="x"` line.
fn disposition_name(line: &[u8]) -> Option<Vec<u8>> {
    let (key, value) = line.split_at(line.iter().position(|&b| b == b':')?);
    if !key
        .trim_ascii()
        .eq_ignore_ascii_case(b"content-disposition")
    {
        return None;
    }
    value[1..].split(|&b| b == b';').find_map(|param| {
        let param = param.trim_ascii();
        let eq = param.iter().position(|&b| b == b'=')?;
        let (k, v) = (param[..eq].trim_ascii(), param[eq + 1..].trim_ascii());
        k.eq_ignore_ascii_case(b"name")
            .then(|| v.strip_prefix(b"\"").unwrap_or(v))
            .map(|v| v.strip_suffix(b"\"").unwrap_or(v).to_vec())
    })
}

/// `a%20b+c` → `a b c`; a malformed escape is kept as is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds both directions in the given pieces, in order.
    fn read(pieces: &[(bool, &[u8])]) -> Conversation {
        let mut conv = Conversation::new(100);
        for (to_server, bytes) in pieces {
            conv.data(*to_server, bytes);
        }
        conv.end(true);
        conv.end(false);
        conv
    }

    /// Splits `bytes` into pieces of `size` for one direction.
    fn split(bytes: &[u8], size: usize) -> Vec<&[u8]> {
        bytes.chunks(size).collect()
    }

    #[test]
    fn counts_every_transaction_of_a_keep_alive_connection_whatever_the_segments() {
        let mut client = Vec::new();
        let mut server = Vec::new();
        for i in 0..30 {
            client.extend(format!("GET /f{i} HTTP/1.1\r\nHost: a.example\r\n\r\n").as_bytes());
            let body = vec![b'x'; 500 + 37 * i];
            if i % 3 == 0 {
                server.extend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for part in body.chunks(123) {
                    server.extend(format!("{:x};ext=1\r\n", part.len()).as_bytes());
                    server.extend(part);
                    server.extend(b"\r\n");
                }
                server.extend(b"0\r\nX-Trailer: y\r\n\r\n");
            } else {
                server.extend(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                server.extend(&body);
            }
        }
        for size in [1, 7, 100, 1460, 1 << 20] {
            let mut conv = Conversation::new(100);
            for piece in split(&client, size) {
                conv.data(true, piece);
            }
            for piece in split(&server, size) {
                conv.data(false, piece);
            }
            assert_eq!(
                (conv.request_count, conv.response_count),
                (30, 30),
                "size {size}"
            );
            assert_eq!(conv.requests[29].uri, "/f29");
        }
    }

    #[test]
    fn recognises_a_request_whose_head_is_longer_than_the_buffer() {
        let long = format!(
            "GET /big HTTP/1.1\r\nHost: a.example\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(100_000)
        );
        // Whole in one chunk, it is parsed in place: nothing is held.
        let conv = read(&[(true, long.as_bytes())]);
        assert_eq!(conv.request_count, 1);
        assert!(!conv.head_over_limit);
        assert_eq!(conv.requests[0].host.as_deref(), Some("a.example"));
        // In segments, as TCP carries it, the held head overflows: the request line still counts.
        let mut conv = Conversation::new(10);
        for piece in split(long.as_bytes(), 1000) {
            conv.data(true, piece);
        }
        assert_eq!((conv.request_count, conv.head_over_limit), (1, true));
        assert_eq!(conv.requests[0].method, "GET");
        assert_eq!(conv.requests[0].uri, "/big");
        let line = format!("GET /{} HTTP/1.1\r\n\r\n", "b".repeat(100_000));
        let mut conv = Conversation::new(10);
        for piece in split(line.as_bytes(), 1460) {
            conv.data(true, piece);
        }
        assert_eq!(conv.request_count, 1);
        assert!(conv.requests[0].uri.starts_with("/bbb"));
        // A long run of bytes that is no request is not one.
        let conv = read(&[(true, "x".repeat(100_000).as_bytes())]);
        assert_eq!(conv.request_count, 0);
    }

    #[test]
    fn reads_the_field_names_of_url_encoded_and_multipart_forms() {
        let form = b"user=alice&pass%77ord=secret&remember+me=1&user=again";
        let post = [
            format!(
                "POST /login HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                form.len()
            )
            .as_bytes(),
            form,
        ]
        .concat();
        let body = [
            &b"--xyz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"[..],
            b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n",
            b"Content-Type: application/octet-stream\r\n\r\n",
            &vec![b'z'; 10_000],
            b"\r\nContent-Disposition: form-data; name=\"fake\"\r\n",
            b"\r\n--xyz--\r\n",
        ]
        .concat();
        let upload = [
            format!(
                "POST /up HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=\"xyz\"\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            &body,
        ]
        .concat();
        let both = [post, upload].concat();
        for size in [3, 64, 1 << 20] {
            let mut conv = Conversation::new(10);
            for piece in split(&both, size) {
                conv.data(true, piece);
            }
            assert_eq!(conv.request_count, 2);
            assert_eq!(
                conv.requests[0].form_fields,
                ["user", "password", "remember me"],
                "size {size}"
            );
            assert_eq!(
                conv.requests[1].form_fields,
                ["title", "file"],
                "size {size}"
            );
        }
        // Values are never kept.
        let conv = read(&[(true, &both)]);
        assert!(!format!("{conv:?}").contains("secret"));
    }

    #[test]
    fn frames_responses_by_the_method_of_their_request_and_follows_tunnels() {
        let conv = read(&[
            (true, b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
            (
                false,
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
            ),
        ]);
        assert_eq!(conv.response_count, 2);
        assert_eq!(conv.responses[1].status, 404);
        let conv = read(&[
            (true, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n\x16\x03\x01"),
            (false, b"HTTP/1.1 200 Established\r\n\r\n\x16\x03\x03"),
        ]);
        assert_eq!(conv.client_tunnel, b"\x16\x03\x01");
        assert_eq!(conv.server_tunnel, b"\x16\x03\x03");
    }

    #[test]
    fn a_gap_ends_the_reading_unless_it_falls_in_a_body() {
        let mut conv = Conversation::new(10);
        conv.data(true, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
        conv.gap(true, 5);
        conv.data(true, b"xyzGET /next HTTP/1.1\r\n\r\n");
        assert_eq!(conv.request_count, 2);
        conv.gap(true, 3);
        conv.data(true, b"GET /lost HTTP/1.1\r\n\r\n");
        assert_eq!(conv.request_count, 2);
    }

    #[test]
    fn never_panics_on_any_cut_of_odd_input() {
        let stream = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\nzz\r\n5\r\n--b\r\n\r\n0\r\n\r\nPOST /x HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\n\r\n%%=&";
        for at in 0..stream.len() {
            let mut conv = Conversation::new(3);
            conv.data(true, &stream[..at]);
            conv.data(true, &stream[at..]);
            conv.data(false, &stream[at..]);
            conv.end(true);
        }
    }
}
