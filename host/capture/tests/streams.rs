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
    let mut take = |table: &mut FlowTable| {
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
        while table.has_ready() {
            for flow in table.take_batch() {
                finished.insert(flow.id);
            }
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
