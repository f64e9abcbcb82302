//! Whole TCP conversations, in order, for the stages that ask for them. One [`Reassembler`] per
//! direction turns segments as captured into the byte stream the application sent: retransmissions
//! are dropped, out-of-order segments are held until the hole before them fills, and what never came
//! is delivered as an explicit gap of known size, so a stage always knows the offset of every byte.
//!
//! **Overlap policy: first wins.** A byte once received (delivered, held, or in the window of recently
//! delivered bytes) is never replaced by a later copy. Suricata's default ("bsd") prefers the later
//! segment in some overlaps, imitating one receiver's stack; a passive tool does not know which stack the
//! receiver ran, and first-wins makes the result independent of any guess and never rewrites bytes a
//! stage has already been given. A later copy that *differs* from what was kept is a **conflicting
//! overlap** (an evasion attempt, or corruption): it is counted per direction (once per segment) and
//! reported on the stream's end marker and in a run note. Bytes delivered more than [`RECENT_WINDOW`]
//! bytes before a retransmission are no longer kept, so a conflict that far back goes unnoticed.
//!
//! **Where a stream starts.** At the SYN's sequence number plus one; a stream picked up mid-way (no SYN
//! seen) starts at the first sequence number seen, and bytes before it are not delivered. Offsets are
//! 64-bit and count from that start, so sequence numbers wrap around freely (each segment is placed
//! in the 4 GiB window nearest the next expected byte).
//!
//! **When a hole becomes a gap.** When the peer acknowledges data beyond the hole while later data is
//! held (the capture lost it: the receiver had it), when one direction holds more than its share
//! ([`Reassembler::hold_limit`]), when the stream budget cuts the stream (see `table`), and at the end
//! of the flow (everything held is delivered, then a gap up to the FIN or the highest acknowledgement).
//!
//! Why not a crate: the Rust crates found for TCP reassembly (`stackforge-core`, GPL-3.0 and a large
//! dependency tree; `flowscope`'s built-in reassembler drops out-of-order segments; smoltcp's
//! `Assembler` tracks ranges but keeps no data and reports no conflicts) either conflict with the
//! licence or do not deliver gaps, conflicts and bounded holding. This module is small and tested.

use std::collections::BTreeMap;

/// Bytes of recently delivered data kept per direction to compare retransmissions with.
pub const RECENT_WINDOW: usize = 1024;

/// What one piece of a stream carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes at the piece's offset.
    Data(Vec<u8>),
    /// This many bytes at the piece's offset were never seen (lost by the capture, or cut).
    Gap(u64),
}

/// A piece at its stream offset, as the reassembler emits it.
pub type Placed = (u64, Piece);

/// One direction of a TCP stream being put back in order.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0; `None` until a SYN or the first data segment.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Out-of-order data, non-overlapping, by offset; all after `next`.
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    /// The last delivered bytes (at most `RECENT_WINDOW`, ending at `next`).
    recent: Vec<u8>,
    /// The offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// The offset just past the last byte the peer acknowledged.
    acked: u64,
    /// Segments whose bytes differed from bytes kept before them.
    pub conflicts: u32,
    /// Bytes declared missing because the stream budget cut the stream.
    pub cut: u64,
}

impl Reassembler {
    /// A SYN consumes one sequence number: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// Bytes held out of order.
    pub fn held(&self) -> usize {
        self.held_bytes
    }

    /// The offset of the next byte to deliver (the stream's length so far, gaps included).
    pub fn delivered(&self) -> u64 {
        self.next
    }

    /// The offset of `seq` in this stream: the value nearest the next expected byte; negative when it
    /// lies before the stream's start.
    fn offset(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let rel = i64::from(seq.wrapping_sub(base));
        let next = self.next as i64;
        let epoch = next & !0xFFFF_FFFF;
        let candidates = [
            epoch - (1 << 32) + rel,
            epoch + rel,
            epoch + (1 << 32) + rel,
        ];
        candidates.into_iter().min_by_key(|c| (c - next).abs())
    }

