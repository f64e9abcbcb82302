//! The [`Capture`] builder: timestamped frames, a clock, and pcap output.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::frames::is_local;
use crate::{Rng, invalid};

/// Ethernet frames shorter than this are zero-padded, as they are on the wire.
pub const MIN_FRAME_LEN: usize = 60;

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Time since the Unix epoch (written with microsecond resolution).
    pub ts: Duration,
    /// The Ethernet frame, without FCS.
    pub data: Vec<u8>,
}

/// An in-memory capture: frames with timestamps, plus the clock and the
/// deterministic random source the helpers use.
///
/// Frames are stamped with the current clock ([`Capture::now`]); helpers
/// advance the clock as a real conversation would (round trips, think time).
/// When written, frames are ordered by timestamp (stable), so a caller may
/// [`Capture::set_time`] backwards to interleave conversations.
#[derive(Clone, Debug)]
pub struct Capture {
    frames: Vec<Frame>,
    now: Duration,
    rng: Rng,
    ip_id: u16,
    rtt: Duration,
}

impl Capture {
    /// A capture starting at `start_unix_secs` (seconds since 1970, UTC),
    /// with random seed 1 and an internet round trip time of 30 ms.
    pub fn new(start_unix_secs: u64) -> Self {
        Self::with_seed(Duration::from_secs(start_unix_secs), 1)
    }

    /// A capture starting at `start` (since the Unix epoch) with the given seed.
    pub fn with_seed(start: Duration, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let ip_id = rng.next_u16();
        Capture {
            frames: Vec::new(),
            now: start,
            rng,
            ip_id,
            rtt: Duration::from_millis(30),
        }
    }

    /// The current clock (time since the Unix epoch).
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Sets the clock; may go backwards (frames are sorted when written).
    pub fn set_time(&mut self, t: Duration) {
        self.now = t;
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Sets the round trip time used for peers outside the local network.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// The round trip time used for peers outside the local network.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// The capture's deterministic random source.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Next IPv4 identification value.
    pub(crate) fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Appends a raw Ethernet frame at the current time (padded to 60 bytes).
    pub fn push_frame(&mut self, mut data: Vec<u8>) {
        if data.len() < MIN_FRAME_LEN {
            data.resize(MIN_FRAME_LEN, 0);
        }
        self.frames.push(Frame { ts: self.now, data });
    }

    /// Number of frames so far.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame was added yet.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames in the order they were added.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The frames ordered by timestamp (stable: equal timestamps keep their order).
    pub fn sorted_frames(&self) -> Vec<&Frame> {
        let mut v: Vec<&Frame> = self.frames.iter().collect();
        v.sort_by_key(|f| f.ts);
        v
    }

    /// Writes a classic pcap (little-endian, microsecond, Ethernet) to `w`.
    pub fn write_pcap<W: Write>(&self, w: W) -> io::Result<W> {
        let header = PcapHeader {
            snaplen: 65535,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
            ..Default::default()
        };
        let mut writer = PcapWriter::with_header(w, header).map_err(io_err)?;
        for f in self.sorted_frames() {
            let len = u32::try_from(f.data.len()).map_err(invalid)?;
            let pkt = PcapPacket::new(truncate_to_micros(f.ts), len, &f.data);
            writer.write_packet(&pkt).map_err(io_err)?;
        }
        Ok(writer.into_writer())
    }

    /// Writes a modified ("Kuznetsov") pcap: magic a1b2cd34, little-endian, microsecond, Ethernet, and
    /// 8 more bytes per record header (interface index 1, protocol 0, packet type 0, padding).
    pub fn write_modified_pcap<W: Write>(&self, mut w: W) -> io::Result<W> {
        let mut head = 0xa1b2_cd34u32.to_le_bytes().to_vec();
        for x in [2u16, 4] {
            head.extend_from_slice(&x.to_le_bytes());
        }
        for x in [0u32, 0, 65535, 1] {
            head.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(&head)?;
        for f in self.sorted_frames() {
            let len = u32::try_from(f.data.len()).map_err(invalid)?;
            let ts = truncate_to_micros(f.ts);
            let secs = u32::try_from(ts.as_secs()).map_err(invalid)?;
            for x in [secs, ts.subsec_micros(), len, len, 1] {
                w.write_all(&x.to_le_bytes())?;
            }
            w.write_all(&[0, 0, 0, 0])?;
            w.write_all(&f.data)?;
        }
        Ok(w)
    }

    /// The pcap file as bytes.
    pub fn to_pcap_bytes(&self) -> io::Result<Vec<u8>> {
        self.write_pcap(Vec::new())
    }

    /// Writes the pcap file to `path` (created or truncated).
    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let w = self.write_pcap(BufWriter::new(File::create(path)?))?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Advances the clock by a short host-side delay (30–300 µs).
    pub(crate) fn think(&mut self) {
        let us = self.rng.range(30, 300);
        self.advance(Duration::from_micros(us));
    }

    /// Advances the clock by the time an answer from `to` takes to arrive
    /// back at `from`: sub-millisecond on the LAN, [`Capture::rtt`] ± 10 % otherwise.
    pub(crate) fn wait_reply(&mut self, from: IpAddr, to: IpAddr) {
        let us = if is_local(from) && is_local(to) {
            self.rng.range(150, 900)
        } else {
            let base = self.rtt.as_micros() as u64;
            self.rng.range(base * 9 / 10, base * 11 / 10 + 1)
        };
        self.advance(Duration::from_micros(us));
    }
}

fn truncate_to_micros(d: Duration) -> Duration {
    Duration::new(d.as_secs(), d.subsec_micros() * 1000)
}

fn io_err(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => invalid(other),
    }
}
