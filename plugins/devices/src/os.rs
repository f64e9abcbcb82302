//! Operating-system hints from the few things a capture shows about a machine's software: the DHCP
//! vendor class and parameter request list its DHCP client sent, the browser and tool `User-Agent`s
//! the `web` stage saw it send, and the initial IP TTL its stack uses. Each is weak alone (TTL 64 is
//! Linux, macOS, iOS and Android alike; a User-Agent can lie; a VM has its host's MAC vendor but its
//! own OS), so every piece is kept as evidence with its own confidence, and the conclusion says how
//! well they agree.

/// What a piece of evidence points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Microsoft Windows.
    Windows,
    /// Apple macOS.
    MacOs,
    /// Apple iOS / iPadOS.
    Ios,
    /// Google Android.
    Android,
    /// Google ChromeOS.
    ChromeOs,
    /// Linux (desktop, server, embedded).
    Linux,
    /// macOS or iOS, not known which.
    Apple,
    /// Any of Linux, Android, macOS, iOS, ChromeOS, BSD (initial TTL 64).
    UnixLike,
    /// Routers, switches, printers and other appliances (initial TTL 255).
    NetworkDevice,
}

impl Family {
    /// The value of the `os` fact.
    pub fn name(self) -> &'static str {
        match self {
            Family::Windows => "Windows",
            Family::MacOs => "macOS",
            Family::Ios => "iOS",
            Family::Android => "Android",
            Family::ChromeOs => "ChromeOS",
            Family::Linux => "Linux",
            Family::Apple => "macOS or iOS",
            Family::UnixLike => "Unix-like",
            Family::NetworkDevice => "network device",
        }
    }

    /// True when evidence for `self` also supports `other` (`UnixLike` supports `Android`).
    fn supports(self, other: Family) -> bool {
        use Family::*;
        self == other
            || match self {
                UnixLike => matches!(other, MacOs | Ios | Android | ChromeOs | Linux | Apple),
                Apple => matches!(other, MacOs | Ios),
                Linux => matches!(other, Android | ChromeOs),
                _ => false,
            }
    }

    /// How specific a conclusion is (more is better when evidence ties).
    fn specificity(self) -> u8 {
        match self {
            Family::UnixLike | Family::NetworkDevice => 0,
            Family::Apple | Family::Linux => 1,
            _ => 2,
        }
    }
}

/// One observation pointing at an OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// What it points at.
    pub family: Family,
    /// How strong it is alone (0–100).
    pub confidence: u8,
    /// What was seen, for the investigator.
    pub what: String,
}

/// From a DHCP vendor class (option 60) sent by the client.
pub fn from_vendor_class(class: &str) -> Option<Evidence> {
    let lower = class.to_ascii_lowercase();
    let (family, confidence) = if lower.starts_with("msft 5.0") || lower.starts_with("msft 98") {
        (Family::Windows, 85)
    } else if lower.starts_with("android-dhcp") {
        (Family::Android, 85)
    } else if lower.starts_with("udhcp") {
        (Family::Linux, 70)
    } else if lower.starts_with("dhcpcd") {
        (Family::Linux, 60)
    } else {
        return None;
    };
    Some(Evidence {
        family,
        confidence,
        what: format!("DHCP vendor class `{class}`"),
    })
}

/// From a DHCP parameter request list (option 55): the order and set of options a DHCP client asks
/// for is characteristic of its implementation.
pub fn from_parameter_list(list: &[u8]) -> Option<Evidence> {
    let has = |codes: &[u8]| codes.iter().all(|c| list.contains(c));
    let (family, confidence) = if has(&[31, 33, 43, 44, 46, 47, 249]) {
        (Family::Windows, 55)
    } else if list.starts_with(&[1, 121, 3, 6, 15, 119, 252])
        || list.starts_with(&[1, 3, 6, 15, 119, 95, 252, 44, 46])
    {
        (Family::Apple, 55)
    } else if list.starts_with(&[1, 3, 6, 15, 26, 28, 51, 58, 59]) && !list.contains(&249) {
        (Family::Android, 50)
    } else if list.starts_with(&[1, 28, 2, 3, 15, 6]) {
        (Family::Linux, 50)
    } else {
        return None;
    };
    let text: Vec<String> = list.iter().map(u8::to_string).collect();
    Some(Evidence {
        family,
        confidence,
        what: format!("DHCP parameter request list {}", text.join(",")),
    })
}

