//! Tor without a consensus: a Tor client opens every TLS connection to a relay with a made-up server
//! name, `www.` + 4 to 25 random base32 characters + `.com` (`crypto_random_hostname(4, 25, "www.",
//! ".com")` in tor's TLS code; base32 there is `a`–`z` and `2`–`7`). Real names are words or pieces
//! of words; random base32 is not pronounceable. The score here is dictionary-free: it looks at the
//! share of vowels, at letter pairs that English-like names rarely contain (`zv`, `fw`, `q4`, …), at
//! long consonant runs and at digits mixed into letters. Short labels carry little evidence and are
//! damped. The result is a hint for an investigator — Low severity, confidence at most 50 — never a
//! verdict: only a consensus match says a peer is a relay.

/// Consonant pairs common inside English words and the compound names sites use. A table of letter
/// pairs, not of words.
const COMMON_CONSONANT_PAIRS: &[&str] = &[
    "bb", "bl", "br", "bs", "cc", "ch", "ck", "cl", "cr", "ct", "dd", "dg", "dl", "dr", "ds", "dv",
    "ff", "fl", "fr", "ft", "gg", "gh", "gl", "gn", "gr", "gs", "gt", "hn", "hr", "hs", "ht", "kn",
    "ks", "lb", "lc", "ld", "lf", "lk", "ll", "lm", "lp", "ls", "lt", "lv", "mb", "mm", "mn", "mp",
    "ms", "nc", "nd", "nf", "ng", "nk", "nl", "nn", "ns", "nt", "nv", "ph", "pl", "pp", "pr", "ps",
    "pt", "rb", "rc", "rd", "rf", "rg", "rh", "rk", "rl", "rm", "rn", "rp", "rr", "rs", "rt", "rv",
    "sc", "sh", "sk", "sl", "sm", "sn", "sp", "ss", "st", "sw", "tc", "th", "tl", "tr", "ts", "tt",
    "tw", "wh", "wk", "wl", "wn", "wr", "ws", "xc", "xp", "xt", "zz",
];

/// Vowel pairs common in English (`y` counts as a vowel).
const COMMON_VOWEL_PAIRS: &[&str] = &[
    "ai", "au", "ay", "ea", "ee", "eo", "eu", "ey", "ia", "ie", "io", "oa", "oe", "oi", "oo", "ou",
    "oy", "ua", "ue", "ui", "uo", "uy", "ya", "ye", "yo",
];

/// True for a pair of adjacent characters that English-like names rarely contain: a digit next to
/// anything, `q` not followed by `u`, and vowel or consonant pairs outside the tables above.
fn rare_pair(a: u8, b: u8) -> bool {
    if a.is_ascii_digit() || b.is_ascii_digit() || (a == b'q' && b != b'u') {
        return true;
    }
    let pair = [a, b];
    match (is_vowel(a), is_vowel(b)) {
        (true, true) => !COMMON_VOWEL_PAIRS.iter().any(|p| p.as_bytes() == pair),
        (false, false) => !COMMON_CONSONANT_PAIRS.iter().any(|p| p.as_bytes() == pair),
        _ => false,
    }
}

/// Ports Tor relays usually listen on (ORPorts 9001, 443, 80; DirPort 9030) and the client's own
/// SOCKS and control ports (9050, 9051).
pub const TOR_PORTS: &[u16] = &[9001, 9030, 443, 80, 9050, 9051];

/// Ports that are Tor's and hardly anything else's: a hello to them counts even with ALPN.
pub const TOR_ONLY_PORTS: &[u16] = &[9001, 9030, 9050, 9051];

/// Scores at or above this raise a finding.
pub const THRESHOLD: f64 = 0.6;

