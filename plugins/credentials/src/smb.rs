//! NTLM over SMB2/3 (MS-SMB2 2.2.5–2.2.10): each NetBIOS-framed message is held up to [`MAX_HOLD`]
//! bytes (the rest of a large READ or WRITE is counted past), compound messages are walked by their
//! NextCommand offsets, and SESSION_SETUP security buffers are searched for NTLMSSP: the response's
//! CHALLENGE, then the request's AUTHENTICATE, whose outcome is the status of its response
//! (`STATUS_SUCCESS` accepts, anything but `STATUS_MORE_PROCESSING_REQUIRED` rejects). The first
//! TREE_CONNECT after it names the share (`service`). Anonymous (null) sessions carry no credential
//! and are not reported. SMB1 SESSION_SETUP_ANDX with extended security is read the same way
//! (without the share); SMB1 logins without it and encrypted (transform) messages are not read;
//! reading stops after an accepted SMB2 login has named its share, or after a gap.

use crate::cred::{Found, Outcome};
use crate::ntlm::{self, Message};

/// Bytes of one message held to be parsed.
const MAX_HOLD: usize = 16 * 1024;
const HEADER: usize = 64;
const SESSION_SETUP: u16 = 1;
const TREE_CONNECT: u16 = 3;
const MORE_PROCESSING: u32 = 0xc000_0016;

/// Whether the first bytes of a client stream are SMB over direct TCP.
pub fn starts_like_smb(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0] == 0 && matches!(&bytes[4..8], b"\xfeSMB" | b"\xffSMB")
}

/// One direction's framing.
#[derive(Debug, Default)]
struct Framer {
    /// The 4-byte NetBIOS header being collected.
    len_bytes: Vec<u8>,
    /// The message's length and what is held of it.
    message: Option<(usize, Vec<u8>)>,
    /// Bytes of the message read so far.
    got: usize,
}

impl Framer {
    /// Feeds bytes and returns the complete messages (each cut at [`MAX_HOLD`]).
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let Some((len, held)) = &mut self.message else {
                let take = (4 - self.len_bytes.len()).min(bytes.len());
                self.len_bytes.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.len_bytes.len() == 4 {
                    let h = &self.len_bytes;
                    let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
                    self.len_bytes.clear();
                    self.got = 0;
                    self.message = Some((len, Vec::new()));
                    if len == 0 {
                        self.message = None;
                    }
                }
                continue;
            };
            let take = (*len - self.got).min(bytes.len());
            let room = MAX_HOLD.saturating_sub(held.len()).min(take);
            held.extend_from_slice(&bytes[..room]);
            self.got += take;
            bytes = &bytes[take..];
            if self.got == *len {
                out.extend(self.message.take().map(|(_, m)| m));
            }
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct Smb {
    framers: [Framer; 2],
    challenge: Option<[u8; 8]>,
    /// The credential waiting for its SESSION_SETUP response, and the last one accepted that has
    /// no share yet.
    pending: Option<usize>,
    unnamed: Option<usize>,
    server: String,
    pub done: bool,
}

impl Smb {
    pub fn new(server: String) -> Smb {
        Smb {
            server,
            ..Smb::default()
        }
    }

    pub fn gap(&mut self) {
        self.done = true;
    }

    pub fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        for message in self.framers[to_server as usize].feed(bytes) {
            let mut at = 0;
            while let Some(next) = self.command(&message, at, found) {
                at += next;
            }
        }
    }

    /// Reads the SMB2 command at `at`; the offset of the next one in a compound, if any.
    fn command(&mut self, m: &[u8], at: usize, found: &mut Found) -> Option<usize> {
        if at == 0 && m.starts_with(b"\xffSMB") {
            self.smb1(m, found);
            return None;
        }
        let h = m.get(at..at + HEADER)?;
        if &h[..4] != b"\xfeSMB" {
            return None;
        }
        let command = u16::from_le_bytes([h[12], h[13]]);
        let response = h[16] & 1 == 1;
        let status = u32::from_le_bytes(h[8..12].try_into().ok()?);
        let body = &m[at + HEADER..];
        match (command, response) {
            (SESSION_SETUP, false) => self.setup_request(m, at, body, found),
            (SESSION_SETUP, true) => self.setup_response(m, at, body, status, found),
            (TREE_CONNECT, false) => self.tree_connect(m, at, body, found),
            _ => {}
        }
        let next = u32::from_le_bytes(h[20..24].try_into().ok()?) as usize;
        (next >= HEADER).then_some(next)
    }

    /// SMB1 SESSION_SETUP_ANDX with extended security (MS-SMB 2.2.4.6): the NTLMSSP message is
    /// found in the security blob by its signature; the reply's status decides as in SMB2. Logins
    /// without extended security (passwords or v1 responses in the request's fields) are not read.
    fn smb1(&mut self, m: &[u8], found: &mut Found) {
        const SESSION_SETUP_ANDX: u8 = 0x73;
        if m.len() < 33 || m[4] != SESSION_SETUP_ANDX {
            return;
        }
        let status = u32::from_le_bytes([m[5], m[6], m[7], m[8]]);
        let reply = m[9] & 0x80 != 0;
        let body = &m[32..];
        if reply {
            self.setup_response(m, 0, &[], status, found);
            if let Some(Message::Challenge(c)) = ntlm::find(body) {
                self.challenge = Some(c);
            }
        } else if let Some(Message::Authenticate(auth)) = ntlm::find(body)
            && !auth.anonymous()
        {
            let cred = auth.cred("SMB1", self.challenge);
            self.pending = Some(found.add(cred.service(format!("\\\\{}", self.server))));
        }
    }

    fn setup_request(&mut self, m: &[u8], at: usize, body: &[u8], found: &mut Found) {
        let Some(blob) = buffer(m, at, body, 12) else {
            return;
        };
        if let Some(Message::Authenticate(auth)) = ntlm::find(blob)
            && !auth.anonymous()
        {
            let cred = auth.cred("SMB2", self.challenge);
            self.pending = Some(found.add(cred.service(format!("\\\\{}", self.server))));
        }
    }

    fn setup_response(&mut self, m: &[u8], at: usize, body: &[u8], status: u32, found: &mut Found) {
        if let Some(Message::Challenge(c)) = buffer(m, at, body, 4).and_then(ntlm::find) {
            self.challenge = Some(c);
        }
        if status == MORE_PROCESSING {
            return;
        }
        if let Some(i) = self.pending.take() {
            let accepted = status == 0;
            found.outcome(
                i,
                if accepted {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                },
            );
            self.unnamed = accepted.then_some(i);
        }
    }

    fn tree_connect(&mut self, m: &[u8], at: usize, body: &[u8], found: &mut Found) {
        let Some(i) = self.unnamed.take() else {
            return;
        };
        let Some(path) = buffer(m, at, body, 4) else {
            return;
        };
        let units: Vec<u16> = path
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if let Some(c) = found.creds.get_mut(i) {
            c.service = Some(String::from_utf16_lossy(&units));
        }
        self.done = true;
    }
}

/// A buffer named by a (offset u16, length u16) pair at `field` of a command's body; the offset
/// counts from the command's SMB2 header at `at`.
fn buffer<'a>(m: &'a [u8], at: usize, body: &[u8], field: usize) -> Option<&'a [u8]> {
    let offset = u16::from_le_bytes(body.get(field..field + 2)?.try_into().ok()?) as usize;
    let len = u16::from_le_bytes(body.get(field + 2..field + 4)?.try_into().ok()?) as usize;
    m.get(at + offset..at + offset + len)
}
