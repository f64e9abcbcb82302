//! Turns "this flow's peer is in the consensus" into findings an investigator can act on. An exact
//! match (address and one of the relay's ports) is a `tor.relay`: Tor use is a policy question, not
//! malware, so Medium. The same address on another port is only a `tor.relay-address` (Low): relays
//! often share a machine with web or mail servers. How sure either is depends on how close in time the
//! consensus was to the flow, which the confidence and `tor.consensus-match` say.

use crate::catalog::{Document, Fit};
use crate::consensus::{Consensus, Relay, canonical, format_time};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, Flow, Orientation, Severity};
use std::net::{IpAddr, SocketAddr};

/// Which of a relay's ports a flow used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// The ORPort of the `r` line.
    Or,
    /// An OR address of an `a` line.
    OrAddress,
    /// The DirPort.
    Dir,
}

/// What a flow's peer is in a consensus.
#[derive(Debug)]
pub enum Hit<'a> {
    /// The address and port of a relay.
    Relay {
        /// The relay.
        relay: &'a Relay,
        /// Which of its ports.
        port: Port,
        /// The relay's side of the flow.
        at: SocketAddr,
        /// True when the relay was on the side the host called the client (the host could not tell
        /// the sides apart).
        client_side: bool,
    },
    /// The address of one or more relays, on a port none of them uses.
    Address {
        /// The relays with that address.
        relays: Vec<&'a Relay>,
        /// The server side of the flow.
        at: SocketAddr,
    },
}

/// The relay at exactly `at`, if any: OR addresses first, then DirPorts when `dirport` is set.
fn relay_at(c: &Consensus, at: SocketAddr, dirport: bool) -> Option<(&Relay, Port)> {
    let ip = canonical(at.ip());
    let relays: Vec<&Relay> = c.relays_at(ip).collect();
    for relay in &relays {
        if IpAddr::V4(relay.address) == ip && relay.or_port == at.port() {
            return Some((relay, Port::Or));
        }
        if relay
            .extra
            .iter()
            .any(|a| canonical(a.ip()) == ip && a.port() == at.port())
        {
            return Some((relay, Port::OrAddress));
        }
    }
    if dirport {
        return relays
            .into_iter()
            .find(|r| IpAddr::V4(r.address) == ip && r.dir_port != 0 && r.dir_port == at.port())
            .map(|r| (r, Port::Dir));
    }
    None
}

/// What the consensus says about a TCP flow's peers.
pub fn find<'a>(c: &'a Consensus, flow: &Flow, dirport: bool) -> Option<Hit<'a>> {
    let server = SocketAddr::new(flow.server_ip(), flow.server.port);
    if let Some((relay, port)) = relay_at(c, server, dirport) {
        return Some(Hit::Relay {
            relay,
            port,
            at: server,
            client_side: false,
        });
    }
    // Without a SYN the host guessed the sides; a relay port on the "client" side means it guessed
    // wrong.
    if flow.orientation != Orientation::Syn {
        let client = SocketAddr::new(flow.client_ip(), flow.client.port);
        if let Some((relay, port)) = relay_at(c, client, dirport) {
            return Some(Hit::Relay {
                relay,
                port,
                at: client,
                client_side: true,
            });
        }
    }
    let relays: Vec<&Relay> = c.relays_at(server.ip()).collect();
    (!relays.is_empty()).then_some(Hit::Address { relays, at: server })
}

/// Confidence of an exact match made with a consensus that fits the flow this well.
pub fn confidence(fit: Fit) -> u8 {
    match fit {
        Fit::Valid => 95,
        Fit::Nearest { .. } => match fit.hours() {
            0..=3 => 90,
            4..=24 => 80,
            25..=168 => 70,
            169..=720 => 60,
            721..=8760 => 50,
            _ => 40,
        },
    }
}

/// The flags that say what a relay does, for the summary.
fn role(relay: &Relay) -> String {
    let roles: Vec<&str> = ["Authority", "Guard", "Exit", "BadExit", "HSDir"]
        .into_iter()
        .filter(|f| relay.has_flag(f))
        .collect();
    if roles.is_empty() {
        "middle relay".into()
    } else {
        roles.join(", ")
    }
}

fn port_name(port: Port) -> &'static str {
    match port {
        Port::Or => "ORPort",
        Port::OrAddress => "OR address",
        Port::Dir => "DirPort",
    }
}

/// The part of `reason` that says how far the consensus was from the flow.
fn timing(document: &Document, fit: Fit, flow_start: i64) -> String {
    let v = document.validity;
    match fit {
        Fit::Valid => format!(
            "consensus {} was valid when the flow started ({} to {})",
            document.name,
            format_time(v.valid_after),
            format_time(v.valid_until)
        ),
        Fit::Nearest { .. } => format!(
            "no configured consensus was valid when the flow started ({}); the nearest, {} (valid {} to {}), is {} hours away and relays change, so fetch a consensus from the capture's time to be sure",
            format_time(flow_start),
            document.name,
            format_time(v.valid_after),
            format_time(v.valid_until),
            fit.hours()
        ),
    }
}

