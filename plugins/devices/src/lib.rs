//! # pcapxray `devices` analyzer
//!
//! Says what the machines of a capture are. From the host table it takes the MAC addresses each IP
//! was sent from and looks their vendors up in the IEEE registry (MA-L, MA-M, MA-S; longest prefix),
//! marking locally administered (often randomised) and group MACs instead; from the flows it reads
//! DHCPv4 (host name, vendor class, client id, requested address, parameter request list) and the
//! initial TTLs hosts send with; with the facts earlier stages published (User-Agents from `web`,
//! names from `web` and `dns`) it finds the gateway (the MAC many public addresses hide behind),
//! routers, and an OS hint per LAN host with its evidence. Everything is decided in `finish`, when the
//! host table is complete.
//!
//! The decisions live in plain modules (`oui`, `dhcp`, `os`, `inventory`) that make no host calls and
//! are tested natively; this file holds the configuration, the per-flow collection and the SDK glue.

mod busiest;
#[cfg(test)]
mod captures;
mod dhcp;
mod inventory;
mod os;
mod oui;

/// Entry points for the fuzz targets in `tests/fuzz`: the parsers, called natively exactly as the
/// analyzer calls them. Not part of the plugin's interface.
#[doc(hidden)]
pub mod fuzz {
    use std::net::Ipv4Addr;

    /// One UDP datagram as a DHCPv4 message, folded into the client table as the analyzer does.
    pub fn dhcp(datagram: &[u8]) {
        if let Some(summary) = crate::dhcp::parse(datagram) {
            let mut clients = crate::dhcp::Clients::default();
            clients.add(&summary, 64, Some(Ipv4Addr::new(192, 0, 2, 1)));
        }
    }
}

use dhcp::Clients;
use inventory::{Settings, Ttls, Vendors};
use oui::Registry;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Flow, HostInfo, Outcome, PluginError, export_analyzer, files, hosts, log,
};
use serde::Deserialize;
use std::net::IpAddr;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A newer MAC registry to use before the embedded one: the TSV `config/data/update-oui.sh`
    /// writes, or an IEEE CSV. Read through the `files` capability (grant its path).
    pub oui_file: Option<String>,
    /// Distinct public addresses (IPv6: /64 networks) behind one MAC that make it the gateway.
    pub gateway_min_public_ips: usize,
    /// Raise one `device` finding per LAN host.
    pub device_findings: bool,
    /// Publish `os` facts and `device.os` findings.
    pub os_hints: bool,
    /// Most hosts examined (the busiest; the rest are counted in a run note).
    pub max_hosts: usize,
}

/// Default of `max_hosts`: far above a LAN's machines, a bounded slice of a flood.
pub const DEFAULT_MAX_HOSTS: usize = 8192;

impl Default for Config {
    fn default() -> Config {
        Config {
            oui_file: None,
            gateway_min_public_ips: 3,
            device_findings: true,
            os_hints: true,
            max_hosts: DEFAULT_MAX_HOSTS,
        }
    }
}

fn config_error(key: &str, message: impl Into<String>) -> PluginError {
    PluginError::Config(vec![ConfigError {
        key: key.into(),
        message: message.into(),
    }])
}

/// The analyzer.
pub struct Devices {
    config: Config,
    user_registry: Option<Registry>,
    ttls: Ttls,
    dhcp: Clients,
    dhcp_messages: u64,
}

impl Devices {
    /// Builds the plugin with an already-read user registry (tests, and `new` after reading the file).
    fn with_registry(
        config: Config,
        user_registry: Option<Registry>,
    ) -> Result<Devices, PluginError> {
        if !(1..=1_000_000).contains(&config.gateway_min_public_ips) {
            return Err(config_error(
                "gateway_min_public_ips",
                format!(
                    "must be between 1 and 1000000, not {}",
                    config.gateway_min_public_ips
                ),
            ));
        }
        if !(1..=10_000_000).contains(&config.max_hosts) {
            return Err(config_error(
                "max_hosts",
                format!("must be between 1 and 10000000, not {}", config.max_hosts),
            ));
        }
        Ok(Devices {
            config,
            user_registry,
            ttls: Ttls::default(),
            dhcp: Clients::default(),
            dhcp_messages: 0,
        })
    }

