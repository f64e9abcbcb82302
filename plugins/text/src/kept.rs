//! The hosts this output holds, as they stream in (sorted by address, in batches): for `devices.txt`
//! at most `max_hosts` hosts with a MAC address, local ones first (local by the `devices` analyzer's
//! `network` fact or by address class: which rule applies is only known once every host went by), and
//! for `communication.txt` the endpoints of the host pairs it lists. Everything else is only counted,
//! so memory follows the bounds, not the capture's host count.

use pcapxray_plugin_sdk::HostInfo;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt, HashSet};
use pcapxray_plugin_sdk::net::IpClass;
use std::net::IpAddr;

/// The hosts kept for the two reports that describe hosts.
pub struct Kept {
    max: usize,
    local: Vec<HostInfo>,
    other: Vec<HostInfo>,
    /// Hosts with a MAC address seen in all.
    pub with_mac: u64,
    /// Hosts without one (counted, never listed).
    pub without_mac: u64,
    /// Endpoints of the pairs `communication.txt` lists, and what is known about them.
    endpoints: HashSet<IpAddr>,
    peers: HashMap<IpAddr, HostInfo>,
}

/// Whether any rule could call the host local: it is kept before the others.
fn maybe_local(h: &HostInfo) -> bool {
    IpClass::of(IpAddr::from(h.ip)).is_local() || h.is_local()
}

impl Kept {
    /// Keeps at most `max` hosts for `devices.txt`, and the hosts among `endpoints`.
    pub fn new(max: usize, endpoints: HashSet<IpAddr>) -> Kept {
        Kept {
            max,
            local: Vec::new(),
            other: Vec::new(),
            with_mac: 0,
            without_mac: 0,
            endpoints,
            peers: HashMap::new(),
        }
    }

    /// Takes one host.
    pub fn offer(&mut self, h: &HostInfo) {
        if self.endpoints.contains(&IpAddr::from(h.ip)) {
            self.peers.insert(h.ip.into(), h.clone());
        }
        if !crate::devices::has_mac(h) {
            self.without_mac += 1;
            return;
        }
        self.with_mac += 1;
        if maybe_local(h) {
            if self.local.len() < self.max {
                if self.local.len() + self.other.len() >= self.max {
                    self.other.pop();
                }
                self.local.push(h.clone());
            }
        } else if self.local.len() + self.other.len() < self.max {
            self.other.push(h.clone());
        }
    }

    /// Hosts with a MAC address not kept for `devices.txt`.
    pub fn left_out(&self) -> u64 {
        self.with_mac - (self.local.len() + self.other.len()) as u64
    }

    /// The hosts for `devices.txt`, sorted by address.
    pub fn for_devices(&mut self) -> Vec<HostInfo> {
        let mut all: Vec<HostInfo> = self.local.drain(..).chain(self.other.drain(..)).collect();
        all.sort_by_key(|h| IpAddr::from(h.ip));
        all
    }

    /// The hosts for `communication.txt`.
    pub fn for_communication(&mut self) -> Vec<HostInfo> {
        let mut all: Vec<HostInfo> = self.peers.drain().map(|(_, h)| h).collect();
        all.sort_by_key(|h| IpAddr::from(h.ip));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::host;

    #[test]
    fn keeps_local_hosts_first_and_counts_the_rest() {
        let mut kept = Kept::new(2, HashSet::from_iter(["8.8.4.4".parse().unwrap()]));
        for ip in ["8.8.4.4", "8.8.8.8", "10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            kept.offer(&host(ip, &[1]));
        }
        assert_eq!(kept.with_mac, 5);
        assert_eq!(kept.left_out(), 3);
        let listed: Vec<String> = kept
            .for_devices()
            .iter()
            .map(|h| IpAddr::from(h.ip).to_string())
            .collect();
        assert_eq!(listed, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(kept.for_communication().len(), 1);
    }
}
