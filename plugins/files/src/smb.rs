//! SMB2/3 over TCP (MS-SMB2): a file is what was read or written through one open handle. CREATE
//! requests name the file, their responses give its handle (FileId); READ responses (paired with
//! their request by MessageId for the handle and offset) and WRITE requests carry bytes at offsets,
//! which are placed in order into the handle's file (a jump forward is a hole, bytes seen before are
//! not hashed twice); CLOSE, or the end of the connection, ends the file. READ and WRITE payloads are
//! streamed straight into the file, so a 8 MiB read costs no buffer; other messages are held whole up to
//! [`MAX_MESSAGE`]. After a gap the direction resynchronises on the next SMB header. SMB1 (module
//! `smb1`) is read the same way: OPEN_ANDX and NT_CREATE_ANDX name a file, READ_ANDX and WRITE_ANDX
//! carry its bytes, CLOSE ends it. Encrypted (transform) messages are skipped.

use crate::Ctx;
use crate::report::{FileInfo, Found};
use crate::sink::Sink;
use crate::smb1;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData, Timestamp};
use std::collections::HashMap;

/// Largest non-data message held to be parsed.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Open handles and pending requests kept per connection.
const MAX_OPEN: usize = 4096;
const HEADER: usize = 64;
/// The shortest message: an SMB1 header with no words and no bytes.
const MIN_MESSAGE: usize = 35;

const CREATE: u16 = 5;
const CLOSE: u16 = 6;
const READ: u16 = 8;
const WRITE: u16 = 9;

pub(crate) type FileId = [u8; 16];

/// Whether the first bytes of a client stream are an SMB message over NetBIOS/direct TCP.
pub fn starts_like_smb(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0] == 0 && (&bytes[4..8] == b"\xfeSMB" || &bytes[4..8] == b"\xffSMB")
}

struct File {
    name: String,
    sink: Sink,
    next: u64,
    read: bool,
    written: bool,
    end_of_file: u64,
}

/// Where a direction is.
enum State {
    /// Collecting the 4-byte transport header.
    Length(Vec<u8>),
    /// Inside a message of `len` bytes, `got` so far; `head` holds its first bytes.
    Message {
        len: usize,
        got: usize,
        head: Vec<u8>,
        stream: Option<Stream>,
    },
    /// Looking for the next header after a gap; holds the last bytes seen.
    Resync(Vec<u8>),
}

/// A READ or WRITE payload being streamed into a file.
#[derive(Clone, Copy)]
struct Stream {
    fid: FileId,
    /// File offset of the payload's first byte.
    offset: u64,
    /// Message offsets of the payload.
    start: usize,
    end: usize,
}

/// One SMB connection.
pub struct Smb {
    dirs: [State; 2],
    creates: HashMap<u64, String>,
    reads: HashMap<u64, (FileId, u64)>,
    files: HashMap<FileId, File>,
    found: Vec<Found>,
    time: Timestamp,
}

impl Default for Smb {
    fn default() -> Smb {
        Smb {
            dirs: [State::Length(Vec::new()), State::Length(Vec::new())],
            creates: HashMap::new(),
            reads: HashMap::new(),
            files: HashMap::new(),
            found: Vec::new(),
            time: 0,
        }
    }
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn fid(b: &[u8], at: usize) -> Option<FileId> {
    b.get(at..at + 16)?.try_into().ok()
}

impl Smb {
    pub fn chunk(&mut self, chunk: &StreamChunk, ctx: &mut Ctx) {
        self.time = chunk.time;
        let side = usize::from(!chunk.to_server);
        match &chunk.data {
            StreamData::Data(bytes) => self.data(side, bytes),
            StreamData::Gap(n) => self.gap(side, *n),
            _ => {}
        }
        for found in self.found.drain(..) {
            ctx.found(chunk.flow, found);
        }
    }

    fn data(&mut self, side: usize, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let state = std::mem::replace(&mut self.dirs[side], State::Length(Vec::new()));
            let (next, used) = self.step(side, state, bytes);
            self.dirs[side] = next;
            bytes = &bytes[used..];
        }
    }

