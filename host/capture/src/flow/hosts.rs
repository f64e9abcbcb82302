//! The host table: every IP address the capture mentions, with its MACs, times and traffic totals, and
//! the facts plugins publish about it. It is small (one entry per address), so it lives for the run.

use super::table::{FinishedFlow, mac_u64};
use crate::decode::Unflowed;
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// A fact about a host and the stage that published it.
#[derive(Clone, Debug)]
pub struct HostNote {
    pub stage: String,
    pub key: String,
    pub value: String,
    pub observed: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct HostEntry {
    pub macs: Vec<u64>,
    pub first_seen: u64,
    pub last_seen: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub seen_in_arp: bool,
    pub notes: Vec<HostNote>,
}

impl HostEntry {
    fn seen(&mut self, first: u64, last: u64) {
        if first != 0 && (self.first_seen == 0 || first < self.first_seen) {
            self.first_seen = first;
        }
        self.last_seen = self.last_seen.max(last);
    }

    fn add_mac(&mut self, mac: Option<u64>) {
        // The broadcast address is where a frame went, never who a host is.
        if let Some(mac) = mac
            && mac != BROADCAST
            && !self.macs.contains(&mac)
            && self.macs.len() < 64
        {
            self.macs.push(mac);
        }
    }
}

const BROADCAST: u64 = 0xffff_ffff_ffff;

/// Most notes one host keeps: a hostile capture cannot make a plugin grow the table without bound.
const MAX_NOTES_PER_HOST: usize = 256;

/// Entries are shared with [`HostSnapshot`]s and copied on write: a snapshot costs a reference per host
/// and keeps what it saw however the table changes after.
#[derive(Default)]
pub struct HostTable {
    hosts: FxHashMap<IpAddr, Arc<HostEntry>>,
}

/// Some hosts as they were at one moment of the run.
#[derive(Default, Debug)]
pub struct HostSnapshot {
    hosts: FxHashMap<IpAddr, Arc<HostEntry>>,
}

impl HostSnapshot {
    pub fn get(&self, ip: &IpAddr) -> Option<&HostEntry> {
        self.hosts.get(ip).map(|h| &**h)
    }

    /// The hosts, sorted by address.
    pub fn sorted(&self) -> Vec<(IpAddr, &HostEntry)> {
        let mut v: Vec<_> = self.hosts.iter().map(|(ip, h)| (*ip, &**h)).collect();
        v.sort_by_key(|(ip, _)| *ip);
        v
    }
}

impl HostTable {
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&HostEntry> {
        self.hosts.get(ip).map(|h| &**h)
    }

    /// All hosts, sorted by address.
    pub fn sorted(&self) -> Vec<(IpAddr, &HostEntry)> {
        let mut v: Vec<_> = self.hosts.iter().map(|(ip, h)| (*ip, &**h)).collect();
        v.sort_by_key(|(ip, _)| *ip);
        v
    }

    /// The hosts among `ips` as they are now.
    pub fn snapshot(&self, ips: impl IntoIterator<Item = IpAddr>) -> HostSnapshot {
        let mut hosts = FxHashMap::default();
        for ip in ips {
            if let Some(h) = self.hosts.get(&ip) {
                hosts.entry(ip).or_insert_with(|| h.clone());
            }
        }
        HostSnapshot { hosts }
    }

    fn entry(&mut self, ip: IpAddr) -> &mut HostEntry {
        Arc::make_mut(self.hosts.entry(ip).or_default())
    }

    /// Folds a finished flow into both of its hosts.
    pub fn add_flow(&mut self, flow: &FinishedFlow) {
        let (c, s) = (&flow.to_server, &flow.to_client);
        let first = [c.first_seen, s.first_seen]
            .into_iter()
            .filter(|t| *t != 0)
            .min()
            .unwrap_or(0);
        let last = c.last_seen.max(s.last_seen);
        let client = self.entry(flow.client.0);
        client.seen(first, last);
        client.add_mac(c.mac);
        client.packets_sent += c.packets;
        client.bytes_sent += c.bytes;
        client.packets_received += s.packets;
        client.bytes_received += s.bytes;
        let server = self.entry(flow.server.0);
        server.seen(first, last);
        server.add_mac(s.mac);
        server.packets_sent += s.packets;
        server.bytes_sent += s.bytes;
        server.packets_received += c.packets;
        server.bytes_received += c.bytes;
    }

    /// Folds in IP packets that never reached a flow (fragments of a datagram that never completed,
    /// fragments that could not be reassembled), so hosts seen only in them are still listed.
    pub fn add_unflowed(&mut self, u: &Unflowed) {
        let src = self.entry(u.src);
        src.seen(u.first_ts, u.last_ts);
        src.add_mac(u.src_mac.map(mac_u64));
        src.packets_sent += u.packets;
        src.bytes_sent += u.bytes;
        let dst = self.entry(u.dst);
        dst.seen(u.first_ts, u.last_ts);
        dst.packets_received += u.packets;
        dst.bytes_received += u.bytes;
    }

