//! Real captures replayed into the flow model, about as the host builds it (same orientation rules,
//! MACs from the first packet of each direction, in-order TCP prefixes, UDP datagrams, reassembled IP
//! fragments), so plugins' native unit tests see from a real capture what a run would hand them.
//! Test support only: the host's own decoder and flow table are the real thing.

use etherparse::defrag::IpDefragPool;
use etherparse::{NetSlice, SlicedPacket, TcpSlice, UdpSlice};
use pcap_file::DataLink;
use pcapxray_plugin_sdk::testing::FlowBuilder;
use pcapxray_plugin_sdk::{Direction, EndReason, Flow, Orientation, Protocol};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

/// The host's default `payload_bytes`.
pub const PAYLOAD_BYTES: usize = 4096;

/// One decoded packet.
struct Packet {
    ts: u64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    tcp: Option<(u32, bool, bool)>,
    proto: u8,
    ttl: u8,
    mac: Option<u64>,
    payload: Vec<u8>,
}

/// Every link-layer frame of a pcap or pcapng file with its time and link type.
fn frames(file: &Path) -> Vec<(u64, DataLink, Vec<u8>)> {
    let bytes =
        std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let mut out = Vec::new();
    if file.extension().is_some_and(|e| e == "pcapng") {
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&bytes[..]).expect("a pcapng file");
        let mut links = Vec::new();
        while let Some(block) = reader.next_block() {
            let Ok(block) = block else { break };
            match block {
                pcap_file::pcapng::Block::InterfaceDescription(idb) => links.push(idb.linktype),
                pcap_file::pcapng::Block::EnhancedPacket(epb) => {
                    let link = links
                        .get(epb.interface_id as usize)
                        .copied()
                        .unwrap_or(DataLink::ETHERNET);
                    out.push((epb.timestamp.as_nanos() as u64, link, epb.data.to_vec()));
                }
                _ => {}
            }
        }
    } else {
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).expect("a pcap file");
        let link = reader.header().datalink;
        while let Some(packet) = reader.next_packet() {
            let Ok(packet) = packet else { break };
            out.push((
                packet.timestamp.as_nanos() as u64,
                link,
                packet.data.to_vec(),
            ));
        }
    }
    out
}

fn mac_u64(bytes: &[u8]) -> Option<u64> {
    (bytes.len() == 6).then(|| bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// The TCP and UDP packets of a capture (IP fragments reassembled) and its ARP senders.
fn packets(file: &Path) -> (Vec<Packet>, Vec<(IpAddr, u64)>) {
    let mut defrag: IpDefragPool<(), ()> = IpDefragPool::new();
    let mut out = Vec::new();
    let mut arp = Vec::new();
    for (ts, link, data) in frames(file) {
        let (sliced, mac) = match link {
            DataLink::ETHERNET => (
                SlicedPacket::from_ethernet(&data),
                data.get(6..12).and_then(mac_u64),
            ),
            DataLink::LINUX_SLL => (
                SlicedPacket::from_linux_sll(&data),
                data.get(6..12).and_then(mac_u64),
            ),
            DataLink::LINUX_SLL2 => {
                let proto = u16::from_be_bytes([data[0], data[1]]);
                (
                    SlicedPacket::from_ether_type(
                        etherparse::EtherType(proto),
                        data.get(20..).unwrap_or_default(),
                    ),
                    data.get(12..18).and_then(mac_u64),
                )
            }
            other => panic!(
                "{}: link type {other:?} is not read by these tests",
                file.display()
            ),
        };
        let Ok(sliced) = sliced else { continue };
        if let Some(NetSlice::Arp(a)) = &sliced.net {
            if let (Ok(ip), Some(m)) = (
                <[u8; 4]>::try_from(a.sender_protocol_addr()),
                mac_u64(a.sender_hw_addr()),
            ) {
                arp.push((IpAddr::from(ip), m));
            }
            continue;
        }
        let (src, dst, ttl): (IpAddr, IpAddr, u8) = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.header().ttl(),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.header().hop_limit(),
            ),
            _ => continue,
        };
        // A reassembled datagram replaces its fragments.
        let reassembled = defrag.process_sliced_packet(&sliced, (), ()).ok().flatten();
        let payload = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => ip.payload(),
            Some(NetSlice::Ipv6(ip)) => ip.payload(),
            _ => continue,
        };
        let transport: Option<(u8, Vec<u8>)> = match &reassembled {
            Some(p) => Some((p.ip_number.0, p.payload.clone())),
            None if payload.fragmented => None,
            None => Some((payload.ip_number.0, payload.payload.to_vec())),
        };
        let Some((number, segment)) = transport else {
            continue;
        };
        match number {
            17 => {
                let Ok(udp) = UdpSlice::from_slice(&segment) else {
                    continue;
                };
                out.push(Packet {
                    ts,
                    src: (src, udp.source_port()),
                    dst: (dst, udp.destination_port()),
                    tcp: None,
                    proto: 17,
                    ttl,
                    mac,
                    payload: udp.payload().to_vec(),
                });
            }
            6 => {
                let Ok(tcp) = TcpSlice::from_slice(&segment) else {
                    continue;
                };
                out.push(Packet {
                    ts,
                    src: (src, tcp.source_port()),
                    dst: (dst, tcp.destination_port()),
                    tcp: Some((tcp.sequence_number(), tcp.syn(), tcp.ack())),
                    proto: 6,
                    ttl,
                    mac,
                    payload: tcp.payload().to_vec(),
                });
            }
            // ICMP, ICMPv6, IGMP, ...: flows without ports (their MACs matter here).
            other => out.push(Packet {
                ts,
                src: (src, 0),
                dst: (dst, 0),
                tcp: None,
                proto: other,
                ttl,
                mac,
                payload: Vec::new(),
            }),
        }
    }
    (out, arp)
}

