//! Turning bytes an attacker controls into text an investigator can read safely: header values and
//! names arrive as arbitrary bytes, yet end up in attributes, summaries and host facts that reports
//! print. Everything that leaves the parsers goes through these helpers, which never panic.

use std::net::IpAddr;

/// Longest value kept for any attribute taken from the traffic, in characters.
pub const MAX_VALUE_CHARS: usize = 1024;

/// Bytes as readable one-line text: invalid UTF-8 becomes U+FFFD, control characters are escaped
/// (`\n`, `\u{1b}`), surrounding white space is trimmed and the result is cut to `max` characters
/// (an ellipsis marks the cut).
pub fn clean(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (count, c) in text.trim().chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A server name taken from an HTTP `Host` header or a TLS SNI, normalised for host facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerName {
    /// A DNS name: lower case, without port or trailing dot.
    Dns(String),
    /// An IP literal (`10.0.0.1`, `[::1]`): names nothing the address does not already say.
    Ip(IpAddr),
}

/// Parses a `Host` header value or SNI into a [`ServerName`]: strips `:port` and the brackets of an
/// IPv6 literal, lower-cases, drops a trailing dot. `None` for values no DNS name can have (empty,
/// spaces, control characters, longer than 253 characters).
pub fn server_name(value: &str) -> Option<ServerName> {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        // `[v6]` or `[v6]:port`
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        &rest[..end]
    } else {
        match value.rsplit_once(':') {
            // A bare IPv6 address has several colons and no brackets.
            Some((_, _)) if value.matches(':').count() > 1 => value,
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => value,
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ServerName::Ip(ip));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let plausible = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('.')
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*'));
    plausible.then_some(ServerName::Dns(host))
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Lower-case hex of `bytes`, without `format!` per byte (slow in wasm, and hashes are hexed for
/// every hello and certificate).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_control_characters_and_cuts_long_values() {
        assert_eq!(clean(b"  curl/8.0 ", 100), "curl/8.0");
        assert_eq!(clean(b"a\x1bb\xffc", 100), "a\\u{1b}b\u{fffd}c");
        assert_eq!(clean(b"abcdef", 3), "abc…");
    }

    #[test]
    fn normalises_server_names() {
        let dns = |s: &str| Some(ServerName::Dns(s.to_string()));
        assert_eq!(server_name("WWW.Example.com"), dns("www.example.com"));
        assert_eq!(server_name("www.example.com:8080"), dns("www.example.com"));
        assert_eq!(server_name("example.com."), dns("example.com"));
        assert_eq!(
            server_name("10.0.0.1:80"),
            Some(ServerName::Ip("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            server_name("[2001:db8::1]:443"),
            Some(ServerName::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            server_name("2001:db8::1"),
            Some(ServerName::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(server_name(""), None);
        assert_eq!(server_name("a b"), None);
        assert_eq!(server_name("host:port"), None);
        assert_eq!(server_name("[::1"), None);
        assert_eq!(server_name("[::1]x"), None);
        assert_eq!(server_name("a..b"), None);
    }
}
