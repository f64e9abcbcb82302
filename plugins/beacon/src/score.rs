//! How regular a series of connections is, scored from 0 (noise) to 1 (a metronome), after RITA's
//! beacon analysis of Zeek conn logs. Malware that "phones home" opens connections at a fixed
//! interval with a little jitter and sends about the same request each time; people and most
//! software do not. Three things are measured:
//!
//! * **interval regularity** — the median absolute deviation (MAD) of the gaps between connection
//!   starts relative to the median gap, the Bowley (quartile) skew of the gaps, and the share of gaps
//!   within 10 % of the median. The skew only counts in proportion to the spread: gaps that all lie
//!   within a few percent of the median are regular whatever their skew (RITA gets the same effect by
//!   rounding times to whole seconds). The share matters because the MAD looks at half the gaps
//!   only: twenty random gaps sometimes have a small MAD by chance, but rarely cluster;
//! * **size regularity** — the same measures on the bytes the client sent per connection;
//! * **connection count** — more repetitions are more evidence.
//!
//! The score is interval regularity, scaled down by at most 15 % for irregular sizes and by at most
//! 15 % for few connections: regular timing is necessary (constant sizes at random times score low),
//! changing payloads on a strict schedule still beacon. Nothing here calls the host.

/// One connection of a pair: start time (ns since the epoch) and bytes the client sent.
pub type Connection = (u64, u64);

/// The evidence for one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Beaconing {
    /// 0 to 1.
    pub score: f64,
    /// Interval regularity, 0 to 1.
    pub interval_score: f64,
    /// Size regularity, 0 to 1.
    pub size_score: f64,
    /// Connection-count evidence, 0 to 1.
    pub count_score: f64,
    /// Median gap between connection starts, seconds.
    pub interval: f64,
    /// Median absolute deviation of the gaps, seconds.
    pub jitter: f64,
    /// Bowley skew of the gaps (-1 to 1).
    pub skew: f64,
    /// Median bytes the client sent per connection.
    pub bytes: u64,
    /// Connections scored.
    pub connections: usize,
    /// First and last connection start, ns.
    pub first: u64,
    /// See `first`.
    pub last: u64,
}

/// Relative MAD at which a regularity score reaches 0: gaps (or sizes) typically 30 % off the median
/// are no longer regular.
const MAD_CUTOFF: f64 = 0.3;
/// Relative quartile spread below which skew counts only in part.
const SKEW_SPREAD: f64 = 0.2;
/// Connections at which the count evidence is full.
const FULL_COUNT: f64 = 30.0;

/// The `p` quantile of sorted values, linearly interpolated.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = p.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// Share of values within this fraction of the median that counts as "at the median".
const NEAR: f64 = 0.1;

