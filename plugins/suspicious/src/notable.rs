//! Notable ports: the ports backdoors, C2 frameworks, IRC botnets, miners and open proxies use by
//! default, kept as data with the source of every entry (`config/data/ports-notable.tsv`, embedded).
//! The IANA registry cannot point at them: 4444, 1337, 31337, 6667 and 12345 are all registered to
//! other services. A notable port is a reason with its own weight (a Medium on its own), stated with
//! what the port is known for and where that knowledge comes from.

use crate::registry::Transport;

/// The shipped list.
pub const BUILTIN: &str = include_str!("../../../config/data/ports-notable.tsv");

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notable {
    /// First port of the entry.
    pub first: u16,
    /// Last port (the same as `first` for one port).
    pub last: u16,
    /// Applies to TCP.
    pub tcp: bool,
    /// Applies to UDP.
    pub udp: bool,
    /// Only when the server is on the internet (proxies, miners' pools).
    pub internet_only: bool,
    /// What the port is known for.
    pub label: String,
    /// Where that comes from.
    pub source: String,
}

/// The list.
#[derive(Debug, Clone, Default)]
pub struct NotablePorts(Vec<Notable>);

impl NotablePorts {
    /// Reads the tab-separated list: `port` or `first-last`, `tcp`/`udp`/`tcp/udp`, `any` or
    /// `internet`, label, source; `#` starts a comment line. Every entry needs a source.
    pub fn parse(text: &str) -> Result<NotablePorts, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}: `{line}`", n + 1);
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let [ports, protocols, scope, label, source] = fields[..] else {
                return Err(bad("expected 5 tab-separated fields"));
            };
            let (first, last) = match ports.split_once('-') {
                Some((a, b)) => (a.parse().ok(), b.parse().ok()),
                None => (ports.parse().ok(), ports.parse().ok()),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(bad("not a port or a range"));
            };
            let internet_only = match scope {
                "any" => false,
                "internet" => true,
                _ => return Err(bad("scope must be `any` or `internet`")),
            };
            if first > last || label.is_empty() || source.is_empty() {
                return Err(bad("a range, a label and a source are needed"));
            }
            entries.push(Notable {
                first,
                last,
                tcp: protocols.split('/').any(|p| p == "tcp"),
                udp: protocols.split('/').any(|p| p == "udp"),
                internet_only,
                label: label.to_string(),
                source: source.to_string(),
            });
        }
        Ok(NotablePorts(entries))
    }

    /// The entry for a server port, if any; `internet` says whether the server is on the internet.
    pub fn lookup(&self, transport: Transport, port: u16, internet: bool) -> Option<&Notable> {
        self.0.iter().find(|e| {
            (e.first..=e.last).contains(&port)
                && match transport {
                    Transport::Tcp => e.tcp,
                    Transport::Udp => e.udp,
                }
                && (internet || !e.internet_only)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_names_the_ports_the_registry_cannot_point_at() {
        let list = NotablePorts::parse(BUILTIN).unwrap();
        assert!(list.0.len() >= 20);
        let tcp = |port| {
            list.lookup(Transport::Tcp, port, true)
                .map(|e| e.label.as_str())
        };
        assert!(tcp(4444).unwrap().contains("Metasploit"));
        assert!(tcp(1337).is_some());
        assert!(tcp(31337).unwrap().contains("Back Orifice"));
        assert!(tcp(6667).unwrap().contains("IRC"));
        assert!(tcp(12345).unwrap().contains("NetBus"));
        assert!(tcp(50050).unwrap().contains("Cobalt Strike"));
        assert!(tcp(3333).is_some());
        assert_eq!(tcp(443), None);
        assert!(list.lookup(Transport::Udp, 31337, false).is_some());
        assert_eq!(list.lookup(Transport::Udp, 4444, true), None);
        // Proxies and pools only count on the internet.
        assert!(list.lookup(Transport::Tcp, 3128, true).is_some());
        assert_eq!(list.lookup(Transport::Tcp, 3128, false), None);
        assert!(list.lookup(Transport::Tcp, 4444, false).is_some());
        assert!(list.0.iter().all(|e| !e.source.is_empty()));
    }

    #[test]
    fn an_entry_without_a_source_or_with_a_bad_scope_is_refused() {
        assert!(NotablePorts::parse("4444\ttcp\tany\tMetasploit\t\n").is_err());
        assert!(NotablePorts::parse("4444\ttcp\tlan\tMetasploit\tdocs\n").is_err());
        assert!(NotablePorts::parse("44-4\ttcp\tany\tx\tdocs\n").is_err());
        assert!(
            NotablePorts::parse("# only a comment\n")
                .unwrap()
                .0
                .is_empty()
        );
    }
}
