//! QUIC handshakes read from the client's first datagrams, whatever the port: the ClientHello of IETF
//! QUIC (v1, RFC 9000/9001, and v2, RFC 9369) and the CHLO of Google QUIC (`Q0xx`). Both are the
//! last place a QUIC connection names its server in the open, so a QUIC peer gets a name like a TLS
//! one.
//!
//! IETF QUIC protects its Initial packets with keys anyone can derive: HKDF-SHA256 over the client's
//! first Destination Connection ID with the salt the RFC publishes. This module derives them, removes
//! the header protection (AES-128-ECB over a sample), decrypts the payload (AES-128-GCM, whose tag
//! proves the keys and the bytes right), and reassembles the CRYPTO frames by offset across packets
//! and datagrams, in any order, before handing the ClientHello to the TLS parser. Google QUIC sends
//! its CHLO in clear text, a tag/value message inside a stream frame. Pure functions on byte slices;
//! malformed or cut input yields `None` or what was read, never a panic.

use crate::text::clean;
use crate::tls::{self, ClientHello};
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::collections::BTreeMap;

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const V2: u32 = 0x6b33_43cf;
/// The Initial salt of version 1 (RFC 9001 section 5.2).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// The Initial salt of version 2 (RFC 9369 section 3.3.1).
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// CRYPTO bytes reassembled at most (a ClientHello with post-quantum key shares is about 2 KiB).
const MAX_CRYPTO: usize = 1 << 16;
/// Longest connection ID (RFC 9000 section 17.2).
const MAX_CID: usize = 20;

/// What a QUIC client's first packets said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicHello {
    /// `1`, `2` (IETF QUIC) or `Q039` (Google QUIC).
    pub version: String,
    /// The TLS ClientHello (IETF QUIC); for Google QUIC only `sni` is set, from the CHLO's `SNI` tag.
    pub hello: ClientHello,
    /// The CHLO's `UAID` tag (Google QUIC: the client's user agent).
    pub user_agent: Option<String>,
}

/// Reads the QUIC handshake from the client's datagrams, in the order they were kept.
pub fn parse_client(datagrams: &[&[u8]]) -> Option<QuicHello> {
    let first = datagrams.first()?;
    if first.first().is_some_and(|b| b & 0x80 != 0) && first.len() >= 5 {
        let version = u32::from_be_bytes([first[1], first[2], first[3], first[4]]);
        if version == V1 || version == V2 {
            return parse_ietf(datagrams, version);
        }
    }
    datagrams.iter().find_map(|d| parse_gquic(d))
}

/// Keys of one direction's Initial packets.
struct Keys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

/// HKDF-Expand-Label of TLS 1.3 (RFC 8446 section 7.1) with an empty context.
fn expand_label(secret: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> Option<()> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    secret.expand(&info, out).ok()
}

/// The client's Initial keys for a Destination Connection ID (RFC 9001 section 5.2, RFC 9369 3.3).
fn client_keys(version: u32, dcid: &[u8]) -> Option<Keys> {
    let (salt, prefix) = if version == V2 {
        (&SALT_V2, "quicv2")
    } else {
        (&SALT_V1, "quic")
    };
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut client = [0u8; 32];
    expand_label(&initial, "client in", &mut client)?;
    let client = Hkdf::<Sha256>::from_prk(&client).ok()?;
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, &format!("{prefix} key"), &mut key)?;
    expand_label(&client, &format!("{prefix} iv"), &mut iv)?;
    expand_label(&client, &format!("{prefix} hp"), &mut hp)?;
    Some(Keys {
        aead: Aes128Gcm::new_from_slice(&key).ok()?,
        iv,
        hp: Aes128::new_from_slice(&hp).ok()?,
    })
}

/// A QUIC variable-length integer (RFC 9000 section 16) at `*at`, advancing it.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let first = *bytes.get(*at)?;
    let len = 1usize << (first >> 6);
    let raw = bytes.get(*at..*at + len)?;
    *at += len;
    Some(
        raw.iter()
            .skip(1)
            .fold(u64::from(first & 0x3f), |v, b| v << 8 | u64::from(*b)),
    )
}

/// One long-header packet at the start of `bytes`.
struct LongPacket<'a> {
    /// The whole packet, header included.
    bytes: &'a [u8],
    /// Where the (protected) packet number starts.
    pn_offset: usize,
    /// True for an Initial packet of `version`.
    initial: bool,
    version: u32,
    dcid: &'a [u8],
}

