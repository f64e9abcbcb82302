//! Threat-intelligence lists: addresses, networks and domains someone already knows to be bad. A match
//! is the strongest reason the plugin has, so it must say exactly which list and which line matched;
//! an investigator has to be able to go back to the source and judge it.
//!
//! A list is either plain text (one IP, CIDR, domain or file hash — MD5, SHA-1 or SHA-256 in hex —
//! per line, `#` comments, an optional label after
//! the indicator) or CSV (the indicator in the first column, an optional label or source in the
//! second; a header row is skipped). Lookups cost a hash probe per prefix length in use, or per label
//! of a name, whatever the size of the lists.

use pcapxray_plugin_sdk::collections::HashMap;
use std::net::IpAddr;

/// Where an indicator came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the list in [`Intel::lists`].
    list: u16,
    /// 1-based line of the list.
    pub line: u32,
    /// The indicator as written (normalised).
    pub indicator: Box<str>,
    /// The label or source given after it, if any.
    pub label: Option<Box<str>>,
}

/// A match: the entry and the list it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The list's path as configured.
    pub list: String,
    /// The matching entry.
    pub entry: Entry,
    /// What of the flow matched: an address or a name.
    pub matched: String,
}

impl Hit {
    /// `216.165.2.56 is listed in bad.txt line 3 (tor exit)`.
    pub fn describe(&self) -> String {
        let what = if self.matched == *self.entry.indicator {
            self.matched.clone()
        } else {
            format!("{} (matches {})", self.matched, self.entry.indicator)
        };
        let label = match &self.entry.label {
            Some(l) => format!(" ({l})"),
            None => String::new(),
        };
        format!(
            "{what} is listed in {} line {}{label}",
            self.list, self.entry.line
        )
    }
}

/// What loading one list gave.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListStats {
    /// Indicators added.
    pub indicators: usize,
    /// Lines that were not an indicator (not counting comments, blank lines and a CSV header).
    pub skipped: usize,
    /// The first skipped line, for the log.
    pub first_skipped: Option<u32>,
}

/// Every loaded list.
#[derive(Debug, Default)]
pub struct Intel {
    lists: Vec<String>,
    v4: HashMap<(u8, u32), Entry>,
    v4_prefixes: Vec<u8>,
    v6: HashMap<(u8, u128), Entry>,
    v6_prefixes: Vec<u8>,
    domains: HashMap<Box<str>, Entry>,
    /// File hashes (lower-case hex: MD5, SHA-1, SHA-256).
    hashes: HashMap<Box<str>, Entry>,
}

/// An indicator, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Indicator {
    V4(u32, u8),
    V6(u128, u8),
    Domain(String),
    /// A file hash in lower-case hex.
    Hash(String),
}

impl Intel {
    /// The entry listing a file hash (hex, any case), if one does.
    pub fn match_hash(&self, hash: &str) -> Option<Hit> {
        let hash = hash.to_ascii_lowercase();
        let entry = self.hashes.get(hash.as_str())?;
        Some(self.hit(entry, hash))
    }

    /// True when some list has file hashes, so file findings are worth checking.
    pub fn has_hashes(&self) -> bool {
        !self.hashes.is_empty()
    }

    /// True when some list has domains, so names are worth collecting.
    pub fn has_domains(&self) -> bool {
        !self.domains.is_empty()
    }

