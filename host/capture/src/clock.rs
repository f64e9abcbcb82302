//! The capture's clock, checked. Timestamps that run backwards, jump ahead by more than a day or lie
//! outside any plausible time (before 1990, or after the file was written) are counted with the first
//! packet that showed them, and the capture's first and last time come from plausible timestamps only,
//! so one bad record cannot stretch a capture to 41 years. A packet with an implausible timestamp is
//! filed under the latest plausible time before it (see [`Clock::packet`]), so one bad record cannot
//! time out every open flow either.

/// 1990-01-01 00:00:00 UTC, in nanoseconds: nothing earlier is a plausible capture time.
pub const EARLIEST_PLAUSIBLE_NS: u64 = 631_152_000 * NS;
/// A forward step larger than this (one day) is reported as a jump.
pub const JUMP_NS: u64 = 86_400 * NS;
const NS: u64 = 1_000_000_000;

/// One kind of timestamp anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Earlier than a plausible packet before it.
    Backwards,
    /// Later than the plausible packet before it by more than [`JUMP_NS`].
    Jump,
    /// Before 1990 or after the latest plausible time.
    OutOfRange,
}

impl AnomalyKind {
    /// A stable key: `backwards`, `jump`, `out-of-range`.
    pub fn key(self) -> &'static str {
        match self {
            AnomalyKind::Backwards => "backwards",
            AnomalyKind::Jump => "jump",
            AnomalyKind::OutOfRange => "out-of-range",
        }
    }
}

/// Packets of one anomaly kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub packets: u64,
    /// Number of the first such packet, counting from 1 as Wireshark does.
    pub first_packet: u64,
    /// Its timestamp.
    pub first_ts: u64,
    /// Backwards: the largest step back; jump: the largest step forward; out of range: 0 (ns).
    pub largest_step: u64,
}

impl Anomaly {
    /// The anomaly in one sentence.
    pub fn describe(&self) -> String {
        let (n, first, at) = (self.packets, self.first_packet, utc(self.first_ts));
        let s = if n == 1 { "" } else { "s" };
        let step = seconds(self.largest_step);
        match self.kind {
            AnomalyKind::Backwards => format!(
                "timestamps run backwards: {n} packet{s} earlier than a packet before them (by up \
                 to {step}), first packet {first} at {at}"
            ),
            AnomalyKind::Jump => format!(
                "timestamps jump forward by more than a day: {n} time{s} (by up to {step}), first \
                 at packet {first} at {at}"
            ),
            AnomalyKind::OutOfRange => format!(
                "implausible timestamps: {n} packet{s} dated before 1990 or after the capture file \
                 was written, first packet {first} at {at}; the capture's first and last time and \
                 its duration leave them out, and their flows file them under the time of the \
                 packet before them"
            ),
        }
    }
}

/// Watches the timestamps of a capture, packet by packet.
#[derive(Clone, Debug)]
pub struct Clock {
    latest_plausible: u64,
    packets: u64,
    /// The latest plausible timestamp seen before the current packet.
    previous: Option<u64>,
    plausible: Option<(u64, u64)>,
    all: Option<(u64, u64)>,
    anomalies: Vec<Anomaly>,
}

impl Clock {
    /// A clock for a capture whose timestamps cannot plausibly be later than `latest_plausible` (ns
    /// since the epoch; e.g. a day after the file was last written).
    pub fn new(latest_plausible: u64) -> Clock {
        Clock {
            latest_plausible,
            packets: 0,
            previous: None,
            plausible: None,
            all: None,
            anomalies: Vec::new(),
        }
    }

    /// The next packet's timestamp; returns the time to file the packet under: `ts` itself, or for
    /// an implausible `ts` the latest plausible time before it (`ts` when there was none: a capture
    /// made by a device whose clock was never set keeps its own times).
    pub fn packet(&mut self, ts: u64) -> u64 {
        self.packets += 1;
        self.all = Some(widen(self.all, ts));
        if !(EARLIEST_PLAUSIBLE_NS..=self.latest_plausible).contains(&ts) {
            self.note(AnomalyKind::OutOfRange, ts, 0);
            return self.previous.unwrap_or(ts);
        }
        self.plausible = Some(widen(self.plausible, ts));
        if let Some(prev) = self.previous {
            if ts < prev {
                self.note(AnomalyKind::Backwards, ts, prev - ts);
            } else if ts - prev > JUMP_NS {
                self.note(AnomalyKind::Jump, ts, ts - prev);
            }
        }
        self.previous = Some(self.previous.map_or(ts, |p| p.max(ts)));
        ts
    }

    fn note(&mut self, kind: AnomalyKind, ts: u64, step: u64) {
        let packet = self.packets;
        match self.anomalies.iter_mut().find(|a| a.kind == kind) {
            Some(a) => {
                a.packets += 1;
                a.largest_step = a.largest_step.max(step);
            }
            None => self.anomalies.push(Anomaly {
                kind,
                packets: 1,
                first_packet: packet,
                first_ts: ts,
                largest_step: step,
            }),
        }
    }

