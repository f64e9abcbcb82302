//! The host table: every IP address the capture mentions, with its MACs, times and traffic totals, and
//! the facts plugins publish about it. It lives for the run, so it is compact: an address maps to a
//! 64-byte slot (counters, times, the first MAC), and what few hosts have beyond that (more MACs, facts)
//! sits in a side table. A million hosts cost about 85 MB, not the 250 MB of a map of full entries.
//! Slots live in fixed-size chunks, so the table never copies itself when it grows.

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

/// One host as the table knows it (a copy: the table keeps its own compact form).
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
    /// Shared with the table until either changes.
    pub notes: Arc<Vec<HostNote>>,
}

const BROADCAST: u64 = 0xffff_ffff_ffff;
/// Set in `Slot::mac` when a MAC is there (MACs have 48 bits).
const HAS_MAC: u64 = 1 << 63;
/// Most MACs one host keeps.
const MAX_MACS: usize = 64;

/// Most notes one host keeps: a hostile capture cannot make a plugin grow the table without bound.
const MAX_NOTES_PER_HOST: usize = 256;

/// Slots per chunk.
const CHUNK: usize = 1 << 14;

/// A host in the table.
#[derive(Clone, Copy, Default)]
struct Slot {
    first_seen: u64,
    last_seen: u64,
    packets_sent: u64,
    packets_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
    /// The first MAC, with `HAS_MAC` set; 0 when none.
    mac: u64,
    /// Index + 1 into `extras`; 0 when the host has no more MACs and no notes.
    extra: u32,
    seen_in_arp: bool,
}

/// What a few hosts have beyond a slot.
#[derive(Default)]
struct Extra {
    more_macs: Vec<u64>,
    notes: Arc<Vec<HostNote>>,
}

impl Slot {
    fn seen(&mut self, first: u64, last: u64) {
        if first != 0 && (self.first_seen == 0 || first < self.first_seen) {
            self.first_seen = first;
        }
        self.last_seen = self.last_seen.max(last);
    }
}

/// Some hosts as they were at one moment of the run. Made for every batch of flows the outputs get (two
/// hosts a flow), so it keeps each host's slot as it was, plus its further MACs and notes only when
/// it has any: a host with one MAC and no notes costs no allocation until someone asks for it.
#[derive(Default)]
pub struct HostSnapshot {
    hosts: FxHashMap<IpAddr, Kept>,
}

struct Kept {
    slot: Slot,
    more_macs: Vec<u64>,
    notes: Option<Arc<Vec<HostNote>>>,
}

impl Kept {
    fn entry(&self) -> HostEntry {
        let mut macs = Vec::with_capacity(1 + self.more_macs.len());
        if self.slot.mac & HAS_MAC != 0 {
            macs.push(self.slot.mac & !HAS_MAC);
        }
        macs.extend_from_slice(&self.more_macs);
        let slot = &self.slot;
        HostEntry {
            macs,
            first_seen: slot.first_seen,
            last_seen: slot.last_seen,
            packets_sent: slot.packets_sent,
            packets_received: slot.packets_received,
            bytes_sent: slot.bytes_sent,
            bytes_received: slot.bytes_received,
            seen_in_arp: slot.seen_in_arp,
            notes: self.notes.clone().unwrap_or_else(no_notes),
        }
    }
}

/// The notes of a host without any: one shared empty list, not an allocation per host copied.
fn no_notes() -> Arc<Vec<HostNote>> {
    static EMPTY: std::sync::LazyLock<Arc<Vec<HostNote>>> = std::sync::LazyLock::new(Arc::default);
    EMPTY.clone()
}

impl std::fmt::Debug for HostSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSnapshot")
            .field("hosts", &self.hosts.len())
            .finish()
    }
}

impl HostSnapshot {
    /// The host at `ip` as it was, if the snapshot has it.
    pub fn get(&self, ip: &IpAddr) -> Option<HostEntry> {
        self.hosts.get(ip).map(Kept::entry)
    }

    /// The hosts, sorted by address.
    pub fn sorted(&self) -> Vec<(IpAddr, HostEntry)> {
        let mut v: Vec<_> = self.hosts.iter().map(|(ip, h)| (*ip, h.entry())).collect();
        v.sort_by_key(|(ip, _)| *ip);
        v
    }

