//! Evidence out: the packets of one flow, one host or a set of flows, cut from the case's stored
//! capture as a new capture file, streamed while the stored one is read (never held whole).
//!
//! What a cut promises: every frame it holds is a frame of the stored capture, unchanged (bytes, length
//! on the wire, time), in the stored order; a frame is kept when the capture crate's decoder makes of
//! it an IP packet of a chosen flow (same 5-tuple in either direction, same VLAN tags and tunnel, as
//! the flow table keys flows, and a time within the flow's first and last packet as report.json gives
//! them), or, for a host, an IP packet from or to its address or an ARP packet naming it. A pcap
//! input is written as pcap with the same link type and time resolution; a pcapng input as pcapng with
//! one interface per interface (and link type) used, so mixed link types survive.
//!
//! Known limits: the flows are read from report.json, which names a protocol other than TCP, UDP,
//! ICMP and ICMPv6 only as `other`, so an `other` flow takes every such protocol between its two
//! addresses; of an IP datagram sent in fragments only the frame that completed it is kept (the
//! decoder does not say which frames it held).

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcapxray_capture::decode::{
    CaptureReader, Decoded, Decoder, Frame, IpPacket, TunnelKind, TunnelLayer,
};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// What to cut.
pub enum Selection {
    /// These flows of report.json, by id; only their packets within a time range (microseconds)
    /// when given.
    Flows(HashSet<u64>, Option<(u64, u64)>),
    /// Every packet from or to this address, within a time range (microseconds) when given.
    Host(IpAddr, Option<(u64, u64)>),
}

/// Why nothing could be cut; said to the user before a byte is sent.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    #[error("this case has no report.json to look its flows up in; analyze it again")]
    NoReport,
    #[error("report.json could not be read: {0}")]
    BadReport(String),
    #[error("report.json has no flow {0}")]
    UnknownFlow(u64),
    #[error("the stored capture could not be opened: {0}")]
    Capture(String),
}

/// A flow as report.json gives it: the fields that say which packets are its own.
#[derive(Deserialize)]
struct ReportFlow {
    id: u64,
    protocol: String,
    client: ReportEndpoint,
    server: ReportEndpoint,
    start: Option<String>,
    end: Option<String>,
    #[serde(default)]
    vlan: Vec<u16>,
    #[serde(default)]
    tunnel: Vec<ReportTunnel>,
}

#[derive(Deserialize)]
struct ReportEndpoint {
    ip: IpAddr,
    port: u16,
}

#[derive(Deserialize)]
struct ReportTunnel {
    kind: String,
    outer_client: Option<IpAddr>,
    outer_server: Option<IpAddr>,
    id: Option<u32>,
}

#[derive(Deserialize)]
struct ReportFlows {
    #[serde(default)]
    flows: Vec<ReportFlow>,
}

/// The identity of a conversation, as the flow table keys it (`flow/table.rs`): both endpoints in
/// either order, the protocol (`None`: any protocol but TCP, UDP, ICMP and ICMPv6), the VLAN tags and
/// the tunnel layers without MPLS, each with its outer addresses in either order and its id when the
/// id is the same in both directions.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    ends: [(IpAddr, u16); 2],
    protocol: Option<u8>,
    vlan: Vec<u16>,
    tunnel: Vec<(TunnelKind, Option<[IpAddr; 2]>, Option<u32>)>,
}

fn sorted<T: Ord>(a: T, b: T) -> [T; 2] {
    if a <= b { [a, b] } else { [b, a] }
}

fn tunnel_identity(
    kind: TunnelKind,
    outer: Option<(IpAddr, IpAddr)>,
    id: Option<u32>,
) -> Option<(TunnelKind, Option<[IpAddr; 2]>, Option<u32>)> {
    (kind != TunnelKind::Mpls).then(|| {
        (
            kind,
            outer.map(|(a, b)| sorted(a, b)),
            id.filter(|_| kind.id_is_symmetric()),
        )
    })
}

/// The protocol numbers report.json names; the rest are `other`.
const NAMED: [(&str, u8); 4] = [("tcp", 6), ("udp", 17), ("icmp", 1), ("icmpv6", 58)];

fn packet_key(pkt: &IpPacket<'_>) -> Key {
    use pcapxray_capture::decode::Transport;
    let (sport, dport) = match &pkt.transport {
        Transport::Tcp {
            src_port, dst_port, ..
        }
        | Transport::Udp {
            src_port, dst_port, ..
        } => (*src_port, *dst_port),
        _ => (0, 0),
    };
    let named = NAMED.iter().any(|(_, n)| *n == pkt.protocol);
    Key {
        ends: sorted((pkt.src, sport), (pkt.dst, dport)),
        protocol: named.then_some(pkt.protocol),
        vlan: pkt.vlan.clone(),
        tunnel: pkt
            .tunnel
            .iter()
            .filter_map(|l: &TunnelLayer| tunnel_identity(l.kind, l.outer, l.id))
            .collect(),
    }
}

