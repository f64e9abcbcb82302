//! pcapng: sections, interfaces and packets, one block at a time. `ng_step` has `ng_frame_block` check
//! a block's lengths before anything is read from it, then hands the block to the function for its
//! type (`section_header`, `interface_description`, `packet`, `simple_packet`).

use super::{
    CaptureFormat, CaptureReader, Container, Fault, FrameMeta, endian_name, rd_u16, rd_u32, rd_u64,
};
use crate::decode::LinkType;
use pcap_file::pcapng::PcapNgParser;

/// Largest pcapng block accepted.
const MAX_BLOCK_LEN: u32 = 16 << 20;

pub(super) const SECTION_HEADER_BLOCK: u32 = 0x0A0D_0D0A;
pub(super) const INTERFACE_DESCRIPTION_BLOCK: u32 = 1;
pub(super) const PACKET_BLOCK: u32 = 2;
pub(super) const SIMPLE_PACKET_BLOCK: u32 = 3;
pub(super) const ENHANCED_PACKET_BLOCK: u32 = 6;
/// At most this many leading non-packet pcapng blocks are read by `open` to learn the interfaces.
const PRIME_BLOCKS: usize = 64;

/// The state of a pcapng file: the current section's byte order and interfaces.
pub(super) struct NgState {
    parser: PcapNgParser,
    big_endian: bool,
    /// Interfaces of the current section, indexed by interface id.
    interfaces: Vec<Interface>,
    /// Timestamp of the last timestamped packet (Simple Packet Blocks carry none).
    last_ts: u64,
    saw_little: bool,
    saw_big: bool,
}

/// One interface of the current section.
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
pub(super) enum TsScale {
    Mul(u64),
    Div(u128),
    /// Units of 2^-n seconds.
    Pow2(u32),
}

