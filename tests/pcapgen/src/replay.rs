//! Real captures replayed into the flow model by the host's own reader, decoder and flow table
//! (`pcapxray-capture`, default flow settings), so plugins' native unit tests see from a real capture
//! what a run would hand them. The one thing added here is [`flow_to_sdk`], the capture crate's
//! finished flow as the SDK's `Flow` (the host's own converter targets wasmtime's bindings, which the
//! test tools do not build).

use pcapxray_capture::decode::{CaptureReader, Decoded, Decoder, TunnelKind as CaptureTunnelKind};
use pcapxray_capture::flow::{self as capture, FinishedFlow, FlowSettings, FlowTable};
use pcapxray_plugin_sdk::{
    ConnState, Direction, EndReason, Endpoint, Flow, Orientation, Protocol, TunnelKind, TunnelLayer,
};
use std::net::IpAddr;
use std::path::Path;

/// The host's default `payload_bytes`.
pub const PAYLOAD_BYTES: usize = 4096;

/// A direction that carried nothing.
pub fn empty_direction() -> Direction {
    Direction {
        packets: 0,
        bytes: 0,
        payload_bytes: 0,
        first_seen: 0,
        last_seen: 0,
        tcp_flags: 0,
        ttl: 0,
        payload: Vec::new(),
        datagrams: Vec::new(),
        payload_truncated: false,
    }
}

/// Every flow of a capture as a run with the default flow settings builds it, in the order the flows
/// began, and the senders of its ARP packets (address and MAC, in capture order). Like a run, it keeps
/// what was read before damage that stops reading. Panics, naming the file, when it cannot be opened.
pub fn flows(file: &Path) -> (Vec<Flow>, Vec<(IpAddr, u64)>) {
    let mut reader =
        CaptureReader::open(file).unwrap_or_else(|e| panic!("cannot open {}: {e}", file.display()));
    let settings = FlowSettings::default();
    assert_eq!(settings.payload_bytes, PAYLOAD_BYTES, "the host's default");
    let mut decoder = Decoder::default();
    let mut table = FlowTable::new(settings);
    let mut finished = Vec::new();
    let mut arp = Vec::new();
    while let Some(Ok(frame)) = reader.next_frame() {
        match decoder.decode(&frame) {
            Ok(Decoded::Ip(pkt)) => table.add(frame.ts, &pkt),
            Ok(Decoded::Arp(a)) => {
                arp.push((IpAddr::from(a.sender_ip), capture::mac_u64(a.sender_mac)))
            }
            _ => {}
        }
        if table.batch_ready() {
            finished.extend(table.take_batch());
        }
    }
    table.end_capture();
    while table.has_ready() {
        finished.extend(table.take_batch());
    }
    finished.sort_by_key(|f| f.id);
    (finished.into_iter().map(flow_to_sdk).collect(), arp)
}

/// The capture crate's finished flow as the SDK's `Flow` (what the host's `flow_to_wit` hands a plugin).
pub fn flow_to_sdk(f: FinishedFlow) -> Flow {
    let protocol = match f.ip_protocol {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        1 => Protocol::Icmp,
        58 => Protocol::Icmpv6,
        _ => Protocol::Other,
    };
    Flow {
        id: f.id,
        client: Endpoint {
            ip: f.client.0.into(),
            port: f.client.1,
            mac: f.to_server.mac,
        },
        server: Endpoint {
            ip: f.server.0.into(),
            port: f.server.1,
            mac: f.to_client.mac,
        },
        protocol,
        ip_protocol: f.ip_protocol,
        vlan: f.vlan,
        tunnel: f
            .tunnel
            .into_iter()
            .map(|t| TunnelLayer {
                kind: match t.kind {
                    CaptureTunnelKind::Pppoe => TunnelKind::Pppoe,
                    CaptureTunnelKind::Mpls => TunnelKind::Mpls,
                    CaptureTunnelKind::Gre => TunnelKind::Gre,
                    CaptureTunnelKind::Erspan => TunnelKind::Erspan,
                    CaptureTunnelKind::Vxlan => TunnelKind::Vxlan,
                    CaptureTunnelKind::Geneve => TunnelKind::Geneve,
                    CaptureTunnelKind::IpInIp => TunnelKind::IpInIp,
                    CaptureTunnelKind::GtpU => TunnelKind::GtpU,
                },
                outer_client: t.outer.map(|(c, _)| c.into()),
                outer_server: t.outer.map(|(_, s)| s.into()),
                id: t.id,
            })
            .collect(),
        orientation: match f.orientation {
            capture::Orientation::Syn => Orientation::Syn,
            capture::Orientation::FirstPacket => Orientation::FirstPacket,
            capture::Orientation::PortHeuristic => Orientation::PortHeuristic,
        },
        end_reason: match f.end_reason {
            capture::EndReason::Fin => EndReason::Fin,
            capture::EndReason::Rst => EndReason::Rst,
            capture::EndReason::Idle => EndReason::Idle,
            capture::EndReason::CaptureEnd => EndReason::CaptureEnd,
            capture::EndReason::Evicted => EndReason::Evicted,
        },
        icmp_type: f.icmp_type,
        icmp_code: f.icmp_code,
        fragments: f.fragments,
        conn_state: conn_state(f.conn_state),
        history: f.history,
        to_server: direction(f.to_server),
        to_client: direction(f.to_client),
        findings: Vec::new(),
    }
}

fn direction(d: capture::Direction) -> Direction {
    Direction {
        packets: d.packets,
        bytes: d.bytes,
        payload_bytes: d.payload_bytes,
        first_seen: d.first_seen,
        last_seen: d.last_seen,
        tcp_flags: d.tcp_flags,
        ttl: d.ttl,
        payload: d.payload,
        datagrams: d.datagrams,
        payload_truncated: d.payload_truncated,
    }
}

fn conn_state(s: capture::ConnState) -> ConnState {
    use capture::ConnState as C;
    match s {
        C::S0 => ConnState::S0,
        C::S1 => ConnState::S1,
        C::Sf => ConnState::Sf,
        C::Rej => ConnState::Rej,
        C::S2 => ConnState::S2,
        C::S3 => ConnState::S3,
        C::Rsto => ConnState::Rsto,
        C::Rstr => ConnState::Rstr,
        C::Rstos0 => ConnState::Rstos0,
        C::Rstrh => ConnState::Rstrh,
        C::Sh => ConnState::Sh,
        C::Shr => ConnState::Shr,
        C::Oth => ConnState::Oth,
    }
}
