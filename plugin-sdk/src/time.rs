//! Capture timestamps (nanoseconds since the Unix epoch) as text investigators can read and sort.

/// Formats a timestamp as ISO 8601 UTC with microseconds: `2017-12-10T19:25:47.946213Z`.
pub fn iso8601(ts: u64) -> String {
    // The bytes are ASCII digits and separators.
    iso8601_bytes(ts).iter().map(|&b| b as char).collect()
}

/// `iso8601` as its 27 ASCII bytes, for writers that append them to a buffer without a `String`.
pub fn iso8601_bytes(ts: u64) -> [u8; 27] {
    let secs = ts / 1_000_000_000;
    let micros = (ts % 1_000_000_000) / 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    // Written digit by digit: reports format millions of these, and `format!` is slow in wasm.
    let mut out = [0u8; 27];
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y.clamp(0, 9999) as u64);
    put(5, 2, m as u64);
    put(8, 2, d as u64);
    put(11, 2, rem / 3600);
    put(14, 2, (rem / 60) % 60);
    put(17, 2, rem % 60);
    put(20, 6, micros);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        out[i] = c;
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
    #[test]
    fn formats_a_known_capture_time() {
        // first packet of tor_browser_pcapxray_example.pcap, as tshark prints it
        assert_eq!(
            super::iso8601(1_512_933_947_946_213_000),
            "2017-12-10T19:25:47.946213Z"
        );
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000000Z");
    }
}
