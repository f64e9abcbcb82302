//! The end-of-capture decision: from the host table (addresses, the MACs they were sent from, ARP),
//! the TTLs and DHCP messages the plugin collected from the flows, and the facts earlier stages
//! published (names, User-Agents), work out which addresses are machines on the local network, which
//! MAC is the gateway or a router that remote addresses hide behind, and what each LAN machine is:
//! vendor, MAC kind, DHCP identity, OS hint. Free of host calls, so it is tested natively on hand-made
//! host tables and on tables rebuilt from real captures.

use crate::dhcp::Clients;
use crate::os::{self, Evidence};
use crate::oui::{MacKind, Registry};
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt, HashSet};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::{Finding, HostInfo, Outcome, Severity, format_mac};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Initial TTLs of common stacks: a packet that still carries one was sent on this link.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

/// Most distinct TTL values remembered per address.
const MAX_TTLS_PER_HOST: usize = 8;
/// Addresses whose TTLs are remembered.
pub const MAX_TTL_HOSTS: usize = 65_536;

/// The TTLs (IPv6: hop limits) each address sent unicast TCP and UDP flows with, counted by flow.
#[derive(Debug, Default)]
pub struct Ttls {
    by_ip: HashMap<IpAddr, Vec<(u8, u32)>>,
    /// Flows of addresses past [`MAX_TTL_HOSTS`], whose TTL was not kept.
    pub dropped: u64,
}

impl Ttls {
    /// Records that `ip` started sending in a flow with `ttl`.
    pub fn add(&mut self, ip: IpAddr, ttl: u8) {
        if !self.by_ip.contains_key(&ip) && self.by_ip.len() >= MAX_TTL_HOSTS {
            self.dropped += 1;
            return;
        }
        let seen = self.by_ip.entry(ip).or_default();
        if let Some((_, n)) = seen.iter_mut().find(|(t, _)| *t == ttl) {
            *n = n.saturating_add(1);
        } else if seen.len() < MAX_TTLS_PER_HOST {
            seen.push((ttl, 1));
        }
    }

    /// `Some(true)` when `ip` sent a packet with an initial TTL (it is on this link), `Some(false)`
    /// when every TTL it sent was lowered by routers, `None` when none was seen.
    fn initial(&self, ip: &IpAddr) -> Option<bool> {
        let seen = self.by_ip.get(ip)?;
        Some(seen.iter().any(|(t, _)| INITIAL_TTLS.contains(t)))
    }

    /// The initial TTL `ip` used in most flows (several when they tie).
    fn dominant_initial(&self, ip: &IpAddr) -> Vec<u8> {
        let initial: Vec<(u8, u32)> = self
            .by_ip
            .get(ip)
            .map(|s| {
                s.iter()
                    .copied()
                    .filter(|(t, _)| INITIAL_TTLS.contains(t))
                    .collect()
            })
            .unwrap_or_default();
        let most = initial.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let mut v: Vec<u8> = initial
            .into_iter()
            .filter(|(_, n)| *n == most)
            .map(|(t, _)| t)
            .collect();
        v.sort();
        v
    }
}

/// The settings the decision uses.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Distinct public addresses behind one MAC that make it the gateway.
    pub gateway_min_public_ips: usize,
    /// Raise one `device` finding per LAN host.
    pub device_findings: bool,
    /// Publish `os` facts and `device.os` findings.
    pub os_hints: bool,
}

/// Looks a MAC up in the user's registry first, then in the embedded one.
pub struct Vendors<'a> {
    /// The registry from `oui_file`, if any.
    pub user: Option<&'a Registry>,
    /// The embedded registry.
    pub embedded: &'a Registry,
}

impl Vendors<'_> {
    fn lookup(&self, mac: u64) -> Option<&str> {
        self.user
            .and_then(|r| r.lookup(mac))
            .or_else(|| self.embedded.lookup(mac))
    }
}

/// One address as the decision sees it.
#[derive(Debug, Default)]
struct View {
    macs: Vec<u64>,
    /// MACs only DHCP told (not in the host table for this address).
    dhcp_macs: Vec<u64>,
    arp: bool,
    dhcp: bool,
    names: Vec<String>,
    agents: Vec<String>,
    /// Sent a single packet and got nothing back: unless it is named, too little to describe a device
    /// by (a spoofed or flooded source looks exactly like this).
    one_shot: bool,
}

fn unicast(ip: &IpAddr) -> bool {
    let class = IpClass::of(*ip);
    !class.is_group() && class != IpClass::Unspecified
}

/// The network a public address counts as for the gateway test: the address itself for IPv4, its /64
/// for IPv6 (one machine's temporary IPv6 addresses share a /64).
fn network(ip: &IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => *ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(*v6) & !0xffff_ffff_ffff_ffffu128).into()),
    }
}

/// `1 address`, `2 addresses`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn push<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// What a MAC turned out to be.
struct MacRole {
    mac: u64,
    lan: Vec<IpAddr>,
    behind: Vec<IpAddr>,
    public_behind: usize,
}

