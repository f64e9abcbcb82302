//! Kerberos AS-REQ (RFC 4120 5.4.1), decoded with `rasn-kerberos`: over UDP each datagram is one
//! message, over TCP each message has a 4-byte length before it (held up to [`MAX_MESSAGE`]). The
//! client principal (`cname`) is the user, the realm the domain, the requested service (`sname`,
//! usually `krbtgt/REALM`) the service. A PA-ENC-TIMESTAMP pre-authentication is the crackable part:
//! written as hashcat reads it, mode 7500 for RC4-HMAC (etype 23:
//! `$krb5pa$23$user$REALM$REALMuser$<timestamp><checksum>`, the cipher's 16-byte checksum moved to
//! the end, salt the realm and user as John's krbpa2john writes it), 19800 / 19900 for AES128 / AES256
//! (etypes 17 / 18: `$krb5pa$18$user$REALM$<cipher>`). An AS-REQ without it gives the user only. The
//! KDC's answer decides the outcome: AS-REP accepts; KRB-ERROR with a wrong-password, unknown-client,
//! revoked or expired code rejects; `PREAUTH_REQUIRED` (the usual first answer) leaves it unknown.

use crate::cred::{Cred, Found, Outcome};
use crate::ntlm::hex;
use pcapxray_plugin_sdk::credentials::format;
use rasn_kerberos::{AsReq, EncryptedData, KrbError, PrincipalName};

/// Largest message held over TCP.
const MAX_MESSAGE: usize = 64 * 1024;
const PA_ENC_TIMESTAMP: i32 = 2;
/// KRB-ERROR codes that reject the client's credential: C_PRINCIPAL_UNKNOWN, CLIENT_REVOKED,
/// KEY_EXPIRED, PREAUTH_FAILED.
const REJECTING: &[i32] = &[6, 18, 23, 24];

/// Whether a message starts like a Kerberos AS-REQ (APPLICATION 10).
pub fn is_as_req(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x6a)
}

/// Whether a TCP stream starts like a length-prefixed AS-REQ.
pub fn starts_like_tcp_as_req(bytes: &[u8]) -> bool {
    bytes.len() >= 5 && bytes[0] & 0x80 == 0 && is_as_req(&bytes[4..])
}

#[derive(Debug, Default)]
pub struct Kerberos {
    tcp: bool,
    /// Per direction over TCP: the message being collected, with its length once known.
    held: [(Vec<u8>, Option<usize>); 2],
    pending: Option<usize>,
    pub done: bool,
}

impl Kerberos {
    pub fn new(tcp: bool) -> Kerberos {
        Kerberos {
            tcp,
            ..Kerberos::default()
        }
    }

    pub fn gap(&mut self) {
        self.done = self.tcp;
    }

    pub fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        if !self.tcp {
            return self.message(to_server, bytes, found);
        }
        let (buf, len) = &mut self.held[to_server as usize];
        buf.extend_from_slice(bytes);
        let mut messages = Vec::new();
        loop {
            if len.is_none() && buf.len() >= 4 {
                let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if n > MAX_MESSAGE {
                    self.done = true;
                    return;
                }
                buf.drain(..4);
                *len = Some(n);
            }
            match *len {
                Some(n) if buf.len() >= n => {
                    messages.push(buf.drain(..n).collect::<Vec<u8>>());
                    *len = None;
                }
                _ => break,
            }
        }
        for m in messages {
            self.message(to_server, &m, found);
        }
    }

    fn message(&mut self, to_server: bool, m: &[u8], found: &mut Found) {
        if to_server {
            if let Some(cred) = as_req(m) {
                self.pending = Some(found.add(cred));
            }
            return;
        }
        let outcome = match m.first() {
            Some(0x6b) => Outcome::Accepted,
            Some(0x7e) => match rasn::der::decode::<KrbError>(m) {
                Ok(e) if REJECTING.contains(&e.error_code) => Outcome::Rejected,
                _ => return,
            },
            _ => return,
        };
        if let Some(i) = self.pending.take() {
            found.outcome(i, outcome);
        }
    }
}

fn name(p: &PrincipalName) -> String {
    let parts: Vec<String> = p
        .string
        .iter()
        .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
        .collect();
    parts.join("/")
}

/// The credential of an AS-REQ, if `m` is one.
pub fn as_req(m: &[u8]) -> Option<Cred> {
    let req = rasn::der::decode::<AsReq>(m).ok()?.0;
    let body = &req.req_body;
    let user = body.cname.as_ref().map(name).unwrap_or_default();
    let realm = String::from_utf8_lossy(body.realm.as_bytes()).into_owned();
    let mut cred = Cred::new("kerberos", "AS-REQ", user.as_str());
    cred.domain = Some(realm.clone());
    if let Some(sname) = &body.sname {
        cred.service = Some(name(sname));
    }
    let timestamp = req
        .padata
        .iter()
        .flatten()
        .find(|p| p.r#type == PA_ENC_TIMESTAMP)
        .and_then(|p| rasn::der::decode::<EncryptedData>(&p.value).ok());
    let Some(enc) = timestamp else {
        return Some(cred);
    };
    let c = &enc.cipher[..];
    Some(match enc.etype {
        23 if c.len() > 16 => cred.secret(
            format!(
                "$krb5pa$23${user}${realm}${realm}{user}${}{}",
                hex(&c[16..]),
                hex(&c[..16])
            ),
            format::KRB5PA_23,
        ),
        17 => cred.secret(
            format!("$krb5pa$17${user}${realm}${}", hex(c)),
            format::KRB5PA_17,
        ),
        18 => cred.secret(
            format!("$krb5pa$18${user}${realm}${}", hex(c)),
            format::KRB5PA_18,
        ),
        _ => cred,
    })
}
