//! What became of every frame. Each frame read lands in exactly one fate — it joined a flow, was ARP,
//! was a fragment of a datagram that never completed, was skipped for a named reason — so the fates of
//! a capture always sum to the frames read, and nothing the capture holds disappears without a line in
//! the report saying so.

use crate::decode::{DecodeError, Decoded};
use std::collections::BTreeMap;

/// What became of a frame. The order is the order of the table in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fate {
    /// An IP packet that joined a flow (each fragment of a reassembled datagram counts).
    Analyzed,
    /// An IP packet whose tunnel header (the named layer) was malformed: it joined a flow as the outer
    /// packet that should have carried the tunnel.
    AnalyzedOuter(&'static str),
    /// An ARP or RARP packet with Ethernet and IPv4 addresses.
    Arp,
    /// A fragment held for reassembly whose datagram never completed (timed out, evicted to bound
    /// memory, or still waiting at the end of the capture).
    FragmentNeverCompleted,
    /// A fragment that could not join a reassembly (overlapping or inconsistent pieces).
    FragmentInvalid,
    /// A frame of a protocol the flow table does not track, by ether type (0: none, e.g. 802.3 LLC).
    NotIp(u16),
    /// A record with no captured bytes.
    EmptyRecord,
    /// A frame of a link type the decoder does not know.
    UnsupportedLinkType(u32),
    /// A frame whose header at this layer could not be read.
    Malformed(&'static str),
}

impl Fate {
    /// The fate of a frame from its decoding, with the number of frames it settles: a reassembled
    /// datagram settles all its fragments. `None` for a fragment held for reassembly; it is settled
    /// later, with its datagram or as never completed ([`crate::decode::Decoder::take_given_up`]).
    pub fn of(decoded: &Result<Decoded<'_>, DecodeError>) -> Option<(Fate, u64)> {
        Some(match decoded {
            Ok(Decoded::Ip(p)) => {
                let fate = match &p.tunnel_error {
                    Some(DecodeError::Malformed { layer, .. }) => Fate::AnalyzedOuter(layer),
                    Some(_) => Fate::AnalyzedOuter("tunnel"),
                    None => Fate::Analyzed,
                };
                (fate, u64::from(p.fragments.max(1)))
            }
            Ok(Decoded::Arp(_)) => (Fate::Arp, 1),
            Ok(Decoded::FragmentHeld) => return None,
            Ok(Decoded::NonIp { ether_type }) => (Fate::NotIp(*ether_type), 1),
            Err(DecodeError::EmptyRecord) => (Fate::EmptyRecord, 1),
            Err(DecodeError::UnsupportedLinkType(n)) => (Fate::UnsupportedLinkType(*n), 1),
            Err(DecodeError::Malformed { layer, .. }) => (Fate::Malformed(layer), 1),
            Err(DecodeError::Fragment { .. }) => (Fate::FragmentInvalid, 1),
        })
    }

    /// A stable key for reports and scripts: `analyzed`, `not-ip-0x88cc`, `malformed-ipv4`, ...
    pub fn key(&self) -> String {
        match self {
            Fate::Analyzed => "analyzed".into(),
            Fate::AnalyzedOuter(layer) => format!("analyzed-outer-malformed-{layer}"),
            Fate::Arp => "arp".into(),
            Fate::FragmentNeverCompleted => "fragment-never-completed".into(),
            Fate::FragmentInvalid => "fragment-invalid".into(),
            Fate::NotIp(t) => format!("not-ip-0x{t:04x}"),
            Fate::EmptyRecord => "empty-record".into(),
            Fate::UnsupportedLinkType(n) => format!("unsupported-link-type-{n}"),
            Fate::Malformed(layer) => format!("malformed-{layer}"),
        }
    }

    /// The fate in plain English, for people.
    pub fn label(&self) -> String {
        match self {
            Fate::Analyzed => "analyzed (joined a flow)".into(),
            Fate::AnalyzedOuter(layer) => {
                format!("analyzed as the outer packet: malformed {layer} tunnel header")
            }
            Fate::Arp => "ARP".into(),
            Fate::FragmentNeverCompleted => "IP fragment of a datagram that never completed".into(),
            Fate::FragmentInvalid => "IP fragment that could not be reassembled".into(),
            Fate::NotIp(0) => {
                "not IP: no ether type (802.3 LLC such as STP, or another family)".into()
            }
            Fate::NotIp(t) => match ether_type_name(*t) {
                Some(name) => format!("not IP: {name} (ether type 0x{t:04x})"),
                None => format!("not IP: ether type 0x{t:04x}"),
            },
            Fate::EmptyRecord => "empty record (0 bytes captured)".into(),
            Fate::UnsupportedLinkType(n) => {
                format!("link type {n} (unsupported)")
            }
            Fate::Malformed(layer) => format!("malformed {layer} header"),
        }
    }

    /// Whether a frame of this fate told the report something: a flow, an ARP binding, or at least
    /// the hosts that sent it.
    pub fn was_analyzed(&self) -> bool {
        matches!(
            self,
            Fate::Analyzed
                | Fate::AnalyzedOuter(_)
                | Fate::Arp
                | Fate::FragmentNeverCompleted
                | Fate::FragmentInvalid
        )
    }
}

/// Well-known ether types that are not IP, for the labels.
fn ether_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0806 => "ARP without Ethernet/IPv4 addresses",
        0x0842 => "Wake-on-LAN",
        0x22f0 => "AVTP",
        0x8035 => "RARP without Ethernet/IPv4 addresses",
        0x809b => "AppleTalk",
        0x8137 => "IPX",
        0x8808 => "Ethernet flow control",
        0x8809 => "slow protocols (LACP)",
        0x8847 | 0x8848 => "MPLS",
        0x8863 | 0x8864 => "PPPoE",
        0x888e => "EAPOL (802.1X)",
        0x8892 => "PROFINET",
        0x88cc => "LLDP",
        0x88e1 => "HomePlug",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        0x8902 => "CFM",
        0x893a => "IEEE 1905",
        0x9000 => "loopback (configuration test)",
        _ => return None,
    })
}