/// The whole decision. Appends facts and findings to `out` in a stable order: MAC and DHCP facts of
/// the LAN hosts, gateways and routers, then each LAN host's OS hint and summary.
pub fn decide(
    hosts: &[HostInfo],
    ttls: &Ttls,
    dhcp: &Clients,
    vendors: &Vendors<'_>,
    settings: Settings,
    out: &mut Outcome,
) {
    let mut views = views_of(hosts);
    let dhcp_targets = add_dhcp_clients(&mut views, dhcp);
    let locality = Locality::new(&views, ttls);
    let mut roles = mac_roles(&views, &locality);
    let gateway_macs: HashSet<u64> = roles
        .values()
        .filter(|r| r.public_behind >= settings.gateway_min_public_ips)
        .map(|r| r.mac)
        .collect();
    let lan: BTreeSet<IpAddr> = views
        .iter()
        .filter(|(ip, v)| locality.on_lan(ip, v, &gateway_macs))
        .map(|(ip, _)| *ip)
        .collect();
    sort_behind_and_lan(&mut roles, &views, &lan);
    let known = Known {
        views,
        dhcp_targets,
        lan,
        ttls,
        dhcp,
        vendors,
        settings,
    };
    known.mac_facts(out);
    known.dhcp_facts(out);
    let roles_of = known.gateways_and_routers(&roles, &gateway_macs, out);
    known.describe_lan_hosts(&roles_of, out);
}

/// What the decision knows once the LAN is worked out, for the facts and findings that follow.
struct Known<'a, 'v> {
    views: BTreeMap<IpAddr, View>,
    /// The client MACs of each address DHCP handed out or saw a client on.
    dhcp_targets: BTreeMap<IpAddr, Vec<u64>>,
    lan: BTreeSet<IpAddr>,
    ttls: &'a Ttls,
    dhcp: &'a Clients,
    vendors: &'a Vendors<'v>,
    settings: Settings,
}

/// Each address of the host table with its MACs, ARP, names and User-Agents.
fn views_of(hosts: &[HostInfo]) -> BTreeMap<IpAddr, View> {
    let mut views: BTreeMap<IpAddr, View> = BTreeMap::new();
    for h in hosts {
        let ip: IpAddr = h.ip.into();
        let v = views.entry(ip).or_default();
        for &mac in &h.macs {
            push(&mut v.macs, mac);
        }
        v.arp |= h.seen_in_arp;
        v.one_shot = h.packets_sent <= 1 && h.packets_received == 0 && !h.seen_in_arp;
        for n in &h.notes {
            match n.key.as_str() {
                names::host::NAME => push(&mut v.names, n.value.clone()),
                names::http::USER_AGENT => push(&mut v.agents, n.value.clone()),
                _ => {}
            }
        }
    }
    views
}

/// DHCP: marks the address each client ended up with, and the addresses its MAC was seen on, as got
/// by DHCP (adding the client's MAC where the host table lacks it). Returns the client MACs of each
/// such address.
fn add_dhcp_clients(
    views: &mut BTreeMap<IpAddr, View>,
    dhcp: &Clients,
) -> BTreeMap<IpAddr, Vec<u64>> {
    let mut dhcp_targets: BTreeMap<IpAddr, Vec<u64>> = BTreeMap::new();
    let mut by_mac: HashMap<u64, Vec<IpAddr>> = HashMap::new();
    for (ip, v) in views.iter() {
        for &mac in &v.macs {
            by_mac.entry(mac).or_default().push(*ip);
        }
    }
    let mut clients: Vec<(&u64, &crate::dhcp::Client)> = dhcp.by_mac.iter().collect();
    clients.sort_by_key(|(mac, _)| **mac);
    for (mac, client) in clients {
        let mac = *mac;
        let mut targets: Vec<IpAddr> = client.address().map(IpAddr::V4).into_iter().collect();
        for ip in by_mac.get(&mac).into_iter().flatten() {
            if unicast(ip) {
                push(&mut targets, *ip);
            }
        }
        for ip in targets.into_iter().filter(unicast) {
            push(dhcp_targets.entry(ip).or_default(), mac);
            let v = views.entry(ip).or_default();
            v.dhcp = true;
            if !v.macs.contains(&mac) {
                v.macs.push(mac);
                v.dhcp_macs.push(mac);
            }
        }
    }
    dhcp_targets
}

/// What tells an address on this link from a remote one.
///
/// On this link for sure: seen in ARP, given its address by DHCP, link-local (never routed), or
/// sending with an initial TTL. A public address with an initial TTL is local only where the local
/// network itself is public (no private address sends with an initial TTL) or it shares a /24 (/64)
/// with an address seen in ARP or DHCP: a router that does not lower the TTL, or a rewritten capture,
/// otherwise turns an internet server into a LAN device (178.63.41.150 in
/// corrupt_smtp_bad_record_after_18_packets.pcap, issue #10).
struct Locality<'a> {
    ttls: &'a Ttls,
    /// The networks (see [`network`]) of the addresses seen in ARP or DHCP.
    arp_or_dhcp_networks: HashSet<IpAddr>,
    /// Some private address sent with an initial TTL: the local network is private.
    private_lan: bool,
}

