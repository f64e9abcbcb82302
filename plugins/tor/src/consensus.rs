//! A Tor network-status consensus, read line by line. The format (dir-spec.txt, "network status
//! document") is line-oriented: a keyword, then space-separated arguments. Only what relay matching
//! needs is kept — the validity times, and per relay its nickname, identity, addresses, ports and
//! flags — so a hand-written reader is shorter and more forgiving than a grammar: unknown keywords are
//! skipped, a malformed router entry is skipped and counted with its line number, and only a document
//! that is not a consensus at all (or whose header is broken) is an error. Both flavours are read:
//! the full one (`r` lines with a descriptor digest) and the microdescriptor one (no digest, `m`
//! lines). Nothing here calls the host, so it is tested natively.

use pcapxray_plugin_sdk::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The two consensus flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `network-status-version 3`: `r` lines carry the router descriptor digest.
    Full,
    /// `network-status-version 3 microdesc`: no descriptor digest, `m` lines instead.
    Microdesc,
}

impl Flavor {
    /// The name Tor uses for the flavour.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Full => "ns",
            Flavor::Microdesc => "microdesc",
        }
    }
}

/// One relay of a consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    /// Nickname, e.g. `stars1`.
    pub nickname: String,
    /// The identity key digest (SHA-1 of the RSA identity key).
    pub identity: [u8; 20],
    /// The IPv4 address of the `r` line.
    pub address: Ipv4Addr,
    /// The ORPort of the `r` line.
    pub or_port: u16,
    /// The DirPort of the `r` line; 0 when the relay has none.
    pub dir_port: u16,
    /// Further OR addresses from `a` lines (usually IPv6).
    pub extra: Vec<SocketAddr>,
    /// The flags of the `s` line, space-separated as in the document.
    pub flags: String,
}

impl Relay {
    /// The identity as Tor prints a fingerprint: 40 upper-case hex digits.
    pub fn fingerprint(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut s = String::with_capacity(40);
        for b in self.identity {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// True when the `s` line has `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.split(' ').any(|f| f == flag)
    }
}

/// A line that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a document could not be read as a consensus at all.
pub type ParseError = Problem;

/// The validity times of a consensus, in seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// `valid-after`: when the consensus was made.
    pub valid_after: i64,
    /// `fresh-until`: when the next one is expected.
    pub fresh_until: i64,
    /// `valid-until`: after this clients stop using it.
    pub valid_until: i64,
}

impl Validity {
    /// True when `t` lies in `valid-after ..= valid-until`.
    pub fn covers(&self, t: i64) -> bool {
        self.valid_after <= t && t <= self.valid_until
    }

    /// Seconds from `t` to the validity interval (0 when it covers `t`).
    pub fn distance(&self, t: i64) -> i64 {
        if t < self.valid_after {
            self.valid_after - t
        } else if t > self.valid_until {
            t - self.valid_until
        } else {
            0
        }
    }
}

/// A parsed consensus.
#[derive(Clone, Debug, Default)]
pub struct Consensus {
    /// The flavour from the `network-status-version` line.
    pub flavor: Option<Flavor>,
    /// Validity times.
    pub validity: Option<Validity>,
    /// The relays, in document order.
    pub relays: Vec<Relay>,
    /// Relay indices by address (`r` and `a` addresses).
    by_ip: HashMap<IpAddr, Vec<u32>>,
    /// The first few skipped lines (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// All skipped lines.
    pub problem_count: usize,
    /// `a` addresses read.
    pub extra_addresses: usize,
    /// True when the router section ended properly (`directory-footer`); false for a truncated file.
    pub complete: bool,
}

/// Skipped lines kept for the log; the rest are only counted.
pub const MAX_PROBLEMS: usize = 5;

/// Where the parser is in the document.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Header,
    Routers,
    Footer,
}

/// What to read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Only the header (flavour and validity): cheap, to choose among many files.
    Header,
    /// Everything.
    Full,
}

