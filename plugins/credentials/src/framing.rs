//! HTTP/1.x message framing over a stream direction (RFC 9112 section 6): heads up to their blank
//! line, then bodies by `Content-Length`, chunked coding, or (responses only) to the end of the
//! connection. Heads are held up to [`MAX_HEAD`] and bodies only when the caller asks, up to
//! [`MAX_BODY`]; every other byte is counted past, so a 1 GB download costs nothing. A head that
//! does not fit, a malformed chunk size or a gap ends the reading of the direction (`Dead`): later
//! requests on it are not seen, which the README states.

/// Largest head held.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest body held for the caller (a login form is far smaller).
pub const MAX_BODY: usize = 64 * 1024;

/// A message head: the start line and the headers.
#[derive(Debug, Default)]
pub struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of the first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(bytes: &[u8]) -> Head {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let start = lines.next().unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Head { start, headers }
    }
}

/// How the body after a head is framed, and whether to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
enum State {
    Head(Vec<u8>),
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize(Vec<u8>),
    ChunkData(u64),
    /// The CR LF after a chunk's data.
    ChunkEnd(u8),
    /// Trailer lines after the last chunk, up to an empty one.
    Trailer(Vec<u8>),
    UntilClose,
    Dead,
}

/// One direction's messages.
#[derive(Debug)]
pub struct Reader {
    state: State,
    /// The body being held, when the caller asked for it.
    body: Option<Vec<u8>>,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader {
            state: State::Head(Vec::new()),
            body: None,
        }
    }
}

/// What the reader hands back.
pub enum Event {
    Head(Head),
    /// A held body, complete (or cut at [`MAX_BODY`]).
    Body(Vec<u8>),
}

impl Reader {
    /// True once the direction cannot be read further.
    pub fn dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }

    pub fn gap(&mut self) {
        self.state = State::Dead;
    }

    /// Feeds bytes. `plan` is asked, for each head, how its body is framed and whether to hold it.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        plan: &mut impl FnMut(&Head) -> (Body, bool),
        events: &mut Vec<Event>,
    ) {
        while !bytes.is_empty() && !self.dead() {
            let used = self.step(bytes, plan, events);
            bytes = &bytes[used..];
        }
    }

    fn step(
        &mut self,
        bytes: &[u8],
        plan: &mut impl FnMut(&Head) -> (Body, bool),
        events: &mut Vec<Event>,
    ) -> usize {
        match &mut self.state {
            State::Head(buf) => {
                let old = buf.len();
                buf.extend_from_slice(bytes);
                let Some(end) = head_end(buf) else {
                    if buf.len() > MAX_HEAD {
                        self.state = State::Dead;
                    }
                    return bytes.len();
                };
                let head = Head::parse(&buf[..end]);
                let used = end - old;
                let (body, hold) = plan(&head);
                events.push(Event::Head(head));
                self.body = hold.then(Vec::new);
                self.state = match body {
                    Body::None | Body::Length(0) => State::Head(Vec::new()),
                    Body::Length(n) => State::Length(n),
                    Body::Chunked => State::ChunkSize(Vec::new()),
                    Body::UntilClose => State::UntilClose,
                };
                if matches!(self.state, State::Head(_)) {
                    self.body_done(events);
                }
                used
            }
            State::Length(n) => {
                let take = (*n).min(bytes.len() as u64) as usize;
                *n -= take as u64;
                let done = *n == 0;
                self.hold(&bytes[..take]);
                if done {
                    self.state = State::Head(Vec::new());
                    self.body_done(events);
                }
                take
            }
            State::ChunkSize(line) => match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&bytes[..i]);
                    let text = String::from_utf8_lossy(line);
                    let size = text.split(';').next().unwrap_or("").trim();
                    self.state = match u64::from_str_radix(size, 16) {
                        Ok(0) => State::Trailer(Vec::new()),
                        Ok(n) => State::ChunkData(n),
                        Err(_) => State::Dead,
                    };
                    i + 1
                }
                None => {
                    line.extend_from_slice(bytes);
                    if line.len() > 1024 {
                        self.state = State::Dead;
                    }
                    bytes.len()
                }
            },
            State::ChunkData(n) => {
                let take = (*n).min(bytes.len() as u64) as usize;
                *n -= take as u64;
                if *n == 0 {
                    self.state = State::ChunkEnd(0);
                }
                self.hold(&bytes[..take]);
                take
            }
            State::ChunkEnd(seen) => {
                if bytes[0] == b'\n' {
                    self.state = State::ChunkSize(Vec::new());
                } else {
                    *seen += 1;
                    if *seen > 2 {
                        self.state = State::Dead;
                    }
                }
                1
            }
            State::Trailer(line) => {
                let Some(i) = bytes.iter().position(|&b| b == b'\n') else {
                    line.extend_from_slice(bytes);
                    return bytes.len();
                };
                line.extend_from_slice(&bytes[..i]);
                if line.iter().all(|&b| b == b'\r') {
                    self.state = State::Head(Vec::new());
                    self.body_done(events);
                } else {
                    line.clear();
                }
                i + 1
            }
            State::UntilClose => {
                self.hold(bytes);
                bytes.len()
            }
            State::Dead => bytes.len(),
        }
    }

    fn hold(&mut self, bytes: &[u8]) {
        if let Some(body) = &mut self.body {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    fn body_done(&mut self, events: &mut Vec<Event>) {
        if let Some(body) = self.body.take() {
            events.push(Event::Body(body));
        }
    }
}

/// The end of a head (after its blank line), if the buffer holds it.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_sized_bodies_are_held_or_skipped_across_chunks() {
        let mut r = Reader::default();
        let mut events = Vec::new();
        let mut plan = |h: &Head| match h.header("transfer-encoding") {
            Some(_) => (Body::Chunked, true),
            None => (
                Body::Length(h.header("content-length").unwrap().parse().unwrap()),
                false,
            ),
        };
        let stream: &[u8] = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        for b in stream.chunks(5) {
            r.feed(b, &mut plan, &mut events);
        }
        let seen: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Head(h) => h.start.clone(),
                Event::Body(b) => String::from_utf8_lossy(b).into_owned(),
            })
            .collect();
        assert_eq!(
            seen,
            [
                "POST /a HTTP/1.1",
                "abcde",
                "GET /b HTTP/1.1",
                "GET /c HTTP/1.1"
            ]
        );
    }
}