impl<'a> Locality<'a> {
    fn new(views: &BTreeMap<IpAddr, View>, ttls: &'a Ttls) -> Locality<'a> {
        let arp_or_dhcp_networks = views
            .iter()
            .filter(|(_, v)| v.arp || v.dhcp)
            .map(|(ip, _)| network(ip))
            .collect();
        let private_lan = views
            .keys()
            .any(|ip| IpClass::of(*ip) == IpClass::Private && ttls.initial(ip) == Some(true));
        Locality {
            ttls,
            arp_or_dhcp_networks,
            private_lan,
        }
    }

    /// Sent with an initial TTL, and that TTL is to be believed (see the type).
    fn ttl_local(&self, ip: &IpAddr) -> bool {
        self.ttls.initial(ip) == Some(true)
            && (IpClass::of(*ip) != IpClass::Public
                || !self.private_lan
                || self.arp_or_dhcp_networks.contains(&network(ip)))
    }

    /// On this link for sure.
    fn evident(&self, ip: &IpAddr, v: &View) -> bool {
        v.arp || v.dhcp || self.ttl_local(ip) || IpClass::of(*ip) == IpClass::LinkLocal
    }

    /// A LAN host: evidently on this link, or at least not shown remote by a lowered TTL and either
    /// not behind the gateway or a private address (the gateway's own, as it is not routed from the
    /// internet).
    fn on_lan(&self, ip: &IpAddr, v: &View, gateway_macs: &HashSet<u64>) -> bool {
        unicast(ip)
            && !v.macs.is_empty()
            && (self.evident(ip, v)
                || (self.ttls.initial(ip) != Some(false)
                    && (IpClass::of(*ip) == IpClass::Private
                        || (!v.macs.iter().any(|m| gateway_macs.contains(m))
                            && (IpClass::of(*ip) != IpClass::Public || !self.private_lan)))))
    }
}

/// Which MACs remote addresses sit behind: every unicast MAC that is not a group or null MAC, with
/// the addresses not evidently local sent from it and how many public networks they make.
fn mac_roles(views: &BTreeMap<IpAddr, View>, locality: &Locality<'_>) -> BTreeMap<u64, MacRole> {
    let mut roles: BTreeMap<u64, MacRole> = BTreeMap::new();
    for (ip, v) in views.iter().filter(|(ip, _)| unicast(ip)) {
        for &mac in &v.macs {
            if matches!(MacKind::of(mac), MacKind::Group | MacKind::Null) {
                continue;
            }
            let role = roles.entry(mac).or_insert_with(|| MacRole {
                mac,
                lan: Vec::new(),
                behind: Vec::new(),
                public_behind: 0,
            });
            if !locality.evident(ip, v) {
                role.behind.push(*ip);
            }
        }
    }
    for role in roles.values_mut() {
        let networks: HashSet<IpAddr> = role
            .behind
            .iter()
            .filter(|ip| IpClass::of(**ip) == IpClass::Public)
            .map(network)
            .collect();
        role.public_behind = networks.len();
    }
    roles
}

/// Once the LAN is known, sorts each MAC's addresses again into LAN addresses and addresses behind
/// it. One pass over the hosts (not one per MAC: a capture has tens of thousands of hosts).
fn sort_behind_and_lan(
    roles: &mut BTreeMap<u64, MacRole>,
    views: &BTreeMap<IpAddr, View>,
    lan: &BTreeSet<IpAddr>,
) {
    for role in roles.values_mut() {
        role.lan.clear();
        role.behind.clear();
    }
    for (ip, v) in views {
        let is_lan = lan.contains(ip);
        if !is_lan && !unicast(ip) {
            continue;
        }
        for mac in &v.macs {
            if let Some(role) = roles.get_mut(mac) {
                // Each (address, MAC) pair comes once: the hosts are distinct and their MACs deduplicated.
                if is_lan {
                    role.lan.push(*ip);
                } else {
                    role.behind.push(*ip);
                }
            }
        }
    }
}

impl Known<'_, '_> {
    /// The MAC facts of the LAN hosts: `network`, `mac` (when only DHCP told it), `mac.kind`, `vendor`.
    fn mac_facts(&self, out: &mut Outcome) {
        for ip in &self.lan {
            let Some(v) = self.views.get(ip) else {
                continue;
            };
            out.fact(*ip, names::host::NETWORK, "local", None);
            for &mac in &v.macs {
                let kind = MacKind::of(mac);
                if v.dhcp_macs.contains(&mac) {
                    out.fact(*ip, names::host::MAC, format_mac(mac), None);
                }
                out.fact(*ip, names::device::MAC_KIND, kind.as_str(), None);
                if let Some(vendor) = self.vendors.lookup(mac) {
                    out.fact(*ip, names::host::VENDOR, vendor, None);
                }
            }
        }
    }

