//! Bounded counting: how many distinct things (HyperLogLog, 1 KiB whatever the count), how many events
//! in the busiest window of time (per-second buckets), and a bounded sample to show as evidence.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};

/// Registers of the distinct-count sketch: 2^10 = 1024 one-byte registers, a standard error of about
/// 1.04 / sqrt(1024) = 3 %. Counts up to [`EXACT`] are kept exactly.
const P: u32 = 10;
const M: usize = 1 << P;
/// Below this many distinct values the sketch is exact (the values are kept).
pub const EXACT: usize = 256;

/// How many distinct values were seen: exact up to [`EXACT`], estimated beyond.
#[derive(Clone, Debug, Default)]
pub struct Distinct {
    exact: Vec<u64>,
    registers: Option<Box<[u8; M]>>,
}

fn hash64<T: Hash>(value: &T) -> u64 {
    // A fixed-key hasher: the same capture gives the same counts on every run.
    std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(value)
}

impl Distinct {
    pub fn insert<T: Hash>(&mut self, value: &T) {
        self.insert_hash(hash64(value));
    }

    /// Adds everything `other` counted (the count of the union).
    pub fn merge(&mut self, other: &Distinct) {
        match &other.registers {
            None => other.exact.iter().for_each(|&h| self.insert_hash(h)),
            Some(theirs) => {
                if self.registers.is_none() {
                    let mut regs = Box::new([0u8; M]);
                    for &h in &self.exact {
                        Self::add(&mut regs, h);
                    }
                    self.exact = Vec::new();
                    self.registers = Some(regs);
                }
                if let Some(mine) = &mut self.registers {
                    for (a, b) in mine.iter_mut().zip(theirs.iter()) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }

    fn insert_hash(&mut self, h: u64) {
        if let Some(regs) = &mut self.registers {
            Self::add(regs, h);
            return;
        }
        if let Err(at) = self.exact.binary_search(&h) {
            self.exact.insert(at, h);
            if self.exact.len() > EXACT {
                let mut regs = Box::new([0u8; M]);
                for &h in &self.exact {
                    Self::add(&mut regs, h);
                }
                self.exact = Vec::new();
                self.registers = Some(regs);
            }
        }
    }

    fn add(regs: &mut [u8; M], h: u64) {
        let index = (h >> (64 - P)) as usize;
        let rest = (h << P) | (1 << (P - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        regs[index] = regs[index].max(rank);
    }

    /// The count, and whether it is an estimate.
    pub fn count(&self) -> (u64, bool) {
        let Some(regs) = &self.registers else {
            return (self.exact.len() as u64, false);
        };
        let m = M as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = regs.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
        let raw = alpha * m * m / sum;
        let zeros = regs.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        (estimate.round() as u64, true)
    }

    /// The count in words: `245` or `about 199,000`.
    pub fn words(&self) -> String {
        match self.count() {
            (n, false) => n.to_string(),
            (n, true) => format!("about {}", round_estimate(n)),
        }
    }
}

/// An estimate rounded to three significant digits.
fn round_estimate(n: u64) -> u64 {
    let mut scale = 1;
    while n / scale >= 1000 {
        scale *= 10;
    }
    (n + scale / 2) / scale * scale
}

/// Events per second of capture time, to find the busiest window.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    per_second: BTreeMap<u64, u64>,
}

impl Rate {
    pub fn add(&mut self, ts_ns: u64) {
        *self.per_second.entry(ts_ns / 1_000_000_000).or_default() += 1;
    }

    /// The most events within any `window` seconds, and the second that window starts at.
    pub fn busiest(&self, window: u64) -> (u64, u64) {
        let seconds: Vec<(&u64, &u64)> = self.per_second.iter().collect();
        let (mut best, mut best_start, mut sum, mut lo) = (0, 0, 0, 0);
        for hi in 0..seconds.len() {
            sum += seconds[hi].1;
            while *seconds[hi].0 - *seconds[lo].0 >= window.max(1) {
                sum -= seconds[lo].1;
                lo += 1;
            }
            if sum > best {
                best = sum;
                best_start = *seconds[lo].0;
            }
        }
        (best, best_start)
    }
}

/// The first `limit` distinct values, to show as evidence.
#[derive(Clone, Debug)]
pub struct Sample<T> {
    items: Vec<T>,
    limit: usize,
}

impl<T: PartialEq + Clone> Sample<T> {
    pub fn new(limit: usize) -> Sample<T> {
        Sample {
            items: Vec::new(),
            limit,
        }
    }

    pub fn add(&mut self, item: &T) {
        if self.items.len() < self.limit && !self.items.contains(item) {
            self.items.push(item.clone());
        }
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }
}

/// The most distinct keys among events within any `window` nanoseconds: events are `(time, key)`,
/// sorted by time here.
pub fn most_distinct_in_window<K: Hash + Eq + Clone>(
    events: &mut [(u64, K)],
    window_ns: u64,
) -> usize {
    events.sort_by_key(|e| e.0);
    let mut counts: std::collections::HashMap<K, u32> = std::collections::HashMap::new();
    let (mut best, mut lo) = (0, 0);
    for hi in 0..events.len() {
        *counts.entry(events[hi].1.clone()).or_default() += 1;
        while events[hi].0 - events[lo].0 > window_ns {
            let key = &events[lo].1;
            if let Some(c) = counts.get_mut(key) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(key);
                }
            }
            lo += 1;
        }
        best = best.max(counts.len());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_are_exact_when_small_and_close_when_large() {
        let mut d = Distinct::default();
        for i in 0..200u32 {
            d.insert(&i);
            d.insert(&i);
        }
        assert_eq!(d.count(), (200, false));
        for n in [1_000u32, 20_000, 200_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.insert(&i);
            }
            let (est, approx) = d.count();
            assert!(approx);
            let err = (est as f64 - n as f64).abs() / n as f64;
            assert!(err < 0.1, "{n}: estimated {est}");
        }
    }

    #[test]
    fn the_busiest_window_is_found() {
        let mut r = Rate::default();
        for s in [0u64, 1, 1, 5, 6, 6, 6, 7, 30] {
            r.add(s * 1_000_000_000);
        }
        assert_eq!(r.busiest(3), (5, 5));
        assert_eq!(r.busiest(100), (9, 0));
        let mut ev: Vec<(u64, u32)> = vec![(0, 1), (1, 2), (2, 3), (100, 4), (101, 4), (102, 5)];
        assert_eq!(most_distinct_in_window(&mut ev, 10), 3);
        assert_eq!(round_estimate(199_537), 200_000);
    }
}