    /// Collects TTLs and DHCP messages from a batch.
    pub fn collect(&mut self, flows: &[Flow]) {
        for flow in flows {
            if !flow.is_tcp() && !flow.is_udp() {
                continue;
            }
            let (client, server) = (flow.client_ip(), flow.server_ip());
            let unicast = |ip: IpAddr| {
                let class = IpClass::of(ip);
                !class.is_group() && class != IpClass::Unspecified
            };
            // The TTL a host sends with, from packets to one machine. Link-local protocols prescribe
            // their own TTLs even when unicast (mDNS 255, LLMNR, SSDP, DHCP relays), so they say
            // nothing about the OS.
            let ports = [flow.client.port, flow.server.port];
            let prescribed = ports
                .iter()
                .any(|p| matches!(p, 67 | 68 | 546 | 547 | 1900 | 5353 | 5355));
            if !prescribed && unicast(server) && unicast(client) {
                if flow.to_server.packets > 0 {
                    self.ttls.add(client, flow.to_server.ttl);
                }
                if flow.to_client.packets > 0 {
                    self.ttls.add(server, flow.to_client.ttl);
                }
            }
            if flow.is_udp() && ports.contains(&67) && ports.contains(&68) {
                for (direction, sender) in [(&flow.to_server, client), (&flow.to_client, server)] {
                    let sender = match sender {
                        IpAddr::V4(v4) => Some(v4),
                        IpAddr::V6(_) => None,
                    };
                    for datagram in direction.messages() {
                        if let Some(summary) = dhcp::parse(datagram) {
                            self.dhcp_messages += 1;
                            self.dhcp.add(&summary, direction.ttl, sender);
                        }
                    }
                }
            }
        }
    }

    /// Decides everything from the complete host table.
    pub fn conclude(&self, hosts: &[HostInfo], out: &mut Outcome) {
        let vendors = Vendors {
            user: self.user_registry.as_ref(),
            embedded: Registry::embedded(),
        };
        let settings = Settings {
            gateway_min_public_ips: self.config.gateway_min_public_ips,
            device_findings: self.config.device_findings,
            os_hints: self.config.os_hints,
        };
        inventory::decide(hosts, &self.ttls, &self.dhcp, &vendors, settings, out);
        if self.ttls.dropped > 0 {
            out.note(
                pcapxray_plugin_sdk::RunNote::warning(
                    names::device::NOTE_TTL_LIMIT,
                    format!(
                        "TTLs were kept for the first {} addresses only; {} flows of further addresses \
                         gave no TTL, so those addresses got no on-link test or OS hint from it",
                        inventory::MAX_TTL_HOSTS,
                        self.ttls.dropped
                    ),
                )
                .attr(names::common::LIMIT, inventory::MAX_TTL_HOSTS.to_string())
                .attr(names::common::DROPPED, self.ttls.dropped.to_string()),
            );
        }
        if self.dhcp.dropped > 0 {
            out.note(
                pcapxray_plugin_sdk::RunNote::warning(
                    names::device::NOTE_DHCP_LIMIT,
                    format!(
                        "DHCP clients were kept for the first {} hardware addresses only; {} messages of \
                         further clients were not read",
                        dhcp::MAX_CLIENTS,
                        self.dhcp.dropped
                    ),
                )
                .attr(names::common::LIMIT, dhcp::MAX_CLIENTS.to_string())
                .attr(names::common::DROPPED, self.dhcp.dropped.to_string()),
            );
        }
    }
}

/// The run note for a capture with more hosts than `max_hosts`.
fn host_limit_note(seen: u64, left_out: u64, max: usize) -> pcapxray_plugin_sdk::RunNote {
    pcapxray_plugin_sdk::RunNote::warning(
        names::device::NOTE_HOST_LIMIT,
        format!(
            "devices examined the {max} busiest of {seen} hosts (most packets, named hosts first); \
             {left_out} others were not looked at, so they got no vendor, LAN, gateway or OS facts and \
             the gateway and router counts leave them out (config max_hosts raises the bound)"
        ),
    )
    .attr(names::common::LIMIT, max.to_string())
    .attr("hosts", seen.to_string())
    .attr("left_out", left_out.to_string())
}

impl Analyzer for Devices {
    const NAME: &'static str = "devices";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Names the vendors of MAC addresses (IEEE registry), reads DHCP, finds the gateway and gives OS hints for the machines on the local network.";
    type Config = Config;

    fn new(config: Config) -> Result<Devices, PluginError> {
        let user_registry = match &config.oui_file {
            None => None,
            Some(path) => {
                let bytes = files::read(path).map_err(|e| {
                    config_error(
                        "oui_file",
                        format!("cannot read `{path}` ({}): {}", e.kind(), e.message()),
                    )
                })?;
                let text = String::from_utf8_lossy(&bytes);
                let registry = Registry::parse(&text).map_err(|bad| {
                    config_error(
                        "oui_file",
                        format!("`{path}` line {}: {}", bad.line, bad.message),
                    )
                })?;
                log::info(&format!(
                    "Read {} MAC address blocks from {path}; they take precedence over the built-in registry.",
                    registry.len()
                ));
                Some(registry)
            }
        };
        Devices::with_registry(config, user_registry)
    }

