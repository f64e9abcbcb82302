//! Text that goes into diagrams and reports comes from the capture, which is hostile input: host names,
//! SNI values and user agents can hold markup, control characters or megabytes of junk. These helpers
//! make such text printable and short, and escape it for the three languages the diagrams are written
//! in (DOT, XML/SVG, HTML). Also the network-side helpers for grouping hosts: CIDR filters and the
//! registered domain of a name.

use pcapxray_plugin_sdk::encoding::is_invisible;
use std::net::IpAddr;

/// `text` made printable and at most `max` characters long: control characters become spaces, runs of
/// whitespace one space, and a cut is marked with `…`.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || count == 0 {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == max {
            out.pop();
            out.push('…');
            return out.trim_end().to_string();
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// Escapes text for XML and HTML content and attribute values. Characters that would change how
/// the text around them is shown without being seen (bidirectional overrides, zero-width characters:
/// [`is_invisible`]) are written as visible escapes, `\u{202e}`, as the text reports write them: a
/// file name `invoice\u{202e}gnp.exe` must not read as `invoiceexe.png`.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c if c.is_control() => out.push(' '),
            c if is_invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// A DOT double-quoted string (with the quotes) holding `text`; newlines become DOT's `\n` line breaks,
/// and backslashes are doubled so that no DOT escape (`\N`, `\G`, `\l`) can be smuggled in.
pub fn quote_dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The registered domain of a DNS name, approximated without a public-suffix list (the analysis is
/// offline): the last two labels, or the last three when the second-level label is one of the generic
/// ones countries use under their code (`co.uk`, `com.au`, `ac.jp`, ...).
pub fn registered_domain(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    if n <= 2 {
        return labels.join(".");
    }
    const GENERIC: &[&str] = &[
        "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "mil", "gob", "nic",
    ];
    let keep = if labels[n - 1].len() == 2 && GENERIC.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    labels[n - keep..].join(".")
}

/// The top-level domain of a name (`com`), for the coarsest grouping.
pub fn top_level_domain(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.rsplit('.').next().unwrap_or_default().to_string()
}

/// An address block, such as `10.0.0.0/8`, `2001:db8::/32` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or `ipv6/n`.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("`{text}`: the prefix length must be 0 to {max}")),
            },
        };
        Ok(IpNet { addr, prefix })
    }

    /// True when `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The block of `bits` (IPv4) or `bits6` (IPv6) leading bits holding `ip`, as `a.b.c.0/24` text.
pub fn block_of(ip: IpAddr, bits: u8, bits6: u8) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            format!("{}/{bits}", std::net::Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits6)).unwrap_or(0);
            format!(
                "{}/{bits6}",
                std::net::Ipv6Addr::from(u128::from(v6) & mask)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_cleaned_and_escaped() {
        assert_eq!(clean("  a\r\n\tb  ", 10), "a b");
        assert_eq!(clean("abcdefghijkl", 5), "abcd…");
        assert_eq!(clean("", 5), "");
        assert_eq!(
            escape_xml("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(quote_dot("a\"b\\N\nc"), "\"a\\\"b\\\\N\\nc\"");
        // A right-to-left override would show invoice\u{202e}gnp.exe as invoiceexe.png.
        assert_eq!(
            escape_xml("invoice\u{202e}gnp.exe\u{200b}"),
            "invoice\\u{202e}gnp.exe\\u{200b}"
        );
    }

    #[test]
    fn registered_domains_group_names() {
        assert_eq!(registered_domain("www.google.com"), "google.com");
        assert_eq!(registered_domain("a.b.bbc.co.uk."), "bbc.co.uk");
        assert_eq!(registered_domain("example.com"), "example.com");
        assert_eq!(registered_domain("localhost"), "localhost");
        assert_eq!(registered_domain("x.y.example.de"), "example.de");
        assert_eq!(top_level_domain("www.google.com"), "com");
    }

    #[test]
    fn cidr_blocks_match_their_addresses() {
        let net = IpNet::parse("192.168.0.0/16").unwrap();
        assert!(net.contains("192.168.3.4".parse().unwrap()));
        assert!(!net.contains("10.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpNet::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(
            IpNet::parse("10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("example.com").is_err());
        assert_eq!(
            block_of("203.0.113.77".parse().unwrap(), 24, 48),
            "203.0.113.0/24"
        );
        assert_eq!(
            block_of("2001:db8:1:2::5".parse().unwrap(), 24, 48),
            "2001:db8:1::/48"
        );
        assert_eq!(block_of("1.2.3.4".parse().unwrap(), 0, 0), "0.0.0.0/0");
    }
}
