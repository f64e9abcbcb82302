//! Conveniences on the flow-model types: conversions to `std::net`, flow accessors and finding builders,
//! so plugin code reads like the investigation it does rather than like WIT plumbing.

use crate::{
    Attribute, Direction, Finding, Flow, FlowId, HostFact, IpAddress, Ipv6Address, NoteLevel,
    Outcome, PluginError, Protocol, RunNote, Severity, Subject, Timestamp,
};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

impl From<IpAddress> for IpAddr {
    fn from(ip: IpAddress) -> IpAddr {
        match ip {
            IpAddress::V4(v) => IpAddr::V4(Ipv4Addr::from(v)),
            IpAddress::V6(v) => {
                IpAddr::V6(Ipv6Addr::from(((v.high as u128) << 64) | v.low as u128))
            }
        }
    }
}

impl From<IpAddr> for IpAddress {
    fn from(ip: IpAddr) -> IpAddress {
        match ip {
            IpAddr::V4(v) => IpAddress::V4(u32::from(v)),
            IpAddr::V6(v) => {
                let bits = u128::from(v);
                IpAddress::V6(Ipv6Address {
                    high: (bits >> 64) as u64,
                    low: bits as u64,
                })
            }
        }
    }
}

impl fmt::Display for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        IpAddr::from(*self).fmt(f)
    }
}

impl PartialEq for IpAddress {
    fn eq(&self, other: &Self) -> bool {
        IpAddr::from(*self) == IpAddr::from(*other)
    }
}

impl Eq for IpAddress {}

impl std::hash::Hash for IpAddress {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        IpAddr::from(*self).hash(state)
    }
}

/// Formats a MAC address held in the low 48 bits of a `u64` as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: u64) -> String {
    // The bytes are ASCII hex digits and colons.
    mac_bytes(mac).iter().map(|&b| b as char).collect()
}

/// [`format_mac`] as its 17 ASCII bytes, for writers that append them to a buffer without a `String`.
pub fn mac_bytes(mac: u64) -> [u8; 17] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b':'; 17];
    for (i, b) in mac.to_be_bytes()[2..].iter().enumerate() {
        out[i * 3] = HEX[(b >> 4) as usize];
        out[i * 3 + 1] = HEX[(b & 15) as usize];
    }
    out
}

impl Flow {
    /// The client's address.
    pub fn client_ip(&self) -> IpAddr {
        self.client.ip.into()
    }

    /// The server's address.
    pub fn server_ip(&self) -> IpAddr {
        self.server.ip.into()
    }

    /// True for TCP flows.
    pub fn is_tcp(&self) -> bool {
        self.protocol == Protocol::Tcp
    }

    /// True for UDP flows.
    pub fn is_udp(&self) -> bool {
        self.protocol == Protocol::Udp
    }

    /// Time of the first packet in either direction.
    pub fn first_seen(&self) -> Timestamp {
        match (self.to_server.first_seen, self.to_client.first_seen) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        }
    }

    /// Time of the last packet in either direction.
    pub fn last_seen(&self) -> Timestamp {
        self.to_server.last_seen.max(self.to_client.last_seen)
    }

    /// Packets in both directions.
    pub fn packets(&self) -> u64 {
        self.to_server.packets + self.to_client.packets
    }

    /// Bytes in both directions.
    pub fn bytes(&self) -> u64 {
        self.to_server.bytes + self.to_client.bytes
    }

    /// Findings of earlier stages on this flow whose tag equals `tag` or lies below it.
    pub fn findings_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Finding> {
        self.findings
            .iter()
            .map(|r| &r.finding)
            .filter(move |f| tag_matches(&f.tag, tag))
    }

    /// True when an earlier stage tagged this flow with `tag` (or a tag below it: `web` matches
    /// `web.https`).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.findings_tagged(tag).next().is_some()
    }

    /// The value of the first attribute `key` on any finding on this flow.
    pub fn finding_value(&self, key: &str) -> Option<&str> {
        self.findings.iter().find_map(|r| r.finding.get(key))
    }
}