    /// The `dhcp.*` facts of every DHCP client's addresses, and `dhcp.server` of the servers.
    fn dhcp_facts(&self, out: &mut Outcome) {
        let dhcp = self.dhcp;
        for (ip, macs) in &self.dhcp_targets {
            for mac in macs {
                let Some(c) = dhcp.by_mac.get(mac) else {
                    continue;
                };
                for h in &c.hostnames {
                    out.fact(*ip, names::dhcp::HOSTNAME, h.as_str(), None);
                }
                for vc in &c.vendor_classes {
                    out.fact(*ip, names::dhcp::VENDOR_CLASS, vc.as_str(), None);
                }
                for r in &c.requested {
                    out.fact(*ip, names::dhcp::REQUESTED_ADDRESS, r.to_string(), None);
                }
                for id in &c.client_ids {
                    out.fact(*ip, names::dhcp::CLIENT_ID, id.as_str(), None);
                }
                if !c.parameter_list.is_empty() {
                    let list: Vec<String> = c.parameter_list.iter().map(u8::to_string).collect();
                    out.fact(
                        *ip,
                        names::dhcp::PARAMETER_REQUEST_LIST,
                        list.join(","),
                        None,
                    );
                }
                if !c.message_types.is_empty() {
                    let types: Vec<&str> =
                        c.message_types.iter().map(|(_, t)| t.as_str()).collect();
                    out.fact(*ip, names::dhcp::MESSAGE_TYPES, types.join(","), None);
                }
            }
        }
        for server in &dhcp.servers {
            out.fact(IpAddr::V4(*server), names::dhcp::SERVER, "true", None);
        }
    }

    /// Gateways and routers: a `device.gateway` or `device.router` finding per MAC remote addresses sit
    /// behind, one per router the DHCP server hands out, and the `device` facts of their LAN addresses.
    /// Returns the roles of each address (gateway, router, dhcp-server) for the hosts' summaries.
    fn gateways_and_routers(
        &self,
        roles: &BTreeMap<u64, MacRole>,
        gateway_macs: &HashSet<u64>,
        out: &mut Outcome,
    ) -> BTreeMap<IpAddr, Vec<&'static str>> {
        let (views, lan, dhcp) = (&self.views, &self.lan, self.dhcp);
        let dhcp_routers: Vec<IpAddr> = dhcp
            .routers
            .iter()
            .map(|r| IpAddr::V4(*r))
            .filter(|r| views.contains_key(r))
            .collect();
        let mut roles_of: BTreeMap<IpAddr, Vec<&'static str>> = BTreeMap::new();
        let mut gateway_ips: BTreeSet<IpAddr> = BTreeSet::new();
        for role in roles.values() {
            let gateway = gateway_macs.contains(&role.mac);
            // Forwarded addresses that each sent one unanswered packet, from a MAC whose own LAN address
            // was never seen, are too little to call it a router (a MAC flood's random sources each look
            // like that).
            let substantial = role
                .behind
                .iter()
                .any(|ip| views.get(ip).is_none_or(|v| !v.one_shot));
            if !gateway && (role.behind.is_empty() || (!substantial && role.lan.is_empty())) {
                continue;
            }
            // A router is shown by what it forwards: addresses whose packets arrive with a lowered
            // TTL, or, from a MAC with no LAN address of its own, any address not evidently local.
            // A MAC that has a LAN address and sends another address with an unlowered TTL is that
            // device's own (a dual-stack laptop's global IPv6 address), not something it forwards.
            let forwarded: Vec<IpAddr> = role
                .behind
                .iter()
                .filter(|ip| gateway || role.lan.is_empty() || self.ttls.initial(ip) == Some(false))
                .copied()
                .collect();
            if forwarded.is_empty() {
                continue;
            }
            let forwarded = &forwarded;
            out.push(self.router_finding(role, forwarded, gateway, &dhcp_routers));
            for ip in &role.lan {
                if gateway {
                    gateway_ips.insert(*ip);
                    out.fact(*ip, names::host::DEVICE, "gateway", None);
                    push(roles_of.entry(*ip).or_default(), "gateway");
                } else {
                    out.fact(*ip, names::host::DEVICE, "router", None);
                    push(roles_of.entry(*ip).or_default(), "router");
                }
            }
        }
        for ip in dhcp_routers {
            if gateway_ips.contains(&ip) || !lan.contains(&ip) {
                continue;
            }
            out.push(
                Finding::on_host(ip, names::device::GATEWAY, Severity::Info)
                    .summary(format!(
                        "{ip} is the gateway the DHCP server hands out (option 3)"
                    ))
                    .attr(
                        names::common::REASON,
                        "the DHCP server names it as router (option 3)",
                    )
                    .confidence(80),
            );
            out.fact(ip, names::host::DEVICE, "gateway", None);
            push(roles_of.entry(ip).or_default(), "gateway");
        }
        for server in &dhcp.servers {
            push(
                roles_of.entry(IpAddr::V4(*server)).or_default(),
                "dhcp-server",
            );
        }
        roles_of
    }

