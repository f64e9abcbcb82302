//! The host table: every IP address the capture mentions, with its MACs, times and traffic totals, and
//! the facts plugins publish about it. It is small (one entry per address), so it lives for the run.

use super::table::{FinishedFlow, mac_u64};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

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
        if let Some(mac) = mac
            && !self.macs.contains(&mac)
            && self.macs.len() < 64
        {
            self.macs.push(mac);
        }
    }
}

/// Most notes one host keeps: a hostile capture cannot make a plugin grow the table without bound.
const MAX_NOTES_PER_HOST: usize = 256;

#[derive(Default)]
pub struct HostTable {
    hosts: FxHashMap<IpAddr, HostEntry>,
}

impl HostTable {
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&HostEntry> {
        self.hosts.get(ip)
    }

    /// All hosts, sorted by address.
    pub fn sorted(&self) -> Vec<(IpAddr, &HostEntry)> {
        let mut v: Vec<_> = self.hosts.iter().map(|(ip, h)| (*ip, h)).collect();
        v.sort_by_key(|(ip, _)| *ip);
        v
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
        let client = self.hosts.entry(flow.client.0).or_default();
        client.seen(first, last);
        client.add_mac(c.mac);
        client.packets_sent += c.packets;
        client.bytes_sent += c.bytes;
        client.packets_received += s.packets;
        client.bytes_received += s.bytes;
        let server = self.hosts.entry(flow.server.0).or_default();
        server.seen(first, last);
        server.add_mac(s.mac);
        server.packets_sent += s.packets;
        server.bytes_sent += s.bytes;
        server.packets_received += c.packets;
        server.bytes_received += c.bytes;
    }

    /// Records an ARP sender (IP ↔ MAC) at time `ts`.
    pub fn add_arp(&mut self, ts: u64, ip: IpAddr, mac: [u8; 6]) {
        if ip.is_unspecified() {
            return;
        }
        let host = self.hosts.entry(ip).or_default();
        host.seen(ts, ts);
        host.add_mac(Some(mac_u64(mac)));
        host.seen_in_arp = true;
    }

    /// Adds a fact; an identical fact (same key and value) is kept once.
    pub fn add_note(&mut self, ip: IpAddr, note: HostNote) {
        let host = self.hosts.entry(ip).or_default();
        if host.notes.len() >= MAX_NOTES_PER_HOST
            || host
                .notes
                .iter()
                .any(|n| n.key == note.key && n.value == note.value)
        {
            return;
        }
        host.notes.push(note);
    }
}
