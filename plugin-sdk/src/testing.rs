//! Hand-made model values for plugins' native unit tests (feature `testing`): a plugin's decisions are
//! made from plain data, so each rule can be tested without a host or a capture.

use crate::{
    Attribute, CaptureInfo, Direction, EndReason, Endpoint, Finding, FindingRecord, Flow, HostInfo,
    HostNote, IpAddress, Orientation, PacketFate, Protocol, Report, Severity, Subject,
};
use std::net::IpAddr;

/// An address from text (panics on a typo: for tests only).
pub fn ip(text: &str) -> IpAddress {
    text.parse::<IpAddr>().unwrap().into()
}

/// A host with the given MACs and small traffic counters.
pub fn host(addr: &str, macs: &[u64]) -> HostInfo {
    HostInfo {
        ip: ip(addr),
        macs: macs.to_vec(),
        first_seen: 1_710_234_000_000_000_000,
        last_seen: 1_710_234_060_000_000_000,
        packets_sent: 3,
        packets_received: 4,
        bytes_sent: 300,
        bytes_received: 4000,
        seen_in_arp: false,
        notes: Vec::new(),
    }
}

/// A host fact published by `stage`.
pub fn note(stage: &str, key: &str, value: &str) -> HostNote {
    HostNote {
        stage: stage.into(),
        key: key.into(),
        value: value.into(),
        observed: None,
    }
}

/// The end-of-run report of a small demo capture with these hosts.
pub fn report(hosts: Vec<HostInfo>) -> Report {
    Report {
        capture: CaptureInfo {
            file: "demo.pcap".into(),
            size: 1234,
            sha256: "ab".repeat(32),
            format: "pcap".into(),
            format_details: "little-endian, microsecond".into(),
            link_types: vec!["ETHERNET (1)".into()],
            packets: 10,
            bytes: 1000,
            first_packet: 1_710_234_000_000_000_000,
            last_packet: 1_710_234_060_000_000_000,
            packet_fates: vec![PacketFate {
                key: "analyzed".into(),
                label: "analyzed (joined a flow)".into(),
                packets: 10,
            }],
            timestamp_anomalies: Vec::new(),
            read_error: None,
            flows: 1,
        },
        hosts,
        findings: Vec::new(),
        plugins: Vec::new(),
        queries: Vec::new(),
        notes: Vec::new(),
    }
}

/// One direction of a flow carrying `payload`.
pub fn direction(payload: &[u8], bytes: u64, first_seen: u64) -> Direction {
    Direction {
        packets: u64::from(bytes > 0),
        bytes,
        payload_bytes: payload.len() as u64,
        first_seen,
        last_seen: first_seen,
        tcp_flags: 0,
        ttl: 64,
        payload: payload.to_vec(),
        datagrams: Vec::new(),
        payload_truncated: false,
    }
}

/// A TCP flow from `client` to `server:port` without payload.
pub fn flow(id: u64, client: &str, server: &str, port: u16) -> Flow {
    flow_with(id, client, server, port, b"", b"")
}

/// A TCP flow from `client` to `server:port` with the given payloads.
pub fn flow_with(id: u64, client: &str, server: &str, port: u16, up: &[u8], down: &[u8]) -> Flow {
    let t = 1_710_234_001_000_000_000 + id * 1_000_000_000;
    FlowBuilder::new(Protocol::Tcp, (client, 49152), (server, port))
        .id(id)
        .macs(Some(0xf8bc126e4d21), Some(0x00146c3a910e))
        .to_server(direction(up, 100 + up.len() as u64, t))
        .to_client(direction(down, 100 + down.len() as u64, t + 5_000_000))
        .build()
}

/// A flow from defaults, one setter per thing a test cares about: the flow of `protocol` between
/// `client` and `server` (address, port), id 1, no MACs, seen from its start (`Syn`), ended by FIN,
/// connection state `OTH` without history, empty directions, no findings. The only place a test
/// writes a whole `Flow`.
#[derive(Clone, Debug)]
pub struct FlowBuilder {
    flow: Flow,
}

impl FlowBuilder {
    /// A flow of `protocol` from `client` to `server`, each an (address, port), with the defaults above.
    pub fn new(protocol: Protocol, client: (&str, u16), server: (&str, u16)) -> FlowBuilder {
        let client_ip = ip(client.0);
        FlowBuilder {
            flow: Flow {
                id: 1,
                client: Endpoint {
                    ip: client_ip,
                    port: client.1,
                    mac: None,
                },
                server: Endpoint {
                    ip: ip(server.0),
                    port: server.1,
                    mac: None,
                },
                protocol,
                ip_protocol: match protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                    Protocol::Icmp => 1,
                    Protocol::Icmpv6 => 58,
                    Protocol::Other => 0,
                },
                vlan: Vec::new(),
                tunnel: Vec::new(),
                orientation: Orientation::Syn,
                end_reason: EndReason::Fin,
                icmp_type: 0,
                icmp_code: 0,
                fragments: 0,
                conn_state: crate::ConnState::Oth,
                history: String::new(),
                to_server: direction(b"", 0, 0),
                to_client: direction(b"", 0, 0),
                findings: Vec::new(),
            },
        }
    }

    /// The flow id.
    pub fn id(mut self, id: u64) -> Self {
        self.flow.id = id;
        self
    }

    /// The IP protocol number, for a protocol `Other` or an unusual pairing.
    pub fn ip_protocol(mut self, number: u8) -> Self {
        self.flow.ip_protocol = number;
        self
    }

    /// The client's and the server's MAC.
    pub fn macs(mut self, client: Option<u64>, server: Option<u64>) -> Self {
        (self.flow.client.mac, self.flow.server.mac) = (client, server);
        self
    }

    /// How the client was told from the server.
    pub fn orientation(mut self, orientation: Orientation) -> Self {
        self.flow.orientation = orientation;
        self
    }

    /// Why the flow ended.
    pub fn end_reason(mut self, end_reason: EndReason) -> Self {
        self.flow.end_reason = end_reason;
        self
    }

    /// The ICMP type and code of an ICMP flow.
    pub fn icmp(mut self, icmp_type: u8, icmp_code: u8) -> Self {
        (self.flow.icmp_type, self.flow.icmp_code) = (icmp_type, icmp_code);
        self
    }

    /// Zeek's connection state and history.
    pub fn conn_state(mut self, state: crate::ConnState, history: &str) -> Self {
        (self.flow.conn_state, self.flow.history) = (state, history.into());
        self
    }

    /// What the client sent.
    pub fn to_server(mut self, direction: Direction) -> Self {
        self.flow.to_server = direction;
        self
    }

    /// What the server sent.
    pub fn to_client(mut self, direction: Direction) -> Self {
        self.flow.to_client = direction;
        self
    }

    /// A finding an earlier stage put on the flow.
    pub fn finding(mut self, finding: FindingRecord) -> Self {
        self.flow.findings.push(finding);
        self
    }

    /// The flow.
    pub fn build(self) -> Flow {
        self.flow
    }
}

/// A finding record on flow `id` from `stage`.
pub fn finding(
    stage: &str,
    id: u64,
    tag: &str,
    summary: &str,
    attrs: &[(&str, &str)],
) -> FindingRecord {
    FindingRecord {
        stage: stage.into(),
        finding: Finding {
            tag: tag.into(),
            subject: Subject::Flow(id),
            severity: Severity::Info,
            confidence: 100,
            summary: summary.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| Attribute {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            flows: Vec::new(),
        },
        rollup: false,
    }
}