    /// The `device.gateway` (`gateway`) or `device.router` finding of one MAC, on its LAN address when
    /// one was seen (more confident when the DHCP server names that address as router); `forwarded`
    /// are the remote addresses it stands on.
    fn router_finding(
        &self,
        role: &MacRole,
        forwarded: &[IpAddr],
        gateway: bool,
        dhcp_routers: &[IpAddr],
    ) -> Finding {
        let (vendor, settings) = (self.vendors.lookup(role.mac), self.settings);
        let mut examples: Vec<String> = forwarded.iter().take(5).map(|i| i.to_string()).collect();
        if forwarded.len() > 5 {
            examples.push("…".into());
        }
        let mac_text = format_mac(role.mac);
        let who = match (vendor, MacKind::of(role.mac)) {
            (Some(v), _) => format!("{mac_text} ({v})"),
            (None, MacKind::Universal) => format!("{mac_text} (vendor unknown)"),
            (None, kind) => format!("{mac_text} ({})", kind.as_str()),
        };
        let (tag, confidence, what, reason) = if gateway {
            (
                names::device::GATEWAY,
                90,
                "the gateway",
                format!(
                    "{} public networks were reached through this MAC (at least {} make a gateway)",
                    role.public_behind, settings.gateway_min_public_ips
                ),
            )
        } else {
            (
                names::device::ROUTER,
                60,
                "a router",
                self.forwarding_reason(forwarded),
            )
        };
        let lan_ip = role
            .lan
            .iter()
            .min_by_key(|ip| (ip.is_ipv6(), IpClass::of(**ip) != IpClass::Private, **ip))
            .copied();
        let mut finding = match lan_ip {
            Some(ip) => Finding::on_host(ip, tag, Severity::Info).summary(format!(
                "{ip} is {what}: MAC {who} forwards traffic of {}",
                count(forwarded.len(), "remote address", "remote addresses")
            )),
            None => Finding::on_capture(tag, Severity::Info).summary(format!(
                "MAC {who} is {what} (its LAN address was not seen): it forwards traffic of {}",
                count(forwarded.len(), "remote address", "remote addresses")
            )),
        };
        finding = finding
            .attr(names::host::MAC, mac_text)
            .attr(names::device::MAC_KIND, MacKind::of(role.mac).as_str());
        if let Some(v) = vendor {
            finding = finding.attr(names::host::VENDOR, v);
        }
        let mut confidence = confidence;
        let mut reason = reason;
        if let Some(ip) = lan_ip
            && dhcp_routers.contains(&ip)
        {
            confidence = 95;
            reason.push_str("; the DHCP server names it as router (option 3)");
        }
        finding
            .attr(names::device::REMOTE_ADDRESSES, forwarded.len().to_string())
            .attr(names::device::EXAMPLES, examples.join(","))
            .attr(names::common::REASON, reason)
            .confidence(confidence)
    }

    /// Why a MAC is said to forward `forwarded`: how many arrive with router-lowered TTLs, and how
    /// many others are public addresses of a private LAN or arrive without a TTL to judge by.
    fn forwarding_reason(&self, forwarded: &[IpAddr]) -> String {
        let lowered = forwarded
            .iter()
            .filter(|ip| self.ttls.initial(ip) == Some(false))
            .count();
        let was = |n: usize| if n == 1 { "was" } else { "were" };
        let mut parts = Vec::new();
        if lowered > 0 {
            parts.push(format!(
                "{} whose packets arrive with router-lowered TTLs {} sent from this MAC",
                count(lowered, "address", "addresses"),
                was(lowered)
            ));
        }
        let other = forwarded.len() - lowered;
        if other > 0 {
            parts.push(format!(
                "{} not evidently on this link (a public address on a private LAN, seen in neither \
                 ARP nor DHCP, or without a TTL to judge by) {} sent from this MAC, which has no LAN \
                 address of its own",
                count(other, "address", "addresses"),
                was(other)
            ));
        }
        parts.join("; ")
    }

