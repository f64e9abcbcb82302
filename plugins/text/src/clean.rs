//! Text from a capture is hostile: header values, names and payloads are bytes an attacker chose, and
//! they end up in files an investigator opens in a terminal or an editor. Everything printed goes
//! through these helpers, which keep each value on its own line, make control and invisible
//! characters visible, bound lengths, and never panic.

use pcapxray_plugin_sdk::{Flow, encoding::is_invisible, time::iso8601};
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// One value on one line: control characters, bidirectional overrides and zero-width characters are
/// escaped (`\n`, `\u{202e}`), and the result is cut to `max` characters (escapes included) with an
/// ellipsis, so it is never longer than `4 * max + 3` bytes.
pub fn line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 2));
    let mut count = 0;
    for c in text.chars() {
        let escaped = c.is_control() || is_invisible(c);
        let width = if escaped {
            c.escape_default().count()
        } else {
            1
        };
        if count + width > max {
            out.push('…');
            break;
        }
        count += width;
        if escaped {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Payload bytes as printable ASCII: every byte outside `0x20..=0x7e` becomes `.`.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// A byte count for people: `622 B`, `145.3 kB`, `1.2 GB` (powers of 1000).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A capture time, or `-` for 0 (not seen).
pub fn time(ts: u64) -> String {
    if ts == 0 { "-".into() } else { iso8601(ts) }
}

/// `n thing` or `n things`.
pub fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// An address with its port when the protocol has ports: `10.0.0.1:80`, `[2001:db8::1]:443`, `10.0.0.1`.
pub fn endpoint(ip: IpAddr, port: u16, has_ports: bool) -> String {
    if has_ports {
        SocketAddr::new(ip, port).to_string()
    } else {
        ip.to_string()
    }
}

/// True for the transport protocols whose flows have port numbers.
pub fn has_ports(flow: &Flow) -> bool {
    flow.is_tcp() || flow.is_udp()
}

/// Appends `text` to `out` cut into lines of at most `width` characters, each starting with `indent`.
pub fn wrap(out: &mut String, text: &str, width: usize, indent: &str) {
    let chars: Vec<char> = text.chars().collect();
    for chunk in chars.chunks(width.max(1)) {
        out.push_str(indent);
        out.extend(chunk);
        out.push('\n');
    }
}

/// `key  value` with the key padded to `width`, one line, value cleaned.
pub fn field(out: &mut String, indent: &str, key: &str, value: &str, width: usize) {
    let _ = writeln!(out, "{indent}{key:<width$} {}", line(value, 512));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_on_one_visible_line() {
        assert_eq!(line("a\r\nb\x1b[31m", 100), "a\\r\\nb\\u{1b}[31m");
        assert_eq!(line("evil\u{202e}txt.exe", 100), "evil\\u{202e}txt.exe");
        assert_eq!(line("abcdef", 3), "abc…");
        assert_eq!(line("", 3), "");
        // Escapes count: the cut never splits one, and long escapes cannot blow the length up.
        assert_eq!(line("ab\u{202e}", 4), "ab…");
        assert!(line(&"\u{202e}".repeat(1000), 100).len() <= 4 * 100 + 3);
    }

    #[test]
    fn payload_bytes_become_printable_ascii() {
        assert_eq!(printable(b"GET /\r\n\x00\xff~"), "GET /....~");
    }

    #[test]
    fn byte_counts_read_like_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(145_312), "145.3 kB");
        assert_eq!(bytes(999_999), "1.0 MB");
        assert_eq!(bytes(u64::MAX), "18.4 EB");
    }

    #[test]
    fn wraps_long_excerpts() {
        let mut out = String::new();
        wrap(&mut out, "abcdefg", 3, "  ");
        assert_eq!(out, "  abc\n  def\n  g\n");
    }
}