/// Lower means "more likely a server port" (the host's rule).
fn service_rank(port: u16) -> u8 {
    match port {
        0 => 3,
        53 | 67 | 80 | 123 | 137 | 443 | 5353 | 5355 | 1900 => 0,
        1..=1023 => 1,
        1024..=49151 => 2,
        _ => 3,
    }
}

#[derive(Default)]
struct Half {
    dir: Option<Direction>,
    mac: Option<u64>,
    start: Option<u32>,
    segments: BTreeMap<u32, Vec<u8>>,
}

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

impl Half {
    fn add(&mut self, p: &Packet) {
        let dir = self.dir.get_or_insert_with(|| {
            let mut d = empty_direction();
            d.first_seen = p.ts;
            d.ttl = p.ttl;
            d
        });
        if self.mac.is_none() {
            self.mac = p.mac;
        }
        dir.packets += 1;
        dir.last_seen = p.ts;
        dir.payload_bytes += p.payload.len() as u64;
        if let Some((seq, syn, _)) = p.tcp {
            if syn {
                self.start = Some(seq.wrapping_add(1));
            }
            if !p.payload.is_empty() {
                let start = *self.start.get_or_insert(seq);
                let offset = seq.wrapping_sub(start);
                if offset < u32::MAX / 2 {
                    self.segments
                        .entry(offset)
                        .or_insert_with(|| p.payload.clone());
                }
            }
        } else if !p.payload.is_empty() {
            let room = PAYLOAD_BYTES.saturating_sub(dir.payload.len());
            let take = p.payload.len().min(room);
            if take > 0 {
                dir.payload.extend_from_slice(&p.payload[..take]);
                dir.datagrams.push(take as u32);
            }
            if p.payload.len() > room {
                dir.payload_truncated = true;
            }
        }
    }

    fn finish(mut self) -> (Direction, Option<u64>) {
        let mut dir = self.dir.take().unwrap_or_else(empty_direction);
        if !self.segments.is_empty() {
            let mut stream = Vec::new();
            for (&offset, data) in &self.segments {
                let offset = offset as usize;
                if offset > stream.len() {
                    dir.payload_truncated = true;
                    break;
                }
                if offset + data.len() > stream.len() {
                    stream.extend_from_slice(&data[stream.len() - offset..]);
                }
            }
            if stream.len() > PAYLOAD_BYTES {
                stream.truncate(PAYLOAD_BYTES);
                dir.payload_truncated = true;
            }
            dir.payload = stream;
        }
        (dir, self.mac)
    }
}

/// The TCP and UDP flows of a capture, about as the host builds them, and its ARP senders.
pub fn flows(file: &Path) -> (Vec<Flow>, Vec<(IpAddr, u64)>) {
    type Key = (u8, (IpAddr, u16), (IpAddr, u16));
    /// Client, server, and the two directions (client to server first).
    type Entry = ((IpAddr, u16), (IpAddr, u16), [Half; 2]);
    let mut order: Vec<Key> = Vec::new();
    let mut table: HashMap<Key, Entry> = HashMap::new();
    let (packets, arp) = packets(file);
    for p in packets {
        let key = (p.proto, p.src.min(p.dst), p.src.max(p.dst));
        let entry = table.entry(key).or_insert_with(|| {
            order.push(key);
            let sender_is_server = match p.tcp {
                Some((_, true, ack)) => ack,
                _ => service_rank(p.src.1) < service_rank(p.dst.1),
            };
            if sender_is_server {
                (p.dst, p.src, Default::default())
            } else {
                (p.src, p.dst, Default::default())
            }
        });
        let side = usize::from(p.src != entry.0);
        entry.2[side].add(&p);
    }
    let mut out = Vec::new();
    for (id, key) in order.into_iter().enumerate() {
        let Some((client, server, [up, down])) = table.remove(&key) else {
            continue;
        };
        let (to_server, client_mac) = up.finish();
        let (to_client, server_mac) = down.finish();
        let protocol = match key.0 {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            1 => Protocol::Icmp,
            58 => Protocol::Icmpv6,
            _ => Protocol::Other,
        };
        let (c, s) = (client.0.to_string(), server.0.to_string());
        out.push(
            FlowBuilder::new(protocol, (&c, client.1), (&s, server.1))
                .id(id as u64)
                .ip_protocol(key.0)
                .macs(client_mac, server_mac)
                .orientation(Orientation::PortHeuristic)
                .end_reason(EndReason::CaptureEnd)
                .to_server(to_server)
                .to_client(to_client)
                .build(),
        );
    }
    (out, arp)
}