/// From an HTTP `User-Agent` the host sent.
pub fn from_user_agent(agent: &str) -> Option<Evidence> {
    let (family, confidence, detail) = if agent.contains("Windows NT") {
        let version = agent
            .split("Windows NT ")
            .nth(1)
            .and_then(|rest| rest.split([';', ')']).next())
            .unwrap_or("");
        let name = match version.trim() {
            "10.0" => "Windows 10/11",
            "6.3" => "Windows 8.1",
            "6.2" => "Windows 8",
            "6.1" => "Windows 7",
            "6.0" => "Windows Vista",
            "5.1" | "5.2" => "Windows XP",
            _ => "Windows",
        };
        (Family::Windows, 70, name)
    } else if agent.starts_with("Microsoft-") || agent.contains("Windows-Update-Agent") {
        (Family::Windows, 60, "Windows system component")
    } else if agent.contains("Android") {
        (Family::Android, 70, "Android")
    } else if agent.contains("iPhone") || agent.contains("iPad") || agent.contains("iPod") {
        (Family::Ios, 70, "iOS")
    } else if agent.contains("CrOS") {
        (Family::ChromeOs, 70, "ChromeOS")
    } else if agent.contains("Macintosh") || agent.contains("Mac OS X") {
        (Family::MacOs, 70, "macOS")
    } else if agent.contains("Linux") || agent.contains("Ubuntu") || agent.contains("Fedora") {
        (Family::Linux, 65, "Linux")
    } else {
        return None;
    };
    let shown: String = agent.chars().take(120).collect();
    Some(Evidence {
        family,
        confidence,
        what: format!("HTTP User-Agent says {detail} (`{shown}`)"),
    })
}

/// From the initial TTL of the packets a LAN host sent (the value its stack starts with).
pub fn from_ttl(ttl: u8) -> Option<Evidence> {
    let (family, what) = match ttl {
        64 => (
            Family::UnixLike,
            "initial TTL 64 (Linux, Android, macOS, iOS, BSD)",
        ),
        128 => (Family::Windows, "initial TTL 128 (Windows)"),
        255 => (
            Family::NetworkDevice,
            "initial TTL 255 (routers, switches, printers, some Unix)",
        ),
        _ => return None,
    };
    Some(Evidence {
        family,
        confidence: 40,
        what: what.into(),
    })
}

/// The conclusion drawn from a host's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The OS it most likely runs.
    pub family: Family,
    /// How sure (0–95).
    pub confidence: u8,
    /// The evidence that supports it.
    pub supporting: Vec<String>,
    /// The evidence that points elsewhere (a VM, NAT, a spoofed User-Agent, ...).
    pub conflicting: Vec<String>,
}