/// Splits the long-header packet at the start of `bytes` (several can be coalesced in a datagram).
fn long_packet(bytes: &[u8]) -> Option<LongPacket<'_>> {
    let first = *bytes.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let version = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?);
    let mut at = 5;
    let dcid_len = usize::from(*bytes.get(at)?);
    let dcid = bytes.get(at + 1..at + 1 + dcid_len)?;
    at += 1 + dcid_len;
    let scid_len = usize::from(*bytes.get(at)?);
    at += 1 + scid_len;
    if dcid_len > MAX_CID || scid_len > MAX_CID {
        return None;
    }
    let kind = (first >> 4) & 0x03;
    let initial = match version {
        V1 => kind == 0,
        V2 => kind == 1,
        _ => return None,
    };
    let retry = if version == V2 { 0 } else { 3 };
    if kind == retry {
        return None;
    }
    if initial {
        let token = usize::try_from(varint(bytes, &mut at)?).ok()?;
        at = at.checked_add(token)?;
    }
    let length = usize::try_from(varint(bytes, &mut at)?).ok()?;
    let end = at.checked_add(length)?.min(bytes.len());
    Some(LongPacket {
        bytes: bytes.get(..end)?,
        pn_offset: at,
        initial,
        version,
        dcid,
    })
}

/// Removes header protection and decrypts one Initial packet; `None` when the keys do not fit.
fn decrypt(packet: &LongPacket<'_>, keys: &Keys) -> Option<Vec<u8>> {
    let bytes = packet.bytes;
    let sample = bytes.get(packet.pn_offset + 4..packet.pn_offset + 20)?;
    let mut mask = GenericArray::clone_from_slice(sample);
    keys.hp.encrypt_block(&mut mask);
    let mut header = bytes.get(..packet.pn_offset)?.to_vec();
    header[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(header[0] & 0x03) + 1;
    let mut pn: u64 = 0;
    for (i, b) in bytes
        .get(packet.pn_offset..packet.pn_offset + pn_len)?
        .iter()
        .enumerate()
    {
        let clear = b ^ mask[1 + i];
        header.push(clear);
        pn = pn << 8 | u64::from(clear);
    }
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let sealed = bytes.get(packet.pn_offset + pn_len..)?;
    keys.aead
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: sealed,
                aad: &header,
            },
        )
        .ok()
}

/// Adds the CRYPTO frames of a decrypted payload to `chunks` (offset → data); skips PADDING, PING
/// and ACK, and stops at any other frame (none other may come before CRYPTO in an Initial).
fn crypto_frames(payload: &[u8], chunks: &mut BTreeMap<u64, Vec<u8>>) {
    let mut at = 0;
    while at < payload.len() {
        let Some(kind) = varint(payload, &mut at) else {
            return;
        };
        match kind {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                let skip = |at: &mut usize, n| (0..n).all(|_| varint(payload, at).is_some());
                let ranges = (|| {
                    let mut a = at;
                    varint(payload, &mut a)?; // largest acknowledged
                    varint(payload, &mut a)?; // delay
                    let count = varint(payload, &mut a)?;
                    varint(payload, &mut a)?; // first range
                    (count < 256 && skip(&mut a, count * 2)).then_some(a)
                })();
                let Some(mut after) = ranges else { return };
                if kind == 0x03 && !skip(&mut after, 3) {
                    return;
                }
                at = after;
            }
            0x06 => {
                let (Some(offset), Some(len)) =
                    (varint(payload, &mut at), varint(payload, &mut at))
                else {
                    return;
                };
                let Ok(len) = usize::try_from(len) else {
                    return;
                };
                let Some(data) = payload.get(at..at.saturating_add(len)) else {
                    return;
                };
                at += len;
                if offset.saturating_add(len as u64) <= MAX_CRYPTO as u64 {
                    chunks.entry(offset).or_insert_with(|| data.to_vec());
                }
            }
            _ => return,
        }
    }
}

/// The CRYPTO stream from offset 0 as far as it is contiguous.
fn reassemble(chunks: &BTreeMap<u64, Vec<u8>>) -> Vec<u8> {
    let mut stream: Vec<u8> = Vec::new();
    for (&offset, data) in chunks {
        let offset = offset as usize;
        if offset > stream.len() {
            break;
        }
        let end = offset + data.len();
        if end > stream.len() {
            stream.extend_from_slice(&data[stream.len() - offset..]);
        }
    }
    stream
}

