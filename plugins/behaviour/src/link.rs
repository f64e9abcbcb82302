//! Behaviour on the link layer, from the events the host hands over (`analyze-link`): ARP sweeps (one
//! sender asking for many addresses), MAC floods (more source MACs in a few seconds than a segment has
//! devices, or source MACs with the multicast bit, which no device may send from) and DHCP starvation
//! (requests for leases from many client hardware addresses in a short time). Memory is bounded: ARP
//! requests per sender are capped, floods are judged one time bucket at a time with a 1 KiB sketch.

use crate::count::{Distinct, Sample, most_distinct_in_window};
use crate::track::SAMPLE;
use crate::{Behaviour, Config, Evidence};
use pcapxray_plugin_sdk::collections::{HashMap, HashSet};
use pcapxray_plugin_sdk::{LinkBatch, format_mac};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

const NS: u64 = 1_000_000_000;
/// ARP requests kept per sender; senders followed at once; addresses that answered, remembered.
const MAX_REQUESTS: usize = 8192;
const MAX_SENDERS: usize = 16_384;
const MAX_ANSWERED: usize = 65_536;
/// DHCP requests kept for the starvation check.
const MAX_DHCP: usize = 65_536;

/// What the link layer showed so far.
#[derive(Debug, Default)]
pub struct LinkTracker {
    /// Sender address → (time, asked address) of its ARP requests.
    requests: HashMap<Ipv4Addr, Vec<(u64, Ipv4Addr)>>,
    /// Addresses that answered an ARP request (sent a reply).
    answered: HashSet<Ipv4Addr>,
    /// The source-MAC time bucket being counted, and the flood so far.
    bucket: Option<Bucket>,
    flood: Option<Flood>,
    /// (time, client hardware address, frame source MAC) of DHCP DISCOVERs and REQUESTs.
    dhcp: Vec<(u64, u64, Option<u64>)>,
    pub dropped: u64,
}

/// One stretch of `mac_flood_seconds`: its distinct source MACs, those with the multicast bit, a sample.
#[derive(Debug)]
struct Bucket {
    index: u64,
    macs: Distinct,
    multicast: u64,
    sample: Sample<u64>,
}

#[derive(Debug)]
struct Flood {
    first: u64,
    last: u64,
    /// The most distinct source MACs in one bucket.
    peak: u64,
    macs: Distinct,
    multicast: u64,
    sample: Sample<u64>,
    buckets: u64,
}

