//! Logins sent in clear text: FTP, Telnet, POP3, IMAP and SMTP AUTH, recognised from what the client
//! and server said (greetings and commands in the payload prefix), not from the port, so FTP on 2121
//! counts and a TLS session on port 21 does not. The ancestor coloured these protocols by port only.
//!
//! The user name is reported so the investigator knows whose password to reset; the password never
//! leaves this module. An upgrade to TLS (STARTTLS, STLS, AUTH TLS) ends the readable text, so
//! credentials after it are not seen and not reported; credentials sent after a refused upgrade are.

use pcapxray_plugin_sdk::encoding::base64;
use pcapxray_plugin_sdk::names;

/// A cleartext login, or a cleartext protocol that carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleartext {
    /// `cleartext.ftp`, `cleartext.telnet`, `cleartext.pop3`, `cleartext.imap`, `cleartext.smtp-auth`.
    pub tag: &'static str,
    /// `FTP`, `Telnet`, `POP3`, `IMAP`, `SMTP`.
    pub protocol: &'static str,
    /// The user name, when it was sent readably.
    pub user: Option<String>,
    /// How the credentials were sent: `USER/PASS`, `APOP`, `LOGIN`, `AUTH PLAIN`, ...
    pub method: Option<&'static str>,
    /// True when a password (or a reusable equivalent) was sent in clear text.
    pub password_sent: bool,
    /// 100 when the server's greeting confirms the protocol, less when only the client was seen.
    pub confidence: u8,
}

/// Characters of a user name kept.
const MAX_USER: usize = 128;
/// Lines of a stream looked at.
const MAX_LINES: usize = 64;

/// Recognises a cleartext login on a TCP flow from the client's and the server's payload prefixes.
pub fn detect(client: &[u8], server: &[u8], server_port: u16) -> Option<Cleartext> {
    if let Some(found) = telnet(client, server) {
        return Some(found);
    }
    let client_lines = text_lines(client);
    let server_lines = text_lines(server);
    let greeting = server_lines.first().copied().unwrap_or("");
    if greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH") {
        return imap(&client_lines, 100);
    }
    if greeting.starts_with("+OK") {
        return pop3(&client_lines, 100);
    }
    if greeting.starts_with("220") {
        let hello = client_lines.iter().any(|l| {
            let v = verb(l);
            v == "EHLO" || v == "HELO"
        });
        return if hello {
            smtp(&client_lines, 100)
        } else {
            ftp(&client_lines, 100)
        };
    }
    if !server_lines.is_empty() {
        return None;
    }
    // The server's side was not captured: the client's commands must speak for themselves.
    type Parser = fn(&[&str], u8) -> Option<Cleartext>;
    let order: [Parser; 3] = match server_port {
        110 => [pop3, imap, smtp],
        _ => [smtp, imap, ftp],
    };
    order.iter().find_map(|parse| parse(&client_lines, 70))
}

/// The complete, printable lines at the start of a stream; stops at binary data (TLS after an
/// upgrade) or at a line cut by the prefix.
pub(crate) fn text_lines(stream: &[u8]) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = stream;
    while lines.len() < MAX_LINES {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let raw = &rest[..end];
        rest = &rest[end + 1..];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            break;
        };
        if line.chars().any(|c| c.is_control() && c != '\t') {
            break;
        }
        lines.push(line);
    }
    lines
}

/// The first word of a command, upper-cased.
pub(crate) fn verb(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The argument after the first word.
fn argument(line: &str) -> &str {
    line.trim_start()
        .split_once(char::is_whitespace)
        .map_or("", |(_, a)| a.trim())
}

/// A user name as it may be shown: printable, at most [`MAX_USER`] characters.
fn printable(user: &str) -> Option<String> {
    let user: String = user
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER)
        .collect();
    let user = user.trim().to_string();
    (!user.is_empty()).then_some(user)
}

fn ftp(lines: &[&str], confidence: u8) -> Option<Cleartext> {
    let user = lines
        .iter()
        .find(|l| verb(l) == "USER")
        .and_then(|l| printable(argument(l)))?;
    let password_sent = lines.iter().any(|l| verb(l) == "PASS");
    Some(Cleartext {
        tag: names::cleartext::FTP,
        protocol: "FTP",
        user: Some(user),
        method: Some("USER/PASS"),
        password_sent,
        confidence,
    })
}

