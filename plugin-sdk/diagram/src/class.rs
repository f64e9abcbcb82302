//! Traffic classes: what kind of conversation an edge of the diagram stands for, decided from the
//! findings of the analyzers (not from port numbers, which is how the ancestor went wrong), and the
//! views a conversation belongs to. Colours live here too, so every renderer and the legend agree.

use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Flow, Protocol, tag_matches};

/// The class of a conversation, which decides its edge colour. A flow has exactly one class; when its
/// findings name several, the first in this order wins: Tor, suspicious, HTTP, HTTPS, DNS, ICMP, other.
/// (A Tor flow that the suspicious plugin also flagged stays purple; it is drawn bold and is in the
/// `suspicious` view as well.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `tor.*` findings (a Tor relay, a Tor-like TLS handshake).
    Tor,
    /// `suspicious` and `cleartext.*` findings.
    Suspicious,
    /// `web.http`.
    Http,
    /// `web.https` and `web.tls`.
    Https,
    /// `dns`, `dns.*` (DNS, mDNS, LLMNR, NBNS).
    Dns,
    /// ICMP and ICMPv6 flows without any of the findings above.
    Icmp,
    /// Everything else, labelled with its ports.
    Other,
}

impl Class {
    /// Every class, in priority order (also the legend's order).
    pub const ALL: [Class; 7] = [
        Class::Tor,
        Class::Suspicious,
        Class::Http,
        Class::Https,
        Class::Dns,
        Class::Icmp,
        Class::Other,
    ];

    /// The lower-case name used in labels and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Tor => "tor",
            Class::Suspicious => "suspicious",
            Class::Http => "http",
            Class::Https => "https",
            Class::Dns => "dns",
            Class::Icmp => "icmp",
            Class::Other => "other",
        }
    }

    /// The edge colour (an sRGB hex colour that Graphviz, layout-rs and browsers all read).
    pub fn color(self) -> &'static str {
        match self {
            Class::Tor => "#7b2cbf",
            Class::Suspicious => "#d62828",
            Class::Http => "#2a9d3f",
            Class::Https => "#1f5fbf",
            Class::Dns => "#f08c00",
            Class::Icmp => "#000000",
            Class::Other => "#8a8a8a",
        }
    }

    /// What the legend says about the class.
    pub fn description(self) -> &'static str {
        match self {
            Class::Tor => "Tor (tor.*)",
            Class::Suspicious => "suspicious, cleartext credentials",
            Class::Http => "HTTP (web.http)",
            Class::Https => "HTTPS / TLS (web.https, web.tls)",
            Class::Dns => "DNS, mDNS, LLMNR, NBNS (dns.*)",
            Class::Icmp => "ICMP, ICMPv6",
            Class::Other => "other (top ports shown)",
        }
    }
}

/// Views a conversation belongs to, as bits: the fixed views below, and one bit per other top-level tag
/// prefix seen (`beacon`, `cleartext`, ...), interned by [`Prefixes`].
pub type ViewBits = u64;

/// `web`: HTTP or HTTPS.
pub const VIEW_WEB: ViewBits = 1 << 0;
/// `http`.
pub const VIEW_HTTP: ViewBits = 1 << 1;
/// `https` (also plain TLS).
pub const VIEW_HTTPS: ViewBits = 1 << 2;
/// `dns`.
pub const VIEW_DNS: ViewBits = 1 << 3;
/// `icmp`, by protocol.
pub const VIEW_ICMP: ViewBits = 1 << 4;
/// `tor`.
pub const VIEW_TOR: ViewBits = 1 << 5;
/// `suspicious` (also `cleartext.*`).
pub const VIEW_SUSPICIOUS: ViewBits = 1 << 6;
/// The first bit used for other tag prefixes.
const FIRST_PREFIX_BIT: u32 = 8;

/// The views every diagram offers, with their bits (`all` has none: it holds everything).
pub const FIXED_VIEWS: [(&str, ViewBits); 8] = [
    ("all", 0),
    ("web", VIEW_WEB),
    ("http", VIEW_HTTP),
    ("https", VIEW_HTTPS),
    ("dns", VIEW_DNS),
    ("icmp", VIEW_ICMP),
    ("tor", VIEW_TOR),
    ("suspicious", VIEW_SUSPICIOUS),
];

/// Top-level tag prefixes that have no fixed view, each given a bit (at most 56; later ones are
/// ignored, which only means no view of their own).
#[derive(Clone, Debug, Default)]
pub struct Prefixes {
    names: Vec<String>,
}