/// True when `tag` is `prefix` or lies below it (`web.https` is below `web`).
pub fn tag_matches(tag: &str, prefix: &str) -> bool {
    tag == prefix || (tag.starts_with(prefix) && tag.as_bytes().get(prefix.len()) == Some(&b'.'))
}

impl Direction {
    /// The datagrams kept in `payload` (UDP, ICMP), each as its own slice. For TCP, the whole stream
    /// prefix as one item.
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest: &[u8] = &self.payload;
        let lengths: Box<dyn Iterator<Item = usize>> = if self.datagrams.is_empty() {
            Box::new(std::iter::once(self.payload.len()).filter(|&n| n > 0))
        } else {
            Box::new(self.datagrams.iter().map(|&n| n as usize))
        };
        lengths.map(move |n| {
            let n = n.min(rest.len());
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        })
    }
}

impl Attribute {
    /// A key/value pair.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Attribute {
        Attribute {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl Finding {
    /// A finding about one flow, with confidence 100 and an empty summary.
    pub fn on_flow(flow: FlowId, tag: impl Into<String>, severity: Severity) -> Finding {
        Finding::new(Subject::Flow(flow), tag, severity)
    }

    /// A finding about one host.
    pub fn on_host(
        host: impl Into<IpAddress>,
        tag: impl Into<String>,
        severity: Severity,
    ) -> Finding {
        Finding::new(Subject::Host(host.into()), tag, severity)
    }

    /// A finding about the capture as a whole.
    pub fn on_capture(tag: impl Into<String>, severity: Severity) -> Finding {
        Finding::new(Subject::Capture, tag, severity)
    }

    fn new(subject: Subject, tag: impl Into<String>, severity: Severity) -> Finding {
        Finding {
            tag: tag.into(),
            subject,
            severity,
            confidence: 100,
            summary: String::new(),
            attributes: Vec::new(),
            flows: Vec::new(),
        }
    }

    /// Sets the flows the finding rests on (sorted and without repeats here): all of them, so
    /// report.json and sqlite can list them whole.
    pub fn flows(mut self, flows: impl IntoIterator<Item = FlowId>) -> Finding {
        let mut flows: Vec<FlowId> = flows.into_iter().collect();
        flows.sort_unstable();
        flows.dedup();
        self.flows = flows;
        self
    }

    /// How many occurrences the finding stands for: the number of its flows, at least 1.
    pub fn occurrences(&self) -> u64 {
        (self.flows.len() as u64).max(1)
    }

    /// Sets the one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Finding {
        self.summary = summary.into();
        self
    }

    /// Sets the confidence (0–100).
    pub fn confidence(mut self, confidence: u8) -> Finding {
        self.confidence = confidence.min(100);
        self
    }

    /// Adds an attribute.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Finding {
        self.attributes.push(Attribute::new(key, value));
        self
    }

    /// The value of attribute `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        attribute(&self.attributes, key)
    }
}

/// The value of the first attribute named `key` in `attributes`.
fn attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

impl From<Ipv4Addr> for IpAddress {
    fn from(ip: Ipv4Addr) -> IpAddress {
        IpAddr::V4(ip).into()
    }
}

impl From<Ipv6Addr> for IpAddress {
    fn from(ip: Ipv6Addr) -> IpAddress {
        IpAddr::V6(ip).into()
    }
}

#[allow(clippy::derivable_impls)] // the type is generated here; it cannot derive
impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            findings: Vec::new(),
            host_facts: Vec::new(),
            notes: Vec::new(),
            streams_done: Vec::new(),
        }
    }
}

impl RunNote {
    /// A note that something was not counted, read or looked up: the report is less complete.
    pub fn warning(key: impl Into<String>, message: impl Into<String>) -> RunNote {
        RunNote {
            key: key.into(),
            level: NoteLevel::Warning,
            message: message.into(),
            attributes: Vec::new(),
        }
    }

    /// A note worth knowing that leaves nothing out of the report.
    pub fn info(key: impl Into<String>, message: impl Into<String>) -> RunNote {
        RunNote {
            level: NoteLevel::Info,
            ..RunNote::warning(key, message)
        }
    }

