//! SMB1 (MS-CIFS) messages as the `smb` reader needs them: the open requests that name a file
//! (OPEN_ANDX, NT_CREATE_ANDX) and their responses that give its handle (FID), READ_ANDX and WRITE_ANDX
//! with the place of their data in the message, and CLOSE. A request and its response are paired by
//! (PID, MID); a handle is (TID, FID). Only the first command of an AndX chain is read (smbclient and
//! Windows send opens, reads and writes unchained); older READ/WRITE commands are not read.
//!
//! SMB1 handles and pairing keys live in the same tables as SMB2's: a pairing key has its top bit set
//! (SMB2 message ids count up from 0) and a handle is the FID and TID followed by 0xff bytes.

use crate::smb::FileId;

const HEADER: usize = 32;

pub const OPEN_ANDX: u8 = 0x2d;
pub const NT_CREATE_ANDX: u8 = 0xa2;
pub const READ_ANDX: u8 = 0x2e;
pub const WRITE_ANDX: u8 = 0x2f;
pub const CLOSE: u8 = 0x04;

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The fixed part of one SMB1 message held in `m` (which may be only its first bytes).
pub struct Message<'a> {
    pub command: u8,
    pub status: u32,
    /// (PID, MID): pairs a response with its request.
    pub key: u64,
    tid: u16,
    unicode: bool,
    /// The parameter words.
    words: &'a [u8],
    m: &'a [u8],
}

