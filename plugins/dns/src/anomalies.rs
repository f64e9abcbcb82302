//! Heuristics over a whole capture's unicast DNS, per querying host: many distinct long or deeply
//! nested names under one domain (data smuggled in labels: DNS tunnelling), a host whose queries are
//! mostly TXT (a common tunnel and C2 carrier), and many names that do not exist (DGA malware or a
//! broken search list). They only count what each host asked, so they are decided in `finish`; the
//! counters are bounded so a hostile capture cannot grow them without limit. Every finding says it is a
//! heuristic, gives its reason and carries a confidence well below 100.

use crate::text;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, Severity};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// Querying hosts tracked.
const MAX_HOSTS: usize = 65_536;
/// Distinct names remembered in all sets together.
const MAX_NAMES: usize = 200_000;
/// Domains with long names tracked per host.
const MAX_DOMAINS_PER_HOST: usize = 256;

/// When a heuristic fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A name this long (characters, no trailing dot) or longer counts as tunnel-like.
    pub tunnel_name_length: usize,
    /// A name with this many labels or more counts as tunnel-like.
    pub tunnel_label_count: usize,
    /// Distinct tunnel-like names under one domain from one host that raise `dns.tunnel-suspect`.
    pub tunnel_min_names: usize,
    /// TXT queries from one host (at least half of its queries) that raise `dns.txt-heavy`.
    pub txt_min_queries: u64,
    /// Distinct NXDOMAIN names for one host that raise `dns.nxdomain-heavy`.
    pub nxdomain_min_names: usize,
}

#[derive(Default)]
struct DomainStats {
    names: HashSet<String>,
    longest: String,
}

#[derive(Default)]
struct HostStats {
    queries: u64,
    txt: u64,
    long: HashMap<String, DomainStats>,
    nxdomain: HashSet<String>,
}

/// The per-host counters.
pub struct Anomalies {
    thresholds: Thresholds,
    hosts: HashMap<IpAddr, HostStats>,
    names_kept: usize,
}

impl Anomalies {
    /// Empty counters.
    pub fn new(thresholds: Thresholds) -> Anomalies {
        Anomalies {
            thresholds,
            hosts: HashMap::new(),
            names_kept: 0,
        }
    }