    /// The anomalies seen, by kind (backwards, jump, out of range).
    pub fn anomalies(&self) -> Vec<Anomaly> {
        let mut v = self.anomalies.clone();
        v.sort_by_key(|a| a.kind);
        v
    }

    /// First and last plausible timestamps; when none was plausible, first and last of all; (0, 0)
    /// for a capture without packets.
    pub fn span(&self) -> (u64, u64) {
        self.plausible.or(self.all).unwrap_or((0, 0))
    }
}

fn widen(span: Option<(u64, u64)>, ts: u64) -> (u64, u64) {
    match span {
        None => (ts, ts),
        Some((a, b)) => (a.min(ts), b.max(ts)),
    }
}

/// `1.500 s`, or days and hours for long steps.
fn seconds(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else {
        format!("{s:.3} s")
    }
}

/// `2013-03-07 21:42:06 UTC` (proleptic Gregorian calendar).
pub fn utc(ns: u64) -> String {
    let secs = ns / NS;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_362_692_526 * NS; // 2013-03-07 21:42:06 UTC
    const LATEST: u64 = 1_800_000_000 * NS;

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(T0), "2013-03-07 21:42:06 UTC");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // The largest 32-bit pcap seconds value.
        assert_eq!(utc(4_294_967_295 * NS), "2106-02-07 06:28:15 UTC");
        assert_eq!(utc(951_782_400 * NS), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn a_steady_capture_has_no_anomalies() {
        let mut c = Clock::new(LATEST);
        for i in 0..100 {
            c.packet(T0 + i * NS);
        }
        c.packet(T0 + 99 * NS); // equal timestamps are fine
        assert!(c.anomalies().is_empty());
        assert_eq!(c.span(), (T0, T0 + 99 * NS));
    }

    #[test]
    fn backwards_steps_are_counted_with_the_largest_and_the_first_packet() {
        let mut c = Clock::new(LATEST);
        for ts in [
            T0,
            T0 + 10 * NS,
            T0 + 8 * NS,
            T0 + 9 * NS,
            T0 + 5 * NS,
            T0 + 11 * NS,
        ] {
            c.packet(ts);
        }
        // Packets 3, 4 and 5 are earlier than packet 2 (the latest before them): by 2, 1 and 5 s.
        let a = c.anomalies();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(
            (
                a[0].kind,
                a[0].packets,
                a[0].first_packet,
                a[0].largest_step
            ),
            (AnomalyKind::Backwards, 3, 3, 5 * NS)
        );
        assert_eq!(c.span(), (T0, T0 + 11 * NS));
    }

    #[test]
    fn dates_in_1970_and_2106_are_out_of_range_and_left_out_of_the_span() {
        let mut c = Clock::new(LATEST);
        // Each packet is filed under its own time, an implausible one under the plausible time before it.
        assert_eq!(c.packet(T0), T0);
        assert_eq!(c.packet(0), T0);
        assert_eq!(c.packet(T0 + NS), T0 + NS);
        assert_eq!(c.packet(4_294_967_295 * NS), T0 + NS);
        assert_eq!(c.packet(T0 + 2 * NS), T0 + 2 * NS);
        let a = c.anomalies();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(
            (a[0].kind, a[0].packets, a[0].first_packet, a[0].first_ts),
            (AnomalyKind::OutOfRange, 2, 2, 0)
        );
        assert_eq!(c.span(), (T0, T0 + 2 * NS));
        assert!(
            a[0].describe()
                .contains("first packet 2 at 1970-01-01 00:00:00 UTC")
        );
    }

    #[test]
    fn a_jump_of_more_than_a_day_is_reported() {
        let mut c = Clock::new(LATEST);
        c.packet(T0);
        c.packet(T0 + JUMP_NS); // exactly a day: fine
        c.packet(T0 + 3 * JUMP_NS);
        let a = c.anomalies();
        assert_eq!(
            (
                a[0].kind,
                a[0].packets,
                a[0].first_packet,
                a[0].largest_step
            ),
            (AnomalyKind::Jump, 1, 3, 2 * JUMP_NS)
        );
        assert!(a[0].describe().contains("2.0 days"), "{}", a[0].describe());
    }

    #[test]
    fn when_nothing_is_plausible_the_span_covers_everything() {
        let mut c = Clock::new(LATEST);
        // A device whose clock was never set: its packets keep their own times.
        assert_eq!(c.packet(5 * NS), 5 * NS);
        assert_eq!(c.packet(2 * NS), 2 * NS);
        assert_eq!(c.span(), (2 * NS, 5 * NS));
        assert_eq!(Clock::new(LATEST).span(), (0, 0));
    }
}