fn kind_named(name: &str) -> Option<TunnelKind> {
    use TunnelKind::*;
    [Pppoe, Mpls, Gre, Erspan, Vxlan, Geneve, IpInIp, GtpU]
        .into_iter()
        .find(|k| k.name() == name)
}

fn flow_key(f: &ReportFlow) -> Key {
    Key {
        ends: sorted((f.client.ip, f.client.port), (f.server.ip, f.server.port)),
        protocol: NAMED
            .iter()
            .find(|(name, _)| *name == f.protocol)
            .map(|(_, n)| *n),
        vlan: f.vlan.clone(),
        tunnel: f
            .tunnel
            .iter()
            .filter_map(|t| {
                let kind = kind_named(&t.kind)?;
                let outer = t.outer_client.zip(t.outer_server);
                tunnel_identity(kind, outer, t.id)
            })
            .collect(),
    }
}

/// An ISO 8601 UTC time as reports write it (`2011-03-18T19:06:07.096535Z`) from microseconds since
/// the epoch: the inverse of [`micros`] for the reports' own times (years 0 to 9999).
pub fn iso_micros(us: u64) -> String {
    let secs = us / 1_000_000;
    let (y, m, d) = crate::clock::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        us % 1_000_000
    )
}

/// Microseconds since the epoch of an ISO 8601 UTC time as reports write it
/// (`2011-03-18T19:06:07.096535Z`).
pub fn micros(text: &str) -> Option<u64> {
    let (date, rest) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let mut c = clock.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (h, min, s) = (c.next()??, c.next()??, c.next().unwrap_or(Some(0))?);
    let frac: String = frac.chars().chain("000000".chars()).take(6).collect();
    let us = frac.parse::<u64>().ok()?;
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(((days * 86_400 + h * 3600 + min * 60 + s) * 1_000_000) + us)
}

/// The chosen flows' keys, each with the time spans (microseconds) of its flows.
type Spans = HashMap<Key, Vec<(u64, u64)>>;

/// Reads the chosen flows from report.json; an id it does not hold is an error. With a time range,
/// each flow's span is cut down to it (a flow outside it keeps no span).
fn flow_spans(
    report: &Path,
    ids: &HashSet<u64>,
    range: Option<(u64, u64)>,
) -> Result<Spans, CutError> {
    let file = std::fs::File::open(report).map_err(|_| CutError::NoReport)?;
    let all: ReportFlows = serde_json::from_reader(io::BufReader::new(file))
        .map_err(|e| CutError::BadReport(e.to_string()))?;
    let mut spans: Spans = HashMap::new();
    let mut found = HashSet::new();
    for f in all.flows.iter().filter(|f| ids.contains(&f.id)) {
        found.insert(f.id);
        let start = f.start.as_deref().and_then(micros).unwrap_or(0);
        let end = f.end.as_deref().and_then(micros).unwrap_or(u64::MAX);
        let (start, end) = match range {
            Some((a, b)) => (start.max(a), end.min(b)),
            None => (start, end),
        };
        if start <= end {
            spans.entry(flow_key(f)).or_default().push((start, end));
        }
    }
    if let Some(missing) = ids.iter().filter(|id| !found.contains(id)).min() {
        return Err(CutError::UnknownFlow(*missing));
    }
    Ok(spans)
}

/// The test a frame must pass.
enum Test {
    Spans(Spans),
    Host(IpAddr, Option<(u64, u64)>),
}

impl Test {
    fn keeps(&self, ts: u64, decoded: &Decoded<'_>) -> bool {
        // Reports give times in whole microseconds, cut down: compare at that resolution.
        let us = ts / 1_000;
        match (self, decoded) {
            (Test::Spans(spans), Decoded::Ip(pkt)) => spans
                .get(&packet_key(pkt))
                .is_some_and(|s| s.iter().any(|(a, b)| (*a..=*b).contains(&us))),
            (Test::Host(ip, range), Decoded::Ip(pkt)) => {
                (pkt.src == *ip || pkt.dst == *ip) && within(*range, us)
            }
            (Test::Host(ip, range), Decoded::Arp(arp)) => {
                (IpAddr::V4(arp.sender_ip) == *ip || IpAddr::V4(arp.target_ip) == *ip)
                    && within(*range, us)
            }
            _ => false,
        }
    }
}

fn within(range: Option<(u64, u64)>, us: u64) -> bool {
    range.is_none_or(|(a, b)| (a..=b).contains(&us))
}