impl TsScale {
    pub(super) fn from_tsresol(r: u8) -> TsScale {
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

    pub(super) fn to_ns(self, units: u64) -> u64 {
        match self {
            TsScale::Mul(m) => units.saturating_mul(m),
            TsScale::Div(d) => u64::try_from(u128::from(units) / d).unwrap_or(u64::MAX),
            TsScale::Pow2(n) => {
                u64::try_from((u128::from(units) * 1_000_000_000) >> n).unwrap_or(u64::MAX)
            }
        }
    }
}

/// One pcapng block step.
enum NgStep {
    Eof,
    Block,
    Frame(FrameMeta),
}

/// A block whose lengths were checked: its type, byte order and total length. It lies at the reader's
/// `start`, whole in the buffer.
struct BlockFrame {
    ty: u32,
    big: bool,
    len: usize,
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

impl CaptureReader {
    /// Reads the section header block and the blocks before the first packet; the reason when the file
    /// does not start with a section header this reader can read.
    pub(super) fn open_pcapng(&mut self) -> Result<(), String> {
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

    /// The next frame of a pcapng file, skipping blocks that carry none: `None` at the clean end.
    pub(super) fn next_pcapng(&mut self) -> Result<Option<FrameMeta>, Fault> {
        loop {
            match self.ng_step()? {
                NgStep::Block => continue,
                NgStep::Eof => return Ok(None),
                NgStep::Frame(m) => return Ok(Some(m)),
            }
        }
    }

    /// Reads one pcapng block. On error nothing is consumed.
    fn ng_step(&mut self) -> Result<NgStep, Fault> {
        let rec_off = self.position();
        let Some(BlockFrame { ty, big, len }) = self.ng_frame_block(rec_off)? else {
            return Ok(NgStep::Eof);
        };
        let data_start = self.start + 8;
        let block = &self.buf[self.start..self.start + len];
        let body = &block[8..len - 4];
        let Container::PcapNg(ng) = &mut self.container else {
            return Ok(NgStep::Eof);
        };
        let frame = match ty {
            SECTION_HEADER_BLOCK => {
                ng.section_header(block, body, big, rec_off, &mut self.format)?;
                None
            }
            INTERFACE_DESCRIPTION_BLOCK => {
                ng.interface_description(block, body, big, rec_off, &mut self.link_types)?;
                None
            }
            ENHANCED_PACKET_BLOCK | PACKET_BLOCK => {
                Some(ng.packet(ty, body, big, rec_off, data_start)?)
            }
            SIMPLE_PACKET_BLOCK => Some(ng.simple_packet(body, big, rec_off, data_start)?),
            _ => None,
        };
        self.start += len;
        Ok(match frame {
            Some(m) => NgStep::Frame(m),
            None => NgStep::Block,
        })
    }

    /// Makes the block at `start` (file offset `rec_off`) available whole after checking its header:
    /// byte order (a section header sets its own), leading length within bounds, trailing length equal
    /// to it. `None` at the clean end of the file. Nothing is consumed.
    fn ng_frame_block(&mut self, rec_off: u64) -> Result<Option<BlockFrame>, Fault> {
        let big_now = match &self.container {
            Container::PcapNg(ng) => ng.big_endian,
            _ => return Ok(None),
        };
        match self.fill(12) {
            Err(e) => return Err((rec_off, format!("read error: {e}"))),
            Ok(false) => {
                let avail = self.end - self.start;
                if avail == 0 {
                    return Ok(None);
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
        self.fill_record(rec_off, len_us, "pcapng block")?;
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
        Ok(Some(BlockFrame {
            ty,
            big,
            len: len_us,
        }))
    }
}

impl NgState {
    /// A section header block: a new section with its own byte order and no interfaces yet.
    fn section_header(
        &mut self,
        block: &[u8],
        body: &[u8],
        big: bool,
        rec_off: u64,
        format: &mut CaptureFormat,
    ) -> Result<(), Fault> {
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
        if self.parser.next_raw_block(block).is_err() {
            match PcapNgParser::new(&synthetic_shb(big)) {
                Ok((_, p)) => self.parser = p,
                Err(e) => return Err((rec_off, format!("internal: {e}"))),
            }
        }
        self.big_endian = big;
        self.interfaces.clear();
        if big {
            self.saw_big = true;
        } else {
            self.saw_little = true;
        }
        if self.saw_big && self.saw_little {
            format.details = "little-endian and big-endian sections".to_string();
        }
        Ok(())
    }

    /// An interface description block: the interface's link type, snap length and clock (`if_tsresol`,
    /// `if_tsoffset`), added to the section's interfaces and to the capture's link types.
    fn interface_description(
        &mut self,
        block: &[u8],
        body: &[u8],
        big: bool,
        rec_off: u64,
        link_types: &mut Vec<LinkType>,
    ) -> Result<(), Fault> {
        // pcap-file validates the block; its option parsing is stricter than real files
        // (e.g. a missing end-of-options marker), so the fields are read here.
        let _ = self.parser.next_raw_block(block);
        let (Some(link), Some(snaplen)) = (rd_u16(body, 0, big), rd_u32(body, 4, big)) else {
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
        while let (Some(code), Some(olen)) = (rd_u16(body, at, big), rd_u16(body, at + 2, big)) {
            if code == 0 {
                break;
            }
            let olen = usize::from(olen);
            let Some(val) = body.get(at + 4..at + 4 + olen) else {
                break;
            };
            match (code, val.len()) {
                (9, 1) => iface.scale = TsScale::from_tsresol(val.first().copied().unwrap_or(6)),
                (14, 8) => {
                    iface.offset_secs = rd_u64(val, 0, big).unwrap_or(0) as i64;
                }
                _ => {}
            }
            at += 4 + olen.div_ceil(4) * 4;
        }
        self.interfaces.push(iface);
        if !link_types.contains(&iface.link_type) {
            link_types.push(iface.link_type);
        }
        Ok(())
    }

    /// An enhanced packet block or an obsolete packet block (`ty`): a frame on one of the section's
    /// interfaces, with its timestamp in that interface's units. The block's body is at buffer index
    /// `body_start`; the frame's data starts 20 bytes into it.
    fn packet(
        &mut self,
        ty: u32,
        body: &[u8],
        big: bool,
        rec_off: u64,
        body_start: usize,
    ) -> Result<FrameMeta, Fault> {
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
        let Some(iface) = self.interfaces.get(iface_id as usize) else {
            return Err((
                rec_off,
                format!(
                    "{name} refers to interface {iface_id}, but the section describes only {} interface(s)",
                    self.interfaces.len()
                ),
            ));
        };
        let units = (u64::from(hi) << 32) | u64::from(lo);
        let mut ts = iface.scale.to_ns(units);
        if iface.offset_secs != 0 {
            let t = i128::from(ts) + i128::from(iface.offset_secs) * 1_000_000_000;
            ts = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
        }
        self.last_ts = ts;
        Ok(FrameMeta {
            ts,
            link_type: iface.link_type,
            data_start: body_start + 20,
            data_len: caplen as usize,
            orig_len: orig.max(caplen),
            interface: iface_id,
            record_offset: rec_off,
        })
    }

    /// A simple packet block: a frame on the section's first interface, without a timestamp of its own
    /// (it gets the last packet's). The block's body is at buffer index `body_start`; the frame's data
    /// starts 4 bytes into it.
    fn simple_packet(
        &self,
        body: &[u8],
        big: bool,
        rec_off: u64,
        body_start: usize,
    ) -> Result<FrameMeta, Fault> {
        let Some(orig) = rd_u32(body, 0, big) else {
            return Err((
                rec_off,
                "simple packet block is too short (no length field)".to_string(),
            ));
        };
        let Some(iface) = self.interfaces.first() else {
            return Err((
                rec_off,
                "simple packet block, but the section describes no interface".to_string(),
            ));
        };
        let mut caplen = (orig as usize).min(body.len() - 4);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Ok(FrameMeta {
            ts: self.last_ts,
            link_type: iface.link_type,
            data_start: body_start + 4,
            data_len: caplen,
            orig_len: orig.max(caplen as u32),
            interface: 0,
            record_offset: rec_off,
        })
    }
}