    /// OS hints and the per-host summary of every LAN host. When most LAN addresses sent one unanswered
    /// packet and have no name, and there are many of them, they are flood or spoofing noise, not devices
    /// to describe: they are counted in a run note instead.
    fn describe_lan_hosts(
        &self,
        roles_of: &BTreeMap<IpAddr, Vec<&'static str>>,
        out: &mut Outcome,
    ) {
        let (lan, views, settings) = (&self.lan, &self.views, self.settings);
        let silent = |v: &View| v.one_shot && !v.dhcp && v.names.is_empty();
        let silent_count = lan
            .iter()
            .filter(|ip| views.get(*ip).is_some_and(silent))
            .count();
        let flooded = silent_count > FLOOD_MIN_SILENT && silent_count * 2 > lan.len();
        let mut one_shots = 0u64;
        for ip in lan {
            let Some(v) = views.get(ip) else { continue };
            if flooded && silent(v) {
                one_shots += 1;
                continue;
            }
            let (evidence, dhcp_names) = self.os_evidence(ip, v);
            let hint = if settings.os_hints {
                os::conclude(&evidence)
            } else {
                None
            };
            if let Some(hint) = &hint {
                out.fact(*ip, names::host::OS, hint.family.name(), None);
                out.fact(
                    *ip,
                    names::device::OS_EVIDENCE,
                    hint.supporting.join("; "),
                    None,
                );
                let mut finding = Finding::on_host(*ip, names::device::OS, Severity::Info)
                    .summary(format!(
                        "{ip} probably runs {} ({})",
                        hint.family.name(),
                        hint.supporting.join("; ")
                    ))
                    .attr(names::host::OS, hint.family.name())
                    .attr(names::device::EVIDENCE, hint.supporting.join("; "))
                    .confidence(hint.confidence);
                if !hint.conflicting.is_empty() {
                    finding = finding.attr(names::device::CONFLICTING, hint.conflicting.join("; "));
                }
                out.push(finding);
            }
            if settings.device_findings {
                out.push(device_finding(
                    *ip,
                    v,
                    &dhcp_names,
                    hint.as_ref().map(|h| h.family.name()),
                    roles_of.get(ip).map(Vec::as_slice).unwrap_or_default(),
                    self.vendors,
                ));
            }
        }
        if one_shots > 0 {
            out.note(
            pcapxray_plugin_sdk::RunNote::info(
                names::device::NOTE_ONE_PACKET_HOSTS,
                format!(
                    "{one_shots} of {} LAN addresses sent a single packet that nothing answered and \
                     have no name, as flooded or spoofed sources do; they are listed as hosts but not \
                     described as devices one by one",
                    lan.len()
                ),
            )
            .attr(names::device::NOTE_HOSTS, one_shots.to_string()),
        );
        }
    }

    /// What hints at the OS of a LAN host (its DHCP messages, User-Agents, initial TTL), and the names
    /// its DHCP messages gave.
    fn os_evidence(&self, ip: &IpAddr, v: &View) -> (Vec<Evidence>, Vec<String>) {
        let (ttls, dhcp) = (self.ttls, self.dhcp);
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut dhcp_names: Vec<String> = Vec::new();
        for mac in self.dhcp_targets.get(ip).into_iter().flatten() {
            if let Some(c) = dhcp.by_mac.get(mac) {
                evidence.extend(
                    c.vendor_classes
                        .iter()
                        .filter_map(|vc| os::from_vendor_class(vc)),
                );
                evidence.extend(os::from_parameter_list(&c.parameter_list));
                if let Some(e) = c.ttl.and_then(os::from_ttl) {
                    evidence.push(Evidence {
                        what: format!("{} in its DHCP messages", e.what),
                        ..e
                    });
                }
                dhcp_names.extend(c.hostnames.iter().cloned());
            }
        }
        evidence.extend(v.agents.iter().filter_map(|a| os::from_user_agent(a)));
        evidence.extend(
            ttls.dominant_initial(ip)
                .into_iter()
                .filter_map(os::from_ttl),
        );
        (evidence, dhcp_names)
    }
}

/// LAN addresses that each sent one unanswered packet and have no name, past which (when they are also
/// most of the LAN) they are taken for a flood and not described one by one.
const FLOOD_MIN_SILENT: usize = 64;