/// IETF QUIC: every client Initial in the datagrams, decrypted with the keys of the first Initial's
/// Destination Connection ID (they stay those after the client switches to the server's ID), or
/// with the packet's own ID after a Retry.
fn parse_ietf(datagrams: &[&[u8]], version: u32) -> Option<QuicHello> {
    let mut keys: Option<(Vec<u8>, Keys)> = None;
    let mut chunks = BTreeMap::new();
    let mut decrypted_any = false;
    for datagram in datagrams {
        let mut rest: &[u8] = datagram;
        while let Some(packet) = long_packet(rest) {
            rest = &rest[packet.bytes.len()..];
            if !packet.initial || packet.version != version {
                continue;
            }
            if keys.is_none() {
                keys = client_keys(version, packet.dcid).map(|k| (packet.dcid.to_vec(), k));
            }
            let Some((dcid, first_keys)) = &keys else {
                return None;
            };
            let mut plain = decrypt(&packet, first_keys);
            if plain.is_none() && packet.dcid != dcid.as_slice() {
                plain = client_keys(version, packet.dcid).and_then(|k| decrypt(&packet, &k));
            }
            if let Some(plain) = plain {
                decrypted_any = true;
                crypto_frames(&plain, &mut chunks);
            }
        }
    }
    if !decrypted_any {
        return None;
    }
    let hello = tls::parse_client_hello_message(&reassemble(&chunks))?;
    Some(QuicHello {
        version: if version == V2 { "2" } else { "1" }.to_string(),
        hello,
        user_agent: None,
    })
}

/// Google QUIC: the public header (flags, connection ID, `Q0xx` version, packet number), then the
/// CHLO message of the crypto stream in clear text, found within the frame header that precedes it.
fn parse_gquic(datagram: &[u8]) -> Option<QuicHello> {
    let flags = *datagram.first()?;
    // The version flag is set on a client's first packets; 0x80 is unused by Q0xx public headers.
    if flags & 0x01 == 0 || flags & 0x80 != 0 {
        return None;
    }
    let mut at = 1 + if flags & 0x08 != 0 { 8 } else { 0 };
    let version = datagram.get(at..at + 4)?;
    if version[0] != b'Q' || !version[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    at += 4;
    // The CHLO follows the packet number, a message hash and the stream frame header: within 64 bytes.
    let window = datagram.get(at..datagram.len().min(at + 64))?;
    let start = at + window.windows(4).position(|w| w == b"CHLO")?;
    let tags = chlo_tags(datagram.get(start..)?)?;
    let text = |tag: &[u8; 4], max| {
        tags.iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| clean(v, max))
            .filter(|v| !v.is_empty())
    };
    let hello = ClientHello {
        sni: text(b"SNI\0", 255),
        complete: true,
        ..ClientHello::default()
    };
    Some(QuicHello {
        version: String::from_utf8_lossy(version).into_owned(),
        hello,
        user_agent: text(b"UAID", 1024),
    })
}