/// Regularity of a sample: (score 0–1, median, MAD, Bowley skew).
fn regularity(values: &mut [f64]) -> (f64, f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = quantile(values, 0.5);
    let (q1, q3) = (quantile(values, 0.25), quantile(values, 0.75));
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = quantile(&deviations, 0.5);
    let scale = median.abs().max(f64::MIN_POSITIVE);
    let mad_score = 1.0 - (mad / scale / MAD_CUTOFF).min(1.0);
    let skew = if q3 > q1 {
        ((q1 + q3 - 2.0 * median) / (q3 - q1)).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let weight = ((q3 - q1) / scale / SKEW_SPREAD).min(1.0);
    let skew_score = 1.0 - skew.abs() * weight;
    let near = values
        .iter()
        .filter(|v| (*v - median).abs() <= NEAR * scale)
        .count() as f64
        / values.len().max(1) as f64;
    (
        (mad_score + skew_score + 2.0 * near) / 4.0,
        median,
        mad,
        skew,
    )
}

/// Scores a pair's connections (any order). `None` when there are fewer than 3, or when the median
/// gap is under `min_interval` seconds (bursts of parallel connections, not a schedule).
pub fn score(connections: &mut [Connection], min_interval: f64) -> Option<Beaconing> {
    if connections.len() < 3 {
        return None;
    }
    connections.sort_unstable();
    let mut gaps: Vec<f64> = connections
        .windows(2)
        .map(|w| w[1].0.saturating_sub(w[0].0) as f64 / 1e9)
        .collect();
    let (interval_score, interval, jitter, skew) = regularity(&mut gaps);
    if interval <= 0.0 || interval < min_interval {
        return None;
    }
    let mut sizes: Vec<f64> = connections.iter().map(|c| c.1 as f64).collect();
    let (size_score, bytes, _, _) = regularity(&mut sizes);
    let n = connections.len();
    let count_score = ((n as f64).ln() / FULL_COUNT.ln()).min(1.0);
    let score = interval_score * (0.85 + 0.15 * size_score) * (0.85 + 0.15 * count_score);
    Some(Beaconing {
        score: score.clamp(0.0, 1.0),
        interval_score,
        size_score,
        count_score,
        interval,
        jitter,
        skew,
        bytes: bytes.round() as u64,
        connections: n,
        first: connections[0].0,
        last: connections[n - 1].0,
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A small deterministic generator (xorshift).
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Uniform in `lo..hi` seconds, as ns.
        pub fn between(&mut self, lo: f64, hi: f64) -> u64 {
            let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
            ((lo + unit * (hi - lo)) * 1e9) as u64
        }
    }

    const T0: u64 = 1_710_234_040 * 1_000_000_000;

    /// `n` connections `period` s apart, each start moved by up to ± `jitter` s.
    pub fn periodic(n: usize, period: f64, jitter: f64, rng: &mut Rng) -> Vec<Connection> {
        (0..n)
            .map(|i| {
                let nominal = T0 + (i as f64 * period * 1e9) as u64;
                (
                    nominal + rng.between(0.0, 2.0 * jitter) - (jitter * 1e9) as u64,
                    478,
                )
            })
            .collect()
    }

    /// `n` connections with gaps uniform in `lo..hi` s.
    pub fn random(n: usize, lo: f64, hi: f64, rng: &mut Rng) -> Vec<Connection> {
        let mut t = T0;
        (0..n)
            .map(|_| {
                t += rng.between(lo, hi);
                (t, 478)
            })
            .collect()
    }

    #[test]
    fn a_jittered_minute_beacon_scores_high() {
        let mut rng = Rng(7);
        for _ in 0..50 {
            let b = score(&mut periodic(20, 60.0, 1.0, &mut rng), 1.0).unwrap();
            assert!(b.score >= 0.9, "{b:?}");
            assert!((b.interval - 60.0).abs() < 1.0, "{b:?}");
            assert!(b.jitter < 1.5, "{b:?}");
            assert_eq!(b.connections, 20);
            assert_eq!(b.bytes, 478);
        }
        // A perfect metronome.
        let b = score(&mut periodic(12, 300.0, 0.0, &mut rng), 1.0).unwrap();
        assert!(
            b.score > 0.95 && b.interval_score == 1.0 && b.jitter == 0.0,
            "{b:?}"
        );
    }

    #[test]
    fn random_intervals_do_not_even_with_constant_sizes() {
        let mut rng = Rng(11);
        let mut worst: f64 = 0.0;
        for _ in 0..500 {
            let b = score(&mut random(20, 1.0, 240.0, &mut rng), 1.0).unwrap();
            worst = worst.max(b.score);
        }
        assert!(worst < 0.65, "worst random score {worst}");
        // Exponential gaps (Poisson arrivals), the usual model of human activity.
        let mut worst: f64 = 0.0;
        for _ in 0..500 {
            let mut t = T0;
            let mut conns = Vec::new();
            for _ in 0..20 {
                let u = rng.between(0.0, 1.0) as f64 / 1e9;
                t += (-(1.0 - u).max(1e-9).ln() * 60.0 * 1e9) as u64 + 1;
                conns.push((t, 478 + rng.next() % 400));
            }
            if let Some(b) = score(&mut conns, 1.0) {
                worst = worst.max(b.score);
            }
        }
        assert!(worst < 0.5, "worst Poisson score {worst}");
    }

    #[test]
    fn changing_sizes_lower_the_score_but_regular_timing_dominates() {
        let mut rng = Rng(3);
        let mut conns = periodic(20, 60.0, 1.0, &mut rng);
        for c in conns.iter_mut() {
            c.1 = 200 + rng.next() % 2000;
        }
        let b = score(&mut conns, 1.0).unwrap();
        assert!(b.size_score < 0.5, "{b:?}");
        assert!(b.score > 0.7 && b.score < 0.9, "{b:?}");
    }

    #[test]
    fn bursts_and_short_series_are_not_scored() {
        let mut rng = Rng(5);
        // A browser opening 15 connections 50 ms apart.
        assert_eq!(score(&mut periodic(15, 0.05, 0.0, &mut rng), 1.0), None);
        assert!(score(&mut periodic(15, 0.05, 0.0, &mut rng), 0.0).is_some());
        assert_eq!(score(&mut periodic(2, 60.0, 0.0, &mut rng), 1.0), None);
        assert_eq!(score(&mut [], 1.0), None);
        // All at the same instant.
        assert_eq!(score(&mut [(5, 1), (5, 1), (5, 1), (5, 1)], 0.0), None);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
