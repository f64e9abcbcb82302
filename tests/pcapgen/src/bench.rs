//! The benchmark capture: copies of real Ethernet captures, concatenated in
//! time, with IP addresses rewritten so that every copy is a distinct set of
//! flows.
//!
//! Address rewriting for copy `k` (16 bits, copy 0 is unchanged):
//! * IPv4: `k` is XORed into the 2nd and 3rd octets (bits 8–23), keeping the
//!   first octet (class, private 10/8, loopback) and the last octet (so
//!   `.255` subnet broadcasts and `.0` stay what they are). Multicast,
//!   255.255.255.255, 0.0.0.0/8 and 127/8 are kept.
//! * IPv6: `k` is XORed into bytes 12–13 of the address; multicast, `::`
//!   and `::1` are kept.
//! * ARP sender/target IPv4 addresses are rewritten the same way.
//!
//! The IPv4 header checksum and the TCP/UDP/ICMPv6 checksums (pseudo-header)
//! are adjusted incrementally (RFC 1624), so rewritten packets stay valid.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::TsResolution;
use pcap_file::pcap::PcapParser;

/// Largest frame accepted from an input file.
const MAX_FRAME: u32 = 262_144;

/// One packet of an input capture.
#[derive(Clone, Debug)]
pub struct InputPacket {
    /// Timestamp in microseconds since the Unix epoch.
    pub ts_us: u64,
    /// Original length on the wire.
    pub orig_len: u32,
    /// Captured bytes (Ethernet frame).
    pub data: Vec<u8>,
}

/// A readable Ethernet capture, held in memory.
#[derive(Clone, Debug)]
pub struct Input {
    /// File name.
    pub name: String,
    /// Its packets in file order.
    pub packets: Vec<InputPacket>,
}

/// Parses a classic pcap file held in memory; `Err` when it is not a pcap,
/// not Ethernet, truncated or corrupt, or has no packets.
pub fn parse_input(name: &str, bytes: &[u8]) -> Result<Input, String> {
    let (mut rest, parser) = PcapParser::new(bytes).map_err(|e| format!("not a pcap: {e}"))?;
    let header = parser.header();
    if header.datalink != DataLink::ETHERNET {
        return Err(format!("link type {:?}, not Ethernet", header.datalink));
    }
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let (r, raw) = parser
            .next_raw_packet(rest)
            .map_err(|e| format!("corrupt after {} packets: {e}", packets.len()))?;
        rest = r;
        let frac_limit = if nanos { 1_000_000_000 } else { 1_000_000 };
        if raw.incl_len > MAX_FRAME || raw.ts_frac >= frac_limit || raw.incl_len < 14 {
            return Err(format!("corrupt record after {} packets", packets.len()));
        }
        let frac_us = if nanos {
            raw.ts_frac / 1000
        } else {
            raw.ts_frac
        };
        packets.push(InputPacket {
            ts_us: u64::from(raw.ts_sec) * 1_000_000 + u64::from(frac_us),
            orig_len: raw.orig_len.max(raw.incl_len),
            data: raw.data.into_owned(),
        });
    }
    if packets.is_empty() {
        return Err("no packets".into());
    }
    Ok(Input {
        name: name.to_string(),
        packets,
    })
}

/// A file [`load_inputs`] did not use.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// File name.
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Loads every `*.pcap` in `dir` (sorted by name). Returns the usable inputs
/// and the skipped files with the reason.
pub fn load_inputs(dir: &Path) -> io::Result<(Vec<Input>, Vec<Skipped>)> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let parsed = fs::read(dir.join(&name))
            .map_err(|e| e.to_string())
            .and_then(|bytes| parse_input(&name, &bytes));
        match parsed {
            Ok(input) => inputs.push(input),
            Err(reason) => skipped.push(Skipped { name, reason }),
        }
    }
    Ok((inputs, skipped))
}

/// Totals of one [`generate`] run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchStats {
    /// Packets written.
    pub packets: u64,
    /// Bytes written, including the 24-byte file header.
    pub bytes: u64,
    /// Copies of the input set started (the last one may be partial).
    pub copies: u64,
}