    fn step(&mut self, side: usize, state: State, bytes: &[u8]) -> (State, usize) {
        match state {
            State::Length(mut h) => {
                let n = (4 - h.len()).min(bytes.len());
                h.extend_from_slice(&bytes[..n]);
                if h.len() < 4 {
                    return (State::Length(h), n);
                }
                let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
                if h[0] != 0 || len < MIN_MESSAGE {
                    return (State::Resync(Vec::new()), n);
                }
                let message = State::Message {
                    len,
                    got: 0,
                    head: Vec::new(),
                    stream: None,
                };
                (message, n)
            }
            State::Message {
                len,
                got,
                mut head,
                mut stream,
            } => {
                let n = (len - got).min(bytes.len());
                let piece = &bytes[..n];
                let keep = MAX_MESSAGE.min(len).saturating_sub(head.len()).min(n);
                if stream.is_none() && keep > 0 {
                    head.extend_from_slice(&piece[..keep]);
                    stream = self.payload(side, &head);
                }
                if let Some(s) = &stream {
                    self.stream(s, got, piece);
                }
                let got = got + n;
                if got == len {
                    if stream.is_none() && head.len() == len {
                        self.message(side, &head);
                    }
                    return (State::Length(Vec::new()), n);
                }
                (
                    State::Message {
                        len,
                        got,
                        head,
                        stream,
                    },
                    n,
                )
            }
            State::Resync(mut tail) => {
                let at = tail.len();
                tail.extend_from_slice(bytes);
                let found = tail
                    .windows(8)
                    .position(|w| w[0] == 0 && (&w[4..8] == b"\xfeSMB" || &w[4..8] == b"\xffSMB"));
                match found {
                    // The header starts in the current bytes: go on from there.
                    Some(i) if i >= at => (State::Length(Vec::new()), i - at),
                    // It started in the bytes kept from before: take those up again.
                    Some(i) => {
                        let kept = &tail[i..at];
                        if kept.len() <= 4 {
                            return (State::Length(kept.to_vec()), 0);
                        }
                        let len = (usize::from(kept[1]) << 16)
                            | (usize::from(kept[2]) << 8)
                            | usize::from(kept[3]);
                        let message = State::Message {
                            len: len.max(MIN_MESSAGE),
                            got: kept.len() - 4,
                            head: kept[4..].to_vec(),
                            stream: None,
                        };
                        (message, 0)
                    }
                    None => {
                        let keep = tail.len().saturating_sub(7);
                        tail.drain(..keep);
                        (State::Resync(tail), bytes.len())
                    }
                }
            }
        }
    }

    /// For a READ response or WRITE request whose header is in `head`: where its payload goes.
    fn payload(&mut self, side: usize, head: &[u8]) -> Option<Stream> {
        if head.get(..4) == Some(b"\xffSMB") {
            return self.payload1(side, head);
        }
        if head.len() < HEADER + 16 || &head[..4] != b"\xfeSMB" {
            return None;
        }
        let command = u16le(head, 12)?;
        let next = u32le(head, 20)?;
        if next != 0 {
            return None; // compounds are parsed whole
        }
        let body = &head[HEADER..];
        let (fid, offset, start, length) = match (command, side) {
            (READ, 1) => {
                if u32le(head, 8)? != 0 {
                    return None;
                }
                let id = u64le(head, 24)?;
                let (fid, offset) = self.reads.remove(&id)?;
                (fid, offset, usize::from(body[2]), u32le(body, 4)? as usize)
            }
            (WRITE, 0) => {
                if head.len() < HEADER + 32 {
                    return None;
                }
                let start = usize::from(u16le(body, 2)?);
                (
                    fid(body, 16)?,
                    u64le(body, 8)?,
                    start,
                    u32le(body, 4)? as usize,
                )
            }
            _ => return None,
        };
        self.start_payload(side, fid, offset, start, length)
    }

    /// For an SMB1 READ_ANDX response or WRITE_ANDX request whose words are in `head`: where its
    /// payload goes.
    fn payload1(&mut self, side: usize, head: &[u8]) -> Option<Stream> {
        let m = smb1::Message::parse(head)?;
        let (fid, offset, start, length) = match (m.command, side) {
            (smb1::READ_ANDX, 1) if m.status == 0 => {
                let (start, length) = m.read_data()?;
                let (fid, offset) = self.reads.remove(&m.key)?;
                (fid, offset, start, length)
            }
            (smb1::WRITE_ANDX, 0) => m.write()?,
            _ => return None,
        };
        self.start_payload(side, fid, offset, start, length)
    }

