//! Comparing MAC vendor names with Wireshark's, for the tests that check the `devices` plugin against
//! the `source_mac_vendors` of `expectations.json` (its unit test and the end-to-end test).

/// A vendor name for comparison: lower case, punctuation as spaces.
fn words(name: &str) -> Vec<String> {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Wireshark's short names and the IEEE organisation names differ in case, punctuation and legal
/// suffixes (`Asustek` / `ASUSTek COMPUTER INC.`): the same when one's words start the other's.
pub fn same_vendor(wireshark: &str, ieee: &str) -> bool {
    let (a, b) = (words(wireshark), words(ieee));
    !a.is_empty() && !b.is_empty() && (a.starts_with(&b) || b.starts_with(&a))
}

/// Where the IEEE registry (or the plugin, deliberately) and Wireshark's `manuf` disagree: (MAC, the
/// vendor the plugin gives, why). Every other MAC must get Wireshark's vendor.
pub const EXCEPTIONS: &[(&str, Option<&str>, &str)] = &[
    (
        "08:00:27:e2:9f:a6",
        Some("PCS Systemtechnik GmbH"),
        "IEEE registers 08:00:27 to PCS Systemtechnik GmbH; Wireshark's manuf keeps the older name PCS Computer Systems GmbH (VirtualBox uses this OUI)",
    ),
    (
        "08:00:27:fc:6a:c9",
        Some("PCS Systemtechnik GmbH"),
        "as above: the IEEE name of 08:00:27",
    ),
    (
        "00:00:00:00:00:00",
        None,
        "Wireshark's text is a remark (Officially Xerox, but 0:0:0:0:0:0 is more common); the all-zero MAC is what loopback and synthetic link layers carry, so the plugin calls it mac.kind = null and names no vendor",
    ),
    (
        "00:13:7f:4f:8e:f2",
        None,
        "this MAC only sends spanning-tree frames (no IP, no ARP): it is not in the host table, the only place a plugin learns MACs",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_names_compare_by_words() {
        assert!(same_vendor("Asustek", "ASUSTek COMPUTER INC."));
        assert!(same_vendor("3Com", "3COM"));
        assert!(same_vendor("Cisco Systems, Inc", "Cisco Systems, Inc"));
        assert!(!same_vendor(
            "PCS Computer Systems GmbH",
            "PCS Systemtechnik GmbH"
        ));
        assert!(!same_vendor("Apple, Inc.", "Dell Inc."));
        assert!(!same_vendor("", "Apple, Inc."));
    }
}