/// Weighs the evidence: the candidate with the strongest direct evidence wins (ties: more total
/// support, then the more specific); each further agreeing piece adds a little confidence and each
/// conflicting piece takes some away.
pub fn conclude(evidence: &[Evidence]) -> Option<Hint> {
    let mut candidates: Vec<Family> = evidence.iter().map(|e| e.family).collect();
    candidates.sort();
    candidates.dedup();
    let score = |c: Family| {
        let direct = evidence
            .iter()
            .filter(|e| e.family == c)
            .map(|e| e.confidence)
            .max()
            .unwrap_or(0);
        let total: u32 = evidence
            .iter()
            .filter(|e| e.family.supports(c))
            .map(|e| u32::from(e.confidence))
            .sum();
        (direct, total, c.specificity())
    };
    let best = candidates.into_iter().max_by_key(|c| score(*c))?;
    let (supporting, conflicting): (Vec<&Evidence>, Vec<&Evidence>) = evidence
        .iter()
        .partition(|e| e.family.supports(best) || best.supports(e.family));
    let strongest = supporting.iter().map(|e| e.confidence).max().unwrap_or(0);
    let small = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
    let more = small(supporting.len().saturating_sub(1));
    let confidence = strongest
        .saturating_add(more.saturating_mul(5))
        .saturating_sub(small(conflicting.len()).saturating_mul(15))
        .clamp(10, 95);
    let text = |list: Vec<&Evidence>| {
        let mut v: Vec<String> = list.into_iter().map(|e| e.what.clone()).collect();
        v.dedup();
        v
    };
    Some(Hint {
        family: best,
        confidence,
        supporting: text(supporting),
        conflicting: text(conflicting),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_classes_and_user_agents() {
        assert_eq!(
            from_vendor_class("MSFT 5.0").unwrap().family,
            Family::Windows
        );
        assert_eq!(
            from_vendor_class("android-dhcp-11").unwrap().family,
            Family::Android
        );
        assert_eq!(
            from_vendor_class("udhcp 1.30.1").unwrap().family,
            Family::Linux
        );
        assert!(from_vendor_class("ArubaAP").is_none());
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0";
        let e = from_user_agent(firefox).unwrap();
        assert_eq!(e.family, Family::Windows);
        assert!(e.what.contains("Windows 10/11"), "{}", e.what);
        let android =
            "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 Chrome/120 Mobile";
        assert_eq!(from_user_agent(android).unwrap().family, Family::Android);
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
        assert_eq!(from_user_agent(iphone).unwrap().family, Family::Ios);
        assert_eq!(
            from_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
                .unwrap()
                .family,
            Family::MacOs
        );
        assert_eq!(
            from_user_agent("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0)")
                .unwrap()
                .family,
            Family::Linux
        );
        assert!(from_user_agent("curl/8.5.0").is_none());
    }

    #[test]
    fn parameter_request_lists() {
        let win10 = [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252];
        assert_eq!(from_parameter_list(&win10).unwrap().family, Family::Windows);
        let macos = [1, 121, 3, 6, 15, 119, 252, 95, 44, 46];
        assert_eq!(from_parameter_list(&macos).unwrap().family, Family::Apple);
        let android = [1, 3, 6, 15, 26, 28, 51, 58, 59, 43];
        assert_eq!(
            from_parameter_list(&android).unwrap().family,
            Family::Android
        );
        let dhclient = [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42];
        assert_eq!(
            from_parameter_list(&dhclient).unwrap().family,
            Family::Linux
        );
        assert!(from_parameter_list(&[1, 3, 6]).is_none());
    }

    #[test]
    fn agreeing_evidence_adds_up_and_conflicts_lower_confidence() {
        let ua = from_user_agent("Mozilla/5.0 (Linux; Android 13; Pixel 7)").unwrap();
        let ttl = from_ttl(64).unwrap();
        let hint = conclude(&[ttl.clone(), ua.clone()]).unwrap();
        assert_eq!(hint.family, Family::Android);
        assert_eq!(hint.confidence, 75);
        assert_eq!(hint.supporting.len(), 2);
        assert!(hint.conflicting.is_empty());

        let only_ttl = conclude(std::slice::from_ref(&ttl)).unwrap();
        assert_eq!(only_ttl.family, Family::UnixLike);
        assert_eq!(only_ttl.confidence, 40);

        let windows_ua = from_user_agent("Mozilla/5.0 (Windows NT 6.1; WOW64)").unwrap();
        let hint = conclude(&[ttl, windows_ua]).unwrap();
        assert_eq!(hint.family, Family::Windows);
        assert_eq!(hint.confidence, 55);
        assert_eq!(hint.conflicting.len(), 1);

        let dhcp = from_vendor_class("MSFT 5.0").unwrap();
        let hint = conclude(&[dhcp, from_ttl(128).unwrap()]).unwrap();
        assert_eq!((hint.family, hint.confidence), (Family::Windows, 90));
        assert!(conclude(&[]).is_none());
    }
}
