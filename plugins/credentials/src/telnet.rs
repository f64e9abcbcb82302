//! Telnet logins (RFC 854): option negotiation (`IAC` sequences) is stripped from both directions;
//! what the client types after a server prompt ending in `login:` or `username:` is the user, after
//! `password:` the password (the server does not echo it, so it is read from the client's keystrokes,
//! backspaces applied). The server's next words give the outcome: `incorrect`, `failed`, `denied`,
//! `invalid` or a new login prompt reject it; `last login` or `welcome` accept it; else it is unknown.
//! Reading stops once a login is accepted or the session has sent [`MAX_BYTES`] without a prompt.

use crate::cred::{Cred, Found, Outcome};

/// Server text kept to recognise prompts.
const TAIL: usize = 256;
/// Longest typed line kept.
const MAX_INPUT: usize = 256;
/// Bytes read per direction before giving up on a session that never prompts.
pub const MAX_BYTES: u64 = 1 << 20;

const IAC: u8 = 0xff;
const SB: u8 = 0xfa;
const SE: u8 = 0xf0;

/// Where the option-negotiation filter is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Iac {
    #[default]
    Text,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT: the option byte.
    Option,
    /// Inside a subnegotiation; `true` right after an IAC.
    Sub(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typing {
    User,
    Password,
    Other,
}

#[derive(Debug, Default)]
pub struct Telnet {
    service: String,
    filters: [Iac; 2],
    tail: String,
    input: String,
    typing: Option<Typing>,
    user: Option<String>,
    pending: Option<usize>,
    read: u64,
    pub done: bool,
}

/// Whether a direction opens with Telnet option negotiation.
pub fn starts_like_telnet(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == IAC && (0xfb..=0xfe).contains(&bytes[1])
}

impl Telnet {
    pub fn new(service: String) -> Telnet {
        Telnet {
            service,
            ..Telnet::default()
        }
    }

    pub fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        self.read += bytes.len() as u64;
        if self.read > 2 * MAX_BYTES && self.pending.is_none() {
            self.done = true;
            return;
        }
        let filter = &mut self.filters[to_server as usize];
        let text: Vec<u8> = bytes.iter().filter_map(|&b| strip(filter, b)).collect();
        if to_server {
            text.iter().for_each(|&b| self.typed(b, found));
        } else {
            self.server_text(&String::from_utf8_lossy(&text), found);
        }
    }

    fn server_text(&mut self, text: &str, found: &mut Found) {
        self.tail.push_str(text);
        if self.tail.len() > TAIL {
            let cut = self.tail.len() - TAIL;
            let cut = (cut..self.tail.len())
                .find(|&i| self.tail.is_char_boundary(i))
                .unwrap_or(self.tail.len());
            self.tail.drain(..cut);
        }
        let Some(i) = self.pending else { return };
        let lower = text.to_ascii_lowercase();
        let verdict = if ["incorrect", "failed", "denied", "invalid"]
            .iter()
            .any(|w| lower.contains(w))
            || prompt(&self.tail) == Some(Typing::User)
        {
            Some(Outcome::Rejected)
        } else if lower.contains("last login") || lower.contains("welcome") {
            Some(Outcome::Accepted)
        } else {
            None
        };
        if let Some(outcome) = verdict {
            found.outcome(i, outcome);
            self.pending = None;
            self.done = outcome == Outcome::Accepted;
        }
    }

    fn typed(&mut self, b: u8, found: &mut Found) {
        if self.typing.is_none() {
            if b == b'\r' || b == b'\n' || b == 0 {
                return;
            }
            self.typing = Some(prompt(&self.tail).unwrap_or(Typing::Other));
        }
        match b {
            b'\r' | b'\n' => self.line_done(found),
            0x08 | 0x7f => {
                self.input.pop();
            }
            b if b >= 0x20 && self.input.len() < MAX_INPUT => self.input.push(b as char),
            _ => {}
        }
    }

    fn line_done(&mut self, found: &mut Found) {
        let line = std::mem::take(&mut self.input);
        match self.typing.take() {
            Some(Typing::User) => self.user = Some(line),
            Some(Typing::Password) => {
                let user = self.user.clone().unwrap_or_default();
                let cred = Cred::new("telnet", "login prompt", user)
                    .password(line)
                    .service(self.service.clone());
                self.pending = Some(found.add(cred));
            }
            _ => {}
        }
        self.tail.clear();
    }
}

/// What a server's last words ask for.
fn prompt(tail: &str) -> Option<Typing> {
    let t = tail.trim_end().to_ascii_lowercase();
    if t.ends_with("password:") {
        Some(Typing::Password)
    } else if t.ends_with("login:") || t.ends_with("username:") || t.ends_with("user:") {
        Some(Typing::User)
    } else {
        None
    }
}

/// One byte through the option-negotiation filter: the text byte, if it is one.
fn strip(state: &mut Iac, b: u8) -> Option<u8> {
    let (next, out) = match (*state, b) {
        (Iac::Text, IAC) => (Iac::Command, None),
        (Iac::Text, b) => (Iac::Text, Some(b)),
        (Iac::Command, IAC) => (Iac::Text, Some(IAC)),
        (Iac::Command, SB) => (Iac::Sub(false), None),
        (Iac::Command, 0xfb..=0xfe) => (Iac::Option, None),
        (Iac::Command, _) | (Iac::Option, _) => (Iac::Text, None),
        (Iac::Sub(true), SE) => (Iac::Text, None),
        (Iac::Sub(_), IAC) => (Iac::Sub(true), None),
        (Iac::Sub(_), _) => (Iac::Sub(false), None),
    };
    *state = next;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystrokes_after_prompts_are_the_user_and_password() {
        let mut t = Telnet::new("telnet://s".into());
        let mut found = Found::default();
        t.data(
            false,
            b"\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0Debian\r\nlogin: ",
            &mut found,
        );
        for (c, e) in [(b"r", b"r"), (b"o", b"o"), (b"x", b"x")] {
            t.data(true, c, &mut found);
            t.data(false, e, &mut found);
        }
        t.data(true, b"\x7f", &mut found);
        t.data(true, b"ot\r\n", &mut found);
        t.data(false, b"\r\nPassword: ", &mut found);
        t.data(true, b"toor\r", &mut found);
        t.data(false, b"\r\nLogin incorrect\r\n", &mut found);
        let c = &found.creds[0];
        assert_eq!((c.user.as_str(), c.secret.as_str()), ("root", "toor"));
        assert_eq!(c.outcome, Outcome::Rejected);
    }
}
