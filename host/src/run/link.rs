//! Link-layer events for the analyzers that ask for them (`wants-link-events`): every ARP packet, each
//! source MAC address once per stretch of the capture, and every DHCP datagram — what flows do not
//! carry, and what ARP sweeps, MAC floods and DHCP starvation show in. Collected on the reading thread
//! only when some stage asked, and handed over with the batch of the same stretch, so memory is bounded
//! by one stretch (at most [`super::reading`]'s progress interval of packets).

use crate::bindings::wit;
use crate::decode::{ArpPacket, IpPacket, Transport};
use crate::flow::mac_u64;
use crate::runtime::convert;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// DHCP payload bytes kept per datagram.
const DHCP_BYTES: usize = 1500;

/// The events of one stretch, in host types.
#[derive(Default, Debug)]
pub struct LinkEvents {
    arp: Vec<wit::ArpEvent>,
    /// MAC → index in `order`.
    seen: FxHashMap<u64, usize>,
    order: Vec<wit::MacSeen>,
    dhcp: Vec<wit::DhcpDatagram>,
}

impl LinkEvents {
    pub fn is_empty(&self) -> bool {
        self.arp.is_empty() && self.order.is_empty() && self.dhcp.is_empty()
    }

    fn mac(&mut self, mac: Option<[u8; 6]>, ts: u64) {
        let Some(mac) = mac.map(mac_u64) else { return };
        match self.seen.get(&mac) {
            Some(&i) => self.order[i].frames = self.order[i].frames.saturating_add(1),
            None => {
                self.seen.insert(mac, self.order.len());
                self.order.push(wit::MacSeen {
                    mac,
                    first_seen: ts,
                    frames: 1,
                });
            }
        }
    }

    pub fn ip(&mut self, ts: u64, p: &IpPacket<'_>) {
        self.mac(p.src_mac, ts);
        if let (
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            },
            IpAddr::V4(_),
        ) = (&p.transport, p.src)
            && (matches!(*src_port, 67 | 68) || matches!(*dst_port, 67 | 68))
        {
            self.dhcp.push(wit::DhcpDatagram {
                time: ts,
                source_mac: p.src_mac.map(mac_u64),
                source_ip: convert::ip_to_wit(p.src),
                destination_ip: convert::ip_to_wit(p.dst),
                payload: payload[..payload.len().min(DHCP_BYTES)].to_vec(),
            });
        }
    }

    pub fn arp(&mut self, ts: u64, a: &ArpPacket) {
        self.mac(a.src_mac, ts);
        self.arp.push(wit::ArpEvent {
            time: ts,
            operation: a.operation,
            source_mac: a.src_mac.map(mac_u64),
            vlan: a.vlan.clone(),
            sender_mac: mac_u64(a.sender_mac),
            sender_ip: convert::ip_to_wit(IpAddr::V4(a.sender_ip)),
            target_mac: mac_u64(a.target_mac),
            target_ip: convert::ip_to_wit(IpAddr::V4(a.target_ip)),
        });
    }

    pub fn into_wit(self) -> wit::LinkBatch {
        wit::LinkBatch {
            arp: self.arp,
            macs: self.order,
            dhcp: self.dhcp,
        }
    }
}
