//! Typed readers for what the built-in analyzers publish as text: lists joined into one attribute
//! (DNS queries and answers, HTTP hosts, TLS versions and ALPN), JSON inside an attribute (the
//! certificate chain; HTTP transactions are in [`crate::web`]), the attributes of a file found in the
//! traffic, and host facts (names, device roles, beacon peers, DHCP lists). A stage or output reads
//! them here instead of splitting strings itself, so it cannot disagree with the writer about the
//! separator. Every reader returns nothing (empty, `None`) when the attribute is absent.

use crate::names;
use crate::{Finding, HostInfo};
use serde::Deserialize;
use std::net::IpAddr;

/// The non-empty items of `text` split at `separator` (the analyzers join with exactly it).
fn list<'a>(text: Option<&'a str>, separator: &'a str) -> Vec<&'a str> {
    text.map(|t| t.split(separator).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// One answer record of a DNS flow, as the `dns` analyzer writes it (`name TYPE data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsAnswer<'a> {
    /// The whole record as written.
    pub text: &'a str,
    /// The owner name.
    pub name: &'a str,
    /// The record type (`A`, `CNAME`, ...), when written.
    pub rtype: Option<&'a str>,
    /// The record data (an address, a name, ...), when written.
    pub data: Option<&'a str>,
}

/// One certificate of the chain a TLS server sent, as the `web` analyzer lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ChainCertificate {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// SHA-256 fingerprint, hex.
    pub sha256: String,
}

/// A file the `files` analyzer found in the traffic (one `files.*` finding).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundFile<'a> {
    /// The protocol that carried it (`http`, `smtp`, `smb`, ...).
    pub protocol: &'a str,
    /// How it went (`upload`, `attachment`, ...).
    pub direction: Option<&'a str>,
    /// Its name as the protocol gave it (may be empty).
    pub name: &'a str,
    /// Bytes seen.
    pub size: Option<u64>,
    /// Bytes missing from the capture.
    pub missing: Option<u64>,
    /// True when every byte was seen.
    pub complete: bool,
    /// MD5, hex.
    pub md5: Option<&'a str>,
    /// SHA-1, hex.
    pub sha1: Option<&'a str>,
    /// SHA-256, hex.
    pub sha256: Option<&'a str>,
    /// The type the protocol declared.
    pub declared_type: Option<&'a str>,
    /// The type its bytes show.
    pub detected_type: Option<&'a str>,
    /// Why name and types do not fit together.
    pub mismatch: Option<&'a str>,
    /// Where it was kept in the report folder.
    pub extracted: Option<&'a str>,
    /// Why it was not kept.
    pub not_extracted: Option<&'a str>,
}

impl Finding {
    /// True when the attribute `key` is `true` (the analyzers' flags: [`names::tls::ECH`],
    /// [`names::http::PROXY`], ...).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }

    /// The names a DNS flow asked, in order ([`names::dns::QUERIES`]).
    pub fn dns_queries(&self) -> Vec<&str> {
        list(self.get(names::dns::QUERIES), ",")
    }

    /// The query types a DNS flow asked (`A`, `AAAA`; [`names::dns::QTYPES`]).
    pub fn dns_qtypes(&self) -> Vec<&str> {
        list(self.get(names::dns::QTYPES), ",")
    }

    /// The response codes a DNS flow got (`NOERROR`, `NXDOMAIN`; [`names::dns::RCODE`]).
    pub fn dns_rcodes(&self) -> Vec<&str> {
        list(self.get(names::dns::RCODE), ",")
    }

