//! Who made a network card: the IEEE MAC address block registry (MA-L 24-bit, MA-M 28-bit, MA-S and
//! IAB 36-bit blocks) with longest-prefix lookup, and the two address bits that say a MAC was never
//! assigned by a manufacturer (locally administered, group). The registry shipped in
//! `config/data/oui.tsv` is embedded and parsed on first use; a newer file can be read at start-up
//! (our TSV format or IEEE's own CSV) and takes precedence.

use pcapxray_plugin_sdk::collections::HashMap;
use std::sync::OnceLock;

/// The registry shipped with pcapxray (see `config/data/README.md` for its source and date).
const EMBEDDED: &str = include_str!("../../../config/data/oui.tsv");

/// What kind of address a MAC is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacKind {
    /// A manufacturer-assigned address: its first 24–36 bits name the manufacturer.
    Universal,
    /// Bit 0x02 of the first octet: set by software (randomised by phones and laptops, virtual
    /// machines, containers); no manufacturer.
    LocallyAdministered,
    /// Bit 0x01 of the first octet: a multicast or broadcast address, never a sender.
    Group,
    /// 00:00:00:00:00:00, what loopback and synthetic link layers carry.
    Null,
}

impl MacKind {
    /// Classifies a MAC held in the low 48 bits.
    pub fn of(mac: u64) -> MacKind {
        let first = (mac >> 40) as u8;
        if mac & 0xffff_ffff_ffff == 0 {
            MacKind::Null
        } else if first & 0x01 != 0 {
            MacKind::Group
        } else if first & 0x02 != 0 {
            MacKind::LocallyAdministered
        } else {
            MacKind::Universal
        }
    }

    /// The value of the `mac.kind` fact.
    pub fn as_str(self) -> &'static str {
        match self {
            MacKind::Universal => "universal",
            MacKind::LocallyAdministered => "locally-administered",
            MacKind::Group => "group",
            MacKind::Null => "null",
        }
    }
}

/// A registry: for each block size, the prefixes and their organisations.
#[derive(Debug, Default)]
pub struct Registry {
    /// Keyed by (prefix bits, prefix value).
    blocks: HashMap<(u8, u64), String>,
}

/// A line of a registry file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Registry {
    /// The embedded registry, parsed on first use.
    pub fn embedded() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry::parse(EMBEDDED).unwrap_or_default())
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The organisation the longest registered block containing `mac` belongs to. Only universal
    /// addresses are looked up.
    pub fn lookup(&self, mac: u64) -> Option<&str> {
        if MacKind::of(mac) != MacKind::Universal {
            return None;
        }
        [36u8, 28, 24].into_iter().find_map(|bits| {
            let prefix = (mac & 0xffff_ffff_ffff) >> (48 - u32::from(bits));
            self.blocks.get(&(bits, prefix)).map(String::as_str)
        })
    }

    /// Reads a registry file: the TSV written by `config/data/update-oui.sh`, or an IEEE CSV listing
    /// (`Registry,Assignment,Organization Name,...`). Fails on the first unreadable line.
    pub fn parse(text: &str) -> Result<Registry, BadLine> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.starts_with("Registry,Assignment") {
            return Registry::parse_ieee_csv(text);
        }
        let mut registry = Registry::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: &str| BadLine {
                line: i + 1,
                message: message.to_string(),
            };
            let (prefix, name) = line
                .split_once('\t')
                .ok_or_else(|| bad("expected `HEXPREFIX<TAB>organisation`"))?;
            registry
                .insert(prefix.trim(), name.trim())
                .map_err(|m| bad(&m))?;
        }
        Ok(registry)
    }

    fn insert(&mut self, prefix: &str, name: &str) -> Result<(), String> {
        let bits: u8 = match prefix.len() {
            6 => 24,
            7 => 28,
            9 => 36,
            n => return Err(format!("a prefix has 6, 7 or 9 hex digits, not {n}")),
        };
        let value = u64::from_str_radix(prefix, 16)
            .map_err(|_| format!("`{prefix}` is not a hexadecimal prefix"))?;
        if name.is_empty() {
            return Err("the organisation name is empty".into());
        }
        self.blocks
            .entry((bits, value))
            .and_modify(|n| {
                if !n.split(" / ").any(|x| x == name) {
                    n.push_str(" / ");
                    n.push_str(name);
                }
            })
            .or_insert_with(|| name.to_string());
        Ok(())
    }

    /// IEEE's CSV: `Registry,Assignment,Organization Name,Organization Address`, fields quoted when
    /// they hold commas, quotes or line breaks.
    fn parse_ieee_csv(text: &str) -> Result<Registry, BadLine> {
        let mut registry = Registry::default();
        for (line, record) in csv_records(text).into_iter().skip(1) {
            let (Some(assignment), Some(name)) = (record.get(1), record.get(2)) else {
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                return Err(BadLine {
                    line,
                    message: "expected at least three fields".into(),
                });
            };
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            registry
                .insert(assignment.trim(), &name)
                .map_err(|message| BadLine { line, message })?;
        }
        Ok(registry)
    }
}