    /// The addresses it has, sorted.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.hosts.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// Addresses in order (IPv4 before IPv6, as `IpAddr` orders them), 4 or 16 bytes each; from the
/// host table, also where the table keeps each (4 bytes more), so that walking it in order looks
/// nothing up.
#[derive(Default, Debug)]
pub struct AddressOrder {
    v4: Vec<u32>,
    v6: Vec<u128>,
    /// The table slot of each address (IPv4 first), or empty.
    slots: Vec<u32>,
}

impl AddressOrder {
    /// From addresses already sorted.
    pub fn from_sorted(ips: impl IntoIterator<Item = IpAddr>) -> AddressOrder {
        let mut order = AddressOrder::default();
        for ip in ips {
            match ip {
                IpAddr::V4(v) => order.v4.push(v.into()),
                IpAddr::V6(v) => order.v6.push(v.into()),
            }
        }
        order
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th address (`i < len()`).
    pub fn get(&self, i: usize) -> IpAddr {
        match self.v4.get(i) {
            Some(v) => IpAddr::V4((*v).into()),
            None => IpAddr::V6(self.v6[i - self.v4.len()].into()),
        }
    }

    /// The `i`-th address with its place in the table it came from, when it came from one.
    pub fn slot(&self, i: usize) -> Option<HostSlot> {
        self.slots.get(i).map(|s| HostSlot(self.get(i), *s))
    }

    /// How many addresses are at or before `ip`: the index of the first one after it.
    pub fn after(&self, ip: IpAddr) -> usize {
        match ip {
            IpAddr::V4(v) => self.v4.partition_point(|a| *a <= u32::from(v)),
            IpAddr::V6(v) => self.v4.len() + self.v6.partition_point(|a| *a <= u128::from(v)),
        }
    }
}

/// A host's address and its place in the table (places never change during a run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSlot(IpAddr, u32);

#[derive(Default)]
pub struct HostTable {
    v4: FxHashMap<u32, u32>,
    v6: FxHashMap<u128, u32>,
    chunks: Vec<Box<[Slot]>>,
    len: usize,
    extras: Vec<Extra>,
}

impl HostTable {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn index(&self, ip: &IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(v) => self.v4.get(&u32::from(*v)).copied(),
            IpAddr::V6(v) => self.v6.get(&u128::from(*v)).copied(),
        }
    }