    fn analyze(&mut self, flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        self.collect(flows);
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let mut busiest = busiest::Busiest::new(self.config.max_hosts);
        for host in hosts::pages().flatten() {
            busiest.offer(host);
        }
        let (seen, left_out) = (busiest.seen, busiest.left_out());
        let hosts = busiest.into_sorted();
        self.conclude(&hosts, out);
        if left_out > 0 {
            out.note(host_limit_note(seen, left_out, self.config.max_hosts));
        }
        let count = |tag: &str| out.findings.iter().filter(|f| f.tag == tag).count();
        log::info(&format!(
            "Described {} LAN hosts ({} gateways, {} routers, {} OS hints) from {} hosts and {} DHCP messages.",
            count("device"),
            count(names::device::GATEWAY),
            count(names::device::ROUTER),
            count(names::device::OS),
            seen,
            self.dhcp_messages
        ));
        Ok(())
    }
}

export_analyzer!(Devices);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::tests::{MAC, message};
    use crate::inventory::tests::{facts_of, host};
    use dhcproto::v4::{DhcpOption, MessageType};
    use std::net::Ipv4Addr;

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_and_checks_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"oui_file": "/data/oui.csv", "gateway_min_public_ips": 5}"#).unwrap();
        assert_eq!(c.oui_file.as_deref(), Some("/data/oui.csv"));
        assert_eq!(c.gateway_min_public_ips, 5);
        assert!(config(r#"{"oui": "x"}"#).is_err());
        let zero = Config {
            gateway_min_public_ips: 0,
            ..Config::default()
        };
        assert!(
            matches!(Devices::with_registry(zero, None), Err(PluginError::Config(e)) if e[0].key == "gateway_min_public_ips")
        );
    }

    #[test]
    fn past_its_ttl_bound_it_says_so_in_a_run_note() {
        let mut devices = Devices::with_registry(Config::default(), None).unwrap();
        let extra = 10u32;
        for i in 0..inventory::MAX_TTL_HOSTS as u32 + extra {
            devices
                .ttls
                .add(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 64);
        }
        let mut out = Outcome::default();
        devices.conclude(&[], &mut out);
        let note = out
            .notes
            .iter()
            .find(|n| n.key == "devices.ttl-limit")
            .expect("a run note");
        assert_eq!(note.get("dropped"), Some(extra.to_string().as_str()));
        // Below the bound: no note.
        let mut out = Outcome::default();
        Devices::with_registry(Config::default(), None)
            .unwrap()
            .conclude(&[], &mut out);
        assert!(out.notes.is_empty());
    }

    #[test]
    fn a_user_registry_takes_precedence() {
        let user = Registry::parse("90B11C\tDell (from the user's file)\n").unwrap();
        let devices = Devices::with_registry(Config::default(), Some(user)).unwrap();
        let mut out = Outcome::default();
        devices.conclude(
            &[host("10.0.0.5", &["90:b1:1c:99:49:29"], true, &[])],
            &mut out,
        );
        assert!(
            facts_of(&out, "10.0.0.5")
                .contains(&("vendor".into(), "Dell (from the user's file)".into()))
        );
    }

    #[test]
    fn dhcp_facts_land_on_the_address_the_client_got() {
        let mut devices = Devices::with_registry(Config::default(), None).unwrap();
        let request = message(
            true,
            MAC,
            MessageType::Request,
            [0; 4],
            vec![
                DhcpOption::Hostname("btest.is.cool".into()),
                DhcpOption::ClassIdentifier(b"MSFT 5.0".to_vec()),
                DhcpOption::RequestedIpAddress(Ipv4Addr::new(128, 2, 6, 189)),
            ],
        );
        let ack = message(false, MAC, MessageType::Ack, [128, 2, 6, 189], vec![]);
        devices.collect(&[crate::captures::udp_flow(
            ("0.0.0.0", 68),
            ("255.255.255.255", 67),
            &[&request],
            &[],
        )]);
        devices.collect(&[crate::captures::udp_flow(
            ("128.2.6.189", 68),
            ("128.2.6.152", 67),
            &[],
            &[&ack],
        )]);
        let hosts = [
            host("0.0.0.0", &["90:b1:1c:99:49:29"], false, &[]),
            host("128.2.6.152", &["00:0c:29:40:0e:ef"], false, &[]),
            host("128.2.6.189", &[], false, &[]),
        ];
        let mut out = Outcome::default();
        devices.conclude(&hosts, &mut out);
        let facts = facts_of(&out, "128.2.6.189");
        for (k, v) in [
            ("dhcp.hostname", "btest.is.cool"),
            ("dhcp.vendor-class", "MSFT 5.0"),
            ("dhcp.requested-address", "128.2.6.189"),
            ("dhcp.message-types", "REQUEST,ACK"),
            ("mac", "90:b1:1c:99:49:29"),
            ("vendor", "Dell Inc."),
            ("os", "Windows"),
        ] {
            assert!(
                facts.contains(&(k.into(), v.into())),
                "{k}={v} missing: {facts:?}"
            );
        }
        assert!(facts_of(&out, "0.0.0.0").is_empty());
        assert!(facts_of(&out, "128.2.6.152").contains(&("dhcp.server".into(), "true".into())));
    }
}