/// Checks the selection against report.json and opens the stored capture, so that every refusal
/// comes before the first byte is sent.
pub fn prepare(capture: &Path, report: &Path, selection: Selection) -> Result<Cut, CutError> {
    let test = match selection {
        Selection::Flows(ids, range) => Test::Spans(flow_spans(report, &ids, range)?),
        Selection::Host(ip, range) => Test::Host(ip, range),
    };
    let reader = CaptureReader::open(capture).map_err(|e| CutError::Capture(e.to_string()))?;
    Ok(Cut { reader, test })
}

/// A cut ready to be written.
pub struct Cut {
    reader: CaptureReader,
    test: Test,
}

/// What was written.
#[derive(Debug, Default)]
pub struct Written {
    pub frames: u64,
    /// Why reading the stored capture stopped early, if it did (the frames before were written).
    pub stopped: Option<String>,
}

/// The largest frame a written pcap record holds whole (the usual maximum snap length).
const SNAPLEN: u32 = 262_144;

impl Cut {
    /// The file's extension: `pcap` or `pcapng`.
    pub fn extension(&self) -> &'static str {
        if self.reader.format().name == "pcapng" {
            "pcapng"
        } else {
            "pcap"
        }
    }

    /// Writes the cut to `out`; an error of `out` (the client went away) ends it.
    pub fn write(self, out: impl Write) -> io::Result<Written> {
        if self.extension() == "pcapng" {
            self.write_pcapng(out)
        } else {
            self.write_pcap(out)
        }
    }

    fn frames(mut self, mut each: impl FnMut(&Frame<'_>) -> io::Result<()>) -> io::Result<Written> {
        let mut decoder = Decoder::new();
        let mut written = Written::default();
        while let Some(next) = self.reader.next_frame() {
            let frame = match next {
                Ok(frame) => frame,
                Err(e) => {
                    written.stopped = Some(e.to_string());
                    break;
                }
            };
            let keep = match decoder.decode(&frame) {
                Ok(decoded) => self.test.keeps(frame.ts, &decoded),
                Err(_) => false,
            };
            if keep {
                each(&frame)?;
                written.frames += 1;
            }
        }
        Ok(written)
    }

    fn write_pcap(self, out: impl Write) -> io::Result<Written> {
        let details = &self.reader.format().details;
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::from(self.reader.link_types().first().map_or(1, |l| l.0)),
            ts_resolution: if details.contains("nanosecond") {
                pcap_file::TsResolution::NanoSecond
            } else {
                pcap_file::TsResolution::MicroSecond
            },
            endianness: pcap_file::Endianness::Little,
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(out, header).map_err(io::Error::other)?;
        self.frames(|frame| {
            let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
            let packet = PcapPacket::new(Duration::from_nanos(frame.ts), frame.orig_len, data);
            writer.write_packet(&packet).map(drop).map_err(pcap_io)
        })
    }

    fn write_pcapng(self, out: impl Write) -> io::Result<Written> {
        let mut writer = PcapNgWriter::new(out).map_err(pcap_io)?;
        // (interface, link type) in the stored capture → interface id in the cut, declared on first use.
        let mut interfaces: HashMap<(u32, u32), u32> = HashMap::new();
        self.frames(|frame| {
            let known = (frame.interface, frame.link_type.0);
            let next = interfaces.len() as u32;
            let id = *interfaces.entry(known).or_insert(next);
            if id == next {
                let mut idb = InterfaceDescriptionBlock::new(DataLink::from(frame.link_type.0), 0);
                idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
                writer.write_pcapng_block(idb).map_err(pcap_io)?;
            }
            let epb = EnhancedPacketBlock {
                interface_id: id,
                timestamp: Duration::from_nanos(frame.ts),
                original_len: frame.orig_len,
                data: std::borrow::Cow::Borrowed(frame.data),
                options: Vec::new(),
            };
            writer.write_pcapng_block(epb).map(drop).map_err(pcap_io)
        })
    }
}

fn pcap_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_times_read_back_to_the_microsecond() {
        // 2011-03-18T19:06:07Z is 1300475167 s after the epoch (date -u -d ... +%s).
        assert_eq!(
            micros("2011-03-18T19:06:07.096535Z"),
            Some(1_300_475_167_096_535)
        );
        assert_eq!(micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(micros("2000-02-29T23:59:59.5Z"), Some(951_868_799_500_000));
        assert_eq!(micros("not a time"), None);
        for text in ["2011-03-18T19:06:07.096535Z", "1970-01-01T00:00:00.000000Z"] {
            assert_eq!(iso_micros(micros(text).unwrap()), text);
        }
        // Not the reports' own form: read, but not written back the same.
        assert_ne!(
            iso_micros(micros("2000-02-29T23:59:59.5Z").unwrap()),
            "2000-02-29T23:59:59.5Z"
        );
    }
}
