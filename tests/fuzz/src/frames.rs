//! The input format of the decoder and flow-table targets: which link layer, then a sequence of frames
//! with capture times that may jump forward or back, so reassembly and flow timeouts see hostile
//! orders. Any byte string is a valid input; [`Frames::encode`] writes one from real frames.

use pcapxray_capture::decode::LinkType;

/// Link types the first byte selects (`byte % 9`); the ninth is one the decoder does not support.
pub const LINK_TYPES: [LinkType; 9] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType(147),
];

/// Capture time of the first frame: 2023-11-14, nanoseconds.
const START_NS: u64 = 1_700_000_000_000_000_000;

/// Frames decoded from a fuzz input: `[selector] ([len: u16 LE] [dt: i8 seconds] [len bytes])*`; the
/// last frame takes what is left when its length runs past the end.
pub struct Frames<'a> {
    pub link_type: LinkType,
    rest: &'a [u8],
    ts: u64,
}

impl<'a> Frames<'a> {
    pub fn new(data: &'a [u8]) -> Frames<'a> {
        let (link_type, rest) = match data.split_first() {
            Some((sel, rest)) => (LINK_TYPES[usize::from(*sel) % LINK_TYPES.len()], rest),
            None => (LINK_TYPES[0], data),
        };
        Frames {
            link_type,
            rest,
            ts: START_NS,
        }
    }

    /// The selector byte of `link_type` (which must be in [`LINK_TYPES`]).
    pub fn selector(link_type: LinkType) -> Option<u8> {
        LINK_TYPES
            .iter()
            .position(|l| *l == link_type)
            .map(|i| i as u8)
    }

    /// Writes frames with their gaps in whole seconds (clamped to ±127) after a selector byte.
    pub fn encode(selector: u8, frames: &[(i64, &[u8])]) -> Vec<u8> {
        let mut v = vec![selector];
        for (dt, frame) in frames {
            let frame = &frame[..frame.len().min(usize::from(u16::MAX))];
            v.extend_from_slice(&(frame.len() as u16).to_le_bytes());
            v.push((*dt).clamp(-127, 127) as i8 as u8);
            v.extend_from_slice(frame);
        }
        v
    }
}

impl<'a> Iterator for Frames<'a> {
    /// Capture time (ns) and frame bytes.
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<(u64, &'a [u8])> {
        let (head, rest) = self.rest.split_first_chunk::<3>()?;
        let len = usize::from(u16::from_le_bytes([head[0], head[1]])).min(rest.len());
        let dt = i64::from(head[2] as i8) * 1_000_000_000;
        self.ts = self.ts.saturating_add_signed(dt);
        let (frame, rest) = rest.split_at(len);
        self.rest = rest;
        Some((self.ts, frame))
    }
}