/// Frames counted by fate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fates {
    counts: BTreeMap<Fate, u64>,
}

impl Fates {
    pub fn add(&mut self, fate: Fate, frames: u64) {
        if frames > 0 {
            *self.counts.entry(fate).or_default() += frames;
        }
    }

    /// Frames settled so far; once the capture has ended, the frames read.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn get(&self, fate: Fate) -> u64 {
        self.counts.get(&fate).copied().unwrap_or(0)
    }

    /// The fates that occurred, in table order, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (Fate, u64)> + '_ {
        self.counts.iter().map(|(f, n)| (*f, *n))
    }

    /// Whether any frame told the report something (see [`Fate::was_analyzed`]).
    pub fn any_analyzed(&self) -> bool {
        self.counts.keys().any(Fate::was_analyzed)
    }

    /// The counts in one line, largest first: `12 frames: link type 65535 (unsupported)`.
    pub fn describe(&self) -> String {
        let mut v: Vec<(Fate, u64)> = self.iter().collect();
        v.sort_by_key(|(f, n)| (std::cmp::Reverse(*n), *f));
        let parts: Vec<String> = v
            .iter()
            .map(|(f, n)| {
                let unit = if *n == 1 { "frame" } else { "frames" };
                format!("{n} {unit}: {}", f.label())
            })
            .collect();
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testdata;
    use crate::decode::{CaptureReader, Decoder};

    /// Reads a whole capture the way a run does and counts the fates.
    fn fates_of(path: &std::path::Path) -> (Fates, u64) {
        let mut reader = CaptureReader::open(path).unwrap();
        let mut decoder = Decoder::new();
        let mut fates = Fates::default();
        let mut frames = 0;
        while let Some(Ok(frame)) = reader.next_frame() {
            frames += 1;
            if let Some((fate, n)) = Fate::of(&decoder.decode(&frame)) {
                fates.add(fate, n);
            }
            for u in decoder.take_given_up() {
                fates.add(Fate::FragmentNeverCompleted, u.packets);
            }
        }
        decoder.end_capture();
        for u in decoder.take_given_up() {
            fates.add(Fate::FragmentNeverCompleted, u.packets);
        }
        (fates, frames)
    }

    #[test]
    fn the_fates_of_every_shared_capture_sum_to_its_packets() {
        let exp = testdata::expectations();
        for name in testdata::captures() {
            let (fates, frames) = fates_of(&testdata::path(&name));
            assert_eq!(fates.total(), frames, "{name}: {fates:?}");
            if exp[&name]["readable_to_end"] == true {
                assert_eq!(Some(frames), exp[&name]["packets"].as_u64(), "{name}");
            }
            // tshark counts ARP frames; every one of them is ARP here too.
            if let Some(arp) = exp[&name]["arp_packets"].as_u64() {
                assert_eq!(fates.get(Fate::Arp), arp, "{name}: {fates:?}");
            }
        }
    }

    #[test]
    fn reassembled_fragments_count_as_analyzed() {
        // tshark: 3 frames, 2 of them fragments of one ICMP echo request.
        let (fates, _) = fates_of(&testdata::path("ipv4_fragmented_icmp_echo.pcap"));
        assert_eq!(fates.get(Fate::Analyzed), 3, "{fates:?}");
        assert_eq!(fates.get(Fate::FragmentNeverCompleted), 0);
    }

    #[test]
    fn stp_frames_are_counted_as_not_ip() {
        // tshark: 126 frames match `ip or ipv6`, 6 `arp`, 4 `stp` (802.3 LLC, no ether type).
        let (fates, _) = fates_of(&testdata::path("http_wikipedia_browsing.pcap"));
        let want = [(Fate::Analyzed, 126), (Fate::Arp, 6), (Fate::NotIp(0), 4)];
        assert_eq!(fates.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn keys_and_labels_name_the_reason() {
        assert_eq!(Fate::NotIp(0x88cc).key(), "not-ip-0x88cc");
        assert_eq!(
            Fate::NotIp(0x88cc).label(),
            "not IP: LLDP (ether type 0x88cc)"
        );
        assert_eq!(
            Fate::UnsupportedLinkType(65535).key(),
            "unsupported-link-type-65535"
        );
        assert_eq!(Fate::Malformed("ipv4").label(), "malformed ipv4 header");
        let mut f = Fates::default();
        f.add(Fate::EmptyRecord, 1);
        f.add(Fate::UnsupportedLinkType(65535), 12);
        f.add(Fate::Arp, 0);
        assert_eq!(
            f.describe(),
            "12 frames: link type 65535 (unsupported); 1 frame: empty record (0 bytes captured)"
        );
        assert!(!f.any_analyzed());
        f.add(Fate::FragmentNeverCompleted, 1);
        assert!(f.any_analyzed());
        assert_eq!(f.total(), 14);
    }
}
