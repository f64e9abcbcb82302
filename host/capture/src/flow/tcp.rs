//! In-order TCP stream prefixes. Plugins see the first bytes of each direction as the application
//! sent them, so retransmissions, overlaps and reordering are resolved here. Reassembly stops at the
//! prefix limit, or at a gap that does not fill within a few segments.

/// Out-of-order segments kept per direction while waiting for a gap to fill.
const MAX_PENDING_SEGMENTS: usize = 16;

#[derive(Debug, Default)]
pub struct StreamPrefix {
    /// Sequence number of the next byte expected; `None` until the first SYN or data segment.
    next_seq: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    /// Reassembly gave up (gap never filled, or too many pending segments).
    stalled: bool,
}

impl StreamPrefix {
    /// A SYN consumes one sequence number: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(isn.wrapping_add(1));
        }
    }

    /// Adds a segment. Returns true when the kept prefix is now known to be incomplete.
    pub fn segment(&mut self, seq: u32, data: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        if data.is_empty() || self.stalled || out.len() >= limit {
            return self.stalled || out.len() >= limit;
        }
        let next = *self.next_seq.get_or_insert(seq);
        let offset = seq.wrapping_sub(next) as i32;
        if offset > 0 {
            if self.pending.len() >= MAX_PENDING_SEGMENTS {
                self.stalled = true;
                return true;
            }
            let room = limit - out.len();
            self.pending
                .push((seq, data[..data.len().min(room + offset as usize)].to_vec()));
            return false;
        }
        self.append(seq, data, out, limit);
        // A filled gap may let pending segments follow.
        while let Some(i) = self.pending.iter().position(|(s, _)| {
            let off = s.wrapping_sub(self.next_seq.unwrap_or(*s)) as i32;
            off <= 0
        }) {
            let (s, d) = self.pending.swap_remove(i);
            self.append(s, &d, out, limit);
        }
        out.len() >= limit
    }

    fn append(&mut self, seq: u32, data: &[u8], out: &mut Vec<u8>, limit: usize) {
        let Some(next) = self.next_seq else { return };
        let already = next.wrapping_sub(seq) as usize; // bytes of this segment we already have
        if already >= data.len() {
            return;
        }
        let new = &data[already..];
        let take = new.len().min(limit.saturating_sub(out.len()));
        out.extend_from_slice(&new[..take]);
        self.next_seq = Some(next.wrapping_add(new.len() as u32));
    }

    /// True when bytes were left pending behind a gap.
    pub fn has_gap(&self) -> bool {
        self.stalled || !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::StreamPrefix;

    fn feed(segments: &[(u32, &[u8])], limit: usize) -> (Vec<u8>, bool) {
        let mut s = StreamPrefix::default();
        s.syn(99);
        let mut out = Vec::new();
        for (seq, data) in segments {
            s.segment(*seq, data, &mut out, limit);
        }
        (out, s.has_gap())
    }

    #[test]
    fn retransmissions_and_overlaps_are_kept_once() {
        let (out, gap) = feed(
            &[(100, b"hello "), (100, b"hello "), (103, b"lo world")],
            100,
        );
        assert_eq!(out, b"hello world");
        assert!(!gap);
    }

    #[test]
    fn reordered_segments_are_put_back_in_order() {
        let (out, gap) = feed(&[(106, b"world"), (100, b"hello ")], 100);
        assert_eq!(out, b"hello world");
        assert!(!gap);
    }

    #[test]
    fn the_prefix_stops_at_the_limit() {
        let (out, _) = feed(&[(100, b"hello "), (106, b"world")], 8);
        assert_eq!(out, b"hello wo");
    }

    #[test]
    fn a_gap_that_never_fills_is_reported() {
        let (out, gap) = feed(&[(100, b"abc"), (110, b"xyz")], 100);
        assert_eq!(out, b"abc");
        assert!(gap);
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut s = StreamPrefix::default();
        s.syn(u32::MAX - 2);
        let mut out = Vec::new();
        s.segment(u32::MAX - 1, b"ab", &mut out, 100);
        s.segment(0, b"cd", &mut out, 100);
        assert_eq!(out, b"abcd");
    }
}
