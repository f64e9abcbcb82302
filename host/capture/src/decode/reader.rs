//! Streaming pcap / pcapng reader with exact byte offsets.
//!
//! Captures can be far larger than memory, so the file is read through one fixed buffer (1 MiB, grown
//! only when a single valid record is bigger) and every frame handed out is a zero-copy slice into it.
//! Record headers are sanity-checked *before* the record is requested from `pcap-file`: a damaged
//! header that claims a multi-gigabyte packet must stop reading with a precise [`ReadError`] instead of
//! making the reader wait for (or allocate) bytes that will never come. Everything before a fault is
//! returned; the fault names its byte offset.

use super::LinkType;
use pcap_file::PcapError;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::PcapNgParser;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;

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
/// libpcap / Wireshark's maximum packet size for ordinary link types.
const STANDARD_MAX_PACKET: u32 = 262_144;
/// Upper bound for a classic pcap record even when the header's snap length is larger (memory bound).
const HARD_MAX_RECORD: u32 = 64 << 20;
/// Largest pcapng block accepted.
const MAX_BLOCK_LEN: u32 = 16 << 20;

/// Modified pcap's magic as written by a big-endian and by a little-endian writer.
const MODIFIED_MAGIC_BE: [u8; 4] = [0xa1, 0xb2, 0xcd, 0x34];
const MODIFIED_MAGIC_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];

const SECTION_HEADER_BLOCK: u32 = 0x0A0D_0D0A;
const INTERFACE_DESCRIPTION_BLOCK: u32 = 1;
const PACKET_BLOCK: u32 = 2;
const SIMPLE_PACKET_BLOCK: u32 = 3;
const ENHANCED_PACKET_BLOCK: u32 = 6;
/// At most this many leading non-packet pcapng blocks are read by `open` to learn the interfaces.
const PRIME_BLOCKS: usize = 64;

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

enum Container {
    /// Only while `open` reads the file header.
    Unopened,
    Pcap(PcapState),
    PcapNg(Box<NgState>),
}

struct PcapState {
    parser: PcapParser,
    /// Modified ("Kuznetsov", magic a1b2cd34) pcap: each record header carries 8 more bytes (interface
    /// index, protocol, packet type, padding), which pcap-file does not know; records are then framed by
    /// the checks here alone.
    modified: bool,
    big_endian: bool,
    nanos: bool,
    link_type: LinkType,
    snaplen: u32,
    max_record: u32,
}

struct NgState {
    parser: PcapNgParser,
    big_endian: bool,
    /// Interfaces of the current section, indexed by interface id.
    interfaces: Vec<Interface>,
    /// Timestamp of the last timestamped packet (Simple Packet Blocks carry none).
    last_ts: u64,
    saw_little: bool,
    saw_big: bool,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    snaplen: u32,
    scale: TsScale,
    /// `if_tsoffset`, seconds.
    offset_secs: i64,
}

/// How raw pcapng timestamp units convert to nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsScale {
    Mul(u64),
    Div(u128),
    /// Units of 2^-n seconds.
    Pow2(u32),
}

impl TsScale {
    fn from_tsresol(r: u8) -> TsScale {
        if r & 0x80 == 0 {
            let e = u32::from(r);
            if e <= 9 {
                TsScale::Mul(10u64.pow(9 - e))
            } else if e - 9 <= 38 {
                TsScale::Div(10u128.pow(e - 9))
            } else {
                TsScale::Div(u128::MAX)
            }
        } else {
            TsScale::Pow2(u32::from(r & 0x7f))
        }
    }

