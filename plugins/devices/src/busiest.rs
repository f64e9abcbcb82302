//! Which hosts the decision looks at when the capture has more than it can hold: the `max_hosts`
//! busiest (most packets sent and received; named hosts first, ties to the lower address), taken while
//! the host table is read a page at a time, and a count of the others. A million spoofed sources that
//! each sent one packet must not cost a million descriptions or a million copies in the sandbox; the
//! machines worth describing are the ones that talked, and those rise to the top. Memory: `max_hosts`
//! hosts plus one page.

use pcapxray_plugin_sdk::HostInfo;
use pcapxray_plugin_sdk::names;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::net::IpAddr;

/// One host with the key it is ranked by.
struct Ranked {
    key: (bool, u64, Reverse<IpAddr>),
    host: HostInfo,
}

impl Ranked {
    fn new(host: HostInfo) -> Ranked {
        let named = host.fact(names::host::NAME).is_some();
        let packets = host.packets_sent.saturating_add(host.packets_received);
        Ranked {
            key: (named, packets, Reverse(host.ip.into())),
            host,
        }
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.key == other.key
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// The busiest hosts seen so far, at most `max` of them.
pub struct Busiest {
    max: usize,
    /// A min-heap: the least busy kept host on top, the one to give way.
    kept: BinaryHeap<Reverse<Ranked>>,
    /// Hosts offered in all.
    pub seen: u64,
}

impl Busiest {
    /// Keeps at most `max` hosts (at least one).
    pub fn new(max: usize) -> Busiest {
        Busiest {
            max: max.max(1),
            kept: BinaryHeap::new(),
            seen: 0,
        }
    }

    /// Offers one host.
    pub fn offer(&mut self, host: HostInfo) {
        self.seen += 1;
        let ranked = Ranked::new(host);
        if self.kept.len() < self.max {
            self.kept.push(Reverse(ranked));
        } else if self
            .kept
            .peek()
            .is_some_and(|Reverse(least)| ranked > *least)
        {
            self.kept.pop();
            self.kept.push(Reverse(ranked));
        }
    }

    /// Hosts offered but not kept.
    pub fn left_out(&self) -> u64 {
        self.seen - self.kept.len() as u64
    }

    /// The kept hosts, sorted by address (the order the whole table came in).
    pub fn into_sorted(self) -> Vec<HostInfo> {
        let mut hosts: Vec<HostInfo> = self.kept.into_iter().map(|Reverse(r)| r.host).collect();
        hosts.sort_by_key(|h| IpAddr::from(h.ip));
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::tests::host;

    fn with_packets(ip: &str, packets: u64) -> HostInfo {
        HostInfo {
            packets_sent: packets,
            packets_received: 0,
            ..host(ip, &[], false, &[])
        }
    }

    #[test]
    fn keeps_the_busiest_hosts_and_counts_the_others() {
        let mut busiest = Busiest::new(2);
        for (ip, packets) in [
            ("10.0.0.1", 1),
            ("10.0.0.2", 50),
            ("10.0.0.3", 1),
            ("10.0.0.4", 7),
        ] {
            busiest.offer(with_packets(ip, packets));
        }
        busiest.offer(host("10.0.0.9", &[], false, &[("name", "nas.lan")]));
        assert_eq!(busiest.left_out(), 3);
        let kept: Vec<String> = busiest
            .into_sorted()
            .iter()
            .map(|h| IpAddr::from(h.ip).to_string())
            .collect();
        // The named host first, then the one with the most packets.
        assert_eq!(kept, ["10.0.0.2", "10.0.0.9"]);
    }

    #[test]
    fn among_equals_the_lower_addresses_stay() {
        let mut busiest = Busiest::new(2);
        for ip in ["10.0.0.3", "10.0.0.1", "10.0.0.2"] {
            busiest.offer(with_packets(ip, 1));
        }
        let kept: Vec<String> = busiest
            .into_sorted()
            .iter()
            .map(|h| IpAddr::from(h.ip).to_string())
            .collect();
        assert_eq!(kept, ["10.0.0.1", "10.0.0.2"]);
    }
}