impl Prefixes {
    /// The bit of `prefix`, interning it. `None` when the 56 bits are used up or the prefix cannot be a
    /// file name (only `a-z`, `0-9`, `-` and `_` are allowed).
    pub fn bit(&mut self, prefix: &str) -> Option<ViewBits> {
        if let Some(i) = self.names.iter().position(|p| p == prefix) {
            return Some(1 << (FIRST_PREFIX_BIT + i as u32));
        }
        if self.names.len() >= (64 - FIRST_PREFIX_BIT) as usize || !is_view_name(prefix) {
            return None;
        }
        self.names.push(prefix.to_string());
        Some(1 << (FIRST_PREFIX_BIT + self.names.len() as u32 - 1))
    }

    /// The bit of an already interned prefix.
    pub fn get(&self, prefix: &str) -> Option<ViewBits> {
        self.names
            .iter()
            .position(|p| p == prefix)
            .map(|i| 1 << (FIRST_PREFIX_BIT + i as u32))
    }

    /// The interned prefixes with their bits, in the order they were first seen.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ViewBits)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), 1 << (FIRST_PREFIX_BIT + i as u32)))
    }
}

/// True for names usable as a view (and so as a file name): 1–32 of `a-z`, `0-9`, `-`, `_`, starting
/// with a letter or digit.
pub fn is_view_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.starts_with(['-', '_'])
}

/// The class and view bits one finding tag contributes.
pub fn tag_bits(tag: &str, prefixes: &mut Prefixes) -> (Option<Class>, ViewBits) {
    let top = tag.split('.').next().unwrap_or(tag);
    if tag_matches(tag, names::web::HTTP) {
        (Some(Class::Http), VIEW_WEB | VIEW_HTTP)
    } else if tag_matches(tag, names::web::HTTPS) || tag_matches(tag, names::web::TLS) {
        (Some(Class::Https), VIEW_WEB | VIEW_HTTPS)
    } else if top == "web" {
        (None, VIEW_WEB)
    } else if top == "dns" {
        (Some(Class::Dns), VIEW_DNS)
    } else if top == "tor" {
        (Some(Class::Tor), VIEW_TOR)
    } else if top == "suspicious" {
        (Some(Class::Suspicious), VIEW_SUSPICIOUS)
    } else if top == "icmp" {
        // e.g. an ICMP tunnel finding: its own view is the icmp view.
        (None, VIEW_ICMP)
    } else if top == "cleartext" {
        let own = prefixes.bit(top).unwrap_or(0);
        (Some(Class::Suspicious), VIEW_SUSPICIOUS | own)
    } else {
        (None, prefixes.bit(top).unwrap_or(0))
    }
}

/// The class of a flow and the views it belongs to, from its findings and protocol.
pub fn classify(flow: &Flow, prefixes: &mut Prefixes) -> (Class, ViewBits) {
    let mut best: Option<Class> = None;
    let mut bits = 0;
    for record in &flow.findings {
        let (class, b) = tag_bits(&record.finding.tag, prefixes);
        bits |= b;
        if let Some(c) = class {
            best = Some(best.map_or(c, |old| old.min(c)));
        }
    }
    if matches!(flow.protocol, Protocol::Icmp | Protocol::Icmpv6) {
        bits |= VIEW_ICMP;
        best = Some(best.map_or(Class::Icmp, |old| old.min(Class::Icmp)));
    }
    (best.unwrap_or(Class::Other), bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_to_classes_and_views() {
        let mut p = Prefixes::default();
        assert_eq!(
            tag_bits("web.https", &mut p),
            (Some(Class::Https), VIEW_WEB | VIEW_HTTPS)
        );
        assert_eq!(
            tag_bits("web.tls", &mut p),
            (Some(Class::Https), VIEW_WEB | VIEW_HTTPS)
        );
        assert_eq!(
            tag_bits("web.http", &mut p),
            (Some(Class::Http), VIEW_WEB | VIEW_HTTP)
        );
        assert_eq!(tag_bits("dns.mdns", &mut p), (Some(Class::Dns), VIEW_DNS));
        assert_eq!(tag_bits("tor.relay", &mut p), (Some(Class::Tor), VIEW_TOR));
        assert_eq!(
            tag_bits("suspicious", &mut p),
            (Some(Class::Suspicious), VIEW_SUSPICIOUS)
        );
        let (class, bits) = tag_bits("cleartext.ftp", &mut p);
        assert_eq!(class, Some(Class::Suspicious));
        assert_eq!(bits, VIEW_SUSPICIOUS | p.get("cleartext").unwrap());
        let (class, bits) = tag_bits("beacon", &mut p);
        assert_eq!((class, bits), (None, p.get("beacon").unwrap()));
        assert_eq!(tag_bits("Weird Tag!", &mut p), (None, 0));
        assert!(Class::Tor < Class::Suspicious && Class::Suspicious < Class::Http);
    }

    #[test]
    fn prefix_bits_run_out_quietly() {
        let mut p = Prefixes::default();
        for i in 0..56 {
            assert!(p.bit(&format!("p{i}")).is_some());
        }
        assert_eq!(p.bit("one-too-many"), None);
        assert_eq!(p.bit("p3"), p.get("p3"));
    }
}
