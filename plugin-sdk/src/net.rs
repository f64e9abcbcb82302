//! Address and port facts every detector needs, decided once here so plugins agree on them: which
//! addresses are local, which are the internet, and what a well-known port usually carries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, from the point of view of an investigator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpClass {
    /// 0.0.0.0 or ::.
    Unspecified,
    /// 127.0.0.0/8 or ::1.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), 100.64/10 (CGNAT) or IPv6 unique-local fc00::/7.
    Private,
    /// 169.254/16 or fe80::/10.
    LinkLocal,
    /// 224/4 or ff00::/8.
    Multicast,
    /// 255.255.255.255 (subnet broadcasts cannot be told from the address alone).
    Broadcast,
    /// Documentation and benchmarking ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 198.18/15,
    /// 2001:db8::/32): not routed, but used as stand-ins for internet hosts.
    Documentation,
    /// Everything else: an internet address.
    Public,
}

impl IpClass {
    /// Classifies an address.
    pub fn of(ip: IpAddr) -> IpClass {
        match ip {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => classify_v4(v4),
                None => classify_v6(v6),
            },
        }
    }

    /// The lower-case name used in reports: `private`, `public`, `link-local`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            IpClass::Unspecified => "unspecified",
            IpClass::Loopback => "loopback",
            IpClass::Private => "private",
            IpClass::LinkLocal => "link-local",
            IpClass::Multicast => "multicast",
            IpClass::Broadcast => "broadcast",
            IpClass::Documentation => "documentation",
            IpClass::Public => "public",
        }
    }

    /// True for addresses that stay on the local network (everything but `Public` and `Documentation`).
    pub fn is_local(self) -> bool {
        !matches!(self, IpClass::Public | IpClass::Documentation)
    }

    /// True for multicast and broadcast.
    pub fn is_group(self) -> bool {
        matches!(self, IpClass::Multicast | IpClass::Broadcast)
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let o = ip.octets();
    if ip.is_unspecified() {
        IpClass::Unspecified
    } else if ip.is_loopback() {
        IpClass::Loopback
    } else if ip.is_broadcast() {
        IpClass::Broadcast
    } else if ip.is_multicast() {
        IpClass::Multicast
    } else if ip.is_link_local() {
        IpClass::LinkLocal
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        IpClass::Private
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] & 0xfe) == 18) {
        IpClass::Documentation
    } else {
        IpClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        IpClass::Unspecified
    } else if ip.is_loopback() {
        IpClass::Loopback
    } else if ip.is_multicast() {
        IpClass::Multicast
    } else if (s[0] & 0xffc0) == 0xfe80 {
        IpClass::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        IpClass::Private
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        IpClass::Documentation
    } else {
        IpClass::Public
    }
}

/// The service usually found on a well-known port, from a short built-in table of the ports
/// investigators meet daily. For the full IANA registry, ship it as a data file and read it through the
/// `files` capability.
pub fn well_known_service(protocol: crate::Protocol, port: u16) -> Option<&'static str> {
    use crate::Protocol::{Tcp, Udp};
    let name = match (protocol, port) {
        (Tcp, 20 | 21) => "ftp",
        (Tcp, 22) => "ssh",
        (Tcp, 23) => "telnet",
        (Tcp, 25 | 587) => "smtp",
        (Tcp | Udp, 53) => "domain",
        (Udp, 67 | 68) => "dhcp",
        (Udp, 69) => "tftp",
        (Tcp, 80 | 8080) => "http",
        (Tcp, 110) => "pop3",
        (Udp, 123) => "ntp",
        (Udp, 137) => "netbios-ns",
        (Udp, 138) => "netbios-dgm",
        (Tcp, 139) => "netbios-ssn",
        (Tcp, 143) => "imap",
        (Udp, 161 | 162) => "snmp",
        (Tcp, 389) => "ldap",
        (Tcp | Udp, 443) => "https",
        (Tcp, 445) => "microsoft-ds",
        (Tcp, 465) => "smtps",
        (Udp, 546 | 547) => "dhcpv6",
        (Tcp, 853) => "domain-s",
        (Tcp, 993) => "imaps",
        (Tcp, 995) => "pop3s",
        (Udp, 1900) => "ssdp",
        (Tcp, 3389) => "ms-wbt-server",
        (Udp, 5353) => "mdns",
        (Udp, 5355) => "llmnr",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::IpClass;

    #[test]
    fn classifies_the_addresses_investigators_meet() {
        let cases = [
            ("192.168.0.5", IpClass::Private),
            ("100.64.1.1", IpClass::Private),
            ("158.69.204.36", IpClass::Public),
            ("224.0.0.251", IpClass::Multicast),
            ("255.255.255.255", IpClass::Broadcast),
            ("169.254.3.4", IpClass::LinkLocal),
            ("fe80::1", IpClass::LinkLocal),
            ("ff02::fb", IpClass::Multicast),
            ("fd00::1", IpClass::Private),
            ("::1", IpClass::Loopback),
            ("2607:f740:b::f93", IpClass::Public),
            ("203.0.113.50", IpClass::Documentation),
        ];
        for (ip, class) in cases {
            assert_eq!(IpClass::of(ip.parse().unwrap()), class, "{ip}");
        }
    }
}
