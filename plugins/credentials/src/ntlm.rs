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

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An AUTHENTICATE message laid out as MS-NLMP 2.2.1.3 says, strings in UTF-16LE.
    fn authenticate_message(lm: &[u8], nt: &[u8]) -> Vec<u8> {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let fields = [
            lm.to_vec(),
            nt.to_vec(),
            utf16("Domain"),
            utf16("User"),
            utf16("COMPUTER"),
        ];
        let mut m = b"NTLMSSP\0\x03\0\0\0".to_vec();
        let mut payload: Vec<u8> = Vec::new();
        let mut offset = 72u32;
        for f in &fields {
            m.extend((f.len() as u16).to_le_bytes());
            m.extend((f.len() as u16).to_le_bytes());
            m.extend(offset.to_le_bytes());
            offset += f.len() as u32;
            payload.extend(f);
        }
        m.extend([0, 0, 0, 0]);
        m.extend(offset.to_le_bytes());
        m.extend(1u32.to_le_bytes()); // NEGOTIATE_UNICODE
        m.extend([0; 8]);
        m.extend(payload);
        m
    }

    const CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

    /// MS-NLMP 4.2.4.2.1 (LMv2) and 4.2.4.2.2 (NTProofStr and temp): hashcat mode 5600.
    #[test]
    fn an_ntlmv2_authenticate_gives_the_hashcat_5600_line_of_the_ms_nlmp_example() {
        let temp = "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000\
                    02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000\
                    00000000";
        let nt = unhex(&format!("68cd0ab851e51c96aabc927bebef6a1c{temp}"));
        let lm = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
        let Some(Message::Authenticate(a)) = find(&authenticate_message(&lm, &nt)) else {
            panic!("not parsed");
        };
        let cred = a.cred("SMB2", Some(CHALLENGE));
        assert_eq!(cred.secret_format, format::NETNTLMV2);
        assert_eq!(
            cred.secret,
            format!("User::Domain:0123456789abcdef:68cd0ab851e51c96aabc927bebef6a1c:{temp}")
        );
        assert_eq!(cred.workstation.as_deref(), Some("COMPUTER"));
        assert!(
            a.cred("SMB2", None).secret.is_empty(),
            "no challenge, no line"
        );
    }

    /// MS-NLMP 4.2.2.2.1 (NTLMv1 response) and 4.2.2.2.2 (LMv1 response): hashcat mode 5500.
    #[test]
    fn an_ntlmv1_authenticate_gives_the_hashcat_5500_line_of_the_ms_nlmp_example() {
        let nt = unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
        let lm = unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
        // Wrapped in SPNEGO-like bytes, as SMB and `Negotiate` carry it.
        let blob = [
            &b"\xa1\x82\x01\x00junk"[..],
            &authenticate_message(&lm, &nt),
        ]
        .concat();
        let Some(Message::Authenticate(a)) = find(&blob) else {
            panic!("not parsed");
        };
        let cred = a.cred("HTTP NTLM", Some(CHALLENGE));
        assert_eq!(cred.secret_format, format::NETNTLMV1);
        assert_eq!(
            cred.secret,
            "User::Domain:98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13:\
             67c43011f30298a2ad35ece64f16331c44bdbed927841f94:0123456789abcdef"
        );
    }

    /// A message cut before its user name is not a credential (a cut workstation name, last in the
    /// payload, is only left out).
    #[test]
    fn truncated_messages_are_not_parsed() {
        let m = authenticate_message(&[0; 24], &[0; 24]);
        for n in [0, 9, 40, 60, m.len() - "COMPUTER".len() * 2 - 1] {
            assert_eq!(find(&m[..n]), None, "{n} bytes");
        }
    }
}