    fn to_ns(self, units: u64) -> u64 {
        match self {
            TsScale::Mul(m) => units.saturating_mul(m),
            TsScale::Div(d) => u64::try_from(u128::from(units) / d).unwrap_or(u64::MAX),
            TsScale::Pow2(n) => {
                u64::try_from((u128::from(units) * 1_000_000_000) >> n).unwrap_or(u64::MAX)
            }
        }
    }
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

/// One pcapng block step.
enum NgStep {
    Eof,
    Block,
    Frame(FrameMeta),
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

/// A minimal valid Section Header Block, used to (re)start pcap-file's pcapng parser when the real one
/// carries options it rejects (e.g. no end-of-options marker).
fn synthetic_shb(big: bool) -> [u8; 28] {
    let mut b = [0u8; 28];
    let put32 = |b: &mut [u8; 28], at: usize, v: u32| {
        let bytes = if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        b[at..at + 4].copy_from_slice(&bytes);
    };
    put32(&mut b, 0, SECTION_HEADER_BLOCK);
    put32(&mut b, 4, 28);
    put32(&mut b, 8, 0x1A2B_3C4D);
    let ver = if big { [0, 1, 0, 0] } else { [1, 0, 0, 0] };
    b[12..16].copy_from_slice(&ver);
    b[16..24].copy_from_slice(&[0xff; 8]);
    put32(&mut b, 24, 28);
    b
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

    fn open_pcap(&mut self) -> Result<(), String> {
        let avail = self.end - self.start;
        if avail < 24 {
            return Err(format!(
                "the file is only {avail} bytes long, shorter than the 24-byte pcap file header"
            ));
        }
        let mut hdr: [u8; 24] = self.buf[..24].try_into().unwrap_or([0; 24]);
        let modified = hdr[..4] == MODIFIED_MAGIC_BE || hdr[..4] == MODIFIED_MAGIC_LE;
        if modified {
            // The rest of the file header is classic pcap's: let pcap-file check it as such.
            let classic = if hdr[0] == 0xa1 {
                0xa1b2_c3d4u32.to_be_bytes()
            } else {
                0xa1b2_c3d4u32.to_le_bytes()
            };
            hdr[..4].copy_from_slice(&classic);
        }
        let (_, parser) =
            PcapParser::new(&hdr).map_err(|e| format!("pcap file header rejected: {e}"))?;
        let h = parser.header();
        let big_endian = matches!(h.endianness, pcap_file::Endianness::Big);
        let nanos = matches!(h.ts_resolution, pcap_file::TsResolution::NanoSecond);
        if h.version_major != 2 {
            return Err(format!(
                "unsupported pcap version {}.{} (expected 2.x)",
                h.version_major, h.version_minor
            ));
        }
        // The upper 16 bits of the link type field carry FCS information, not the link type.
        let raw_link = rd_u32(&hdr, 20, big_endian).unwrap_or(0);
        let link_type = LinkType(raw_link & 0xffff);
        let snaplen = h.snaplen;
        let max_record = snaplen.clamp(STANDARD_MAX_PACKET, HARD_MAX_RECORD);
        self.format = CaptureFormat {
            name: if modified { "pcap (modified)" } else { "pcap" },
            details: format!(
                "{}, {}",
                endian_name(big_endian),
                if nanos { "nanosecond" } else { "microsecond" }
            ),
        };
        self.link_types = vec![link_type];
        self.container = Container::Pcap(PcapState {
            parser,
            modified,
            big_endian,
            nanos,
            link_type,
            snaplen,
            max_record,
        });
        self.start = 24;
        Ok(())
    }

    fn open_pcapng(&mut self) -> Result<(), String> {
        if !self.fill(12).map_err(|e| format!("read error: {e}"))? {
            return Err(format!(
                "the file is only {} bytes long, too short for a pcapng section header block",
                self.end - self.start
            ));
        }
        let big = match rd_u32(&self.buf, 8, true) {
            Some(0x1A2B_3C4D) => true,
            Some(0x4D3C_2B1A) => false,
            other => {
                return Err(format!(
                    "the section header block has an unknown byte-order magic {:08x}",
                    other.unwrap_or(0)
                ));
            }
        };
        let parser = PcapNgParser::new(&synthetic_shb(big))
            .map(|(_, p)| p)
            .map_err(|e| format!("internal: {e}"))?;
        self.format = CaptureFormat {
            name: "pcapng",
            details: endian_name(big).to_string(),
        };
        self.container = Container::PcapNg(Box::new(NgState {
            parser,
            big_endian: big,
            interfaces: Vec::new(),
            last_ts: 0,
            saw_little: false,
            saw_big: false,
        }));
        match self.ng_step() {
            Ok(NgStep::Block) => {}
            Ok(_) => return Err("the section header block is missing".to_string()),
            Err((_, reason)) => return Err(reason),
        }
        // Learn the interfaces declared before the first packet, so `link_types()` is useful right
        // after `open`. A fault here is left for `next_frame` to report (the block is not consumed).
        for _ in 0..PRIME_BLOCKS {
            match self.fill(8) {
                Ok(true) => {}
                _ => break,
            }
            let big = match &self.container {
                Container::PcapNg(ng) => ng.big_endian,
                _ => break,
            };
            let ty = rd_u32(&self.buf, self.start, big).unwrap_or(0);
            if matches!(
                ty,
                PACKET_BLOCK | SIMPLE_PACKET_BLOCK | ENHANCED_PACKET_BLOCK
            ) {
                break;
            }
            match self.ng_step() {
                Ok(NgStep::Block) => {}
                _ => break,
            }
        }
        Ok(())
    }

    /// Makes at least `need` bytes available at `start`. `Ok(false)` when the file ends first.
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
            Container::PcapNg(_) => loop {
                match self.ng_step() {
                    Ok(NgStep::Block) => continue,
                    Ok(NgStep::Eof) => break Ok(None),
                    Ok(NgStep::Frame(m)) => break Ok(Some(m)),
                    Err(e) => break Err(e),
                }
            },
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

    fn next_pcap(&mut self) -> Result<Option<FrameMeta>, Fault> {
        let (big, nanos, max_record, snaplen, link_type, modified) = match &self.container {
            Container::Pcap(p) => (
                p.big_endian,
                p.nanos,
                p.max_record,
                p.snaplen,
                p.link_type,
                p.modified,
            ),
            _ => return Ok(None),
        };
        let hdr_len = if modified { 24 } else { 16 };
        let rec_off = self.position();
        match self.fill(hdr_len) {
            Err(e) => return Err((rec_off, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                if avail == 0 {
                    return Ok(None);
                }
                return Err((
                    rec_off,
                    format!(
                        "file ends inside a packet record header: {avail} of {hdr_len} bytes present"
                    ),
                ));
            }
            Ok(true) => {}
        }
        let hdr = &self.buf[self.start..self.end];
        let field = |i: usize| rd_u32(hdr, i * 4, big).unwrap_or(0);
        let (ts_sec, ts_frac, incl_len, orig_len) = (field(0), field(1), field(2), field(3));
        if incl_len > max_record {
            let limit = if snaplen >= max_record {
                format!("more than the snap length {snaplen}")
            } else if snaplen >= STANDARD_MAX_PACKET {
                format!("more than the limit of {max_record} bytes (snap length {snaplen})")
            } else {
                format!("more than the limit of {max_record} bytes (the snap length is {snaplen})")
            };
            return Err((
                rec_off,
                format!("record header claims a {incl_len}-byte packet, {limit}"),
            ));
        }
        let total = hdr_len + incl_len as usize;
        match self.fill(total) {
            Err(e) => return Err((rec_off, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                return Err((
                    rec_off,
                    format!("file ends inside a packet record: {avail} of {total} bytes present"),
                ));
            }
            Ok(true) => {}
        }
        let Container::Pcap(p) = &self.container else {
            return Ok(None);
        };
        match p.parser.next_raw_packet(&self.buf[self.start..self.end]) {
            _ if p.modified => {}
            Ok((_, raw)) if raw.data.len() == incl_len as usize => {}
            Ok(_) => {
                return Err((
                    rec_off,
                    "packet record length disagrees with its header".to_string(),
                ));
            }
            Err(PcapError::IncompleteBuffer) => {
                return Err((
                    rec_off,
                    format!("file ends inside a packet record of {total} bytes"),
                ));
            }
            Err(e) => return Err((rec_off, format!("damaged packet record: {e}"))),
        }
        let frac_ns = if nanos {
            u64::from(ts_frac)
        } else {
            u64::from(ts_frac) * 1000
        };
        let meta = FrameMeta {
            ts: u64::from(ts_sec) * 1_000_000_000 + frac_ns,
            link_type,
            data_start: self.start + hdr_len,
            data_len: incl_len as usize,
            orig_len: orig_len.max(incl_len),
            interface: 0,
            record_offset: rec_off,
        };
        self.start += total;
        Ok(Some(meta))
    }

    /// Reads one pcapng block. On error nothing is consumed.
    fn ng_step(&mut self) -> Result<NgStep, Fault> {
        let rec_off = self.position();
        let big_now = match &self.container {
            Container::PcapNg(ng) => ng.big_endian,
            _ => return Ok(NgStep::Eof),
        };
        match self.fill(12) {
            Err(e) => return Err((rec_off, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                if avail == 0 {
                    return Ok(NgStep::Eof);
                }
                return Err((
                    rec_off,
                    format!("file ends inside a pcapng block header: {avail} of 12 bytes present"),
                ));
            }
            Ok(true) => {}
        }
        let head = &self.buf[self.start..self.end];
        let ty = rd_u32(head, 0, big_now).unwrap_or(0);
        let big = if ty == SECTION_HEADER_BLOCK {
            match rd_u32(head, 8, true) {
                Some(0x1A2B_3C4D) => true,
                Some(0x4D3C_2B1A) => false,
                other => {
                    return Err((
                        rec_off,
                        format!(
                            "section header block has an unknown byte-order magic {:08x}",
                            other.unwrap_or(0)
                        ),
                    ));
                }
            }
        } else {
            big_now
        };
        let len = rd_u32(head, 4, big).unwrap_or(0);
        if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
            let why = if len < 12 {
                "less than the minimum of 12".to_string()
            } else if !len.is_multiple_of(4) {
                "not a multiple of 4".to_string()
            } else {
                format!("more than the limit of {MAX_BLOCK_LEN}")
            };
            return Err((
                rec_off,
                format!("pcapng block of type 0x{ty:08x} claims a length of {len} bytes, {why}"),
            ));
        }
        let len_us = len as usize;
        match self.fill(len_us) {
            Err(e) => return Err((rec_off, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                return Err((
                    rec_off,
                    format!("file ends inside a pcapng block: {avail} of {len} bytes present"),
                ));
            }
            Ok(true) => {}
        }
        let block = &self.buf[self.start..self.start + len_us];
        let trailer = rd_u32(block, len_us - 4, big).unwrap_or(0);
        if trailer != len {
            return Err((
                rec_off,
                format!(
                    "pcapng block of type 0x{ty:08x}: trailing length {trailer} does not match the leading length {len}"
                ),
            ));
        }
        let body = &block[8..len_us - 4];
        let Container::PcapNg(ng) = &mut self.container else {
            return Ok(NgStep::Eof);
        };
        let mut frame = None;
        match ty {
            SECTION_HEADER_BLOCK => {
                if body.len() < 16 {
                    return Err((
                        rec_off,
                        format!(
                            "section header block is too short ({} body bytes)",
                            body.len()
                        ),
                    ));
                }
                let major = rd_u16(body, 4, big).unwrap_or(0);
                if major != 1 {
                    let minor = rd_u16(body, 6, big).unwrap_or(0);
                    return Err((
                        rec_off,
                        format!("unsupported pcapng version {major}.{minor} (expected 1.x)"),
                    ));
                }
                // pcap-file tracks the section (byte order); it rejects some legal option lists, in
                // which case it is restarted from a minimal header of the same byte order.
                if ng.parser.next_raw_block(block).is_err() {
                    match PcapNgParser::new(&synthetic_shb(big)) {
                        Ok((_, p)) => ng.parser = p,
                        Err(e) => return Err((rec_off, format!("internal: {e}"))),
                    }
                }
                ng.big_endian = big;
                ng.interfaces.clear();
                if big {
                    ng.saw_big = true;
                } else {
                    ng.saw_little = true;
                }
                if ng.saw_big && ng.saw_little {
                    self.format.details = "little-endian and big-endian sections".to_string();
                }
            }
            INTERFACE_DESCRIPTION_BLOCK => {
                // pcap-file validates the block; its option parsing is stricter than real files
                // (e.g. a missing end-of-options marker), so the fields are read here.
                let _ = ng.parser.next_raw_block(block);
                let (Some(link), Some(snaplen)) = (rd_u16(body, 0, big), rd_u32(body, 4, big))
                else {
                    return Err((
                        rec_off,
                        format!(
                            "interface description block is too short ({} body bytes)",
                            body.len()
                        ),
                    ));
                };
                let mut iface = Interface {
                    link_type: LinkType(u32::from(link)),
                    snaplen,
                    scale: TsScale::Mul(1000),
                    offset_secs: 0,
                };
                let mut at = 8usize;
                while let (Some(code), Some(olen)) =
                    (rd_u16(body, at, big), rd_u16(body, at + 2, big))
                {
                    if code == 0 {
                        break;
                    }
                    let olen = usize::from(olen);
                    let Some(val) = body.get(at + 4..at + 4 + olen) else {
                        break;
                    };
                    match (code, val.len()) {
                        (9, 1) => {
                            iface.scale = TsScale::from_tsresol(val.first().copied().unwrap_or(6))
                        }
                        (14, 8) => {
                            iface.offset_secs = rd_u64(val, 0, big).unwrap_or(0) as i64;
                        }
                        _ => {}
                    }
                    at += 4 + olen.div_ceil(4) * 4;
                }
                ng.interfaces.push(iface);
                if !self.link_types.contains(&iface.link_type) {
                    self.link_types.push(iface.link_type);
                }
            }
            ENHANCED_PACKET_BLOCK | PACKET_BLOCK => {
                let name = if ty == ENHANCED_PACKET_BLOCK {
                    "enhanced packet block"
                } else {
                    "packet block"
                };
                if body.len() < 20 {
                    return Err((
                        rec_off,
                        format!("{name} is too short ({} body bytes)", body.len()),
                    ));
                }
                let iface_id = if ty == ENHANCED_PACKET_BLOCK {
                    rd_u32(body, 0, big).unwrap_or(0)
                } else {
                    u32::from(rd_u16(body, 0, big).unwrap_or(0))
                };
                let hi = rd_u32(body, 4, big).unwrap_or(0);
                let lo = rd_u32(body, 8, big).unwrap_or(0);
                let caplen = rd_u32(body, 12, big).unwrap_or(0);
                let orig = rd_u32(body, 16, big).unwrap_or(0);
                let room = body.len() - 20;
                if caplen as usize > room {
                    return Err((
                        rec_off,
                        format!(
                            "{name} claims {caplen} captured bytes but holds only {room} bytes of packet data"
                        ),
                    ));
                }
                let Some(iface) = ng.interfaces.get(iface_id as usize) else {
                    return Err((
                        rec_off,
                        format!(
                            "{name} refers to interface {iface_id}, but the section describes only {} interface(s)",
                            ng.interfaces.len()
                        ),
                    ));
                };
                let units = (u64::from(hi) << 32) | u64::from(lo);
                let mut ts = iface.scale.to_ns(units);
                if iface.offset_secs != 0 {
                    let t = i128::from(ts) + i128::from(iface.offset_secs) * 1_000_000_000;
                    ts = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
                }
                ng.last_ts = ts;
                frame = Some(FrameMeta {
                    ts,
                    link_type: iface.link_type,
                    data_start: self.start + 8 + 20,
                    data_len: caplen as usize,
                    orig_len: orig.max(caplen),
                    interface: iface_id,
                    record_offset: rec_off,
                });
            }
            SIMPLE_PACKET_BLOCK => {
                let Some(orig) = rd_u32(body, 0, big) else {
                    return Err((
                        rec_off,
                        "simple packet block is too short (no length field)".to_string(),
                    ));
                };
                let Some(iface) = ng.interfaces.first() else {
                    return Err((
                        rec_off,
                        "simple packet block, but the section describes no interface".to_string(),
                    ));
                };
                let mut caplen = (orig as usize).min(body.len() - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                frame = Some(FrameMeta {
                    ts: ng.last_ts,
                    link_type: iface.link_type,
                    data_start: self.start + 8 + 4,
                    data_len: caplen,
                    orig_len: orig.max(caplen as u32),
                    interface: 0,
                    record_offset: rec_off,
                });
            }
            _ => {}
        }
        self.start += len_us;
        Ok(match frame {
            Some(m) => NgStep::Frame(m),
            None => NgStep::Block,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testdata::{self, Rng};
    use std::io::Write;

    /// Reads every frame; returns (timestamps, interfaces, link types, data lengths) and the error.
    struct ReadAll {
        ts: Vec<u64>,
        interfaces: Vec<u32>,
        link_types: Vec<LinkType>,
        caplens: Vec<usize>,
        error: Option<ReadError>,
    }

    fn read_all(reader: &mut CaptureReader) -> ReadAll {
        let mut out = ReadAll {
            ts: Vec::new(),
            interfaces: Vec::new(),
            link_types: Vec::new(),
            caplens: Vec::new(),
            error: None,
        };
        while let Some(next) = reader.next_frame() {
            match next {
                Ok(f) => {
                    assert!(f.orig_len as usize >= f.data.len());
                    out.ts.push(f.ts);
                    out.interfaces.push(f.interface);
                    out.link_types.push(f.link_type);
                    out.caplens.push(f.data.len());
                }
                Err(e) => {
                    assert!(out.error.is_none(), "two errors");
                    out.error = Some(e);
                }
            }
        }
        assert!(reader.next_frame().is_none(), "reader must stay finished");
        out
    }

    fn open(name: &str) -> CaptureReader {
        CaptureReader::open(&testdata::path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn secs_to_ns(v: &serde_json::Value) -> u64 {
        (v.as_f64().expect("epoch is a number") * 1e9).round() as u64
    }

    #[test]
    fn every_listed_capture_reads_like_tshark() {
        let exp = testdata::expectations();
        for name in testdata::captures() {
            let e = &exp[&name];
            let mut r = open(&name);
            let all = read_all(&mut r);
            let packets = e["packets"].as_u64().unwrap();
            assert_eq!(all.ts.len() as u64, packets, "{name}: packet count");
            assert_eq!(r.packets(), packets, "{name}: packets()");
            assert_eq!(
                r.format().name,
                e["format"].as_str().unwrap(),
                "{name}: format"
            );
            let byte_order = e["byte_order"].as_str().unwrap();
            assert!(
                r.format().details.starts_with(byte_order),
                "{name}: {:?}",
                r.format()
            );
            if let Some(res) = e["timestamp_resolution"].as_str() {
                assert!(
                    r.format().details.ends_with(res),
                    "{name}: {:?}",
                    r.format()
                );
            }
            let readable = e["readable_to_end"].as_bool().unwrap();
            assert_eq!(all.error.is_none(), readable, "{name}: {:?}", all.error);
            if readable {
                assert_eq!(r.position(), r.file_size(), "{name}: whole file consumed");
            }
            assert_eq!(r.file_size(), e["size_bytes"].as_u64().unwrap(), "{name}");
            let lt = r.link_types();
            let described: Vec<String> = lt.iter().map(|l| l.describe()).collect();
            if let Some(s) = e["link_type"].as_str() {
                assert_eq!(described, vec![s.to_string()], "{name}: link types");
            }
            for l in &all.link_types {
                assert!(
                    lt.contains(l),
                    "{name}: frame link type {l:?} not in link_types()"
                );
            }
            // Timestamps to within the float precision of the JSON (well under 1 µs).
            if packets > 0 {
                let first = secs_to_ns(&e["first_packet_epoch"]);
                let last = secs_to_ns(&e["last_packet_epoch"]);
                let min = *all.ts.iter().min().unwrap();
                let max = *all.ts.iter().max().unwrap();
                assert!(
                    all.ts[0].abs_diff(first) < 1_000,
                    "{name}: first ts {}",
                    all.ts[0]
                );
                assert!(min.abs_diff(first) < 1_000 || all.ts[0] == min, "{name}");
                assert!(
                    max.abs_diff(last) < 1_000,
                    "{name}: last ts {max} vs {last}"
                );
            }
        }
    }

    #[test]
    fn small_captures_counts_and_details() {
        let cases: [(&str, usize, &str); 4] = [
            ("http_get_bro_org.pcap", 14, "little-endian, microsecond"),
            ("bigendian_icmp.pcap", 2, "big-endian, microsecond"),
            (
                "linux_sll2_icmp_icmpv6_arp.pcap",
                6,
                "little-endian, microsecond",
            ),
            (
                "nanosecond_linux_sll_tcp_handshake.pcap",
                3,
                "little-endian, nanosecond",
            ),
        ];
        for (name, n, details) in cases {
            let mut r = open(name);
            assert_eq!(r.format().details, details, "{name}");
            let all = read_all(&mut r);
            assert_eq!(all.ts.len(), n, "{name}");
            assert!(all.error.is_none());
        }
        let r = open("linux_sll2_icmp_icmpv6_arp.pcap");
        assert_eq!(r.link_types(), vec![LinkType::LINUX_SLL2]);
    }

    #[test]
    fn nanosecond_timestamps_are_exact() {
        let mut r = open("nanosecond_linux_sll_tcp_handshake.pcap");
        assert_eq!(r.link_types(), vec![LinkType::LINUX_SLL]);
        let all = read_all(&mut r);
        // Raw values from the record headers (seconds, nanoseconds).
        assert_eq!(
            all.ts,
            vec![
                1_418_145_369_924_505_488,
                1_418_145_370_052_027_262,
                1_418_145_370_052_115_157
            ]
        );
        let exp = testdata::expectations();
        let first =
            secs_to_ns(&exp["nanosecond_linux_sll_tcp_handshake.pcap"]["first_packet_epoch"]);
        assert!(all.ts[0].abs_diff(first) < 1_000);
    }

    #[test]
    fn microsecond_timestamps_are_exact() {
        let mut r = open("http_get_bro_org.pcap");
        let all = read_all(&mut r);
        assert_eq!(all.ts[0], 1_362_692_526_869_344_000);
        assert_eq!(all.ts[13], 1_362_692_527_080_972_000);
        let mut r = open("bigendian_icmp.pcap");
        let all = read_all(&mut r);
        assert_eq!(all.ts[0], 1_335_958_313_152_630_000);
    }

    #[test]
    fn pcapng_two_interfaces() {
        let mut r = open("pcapng_two_interfaces_dns.pcapng");
        assert_eq!(r.format().name, "pcapng");
        assert_eq!(r.format().details, "little-endian");
        // Interfaces are described before the first packet: known right after open.
        assert_eq!(r.link_types(), vec![LinkType::ETHERNET]);
        let all = read_all(&mut r);
        assert!(all.error.is_none());
        assert_eq!(all.ts.len(), 6);
        let mut ifaces = all.interfaces.clone();
        ifaces.sort();
        ifaces.dedup();
        assert_eq!(ifaces, vec![0, 1]);
        assert!(all.link_types.iter().all(|l| *l == LinkType::ETHERNET));
        let exp = testdata::expectations();
        let e = &exp["pcapng_two_interfaces_dns.pcapng"];
        // Interface 0 is nanosecond, interface 1 microsecond: both must land on the same clock.
        let first = secs_to_ns(&e["first_packet_epoch"]);
        let last = secs_to_ns(&e["last_packet_epoch"]);
        assert!(
            all.ts.iter().min().unwrap().abs_diff(first) < 1_000,
            "{:?}",
            all.ts
        );
        assert!(
            all.ts.iter().max().unwrap().abs_diff(last) < 1_000,
            "{:?}",
            all.ts
        );
        assert!(
            all.ts
                .iter()
                .all(|t| (first - 1_000..=last + 1_000).contains(t))
        );
    }

    /// Byte offset of every record of a classic little-endian pcap, walked independently.
    fn record_offsets(bytes: &[u8]) -> Vec<usize> {
        let mut offs = Vec::new();
        let mut at = 24;
        while at + 16 <= bytes.len() {
            offs.push(at);
            let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            at += 16 + incl;
        }
        offs
    }

    #[test]
    fn the_hash_covers_the_whole_file_however_far_reading_got() {
        use sha2::{Digest, Sha256};
        let whole = |name: &str| {
            let bytes = std::fs::read(testdata::path(name)).unwrap();
            crate::hex(&Sha256::digest(&bytes))
        };
        // Read to the end; stopped at a corrupt record; not read past the header at all.
        for name in [
            "http_get_bro_org.pcap",
            "corrupt_smtp_bad_record_after_18_packets.pcap",
        ] {
            let mut r = open(name);
            read_all(&mut r);
            assert_eq!(r.sha256().unwrap(), whole(name), "{name}");
            assert_eq!(open(name).sha256().unwrap(), whole(name), "{name}, unread");
        }
        // A capture bigger than the read buffer.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pcap");
        let mut bytes = std::fs::read(testdata::path("http_get_bro_org.pcap")).unwrap();
        bytes.resize(3 * BUF_SIZE + 17, 0xab);
        std::fs::write(&path, &bytes).unwrap();
        let mut r = CaptureReader::open(&path).unwrap();
        read_all(&mut r);
        let expected = crate::hex(&Sha256::digest(&bytes));
        assert_eq!(r.sha256().unwrap(), expected);
    }

    #[test]
    fn corrupt_capture_stops_after_18_packets_at_the_19th_record() {
        let name = "corrupt_smtp_bad_record_after_18_packets.pcap";
        let bytes = std::fs::read(testdata::path(name)).unwrap();
        let offs = record_offsets(&bytes);
        let mut r = open(name);
        let all = read_all(&mut r);
        assert_eq!(all.ts.len(), 18);
        let err = all.error.expect("a read error after 18 packets");
        assert_eq!(err.offset, offs[18] as u64, "offset of the 19th record");
        assert_eq!(err.packets, 18);
        assert!(
            err.reason.contains("3925868813-byte packet")
                && err.reason.contains("snap length 262144"),
            "{}",
            err.reason
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("byte offset {}", offs[18])),
            "{text}"
        );
    }

    #[test]
    fn empty_capture_has_no_frames_and_no_error() {
        let mut r = open("empty_no_packets.pcap");
        let all = read_all(&mut r);
        assert!(all.ts.is_empty());
        assert!(all.error.is_none());
        assert_eq!(r.position(), 24);
        assert_eq!(r.link_types(), vec![LinkType::ETHERNET]);
    }

    #[test]
    fn not_a_capture_and_empty_files_are_refused() {
        match CaptureReader::open(&testdata::path("SOURCES.md")) {
            Err(OpenError::NotACapture { found, .. }) => {
                assert!(found.starts_with("2320"), "{found}");
            }
            other => panic!("expected NotACapture, got {:?}", other.err()),
        }
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pcap");
        std::fs::File::create(&empty).unwrap();
        assert!(matches!(
            CaptureReader::open(&empty),
            Err(OpenError::Empty { .. })
        ));
        let missing = dir.path().join("missing.pcap");
        assert!(matches!(
            CaptureReader::open(&missing),
            Err(OpenError::Io { .. })
        ));
        // A pcap magic followed by too little header.
        let short = dir.path().join("short.pcap");
        std::fs::write(&short, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4]).unwrap();
        assert!(matches!(
            CaptureReader::open(&short),
            Err(OpenError::BadHeader { .. })
        ));
        let tiny = dir.path().join("tiny.pcap");
        std::fs::write(&tiny, [0xd4, 0xc3]).unwrap();
        assert!(matches!(
            CaptureReader::open(&tiny),
            Err(OpenError::BadHeader { .. })
        ));
        std::fs::write(&tiny, b"hi").unwrap();
        assert!(matches!(
            CaptureReader::open(&tiny),
            Err(OpenError::NotACapture { .. })
        ));
        // Wrong pcap version.
        let mut hdr = std::fs::read(testdata::path("empty_no_packets.pcap")).unwrap();
        hdr[4] = 7;
        std::fs::write(&short, &hdr).unwrap();
        assert!(matches!(
            CaptureReader::open(&short),
            Err(OpenError::BadHeader { .. })
        ));
        // pcapng with a bad byte-order magic.
        let bad_ng = dir.path().join("bad.pcapng");
        std::fs::write(&bad_ng, [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4]).unwrap();
        assert!(matches!(
            CaptureReader::open(&bad_ng),
            Err(OpenError::BadHeader { .. })
        ));
    }

    #[test]
    fn truncated_capture_returns_the_frames_before_and_an_error() {
        let bytes = std::fs::read(testdata::path("http_get_bro_org.pcap")).unwrap();
        let offs = record_offsets(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.pcap");
        // Cut 10 bytes into the data of the 6th record.
        let cut = offs[5] + 16 + 10;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let mut r = CaptureReader::open(&path).unwrap();
        let all = read_all(&mut r);
        assert_eq!(all.ts.len(), 5);
        let err = all.error.expect("error at the cut record");
        assert_eq!(err.offset, offs[5] as u64);
        assert_eq!(err.packets, 5);
        let total = offs[6] - offs[5];
        assert_eq!(
            err.reason,
            format!("file ends inside a packet record: 26 of {total} bytes present")
        );
        // Cut inside a record header.
        std::fs::write(&path, &bytes[..offs[3] + 10]).unwrap();
        let mut r = CaptureReader::open(&path).unwrap();
        let all = read_all(&mut r);
        assert_eq!(all.ts.len(), 3);
        let err = all.error.unwrap();
        assert_eq!(err.offset, offs[3] as u64);
        assert!(err.reason.contains("10 of 16 bytes"), "{}", err.reason);
    }

    #[test]
    fn a_capture_in_memory_reads_like_the_same_file() {
        for name in ["http_get_bro_org.pcap", "pcapng_two_interfaces_dns.pcapng"] {
            let bytes = std::fs::read(testdata::path(name)).unwrap();
            let mut from_file = open(name);
            let mut in_memory = CaptureReader::from_bytes(bytes.clone(), name).unwrap();
            assert_eq!(in_memory.file_size(), bytes.len() as u64);
            assert_eq!(in_memory.format(), from_file.format());
            let (a, b) = (read_all(&mut from_file), read_all(&mut in_memory));
            assert_eq!((a.ts, a.caplens), (b.ts, b.caplens), "{name}");
            assert!(!b.link_types.is_empty() && b.error.is_none(), "{name}");
            assert_eq!(in_memory.sha256().unwrap(), from_file.sha256().unwrap());
        }
        let err = CaptureReader::from_bytes(&b"<!DOCTYPE html>"[..], "upload")
            .err()
            .expect("not a capture");
        assert!(
            err.to_string()
                .starts_with("upload is not a packet capture"),
            "{err}"
        );
    }

    #[test]
    fn reading_crosses_buffer_refills() {
        // 1.1 MB: larger than the 1 MiB buffer.
        let mut r = open("tor_browser_pcapxray_example.pcap");
        assert!(r.file_size() > BUF_SIZE as u64);
        let mut n = 0u64;
        let mut last_pos = r.position();
        while let Some(f) = r.next_frame() {
            f.unwrap();
            n += 1;
            assert!(r.position() > last_pos);
            last_pos = r.position();
        }
        assert_eq!(n, 1805);
        assert_eq!(r.position(), r.file_size());
    }

    fn pcap_header(snaplen: u32, link: u32) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&snaplen.to_le_bytes());
        v.extend_from_slice(&link.to_le_bytes());
        v
    }

    fn pcap_record(v: &mut Vec<u8>, sec: u32, usec: u32, data: &[u8], orig: u32) {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&usec.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend_from_slice(data);
    }

    /// A modified ("Kuznetsov") pcap in either byte order: the 24-byte file header with magic a1b2cd34,
    /// then records with 8 more header bytes (ifindex u32, protocol u16, packet type u8, pad u8).
    fn modified_pcap(big: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let u32b = |x: u32| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let u16b = |x: u16| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let mut v = u32b(0xa1b2_cd34).to_vec();
        v.extend_from_slice(&u16b(2));
        v.extend_from_slice(&u16b(4));
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&u32b(65535));
        v.extend_from_slice(&u32b(1));
        for (sec, usec, data) in records {
            for x in [*sec, *usec, data.len() as u32, data.len() as u32 + 4, 3] {
                v.extend_from_slice(&u32b(x));
            }
            v.extend_from_slice(&u16b(0x0800));
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn modified_pcap_records_are_read_in_both_byte_orders() {
        let (a, b) = ([0x11u8; 60], [0x22u8; 75]);
        for big in [false, true] {
            let bytes = modified_pcap(big, &[(10, 5, &a), (11, 999_999, &b)]);
            assert_eq!(
                &bytes[..4],
                if big {
                    [0xa1, 0xb2, 0xcd, 0x34]
                } else {
                    [0x34, 0xcd, 0xb2, 0xa1]
                }
            );
            let (_dir, path) = write_temp(&bytes);
            let mut r = CaptureReader::open(&path).unwrap();
            assert_eq!(r.format().name, "pcap (modified)");
            let mut frames = Vec::new();
            while let Some(f) = r.next_frame() {
                let f = f.unwrap();
                frames.push((f.ts, f.orig_len, f.link_type, f.data.to_vec()));
            }
            assert_eq!(
                frames,
                vec![
                    (10_000_005_000, 64, LinkType::ETHERNET, a.to_vec()),
                    (11_999_999_000, 79, LinkType::ETHERNET, b.to_vec()),
                ]
            );
            // Cut inside the second record's 24-byte header: the first frame, then an error there.
            let cut = &bytes[..24 + 24 + 60 + 20];
            let (_dir, path) = write_temp(cut);
            let mut r = CaptureReader::open(&path).unwrap();
            let got = read_all(&mut r);
            assert_eq!(got.caplens, vec![60]);
            let e = got.error.expect("an error");
            assert_eq!(e.offset, 24 + 24 + 60);
            assert!(e.reason.contains("20 of 24 bytes"), "{}", e.reason);
        }
    }

    #[test]
    fn a_record_larger_than_the_buffer_grows_it() {
        let mut v = pcap_header(4 << 20, 1);
        pcap_record(&mut v, 1, 2, &[7u8; 100], 100);
        let big = vec![0x55u8; 3 << 20];
        pcap_record(&mut v, 3, 4, &big, big.len() as u32);
        pcap_record(&mut v, 5, 6, &[8u8; 60], 1500);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pcap");
        std::fs::write(&path, &v).unwrap();
        let mut r = CaptureReader::open(&path).unwrap();
        let mut lens = Vec::new();
        let mut offsets = Vec::new();
        while let Some(f) = r.next_frame() {
            let f = f.unwrap();
            assert!(f.data.iter().all(|b| *b == f.data[0]));
            lens.push((f.data.len(), f.orig_len, f.ts));
            offsets.push(r.frame_offset());
        }
        assert_eq!(
            lens,
            vec![
                (100, 100, 1_000_002_000),
                (3 << 20, 3 << 20, 3_000_004_000),
                (60, 1500, 5_000_006_000)
            ]
        );
        assert_eq!(offsets, vec![24, 24 + 116, 24 + 116 + 16 + (3 << 20)]);
        assert_eq!(r.link_types(), vec![LinkType::ETHERNET]);
    }

    #[test]
    fn link_type_field_ignores_fcs_bits() {
        let v = pcap_header(65535, 0x1000_0000 | 101);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fcs.pcap");
        std::fs::write(&path, &v).unwrap();
        let r = CaptureReader::open(&path).unwrap();
        assert_eq!(r.link_types(), vec![LinkType::RAW]);
    }

    /// A pcapng block: type, length, body (padded), trailing length.
    fn ng_block(big: bool, ty: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        let w = |x: u32| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let mut v = Vec::new();
        v.extend_from_slice(&w(ty));
        v.extend_from_slice(&w(len));
        v.extend_from_slice(body);
        v.resize(8 + padded, 0);
        v.extend_from_slice(&w(len));
        v
    }

    fn shb(big: bool, with_options: bool) -> Vec<u8> {
        let mut body = Vec::new();
        let w32 = |x: u32| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let w16 = |x: u16| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        body.extend_from_slice(&w32(0x1A2B_3C4D));
        body.extend_from_slice(&w16(1));
        body.extend_from_slice(&w16(0));
        body.extend_from_slice(&[0xff; 8]);
        if with_options {
            // shb_userappl with invalid UTF-8 and no end-of-options marker: pcap-file rejects it.
            body.extend_from_slice(&w16(4));
            body.extend_from_slice(&w16(3));
            body.extend_from_slice(&[0xff, 0xfe, 0x41, 0]);
        }
        ng_block(big, SECTION_HEADER_BLOCK, &body)
    }

    /// An interface description, with an optional if_tsresol and no end-of-options marker.
    fn idb(
        big: bool,
        link: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> Vec<u8> {
        let w16 = |x: u16| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let w32 = |x: u32| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let mut body = Vec::new();
        body.extend_from_slice(&w16(link));
        body.extend_from_slice(&w16(0));
        body.extend_from_slice(&w32(snaplen));
        // if_tzone is 4 bytes long (pcap-file 2.0 wrongly insists on 1).
        body.extend_from_slice(&w16(10));
        body.extend_from_slice(&w16(4));
        body.extend_from_slice(&[0; 4]);
        if let Some(r) = tsresol {
            body.extend_from_slice(&w16(9));
            body.extend_from_slice(&w16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(off) = tsoffset {
            body.extend_from_slice(&w16(14));
            body.extend_from_slice(&w16(8));
            let b = if big {
                off.to_be_bytes()
            } else {
                off.to_le_bytes()
            };
            body.extend_from_slice(&b);
        }
        ng_block(big, INTERFACE_DESCRIPTION_BLOCK, &body)
    }

    fn epb(big: bool, iface: u32, units: u64, data: &[u8], orig: u32) -> Vec<u8> {
        let w32 = |x: u32| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let mut body = Vec::new();
        body.extend_from_slice(&w32(iface));
        body.extend_from_slice(&w32((units >> 32) as u32));
        body.extend_from_slice(&w32(units as u32));
        body.extend_from_slice(&w32(data.len() as u32));
        body.extend_from_slice(&w32(orig));
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        // An epb_flags option.
        body.extend_from_slice(
            &(if big {
                2u16.to_be_bytes()
            } else {
                2u16.to_le_bytes()
            }),
        );
        body.extend_from_slice(
            &(if big {
                4u16.to_be_bytes()
            } else {
                4u16.to_le_bytes()
            }),
        );
        body.extend_from_slice(&w32(1));
        ng_block(big, ENHANCED_PACKET_BLOCK, &body)
    }

    fn spb(big: bool, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            &(if big {
                orig.to_be_bytes()
            } else {
                orig.to_le_bytes()
            }),
        );
        body.extend_from_slice(data);
        ng_block(big, SIMPLE_PACKET_BLOCK, &body)
    }

    fn write_temp(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capture");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn pcapng_sections_interfaces_resolutions_and_block_kinds() {
        let mut v = shb(false, true);
        v.extend(idb(false, 1, 0, Some(9), None)); // ns
        v.extend(idb(false, 101, 0, Some(0x80 | 20), None)); // 2^-20 s
        v.extend(idb(false, 113, 0, None, Some(100))); // µs, +100 s
        v.extend(ng_block(false, 0x0000_0BAD, &[1, 2, 3])); // unknown block: skipped
        v.extend(epb(false, 0, 1_500_000_000_123_456_789, &[1; 20], 60));
        v.extend(epb(false, 1, 3 << 20, &[2; 5], 5)); // 3 s
        v.extend(epb(false, 2, 7_000_001, &[3; 8], 8)); // 7.000001 s + 100 s
        v.extend(spb(false, &[4; 12], 12));
        // A second, big-endian section: interface ids restart.
        v.extend(shb(true, false));
        v.extend(idb(true, 228, 0, Some(3), None)); // ms
        v.extend(epb(true, 0, 42, &[5; 30], 30));
        let (_dir, path) = write_temp(&v);
        let mut r = CaptureReader::open(&path).unwrap();
        assert_eq!(r.format().name, "pcapng");
        assert_eq!(
            r.link_types(),
            vec![LinkType::ETHERNET, LinkType::RAW, LinkType::LINUX_SLL]
        );
        let mut got = Vec::new();
        while let Some(f) = r.next_frame() {
            let f = f.unwrap();
            got.push((f.ts, f.interface, f.link_type, f.data.to_vec(), f.orig_len));
        }
        assert_eq!(
            got,
            vec![
                (
                    1_500_000_000_123_456_789,
                    0,
                    LinkType::ETHERNET,
                    vec![1; 20],
                    60
                ),
                (3_000_000_000, 1, LinkType::RAW, vec![2; 5], 5),
                (107_000_001_000, 2, LinkType::LINUX_SLL, vec![3; 8], 8),
                // Simple packet block: interface 0, previous timestamp.
                (107_000_001_000, 0, LinkType::ETHERNET, vec![4; 12], 12),
                (42_000_000, 0, LinkType::IPV4, vec![5; 30], 30),
            ]
        );
        assert_eq!(r.position(), v.len() as u64);
        assert_eq!(
            r.link_types(),
            vec![
                LinkType::ETHERNET,
                LinkType::RAW,
                LinkType::LINUX_SLL,
                LinkType::IPV4
            ]
        );
        assert_eq!(r.format().details, "little-endian and big-endian sections");
    }

    #[test]
    fn pcapng_faults_are_read_errors_with_offsets() {
        let head = {
            let mut v = shb(false, false);
            v.extend(idb(false, 1, 0, None, None));
            v.extend(epb(false, 0, 1, &[1; 10], 10));
            v
        };
        let check = |tail: Vec<u8>, want: &str| {
            let mut v = head.clone();
            v.extend(tail);
            let (_dir, path) = write_temp(&v);
            let mut r = CaptureReader::open(&path).unwrap();
            let all = read_all(&mut r);
            assert_eq!(all.ts.len(), 1, "{want}");
            let err = all.error.unwrap_or_else(|| panic!("no error for {want}"));
            assert_eq!(err.offset, head.len() as u64, "{want}");
            assert_eq!(err.packets, 1);
            assert!(
                err.reason.contains(want),
                "{} does not contain {want}",
                err.reason
            );
        };
        // Unknown interface.
        check(epb(false, 5, 1, &[1; 4], 4), "refers to interface 5");
        // Block length way too large.
        let mut huge = epb(false, 0, 1, &[1; 4], 4);
        huge[4..8].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        check(huge, "more than the limit");
        // Not a multiple of 4.
        let mut odd = epb(false, 0, 1, &[1; 4], 4);
        odd[4..8].copy_from_slice(&45u32.to_le_bytes());
        check(odd, "not a multiple of 4");
        // Trailer disagrees.
        let mut trail = epb(false, 0, 1, &[1; 4], 4);
        let n = trail.len();
        trail[n - 4..].copy_from_slice(&8u32.to_le_bytes());
        check(trail, "does not match");
        // Captured length larger than the block.
        let mut cap = epb(false, 0, 1, &[1; 4], 4);
        cap[20..24].copy_from_slice(&4000u32.to_le_bytes());
        check(cap, "claims 4000 captured bytes");
        // File ends inside a block.
        let mut cut = epb(false, 0, 1, &[1; 40], 40);
        cut.truncate(30);
        check(cut, "file ends inside a pcapng block: 30 of");
        check(vec![6, 0, 0], "3 of 12 bytes");
    }

    #[test]
    fn tsresol_conversions() {
        assert_eq!(TsScale::from_tsresol(6).to_ns(5), 5_000);
        assert_eq!(TsScale::from_tsresol(9).to_ns(5), 5);
        assert_eq!(TsScale::from_tsresol(0).to_ns(5), 5_000_000_000);
        assert_eq!(TsScale::from_tsresol(12).to_ns(5_000), 5);
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsScale::from_tsresol(0x80).to_ns(u64::MAX), u64::MAX);
        assert_eq!(TsScale::from_tsresol(127).to_ns(u64::MAX), 0);
    }

    #[test]
    fn fuzzed_files_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let sources: Vec<Vec<u8>> = [
            "http_get_bro_org.pcap",
            "pcapng_two_interfaces_dns.pcapng",
            "bigendian_icmp.pcap",
            "nanosecond_linux_sll_tcp_handshake.pcap",
        ]
        .iter()
        .map(|n| std::fs::read(testdata::path(n)).unwrap())
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz");
        for round in 0..600 {
            let mut bytes = sources[round % sources.len()].clone();
            match rng.below(3) {
                0 => {
                    let cut = rng.below(bytes.len() + 1);
                    bytes.truncate(cut);
                }
                1 => {
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.next() as u8;
                    }
                }
                _ => {
                    // Random bytes after a valid magic.
                    let keep = 4 + rng.below(40);
                    bytes.truncate(keep.min(bytes.len()));
                    for _ in 0..rng.below(300) {
                        bytes.push(rng.next() as u8);
                    }
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(mut r) = CaptureReader::open(&path) {
                let mut n = 0;
                while let Some(f) = r.next_frame() {
                    n += 1;
                    assert!(n < 100_000, "reader does not terminate");
                    if let Ok(f) = f {
                        assert!(f.data.len() <= bytes.len());
                    }
                }
                assert!(r.position() <= bytes.len() as u64);
            }
        }
    }
}