/// Splits CSV text into records of fields (RFC 4180 quoting), each with the line it starts on.
fn csv_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                fields.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
            }
            ('\n', true) => {
                line += 1;
                field.push(' ');
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((start, fields));
    }
    records
}

/// A MAC address from `aa:bb:cc:dd:ee:ff` text (tests).
#[cfg(test)]
pub fn parse_mac(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        (p.len() == 2)
            .then(|| u8::from_str_radix(p, 16).ok())
            .flatten()
            .map(|b| (acc << 8) | u64::from(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> u64 {
        parse_mac(s).unwrap()
    }

    #[test]
    fn the_embedded_registry_is_whole_and_answers_by_longest_prefix() {
        let r = Registry::embedded();
        assert!(r.len() > 45_000, "{} blocks", r.len());
        assert_eq!(
            r.lookup(mac("00:13:7f:be:8c:ff")),
            Some("Cisco Systems, Inc")
        );
        assert_eq!(r.lookup(mac("90:b1:1c:99:49:29")), Some("Dell Inc."));
        // 70:B3:D5 is the IEEE Registration Authority's MA-L, split into 36-bit MA-S blocks.
        assert_eq!(
            r.lookup(mac("70:b3:d5:f2:f0:01")),
            Some("TELEPLATFORMS"),
            "the MA-S block wins over its MA-L"
        );
        assert_eq!(
            r.lookup(mac("08:00:27:e2:9f:a6")),
            Some("PCS Systemtechnik GmbH")
        );
    }

    #[test]
    fn addresses_that_name_no_manufacturer_are_not_looked_up() {
        let r = Registry::embedded();
        assert_eq!(
            MacKind::of(mac("02:50:00:00:00:01")),
            MacKind::LocallyAdministered
        );
        assert_eq!(MacKind::of(mac("01:00:5e:00:00:fb")), MacKind::Group);
        assert_eq!(MacKind::of(mac("ff:ff:ff:ff:ff:ff")), MacKind::Group);
        assert_eq!(MacKind::of(0), MacKind::Null);
        assert_eq!(MacKind::of(mac("00:1a:a0:ba:f3:5d")), MacKind::Universal);
        for m in [
            "02:50:00:00:00:01",
            "01:00:5e:00:00:fb",
            "00:00:00:00:00:00",
        ] {
            assert_eq!(r.lookup(mac(m)), None, "{m}");
        }
        assert_eq!(
            MacKind::LocallyAdministered.as_str(),
            "locally-administered"
        );
    }

    #[test]
    fn reads_its_own_format_and_ieee_csv_and_reports_bad_lines() {
        let tsv =
            "# comment\n001122\tExample One\n0011223\tExample Two\n001122334\tExample Three\n";
        let r = Registry::parse(tsv).unwrap();
        assert_eq!(r.lookup(mac("00:11:22:33:44:55")), Some("Example Three"));
        assert_eq!(r.lookup(mac("00:11:22:3f:44:55")), Some("Example Two"));
        assert_eq!(r.lookup(mac("00:11:22:ff:44:55")), Some("Example One"));
        assert_eq!(Registry::parse("001122\tA\nxyz\tB\n").unwrap_err().line, 2);
        assert_eq!(Registry::parse("00112\tA\n").unwrap_err().line, 1);
        assert!(Registry::parse("001122 no tab\n").is_err());

        let csv = "Registry,Assignment,Organization Name,Organization Address\r\n\
                   MA-L,002272,American Micro-Fuel Device Corp.,2181 Buchanan Loop Ferndale WA US 98248 \r\n\
                   MA-L,00137F,\"Cisco Systems, Inc\",\"80 West Tasman Drive\nSan Jose CA US 94568 \"\r\n\
                   MA-M,741AE09,Private,\r\n";
        let r = Registry::parse(csv).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.lookup(mac("00:13:7f:00:00:01")),
            Some("Cisco Systems, Inc")
        );
        assert_eq!(r.lookup(mac("74:1a:e0:90:00:01")), Some("Private"));
    }

    #[test]
    fn mac_text() {
        assert_eq!(parse_mac("00:1A:a0:ba:f3:5d"), Some(0x001a_a0ba_f35d));
        assert_eq!(parse_mac("00-1a-a0-ba-f3-5d"), Some(0x001a_a0ba_f35d));
        assert_eq!(parse_mac("00:1a:a0:ba:f3"), None);
        assert_eq!(parse_mac("00:1a:a0:ba:f3:5"), None);
    }
}
