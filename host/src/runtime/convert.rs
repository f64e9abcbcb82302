//! The host's own flow and host records → the WIT types plugins receive.

use crate::bindings::wit;
pub use crate::bindings::{ip_from_wit, ip_to_wit};
use crate::clock::Anomaly;
use crate::decode::{TunnelKind, TunnelLayer};
use crate::fates::Fates;
use crate::flow::{self, FinishedFlow, HostEntry};
use std::net::IpAddr;

fn endpoint_to_wit((ip, port): (IpAddr, u16)) -> wit::Endpoint {
    wit::Endpoint {
        ip: ip_to_wit(ip),
        port,
        mac: None,
    }
}

/// A stream chunk as the plugins receive it (the bytes are cloned: several stages may want them).
pub fn chunk_to_wit(c: &flow::StreamChunk) -> wit::StreamChunk {
    let data = match &c.data {
        flow::ChunkData::Start(s) => wit::StreamData::Start(wit::StreamStart {
            client: endpoint_to_wit(s.client),
            server: endpoint_to_wit(s.server),
            ip_protocol: s.ip_protocol,
        }),
        flow::ChunkData::Data(d) => wit::StreamData::Data(d.clone()),
        flow::ChunkData::Gap(n) => wit::StreamData::Gap(*n),
        flow::ChunkData::End(e) => wit::StreamData::End(wit::StreamEnd {
            conflicts: e.conflicts,
            cut: e.cut,
        }),
    };
    wit::StreamChunk {
        flow: c.flow,
        to_server: c.to_server,
        offset: c.offset,
        time: c.time,
        data,
    }
}

fn direction(d: FinishedDirection) -> wit::Direction {
    wit::Direction {
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

type FinishedDirection = flow::Direction;

fn tunnel_layer(t: TunnelLayer) -> wit::TunnelLayer {
    wit::TunnelLayer {
        kind: match t.kind {
            TunnelKind::Pppoe => wit::TunnelKind::Pppoe,
            TunnelKind::Mpls => wit::TunnelKind::Mpls,
            TunnelKind::Gre => wit::TunnelKind::Gre,
            TunnelKind::Erspan => wit::TunnelKind::Erspan,
            TunnelKind::Vxlan => wit::TunnelKind::Vxlan,
            TunnelKind::Geneve => wit::TunnelKind::Geneve,
            TunnelKind::IpInIp => wit::TunnelKind::IpInIp,
            TunnelKind::GtpU => wit::TunnelKind::GtpU,
        },
        outer_client: t.outer.map(|(c, _)| ip_to_wit(c)),
        outer_server: t.outer.map(|(_, s)| ip_to_wit(s)),
        id: t.id,
    }
}

pub fn flow_to_wit(f: FinishedFlow) -> wit::Flow {
    let protocol = match f.ip_protocol {
        6 => wit::Protocol::Tcp,
        17 => wit::Protocol::Udp,
        1 => wit::Protocol::Icmp,
        58 => wit::Protocol::Icmpv6,
        _ => wit::Protocol::Other,
    };
    wit::Flow {
        id: f.id,
        client: wit::Endpoint {
            ip: ip_to_wit(f.client.0),
            port: f.client.1,
            mac: f.to_server.mac,
        },
        server: wit::Endpoint {
            ip: ip_to_wit(f.server.0),
            port: f.server.1,
            mac: f.to_client.mac,
        },
        protocol,
        ip_protocol: f.ip_protocol,
        vlan: f.vlan,
        tunnel: f.tunnel.into_iter().map(tunnel_layer).collect(),
        orientation: match f.orientation {
            flow::Orientation::Syn => wit::Orientation::Syn,
            flow::Orientation::FirstPacket => wit::Orientation::FirstPacket,
            flow::Orientation::PortHeuristic => wit::Orientation::PortHeuristic,
        },
        end_reason: match f.end_reason {
            flow::EndReason::Fin => wit::EndReason::Fin,
            flow::EndReason::Rst => wit::EndReason::Rst,
            flow::EndReason::Idle => wit::EndReason::Idle,
            flow::EndReason::CaptureEnd => wit::EndReason::CaptureEnd,
            flow::EndReason::Evicted => wit::EndReason::Evicted,
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

pub fn host_to_wit(ip: IpAddr, h: HostEntry) -> wit::HostInfo {
    wit::HostInfo {
        ip: ip_to_wit(ip),
        macs: h.macs,
        first_seen: h.first_seen,
        last_seen: h.last_seen,
        packets_sent: h.packets_sent,
        packets_received: h.packets_received,
        bytes_sent: h.bytes_sent,
        bytes_received: h.bytes_received,
        seen_in_arp: h.seen_in_arp,
        notes: h
            .notes
            .iter()
            .map(|n| wit::HostNote {
                stage: n.stage.clone(),
                key: n.key.clone(),
                value: n.value.clone(),
                observed: n.observed,
            })
            .collect(),
    }
}

/// The packet-fate table, in table order.
pub fn fates_to_wit(fates: &Fates) -> Vec<wit::PacketFate> {
    fates
        .iter()
        .map(|(fate, packets)| wit::PacketFate {
            key: fate.key(),
            label: fate.label(),
            packets,
        })
        .collect()
}

pub fn anomaly_to_wit(a: &Anomaly) -> wit::TimestampAnomaly {
    wit::TimestampAnomaly {
        kind: a.kind.key().to_string(),
        packets: a.packets,
        first_packet_number: a.first_packet,
        first_timestamp: a.first_ts,
        largest_step: a.largest_step,
        message: a.describe(),
    }
}

fn conn_state(s: crate::flow::ConnState) -> wit::ConnState {
    use crate::flow::ConnState as C;
    match s {
        C::S0 => wit::ConnState::S0,
        C::S1 => wit::ConnState::S1,
        C::Sf => wit::ConnState::Sf,
        C::Rej => wit::ConnState::Rej,
        C::S2 => wit::ConnState::S2,
        C::S3 => wit::ConnState::S3,
        C::Rsto => wit::ConnState::Rsto,
        C::Rstr => wit::ConnState::Rstr,
        C::Rstos0 => wit::ConnState::Rstos0,
        C::Rstrh => wit::ConnState::Rstrh,
        C::Sh => wit::ConnState::Sh,
        C::Shr => wit::ConnState::Shr,
        C::Oth => wit::ConnState::Oth,
    }
}