/// The one-line summary of a LAN host.
fn device_finding(
    ip: IpAddr,
    v: &View,
    dhcp_names: &[String],
    os: Option<&str>,
    roles: &[&str],
    vendors: &Vendors<'_>,
) -> Finding {
    let macs: Vec<String> = v.macs.iter().map(|m| format_mac(*m)).collect();
    let mut vendor_list: Vec<&str> = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    for &mac in &v.macs {
        push(&mut kinds, MacKind::of(mac).as_str());
        if let Some(name) = vendors.lookup(mac) {
            push(&mut vendor_list, name);
        }
    }
    let mut names: Vec<String> = dhcp_names.to_vec();
    for n in &v.names {
        push(&mut names, n.clone());
    }
    names.truncate(5);
    let what = if !vendor_list.is_empty() {
        vendor_list.join(" | ")
    } else if kinds.contains(&"locally-administered") {
        "locally administered MAC".to_string()
    } else {
        "unknown vendor".to_string()
    };
    let mut summary = format!("{ip}: {what} ({})", macs.join(", "));
    if !names.is_empty() {
        summary.push_str(&format!(", named {}", names.join(", ")));
    }
    if let Some(os) = os {
        summary.push_str(&format!(", {os}"));
    }
    if !roles.is_empty() {
        summary.push_str(&format!(", {}", roles.join(", ")));
    }
    let mut finding = Finding::on_host(ip, names::device::TAG, Severity::Info)
        .summary(summary)
        .attr(names::device::MACS, macs.join(","))
        .attr(names::device::MAC_KINDS, kinds.join(","));
    if !vendor_list.is_empty() {
        finding = finding.attr(names::host::VENDOR, vendor_list.join(" | "));
    }
    if !names.is_empty() {
        finding = finding.attr(names::device::NAMES, names.join(","));
    }
    if let Some(os) = os {
        finding = finding.attr(names::host::OS, os);
    }
    if !roles.is_empty() {
        finding = finding.attr(names::device::ROLES, roles.join(","));
    }
    finding
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::oui::parse_mac;
    use pcapxray_plugin_sdk::HostNote;

    pub const SETTINGS: Settings = Settings {
        gateway_min_public_ips: 3,
        device_findings: true,
        os_hints: true,
    };

    pub fn host(ip: &str, macs: &[&str], arp: bool, notes: &[(&str, &str)]) -> HostInfo {
        HostInfo {
            ip: ip.parse::<IpAddr>().unwrap().into(),
            macs: macs.iter().map(|m| parse_mac(m).unwrap()).collect(),
            first_seen: 1,
            last_seen: 2,
            packets_sent: 1,
            packets_received: 1,
            bytes_sent: 1,
            bytes_received: 1,
            seen_in_arp: arp,
            notes: notes
                .iter()
                .map(|(k, v)| HostNote {
                    stage: "web".into(),
                    key: (*k).into(),
                    value: (*v).into(),
                    observed: None,
                })
                .collect(),
        }
    }

    pub fn run(hosts: &[HostInfo], ttls: &Ttls, dhcp: &Clients) -> Outcome {
        let mut out = Outcome::default();
        let vendors = Vendors {
            user: None,
            embedded: Registry::embedded(),
        };
        decide(hosts, ttls, dhcp, &vendors, SETTINGS, &mut out);
        out
    }

    pub fn facts_of(out: &Outcome, ip: &str) -> Vec<(String, String)> {
        out.host_facts
            .iter()
            .filter(|f| f.host.to_string() == ip)
            .map(|f| (f.key.clone(), f.value.clone()))
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A home network: a router (Hon Hai) with public addresses behind it, a laptop, a phone with a
    /// random MAC.
    fn home() -> (Vec<HostInfo>, Ttls) {
        let router = "54:13:79:f3:66:d2";
        let hosts = vec![
            host("192.168.0.1", &[router], true, &[]),
            host(
                "192.168.0.6",
                &["78:4f:43:59:c1:6f"],
                true,
                &[(
                    "http.user-agent",
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_1) AppleWebKit/604.3.5",
                )],
            ),
            host(
                "192.168.0.9",
                &["a6:83:e7:0c:90:64"],
                false,
                &[("name", "phone.local")],
            ),
            host("158.69.204.36", &[router], false, &[]),
            host("209.18.47.61", &[router], false, &[]),
            host("2607:f8b0:4006:800::2008", &[router], false, &[]),
            host("2607:f8b0:4006:802::200e", &[router], false, &[]),
            host("224.0.0.251", &[], false, &[]),
        ];
        let mut ttls = Ttls::default();
        ttls.add(ip("192.168.0.1"), 64);
        ttls.add(ip("192.168.0.6"), 64);
        ttls.add(ip("192.168.0.9"), 64);
        ttls.add(ip("158.69.204.36"), 52);
        ttls.add(ip("209.18.47.61"), 57);
        (hosts, ttls)
    }

    #[test]
    fn finds_the_gateway_and_describes_the_lan_hosts() {
        let (hosts, ttls) = home();
        let out = run(&hosts, &ttls, &Clients::default());
        let gateway: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.tag == "device.gateway")
            .collect();
        assert_eq!(gateway.len(), 1);
        assert_eq!(
            format!("{:?}", gateway[0].subject),
            format!(
                "{:?}",
                pcapxray_plugin_sdk::Subject::Host(ip("192.168.0.1").into())
            )
        );
        assert_eq!(
            gateway[0].get("vendor"),
            Some("Hon Hai Precision Ind. Co.,Ltd.")
        );
        assert_eq!(gateway[0].get("remote-addresses"), Some("4"));
        assert!(facts_of(&out, "192.168.0.1").contains(&("device".into(), "gateway".into())));
        // Remote addresses get no vendor: the MAC is the router's.
        assert!(facts_of(&out, "158.69.204.36").is_empty());
        assert!(facts_of(&out, "2607:f8b0:4006:800::2008").is_empty());
        let laptop = facts_of(&out, "192.168.0.6");
        assert!(laptop.contains(&("vendor".into(), "Apple, Inc.".into())));
        assert!(laptop.contains(&("mac.kind".into(), "universal".into())));
        assert!(laptop.contains(&("os".into(), "macOS".into())));
        let phone = facts_of(&out, "192.168.0.9");
        assert!(phone.contains(&("mac.kind".into(), "locally-administered".into())));
        assert!(phone.iter().all(|(k, _)| k != "vendor"));
        let devices: Vec<&Finding> = out.findings.iter().filter(|f| f.tag == "device").collect();
        assert_eq!(devices.len(), 3);
        let phone_device = devices
            .iter()
            .find(|f| f.get("macs") == Some("a6:83:e7:0c:90:64"))
            .unwrap();
        assert_eq!(
            phone_device.summary,
            "192.168.0.9: locally administered MAC (a6:83:e7:0c:90:64), named phone.local, Unix-like"
        );
        let os: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.tag == "device.os")
            .collect();
        assert_eq!(os.len(), 3);
        assert!(os.iter().all(|f| f.confidence < 100));
    }

    #[test]
    fn a_single_remote_server_behind_a_router_gives_a_router_finding() {
        // http_get_bro_org.pcap: the client and bro.org, whose packets arrive with TTL 47.
        let hosts = vec![
            host("141.142.228.5", &["c8:bc:c8:96:d2:a0"], false, &[]),
            host("192.150.187.43", &["00:10:db:88:d2:ef"], false, &[]),
        ];
        let mut ttls = Ttls::default();
        ttls.add(ip("141.142.228.5"), 64);
        ttls.add(ip("192.150.187.43"), 47);
        let out = run(&hosts, &ttls, &Clients::default());
        let router: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.tag == "device.router")
            .collect();
        assert_eq!(router.len(), 1);
        assert_eq!(router[0].get("vendor"), Some("Juniper Networks"));
        assert_eq!(router[0].get("examples"), Some("192.150.187.43"));
        assert!(matches!(
            router[0].subject,
            pcapxray_plugin_sdk::Subject::Capture
        ));
        assert!(facts_of(&out, "192.150.187.43").is_empty());
        assert!(facts_of(&out, "141.142.228.5").contains(&("vendor".into(), "Apple, Inc.".into())));
    }

    #[test]
    fn the_gateway_threshold_is_configurable_and_ipv6_counts_per_64() {
        let (hosts, ttls) = home();
        let mut out = Outcome::default();
        let vendors = Vendors {
            user: None,
            embedded: Registry::embedded(),
        };
        let strict = Settings {
            gateway_min_public_ips: 5,
            ..SETTINGS
        };
        decide(
            &hosts,
            &ttls,
            &Clients::default(),
            &vendors,
            strict,
            &mut out,
        );
        assert!(out.findings.iter().all(|f| f.tag != "device.gateway"));
        assert!(out.findings.iter().any(|f| f.tag == "device.router"));
        // One laptop with three temporary addresses in one /64 is not a gateway.
        let laptop = vec![
            host("2001:db8:1:2::10", &["78:4f:43:59:c1:6f"], false, &[]),
            host("2604:2000:71d6:400::1", &["78:4f:43:59:c1:6f"], false, &[]),
            host("2604:2000:71d6:400::2", &["78:4f:43:59:c1:6f"], false, &[]),
            host("2604:2000:71d6:400::3", &["78:4f:43:59:c1:6f"], false, &[]),
        ];
        let out = run(&laptop, &Ttls::default(), &Clients::default());
        assert!(out.findings.iter().all(|f| f.tag != "device.gateway"));
    }

    #[test]
    fn a_dual_stack_laptop_sending_its_global_ipv6_address_is_no_router() {
        // mixed_pcapxray_malicious_traffic.pcap: the laptop 192.168.0.6 also sends from its global
        // IPv6 address, with hop limit 64 from its own MAC; the gateway's MAC brings packets of remote
        // servers with lowered hop limits.
        let hosts = vec![
            host("192.168.0.6", &["78:4f:43:59:c1:6f"], false, &[]),
            host(
                "2604:2000:71d6:400:3cc2:834:5d8e:c6bd",
                &["78:4f:43:59:c1:6f"],
                false,
                &[],
            ),
            host(
                "2607:f8b0:4006:819::200e",
                &["54:13:79:f3:66:d2"],
                false,
                &[],
            ),
        ];
        let mut ttls = Ttls::default();
        ttls.add(ip("192.168.0.6"), 64);
        ttls.add(ip("2604:2000:71d6:400:3cc2:834:5d8e:c6bd"), 64);
        ttls.add(ip("2607:f8b0:4006:819::200e"), 55);
        let out = run(&hosts, &ttls, &Clients::default());
        let routers: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.tag == "device.router" || f.tag == "device.gateway")
            .collect();
        assert_eq!(routers.len(), 1, "{routers:?}");
        assert_eq!(routers[0].get("mac"), Some("54:13:79:f3:66:d2"));
        assert_eq!(routers[0].get("examples"), Some("2607:f8b0:4006:819::200e"));
        assert!(!facts_of(&out, "192.168.0.6").contains(&("device".into(), "router".into())));
    }
}
