//! Classic pcap, and modified ("Kuznetsov") pcap: the file header and one record at a time.

use super::{CaptureFormat, CaptureReader, Container, Fault, FrameMeta, endian_name, rd_u32};
use crate::decode::LinkType;
use pcap_file::PcapError;
use pcap_file::pcap::PcapParser;

/// libpcap / Wireshark's maximum packet size for ordinary link types.
const STANDARD_MAX_PACKET: u32 = 262_144;
/// Upper bound for a classic pcap record even when the header's snap length is larger (memory bound).
const HARD_MAX_RECORD: u32 = 64 << 20;

/// Modified pcap's magic as written by a big-endian and by a little-endian writer.
pub(super) const MODIFIED_MAGIC_BE: [u8; 4] = [0xa1, 0xb2, 0xcd, 0x34];
pub(super) const MODIFIED_MAGIC_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];

/// A classic pcap file: what its header said.
pub(super) struct PcapState {
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

impl CaptureReader {
    /// Reads the 24-byte file header (at `start`); the reason when it is not one this reader knows.
    pub(super) fn open_pcap(&mut self) -> Result<(), String> {
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

    /// Reads one packet record: `None` at the clean end of the file. On error nothing is consumed.
    pub(super) fn next_pcap(&mut self) -> Result<Option<FrameMeta>, Fault> {
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
        self.fill_record(rec_off, total, "packet record")?;
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
}