    /// The answer records of a DNS flow ([`names::dns::ANSWERS`]).
    pub fn dns_answers(&self) -> Vec<DnsAnswer<'_>> {
        list(self.get(names::dns::ANSWERS), "; ")
            .into_iter()
            .map(|text| {
                let mut parts = text.splitn(3, ' ');
                DnsAnswer {
                    text,
                    name: parts.next().unwrap_or(""),
                    rtype: parts.next(),
                    data: parts.next(),
                }
            })
            .collect()
    }

    /// Every `Host` header of an HTTP flow ([`names::http::HOSTS`], else [`names::http::HOST`]).
    pub fn http_hosts(&self) -> Vec<&str> {
        match self.get(names::http::HOSTS) {
            Some(hosts) => list(Some(hosts), ","),
            None => list(self.get(names::http::HOST), ","),
        }
    }

    /// The TLS versions the client offered ([`names::tls::VERSIONS`]).
    pub fn tls_versions(&self) -> Vec<&str> {
        list(self.get(names::tls::VERSIONS), ", ")
    }

    /// The protocols the client offered through ALPN ([`names::tls::ALPN`]).
    pub fn tls_alpn(&self) -> Vec<&str> {
        list(self.get(names::tls::ALPN), ", ")
    }

    /// The DNS names of the server's certificate ([`names::tls::CERT_NAMES`]).
    pub fn tls_cert_names(&self) -> Vec<&str> {
        list(self.get(names::tls::CERT_NAMES), ", ")
    }

    /// The certificate chain the server sent, leaf first ([`names::tls::CERT_CHAIN`]). Empty when
    /// absent or unreadable.
    pub fn tls_cert_chain(&self) -> Vec<ChainCertificate> {
        self.get(names::tls::CERT_CHAIN)
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// The file a `files.*` finding reports; `None` for other findings.
    pub fn found_file(&self) -> Option<FoundFile<'_>> {
        let protocol = self
            .tag
            .strip_prefix(names::files::TAG)
            .and_then(|p| p.strip_prefix('.'))?;
        let number = |key: &str| self.get(key).and_then(|v| v.trim().parse().ok());
        Some(FoundFile {
            protocol,
            direction: self.get(names::files::DIRECTION),
            name: self.get(names::files::NAME).unwrap_or(""),
            size: number(names::files::SIZE),
            missing: number(names::files::MISSING),
            complete: self.flag(names::files::COMPLETE),
            md5: self.get(names::files::MD5),
            sha1: self.get(names::files::SHA1),
            sha256: self.get(names::files::SHA256),
            declared_type: self.get(names::files::DECLARED_TYPE),
            detected_type: self.get(names::files::DETECTED_TYPE),
            mismatch: self.get(names::files::MISMATCH),
            extracted: self.get(names::files::EXTRACTED),
            not_extracted: self.get(names::files::NOT_EXTRACTED),
        })
    }

    /// The kinds of the MAC addresses a `devices` finding lists ([`names::device::MAC_KINDS`]).
    pub fn mac_kinds(&self) -> Vec<&str> {
        list(self.get(names::device::MAC_KINDS), ",")
    }
}

/// A server a client beacons to, from a [`names::beacon::PEER`] host fact
/// (`198.51.100.23:8443/tcp`, `[2001:db8::1]:443/tcp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BeaconPeer<'a> {
    /// The server.
    pub server: IpAddr,
    /// Its port.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: &'a str,
}

impl<'a> BeaconPeer<'a> {
    /// Reads a [`names::beacon::PEER`] value; `None` when it is not one.
    pub fn parse(text: &'a str) -> Option<BeaconPeer<'a>> {
        let (address, protocol) = text.rsplit_once('/')?;
        let (server, port) = address.rsplit_once(':')?;
        let server = server.strip_prefix('[').unwrap_or(server);
        let server = server.strip_suffix(']').unwrap_or(server);
        Some(BeaconPeer {
            server: server.parse().ok()?,
            port: port.parse().ok()?,
            protocol,
        })
    }
}

/// True when some host carries a [`names::host::NETWORK`] fact: the `devices` analyzer (or another
/// stage) decided which hosts are on the capture's own network.
pub fn lan_decided(hosts: &[HostInfo]) -> bool {
    hosts.iter().any(|h| h.fact(names::host::NETWORK).is_some())
}

impl HostInfo {
    /// The value of the first `key` fact published about the host.
    pub fn fact(&self, key: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|n| n.key == key)
            .map(|n| n.value.as_str())
    }