    /// Adds the list `name` with content `bytes`. A list is CSV when its name ends in `.csv` or its
    /// first indicator line has a comma.
    pub fn add_list(&mut self, name: &str, bytes: &[u8]) -> ListStats {
        let list = u16::try_from(self.lists.len()).unwrap_or(u16::MAX);
        self.lists.push(name.to_string());
        let text = String::from_utf8_lossy(bytes);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        let is_csv =
            name.to_ascii_lowercase().ends_with(".csv") || first.is_some_and(|l| l.contains(','));
        let mut stats = ListStats::default();
        let mut malformed = 0;
        let mut first_row = true;
        let mut add = |line: u32, indicator: &str, label: Option<&str>| {
            let header = std::mem::replace(&mut first_row, false);
            match parse_indicator(indicator) {
                Some(parsed) => {
                    let label = label
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| l.chars().take(200).collect::<String>().into());
                    self.insert(
                        parsed,
                        Entry {
                            list,
                            line,
                            indicator: normalise(indicator).into(),
                            label,
                        },
                    );
                    stats.indicators += 1;
                }
                None if header && is_csv => {}
                None => {
                    stats.skipped += 1;
                    stats.first_skipped.get_or_insert(line);
                }
            }
        };
        if is_csv {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .comment(Some(b'#'))
                .trim(csv::Trim::All)
                .from_reader(bytes);
            for record in reader.records() {
                let Ok(record) = record else {
                    malformed += 1;
                    continue;
                };
                let line = record.position().map_or(0, |p| p.line() as u32);
                match record.get(0) {
                    Some(i) if !i.is_empty() => add(line, i, record.get(1)),
                    _ => {}
                }
            }
        } else {
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                let (indicator, label) = match line.split_once(char::is_whitespace) {
                    Some((i, l)) => (i, Some(l)),
                    None => (line, None),
                };
                add(n as u32 + 1, indicator, label);
            }
        }
        stats.skipped += malformed;
        stats
    }

    fn insert(&mut self, indicator: Indicator, entry: Entry) {
        match indicator {
            Indicator::V4(net, len) => {
                self.v4.entry((len, net)).or_insert(entry);
                if !self.v4_prefixes.contains(&len) {
                    self.v4_prefixes.push(len);
                    self.v4_prefixes.sort_unstable_by(|a, b| b.cmp(a));
                }
            }
            Indicator::V6(net, len) => {
                self.v6.entry((len, net)).or_insert(entry);
                if !self.v6_prefixes.contains(&len) {
                    self.v6_prefixes.push(len);
                    self.v6_prefixes.sort_unstable_by(|a, b| b.cmp(a));
                }
            }
            Indicator::Domain(d) => {
                self.domains.entry(d.into()).or_insert(entry);
            }
            Indicator::Hash(h) => {
                self.hashes.entry(h.into()).or_insert(entry);
            }
        }
    }

    fn hit(&self, entry: &Entry, matched: String) -> Hit {
        Hit {
            list: self
                .lists
                .get(usize::from(entry.list))
                .cloned()
                .unwrap_or_default(),
            entry: entry.clone(),
            matched,
        }
    }

    /// The most specific entry covering `ip` (an address, then ever wider networks).
    pub fn match_ip(&self, ip: IpAddr) -> Option<Hit> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let entry = match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4_prefixes
                    .iter()
                    .find_map(|&len| self.v4.get(&(len, mask_v4(bits, len))))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                self.v6_prefixes
                    .iter()
                    .find_map(|&len| self.v6.get(&(len, mask_v6(bits, len))))
            }
        }?;
        Some(self.hit(entry, ip.to_string()))
    }

    /// The entry for `name` or the closest domain above it (`evil.example` matches `a.b.evil.example`).
    pub fn match_name(&self, name: &str) -> Option<Hit> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut rest = name.as_str();
        loop {
            if let Some(entry) = self.domains.get(rest) {
                return Some(self.hit(entry, name.clone()));
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

fn mask_v4(bits: u32, len: u8) -> u32 {
    match len {
        0 => 0,
        l => bits & (u32::MAX << (32 - u32::from(l.min(32)))),
    }
}

fn mask_v6(bits: u128, len: u8) -> u128 {
    match len {
        0 => 0,
        l => bits & (u128::MAX << (128 - u32::from(l.min(128)))),
    }
}

/// Undoes the usual defanging (`evil[.]example`, `hxxp://`) and lower-cases.
fn normalise(text: &str) -> String {
    text.trim()
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[:]", ":")
        .to_ascii_lowercase()
}

/// An IP, a CIDR network, a domain, or a URL whose host is one of those.
fn parse_indicator(text: &str) -> Option<Indicator> {
    let text = normalise(text);
    if matches!(text.len(), 32 | 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(Indicator::Hash(text));
    }
    let mut text = text.as_str();
    if let Some((_, rest)) = text.split_once("://") {
        // A URL: keep its host.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        text = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
    }
    if let Some((net, len)) = text.split_once('/') {
        let len: u8 = len.parse().ok()?;
        return match net.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) if len <= 32 => Some(Indicator::V4(mask_v4(u32::from(v4), len), len)),
            IpAddr::V6(v6) if len <= 128 => Some(Indicator::V6(mask_v6(u128::from(v6), len), len)),
            _ => None,
        };
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(match ip {
            IpAddr::V4(v4) => Indicator::V4(u32::from(v4), 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Indicator::V4(u32::from(v4), 32),
                None => Indicator::V6(u128::from(v6), 128),
            },
        });
    }
    let domain = text
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    let valid = domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && domain.bytes().any(|b| b.is_ascii_alphabetic());
    valid.then(|| Indicator::Domain(domain.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_hashes_are_indicators_of_their_own() {
        let mut intel = Intel::default();
        let sha256 = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824";
        let list = format!("# files\n{sha256} hello dropper\n5d41402abc4b2a76b9719d911017c592\n");
        assert_eq!(intel.add_list("h.txt", list.as_bytes()).indicators, 2);
        let hit = intel.match_hash(&sha256.to_ascii_lowercase()).unwrap();
        assert_eq!(
            (hit.entry.line, hit.entry.label.as_deref()),
            (2, Some("hello dropper"))
        );
        assert!(
            intel
                .match_hash("5D41402ABC4B2A76B9719D911017C592")
                .is_some()
        );
        assert!(intel.match_name(sha256).is_none());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PLAIN: &str = "# bad things\n\
        216.165.2.56   tor relay\n\
        \n\
        10.66.0.0/16 # lab network\n\
        evil.example\n\
        *.Tracker.Example.\n\
        2001:db8:bad::/48 v6 block\n\
        hxxp://phish[.]example/login.php\n\
        not an indicator\n\
        203.0.113.7/33\n";

    #[test]
    fn reads_plain_lists_with_addresses_networks_domains_and_urls() {
        let mut intel = Intel::default();
        let stats = intel.add_list("bad.txt", PLAIN.as_bytes());
        assert_eq!(
            stats,
            ListStats {
                indicators: 6,
                skipped: 2,
                first_skipped: Some(9)
            }
        );
        let hit = intel.match_ip(ip("216.165.2.56")).unwrap();
        assert_eq!(hit.list, "bad.txt");
        assert_eq!(hit.entry.line, 2);
        assert_eq!(hit.entry.label.as_deref(), Some("tor relay"));
        assert_eq!(
            hit.describe(),
            "216.165.2.56 is listed in bad.txt line 2 (tor relay)"
        );
        assert_eq!(intel.match_ip(ip("216.165.2.57")), None);
        let net = intel.match_ip(ip("10.66.200.1")).unwrap();
        assert_eq!(net.entry.line, 4);
        assert_eq!(net.entry.label, None, "a comment is not a label");
        assert_eq!(
            net.describe(),
            "10.66.200.1 (matches 10.66.0.0/16) is listed in bad.txt line 4"
        );
        assert!(
            intel.match_ip(ip("::ffff:10.66.1.1")).is_some(),
            "v4-mapped"
        );
        assert!(intel.match_ip(ip("2001:db8:bad:1::5")).is_some());
        assert!(intel.match_ip(ip("2001:db8:bae::5")).is_none());
        assert_eq!(intel.match_name("evil.example").unwrap().entry.line, 5);
        assert_eq!(
            intel.match_name("WWW.Evil.Example.").unwrap().matched,
            "www.evil.example",
            "subdomains match, case and the root dot do not matter"
        );
        assert!(intel.match_name("notevil.example").is_none());
        assert!(intel.match_name("example").is_none());
        assert_eq!(intel.match_name("a.tracker.example").unwrap().entry.line, 6);
        assert_eq!(intel.match_name("phish.example").unwrap().entry.line, 8);
        assert!(intel.has_domains());
    }

    #[test]
    fn reads_csv_lists_with_a_header_labels_and_quoted_fields() {
        let csv = "indicator,source\n\
            198.51.100.23,\"feodo, botnet C2\"\n\
            bad.example,abuse.ch\n\
            192.0.2.0/24\n\
            ,empty\n\
            nonsense,x\n";
        let mut intel = Intel::default();
        let stats = intel.add_list("/intel/feed.csv", csv.as_bytes());
        assert_eq!(stats.indicators, 3);
        assert_eq!(stats.skipped, 1);
        assert_eq!(stats.first_skipped, Some(6));
        let hit = intel.match_ip(ip("198.51.100.23")).unwrap();
        assert_eq!(hit.entry.line, 2);
        assert_eq!(hit.entry.label.as_deref(), Some("feodo, botnet C2"));
        assert_eq!(
            intel.match_name("c2.bad.example").unwrap().describe(),
            "c2.bad.example (matches bad.example) is listed in /intel/feed.csv line 3 (abuse.ch)"
        );
        assert!(intel.match_ip(ip("192.0.2.200")).is_some());
    }

    #[test]
    fn a_plain_list_whose_lines_have_commas_is_read_as_csv() {
        let mut intel = Intel::default();
        intel.add_list("list.txt", b"1.2.3.4,label one\n");
        let hit = intel.match_ip(ip("1.2.3.4")).unwrap();
        assert_eq!(hit.entry.label.as_deref(), Some("label one"));
    }

    #[test]
    fn the_most_specific_network_wins_and_the_first_list_keeps_a_duplicate() {
        let mut intel = Intel::default();
        intel.add_list(
            "a.txt",
            b"10.0.0.0/8 wide\n10.1.0.0/16 narrow\n0.0.0.0/0 all\n",
        );
        intel.add_list("b.txt", b"10.1.0.0/16 again\n");
        let hit = intel.match_ip(ip("10.1.2.3")).unwrap();
        assert_eq!((hit.list.as_str(), hit.entry.line), ("a.txt", 2));
        assert_eq!(
            intel
                .match_ip(ip("8.8.8.8"))
                .unwrap()
                .entry
                .label
                .as_deref(),
            Some("all")
        );
    }
}
