//! The line-based mail and file-transfer protocols: FTP (`USER`/`PASS`), POP3 (`USER`/`PASS`,
//! `APOP`, `AUTH PLAIN`/`LOGIN`), IMAP (`LOGIN`, `AUTHENTICATE PLAIN`/`LOGIN`) and SMTP (`AUTH PLAIN`
//! / `LOGIN`), read command by command for the whole session, with the server's reply to each
//! login as its outcome. An upgrade to TLS (`AUTH TLS`, `STLS`, `STARTTLS`) that the server accepts
//! ends the reading, as does an accepted login (nothing after it is a credential); an SMTP message
//! body (`DATA` up to the lone dot) is skipped so its text is never read as commands.

use crate::cred::{Cred, Found, Outcome};
use crate::lines::Lines;
use pcapxray_plugin_sdk::encoding::base64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Ftp,
    Pop3,
    Imap,
    Smtp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Ftp => "ftp",
            Proto::Pop3 => "pop3",
            Proto::Imap => "imap",
            Proto::Smtp => "smtp",
        }
    }
}

/// Where a SASL exchange (RFC 4422) is.
#[derive(Debug, Default)]
enum Sasl {
    #[default]
    None,
    /// `AUTH PLAIN` without an initial response: the next line is the response.
    Plain,
    /// `AUTH LOGIN`: the next line is the user name, in base64.
    LoginUser,
    /// The next line is the password, in base64.
    LoginPass(String),
}

#[derive(Debug)]
pub struct Text {
    proto: Proto,
    service: String,
    client: Lines,
    server: Lines,
    /// The user of a `USER` command, waiting for `PASS`.
    user: Option<String>,
    sasl: Sasl,
    /// The credential waiting for the server's reply.
    pending: Option<usize>,
    /// IMAP: the tag of the command that carried it.
    tag: String,
    /// POP3: the greeting's `<...>` timestamp, the APOP challenge.
    apop_challenge: Option<String>,
    /// A TLS upgrade was asked for.
    upgrade: bool,
    /// SMTP: inside a message body.
    in_data: bool,
    /// Nothing more to read: TLS began, or a login was accepted.
    pub done: bool,
}

impl Text {
    pub fn new(proto: Proto, service: String) -> Text {
        Text {
            proto,
            service,
            client: Lines::default(),
            server: Lines::default(),
            user: None,
            sasl: Sasl::None,
            pending: None,
            tag: String::new(),
            apop_challenge: None,
            upgrade: false,
            in_data: false,
            done: false,
        }
    }

    pub fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        let mut lines = Vec::new();
        let reader = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        reader.feed(bytes, |l| lines.push(l.to_string()));
        for line in lines {
            if self.done {
                return;
            }
            if to_server {
                self.command(&line, found);
            } else {
                self.reply(&line, found);
            }
        }
    }

    pub fn gap(&mut self, to_server: bool) {
        if to_server {
            self.client.gap()
        } else {
            self.server.gap()
        }
    }

    fn cred(&self, method: &str, user: &str) -> Cred {
        Cred::new(self.proto.name(), method, user).service(self.service.clone())
    }

    fn add(&mut self, cred: Cred, found: &mut Found) {
        self.pending = Some(found.add(cred));
    }

    fn command(&mut self, line: &str, found: &mut Found) {
        if self.in_data {
            self.in_data = line != ".";
            return;
        }
        if !matches!(self.sasl, Sasl::None) {
            return self.sasl_line(line.trim(), found);
        }
        let mut words = line.trim_start().splitn(2, ' ');
        let first = words.next().unwrap_or("");
        let mut verb = first.to_ascii_uppercase();
        let mut rest = words.next().unwrap_or("").trim_end();
        if self.proto == Proto::Imap {
            self.tag = first.to_string();
            let mut words = rest.splitn(2, ' ');
            verb = words.next().unwrap_or("").to_ascii_uppercase();
            rest = words.next().unwrap_or("").trim_end();
        }
        match (self.proto, verb.as_str()) {
            (Proto::Ftp | Proto::Pop3, "USER") => self.user = Some(rest.to_string()),
            (Proto::Ftp | Proto::Pop3, "PASS") => {
                let user = self.user.clone().unwrap_or_default();
                let cred = self.cred("USER/PASS", &user).password(rest);
                self.add(cred, found);
            }
            (Proto::Pop3, "APOP") => self.apop(rest, found),
            (Proto::Imap, "LOGIN") => {
                let args = imap_strings(rest);
                if let [user, password] = &args[..] {
                    let cred = self.cred("LOGIN", user).password(password.as_str());
                    self.add(cred, found);
                }
            }
            (Proto::Pop3 | Proto::Smtp, "AUTH") | (Proto::Imap, "AUTHENTICATE") => {
                self.auth(rest, found)
            }
            (Proto::Ftp, "AUTH") => self.upgrade = true,
            (Proto::Pop3, "STLS") | (Proto::Imap | Proto::Smtp, "STARTTLS") => self.upgrade = true,
            (Proto::Smtp, "DATA") => self.in_data = true,
            _ => {}
        }
    }

    fn apop(&mut self, rest: &str, found: &mut Found) {
        let Some((user, digest)) = rest.rsplit_once(' ') else {
            return;
        };
        let challenge = self.apop_challenge.clone().unwrap_or_default();
        let cred = self.cred("APOP", user.trim()).secret(
            format!("{challenge}:{}", digest.trim()),
            pcapxray_plugin_sdk::credentials::format::APOP,
        );
        self.add(cred, found);
    }

    /// `AUTH mechanism [initial-response]`.
    fn auth(&mut self, rest: &str, found: &mut Found) {
        let mut words = rest.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next();
        match (mechanism.as_str(), initial) {
            ("PLAIN", Some(response)) => self.plain(response, found),
            ("PLAIN", None) => self.sasl = Sasl::Plain,
            ("LOGIN", Some(user)) => self.sasl = Sasl::LoginPass(decode_text(user)),
            ("LOGIN", None) => self.sasl = Sasl::LoginUser,
            _ => {}
        }
    }

    fn sasl_line(&mut self, line: &str, found: &mut Found) {
        let state = std::mem::take(&mut self.sasl);
        if line == "*" {
            return; // cancelled
        }
        match state {
            Sasl::Plain => self.plain(line, found),
            Sasl::LoginUser => self.sasl = Sasl::LoginPass(decode_text(line)),
            Sasl::LoginPass(user) => {
                let cred = self.cred("AUTH LOGIN", &user).password(decode_text(line));
                self.add(cred, found);
            }
            Sasl::None => {}
        }
    }

    /// A SASL PLAIN response: `authzid NUL authcid NUL password`, in base64.
    fn plain(&mut self, response: &str, found: &mut Found) {
        let decoded = decode_text(response);
        let mut parts = decoded.splitn(3, '\0');
        let (_authz, user, password) = (parts.next(), parts.next(), parts.next());
        if let (Some(user), Some(password)) = (user, password) {
            let cred = self.cred("AUTH PLAIN", user).password(password);
            self.add(cred, found);
        }
    }

    fn reply(&mut self, line: &str, found: &mut Found) {
        if self.proto == Proto::Pop3 && self.apop_challenge.is_none() {
            self.apop_challenge = apop_challenge(line).or(Some(String::new()));
        }
        let verdict = match self.proto {
            Proto::Ftp | Proto::Smtp => match line.get(..3).and_then(|c| c.parse::<u16>().ok()) {
                Some(_) if line.as_bytes().get(3) == Some(&b'-') => return,
                Some(230 | 235 | 234) => Some(true),
                Some(220) if self.proto == Proto::Smtp => Some(true),
                Some(c) if c >= 400 => Some(false),
                _ => None,
            },
            Proto::Pop3 => match line {
                l if l.starts_with("+OK") => Some(true),
                l if l.starts_with("-ERR") => Some(false),
                _ => None,
            },
            Proto::Imap => {
                let mut words = line.split_whitespace();
                if words.next() != Some(self.tag.as_str()) || self.tag.is_empty() {
                    return;
                }
                match words.next().map(str::to_ascii_uppercase).as_deref() {
                    Some("OK") => Some(true),
                    Some("NO" | "BAD") => Some(false),
                    _ => None,
                }
            }
        };
        let Some(ok) = verdict else { return };
        if self.upgrade {
            self.upgrade = false;
            self.done = ok;
            return;
        }
        if let Some(i) = self.pending.take() {
            found.outcome(
                i,
                if ok {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                },
            );
            self.done = ok;
        }
    }
}