    /// Records an ARP sender (IP ↔ MAC) at time `ts`.
    /// An address–MAC binding an ARP packet claimed. A group or all-zero MAC binds nothing: a gratuitous
    /// ARP reply names the broadcast address as its target, a request the zero address.
    pub fn add_arp(&mut self, ts: u64, ip: IpAddr, mac: [u8; 6]) {
        if ip.is_unspecified() || mac[0] & 1 == 1 || mac == [0; 6] {
            return;
        }
        let host = self.entry(ip);
        host.seen(ts, ts);
        host.add_mac(Some(mac_u64(mac)));
        host.seen_in_arp = true;
    }

    /// Adds a fact; an identical fact (same key and value) is kept once.
    pub fn add_note(&mut self, ip: IpAddr, note: HostNote) {
        let Some(host) = self.hosts.get(&ip) else {
            self.entry(ip).notes.push(note);
            return;
        };
        if host.notes.len() >= MAX_NOTES_PER_HOST
            || host
                .notes
                .iter()
                .any(|n| n.key == note.key && n.value == note.value)
        {
            return;
        }
        self.entry(ip).notes.push(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(key: &str, value: &str) -> HostNote {
        HostNote {
            stage: "dns".into(),
            key: key.into(),
            value: value.into(),
            observed: None,
        }
    }

    /// vlan_8021q_icmp_arp.pcap's gratuitous ARP replies gave both hosts ff:ff:ff:ff:ff:ff (#10).
    #[test]
    fn arp_claims_of_group_or_zero_macs_bind_nothing() {
        let mut t = HostTable::default();
        let ip: IpAddr = "192.168.123.1".parse().unwrap();
        t.add_arp(1, ip, [0x00, 0x19, 0x06, 0xea, 0xb8, 0xc1]);
        t.add_arp(2, ip, [0xff; 6]);
        t.add_arp(3, ip, [0x01, 0x00, 0x5e, 0, 0, 1]);
        t.add_arp(4, ip, [0; 6]);
        assert_eq!(t.get(&ip).unwrap().macs, vec![0x0019_06ea_b8c1]);
    }

    #[test]
    fn hosts_seen_only_in_unflowed_fragments_are_listed() {
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut table = HostTable::default();
        let u = Unflowed {
            src: a,
            dst: b,
            src_mac: Some([2, 0, 0, 0, 0, 1]),
            packets: 3,
            bytes: 4500,
            first_ts: 10,
            last_ts: 30,
        };
        table.add_unflowed(&u);
        table.add_unflowed(&Unflowed {
            first_ts: 5,
            last_ts: 5,
            ..u.clone()
        });
        let src = table.get(&a).unwrap();
        assert_eq!(
            (src.packets_sent, src.bytes_sent, src.packets_received),
            (6, 9000, 0)
        );
        assert_eq!((src.first_seen, src.last_seen, src.macs.len()), (5, 30, 1));
        let dst = table.get(&b).unwrap();
        assert_eq!(
            (dst.packets_received, dst.bytes_received, dst.packets_sent),
            (6, 9000, 0)
        );
        assert!(
            dst.macs.is_empty(),
            "the source MAC belongs to the sender only"
        );
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw_while_the_table_changes() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let absent: IpAddr = "192.0.2.9".parse().unwrap();
        let mut table = HostTable::default();
        table.add_arp(10, a, [2, 0, 0, 0, 0, 1]);
        table.add_note(a, note("name", "first.example"));
        table.add_arp(11, b, [2, 0, 0, 0, 0, 2]);
        let snap = table.snapshot([a, absent, a]);
        table.add_note(a, note("name", "second.example"));
        table.add_arp(20, a, [2, 0, 0, 0, 0, 3]);
        table.add_note(b, note("name", "b.example"));

        let seen = snap.get(&a).unwrap();
        assert_eq!(seen.notes.len(), 1);
        assert_eq!(seen.notes[0].value, "first.example");
        assert_eq!((seen.macs.len(), seen.last_seen), (1, 10));
        // Only the addresses asked for, and only those the table had.
        assert!(snap.get(&b).is_none() && snap.get(&absent).is_none());
        assert_eq!(snap.sorted().len(), 1);
        // The table itself moved on.
        let now = table.get(&a).unwrap();
        assert_eq!(now.notes.len(), 2);
        assert_eq!((now.macs.len(), now.last_seen), (2, 20));
        assert_eq!(table.get(&b).unwrap().notes.len(), 1);
    }
}