/// Writes a pcap (little-endian, microsecond, Ethernet) to `out`: copy 0,
/// 1, 2… of all `inputs`, each file shifted in time to follow the previous
/// one (1 ms apart, timestamps never decrease), addresses rewritten per copy,
/// until at least `target_bytes` are written. Starts at `start_us`.
pub fn generate<W: Write>(
    mut out: W,
    inputs: &[Input],
    target_bytes: u64,
    start_us: u64,
) -> io::Result<BenchStats> {
    if inputs.iter().all(|i| i.packets.is_empty()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no usable input packets",
        ));
    }
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&MAX_FRAME.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&header)?;
    let mut stats = BenchStats {
        bytes: 24,
        ..Default::default()
    };
    let mut buf = Vec::with_capacity(MAX_FRAME as usize);
    let mut base = start_us;
    let mut last = start_us;
    loop {
        let copy = stats.copies as u32;
        stats.copies += 1;
        for input in inputs {
            let first = input.packets[0].ts_us;
            for p in &input.packets {
                let ts = (base + p.ts_us.saturating_sub(first)).max(last);
                last = ts;
                buf.clear();
                buf.extend_from_slice(&p.data);
                rewrite_frame(&mut buf, copy);
                let mut rec = [0u8; 16];
                rec[0..4].copy_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
                rec[4..8].copy_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
                rec[8..12].copy_from_slice(&(buf.len() as u32).to_le_bytes());
                rec[12..16].copy_from_slice(&p.orig_len.to_le_bytes());
                out.write_all(&rec)?;
                out.write_all(&buf)?;
                stats.packets += 1;
                stats.bytes += 16 + buf.len() as u64;
                if stats.bytes >= target_bytes {
                    out.flush()?;
                    return Ok(stats);
                }
            }
            base = last + 1000;
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// One's complement sum of 16-bit words, folded.
fn ones_sum(bytes: &[u8]) -> u16 {
    let mut s: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn adjust_checksum(hc: u16, old_sum: u16, new_sum: u16) -> u16 {
    let mut s = u32::from(!hc) + u32::from(!old_sum) + u32::from(new_sum);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Fixes the transport checksum at `at` (if captured) after the addresses' sum changed.
fn fix_l4(buf: &mut [u8], at: usize, old: u16, new: u16, zero_means_none: bool) {
    if at + 2 > buf.len() {
        return;
    }
    let hc = be16(buf, at);
    if zero_means_none && hc == 0 {
        return;
    }
    let mut c = adjust_checksum(hc, old, new);
    if zero_means_none && c == 0 {
        c = 0xffff;
    }
    buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn rewrite_v4(addr: &mut [u8], k: u16) {
    let a = addr[0];
    if a >= 224 || a == 0 || a == 127 {
        return;
    }
    addr[1] ^= (k >> 8) as u8;
    addr[2] ^= k as u8;
}

fn rewrite_v6(addr: &mut [u8], k: u16) {
    let unspecified_or_loopback = addr[..15].iter().all(|&b| b == 0) && addr[15] <= 1;
    if addr[0] == 0xff || unspecified_or_loopback {
        return;
    }
    addr[12] ^= (k >> 8) as u8;
    addr[13] ^= k as u8;
}

/// Rewrites the IPv4/IPv6/ARP addresses of one Ethernet frame for copy
/// number `copy` (see the module docs); copy 0 leaves the frame unchanged.
pub fn rewrite_frame(buf: &mut [u8], copy: u32) {
    let k = copy as u16;
    if k == 0 || buf.len() < 14 {
        return;
    }
    let mut ethertype = be16(buf, 12);
    let mut off = 14;
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) && buf.len() >= off + 4 {
        ethertype = be16(buf, off + 2);
        off += 4;
    }
    match ethertype {
        0x0800 => rewrite_ipv4_packet(buf, off, k),
        0x86dd => rewrite_ipv6_packet(buf, off, k),
        0x0806 if buf.len() >= off + 28 && be16(buf, off + 2) == 0x0800 && buf[off + 4] == 6 => {
            rewrite_v4(&mut buf[off + 14..off + 18], k);
            rewrite_v4(&mut buf[off + 24..off + 28], k);
        }
        _ => {}
    }
}

fn rewrite_ipv4_packet(buf: &mut [u8], off: usize, k: u16) {
    if buf.len() < off + 20 || buf[off] >> 4 != 4 {
        return;
    }
    let ihl = usize::from(buf[off] & 0x0f) * 4;
    if ihl < 20 || buf.len() < off + ihl {
        return;
    }
    let old = ones_sum(&buf[off + 12..off + 20]);
    rewrite_v4(&mut buf[off + 12..off + 16], k);
    rewrite_v4(&mut buf[off + 16..off + 20], k);
    let new = ones_sum(&buf[off + 12..off + 20]);
    if old == new {
        return;
    }
    let hc = be16(buf, off + 10);
    let c = adjust_checksum(hc, old, new);
    buf[off + 10..off + 12].copy_from_slice(&c.to_be_bytes());
    let frag_offset = be16(buf, off + 6) & 0x1fff;
    if frag_offset != 0 {
        return; // no transport header in later fragments
    }
    let l4 = off + ihl;
    match buf[off + 9] {
        6 => fix_l4(buf, l4 + 16, old, new, false),
        17 => fix_l4(buf, l4 + 6, old, new, true),
        _ => {}
    }
}

fn rewrite_ipv6_packet(buf: &mut [u8], off: usize, k: u16) {
    if buf.len() < off + 40 || buf[off] >> 4 != 6 {
        return;
    }
    let old = ones_sum(&buf[off + 8..off + 40]);
    rewrite_v6(&mut buf[off + 8..off + 24], k);
    rewrite_v6(&mut buf[off + 24..off + 40], k);
    let new = ones_sum(&buf[off + 8..off + 40]);
    if old == new {
        return;
    }
    // Skip extension headers; later fragments carry no transport header.
    let mut next = buf[off + 6];
    let mut l4 = off + 40;
    loop {
        match next {
            0 | 43 | 60 if buf.len() >= l4 + 2 => {
                next = buf[l4];
                l4 += (usize::from(buf[l4 + 1]) + 1) * 8;
            }
            44 if buf.len() >= l4 + 8 => {
                if be16(buf, l4 + 2) >> 3 != 0 {
                    return;
                }
                next = buf[l4];
                l4 += 8;
            }
            _ => break,
        }
    }
    match next {
        6 => fix_l4(buf, l4 + 16, old, new, false),
        17 => fix_l4(buf, l4 + 6, old, new, false),
        58 => fix_l4(buf, l4 + 2, old, new, false),
        _ => {}
    }
}

/// Counts the records of a classic pcap file without loading it (streams
/// record headers, skips bodies). Any byte order and timestamp resolution.
pub fn count_packets(path: &Path) -> io::Result<u64> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut header = [0u8; 24];
    r.read_exact(&mut header)?;
    let big_endian = match u32::from_le_bytes([header[0], header[1], header[2], header[3]]) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a classic pcap file",
            ));
        }
    };
    let mut n = 0u64;
    let mut rec = [0u8; 16];
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(n),
            Err(e) => return Err(e),
        }
        let b = [rec[8], rec[9], rec[10], rec[11]];
        let incl = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        r.seek_relative(i64::from(incl))?;
        n += 1;
    }
}