impl Consensus {
    /// Reads a consensus document. `Depth::Header` stops at the first router entry.
    pub fn parse(text: &str, depth: Depth) -> Result<Consensus, ParseError> {
        let mut c = Consensus::default();
        let mut section = Section::Header;
        let (mut valid_after, mut fresh_until, mut valid_until) = (None, None, None);
        // The relay being read: its `a` and `s` lines follow its `r` line.
        let mut current: Option<Relay> = None;
        let mut seen_version = false;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim_end_matches('\r');
            if !seen_version {
                // CollecTor archives put `@type ...` annotations before the document.
                if line.starts_with('@') || line.trim().is_empty() {
                    continue;
                }
                let flavor = parse_version(line).ok_or_else(|| Problem {
                    line: line_no,
                    message: format!(
                        "not a Tor consensus: expected `network-status-version 3`, found `{}`",
                        shorten(line)
                    ),
                })?;
                c.flavor = Some(flavor);
                seen_version = true;
                continue;
            }
            let mut words = line.split(' ').filter(|w| !w.is_empty());
            let Some(keyword) = words.next() else {
                continue;
            };
            let args: Vec<&str> = words.collect();
            match (section, keyword) {
                (Section::Header, "valid-after" | "fresh-until" | "valid-until") => {
                    let t = parse_time(&args).ok_or_else(|| Problem {
                        line: line_no,
                        message: format!(
                            "`{keyword}` must be followed by `YYYY-MM-DD HH:MM:SS`, found `{}`",
                            shorten(line)
                        ),
                    })?;
                    match keyword {
                        "valid-after" => valid_after = Some(t),
                        "fresh-until" => fresh_until = Some(t),
                        _ => valid_until = Some(t),
                    }
                }
                (Section::Header | Section::Routers, "r") => {
                    if section == Section::Header {
                        c.validity =
                            Some(validity(valid_after, fresh_until, valid_until, line_no)?);
                        section = Section::Routers;
                        if depth == Depth::Header {
                            return Ok(c);
                        }
                    }
                    if let Some(relay) = current.take() {
                        c.push(relay);
                    }
                    match parse_router(&args) {
                        Ok(relay) => current = Some(relay),
                        Err(message) => c.problem(line_no, message),
                    }
                }
                (Section::Routers, "a") => {
                    if let Some(relay) = current.as_mut() {
                        match args.first().and_then(|a| a.parse::<SocketAddr>().ok()) {
                            Some(addr) if args.len() == 1 => relay.extra.push(addr),
                            _ => c.problem(
                                line_no,
                                format!(
                                    "`a` must be followed by `IPv4:port` or `[IPv6]:port`, found `{}`",
                                    shorten(line)
                                ),
                            ),
                        }
                    }
                }
                (Section::Routers, "s") => {
                    if let Some(relay) = current.as_mut() {
                        relay.flags = args.join(" ");
                    }
                }
                (Section::Routers, "directory-footer") => {
                    if let Some(relay) = current.take() {
                        c.push(relay);
                    }
                    section = Section::Footer;
                    c.complete = true;
                }
                // Everything else (`v`, `pr`, `w`, `p`, `m`, `params`, signatures, keywords added by
                // later versions of the format) is not needed for matching.
                _ => {}
            }
        }
        if !seen_version {
            return Err(Problem {
                line: 1,
                message: "empty document: not a Tor consensus".into(),
            });
        }
        if let Some(relay) = current.take() {
            c.push(relay);
        }
        if c.validity.is_none() {
            let last = text.lines().count().max(1);
            c.validity = Some(validity(valid_after, fresh_until, valid_until, last)?);
        }
        Ok(c)
    }

    fn push(&mut self, relay: Relay) {
        let index = self.relays.len() as u32;
        let mut add = |ip: IpAddr| {
            let list = self.by_ip.entry(ip).or_default();
            if list.last() != Some(&index) {
                list.push(index);
            }
        };
        add(IpAddr::V4(relay.address));
        for a in &relay.extra {
            add(a.ip());
        }
        self.extra_addresses += relay.extra.len();
        self.relays.push(relay);
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { line, message });
        }
    }

    /// The relays with an address equal to `ip` (an `r` or `a` address), in document order.
    pub fn relays_at(&self, ip: IpAddr) -> impl Iterator<Item = &Relay> + '_ {
        let ip = canonical(ip);
        self.by_ip
            .get(&ip)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.relays.get(i as usize))
    }

    /// The validity times (every successfully parsed consensus has them).
    pub fn validity(&self) -> Validity {
        self.validity.unwrap_or(Validity {
            valid_after: 0,
            fresh_until: 0,
            valid_until: 0,
        })
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn validity(
    valid_after: Option<i64>,
    fresh_until: Option<i64>,
    valid_until: Option<i64>,
    line: usize,
) -> Result<Validity, ParseError> {
    match (valid_after, valid_until) {
        (Some(valid_after), Some(valid_until)) if valid_after <= valid_until => Ok(Validity {
            valid_after,
            fresh_until: fresh_until.unwrap_or(valid_until),
            valid_until,
        }),
        (Some(_), Some(_)) => Err(Problem {
            line,
            message: "`valid-until` is before `valid-after`".into(),
        }),
        _ => Err(Problem {
            line,
            message: "the header has no `valid-after` and `valid-until` (a truncated document?)"
                .into(),
        }),
    }
}

fn parse_version(line: &str) -> Option<Flavor> {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    if words.next()? != "network-status-version" || words.next()? != "3" {
        return None;
    }
    match words.next() {
        None => Some(Flavor::Full),
        Some("microdesc") => Some(Flavor::Microdesc),
        // Unknown flavours are read like the full one: the `r` lines are told apart by length.
        Some(_) => Some(Flavor::Full),
    }
}

/// `r` arguments: `nickname identity [digest] date time IP ORPort DirPort` — the full flavour has the
/// digest, the microdescriptor flavour does not; the number of arguments tells them apart.
fn parse_router(args: &[&str]) -> Result<Relay, String> {
    let (nickname, identity, rest) = match args.len() {
        8 => (args[0], args[1], &args[3..]),
        7 => (args[0], args[1], &args[2..]),
        n => {
            return Err(format!(
                "`r` needs 7 (microdesc) or 8 (full) arguments, found {n}"
            ));
        }
    };
    if nickname.is_empty()
        || nickname.len() > 19
        || !nickname.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!("`{}` is not a relay nickname", shorten(nickname)));
    }
    let identity = decode_identity(identity)
        .ok_or_else(|| format!("`{}` is not a base64 identity digest", shorten(identity)))?;
    // rest: date time IP ORPort DirPort
    if parse_time(&rest[..2]).is_none() {
        return Err(format!(
            "`{} {}` is not a publication time",
            shorten(rest[0]),
            shorten(rest[1])
        ));
    }
    let address: Ipv4Addr = rest[2]
        .parse()
        .map_err(|_| format!("`{}` is not an IPv4 address", shorten(rest[2])))?;
    let or_port: u16 = rest[3]
        .parse()
        .map_err(|_| format!("`{}` is not an ORPort", shorten(rest[3])))?;
    let dir_port: u16 = rest[4]
        .parse()
        .map_err(|_| format!("`{}` is not a DirPort", shorten(rest[4])))?;
    Ok(Relay {
        nickname: nickname.to_string(),
        identity,
        address,
        or_port,
        dir_port,
        extra: Vec::new(),
        flags: String::new(),
    })
}