    fn start_payload(
        &mut self,
        side: usize,
        fid: FileId,
        offset: u64,
        start: usize,
        length: usize,
    ) -> Option<Stream> {
        let file = self.files.get_mut(&fid)?;
        rewrite(file, offset, length as u64);
        if side == 1 {
            file.read = true;
        } else {
            file.written = true;
        }
        Some(Stream {
            fid,
            offset,
            start,
            end: start + length,
        })
    }

    /// Message bytes `[at, at + piece.len())`: their part inside the payload goes to the file.
    fn stream(&mut self, s: &Stream, at: usize, piece: &[u8]) {
        let from = s.start.max(at);
        let to = s.end.min(at + piece.len());
        if from >= to {
            return;
        }
        let Some(file) = self.files.get_mut(&s.fid) else {
            return;
        };
        let offset = s.offset + (from - s.start) as u64;
        let bytes = &piece[from - at..to - at];
        place(file, offset, Some(bytes), bytes.len() as u64);
    }

    fn gap(&mut self, side: usize, n: u64) {
        let state = std::mem::replace(&mut self.dirs[side], State::Resync(Vec::new()));
        if let State::Message {
            len,
            got,
            stream: Some(s),
            ..
        } = state
        {
            // The hole inside the payload is missing from the file.
            let end = (got as u64 + n).min(len as u64) as usize;
            let from = s.start.max(got);
            let to = s.end.min(end);
            if from < to
                && let Some(file) = self.files.get_mut(&s.fid)
            {
                place(
                    file,
                    s.offset + (from - s.start) as u64,
                    None,
                    (to - from) as u64,
                );
            }
            if (got as u64 + n) < len as u64 {
                self.dirs[side] = State::Message {
                    len,
                    got: got + n as usize,
                    head: Vec::new(),
                    stream: Some(s),
                };
            }
        }
    }

    /// A whole message (or a compound chain) held in `msg`.
    fn message(&mut self, side: usize, msg: &[u8]) {
        if let Some(m) = smb1::Message::parse(msg) {
            self.command1(side, &m, msg);
            return;
        }
        let mut at = 0;
        while at + HEADER <= msg.len() && &msg[at..at + 4] == b"\xfeSMB" {
            let m = &msg[at..];
            let next = u32le(m, 20).unwrap_or(0) as usize;
            let end = if next == 0 {
                m.len()
            } else {
                next.min(m.len())
            };
            self.command(side, &m[..end]);
            if next == 0 {
                break;
            }
            at += next;
        }
    }

    fn command(&mut self, side: usize, m: &[u8]) -> Option<()> {
        let command = u16le(m, 12)?;
        let id = u64le(m, 24)?;
        let status = u32le(m, 8)?;
        let body = m.get(HEADER..)?;
        match (command, side) {
            (CREATE, 0) => {
                let off = usize::from(u16le(body, 44)?);
                let len = usize::from(u16le(body, 46)?);
                let raw = m.get(off..off + len)?;
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                if self.creates.len() < MAX_OPEN {
                    self.creates.insert(id, String::from_utf16_lossy(&units));
                }
            }
            (CREATE, 1) => {
                let name = self.creates.remove(&id)?;
                if status != 0 {
                    return None;
                }
                self.open(fid(body, 64)?, name, u64le(body, 48)?);
            }
            (READ, 0) if self.reads.len() < MAX_OPEN => {
                self.reads.insert(id, (fid(body, 16)?, u64le(body, 8)?));
            }
            // A payload inside a compound chain: placed from the held message.
            (READ, 1) | (WRITE, 0) => self.place_held(side, m)?,
            (CLOSE, 0) => {
                let file = self.files.remove(&fid(body, 8)?)?;
                self.report(file);
            }
            _ => {}
        }
        Some(())
    }

    /// A READ response or WRITE request held whole: its payload goes to the file.
    fn place_held(&mut self, side: usize, m: &[u8]) -> Option<()> {
        let s = self.payload(side, m)?;
        let end = s.end.min(m.len());
        let bytes = m.get(s.start..end)?;
        let file = self.files.get_mut(&s.fid)?;
        place(file, s.offset, Some(bytes), bytes.len() as u64);
        Some(())
    }