fn ipv4(ip: &pcapxray_plugin_sdk::IpAddress) -> Option<Ipv4Addr> {
    match IpAddr::from(*ip) {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// The client hardware address and message type of a DHCP DISCOVER (1) or REQUEST (3).
fn dhcp_request(payload: &[u8]) -> Option<(u64, u8)> {
    if payload.len() < 240
        || payload[0] != 1
        || payload[2] != 6
        || payload[236..240] != [99, 130, 83, 99]
    {
        return None;
    }
    let chaddr = payload[28..34]
        .iter()
        .fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let mut i = 240;
    while i + 1 < payload.len() {
        match payload[i] {
            0 => i += 1,
            255 => break,
            53 if payload[i + 1] == 1 && i + 2 < payload.len() => {
                let kind = payload[i + 2];
                return matches!(kind, 1 | 3).then_some((chaddr, kind));
            }
            _ => i += 2 + payload[i + 1] as usize,
        }
    }
    None
}

impl LinkTracker {
    pub fn observe(&mut self, batch: &LinkBatch, config: &Config) {
        for a in &batch.arp {
            let (Some(sender), Some(target)) = (ipv4(&a.sender_ip), ipv4(&a.target_ip)) else {
                continue;
            };
            match a.operation {
                1 if sender != target && !sender.is_unspecified() => {
                    if self.requests.len() >= MAX_SENDERS && !self.requests.contains_key(&sender) {
                        self.dropped += 1;
                        continue;
                    }
                    let list = self.requests.entry(sender).or_default();
                    if list.len() < MAX_REQUESTS {
                        list.push((a.time, target));
                    } else {
                        self.dropped += 1;
                    }
                }
                2 if self.answered.len() < MAX_ANSWERED => {
                    self.answered.insert(sender);
                }
                _ => {}
            }
        }
        for m in &batch.macs {
            self.mac(m.mac, m.first_seen, config);
        }
        for d in &batch.dhcp {
            if let Some((chaddr, _)) = dhcp_request(&d.payload)
                && self.dhcp.len() < MAX_DHCP
            {
                self.dhcp.push((d.time, chaddr, d.source_mac));
            }
        }
    }

    fn mac(&mut self, mac: u64, ts: u64, config: &Config) {
        let index = ts / (config.mac_flood_seconds.max(1) * NS);
        if self.bucket.as_ref().is_none_or(|b| b.index < index) {
            self.close_bucket(config);
            self.bucket = Some(Bucket {
                index,
                macs: Distinct::default(),
                multicast: 0,
                sample: Sample::new(SAMPLE),
            });
        }
        let Some(b) = self.bucket.as_mut() else {
            return;
        };
        b.macs.insert(&mac);
        b.sample.add(&mac);
        // The I/G bit of the first octet: a group address is never a frame's source.
        if (mac >> 40) & 1 == 1 {
            b.multicast += 1;
        }
    }

    /// Judges the bucket being counted and folds it into the flood when it is one.
    fn close_bucket(&mut self, config: &Config) {
        let Some(b) = self.bucket.take() else {
            return;
        };
        let (n, _) = b.macs.count();
        if n < config.mac_flood_macs {
            return;
        }
        let start = b.index * config.mac_flood_seconds * NS;
        let end = start + config.mac_flood_seconds * NS;
        let f = self.flood.get_or_insert_with(|| Flood {
            first: start,
            last: end,
            peak: 0,
            macs: Distinct::default(),
            multicast: 0,
            sample: Sample::new(SAMPLE),
            buckets: 0,
        });
        f.last = end;
        f.peak = f.peak.max(n);
        f.multicast += b.multicast;
        f.buckets += 1;
        f.macs.merge(&b.macs);
        for m in b.sample.items() {
            f.sample.add(m);
        }
    }

    pub fn conclude(&mut self, config: &Config) -> Vec<Evidence> {
        let mut out = Vec::new();
        let mut senders: Vec<_> = self.requests.iter().collect();
        senders.sort_by_key(|(ip, _)| **ip);
        for (sender, requests) in senders {
            if let Some(e) = self.arp_sweep(*sender, requests, config) {
                out.push(e);
            }
        }
        self.close_bucket(config);
        if let Some(f) = &self.flood {
            out.push(mac_flood(f, config));
        }
        if let Some(e) = dhcp_starvation(&mut self.dhcp, config) {
            out.push(e);
        }
        out
    }

    fn arp_sweep(
        &self,
        sender: Ipv4Addr,
        requests: &[(u64, Ipv4Addr)],
        config: &Config,
    ) -> Option<Evidence> {
        let mut events: Vec<(u64, Ipv4Addr)> = requests.to_vec();
        let most = most_distinct_in_window(&mut events, config.window_seconds * NS);
        let targets: HashSet<Ipv4Addr> = requests.iter().map(|(_, t)| *t).collect();
        let unanswered = targets
            .iter()
            .filter(|t| !self.answered.contains(t))
            .count();
        let share = unanswered as f64 / targets.len().max(1) as f64;
        if most < config.arp_sweep_hosts || share < config.min_failed_share {
            return None;
        }
        let mut sample = Sample::new(SAMPLE);
        for (_, t) in requests {
            sample.add(&t.to_string());
        }
        let first = requests.iter().map(|r| r.0).min().unwrap_or(0);
        let last = requests.iter().map(|r| r.0).max().unwrap_or(0);
        Some(Evidence {
            behaviour: Behaviour::ArpSweep,
            actor: IpAddr::V4(sender),
            attempts: requests.len() as u64,
            failed: unanswered as u64,
            rejected: 0,
            targets: targets.len().to_string(),
            ports: 0,
            first,
            last,
            sample_targets: sample.items().to_vec(),
            sample_ports: Vec::new(),
            flows: Vec::new(),
            flow_count: targets.len() as u64,
            reason: format!(
                "{sender} sent {} ARP requests for {} addresses ({most} distinct within {} s, at least {} make a \
                 sweep); {unanswered} of the addresses never answered",
                requests.len(),
                targets.len(),
                config.window_seconds,
                config.arp_sweep_hosts
            ),
            unkept: 0,
        })
    }
}

fn mac_flood(f: &Flood, config: &Config) -> Evidence {
    Evidence {
        behaviour: Behaviour::MacFlood,
        actor: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        attempts: f.peak,
        failed: f.multicast,
        rejected: 0,
        targets: f.macs.words(),
        ports: 0,
        first: f.first,
        last: f.last,
        sample_targets: f.sample.items().iter().map(|m| format_mac(*m)).collect(),
        sample_ports: Vec::new(),
        flows: Vec::new(),
        flow_count: f.buckets,
        reason: format!(
            "up to {} distinct source MAC addresses within {} s ({} such period(s); at least {} make a flood), {} \
             of them with the multicast bit set, which no device sends from: the shape of a CAM-table flood \
             (macof), whose addresses are random, so no sender can be named",
            f.peak, config.mac_flood_seconds, f.buckets, config.mac_flood_macs, f.multicast
        ),
        unkept: 0,
    }
}

fn dhcp_starvation(requests: &mut [(u64, u64, Option<u64>)], config: &Config) -> Option<Evidence> {
    let mut events: Vec<(u64, u64)> = requests.iter().map(|r| (r.0, r.1)).collect();
    let most = most_distinct_in_window(&mut events, config.dhcp_window_seconds * NS);
    if most < config.dhcp_starvation_clients {
        return None;
    }
    let clients: HashSet<u64> = requests.iter().map(|r| r.1).collect();
    let sources: BTreeMap<u64, u64> =
        requests
            .iter()
            .filter_map(|r| r.2)
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s).or_default() += 1;
                m
            });
    let mut sample = Sample::new(SAMPLE);
    for r in requests.iter() {
        sample.add(&format_mac(r.1));
    }
    let spoofed = requests
        .iter()
        .filter(|r| r.2.is_some_and(|s| s != r.1))
        .count();
    let first = requests.iter().map(|r| r.0).min().unwrap_or(0);
    let last = requests.iter().map(|r| r.0).max().unwrap_or(0);
    let by = if sources.len() == 1 {
        format!(
            "all sent from {}",
            format_mac(*sources.keys().next().unwrap_or(&0))
        )
    } else {
        format!("sent from {} source MAC addresses", sources.len())
    };
    Some(Evidence {
        behaviour: Behaviour::DhcpStarvation,
        actor: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        attempts: requests.len() as u64,
        failed: spoofed as u64,
        rejected: 0,
        targets: clients.len().to_string(),
        ports: 0,
        first,
        last,
        sample_targets: sample.items().to_vec(),
        sample_ports: vec!["67/udp".into()],
        flows: Vec::new(),
        flow_count: requests.len() as u64,
        reason: format!(
            "{} DHCP DISCOVER/REQUEST messages for {} client hardware addresses ({most} distinct within {} s, at \
             least {} make starvation), {by}; {spoofed} carry a client address other than their frame's source",
            requests.len(),
            clients.len(),
            config.dhcp_window_seconds,
            config.dhcp_starvation_clients
        ),
        unkept: 0,
    })
}