/// Base64 (standard alphabet, padding optional) of exactly 20 bytes.
fn decode_identity(text: &str) -> Option<[u8; 20]> {
    pcapxray_plugin_sdk::encoding::base64(text)?.try_into().ok()
}

/// `YYYY-MM-DD HH:MM:SS` (two arguments) to seconds since the Unix epoch, UTC.
pub fn parse_time(args: &[&str]) -> Option<i64> {
    let [date, time] = args else {
        return None;
    };
    let num = |s: &str, len: usize| -> Option<i64> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let mut t = time.split(':');
    let (h, min, s) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || min > 59
        || s > 60
    {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS`, the way consensus documents write times.
pub fn format_time(t: i64) -> String {
    let ns = u64::try_from(t).unwrap_or(0).saturating_mul(1_000_000_000);
    let iso = pcapxray_plugin_sdk::time::iso8601(ns);
    // 2022-11-19T10:00:00.000000Z -> 2022-11-19 10:00:00
    format!("{} {}", &iso[..10], &iso[11..19])
}

/// A piece of untrusted text short enough for a message, printable.
fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small microdescriptor consensus, written by hand after dir-spec's examples.
    const MICRODESC: &str = "\
network-status-version 3 microdesc
vote-status consensus
consensus-method 32
valid-after 2017-12-10 19:00:00
fresh-until 2017-12-10 20:00:00
valid-until 2017-12-10 22:00:00
known-flags Exit Fast Guard Running Stable Valid
dir-source dannenberg 0232AF901C31A04EE9848595AF9BB7620D4C5B2E dannenberg.torauth.de 193.23.244.244 80 443
r stars1 BAlgXoNDVip5D/6EbLO9fARCn3A 2017-12-10 12:00:01 158.69.204.36 443 0
a [2607:5300:201:3000::17d3]:443
m VfKhqOvkEy7Y4pWuwl7gHdLi5k1j3jqm6L8TZ5Z6AXk
s Fast Guard Running Stable Valid
v Tor 0.3.1.9
pr Cons=1-2 Desc=1-2 Link=1-4 Relay=1-2
w Bandwidth=5000
r exitone AAoQ1DAR6kkoo19hBAX5K0QztNw 2017-12-10 11:00:00 198.51.100.7 9001 9030
m aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
s Exit Fast Running Valid
future-keyword with arguments
directory-footer
bandwidth-weights Wbd=0
directory-signature sha256 0232AF901C31A04EE9848595AF9BB7620D4C5B2E 0000
-----BEGIN SIGNATURE-----
r ABCDEFG
-----END SIGNATURE-----
";

    #[test]
    fn reads_a_microdescriptor_consensus() {
        let c = Consensus::parse(MICRODESC, Depth::Full).unwrap();
        assert_eq!(c.flavor, Some(Flavor::Microdesc));
        assert!(c.complete);
        assert_eq!(c.problem_count, 0, "{:?}", c.problems);
        let v = c.validity();
        assert_eq!(format_time(v.valid_after), "2017-12-10 19:00:00");
        assert_eq!(format_time(v.fresh_until), "2017-12-10 20:00:00");
        assert_eq!(format_time(v.valid_until), "2017-12-10 22:00:00");
        assert_eq!(c.relays.len(), 2);
        let stars = &c.relays[0];
        assert_eq!(stars.nickname, "stars1");
        assert_eq!(
            stars.fingerprint(),
            "0409605E8343562A790FFE846CB3BD7C04429F70"
        );
        assert_eq!((stars.or_port, stars.dir_port), (443, 0));
        assert_eq!(stars.flags, "Fast Guard Running Stable Valid");
        assert_eq!(
            stars.extra,
            vec!["[2607:5300:201:3000::17d3]:443".parse().unwrap()]
        );
        let exit = &c.relays[1];
        assert!(exit.has_flag("Exit") && !exit.has_flag("Guard"));
        assert_eq!((exit.or_port, exit.dir_port), (9001, 9030));
        let at = |ip: &str| -> Vec<&str> {
            c.relays_at(ip.parse().unwrap())
                .map(|r| r.nickname.as_str())
                .collect()
        };
        assert_eq!(at("158.69.204.36"), ["stars1"]);
        assert_eq!(at("2607:5300:201:3000::17d3"), ["stars1"]);
        assert_eq!(at("::ffff:198.51.100.7"), ["exitone"]);
        assert!(at("8.8.8.8").is_empty());
    }

    #[test]
    fn reads_only_the_header_when_asked() {
        let c = Consensus::parse(MICRODESC, Depth::Header).unwrap();
        assert!(c.relays.is_empty());
        assert_eq!(format_time(c.validity().valid_after), "2017-12-10 19:00:00");
    }

    #[test]
    fn skips_broken_router_entries_and_reports_their_lines() {
        let text = "\
network-status-version 3
valid-after 2022-11-19 10:00:00
fresh-until 2022-11-19 11:00:00
valid-until 2022-11-19 13:00:00
r good AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 104.53.221.159 9001 0
s Fast Running
a not-an-address
r bad!name AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3.4 9001 0
s Fast
r short AAoQ1DAR6kkoo19hBAX5K0QztNw 1.2.3.4
r badip AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3 9001 0
r badport AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3.4 99999 0
r badid AAoQ1DAR6kkoo19hBAX5K0Qzt!w FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3.4 9001 0
r last AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 5.6.7.8 443 80
";
        let c = Consensus::parse(text, Depth::Full).unwrap();
        let names: Vec<_> = c.relays.iter().map(|r| r.nickname.as_str()).collect();
        assert_eq!(names, ["good", "last"]);
        assert_eq!(c.relays[0].flags, "Fast Running");
        assert!(!c.complete, "no directory-footer: truncated");
        assert_eq!(c.problem_count, 6);
        let lines: Vec<usize> = c.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [7, 8, 10, 11, 12]);
        assert!(c.problems[0].to_string().starts_with("line 7: `a` must be"));
    }

    #[test]
    fn rejects_what_is_not_a_consensus_with_a_line_number() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty document"),
            ("\u{0}\u{1}binary\u{ff}garbage", 1, "not a Tor consensus"),
            ("network-status-version 2\n", 1, "not a Tor consensus"),
            (
                "@type network-status-consensus-3 1.0\nhello\n",
                2,
                "not a Tor consensus",
            ),
            (
                "network-status-version 3\nvalid-after 2022-13-19 10:00:00\n",
                2,
                "`valid-after` must be followed",
            ),
            (
                "network-status-version 3\nvalid-after 2022-11-19\n",
                2,
                "`valid-after` must be followed",
            ),
            (
                "network-status-version 3\nvalid-after 2022-11-19 10:00:00\nr x",
                3,
                "no `valid-after` and `valid-until`",
            ),
            (
                "network-status-version 3\nvalid-after 2022-11-19 10:00:00\nvalid-until 2022-11-19 09:00:00\n",
                3,
                "before `valid-after`",
            ),
            (
                "network-status-version 3\nvote-status consensus\nvalid-aft",
                3,
                "no `valid-after`",
            ),
        ];
        for (text, line, message) in cases {
            let e = Consensus::parse(text, Depth::Full).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
    }

    #[test]
    fn survives_every_truncation_and_random_bytes() {
        // Every prefix of a real-looking document, and pseudo-random garbage: never a panic.
        for cut in 0..=MICRODESC.len() {
            if MICRODESC.is_char_boundary(cut) {
                let _ = Consensus::parse(&MICRODESC[..cut], Depth::Full);
            }
        }
        let mut x: u64 = 0x1234_5678;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b" \nrasvalid-after0123456789:.-[]ABCxyz+/="[(x % 39) as usize]
                })
                .collect();
            let text = format!(
                "network-status-version 3\nvalid-after 2022-11-19 10:00:00\nvalid-until 2022-11-19 13:00:00\n{}",
                String::from_utf8_lossy(&bytes)
            );
            let _ = Consensus::parse(&text, Depth::Full);
        }
    }

    #[test]
    fn converts_times_both_ways() {
        assert_eq!(parse_time(&["2017-12-10", "19:25:47"]), Some(1_512_933_947));
        assert_eq!(parse_time(&["1970-01-01", "00:00:00"]), Some(0));
        assert_eq!(format_time(1_668_852_000), "2022-11-19 10:00:00");
        for bad in [
            ["2017-12-1", "19:25:47"],
            ["2017-12-10", "24:00:00"],
            ["2017-00-10", "19:25:47"],
            ["2017-12-10", "19:25"],
            ["2017-12-10-1", "19:25:47"],
            ["２017-12-10", "19:25:47"],
        ] {
            assert_eq!(parse_time(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decodes_identities() {
        assert_eq!(
            decode_identity("AAoQ1DAR6kkoo19hBAX5K0QztNw").map(|b| b[..3].to_vec()),
            Some(vec![0x00, 0x0a, 0x10])
        );
        assert_eq!(
            decode_identity("AAoQ1DAR6kkoo19hBAX5K0QztNw="),
            decode_identity("AAoQ1DAR6kkoo19hBAX5K0QztNw")
        );
        assert_eq!(decode_identity("AAoQ"), None);
        assert_eq!(decode_identity("AAoQ1DAR6kkoo19hBAX5K0QztN!"), None);
    }
}