    /// The values of every `key` fact published about the host, in the order they were published.
    pub fn facts<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.notes
            .iter()
            .filter(move |n| n.key == key)
            .map(|n| n.value.as_str())
    }

    /// The names the host was seen under ([`names::host::NAME`] facts), distinct, in order.
    pub fn names(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for name in self.facts(names::host::NAME) {
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        seen
    }

    /// The name to show for the host: its first name, else its DHCP host name, else its NetBIOS
    /// name.
    pub fn best_name(&self) -> Option<&str> {
        self.fact(names::host::NAME)
            .or_else(|| self.fact(names::dhcp::HOSTNAME))
            .or_else(|| self.fact(names::netbios::NAME))
    }

    /// True when `devices` placed the host in the capture's own network ([`names::host::NETWORK`]).
    pub fn is_local(&self) -> bool {
        self.facts(names::host::NETWORK).any(|v| v == "local")
    }

    /// Whether a report shows the host as on the capture's own network. When `decided` (some host
    /// carries a [`names::host::NETWORK`] fact: `devices` ran and placed them, see
    /// [`lan_decided`]), by that decision, and addresses that are never routed (unspecified,
    /// loopback, link-local, multicast, broadcast) are local whatever it said; otherwise by the
    /// address's class alone.
    pub fn shown_local(&self, decided: bool) -> bool {
        let class = crate::net::IpClass::of(std::net::IpAddr::from(self.ip));
        let routed = matches!(
            class,
            crate::net::IpClass::Public
                | crate::net::IpClass::Documentation
                | crate::net::IpClass::Private
        );
        if decided {
            self.is_local() || !routed
        } else {
            class.is_local()
        }
    }

    /// The roles `devices` gave the host (`gateway`, `router`; [`names::host::DEVICE`]), distinct.
    pub fn device_roles(&self) -> Vec<&str> {
        let mut roles: Vec<&str> = Vec::new();
        for role in self.facts(names::host::DEVICE) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// The servers the host beacons to ([`names::beacon::PEER`] facts; unreadable ones left out).
    pub fn beacon_peers(&self) -> Vec<BeaconPeer<'_>> {
        self.facts(names::beacon::PEER)
            .filter_map(BeaconPeer::parse)
            .collect()
    }

    /// The DHCP message types the host sent ([`names::dhcp::MESSAGE_TYPES`], the first fact).
    pub fn dhcp_message_types(&self) -> Vec<&str> {
        list(self.fact(names::dhcp::MESSAGE_TYPES), ",")
    }

    /// The DHCP options the host asked for ([`names::dhcp::PARAMETER_REQUEST_LIST`], the first
    /// fact); items that are not numbers are left out.
    pub fn dhcp_parameter_request_list(&self) -> Vec<u8> {
        list(self.fact(names::dhcp::PARAMETER_REQUEST_LIST), ",")
            .into_iter()
            .filter_map(|o| o.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{host, note};
    use crate::{Severity, names};

    fn host_with(addr: &str, facts: &[(&str, &str, &str)]) -> HostInfo {
        let mut h = host(addr, &[]);
        h.notes = facts.iter().map(|(s, k, v)| note(s, k, v)).collect();
        h
    }

    fn finding(tag: &str, attrs: &[(&str, &str)]) -> Finding {
        attrs
            .iter()
            .fold(Finding::on_flow(1, tag, Severity::Info), |f, (k, v)| {
                f.attr(*k, *v)
            })
    }

    #[test]
    fn dns_lists_and_answers_are_split_as_the_dns_analyzer_joins_them() {
        let f = finding(
            names::dns::TAG,
            &[
                (names::dns::QUERIES, "upload.wikimedia.org,x.example"),
                (names::dns::QTYPES, "A,AAAA"),
                (names::dns::RCODE, "NOERROR,NXDOMAIN"),
                (
                    names::dns::ANSWERS,
                    "upload.wikimedia.org CNAME upload.pmtpa.wikimedia.org; upload.pmtpa.wikimedia.org A 208.80.152.3; odd",
                ),
            ],
        );
        assert_eq!(f.dns_queries(), ["upload.wikimedia.org", "x.example"]);
        assert_eq!(f.dns_qtypes(), ["A", "AAAA"]);
        assert_eq!(f.dns_rcodes(), ["NOERROR", "NXDOMAIN"]);
        let answers = f.dns_answers();
        assert_eq!(answers.len(), 3);
        assert_eq!(
            answers[1],
            DnsAnswer {
                text: "upload.pmtpa.wikimedia.org A 208.80.152.3",
                name: "upload.pmtpa.wikimedia.org",
                rtype: Some("A"),
                data: Some("208.80.152.3"),
            }
        );
        assert_eq!((answers[2].name, answers[2].rtype), ("odd", None));
        let empty = finding(names::web::HTTP, &[]);
        assert!(empty.dns_queries().is_empty() && empty.dns_answers().is_empty());
    }

    #[test]
    fn web_lists_chain_and_flags() {
        let f = finding(
            names::web::HTTPS,
            &[
                (names::tls::VERSIONS, "TLS 1.3, TLS 1.2"),
                (names::tls::ALPN, "h2, http/1.1"),
                (names::tls::CERT_NAMES, "a.example, *.a.example"),
                (
                    names::tls::CERT_CHAIN,
                    r#"[{"subject":"CN=a.example","issuer":"CN=CA","sha256":"ab"},{"subject":"CN=CA","issuer":"CN=CA","sha256":"cd"}]"#,
                ),
                (names::tls::ECH, "true"),
            ],
        );
        assert_eq!(f.tls_versions(), ["TLS 1.3", "TLS 1.2"]);
        assert_eq!(f.tls_alpn(), ["h2", "http/1.1"]);
        assert_eq!(f.tls_cert_names(), ["a.example", "*.a.example"]);
        let chain = f.tls_cert_chain();
        assert_eq!(chain.len(), 2);
        assert_eq!(
            (chain[0].subject.as_str(), chain[1].sha256.as_str()),
            ("CN=a.example", "cd")
        );
        assert!(f.flag(names::tls::ECH) && !f.flag(names::http::PROXY));
        assert!(
            finding(names::web::HTTPS, &[(names::tls::CERT_CHAIN, "not json")])
                .tls_cert_chain()
                .is_empty()
        );

        let one = finding(names::web::HTTP, &[(names::http::HOST, "a.example")]);
        assert_eq!(one.http_hosts(), ["a.example"]);
        let many = finding(
            names::web::HTTP,
            &[
                (names::http::HOST, "a.example"),
                (names::http::HOSTS, "a.example,b.example"),
            ],
        );
        assert_eq!(many.http_hosts(), ["a.example", "b.example"]);
    }

    #[test]
    fn a_files_finding_reads_as_a_found_file() {
        let f = finding(
            names::files::HTTP,
            &[
                (names::files::DIRECTION, "upload"),
                (names::files::NAME, "invoice.pdf.exe"),
                (names::files::SIZE, "1234"),
                (names::files::MISSING, "0"),
                (names::files::COMPLETE, "true"),
                (names::files::SHA256, "ab12"),
                (names::files::MISMATCH, "double extension"),
            ],
        );
        let file = f.found_file().unwrap();
        assert_eq!(
            (file.protocol, file.name, file.size, file.complete),
            ("http", "invoice.pdf.exe", Some(1234), true)
        );
        assert_eq!((file.sha256, file.md5), (Some("ab12"), None));
        assert_eq!(file.mismatch, Some("double extension"));
        assert!(finding(names::web::HTTP, &[]).found_file().is_none());
        assert!(finding("filesystem", &[]).found_file().is_none());
    }

    #[test]
    fn host_facts_read_typed() {
        let host = host_with(
            "192.168.1.10",
            &[
                ("dns", names::host::NAME, "laptop.lan"),
                ("web", names::host::NAME, "laptop.lan"),
                ("devices", names::host::NAME, "laptop"),
                ("devices", names::host::NETWORK, "local"),
                ("devices", names::host::DEVICE, "gateway"),
                ("devices", names::host::DEVICE, "gateway"),
                ("beacon", names::beacon::PEER, "198.51.100.23:8443/tcp"),
                ("beacon", names::beacon::PEER, "[2001:db8::1]:53/udp"),
                ("beacon", names::beacon::PEER, "garbage"),
                ("devices", names::dhcp::MESSAGE_TYPES, "DISCOVER,REQUEST"),
                ("devices", names::dhcp::PARAMETER_REQUEST_LIST, "1,3,6,x,15"),
            ],
        );
        assert_eq!(host.names(), ["laptop.lan", "laptop"]);
        assert_eq!(host.best_name(), Some("laptop.lan"));
        assert!(host.is_local());
        assert_eq!(host.device_roles(), ["gateway"]);
        let peers = host.beacon_peers();
        assert_eq!(peers.len(), 2);
        assert_eq!(
            peers[1],
            BeaconPeer {
                server: "2001:db8::1".parse().unwrap(),
                port: 53,
                protocol: "udp"
            }
        );
        assert_eq!(host.dhcp_message_types(), ["DISCOVER", "REQUEST"]);
        assert_eq!(host.dhcp_parameter_request_list(), [1, 3, 6, 15]);

        let bare = host_with("10.0.0.1", &[("devices", names::dhcp::HOSTNAME, "printer")]);
        assert_eq!(bare.best_name(), Some("printer"));
        assert!(!bare.is_local() && bare.names().is_empty());
    }
}
