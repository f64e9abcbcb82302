//! Reassembly through the decoder and the flow table, on pcapgen captures whose TCP conversations are
//! reordered, retransmitted, overlapped with conflicting bytes, missing a segment and wrapping their
//! sequence numbers (#11): every direction comes out byte for byte as pcapgen wrote it, with its gap,
//! and every chunk of a flow leaves the table before the flow does.

use pcapxray_capture::decode::{CaptureReader, Decoded, Decoder};
use pcapxray_capture::flow::{ChunkData, FlowSettings, FlowTable, StreamFilter, StreamStats};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One direction as the table delivered it.
#[derive(Debug, Default)]
struct Got {
    data: Vec<u8>,
    missing: u64,
    conflicts: u32,
    next: u64,
    ended: bool,
}

/// Runs `capture` through a table with `filters`; returns each direction by (server port, to-server)
/// and the table's stream totals. Checks that chunks follow on and precede their flow.
fn run(
    capture: &pcapgen::Capture,
    filters: Vec<StreamFilter>,
) -> (BTreeMap<(u16, bool), Got>, StreamStats) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    capture.write_file(&path).unwrap();
    let mut reader = CaptureReader::open(&path).unwrap();
    let mut decoder = Decoder::default();
    let settings = FlowSettings {
        stream_filters: filters,
        batch_size: 1,
        ..FlowSettings::default()
    };
    let mut table = FlowTable::new(settings);
    let mut dirs: HashMap<(u64, bool), Got> = HashMap::new();
    let mut ports: HashMap<u64, u16> = HashMap::new();
    let mut finished = HashSet::new();
    // As the run does: a batch is taken, then the chunks made so far (those of the batch's flows
    // included), and the chunks go to the stages before the batch's flows.
    let mut take = |table: &mut FlowTable| loop {
        let batch = if table.has_ready() {
            table.take_batch()
        } else {
            Vec::new()
        };
        for c in table.take_chunks() {
            assert!(!finished.contains(&c.flow), "a chunk after its flow: {c:?}");
            let got = dirs.entry((c.flow, c.to_server)).or_default();
            assert!(!got.ended, "a chunk after the end marker: {c:?}");
            match c.data {
                ChunkData::Start(s) => {
                    ports.insert(c.flow, s.server.1);
                }
                ChunkData::Data(d) => {
                    assert_eq!(c.offset, got.next, "chunks follow on");
                    got.next += d.len() as u64;
                    got.data.extend(d);
                }
                ChunkData::Gap(n) => {
                    assert_eq!(c.offset, got.next, "chunks follow on");
                    got.next += n;
                    got.missing += n;
                }
                ChunkData::End(e) => {
                    assert_eq!(c.offset, got.next, "the end marker gives the length");
                    got.conflicts = e.conflicts;
                    got.ended = true;
                }
            }
        }
        for flow in batch {
            finished.insert(flow.id);
        }
        if !table.has_ready() {
            break;
        }
    };
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        if let Ok(Decoded::Ip(pkt)) = decoder.decode(&frame) {
            table.add(frame.ts, &pkt);
        }
        take(&mut table);
    }
    table.end_capture();
    take(&mut table);
    let stats = table.stream_stats();
    let by_port = dirs
        .into_iter()
        .map(|((flow, to_server), got)| {
            assert!(got.ended, "flow {flow} never ended");
            ((ports[&flow], to_server), got)
        })
        .collect();
    (by_port, stats)
}

#[test]
fn every_direction_comes_out_as_it_was_sent_with_gaps_and_conflicts() {
    let (capture, want) = pcapgen::transfer::anomalies().unwrap();
    let (got, stats) = run(&capture, vec![StreamFilter::all()]);
    assert_eq!(got.len(), want.len());
    for (key, w) in &want {
        let g = &got[key];
        assert!(g.data == w.data, "{key:?}: the bytes differ");
        assert_eq!(
            (g.missing, g.conflicts),
            (w.missing, w.conflicts),
            "{key:?}"
        );
    }
    assert_eq!(stats.flows, 4);
    assert_eq!((stats.conflicts, stats.conflict_flows), (1, 1));
    assert_eq!(stats.cut_streams, 0);
}

#[test]
fn flows_nobody_asked_for_are_not_reassembled() {
    let (capture, _) = pcapgen::transfer::anomalies().unwrap();
    let (got, stats) = run(&capture, Vec::new());
    assert!(got.is_empty());
    assert_eq!(stats, StreamStats::default());
    // A filter on port 21 and TCP: only that flow.
    let ftp = StreamFilter {
        ports: vec![21],
        tcp: true,
        udp: false,
    };
    let (got, stats) = run(&capture, vec![ftp]);
    let keys: Vec<_> = got.keys().copied().collect();
    assert_eq!(keys, vec![(21, false), (21, true)]);
    assert_eq!(stats.flows, 1);
}

#[test]
fn data_on_a_syn_and_streams_picked_up_mid_way_are_delivered_from_their_first_byte() {
    use pcapgen::{Capture, Endpoint, TcpSegment};
    use std::net::Ipv4Addr;
    let mut cap = Capture::new(1_700_000_000);
    let c = Endpoint::new([2, 0, 0, 0, 0, 2], Ipv4Addr::new(10, 0, 0, 2), 40000);
    let s = Endpoint::new([2, 0, 0, 0, 0, 3], Ipv4Addr::new(10, 0, 0, 3), 80);
    let segment = |seq, ack: Option<u32>, syn, payload| TcpSegment {
        seq,
        ack,
        syn,
        payload,
        window: 1000,
        ..TcpSegment::default()
    };
    // TCP Fast Open: "GET /" rides on the SYN (sequence 100; data from 101).
    cap.push_tcp(c, s, &segment(100, None, true, b"GET /"))
        .unwrap();
    cap.push_tcp(s, c, &segment(500, Some(106), true, b""))
        .unwrap();
    cap.push_tcp(c, s, &segment(106, Some(501), false, b" HTTP"))
        .unwrap();
    // Another connection seen from its middle: no SYN, the server's data first.
    let s2 = s.with_port(443);
    cap.push_tcp(s2, c, &segment(7000, Some(3), false, b"middle"))
        .unwrap();
    cap.push_tcp(s2, c, &segment(7006, Some(3), false, b" end"))
        .unwrap();
    let (got, _) = run(&cap, vec![StreamFilter::all()]);
    assert_eq!(got[&(80, true)].data, b"GET / HTTP");
    assert_eq!(got[&(443, false)].data, b"middle end");
    assert_eq!(got[&(443, false)].missing, 0);
}