/// Why a server name looks like Tor's random one.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// The random-looking label (`www.<label>.com`).
    pub label: String,
    /// 0 (a real word) to 1 (clearly random).
    pub score: f64,
    /// The evidence, as phrases for the `reason` attribute.
    pub evidence: Vec<String>,
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Scores a TLS server name; `None` when it does not have Tor's shape at all (not `www.X.com` or
/// `www.X.net`, X not 4–25 characters of Tor's base32 alphabet).
pub fn assess(sni: &str) -> Option<Assessment> {
    let name = sni.trim_end_matches('.').to_ascii_lowercase();
    let label = name
        .strip_prefix("www.")?
        .strip_suffix(".com")
        .or_else(|| name.strip_prefix("www.")?.strip_suffix(".net"))?;
    let bytes = label.as_bytes();
    if !(4..=25).contains(&bytes.len())
        || !bytes
            .iter()
            .all(|&c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
    {
        return None;
    }
    let len = bytes.len();
    let letters = bytes.iter().filter(|c| c.is_ascii_lowercase()).count();
    let digits = len - letters;
    let vowels = bytes.iter().filter(|&&c| is_vowel(c)).count();
    let vowel_share = if letters == 0 {
        0.0
    } else {
        vowels as f64 / letters as f64
    };
    let rare_pairs = bytes.windows(2).filter(|w| rare_pair(w[0], w[1])).count();
    let pair_share = rare_pairs as f64 / (len - 1) as f64;
    let mut run = 0;
    let mut longest = 0;
    for &c in bytes {
        run = if is_vowel(c) { 0 } else { run + 1 };
        longest = longest.max(run);
    }

    let mut score: f64 = 0.0;
    let mut evidence = vec![format!("{len}-character label")];
    // Random base32 has about 23% vowels among its letters (6 of 26, `y` counted), English 40%.
    if vowel_share < 0.25 {
        score += 0.2;
    } else if vowel_share < 0.32 {
        score += 0.1;
    }
    evidence.push(format!("{:.0}% vowels", vowel_share * 100.0));
    // About half the adjacent pairs of random base32 are rare ones; in real names few are.
    if pair_share >= 0.4 {
        score += 0.55;
    } else if pair_share >= 0.3 {
        score += 0.4;
    } else if pair_share >= 0.2 {
        score += 0.2;
    }
    evidence.push(format!(
        "{rare_pairs} of {} adjacent character pairs rare in real names",
        len - 1
    ));
    if longest >= 4 {
        score += 0.15;
        evidence.push(format!("a run of {longest} consonants"));
    }
    if digits > 0 && letters > 0 {
        evidence.push(format!(
            "{digits} digit{} among the letters",
            if digits == 1 { "" } else { "s" }
        ));
    }
    if len >= 10 {
        score += 0.1;
    }
    // A short label is too short to tell random from a brand name.
    if len < 6 {
        score *= 0.6;
    } else if len < 8 {
        score *= 0.8;
    }
    Some(Assessment {
        label: label.to_string(),
        score: score.min(1.0),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Popular sites by traffic, as `www.` names (several are not .com/.net and fail the shape test;
    /// the rest must score below the threshold).
    const REAL: &[&str] = &[
        "www.google.com",
        "www.wikipedia.org",
        "www.youtube.com",
        "www.facebook.com",
        "www.amazon.com",
        "www.twitter.com",
        "www.instagram.com",
        "www.linkedin.com",
        "www.reddit.com",
        "www.netflix.com",
        "www.microsoft.com",
        "www.apple.com",
        "www.yahoo.com",
        "www.bing.com",
        "www.ebay.com",
        "www.cnn.com",
        "www.nytimes.com",
        "www.bbc.com",
        "www.espn.com",
        "www.github.com",
        "www.stackoverflow.com",
        "www.paypal.com",
        "www.dropbox.com",
        "www.twitch.tv",
        "www.pinterest.com",
        "www.tumblr.com",
        "www.imdb.com",
        "www.walmart.com",
        "www.adobe.com",
        "www.salesforce.com",
        "www.spotify.com",
        "www.wellsfargo.com",
        "www.chase.com",
        "www.craigslist.org",
        "www.zillow.com",
        "www.etsy.com",
        "www.bankofamerica.com",
        "www.office.com",
        "www.outlook.com",
        "www.whatsapp.com",
        "www.tiktok.com",
        "www.duckduckgo.com",
        "www.cloudflare.com",
        "www.mozilla.org",
        "www.weather.com",
        "www.foxnews.com",
        "www.washingtonpost.com",
        "www.schwab.com",
        "www.wordpress.com",
        "www.booking.com",
        "www.googleapis.com",
        "www.gstatic.com",
        "www.akamaized.net",
        "www.speedtest.net",
        "www.strengths.com",
        "www.rhythms.com",
        "www.twelfths.com",
        "www.github.io",
    ];

    #[test]
    fn real_names_do_not_look_random() {
        assert!(REAL.len() >= 50);
        for name in REAL {
            if let Some(a) = assess(name) {
                assert!(a.score < THRESHOLD, "{name}: {a:?}");
            }
        }
        assert_eq!(assess("www.wikipedia.org"), None);
        assert_eq!(
            assess("www.bbc.com"),
            None,
            "too short for Tor's 4 to 25 characters"
        );
        assert_eq!(assess("mail.google.com"), None);
        assert_eq!(
            assess("www.web1.com"),
            None,
            "1 is not in Tor's base32 alphabet"
        );
    }

    #[test]
    fn names_in_tor_shape_score_high() {
        // From the demo capture (letters only) and made in Tor's way (base32 with digits).
        for name in [
            "www.itogmirzvfwcqt.com",
            "www.q4hx7bfl2nke.com",
            "www.zk5jcwdtaqxzr3u7y.com",
            "www.vfx3kdq.net",
        ] {
            let a = assess(name).unwrap();
            assert!(a.score >= THRESHOLD, "{name}: {a:?}");
        }
        let a = assess("www.itogmirzvfwcqt.com").unwrap();
        assert_eq!(a.label, "itogmirzvfwcqt");
        assert_eq!(
            a.evidence,
            [
                "14-character label",
                "21% vowels",
                "8 of 13 adjacent character pairs rare in real names",
                "a run of 8 consonants"
            ]
        );
    }

    #[test]
    fn catches_most_names_generated_the_way_tor_does() {
        // crypto_random_hostname(4, 25, "www.", ".com"): a uniform length, base32 characters.
        const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut long_hits, mut long_total, mut all_hits) = (0, 0, 0);
        let n = 5_000;
        for _ in 0..n {
            let len = 4 + (next() % 22) as usize;
            let label: String = (0..len)
                .map(|_| B32[(next() % 32) as usize] as char)
                .collect();
            let hit = assess(&format!("www.{label}.com")).unwrap().score >= THRESHOLD;
            all_hits += usize::from(hit);
            if len >= 8 {
                long_total += 1;
                long_hits += usize::from(hit);
            }
        }
        let long_rate = long_hits as f64 / long_total as f64;
        let all_rate = all_hits as f64 / n as f64;
        assert!(long_rate > 0.94, "8+ characters: {long_rate}");
        assert!(all_rate > 0.8, "all lengths: {all_rate}");
    }
}