    /// Adds a segment's payload (and its FIN); in-order bytes are appended to `out`. `hold_limit`
    /// bounds what this direction may hold out of order.
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        fin: bool,
        hold_limit: usize,
        out: &mut Vec<Placed>,
    ) {
        if data.is_empty() && !fin {
            return;
        }
        self.base.get_or_insert(seq);
        let Some(off) = self.offset(seq) else { return };
        let end = off + data.len() as i64;
        if fin && end >= 0 {
            self.fin_at = Some(end as u64);
        }
        if end <= 0 {
            return; // entirely before the stream's start
        }
        let (off, data) = if off < 0 {
            (0, &data[(-off) as usize..])
        } else {
            (off as u64, data)
        };
        self.place(off, data, out);
        if self.held_bytes > hold_limit {
            self.release_first(out);
        }
    }

    /// The peer acknowledged up to `ack`: bytes before it that are still missing while later ones
    /// are held were lost by the capture.
    pub fn ack(&mut self, ack: u32, out: &mut Vec<Placed>) {
        // An acknowledgement more than 1 GiB (the largest TCP window) ahead is not believed.
        let plausible = |a: &i64| *a > 0 && *a - (self.next as i64) <= 1 << 30;
        let Some(a) = self.offset(ack).filter(plausible) else {
            return;
        };
        let a = a as u64;
        self.acked = self.acked.max(a);
        while let Some((&first, _)) = self.held.first_key_value() {
            if first > a {
                break;
            }
            self.release_first(out);
        }
    }

    fn place(&mut self, off: u64, data: &[u8], out: &mut Vec<Placed>) {
        let end = off + data.len() as u64;
        let mut conflict = self.check_recent(off, data);
        if end <= self.next {
            self.conflicts += u32::from(conflict);
            return;
        }
        let skip = self.next.saturating_sub(off) as usize;
        let (off, data) = (off + skip as u64, &data[skip..]);
        if off == self.next && self.held.is_empty() {
            self.deliver(off, data.to_vec(), out);
        } else {
            conflict |= self.hold(off, data);
            self.drain(out);
        }
        self.conflicts += u32::from(conflict);
    }

    /// Compares the part of a segment that falls in the recent window; true when it differs.
    fn check_recent(&self, off: u64, data: &[u8]) -> bool {
        let start = self.next - self.recent.len() as u64;
        let lo = off.max(start);
        let hi = (off + data.len() as u64).min(self.next);
        if lo >= hi {
            return false;
        }
        let kept = &self.recent[(lo - start) as usize..(hi - start) as usize];
        kept != &data[(lo - off) as usize..(hi - off) as usize]
    }

    /// Holds the bytes of `[off, off + len)` not held yet (first wins); true when an overlap with held
    /// bytes differed.
    fn hold(&mut self, off: u64, data: &[u8]) -> bool {
        let end = off + data.len() as u64;
        let mut conflict = false;
        let mut pos = off;
        let before = self
            .held
            .range(..off)
            .next_back()
            .map(|(k, v)| (*k, v.len()));
        let mut overlaps: Vec<(u64, usize)> = before.into_iter().collect();
        overlaps.extend(self.held.range(off..end).map(|(k, v)| (*k, v.len())));
        let mut fresh = Vec::new();
        for (k, len) in overlaps {
            let k_end = k + len as u64;
            if k_end <= pos {
                continue;
            }
            if k > pos {
                fresh.push((pos, (pos - off) as usize, (k.min(end) - off) as usize));
            }
            let lo = pos.max(k);
            let hi = end.min(k_end);
            let kept = &self.held[&k][(lo - k) as usize..(hi - k) as usize];
            conflict |= kept != &data[(lo - off) as usize..(hi - off) as usize];
            pos = hi.max(pos);
        }
        if pos < end {
            fresh.push((pos, (pos - off) as usize, data.len()));
        }
        for (at, from, to) in fresh {
            self.held.insert(at, data[from..to].to_vec());
            self.held_bytes += to - from;
        }
        conflict
    }

    /// Delivers held data that now follows on.
    fn drain(&mut self, out: &mut Vec<Placed>) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let (off, data) = entry.remove_entry();
            self.held_bytes -= data.len();
            self.deliver(off, data, out);
        }
    }

    fn deliver(&mut self, off: u64, data: Vec<u8>, out: &mut Vec<Placed>) {
        if data.is_empty() {
            return;
        }
        self.next = off + data.len() as u64;
        let keep = data.len().min(RECENT_WINDOW);
        let total = self.recent.len() + keep;
        if total > RECENT_WINDOW {
            self.recent.drain(..total - RECENT_WINDOW);
        }
        self.recent.extend_from_slice(&data[data.len() - keep..]);
        out.push((off, Piece::Data(data)));
    }

    /// Gives up on the hole before the first held segment: a gap, then what follows on. Returns the
    /// gap's size.
    pub fn release_first(&mut self, out: &mut Vec<Placed>) -> u64 {
        let Some((&first, _)) = self.held.first_key_value() else {
            return 0;
        };
        let gap = first - self.next;
        if gap > 0 {
            out.push((self.next, Piece::Gap(gap)));
            self.next = first;
            self.recent.clear();
        }
        self.drain(out);
        gap
    }

    /// The budget cuts this stream: every hole becomes a gap and everything held is delivered.
    pub fn cut(&mut self, out: &mut Vec<Placed>) {
        while !self.held.is_empty() {
            self.cut += self.release_first(out);
        }
    }

    /// The flow is over: everything held is delivered, then a gap up to the FIN or the highest
    /// acknowledgement when bytes before them never came.
    pub fn finish(&mut self, out: &mut Vec<Placed>) {
        while !self.held.is_empty() {
            self.release_first(out);
        }
        // An acknowledgement of the FIN counts the FIN's own sequence number.
        let end = self.fin_at.unwrap_or(self.acked);
        if end > self.next {
            out.push((self.next, Piece::Gap(end - self.next)));
            self.next = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISN: u32 = 999;

    /// Feeds (seq, data) segments after a SYN at `ISN`; returns the stream as text (`[gap N]` for
    /// gaps) and the reassembler.
    fn feed(segments: &[(u32, &[u8])], limit: usize) -> (String, Reassembler) {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        for (seq, data) in segments {
            r.segment(*seq, data, false, limit, &mut out);
        }
        r.finish(&mut out);
        (render(&out), r)
    }

    fn render(out: &[Placed]) -> String {
        let mut s = String::new();
        let mut at = 0;
        for (off, piece) in out {
            assert_eq!(*off, at, "pieces are contiguous");
            match piece {
                Piece::Data(d) => {
                    s.push_str(std::str::from_utf8(d).unwrap());
                    at += d.len() as u64;
                }
                Piece::Gap(n) => {
                    s.push_str(&format!("[gap {n}]"));
                    at += n;
                }
            }
        }
        s
    }

    #[test]
    fn in_order_segments_come_out_as_they_went_in() {
        let (s, r) = feed(&[(1000, b"hello "), (1006, b"world")], 1 << 20);
        assert_eq!(s, "hello world");
        assert_eq!(r.conflicts, 0);
    }

    #[test]
    fn retransmissions_are_dropped_and_not_conflicts() {
        let (s, r) = feed(
            &[(1000, b"hello "), (1000, b"hello "), (1003, b"lo world")],
            1 << 20,
        );
        assert_eq!(s, "hello world");
        assert_eq!(r.conflicts, 0);
    }

    #[test]
    fn reordered_segments_are_released_in_order() {
        let (s, r) = feed(
            &[(1011, b"!"), (1006, b"world"), (1000, b"hello ")],
            1 << 20,
        );
        assert_eq!(s, "hello world!");
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn a_conflicting_retransmission_keeps_the_first_copy_and_is_counted() {
        let (s, r) = feed(&[(1000, b"hello "), (1000, b"HELLO ")], 1 << 20);
        assert_eq!(s, "hello ");
        assert_eq!(r.conflicts, 1);
    }

    #[test]
    fn overlapping_held_segments_keep_the_first_bytes_and_count_conflicts() {
        // "world" held, then "wXrld!!" overlaps it with a different byte and adds "!!".
        let (s, r) = feed(
            &[(1006, b"world"), (1006, b"wXrld!!"), (1000, b"hello ")],
            1 << 20,
        );
        assert_eq!(s, "hello world!!");
        assert_eq!(r.conflicts, 1);
        // A segment spanning a hole between two held ones fills only the hole.
        let (s, r) = feed(
            &[
                (1002, b"ll"),
                (1006, b"wo"),
                (1001, b"ello wor"),
                (1000, b"h"),
            ],
            1 << 20,
        );
        assert_eq!(s, "hello wor");
        assert_eq!(r.conflicts, 0);
    }

    #[test]
    fn a_hole_that_never_fills_is_a_gap_of_its_size() {
        let (s, _) = feed(&[(1000, b"abc"), (1010, b"xyz")], 1 << 20);
        assert_eq!(s, "abc[gap 7]xyz");
    }

    #[test]
    fn holding_more_than_the_limit_gives_up_on_the_hole() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        r.segment(1000, b"ab", false, 4, &mut out);
        r.segment(1005, b"fgh", false, 4, &mut out);
        assert_eq!(render(&out), "ab");
        r.segment(1008, b"ij", false, 4, &mut out);
        assert_eq!(render(&out), "ab[gap 3]fghij");
        // The late bytes of the hole are dropped.
        r.segment(1002, b"cde", false, 4, &mut out);
        assert_eq!(render(&out), "ab[gap 3]fghij");
    }

    #[test]
    fn an_acknowledgement_beyond_a_hole_makes_it_a_gap_at_once() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        r.segment(1000, b"ab", false, 1 << 20, &mut out);
        r.segment(1005, b"fg", false, 1 << 20, &mut out);
        r.ack(1004, &mut out);
        assert_eq!(render(&out), "ab");
        r.ack(1007, &mut out);
        assert_eq!(render(&out), "ab[gap 3]fg");
    }

    #[test]
    fn data_missing_before_the_fin_is_a_gap_at_the_end() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        r.segment(1000, b"ab", false, 1 << 20, &mut out);
        r.segment(1010, b"", true, 1 << 20, &mut out);
        r.finish(&mut out);
        assert_eq!(render(&out), "ab[gap 8]");
    }

    #[test]
    fn a_stream_picked_up_mid_way_starts_at_the_first_sequence_number_seen() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        r.segment(5000, b"middle", false, 1 << 20, &mut out);
        r.segment(4990, b"earlier", false, 1 << 20, &mut out);
        r.segment(5006, b" end", false, 1 << 20, &mut out);
        r.finish(&mut out);
        assert_eq!(render(&out), "middle end");
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut r = Reassembler::default();
        r.syn(u32::MAX - 2);
        let mut out = Vec::new();
        r.segment(2, b"ef", false, 1 << 20, &mut out);
        r.segment(u32::MAX - 1, b"ab", false, 1 << 20, &mut out);
        r.segment(0, b"cd", false, 1 << 20, &mut out);
        r.finish(&mut out);
        assert_eq!(render(&out), "abcdef");
        assert_eq!(r.delivered(), 6);
    }

    #[test]
    fn streams_longer_than_four_gibibytes_keep_counting() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        let block = vec![b'x'; 1 << 16];
        let mut seq = 1000u32;
        for _ in 0..(1 << 16) + 2 {
            r.segment(seq, &block, false, 1 << 20, &mut out);
            seq = seq.wrapping_add(block.len() as u32);
            out.clear();
        }
        assert_eq!(r.delivered(), ((1u64 << 16) + 2) << 16);
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn a_budget_cut_of_nothing_held_changes_nothing() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        r.segment(1000, b"ab", false, 1 << 20, &mut out);
        out.clear();
        r.cut(&mut out);
        assert!(out.is_empty());
        assert_eq!(r.cut, 0);
    }

    #[test]
    fn a_cut_delivers_everything_held_behind_gaps_and_counts_them() {
        let mut r = Reassembler::default();
        r.syn(ISN);
        let mut out = Vec::new();
        r.segment(1002, b"cd", false, 1 << 20, &mut out);
        r.segment(1006, b"gh", false, 1 << 20, &mut out);
        r.cut(&mut out);
        assert_eq!(render(&out), "[gap 2]cd[gap 2]gh");
        assert_eq!(r.cut, 4);
        assert_eq!(r.held(), 0);
    }

    /// xorshift64*: deterministic randomness for the property test below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn any_reordering_duplication_and_loss_delivers_true_bytes_at_true_offsets() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let len = rng.below(6000);
            let stream: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let isn = u32::MAX - rng.below(8000) as u32;
            // Segments of random sizes, some sent twice with another cut (overlaps of equal bytes).
            let mut segments = Vec::new();
            let mut first_cut_len = 0;
            for cut in 0..2 {
                if cut == 1 {
                    first_cut_len = segments.len();
                }
                let mut at = 0;
                while at < len {
                    let n = 1 + rng.below(700);
                    segments.push((at, (at + n).min(len)));
                    at += n;
                }
            }
            let lose = round % 3 == 0;
            let mut sent = Vec::new();
            for (i, seg) in segments.iter().enumerate() {
                // Every segment of the first cut is sent unless this round loses some.
                let first_cut = i < first_cut_len;
                if (first_cut && !(lose && rng.below(5) == 0)) || rng.below(3) == 0 {
                    sent.push(*seg);
                }
            }
            for i in (1..sent.len()).rev() {
                let j = rng.below(i + 1).max(i.saturating_sub(4)); // reorder locally
                sent.swap(i, j);
            }
            let mut r = Reassembler::default();
            r.syn(isn);
            let mut out = Vec::new();
            for (a, b) in &sent {
                let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
                r.segment(seq, &stream[*a..*b], false, 1 << 20, &mut out);
            }
            r.finish(&mut out);
            assert_eq!(r.conflicts, 0, "round {round}");
            let mut at = 0u64;
            for (off, piece) in &out {
                assert_eq!(*off, at, "round {round}: pieces follow on");
                match piece {
                    Piece::Data(d) => {
                        let o = *off as usize;
                        assert_eq!(&stream[o..o + d.len()], &d[..], "round {round}");
                        at += d.len() as u64;
                    }
                    Piece::Gap(n) => at += n,
                }
            }
            let covered = sent.iter().map(|s| s.1).max().unwrap_or(0);
            assert_eq!(
                at, covered as u64,
                "round {round}: the stream ends at its last byte"
            );
            if !lose {
                let shape: Vec<(u64, i64)> = out
                    .iter()
                    .map(|(o, p)| match p {
                        Piece::Data(d) => (*o, d.len() as i64),
                        Piece::Gap(n) => (*o, -(*n as i64)),
                    })
                    .collect();
                assert!(
                    out.iter().all(|(_, p)| matches!(p, Piece::Data(_))),
                    "round {round}: sent {sent:?} got {shape:?}"
                );
            }
        }
    }
}
