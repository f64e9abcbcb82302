//! The decoder targets: the capture reader, the packet decoder and the flow table of
//! `pcapxray-capture`, each with the promises its documentation makes checked as assertions, so the
//! fuzzer finds broken bookkeeping as well as crashes.

use crate::Frames;
use pcapxray_capture::decode::{CaptureReader, Decoded, Decoder, Frame, IpPacket, Transport};
use pcapxray_capture::flow::{
    ChunkData, FinishedFlow, FlowSettings, FlowTable, StreamBudget, StreamFilter,
};
use sha2::{Digest, Sha256};

/// Bytes as a whole capture file, read to the end. Every frame fits in the file, reading always
/// moves forward and stops after an error, and the hash covers the whole file.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::from_bytes(data, "fuzz") else {
        return;
    };
    let size = data.len() as u64;
    let mut frames = 0u64;
    let mut last_position = reader.position();
    let mut failed = false;
    while let Some(next) = reader.next_frame() {
        assert!(!failed, "a frame was returned after a read error");
        match next {
            Ok(frame) => {
                frames += 1;
                assert!(
                    frame.data.len() as u64 <= size,
                    "frame larger than the file"
                );
                assert!(
                    frame.orig_len as usize >= frame.data.len(),
                    "orig_len < captured"
                );
            }
            Err(e) => {
                failed = true;
                assert!(e.offset <= size, "error offset {} past the end", e.offset);
                assert_eq!(e.packets, frames, "error counts the frames before it");
            }
        }
        assert!(reader.position() <= size, "position past the end");
        assert!(failed || reader.position() > last_position, "no progress");
        last_position = reader.position();
    }
    assert_eq!(reader.packets(), frames);
    assert!(
        reader.next_frame().is_none(),
        "the reader must stay finished"
    );
    let expected = pcapxray_capture::hex(&Sha256::digest(data));
    assert_eq!(reader.sha256().expect("in memory"), expected, "hash");
}

/// Frames through one decoder (so fragments are held and reassembled across frames). Reassembly
/// memory stays bounded and every packet's wire length covers its payload.
pub fn packet_decoder(data: &[u8]) {
    let frames = Frames::new(data);
    let link_type = frames.link_type;
    let mut decoder = Decoder::new();
    for (ts, bytes) in frames {
        let frame = frame(ts, link_type, bytes);
        if let Ok(Decoded::Ip(pkt)) = decoder.decode(&frame) {
            check_packet(&pkt);
        }
        // At most 512 reassemblies in progress (packet.rs, MAX_REASSEMBLIES).
        assert!(decoder.pending_fragments() <= 512);
    }
}

/// Frames decoded (with reassembly) into one flow table with small limits, so timeouts, closes,
/// port reuse, evictions, payload limits and batches all happen. Nothing is lost or counted twice: the finished
/// flows carry every packet, byte and fragment that joined them, once.
pub fn flow_table(data: &[u8]) {
    let frames = Frames::new(data);
    let link_type = frames.link_type;
    let settings = FlowSettings {
        payload_bytes: 64,
        tcp_idle_timeout: 30,
        udp_idle_timeout: 10,
        other_idle_timeout: 5,
        batch_size: 3,
        stream_filters: vec![StreamFilter::all()],
        stream_budget: StreamBudget {
            total: StreamBudget::MIN,
        },
        // Small, so eviction happens too.
        max_active_flows: 4,
    };
    let limit = settings.payload_bytes;
    let mut table = FlowTable::new(settings);
    let mut decoder = Decoder::new();
    let mut sent = Totals::default();
    let mut finished = Vec::new();
    let mut next = std::collections::HashMap::new();
    for (ts, bytes) in frames {
        let frame = frame(ts, link_type, bytes);
        if let Ok(Decoded::Ip(pkt)) = decoder.decode(&frame) {
            sent.packets += 1;
            sent.bytes += pkt.wire_len;
            sent.fragments += u64::from(pkt.fragments);
            table.add(ts, &pkt);
        }
        while table.batch_ready() {
            finished.extend(table.take_batch());
        }
        check_chunks(&mut table, &mut next);
    }
    table.end_capture();
    // Flows open at the end are finished a batch at a time, their last chunks with them.
    while table.has_ready() {
        finished.extend(table.take_batch());
        check_chunks(&mut table, &mut next);
    }
    check_chunks(&mut table, &mut next);
    assert_eq!(table.active(), 0, "flows left after the end of the capture");
    check_flows(&finished, &sent, table.flows_total(), limit);
}

/// Stream chunks follow on within each direction: every data or gap chunk starts where the one
/// before it ended, and the end marker gives the direction's length.
fn check_chunks(table: &mut FlowTable, next: &mut std::collections::HashMap<(u64, bool), u64>) {
    for c in table.take_chunks() {
        let at = next.entry((c.flow, c.to_server)).or_insert(c.offset);
        assert_eq!(*at, c.offset, "stream chunks follow on");
        match c.data {
            ChunkData::Data(d) => *at += d.len() as u64,
            ChunkData::Gap(n) => *at += n,
            ChunkData::Start(_) | ChunkData::End(_) => {}
        }
    }
}

fn frame(ts: u64, link_type: pcapxray_capture::decode::LinkType, data: &[u8]) -> Frame<'_> {
    Frame {
        ts,
        link_type,
        data,
        orig_len: data.len() as u32,
        interface: 0,
    }
}

fn check_packet(pkt: &IpPacket<'_>) {
    let payload = match &pkt.transport {
        Transport::Tcp { payload, .. }
        | Transport::Udp { payload, .. }
        | Transport::Icmp { payload, .. }
        | Transport::Other { payload } => payload.len() as u64,
    };
    assert!(
        pkt.wire_len >= payload,
        "wire length {} < payload {payload}",
        pkt.wire_len
    );
}

/// What went into the flow table, or came out of it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    packets: u64,
    bytes: u64,
    fragments: u64,
}

fn check_flows(finished: &[FinishedFlow], sent: &Totals, flows_total: u64, limit: usize) {
    let mut got = Totals::default();
    let mut ids: Vec<u64> = finished.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), finished.len(), "a flow was handed on twice");
    assert_eq!(
        finished.len() as u64,
        flows_total,
        "flows created vs finished"
    );
    for flow in finished {
        got.fragments += u64::from(flow.fragments);
        for dir in [&flow.to_server, &flow.to_client] {
            got.packets += dir.packets;
            got.bytes += dir.bytes;
            assert!(dir.payload.len() <= limit, "payload prefix over the limit");
            assert!(dir.payload.len() as u64 <= dir.payload_bytes);
            if dir.packets > 0 {
                assert!(
                    dir.first_seen <= dir.last_seen,
                    "first seen after last seen"
                );
            }
            if flow.ip_protocol != 6 {
                let kept: u64 = dir.datagrams.iter().map(|n| u64::from(*n)).sum();
                assert_eq!(kept, dir.payload.len() as u64, "datagram lengths");
            }
        }
        assert!(
            flow.to_server.packets + flow.to_client.packets > 0,
            "empty flow"
        );
    }
    assert_eq!(&got, sent, "packets, bytes and fragments in and out");
}