    fn slot(&self, i: u32) -> &Slot {
        let i = i as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot {
        let i = i as usize;
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// A copy of the host at `ip`, if the capture has it.
    pub fn get(&self, ip: &IpAddr) -> Option<HostEntry> {
        self.kept(self.index(ip)?).map(|k| k.entry())
    }

    /// A copy of the host at `slot` (from [`AddressOrder::slot`] of this table's order).
    pub fn get_slot(&self, slot: HostSlot) -> Option<HostEntry> {
        self.kept(slot.1).map(|k| k.entry())
    }

    /// The host of slot `i` as it is now, in the snapshot's form.
    fn kept(&self, i: u32) -> Option<Kept> {
        let slot = *self.slot(i);
        let (more_macs, notes) = match slot.extra {
            0 => (Vec::new(), None),
            e => {
                let extra = &self.extras[e as usize - 1];
                (extra.more_macs.clone(), Some(extra.notes.clone()))
            }
        };
        Some(Kept {
            slot,
            more_macs,
            notes,
        })
    }

    /// Every address, sorted.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let order = self.order();
        (0..order.len()).map(|i| order.get(i)).collect()
    }

    /// Every address, sorted, in a compact form (4 bytes an IPv4 address, not 17), with its slot.
    pub fn order(&self) -> AddressOrder {
        let mut v4: Vec<(u32, u32)> = self.v4.iter().map(|(a, s)| (*a, *s)).collect();
        v4.sort_unstable();
        let mut v6: Vec<(u128, u32)> = self.v6.iter().map(|(a, s)| (*a, *s)).collect();
        v6.sort_unstable();
        let slots = v4
            .iter()
            .map(|e| e.1)
            .chain(v6.iter().map(|e| e.1))
            .collect();
        AddressOrder {
            v4: v4.into_iter().map(|e| e.0).collect(),
            v6: v6.into_iter().map(|e| e.0).collect(),
            slots,
        }
    }

    /// The hosts among `ips` as they are now.
    pub fn snapshot(&self, ips: impl IntoIterator<Item = IpAddr>) -> HostSnapshot {
        let mut hosts = FxHashMap::default();
        for ip in ips {
            if let std::collections::hash_map::Entry::Vacant(e) = hosts.entry(ip)
                && let Some(kept) = self.index(&ip).and_then(|i| self.kept(i))
            {
                e.insert(kept);
            }
        }
        HostSnapshot { hosts }
    }

    /// The hosts of `slots` (as [`HostTable::add_flow`] returned them) as they are now: the same as
    /// [`HostTable::snapshot`] of their addresses, without looking the addresses up again.
    pub fn snapshot_slots(&self, slots: &[HostSlot]) -> HostSnapshot {
        let mut hosts = FxHashMap::with_capacity_and_hasher(slots.len(), Default::default());
        for &HostSlot(ip, i) in slots {
            if let std::collections::hash_map::Entry::Vacant(e) = hosts.entry(ip)
                && let Some(kept) = self.kept(i)
            {
                e.insert(kept);
            }
        }
        HostSnapshot { hosts }
    }

    /// The slot of `ip`, made if new.
    fn entry(&mut self, ip: IpAddr) -> u32 {
        if let Some(i) = self.index(&ip) {
            return i;
        }
        let i = self.len as u32;
        if self.len.is_multiple_of(CHUNK) {
            self.chunks
                .push(vec![Slot::default(); CHUNK].into_boxed_slice());
        }
        self.len += 1;
        match ip {
            IpAddr::V4(v) => self.v4.insert(u32::from(v), i),
            IpAddr::V6(v) => self.v6.insert(u128::from(v), i),
        };
        i
    }

    fn extra(&mut self, i: u32) -> &mut Extra {
        let slot = self.slot(i).extra;
        let e = if slot == 0 {
            self.extras.push(Extra::default());
            let e = self.extras.len() as u32;
            self.slot_mut(i).extra = e;
            e
        } else {
            slot
        };
        &mut self.extras[e as usize - 1]
    }

    fn add_mac(&mut self, i: u32, mac: Option<u64>) {
        // The broadcast address is where a frame went, never who a host is.
        let Some(mac) = mac.filter(|m| *m != BROADCAST) else {
            return;
        };
        let slot = self.slot_mut(i);
        if slot.mac == 0 {
            slot.mac = mac | HAS_MAC;
            return;
        }
        if slot.mac == mac | HAS_MAC {
            return;
        }
        let extra = self.extra(i);
        if !extra.more_macs.contains(&mac) && extra.more_macs.len() + 1 < MAX_MACS {
            extra.more_macs.push(mac);
        }
    }

    /// Folds a finished flow into both of its hosts; returns their slots (client, server) for
    /// [`HostTable::snapshot_slots`].
    pub fn add_flow(&mut self, flow: &FinishedFlow) -> [HostSlot; 2] {
        let (c, s) = (&flow.to_server, &flow.to_client);
        let first = [c.first_seen, s.first_seen]
            .into_iter()
            .filter(|t| *t != 0)
            .min()
            .unwrap_or(0);
        let last = c.last_seen.max(s.last_seen);
        let i = self.entry(flow.client.0);
        let client_slot = HostSlot(flow.client.0, i);
        let client = self.slot_mut(i);
        client.seen(first, last);
        client.packets_sent += c.packets;
        client.bytes_sent += c.bytes;
        client.packets_received += s.packets;
        client.bytes_received += s.bytes;
        self.add_mac(i, c.mac);
        let i = self.entry(flow.server.0);
        let server = self.slot_mut(i);
        server.seen(first, last);
        server.packets_sent += s.packets;
        server.bytes_sent += s.bytes;
        server.packets_received += c.packets;
        server.bytes_received += c.bytes;
        self.add_mac(i, s.mac);
        [client_slot, HostSlot(flow.server.0, i)]
    }

    /// Folds in IP packets that never reached a flow (fragments of a datagram that never completed,
    /// fragments that could not be reassembled), so hosts seen only in them are still listed.
    pub fn add_unflowed(&mut self, u: &Unflowed) {
        let i = self.entry(u.src);
        let src = self.slot_mut(i);
        src.seen(u.first_ts, u.last_ts);
        src.packets_sent += u.packets;
        src.bytes_sent += u.bytes;
        self.add_mac(i, u.src_mac.map(mac_u64));
        let i = self.entry(u.dst);
        let dst = self.slot_mut(i);
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
        let i = self.entry(ip);
        let host = self.slot_mut(i);
        host.seen(ts, ts);
        host.seen_in_arp = true;
        self.add_mac(i, Some(mac_u64(mac)));
    }

    /// Adds a fact; an identical fact (same key and value) is kept once.
    pub fn add_note(&mut self, ip: IpAddr, note: HostNote) {
        let i = self.entry(ip);
        let notes = &mut self.extra(i).notes;
        if notes.len() >= MAX_NOTES_PER_HOST
            || notes
                .iter()
                .any(|n| n.key == note.key && n.value == note.value)
        {
            return;
        }
        Arc::make_mut(notes).push(note);
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
