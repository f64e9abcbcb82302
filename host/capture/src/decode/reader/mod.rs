//! Streaming pcap / pcapng reader with exact byte offsets.
//!
//! Captures can be far larger than memory, so the file is read through one fixed buffer (1 MiB, grown
//! only when a single valid record is bigger) and every frame handed out is a zero-copy slice into it.
//! Record headers are sanity-checked *before* the record is requested from `pcap-file`: a damaged
//! header that claims a multi-gigabyte packet must stop reading with a precise [`ReadError`] instead of
//! making the reader wait for (or allocate) bytes that will never come. Everything before a fault is
//! returned; the fault names its byte offset.
//!
//! This module holds what both formats share (the buffer, the file's hash, the frame handed out, the
//! errors, recognising the format by its magic); `pcap` reads classic and modified pcap records,
//! `pcapng` reads pcapng blocks, one function per block type.

use super::LinkType;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;

mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;

use pcap::{MODIFIED_MAGIC_BE, MODIFIED_MAGIC_LE, PcapState};
use pcapng::NgState;

/// Which container format a capture uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureFormat {
    /// `pcap` or `pcapng`.
    pub name: &'static str,
    /// e.g. `little-endian, microsecond` (pcap) or `little-endian` (pcapng).
    pub details: String,
}

/// One captured frame as stored in the file.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Link type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// Captured bytes (may be shorter than `orig_len` because of the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire (never less than `data.len()`).
    pub orig_len: u32,
    /// pcapng interface id (0 for classic pcap).
    pub interface: u32,
}

/// Why a capture could not be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is empty (0 bytes); a capture starts with a pcap or pcapng header")]
    Empty { path: String },
    #[error(
        "{path} is not a packet capture: it starts with {found}, expected a pcap magic number (a1b2c3d4, d4c3b2a1, a1b23c4d, 4d3cb2a1, or a1b2cd34, 34cdb2a1 for modified pcap) or a pcapng section header (0a0d0d0a)"
    )]
    NotACapture { path: String, found: String },
    #[error("{path}: the capture header is damaged: {reason}")]
    BadHeader { path: String, reason: String },
}

/// Why reading stopped before the end of the file. Everything before `offset` was read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading stopped at byte offset {offset} after {packets} packets: {reason}")]
pub struct ReadError {
    pub offset: u64,
    pub packets: u64,
    pub reason: String,
}

/// Size of the read buffer; it only grows when one valid record is larger.
const BUF_SIZE: usize = 1 << 20;

/// Streams frames out of a pcap or pcapng file.
pub struct CaptureReader {
    /// The capture's bytes: the file, or any other source (`from_reader`, `from_bytes`).
    file: Box<dyn Read + Send>,
    file_size: u64,
    /// `buf[start..end]` holds unread file bytes; `buf[0]` is at file offset `buf_offset`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    buf_offset: u64,
    eof: bool,
    done: bool,
    packets: u64,
    frame_offset: u64,
    format: CaptureFormat,
    link_types: Vec<LinkType>,
    container: Container,
    /// SHA-256 of every byte read from the file so far: the capture is hashed as it is read, not in a
    /// second pass over the file.
    sha256: Sha256,
}

/// The format's own reading state.
enum Container {
    /// Only while `open` reads the file header.
    Unopened,
    Pcap(PcapState),
    PcapNg(Box<NgState>),
}

/// Where a frame sits in the buffer, before it is handed out.
struct FrameMeta {
    ts: u64,
    link_type: LinkType,
    data_start: usize,
    data_len: usize,
    orig_len: u32,
    interface: u32,
    record_offset: u64,
}

/// A reading fault: byte offset of the faulty record and what is wrong with it.
type Fault = (u64, String);

fn rd_u16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

fn rd_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn rd_u64(b: &[u8], at: usize, big: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big {
        u64::from_be_bytes(s)
    } else {
        u64::from_le_bytes(s)
    })
}

fn endian_name(big: bool) -> &'static str {
    if big { "big-endian" } else { "little-endian" }
}

/// `3c21444f ("<!DO")`: the first bytes in hex, plus the text when they are printable.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(4)];
    let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
    let mut s = if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{hex} (\"{}\")", String::from_utf8_lossy(head))
    } else {
        hex
    };
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        s.push_str(" (gzip-compressed data; decompress it first)");
    }
    if head.len() < 4 {
        s.push_str(&format!(" (the whole file is {} bytes)", head.len()));
    }
    s
}