impl<'a> Message<'a> {
    /// The header and parameter words, or `None` until `m` holds them.
    pub fn parse(m: &'a [u8]) -> Option<Message<'a>> {
        if m.get(..4)? != b"\xffSMB" {
            return None;
        }
        let count = usize::from(*m.get(HEADER)?) * 2;
        let words = m.get(HEADER + 1..HEADER + 1 + count)?;
        let pid = u16le(m, 26)?;
        let mid = u16le(m, 30)?;
        Some(Message {
            command: m[4],
            status: u32le(m, 5)?,
            key: 1 << 63 | u64::from(pid) << 16 | u64::from(mid),
            tid: u16le(m, 24)?,
            unicode: u16le(m, 10)? & 0x8000 != 0,
            words,
            m,
        })
    }

    fn handle(&self, fid: u16) -> FileId {
        let mut id = [0xff; 16];
        id[..2].copy_from_slice(&fid.to_le_bytes());
        id[2..4].copy_from_slice(&self.tid.to_le_bytes());
        id
    }

    /// Offset of the data bytes (after the byte count).
    fn bytes_at(&self) -> usize {
        HEADER + 1 + self.words.len() + 2
    }

    /// The file name of an OPEN_ANDX or NT_CREATE_ANDX request (held whole).
    pub fn open_name(&self) -> Option<String> {
        let (at, len) = match self.command {
            OPEN_ANDX if self.words.len() >= 30 => (self.bytes_at(), None),
            NT_CREATE_ANDX if self.words.len() >= 48 => {
                (self.bytes_at(), Some(usize::from(u16le(self.words, 5)?)))
            }
            _ => return None,
        };
        let count = usize::from(u16le(self.m, at - 2)?);
        let end = (at + count).min(self.m.len());
        let mut raw = self.m.get(at..end)?;
        if self.unicode {
            // Unicode strings are aligned to two bytes from the header's start.
            if at % 2 == 1 {
                raw = raw.get(1..)?;
            }
            if let Some(len) = len {
                raw = raw.get(..len.min(raw.len()))?;
            }
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            Some(String::from_utf16_lossy(&units))
        } else {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            Some(String::from_utf8_lossy(&raw[..end]).into_owned())
        }
    }

    /// The handle and the file's size from an OPEN_ANDX or NT_CREATE_ANDX response.
    pub fn opened(&self) -> Option<(FileId, u64)> {
        match self.command {
            OPEN_ANDX => Some((
                self.handle(u16le(self.words, 4)?),
                u64::from(u32le(self.words, 12)?),
            )),
            NT_CREATE_ANDX => {
                let size = self.words.get(55..63)?;
                Some((
                    self.handle(u16le(self.words, 5)?),
                    u64::from_le_bytes(size.try_into().ok()?),
                ))
            }
            _ => None,
        }
    }

    /// The handle and file offset a READ_ANDX request asks for.
    pub fn read_request(&self) -> Option<(FileId, u64)> {
        let low = u64::from(u32le(self.words, 6)?);
        let high = if self.words.len() >= 24 {
            u64::from(u32le(self.words, 20)?)
        } else {
            0
        };
        Some((self.handle(u16le(self.words, 4)?), high << 32 | low))
    }

    /// Where the data of a READ_ANDX response lies in the message: (start, length).
    pub fn read_data(&self) -> Option<(usize, usize)> {
        let low = usize::from(u16le(self.words, 10)?);
        let high = usize::from(u16le(self.words, 14)?);
        Some((usize::from(u16le(self.words, 12)?), high << 16 | low))
    }

    /// The handle, file offset and data (start, length) of a WRITE_ANDX request.
    pub fn write(&self) -> Option<(FileId, u64, usize, usize)> {
        let low = u64::from(u32le(self.words, 6)?);
        let high = if self.words.len() >= 28 {
            u64::from(u32le(self.words, 24)?)
        } else {
            0
        };
        let len = usize::from(u16le(self.words, 18)?) << 16 | usize::from(u16le(self.words, 20)?);
        Some((
            self.handle(u16le(self.words, 4)?),
            high << 32 | low,
            usize::from(u16le(self.words, 22)?),
            len,
        ))
    }

    /// The handle a CLOSE request closes.
    pub fn closed(&self) -> Option<FileId> {
        Some(self.handle(u16le(self.words, 0)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SMB1 message: header (Unicode, TID 7, PID 0x0f77, MID `mid`), words, bytes.
    fn message(command: u8, mid: u16, words: &[u8], bytes: &[u8]) -> Vec<u8> {
        let mut m = b"\xffSMB".to_vec();
        m.push(command);
        m.extend([0; 4]); // status
        m.push(0x18);
        m.extend(0xc801u16.to_le_bytes());
        m.extend([0; 12]); // PID high, security features, reserved
        m.extend(7u16.to_le_bytes());
        m.extend(0x0f77u16.to_le_bytes());
        m.extend(100u16.to_le_bytes());
        m.extend(mid.to_le_bytes());
        m.push((words.len() / 2) as u8);
        m.extend(words);
        m.extend((bytes.len() as u16).to_le_bytes());
        m.extend(bytes);
        m
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// NT_CREATE_ANDX as Windows sends it (MS-CIFS 2.2.4.64): the name after a pad byte, its length
    /// in the words; the response's FID and end of file (2.2.4.64.2).
    #[test]
    fn nt_create_andx_names_the_file_and_its_response_gives_the_handle() {
        let name = utf16("\\share\\report.docx\0");
        let mut words = vec![0xff, 0, 0, 0, 0];
        words.extend((name.len() as u16).to_le_bytes());
        words.resize(48, 0);
        let mut bytes = vec![0]; // pad: the name starts on an even offset
        bytes.extend(&name);
        let request = message(NT_CREATE_ANDX, 5, &words, &bytes);
        let m = Message::parse(&request).unwrap();
        assert_eq!(m.open_name().as_deref(), Some("\\share\\report.docx"));
        let mut words = vec![0xff, 0, 0, 0, 0, 0x34, 0x12];
        words.resize(55, 0);
        words.extend(123_456u64.to_le_bytes());
        words.resize(68, 0);
        let response = message(NT_CREATE_ANDX, 5, &words, &[]);
        let r = Message::parse(&response).unwrap();
        assert_eq!(r.key, m.key);
        let (fid, size) = r.opened().unwrap();
        assert_eq!((&fid[..4], size), (&[0x34, 0x12, 7, 0][..], 123_456));
    }

    /// WRITE_ANDX with 14 words (MS-CIFS 2.2.4.43.1): 64-bit offset, data length high and low, data
    /// offset from the header's start.
    #[test]
    fn write_andx_gives_handle_offset_and_where_its_data_lies() {
        let mut words = vec![0xff, 0, 0, 0, 0x34, 0x12];
        words.extend(0x10u32.to_le_bytes()); // offset low
        words.extend([0; 8]); // timeout, write mode, remaining
        words.extend(1u16.to_le_bytes()); // data length high
        words.extend(5u16.to_le_bytes()); // data length low
        words.extend(64u16.to_le_bytes()); // data offset
        words.extend(2u32.to_le_bytes()); // offset high
        let w = message(WRITE_ANDX, 9, &words, b"\0hello");
        let m = Message::parse(&w).unwrap();
        let (fid, offset, start, len) = m.write().unwrap();
        assert_eq!(&fid[..4], &[0x34, 0x12, 7, 0]);
        assert_eq!(offset, 2 << 32 | 0x10);
        assert_eq!((start, len), (64, 65_536 + 5));
        assert_eq!(&w[start..start + 5], b"hello");
    }
}