    /// Adds an attribute.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> RunNote {
        self.attributes.push(Attribute::new(key, value));
        self
    }

    /// The value of attribute `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        attribute(&self.attributes, key)
    }
}

impl NoteLevel {
    /// `info` or `warning`, as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteLevel::Info => "info",
            NoteLevel::Warning => "warning",
        }
    }
}

impl Outcome {
    /// Adds a finding.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Adds a run note: a statement about the run (a limit reached, a capability missing), not about
    /// the traffic.
    pub fn note(&mut self, note: RunNote) {
        self.notes.push(note);
    }

    /// Says the stage wants no further chunk of `flow`'s streams (from [`crate::Analyzer::stream`]):
    /// neither data nor end markers. The flow still comes to `analyze`, so forget its stream state now
    /// or there.
    pub fn stop_stream(&mut self, flow: FlowId) {
        self.streams_done.push(flow);
    }

    /// Publishes a fact about a host; later stages see it at once.
    pub fn fact(
        &mut self,
        host: impl Into<IpAddress>,
        key: impl Into<String>,
        value: impl Into<String>,
        observed: Option<Timestamp>,
    ) {
        self.host_facts.push(HostFact {
            host: host.into(),
            key: key.into(),
            value: value.into(),
            observed,
        });
    }
}

impl PluginError {
    /// An error that is none of the named cases.
    pub fn other(message: impl Into<String>) -> PluginError {
        PluginError::Other(message.into())
    }
}

impl crate::CapabilityError {
    /// The host's explanation, e.g. why a capability was refused.
    pub fn message(&self) -> &str {
        use crate::CapabilityError::*;
        match self {
            NotGranted(m) | Denied(m) | NotFound(m) | Timeout(m) | Other(m) => m,
        }
    }

    /// The kind of failure: `not granted`, `denied`, `not found`, `timeout` or `failed`.
    pub fn kind(&self) -> &'static str {
        use crate::CapabilityError::*;
        match self {
            NotGranted(_) => "not granted",
            Denied(_) => "denied",
            NotFound(_) => "not found",
            Timeout(_) => "timeout",
            Other(_) => "failed",
        }
    }
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The lower-case name used in reports.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name,)*
                }
            }
        }
    };
}

names!(Protocol { Tcp => "tcp", Udp => "udp", Icmp => "icmp", Icmpv6 => "icmpv6", Other => "other" });
names!(crate::Orientation { Syn => "syn", FirstPacket => "first-packet", PortHeuristic => "port-heuristic" });
names!(crate::EndReason { Fin => "fin", Rst => "rst", Idle => "idle", CaptureEnd => "capture-end", Evicted => "evicted" });
names!(crate::TunnelKind { Pppoe => "pppoe", Mpls => "mpls", Gre => "gre", Erspan => "erspan", Vxlan => "vxlan", Geneve => "geneve", IpInIp => "ip-in-ip", GtpU => "gtp-u" });
names!(crate::ConnState { S0 => "S0", S1 => "S1", Sf => "SF", Rej => "REJ", S2 => "S2", S3 => "S3", Rsto => "RSTO", Rstr => "RSTR", Rstos0 => "RSTOS0", Rstrh => "RSTRH", Sh => "SH", Shr => "SHR", Oth => "OTH" });
names!(Severity { Info => "info", Low => "low", Medium => "medium", High => "high" });
names!(crate::PluginKind { Analyzer => "analyzer", Output => "output" });

#[cfg(test)]
mod tests {
    use super::{format_mac, mac_bytes};

    #[test]
    fn macs_are_lower_case_hex_pairs_from_the_low_48_bits() {
        assert_eq!(format_mac(0x000c_2901_0a0f), "00:0c:29:01:0a:0f");
        assert_eq!(format_mac(0xffff_ffff_ffff), "ff:ff:ff:ff:ff:ff");
        assert_eq!(format_mac(0), "00:00:00:00:00:00");
        // Bits above the 48 are not part of the address.
        assert_eq!(format_mac(0xabcd_0000_0000_0001), "00:00:00:00:00:01");
        assert_eq!(&mac_bytes(0x1234_5678_9abc), b"12:34:56:78:9a:bc");
    }
}