/// The tags of a Google QUIC handshake message: `CHLO`, a tag count, two bytes of padding, then an
/// index of (tag, end offset) and the values. End offsets must not go backwards; a message cut by
/// the payload prefix gives the values that fit.
fn chlo_tags(message: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    let count = usize::from(u16::from_le_bytes(message.get(4..6)?.try_into().ok()?));
    if count == 0 || count > 128 {
        return None;
    }
    let values = 8 + count * 8;
    let mut tags = Vec::with_capacity(count);
    let mut previous = 0usize;
    for i in 0..count {
        let entry = message.get(8 + i * 8..16 + i * 8)?;
        let tag: [u8; 4] = entry[..4].try_into().ok()?;
        let end = u32::from_le_bytes(entry[4..].try_into().ok()?) as usize;
        if end < previous {
            return None;
        }
        if let Some(value) = message.get(values + previous..values + end) {
            tags.push((tag, value));
        }
        previous = end;
    }
    Some(tags)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.trim().bytes())
            .collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// RFC 9001 Appendix A.2, as published.
    fn rfc9001_client_initial() -> Vec<u8> {
        hex(include_str!("../testdata/rfc9001-a2-client-initial.hex"))
    }

    #[test]
    fn derives_the_published_client_initial_keys_of_rfc9001_appendix_a1() {
        let dcid = hex("8394c8f03e515708");
        let keys = client_keys(V1, &dcid).unwrap();
        assert_eq!(keys.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        // The header-protection key, checked through the mask of the RFC's sample (A.2).
        let mut block = GenericArray::clone_from_slice(&hex("d1b1c98dd7689fb8ec11d242b123dc9b"));
        keys.hp.encrypt_block(&mut block);
        assert_eq!(block[..5].to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn reads_the_client_hello_of_the_rfc9001_appendix_a2_initial() {
        let packet = rfc9001_client_initial();
        assert_eq!(packet.len(), 1200);
        let quic = parse_client(&[&packet]).unwrap();
        assert_eq!(quic.version, "1");
        assert_eq!(quic.hello.sni.as_deref(), Some("example.com"));
        assert_eq!(quic.hello.versions, [0x0304]);
        assert!(quic.hello.complete);
    }

    #[test]
    fn a_damaged_initial_is_not_decrypted() {
        let mut packet = rfc9001_client_initial();
        packet[600] ^= 1;
        assert_eq!(parse_client(&[&packet]), None, "the GCM tag no longer fits");
        assert_eq!(parse_client(&[&packet[..40]]), None, "cut before the tag");
        assert_eq!(parse_client(&[b"\xc0\x00\x00\x00\x01"]), None);
        assert_eq!(parse_client(&[]), None);
    }

    /// Protects `frames` as a client Initial of `version` to `dcid` with packet number `pn`, the way
    /// RFC 9001 section 5 says (the inverse of `decrypt`), padded to `size` bytes.
    pub(crate) fn initial(
        version: u32,
        dcid: &[u8],
        pn: u8,
        frames: &[u8],
        size: usize,
    ) -> Vec<u8> {
        let keys = client_keys(version, dcid).unwrap();
        let kind = if version == V2 { 0x10 } else { 0x00 };
        let mut header = vec![0xc0 | kind, 0, 0, 0, 0];
        header[1..5].copy_from_slice(&version.to_be_bytes());
        header.push(dcid.len() as u8);
        header.extend_from_slice(dcid);
        header.extend_from_slice(&[0, 0]); // no source connection ID, no token
        let payload_len = size - header.len() - 2 - 1;
        let mut plain = frames.to_vec();
        plain.resize(payload_len - 16, 0);
        let length = (1 + payload_len) as u16 | 0x4000;
        header.extend_from_slice(&length.to_be_bytes());
        let pn_offset = header.len();
        header.push(pn);
        let mut nonce = keys.iv;
        nonce[11] ^= pn;
        let sealed = keys
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &header,
                },
            )
            .unwrap();
        let mut packet = header;
        packet.extend_from_slice(&sealed);
        let mut mask = GenericArray::clone_from_slice(&packet[pn_offset + 4..pn_offset + 20]);
        keys.hp.encrypt_block(&mut mask);
        packet[0] ^= mask[0] & 0x0f;
        packet[pn_offset] ^= mask[1];
        packet
    }

    fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06, 0x80, 0, 0, 0, 0x40, 0];
        f[1..5].copy_from_slice(&(offset as u32 | 0x8000_0000).to_be_bytes());
        f[5..7].copy_from_slice(&(data.len() as u16 | 0x4000).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn reassembles_crypto_frames_split_across_packets_and_datagrams_out_of_order() {
        let hello = tls::tests::client_hello("quic.example.net");
        let message = hello.as_slice();
        let (a, b, c) = (&message[..30], &message[30..70], &message[70..]);
        let dcid = [7u8; 8];
        // Datagram 1: PING, a CRYPTO frame for the end, an ACK, then the middle; datagram 2 (v2 would
        // not mix): the start, after the client switched to the server's connection ID.
        let mut frames = vec![0x01];
        frames.extend(crypto(70, c));
        frames.extend([0x02, 0x00, 0x00, 0x00, 0x00]);
        frames.extend(crypto(30, b));
        let first = initial(V1, &dcid, 0, &frames, 1200);
        let mut second = initial(V1, &dcid, 1, &crypto(0, a), 1200);
        // The same keys, but the header names another connection ID: rewrite it after protection.
        second[6..14].copy_from_slice(&[9u8; 8]);
        assert_eq!(
            parse_client(&[&first, &second]),
            None,
            "header is authenticated"
        );
        let second = initial(V1, &dcid, 1, &crypto(0, a), 1200);
        let quic = parse_client(&[&first, &second]).unwrap();
        assert_eq!(quic.hello.sni.as_deref(), Some("quic.example.net"));
        assert!(quic.hello.complete);
        // Without the datagram holding the start, nothing can be read.
        assert_eq!(parse_client(&[&first]), None);
        // Version 2 uses its own salt, labels and packet type.
        let v2 = initial(V2, &dcid, 0, &crypto(0, message), 1200);
        let quic = parse_client(&[&v2]).unwrap();
        assert_eq!(quic.version, "2");
        assert_eq!(quic.hello.sni.as_deref(), Some("quic.example.net"));
        let mut v1_keys_on_v2 = initial(V1, &dcid, 0, &crypto(0, message), 1200);
        v1_keys_on_v2[1..5].copy_from_slice(&V2.to_be_bytes());
        assert_eq!(parse_client(&[&v1_keys_on_v2]), None);
    }

    #[test]
    fn a_client_hello_cut_by_the_prefix_gives_the_extensions_that_fit() {
        let hello = tls::tests::client_hello("quic.example.net");
        let message = hello.as_slice();
        let dcid = [3u8; 8];
        let first = initial(
            V1,
            &dcid,
            0,
            &crypto(0, &message[..message.len() - 4]),
            1200,
        );
        let quic = parse_client(&[&first]).unwrap();
        assert!(!quic.hello.complete);
    }

    /// A Google QUIC Q039 client packet: public header, packet number, 12-byte message hash, a stream
    /// frame on stream 1 with the CHLO.
    pub(crate) fn gquic_chlo(sni: &str) -> Vec<u8> {
        let mut p = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8];
        p.extend_from_slice(b"Q039");
        p.push(1);
        p.extend_from_slice(&[0xaa; 12]);
        p.extend_from_slice(&[0xa0, 0x01, 0x00, 0x04]);
        let values: [(&[u8; 4], &[u8]); 3] = [
            (b"PAD\0", b"----"),
            (b"SNI\0", sni.as_bytes()),
            (b"UAID", b"Chrome/62.0.3202.94 Windows NT 10.0"),
        ];
        p.extend_from_slice(b"CHLO");
        p.extend_from_slice(&(values.len() as u16).to_le_bytes());
        p.extend_from_slice(&[0, 0]);
        let mut end = 0u32;
        for (tag, value) in &values {
            end += value.len() as u32;
            p.extend_from_slice(*tag);
            p.extend_from_slice(&end.to_le_bytes());
        }
        for (_, value) in &values {
            p.extend_from_slice(value);
        }
        p.resize(1350, b'-');
        p
    }

    #[test]
    fn reads_the_server_name_of_a_google_quic_chlo() {
        let packet = gquic_chlo("www.googleapis.com");
        let quic = parse_client(&[&packet]).unwrap();
        assert_eq!(quic.version, "Q039");
        assert_eq!(quic.hello.sni.as_deref(), Some("www.googleapis.com"));
        assert_eq!(
            quic.user_agent.as_deref(),
            Some("Chrome/62.0.3202.94 Windows NT 10.0")
        );
        // Offsets going backwards, or no CHLO near the header: not a CHLO.
        let mut bad = packet.clone();
        bad[30 + 16 + 4] = 0;
        assert_eq!(parse_client(&[&bad]), None);
        assert_eq!(parse_client(&[&packet[..20]]), None);
        let mut no_version = packet.clone();
        no_version[0] = 0x0c;
        assert_eq!(parse_client(&[&no_version]), None);
    }

    #[test]
    fn cut_or_mutated_packets_never_panic() {
        let ietf = rfc9001_client_initial();
        let google = gquic_chlo("www.googleapis.com");
        for packet in [&ietf, &google] {
            for cut in 0..packet.len().min(400) {
                let _ = parse_client(&[&packet[..cut]]);
            }
            for at in 0..64 {
                for value in [0x00, 0x3f, 0x40, 0x80, 0xff] {
                    let mut mutated = packet.to_vec();
                    mutated[at] = value;
                    let _ = parse_client(&[&mutated, packet]);
                }
            }
        }
    }
}
