//! Turning names and record data from the wire into text an investigator can read and a report can
//! carry safely: DNS labels may hold any byte (tunnels put binary in them), so every value taken from
//! the traffic is escaped and bounded here, in one place, before it reaches a finding or a host fact.

use hickory_proto::rr::Name;

/// Longest text value (TXT strings, unknown record data) kept in an attribute.
pub const MAX_VALUE_CHARS: usize = 120;

/// A DNS name as text: labels joined by `.`, no trailing dot, printable ASCII kept, every other byte
/// (and `.` or `\` inside a label, and `,` `;` `"`, which separate values in attributes) escaped as
/// `\DDD` like a zone file. The root is `.`.
pub fn name(name: &Name) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(&mut out, label);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Appends one label, escaped.
pub fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_graphic() && !matches!(b, b'.' | b'\\' | b',' | b';' | b'"') {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
}

/// The name in lower case when it is a plausible host name (letters, digits, `-`, `_`, dots; at most
/// 253 characters), for a `name` fact. `None` for anything escaped, empty or too long.
pub fn host_name(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text != "."
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| text.to_ascii_lowercase())
}

/// Bytes as printable text: ASCII graphic characters and spaces kept, others as `\xNN`, cut at
/// [`MAX_VALUE_CHARS`] with a `…` mark.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if out.len() >= MAX_VALUE_CHARS {
            out.push('…');
            break;
        }
        if b.is_ascii_graphic() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Cuts `text` to `max` characters, marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The mnemonic of a DNS response code (IANA registry), or `RCODE n`.
pub fn rcode(code: u16) -> String {
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return format!("RCODE {code}"),
    };
    name.to_string()
}

/// The registered domain a name most likely belongs to: its last two labels, or three when the
/// second-level label is a common public suffix part (`example.co.uk`). A heuristic, used only to
/// group names for the tunnelling check.
pub fn parent_domain(name: &str) -> &str {
    let labels: Vec<&str> = name.rsplitn(4, '.').collect();
    let keep = match labels.as_slice() {
        [tld, second, ..]
            if tld.len() == 2
                && matches!(
                    second.to_ascii_lowercase().as_str(),
                    "co" | "com" | "net" | "org" | "gov" | "ac" | "edu" | "ne" | "or"
                ) =>
        {
            3
        }
        _ => 2,
    };
    let mut dots = 0;
    for (i, b) in name.bytes().enumerate().rev() {
        if b == b'.' {
            dots += 1;
            if dots == keep {
                return &name[i + 1..];
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn names_are_escaped_and_have_no_trailing_dot() {
        let mixed = Name::from_labels(vec![&b"www"[..], &b"Example"[..], &b"com"[..]]).unwrap();
        assert_eq!(name(&mixed), "www.Example.com");
        assert_eq!(
            name(&Name::from_str("www.example.com.").unwrap()),
            "www.example.com"
        );
        assert_eq!(name(&Name::root()), ".");
        let odd = Name::from_labels(vec![&b"a b"[..], &b"c\x01.d"[..]]).unwrap();
        assert_eq!(name(&odd), "a\\032b.c\\001\\046d");
        assert_eq!(host_name("WWW.Example.com"), Some("www.example.com".into()));
        assert_eq!(host_name("a\\032b.c"), None);
        assert_eq!(host_name("a..b"), None);
        assert_eq!(host_name("."), None);
    }

    #[test]
    fn values_are_printable_and_bounded() {
        assert_eq!(printable(b"v=spf1 -all\x00"), "v=spf1 -all\\x00");
        let long = printable(&[b'a'; 500]);
        assert!(long.ends_with('…') && long.len() < 200);
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn response_codes_and_parent_domains() {
        assert_eq!(rcode(3), "NXDOMAIN");
        assert_eq!(rcode(4000), "RCODE 4000");
        assert_eq!(parent_domain("a.b.example.com"), "example.com");
        assert_eq!(parent_domain("x.y.example.co.uk"), "example.co.uk");
        assert_eq!(parent_domain("localhost"), "localhost");
        assert_eq!(parent_domain("example.com"), "example.com");
    }
}