/// The `<...>` timestamp of a POP3 greeting (RFC 1939 APOP).
fn apop_challenge(greeting: &str) -> Option<String> {
    let start = greeting.find('<')?;
    let end = start + greeting[start..].find('>')?;
    Some(greeting[start..=end].to_string())
}

/// Base64 text as a string; the raw line when it is not base64.
fn decode_text(line: &str) -> String {
    match base64(line) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => line.to_string(),
    }
}

/// IMAP arguments: atoms and quoted strings (RFC 3501 `astring`), escapes undone.
fn imap_strings(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut s = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.extend(chars.next()),
                    '"' => break,
                    c => s.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                s.push(c);
                chars.next();
            }
        }
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(proto: Proto, exchange: &[(bool, &str)]) -> Vec<Cred> {
        let mut t = Text::new(proto, "x://s".into());
        let mut found = Found::default();
        for (to_server, text) in exchange {
            t.data(*to_server, text.as_bytes(), &mut found);
        }
        found.creds
    }

    #[test]
    fn imap_login_takes_quoted_strings_and_the_tagged_reply() {
        let c = run(
            Proto::Imap,
            &[
                (false, "* OK ready\r\n"),
                (true, "a1 LOGIN \"al ice\" \"p\\\"w\"\r\n"),
                (false, "a1 NO bad\r\n"),
            ],
        );
        assert_eq!(
            (c[0].user.as_str(), c[0].secret.as_str()),
            ("al ice", "p\"w")
        );
        assert_eq!(c[0].outcome, Outcome::Rejected);
    }

    #[test]
    fn smtp_auth_login_and_plain_are_decoded_and_a_message_body_is_not_read() {
        // "alice" / "s3cret"; PLAIN "\0bob\0pw"
        let c = run(
            Proto::Smtp,
            &[
                (true, "EHLO x\r\nDATA\r\nAUTH PLAIN AGV2ZQBldmU=\r\n.\r\n"),
                (true, "AUTH LOGIN\r\n"),
                (false, "334 VXNlcm5hbWU6\r\n"),
                (true, "YWxpY2U=\r\n"),
                (false, "334 UGFzc3dvcmQ6\r\n"),
                (true, "czNjcmV0\r\n"),
                (false, "235 ok\r\n"),
            ],
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].user.as_str(), c[0].secret.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(c[0].outcome, Outcome::Accepted);
    }

    #[test]
    fn pop3_apop_keeps_the_greeting_challenge() {
        let c = run(
            Proto::Pop3,
            &[
                (false, "+OK POP3 <1896.697170952@dbc.mtview.ca.us>\r\n"),
                (true, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
                (false, "+OK\r\n"),
            ],
        );
        assert_eq!(
            c[0].secret,
            "<1896.697170952@dbc.mtview.ca.us>:c4c9334bac560ecc979e58001b3e22fb"
        );
    }
}
