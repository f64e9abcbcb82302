//! NTLMSSP (MS-NLMP 2.2.1), parsed by hand: the two messages needed are small fixed layouts of
//! little-endian offsets and lengths, which no kept Rust crate parses for wasm32 without bringing a
//! whole SMB or HTTP client. The server's CHALLENGE (type 2) gives the 8-byte server challenge; the
//! client's AUTHENTICATE (type 3) gives user, domain, workstation and the responses, which are written
//! as the line hashcat and John read: NetNTLMv2 (hashcat 5600) `user::domain:challenge:NTProofStr:blob`
//! when the NT response is longer than 24 bytes, NetNTLMv1 (hashcat 5500)
//! `user::domain:lm:nt:challenge` when it is 24. The messages may come wrapped in SPNEGO (GSS-API
//! `Negotiate`, SMB2 security buffers): they are found by their `NTLMSSP\0` signature.

use crate::cred::Cred;
use pcapxray_plugin_sdk::credentials::format;

const SIGNATURE: &[u8] = b"NTLMSSP\0";
const UNICODE: u32 = 0x1;

/// An NTLMSSP message found in a security blob.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Negotiate,
    /// CHALLENGE: the server challenge.
    Challenge([u8; 8]),
    /// AUTHENTICATE, parsed.
    Authenticate(Authenticate),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Authenticate {
    pub user: String,
    pub domain: String,
    pub workstation: String,
    pub lm: Vec<u8>,
    pub nt: Vec<u8>,
}

/// The NTLMSSP message inside `blob` (raw or wrapped), if there is one and it is well formed.
pub fn find(blob: &[u8]) -> Option<Message> {
    let at = blob.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
    parse(&blob[at..])
}

fn parse(m: &[u8]) -> Option<Message> {
    match u32_at(m, 8)? {
        1 => Some(Message::Negotiate),
        2 => Some(Message::Challenge(m.get(24..32)?.try_into().ok()?)),
        3 => authenticate(m).map(Message::Authenticate),
        _ => None,
    }
}

fn authenticate(m: &[u8]) -> Option<Authenticate> {
    let flags = u32_at(m, 60).unwrap_or(UNICODE);
    let text = |at: usize| field(m, at).map(|b| string(b, flags & UNICODE != 0));
    Some(Authenticate {
        lm: field(m, 12)?.to_vec(),
        nt: field(m, 20)?.to_vec(),
        domain: text(28)?,
        user: text(36)?,
        workstation: text(44).unwrap_or_default(),
    })
}

/// A `(length u16, max u16, offset u32)` field descriptor at `at`, resolved to its bytes.
fn field(m: &[u8], at: usize) -> Option<&[u8]> {
    let len = u16::from_le_bytes(m.get(at..at + 2)?.try_into().ok()?) as usize;
    let offset = u32_at(m, at + 4)? as usize;
    if len == 0 {
        return Some(&[]);
    }
    m.get(offset..offset.checked_add(len)?)
}

fn u32_at(m: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(m.get(at..at + 4)?.try_into().ok()?))
}

fn string(bytes: &[u8], unicode: bool) -> String {
    if unicode {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Authenticate {
    /// True for an anonymous (null session) authentication: no user name. Windows sends some with
    /// an NTLMv2 response all the same; with no user there is no one's password to recover.
    pub fn anonymous(&self) -> bool {
        self.user.is_empty()
    }

    /// The credential, with the hash line when the server's challenge is known.
    pub fn cred(&self, method: &str, challenge: Option<[u8; 8]>) -> Cred {
        let mut cred = Cred::new("ntlm", method, self.user.as_str());
        cred.domain = Some(self.domain.clone());
        cred.workstation = Some(self.workstation.clone());
        let Some(challenge) = challenge else {
            return cred;
        };
        let (user, domain, c) = (&self.user, &self.domain, hex(&challenge));
        match self.nt.len() {
            24 => cred.secret(
                format!("{user}::{domain}:{}:{}:{c}", hex(&self.lm), hex(&self.nt)),
                format::NETNTLMV1,
            ),
            n if n > 24 => cred.secret(
                format!(
                    "{user}::{domain}:{c}:{}:{}",
                    hex(&self.nt[..16]),
                    hex(&self.nt[16..])
                ),
                format::NETNTLMV2,
            ),
            _ => cred,
        }
    }
}