impl CaptureReader {
    /// Opens a capture and reads its file header (and, for pcapng, the interface descriptions that
    /// precede the first packet).
    pub fn open(path: &Path) -> Result<CaptureReader, OpenError> {
        let shown = path.display().to_string();
        let io_err = |source| OpenError::Io {
            path: shown.clone(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let file_size = file.metadata().map_err(io_err)?.len();
        CaptureReader::from_reader(file, file_size, &shown)
    }

    /// Opens a capture held in memory; `name` stands for the path in errors.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, name: &str) -> Result<CaptureReader, OpenError> {
        let bytes = bytes.into();
        let size = bytes.len() as u64;
        CaptureReader::from_reader(std::io::Cursor::new(bytes), size, name)
    }

    /// Opens a capture from any byte stream of `size` bytes (what `file_size` reports); `name` stands
    /// for the path in errors. Reads exactly like [`CaptureReader::open`].
    pub fn from_reader(
        source: impl Read + Send + 'static,
        size: u64,
        name: &str,
    ) -> Result<CaptureReader, OpenError> {
        let shown = name.to_string();
        let io_err = |source| OpenError::Io {
            path: shown.clone(),
            source,
        };
        let mut reader = CaptureReader {
            file: Box::new(source),
            file_size: size,
            // A source smaller than the buffer needs no more room than its size (tests and fuzzing
            // open thousands of small captures); `fill` grows the buffer when a record needs it.
            buf: vec![0u8; BUF_SIZE.min(usize::try_from(size).unwrap_or(BUF_SIZE).max(24))],
            start: 0,
            end: 0,
            buf_offset: 0,
            eof: false,
            done: false,
            packets: 0,
            frame_offset: 0,
            format: CaptureFormat {
                name: "pcap",
                details: String::new(),
            },
            link_types: Vec::new(),
            container: Container::Unopened,
            sha256: Sha256::new(),
        };
        reader.fill(24).map_err(io_err)?;
        let avail = reader.end - reader.start;
        if avail == 0 {
            return Err(OpenError::Empty { path: shown });
        }
        let head = &reader.buf[..avail.min(4)];
        let bad = |reason: String| OpenError::BadHeader {
            path: shown.clone(),
            reason,
        };
        let pcap_magics: [[u8; 4]; 6] = [
            [0xa1, 0xb2, 0xc3, 0xd4],
            [0xd4, 0xc3, 0xb2, 0xa1],
            [0xa1, 0xb2, 0x3c, 0x4d],
            [0x4d, 0x3c, 0xb2, 0xa1],
            MODIFIED_MAGIC_BE,
            MODIFIED_MAGIC_LE,
        ];
        let ng_magic = [0x0a, 0x0d, 0x0d, 0x0a];
        let is_prefix = |m: &[u8; 4]| m.starts_with(head);
        if head.len() < 4 {
            if pcap_magics.iter().any(is_prefix) || is_prefix(&ng_magic) {
                return Err(bad(format!(
                    "the file is only {avail} bytes long, too short for a capture file header"
                )));
            }
            return Err(OpenError::NotACapture {
                path: shown.clone(),
                found: describe_start(head),
            });
        }
        if pcap_magics.iter().any(|m| m[..] == *head) {
            reader.open_pcap().map_err(bad)?;
        } else if head == ng_magic {
            reader.open_pcapng().map_err(bad)?;
        } else {
            return Err(OpenError::NotACapture {
                path: shown.clone(),
                found: describe_start(head),
            });
        }
        Ok(reader)
    }

    /// Makes at least `need` bytes available at `start`. `Ok(false)` when the file ends first.
    /// Makes a whole record of `need` bytes at `at` readable, or says why not: a read error, or the
    /// file ending inside it (`what` names the record).
    fn fill_record(&mut self, at: u64, need: usize, what: &str) -> Result<(), (u64, String)> {
        match self.fill(need) {
            Err(e) => Err((at, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                Err((
                    at,
                    format!("file ends inside a {what}: {avail} of {need} bytes present"),
                ))
            }
            Ok(true) => Ok(()),
        }
    }

    fn fill(&mut self, need: usize) -> std::io::Result<bool> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.start + need > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.buf_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
            if need > self.buf.len() {
                self.buf.resize(need, 0);
            }
        }
        while self.end - self.start < need {
            if self.eof {
                return Ok(false);
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.sha256.update(&self.buf[self.end..self.end + n]);
                    self.end += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The next frame; `None` at the clean end of the file, and after an error has been returned.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, ReadError>> {
        if self.done {
            return None;
        }
        let step = match self.container {
            Container::Unopened => Ok(None),
            Container::Pcap(_) => self.next_pcap(),
            Container::PcapNg(_) => self.next_pcapng(),
        };
        match step {
            Ok(Some(m)) => {
                let Some(data) = self
                    .buf
                    .get(m.data_start..m.data_start.saturating_add(m.data_len))
                else {
                    self.done = true;
                    return Some(Err(ReadError {
                        offset: m.record_offset,
                        packets: self.packets,
                        reason: "internal error: record outside the read buffer".to_string(),
                    }));
                };
                self.packets += 1;
                self.frame_offset = m.record_offset;
                Some(Ok(Frame {
                    ts: m.ts,
                    link_type: m.link_type,
                    data,
                    orig_len: m.orig_len,
                    interface: m.interface,
                }))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err((offset, reason)) => {
                self.done = true;
                Some(Err(ReadError {
                    offset,
                    packets: self.packets,
                    reason,
                }))
            }
        }
    }

    /// The container format and its variant.
    pub fn format(&self) -> &CaptureFormat {
        &self.format
    }

    /// Bytes of the file consumed so far (the offset of the next record), for progress reporting.
    pub fn position(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// Byte offset of the record of the frame returned last.
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// Every link type seen so far, in order of first appearance: the pcap header's, or each pcapng
    /// interface's (interfaces declared before the first packet are known right after `open`).
    pub fn link_types(&self) -> Vec<LinkType> {
        self.link_types.clone()
    }

    /// Number of frames returned so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The SHA-256 of the whole file (hex), reading what the frames did not need (after a read error,
    /// the rest of the file).
    pub fn sha256(mut self) -> std::io::Result<String> {
        // The read buffer is free now: reading is over.
        let buf = &mut self.buf;
        loop {
            match self.file.read(buf) {
                Ok(0) => break,
                Ok(n) => self.sha256.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(crate::hex(&self.sha256.finalize()))
    }

    /// Size of the file in bytes, as it was when opened.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
}
