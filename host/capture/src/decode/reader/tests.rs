//! The reader's tests: the shared real captures against tshark, and hand-made pcap and pcapng files
//! for every kind of damage.

use super::pcapng::{
    ENHANCED_PACKET_BLOCK, INTERFACE_DESCRIPTION_BLOCK, SECTION_HEADER_BLOCK, SIMPLE_PACKET_BLOCK,
    TsScale,
};
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
    let first = secs_to_ns(&exp["nanosecond_linux_sll_tcp_handshake.pcap"]["first_packet_epoch"]);
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
        err.reason.contains("3925868813-byte packet") && err.reason.contains("snap length 262144"),
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
fn idb(big: bool, link: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
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