    /// True when a name looks like it carries data: long, or many labels. Reverse-lookup names
    /// (`in-addr.arpa`, `ip6.arpa`) are long by design and never count.
    pub fn tunnel_like(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".arpa") {
            return false;
        }
        name.len() >= self.thresholds.tunnel_name_length
            || name.split('.').count() >= self.thresholds.tunnel_label_count
    }

    fn host(&mut self, ip: IpAddr) -> Option<&mut HostStats> {
        if !self.hosts.contains_key(&ip) && self.hosts.len() >= MAX_HOSTS {
            return None;
        }
        Some(self.hosts.entry(ip).or_default())
    }

    /// Counts the queries `querier` sent and the NXDOMAIN answers it got.
    pub fn record(&mut self, querier: IpAddr, queries: &[(String, String)], nxdomain: &[String]) {
        let tunnel: Vec<bool> = queries.iter().map(|(n, _)| self.tunnel_like(n)).collect();
        let room = MAX_NAMES.saturating_sub(self.names_kept);
        let mut added = 0;
        let Some(host) = self.host(querier) else {
            return;
        };
        for ((name, qtype), tunnel) in queries.iter().zip(tunnel) {
            host.queries += 1;
            if qtype == "TXT" {
                host.txt += 1;
            }
            if !tunnel {
                continue;
            }
            let domain = text::parent_domain(name).to_ascii_lowercase();
            if !host.long.contains_key(&domain) && host.long.len() >= MAX_DOMAINS_PER_HOST {
                continue;
            }
            let stats = host.long.entry(domain).or_default();
            if name.len() > stats.longest.len() {
                stats.longest = name.clone();
            }
            if added < room && stats.names.insert(name.to_ascii_lowercase()) {
                added += 1;
            }
        }
        for name in nxdomain {
            if added < room && host.nxdomain.insert(name.to_ascii_lowercase()) {
                added += 1;
            }
        }
        self.names_kept += added;
    }

    /// The host findings the counters support, in address order.
    pub fn findings(&self) -> Vec<Finding> {
        let t = self.thresholds;
        let mut out = Vec::new();
        let sorted: BTreeMap<&IpAddr, &HostStats> = self.hosts.iter().collect();
        for (ip, host) in sorted {
            let mut domains: Vec<(&String, &DomainStats)> = host
                .long
                .iter()
                .filter(|(_, d)| d.names.len() >= t.tunnel_min_names)
                .collect();
            domains.sort_by(|a, b| b.1.names.len().cmp(&a.1.names.len()).then(a.0.cmp(b.0)));
            for (domain, stats) in domains {
                out.push(
                    Finding::on_host(*ip, names::dns::TUNNEL_SUSPECT, Severity::Low)
                        .summary(format!(
                            "Possible DNS tunnelling (heuristic): {ip} queried {} distinct long or deeply nested names under {domain}",
                            stats.names.len()
                        ))
                        .attr(
                            names::common::REASON,
                            format!(
                                "many distinct names of {}+ characters or {}+ labels under one domain: data may be encoded in the labels (some CDNs, anti-virus and block-list lookups look alike)",
                                t.tunnel_name_length, t.tunnel_label_count
                            ),
                        )
                        .attr(names::common::HEURISTIC, "true")
                        .attr(names::dns::DOMAIN, domain.as_str())
                        .attr(names::dns::DISTINCT_NAMES, stats.names.len().to_string())
                        .attr(names::dns::LONGEST_NAME, stats.longest.as_str())
                        .confidence(60),
                );
            }
            if host.txt >= t.txt_min_queries && host.txt * 2 >= host.queries {
                out.push(
                    Finding::on_host(*ip, names::dns::TXT_HEAVY, Severity::Low)
                        .summary(format!(
                            "TXT-heavy DNS (heuristic): {} of the {} queries {ip} sent ask for TXT records",
                            host.txt, host.queries
                        ))
                        .attr(
                            names::common::REASON,
                            "most queries of this host are for TXT records, a common carrier for DNS tunnels and command and control; mail servers checking SPF and DKIM look alike",
                        )
                        .attr(names::common::HEURISTIC, "true")
                        .attr(names::dns::TXT_QUERIES, host.txt.to_string())
                        .attr(names::dns::QUERY_COUNT, host.queries.to_string())
                        .confidence(40),
                );
            }
            if host.nxdomain.len() >= t.nxdomain_min_names {
                let mut sample: Vec<&String> = host.nxdomain.iter().collect();
                sample.sort();
                let sample: Vec<&str> = sample.iter().take(5).map(|s| s.as_str()).collect();
                out.push(
                    Finding::on_host(*ip, names::dns::NXDOMAIN_HEAVY, Severity::Low)
                        .summary(format!(
                            "Many non-existent names (heuristic): {ip} got NXDOMAIN for {} distinct names",
                            host.nxdomain.len()
                        ))
                        .attr(
                            names::common::REASON,
                            "many lookups of names that do not exist: domain-generation (DGA) malware looks for its servers this way; a misconfigured search list looks alike",
                        )
                        .attr(names::common::HEURISTIC, "true")
                        .attr(names::dns::NXDOMAIN_NAMES, host.nxdomain.len().to_string())
                        .attr(names::dns::EXAMPLES, sample.join(","))
                        .confidence(40),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        tunnel_name_length: 60,
        tunnel_label_count: 10,
        tunnel_min_names: 20,
        txt_min_queries: 20,
        nxdomain_min_names: 20,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn many_long_names_under_one_domain_look_like_a_tunnel() {
        let mut a = Anomalies::new(T);
        let queries: Vec<(String, String)> = (0..25)
            .map(|i| {
                (
                    format!("{i:04}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.t.evil.example.com"),
                    "TXT".to_string(),
                )
            })
            .collect();
        a.record(ip("10.0.0.5"), &queries, &[]);
        // A normal browsing host and reverse lookups do not.
        let normal: Vec<(String, String)> = (0..100)
            .map(|i| (format!("www{i}.example.org"), "A".to_string()))
            .collect();
        a.record(ip("10.0.0.6"), &normal, &[]);
        let ptr: Vec<(String, String)> = (0..40)
            .map(|i| (format!("{i}.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"), "PTR".to_string()))
            .collect();
        a.record(ip("10.0.0.7"), &ptr, &[]);
        let findings = a.findings();
        let tags: Vec<(&str, String)> = findings
            .iter()
            .map(|f| (f.tag.as_str(), format!("{:?}", f.subject)))
            .collect();
        assert_eq!(tags.len(), 2, "{tags:?}");
        assert_eq!(findings[0].tag, "dns.tunnel-suspect");
        assert_eq!(findings[0].get("dns.domain"), Some("example.com"));
        assert_eq!(findings[0].get("dns.distinct-names"), Some("25"));
        assert!(findings[0].confidence < 100);
        assert_eq!(findings[1].tag, "dns.txt-heavy");
    }

    #[test]
    fn many_nxdomain_answers_are_reported_once_per_host() {
        let mut a = Anomalies::new(T);
        let names: Vec<String> = (0..30).map(|i| format!("q{i}xkcd.example")).collect();
        a.record(ip("10.0.0.5"), &[], &names);
        a.record(ip("10.0.0.5"), &[], &names);
        let f = a.findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].tag, "dns.nxdomain-heavy");
        assert_eq!(f[0].get("dns.nxdomain-names"), Some("30"));
    }

    #[test]
    fn a_few_txt_lookups_are_not_txt_heavy() {
        let mut a = Anomalies::new(T);
        let q: Vec<(String, String)> = (0..5)
            .map(|i| {
                (
                    format!("txtpadding_{i}.n1.netalyzr.icsi.berkeley.edu"),
                    "TXT".into(),
                )
            })
            .collect();
        a.record(ip("2001:db8::1"), &q, &[]);
        assert!(a.findings().is_empty());
    }
}