fn pop3(lines: &[&str], confidence: u8) -> Option<Cleartext> {
    for (i, line) in lines.iter().enumerate() {
        match verb(line).as_str() {
            "USER" => {
                return Some(Cleartext {
                    tag: names::cleartext::POP3,
                    protocol: "POP3",
                    user: printable(argument(line)),
                    method: Some("USER/PASS"),
                    password_sent: lines[i..].iter().any(|l| verb(l) == "PASS"),
                    confidence,
                });
            }
            "APOP" => {
                // APOP sends a digest, not the password, but the user name is in clear text.
                return Some(Cleartext {
                    tag: names::cleartext::POP3,
                    protocol: "POP3",
                    user: argument(line).split_whitespace().next().and_then(printable),
                    method: Some("APOP"),
                    password_sent: false,
                    confidence,
                });
            }
            "AUTH" => {
                if let Some((method, user, password_sent)) = sasl(argument(line), &lines[i + 1..]) {
                    return Some(Cleartext {
                        tag: names::cleartext::POP3,
                        protocol: "POP3",
                        user,
                        method: Some(method),
                        password_sent,
                        confidence,
                    });
                }
            }
            _ => {}
        }
    }
    None
}

fn imap(lines: &[&str], confidence: u8) -> Option<Cleartext> {
    for (i, line) in lines.iter().enumerate() {
        // `tag COMMAND args`
        let mut words = line.splitn(3, ' ');
        let (Some(_tag), Some(command)) = (words.next(), words.next()) else {
            continue;
        };
        let args = words.next().unwrap_or("");
        match command.to_ascii_uppercase().as_str() {
            "LOGIN" => {
                let user = imap_astring(args, lines.get(i + 1).copied());
                return Some(Cleartext {
                    tag: names::cleartext::IMAP,
                    protocol: "IMAP",
                    user: user.as_deref().and_then(printable),
                    method: Some("LOGIN"),
                    password_sent: true,
                    confidence,
                });
            }
            "AUTHENTICATE" => {
                if let Some((method, user, password_sent)) = sasl(args, &lines[i + 1..]) {
                    return Some(Cleartext {
                        tag: names::cleartext::IMAP,
                        protocol: "IMAP",
                        user,
                        method: Some(method),
                        password_sent,
                        confidence,
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// The first IMAP astring of `args`: an atom, a quoted string, or a literal `{n}` whose bytes start
/// the next line.
fn imap_astring(args: &str, next_line: Option<&str>) -> Option<String> {
    let args = args.trim_start();
    if let Some(quoted) = args.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        return None;
    }
    if let Some(literal) = args.strip_prefix('{') {
        let n: usize = literal
            .split('}')
            .next()?
            .trim_end_matches('+')
            .parse()
            .ok()?;
        return Some(next_line?.chars().take(n).collect());
    }
    args.split_whitespace().next().map(str::to_string)
}

fn smtp(lines: &[&str], confidence: u8) -> Option<Cleartext> {
    for (i, line) in lines.iter().enumerate() {
        if verb(line) == "AUTH"
            && let Some((method, user, password_sent)) = sasl(argument(line), &lines[i + 1..])
        {
            return Some(Cleartext {
                tag: names::cleartext::SMTP_AUTH,
                protocol: "SMTP",
                user,
                method: Some(method),
                password_sent,
                confidence,
            });
        }
    }
    None
}

/// SASL PLAIN or LOGIN after `AUTH` / `AUTHENTICATE`: (method, user name, password sent). The initial
/// response may be on the command line or on the next line; other mechanisms (CRAM-MD5, SCRAM,
/// XOAUTH2) send no reusable password and are not reported.
fn sasl(args: &str, following: &[&str]) -> Option<(&'static str, Option<String>, bool)> {
    let mut words = args.split_whitespace();
    let mechanism = words.next()?.to_ascii_uppercase();
    let initial = words.next();
    match mechanism.as_str() {
        "PLAIN" => {
            // authzid NUL authcid NUL password
            let response = initial.or_else(|| following.first().copied())?;
            let decoded = base64(response)?;
            let mut parts = decoded.split(|&b| b == 0);
            let (_authz, user, password) = (parts.next()?, parts.next()?, parts.next());
            Some((
                "AUTH PLAIN",
                printable(&String::from_utf8_lossy(user)),
                password.is_some_and(|p| !p.is_empty()),
            ))
        }
        "LOGIN" => {
            let mut responses = initial.into_iter().chain(following.iter().copied());
            let user = responses
                .next()
                .and_then(base64)
                .and_then(|u| printable(&String::from_utf8_lossy(&u)));
            let password_sent = responses.next().is_some();
            Some(("AUTH LOGIN", user, password_sent))
        }
        _ => None,
    }
}

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;

/// Telnet: option negotiation (IAC WILL/WONT/DO/DONT) at the start of either stream. The user name is
/// the first line the client typed after a `login:` or `username:` prompt.
fn telnet(client: &[u8], server: &[u8]) -> Option<Cleartext> {
    let negotiates = |s: &[u8]| s.len() >= 3 && s[0] == IAC && (251..=254).contains(&s[1]);
    if !negotiates(client) && !negotiates(server) {
        return None;
    }
    let server_text = String::from_utf8_lossy(&strip_telnet(server)).to_ascii_lowercase();
    let prompted = server_text.contains("login:") || server_text.contains("username:");
    let user = prompted
        .then(|| {
            let typed = strip_telnet(client);
            typed
                .split(|&b| b == b'\r' || b == b'\n' || b == 0)
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .find(|l| !l.trim().is_empty())
        })
        .flatten()
        .and_then(|u| printable(&u));
    Some(Cleartext {
        tag: names::cleartext::TELNET,
        protocol: "Telnet",
        password_sent: user.is_some(),
        user,
        method: None,
        confidence: 100,
    })
}

/// The stream without telnet commands and subnegotiations.
fn strip_telnet(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stream.len());
    let mut i = 0;
    while i < stream.len() {
        match stream[i] {
            IAC => match stream.get(i + 1) {
                Some(&IAC) => {
                    out.push(IAC);
                    i += 2;
                }
                Some(&SB) => {
                    // Skip to IAC SE.
                    let end = stream[i + 2..]
                        .windows(2)
                        .position(|w| w == [IAC, SE])
                        .map_or(stream.len(), |p| i + 2 + p + 2);
                    i = end;
                }
                Some(251..=254) => i += 3,
                _ => i += 2,
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftp_reports_the_user_and_never_the_password() {
        let client = b"USER alice\r\nPASS s3cret!\r\nSYST\r\nQUIT\r\n";
        let server = b"220 ProFTPD Server ready.\r\n331 Password required for alice\r\n230 User alice logged in\r\n";
        let found = detect(client, server, 2121).unwrap();
        assert_eq!(found.tag, "cleartext.ftp");
        assert_eq!(found.user.as_deref(), Some("alice"));
        assert!(found.password_sent);
        assert_eq!(found.confidence, 100);
        assert!(!format!("{found:?}").contains("s3cret"));
    }

    #[test]
    fn ftp_after_an_accepted_auth_tls_is_not_cleartext() {
        let mut client = b"AUTH TLS\r\n".to_vec();
        client.extend_from_slice(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ]);
        let server = b"220 FTP ready\r\n234 AUTH TLS successful\r\n";
        assert_eq!(detect(&client, server, 21), None);
    }

    #[test]
    fn telnet_is_recognised_by_option_negotiation_and_the_login_prompt_names_the_user() {
        let client =
            b"\xff\xfd\x03\xff\xfb\x18\xff\xfa\x18\x00XTERM\xff\xf0bob\r\0hunter2\r\0ls\r\0";
        let server =
            b"\xff\xfd\x18\xff\xfb\x03\xff\xfb\x01Ubuntu 22.04\r\nhost login: \r\nPassword: ";
        let found = detect(client, server, 23).unwrap();
        assert_eq!(found.tag, "cleartext.telnet");
        assert_eq!(found.user.as_deref(), Some("bob"));
        assert!(!format!("{found:?}").contains("hunter2"));
        let no_prompt = detect(b"\xff\xfb\x18", b"", 2323).unwrap();
        assert_eq!(no_prompt.user, None);
    }

    #[test]
    fn pop3_user_pass_apop_and_auth_plain() {
        let server = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n+OK\r\n";
        let found = detect(b"USER carol\r\nPASS pw\r\nSTAT\r\n", server, 110).unwrap();
        assert_eq!(found.tag, "cleartext.pop3");
        assert_eq!(
            (found.user.as_deref(), found.method, found.password_sent),
            (Some("carol"), Some("USER/PASS"), true)
        );
        let apop = detect(
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            server,
            110,
        )
        .unwrap();
        assert_eq!(
            (apop.user.as_deref(), apop.method, apop.password_sent),
            (Some("mrose"), Some("APOP"), false)
        );
        // "\0dave\0pw"
        let plain = detect(b"AUTH PLAIN AGRhdmUAcHc=\r\n", server, 110).unwrap();
        assert_eq!(
            (plain.user.as_deref(), plain.method),
            (Some("dave"), Some("AUTH PLAIN"))
        );
        assert!(plain.password_sent);
    }

    #[test]
    fn pop3_after_stls_is_not_cleartext() {
        let mut client = b"CAPA\r\nSTLS\r\n".to_vec();
        client.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01]);
        assert_eq!(detect(&client, b"+OK ready\r\n", 110), None);
    }

    #[test]
    fn imap_login_with_atoms_quoted_strings_and_literals() {
        let server = b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n";
        let atom = detect(b"a001 LOGIN erin secret\r\n", server, 143).unwrap();
        assert_eq!(atom.tag, "cleartext.imap");
        assert_eq!(atom.user.as_deref(), Some("erin"));
        let quoted = detect(
            b"a1 login \"frank \\\"the tank\\\"\" \"pw\"\r\n",
            server,
            143,
        )
        .unwrap();
        assert_eq!(quoted.user.as_deref(), Some("frank \"the tank\""));
        let literal = detect(b"a1 LOGIN {5}\r\ngrace {2}\r\npw\r\n", server, 143).unwrap();
        assert_eq!(literal.user.as_deref(), Some("grace"));
        assert_eq!(
            detect(b"a1 CAPABILITY\r\na2 STARTTLS\r\n\x16\x03\x01", server, 143),
            None
        );
    }

    #[test]
    fn smtp_auth_plain_and_login_without_starttls() {
        let server = b"220 mail.example.com ESMTP Postfix\r\n250-mail.example.com\r\n";
        // AUTH LOGIN: "heidi" then the password, each base64 on its own line.
        let login = detect(
            b"EHLO client\r\nAUTH LOGIN\r\naGVpZGk=\r\ncGFzc3dvcmQ=\r\nMAIL FROM:<h@example.com>\r\n",
            server,
            587,
        )
        .unwrap();
        assert_eq!(login.tag, "cleartext.smtp-auth");
        assert_eq!(
            (login.user.as_deref(), login.method, login.password_sent),
            (Some("heidi"), Some("AUTH LOGIN"), true)
        );
        let plain = detect(b"EHLO c\r\nAUTH PLAIN AGl2YW4AcHc=\r\n", server, 25).unwrap();
        assert_eq!(plain.user.as_deref(), Some("ivan"));
        assert_eq!(
            detect(b"EHLO c\r\nSTARTTLS\r\n\x16\x03\x01\x00", server, 25),
            None,
            "STARTTLS accepted: the rest is TLS"
        );
        assert_eq!(
            detect(b"EHLO c\r\nAUTH CRAM-MD5\r\nZm9vIGJhcg==\r\n", server, 25),
            None,
            "CRAM-MD5 sends no reusable password"
        );
        assert_eq!(detect(b"EHLO c\r\nMAIL FROM:<a@b>\r\n", server, 25), None);
    }

    #[test]
    fn without_the_server_side_the_commands_decide() {
        let ftp = detect(b"USER judy\r\nPASS x\r\n", b"", 21).unwrap();
        assert_eq!((ftp.tag, ftp.confidence), ("cleartext.ftp", 70));
        let pop = detect(b"USER judy\r\nPASS x\r\n", b"", 110).unwrap();
        assert_eq!(pop.tag, "cleartext.pop3");
        assert_eq!(detect(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"", 80), None);
        assert_eq!(
            detect(b"USER x\r\n", b"HTTP/1.1 400 Bad Request\r\n", 80),
            None,
            "the server said something else"
        );
    }

    #[test]
    fn garbage_and_cut_streams_do_not_panic() {
        for len in 0..40 {
            let noise: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = detect(&noise, &noise, 21);
            let _ = detect(&[IAC, 251], &noise, 23);
            let _ = detect(b"a LOGIN {99", b"* OK\r\n", 143);
            let _ = detect(b"a LOGIN \"unterminated\r\n", b"* OK\r\n", 143);
            let _ = detect(b"AUTH PLAIN !!!\r\n", b"+OK\r\n", 110);
            let _ = strip_telnet(&[IAC, SB, 1, 2, IAC]);
        }
        assert_eq!(base64("aGVpZGk"), Some(b"heidi".to_vec()));
    }
}
