//! Cleartext protocols on ports not meant for them: HTTP, FTP, SMTP, POP3, IMAP, Telnet and IRC,
//! recognised by their bytes (greetings, commands, Telnet option negotiation, or the `web` stage's
//! `web.http` finding), then compared with the ports that protocol is served on. IRC on 443, HTTP on
//! 4444 or a Telnet negotiation on 9999 is how backdoors and C2 channels slip past port-based
//! firewall rules; the same protocol on its own port is ordinary.

use crate::cleartext::{text_lines, verb};
use crate::registry::{Registry, Transport};
use pcapxray_plugin_sdk::Flow;
use pcapxray_plugin_sdk::names;

/// A recognised protocol and the ports it is normally served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plain {
    /// `HTTP`, `FTP`, `SMTP`, `POP3`, `IMAP`, `Telnet`, `IRC`.
    pub name: &'static str,
    /// Ports the protocol is served on (besides ports the IANA registry gives its name).
    pub standard: &'static [u16],
    /// Lower-case words of IANA service names registered for it (`http` matches `http-alt`).
    pub iana: &'static [&'static str],
}

const HTTP: Plain = Plain {
    name: "HTTP",
    standard: &[80, 591, 3128, 8000, 8008, 8080, 8081, 8088, 8888],
    iana: &["http", "www"],
};
const FTP: Plain = Plain {
    name: "FTP",
    standard: &[21],
    iana: &["ftp"],
};
const SMTP: Plain = Plain {
    name: "SMTP",
    standard: &[25, 465, 587, 2525],
    iana: &["smtp", "submission"],
};
const POP3: Plain = Plain {
    name: "POP3",
    standard: &[110],
    iana: &["pop3"],
};
const IMAP: Plain = Plain {
    name: "IMAP",
    standard: &[143],
    iana: &["imap"],
};
const TELNET: Plain = Plain {
    name: "Telnet",
    standard: &[23],
    iana: &["telnet"],
};
const IRC: Plain = Plain {
    name: "IRC",
    standard: &[194, 6665, 6666, 6667, 6668, 6669, 6697, 7000],
    iana: &["irc"],
};

/// The cleartext protocol a TCP flow speaks, from its payload prefixes and the `web` stage's findings.
pub fn recognise(flow: &Flow) -> Option<Plain> {
    if !flow.is_tcp() {
        return None;
    }
    if flow.has_tag(names::web::HTTP) {
        return Some(HTTP);
    }
    let (client, server) = (&flow.to_server.payload, &flow.to_client.payload);
    let negotiates = |s: &[u8]| s.len() >= 3 && s[0] == 0xff && (251..=254).contains(&s[1]);
    if negotiates(client) || negotiates(server) {
        return Some(TELNET);
    }
    let client_lines = text_lines(client);
    let server_lines = text_lines(server);
    let verbs: Vec<String> = client_lines.iter().map(|l| verb(l)).collect();
    let said = |v: &str| verbs.iter().any(|x| x == v);
    let greeting = server_lines.first().copied().unwrap_or("");
    if said("NICK") && (said("USER") || said("PASS"))
        || greeting.starts_with(':')
            && (greeting.contains(" NOTICE ") || greeting.contains(" 001 "))
    {
        return Some(IRC);
    }
    if greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH") {
        return Some(IMAP);
    }
    if greeting.starts_with("+OK") && (client_lines.is_empty() || said("USER") || said("CAPA")) {
        return Some(POP3);
    }
    if greeting.starts_with("220") {
        let upper = greeting.to_ascii_uppercase();
        if said("EHLO") || said("HELO") || upper.contains("SMTP") {
            return Some(SMTP);
        }
        if said("USER") || said("AUTH") || said("FEAT") || said("SYST") || upper.contains("FTP") {
            return Some(FTP);
        }
    }
    None
}

/// True when `port` is one the protocol is served on: listed, or registered with IANA under a name
/// of the protocol.
pub fn is_standard(plain: Plain, registry: &Registry, port: u16) -> bool {
    if plain.standard.contains(&port) {
        return true;
    }
    registry
        .lookup(Transport::Tcp, port)
        .map(|name| name.to_ascii_lowercase())
        .is_some_and(|name| {
            name.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| plain.iana.iter().any(|w| word.starts_with(w)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::BUILTIN;
    use crate::rules::tests::{flow, with_finding};
    use pcapxray_plugin_sdk::Protocol;

    fn tcp(port: u16, client: &[u8], server: &[u8]) -> Flow {
        flow(
            Protocol::Tcp,
            "10.0.0.2",
            50_000,
            "203.0.113.9",
            port,
            client,
            server,
        )
    }

    #[test]
    fn recognises_cleartext_protocols_by_their_bytes() {
        let name = |f: &Flow| recognise(f).map(|p| p.name);
        assert_eq!(
            name(&tcp(443, b"NICK bot\r\nUSER bot 0 * :bot\r\n", b"")),
            Some("IRC")
        );
        assert_eq!(
            name(&tcp(
                8443,
                b"",
                b":irc.example NOTICE * :*** Looking up your hostname\r\n"
            )),
            Some("IRC")
        );
        assert_eq!(name(&tcp(9999, b"\xff\xfb\x18", b"")), Some("Telnet"));
        assert_eq!(
            name(&tcp(2525, b"EHLO me\r\n", b"220 mx ESMTP\r\n")),
            Some("SMTP")
        );
        assert_eq!(
            name(&tcp(2121, b"USER a\r\n", b"220 Welcome\r\n")),
            Some("FTP")
        );
        assert_eq!(
            name(&tcp(1110, b"USER a\r\n", b"+OK POP3 ready\r\n")),
            Some("POP3")
        );
        assert_eq!(name(&tcp(1143, b"", b"* OK IMAP4rev1\r\n")), Some("IMAP"));
        let http = with_finding(tcp(4444, b"", b""), "web.http", &[]);
        assert_eq!(name(&http), Some("HTTP"));
        assert_eq!(name(&tcp(4444, b"\x16\x03\x01\x00\x05hello", b"")), None);
        assert_eq!(name(&tcp(4444, b"random bytes\n", b"more\n")), None);
    }

    #[test]
    fn a_protocol_on_its_own_port_or_a_port_registered_to_it_is_standard() {
        let registry = Registry::parse(BUILTIN.as_bytes()).unwrap();
        assert!(is_standard(HTTP, &registry, 80));
        assert!(is_standard(HTTP, &registry, 8080));
        assert!(!is_standard(HTTP, &registry, 4444));
        assert!(!is_standard(IRC, &registry, 443));
        assert!(is_standard(IRC, &registry, 6667));
        assert!(is_standard(FTP, &registry, 21));
        assert!(!is_standard(TELNET, &registry, 9999));
        assert!(is_standard(SMTP, &registry, 587));
    }
}