    /// One SMB1 message held whole.
    fn command1(&mut self, side: usize, m: &smb1::Message, raw: &[u8]) -> Option<()> {
        match (m.command, side) {
            (smb1::OPEN_ANDX | smb1::NT_CREATE_ANDX, 0) if self.creates.len() < MAX_OPEN => {
                self.creates.insert(m.key, m.open_name()?);
            }
            (smb1::OPEN_ANDX | smb1::NT_CREATE_ANDX, 1) => {
                let name = self.creates.remove(&m.key)?;
                if m.status != 0 {
                    return None;
                }
                let (fid, end_of_file) = m.opened()?;
                self.open(fid, name, end_of_file);
            }
            (smb1::READ_ANDX, 0) if self.reads.len() < MAX_OPEN => {
                self.reads.insert(m.key, m.read_request()?);
            }
            (smb1::READ_ANDX, 1) | (smb1::WRITE_ANDX, 0) => self.place_held(side, raw)?,
            (smb1::CLOSE, 0) => {
                let file = self.files.remove(&m.closed()?)?;
                self.report(file);
            }
            _ => {}
        }
        Some(())
    }

    fn open(&mut self, fid: FileId, name: String, end_of_file: u64) {
        if self.files.len() >= MAX_OPEN {
            return;
        }
        let file = File {
            sink: Sink::new(&name),
            name,
            next: 0,
            read: false,
            written: false,
            end_of_file,
        };
        self.files.insert(fid, file);
    }

    fn report(&mut self, file: File) {
        if !file.read && !file.written {
            file.sink.discard();
            return;
        }
        let what = if file.written { "upload" } else { "download" };
        let mut info = FileInfo::new("smb", what, file.name.clone());
        info.attr(names::files::FILE_SIZE, file.end_of_file.to_string());
        self.found.push(Found {
            info,
            summary: file.sink.finish(),
            time: self.time,
        });
    }

    pub fn close(mut self, flow: FlowId, ctx: &mut Ctx) {
        let files: Vec<File> = self.files.drain().map(|(_, f)| f).collect();
        for file in files {
            self.report(file);
        }
        for found in self.found.drain(..) {
            ctx.found(flow, found);
        }
    }
}

/// Puts `len` bytes at `offset` of the file: a jump forward is a hole, bytes already placed are not
/// placed again (`bytes` is `None` for bytes never seen).
/// A payload of `len` bytes at `offset` that covers everything placed so far (a rewrite of what was
/// read) wins, as it is what the file holds now: the file starts again.
fn rewrite(file: &mut File, offset: u64, len: u64) {
    if offset == 0 && file.next > 0 && len >= file.next {
        let old = std::mem::replace(&mut file.sink, Sink::new(&file.name));
        old.discard();
        file.next = 0;
    }
}

fn place(file: &mut File, offset: u64, bytes: Option<&[u8]>, len: u64) {
    if offset + len <= file.next {
        return;
    }
    if offset > file.next {
        file.sink.gap(offset - file.next);
        file.next = offset;
    }
    let skip = (file.next - offset) as usize;
    match bytes {
        Some(b) => file.sink.data(&b[skip..]),
        None => file.sink.gap(len - skip as u64),
    }
    file.next = offset + len;
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn file() -> File {
        File {
            name: "a.txt".into(),
            sink: Sink::new("a.txt"),
            next: 0,
            read: true,
            written: false,
            end_of_file: 0,
        }
    }

    #[test]
    fn pieces_are_placed_by_offset_holes_counted_and_rewrites_win() {
        let mut f = file();
        place(&mut f, 0, Some(b"abcd"), 4);
        place(&mut f, 2, Some(b"cdef"), 4); // overlaps: only "ef" is new
        place(&mut f, 10, Some(b"k"), 1); // 4 bytes never seen
        let s = f.sink.finish();
        assert_eq!((s.size, s.missing, s.ranges.as_str()), (7, 4, "6-9"));
        assert_eq!(s.sha256, crate::sink::hex(&Sha256::digest(b"abcdefk")));
        let mut f = file();
        place(&mut f, 0, Some(b"read"), 4);
        rewrite(&mut f, 0, 5);
        place(&mut f, 0, Some(b"write"), 5);
        assert_eq!(
            f.sink.finish().sha256,
            crate::sink::hex(&Sha256::digest(b"write"))
        );
    }
}