fn relay_attrs(finding: Finding, relay: &Relay, document: &Document, fit: Fit) -> Finding {
    finding
        .attr(names::tor::NICKNAME, &relay.nickname)
        .attr(names::tor::FINGERPRINT, relay.fingerprint())
        .attr(names::tor::FLAGS, &relay.flags)
        .attr(names::tor::ORPORT, relay.or_port.to_string())
        .attr(names::tor::DIRPORT, relay.dir_port.to_string())
        .attr(names::tor::CONSENSUS, document.label())
        .attr(names::tor::CONSENSUS_MATCH, fit.describe())
}

/// The finding for a hit on flow `flow` whose first packet was at `flow_start` (seconds).
pub fn finding(flow: &Flow, hit: &Hit, document: &Document, fit: Fit, flow_start: i64) -> Finding {
    let when = timing(document, fit, flow_start);
    let away = match fit {
        Fit::Valid => String::new(),
        Fit::Nearest { .. } => format!(" (consensus {} hours away)", fit.hours()),
    };
    match hit {
        Hit::Relay {
            relay,
            port,
            at,
            client_side,
        } => {
            let mut reason = format!(
                "{at} is the {} of relay {} ({}); {when}",
                port_name(*port),
                relay.nickname,
                relay.fingerprint(),
            );
            if *client_side {
                reason.push_str(
                    "; no SYN was seen, so the host's guess of the sides was wrong: the relay is the side it called the client",
                );
            }
            let dir = if *port == Port::Dir { " DirPort" } else { "" };
            let f = Finding::on_flow(flow.id, names::tor::RELAY, Severity::Medium)
                .summary(format!(
                    "Tor relay \"{}\" ({}) at {at}{dir}{away}",
                    relay.nickname,
                    role(relay)
                ))
                .confidence(confidence(fit));
            relay_attrs(f, relay, document, fit).attr(names::common::REASON, reason)
        }
        Hit::Address { relays, at } => {
            let first = relays[0];
            let listed: Vec<String> = relays
                .iter()
                .map(|r| {
                    if r.dir_port == 0 {
                        format!("{} (ORPort {})", r.nickname, r.or_port)
                    } else {
                        format!(
                            "{} (ORPort {}, DirPort {})",
                            r.nickname, r.or_port, r.dir_port
                        )
                    }
                })
                .collect();
            let more = match relays.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            let reason = format!(
                "{} is the address of Tor relay {}, but port {} is none of its ports: the machine may run other services besides the relay; {when}",
                at.ip(),
                listed.join(", "),
                at.port(),
            );
            let f = Finding::on_flow(flow.id, names::tor::RELAY_ADDRESS, Severity::Low)
                .summary(format!(
                    "{} is the address of Tor relay \"{}\"{more}, but port {} is not a relay port{away}",
                    at.ip(),
                    first.nickname,
                    at.port()
                ))
                .confidence(confidence(fit).saturating_sub(35).min(60));
            relay_attrs(f, first, document, fit)
                .attr(names::tor::RELAYS_AT_ADDRESS, listed.join(", "))
                .attr(names::common::REASON, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Depth, Validity};
    use crate::tests::flow;

    const DOC: &str = "\
network-status-version 3
valid-after 2022-11-19 10:00:00
fresh-until 2022-11-19 11:00:00
valid-until 2022-11-19 13:00:00
r stars1 BAlgXoNDVip5D/6EbLO9fARCn3A qQvg9c64VwcrXC9UFVYtQc7Ncyk 2022-11-18 18:15:43 158.69.204.36 443 0
s Fast Guard Running Stable V2Dir Valid
r stars2 x6RshmuWP8D1wOnc43XIadQPI+Q fkHzREfHZuTbbwp1xEoX6u5s758 2022-11-19 09:11:58 158.69.204.36 80 0
s Fast Running Stable V2Dir Valid
r exit1 AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 198.51.100.7 9001 9030
a [2001:db8::7]:9002
s Exit Fast Running Valid
directory-footer
";

    fn document() -> Document {
        Document {
            path: "/x/cached-consensus".into(),
            name: "cached-consensus".into(),
            flavor: crate::consensus::Flavor::Full,
            validity: Validity {
                valid_after: 1_668_852_000,
                fresh_until: 1_668_855_600,
                valid_until: 1_668_862_800,
            },
            usable: true,
        }
    }

    #[test]
    fn matches_or_ports_dir_ports_and_bare_addresses() {
        let c = Consensus::parse(DOC, Depth::Full).unwrap();
        let nick = |hit: Option<Hit>| match hit {
            Some(Hit::Relay { relay, port, .. }) => format!("{} {port:?}", relay.nickname),
            Some(Hit::Address { relays, .. }) => format!("address {}", relays.len()),
            None => "none".into(),
        };
        assert_eq!(
            nick(find(&c, &flow("158.69.204.36", 443), true)),
            "stars1 Or"
        );
        assert_eq!(
            nick(find(&c, &flow("158.69.204.36", 80), true)),
            "stars2 Or"
        );
        assert_eq!(
            nick(find(&c, &flow("158.69.204.36", 22), true)),
            "address 2"
        );
        assert_eq!(
            nick(find(&c, &flow("198.51.100.7", 9030), true)),
            "exit1 Dir"
        );
        assert_eq!(
            nick(find(&c, &flow("198.51.100.7", 9030), false)),
            "address 1"
        );
        assert_eq!(
            nick(find(&c, &flow("2001:db8::7", 9002), true)),
            "exit1 OrAddress"
        );
        assert_eq!(
            nick(find(&c, &flow("2001:db8::7", 9001), true)),
            "address 1"
        );
        assert_eq!(nick(find(&c, &flow("8.8.8.8", 443), true)), "none");

        // The host guessed the sides (no SYN) and put the relay on the client side.
        let mut f = flow("10.0.0.2", 50_000);
        f.client.ip = "158.69.204.36".parse::<IpAddr>().unwrap().into();
        f.client.port = 443;
        assert_eq!(nick(find(&c, &f, true)), "none");
        f.orientation = Orientation::PortHeuristic;
        assert!(matches!(
            find(&c, &f, true),
            Some(Hit::Relay {
                client_side: true,
                ..
            })
        ));
    }

    #[test]
    fn describes_the_relay_and_how_well_the_consensus_fits() {
        let c = Consensus::parse(DOC, Depth::Full).unwrap();
        let f = flow("158.69.204.36", 443);
        let hit = find(&c, &f, true).unwrap();
        let doc = document();
        let start = doc.validity.valid_after + 600;
        let finding = super::finding(&f, &hit, &doc, Fit::Valid, start);
        assert_eq!(finding.tag, "tor.relay");
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.confidence, 95);
        assert_eq!(
            finding.summary,
            "Tor relay \"stars1\" (Guard) at 158.69.204.36:443"
        );
        assert_eq!(finding.get("tor.nickname"), Some("stars1"));
        assert_eq!(
            finding.get("tor.fingerprint"),
            Some("0409605E8343562A790FFE846CB3BD7C04429F70")
        );
        assert_eq!(
            finding.get("tor.flags"),
            Some("Fast Guard Running Stable V2Dir Valid")
        );
        assert_eq!(finding.get("tor.orport"), Some("443"));
        assert_eq!(finding.get("tor.dirport"), Some("0"));
        assert_eq!(
            finding.get("tor.consensus"),
            Some("cached-consensus (valid-after 2022-11-19 10:00:00)")
        );
        assert_eq!(finding.get("tor.consensus-match"), Some("valid"));
        assert_eq!(
            finding.get("reason"),
            Some(
                "158.69.204.36:443 is the ORPort of relay stars1 (0409605E8343562A790FFE846CB3BD7C04429F70); consensus cached-consensus was valid when the flow started (2022-11-19 10:00:00 to 2022-11-19 13:00:00)"
            )
        );

        let far = Fit::Nearest {
            seconds: 5 * 86_400,
        };
        let finding = super::finding(&f, &hit, &doc, far, doc.validity.valid_after - 5 * 86_400);
        assert_eq!(finding.confidence, 70);
        assert_eq!(
            finding.get("tor.consensus-match"),
            Some("nearest (120 hours away)")
        );
        assert!(finding.summary.ends_with("(consensus 120 hours away)"));
        assert!(
            finding
                .get("reason")
                .unwrap()
                .contains("fetch a consensus from the capture's time")
        );

        let f = flow("158.69.204.36", 22);
        let hit = find(&c, &f, true).unwrap();
        let finding = super::finding(&f, &hit, &doc, Fit::Valid, start);
        assert_eq!(finding.tag, "tor.relay-address");
        assert_eq!(finding.severity, Severity::Low);
        assert_eq!(finding.confidence, 60);
        assert_eq!(
            finding.summary,
            "158.69.204.36 is the address of Tor relay \"stars1\" and 1 more, but port 22 is not a relay port"
        );
        assert_eq!(
            finding.get("tor.relays-at-address"),
            Some("stars1 (ORPort 443), stars2 (ORPort 80)")
        );
        let finding = super::finding(&f, &hit, &doc, far, start);
        assert_eq!(finding.confidence, 35);
    }

    #[test]
    fn confidence_falls_with_distance() {
        let hours = |h: i64| confidence(Fit::Nearest { seconds: h * 3600 });
        assert_eq!(confidence(Fit::Valid), 95);
        assert_eq!(
            [
                hours(1),
                hours(20),
                hours(100),
                hours(500),
                hours(5000),
                hours(43_000)
            ],
            [90, 80, 70, 60, 50, 40]
        );
    }
}
