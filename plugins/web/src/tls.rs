//! TLS handshake recognition: the ClientHello at the start of a client stream (server name, offered
//! versions, ALPN) and the ServerHello at the start of a server stream (negotiated version and
//! cipher). These are the last cleartext facts of an encrypted connection, so they are worth
//! recovering even from a ClientHello split over several records or cut by the payload prefix. Pure
//! functions on byte slices built on tls-parser; malformed input yields `None`, never a panic.

use crate::fingerprint;
use crate::text::clean;
use tls_parser::{
    TlsCipherSuite, TlsExtension, TlsExtensionType, TlsMessage, TlsMessageHandshake, TlsRecordType,
    parse_tls_client_hello_extension, parse_tls_message_handshake, parse_tls_record_header,
    parse_tls_server_hello_extension,
};

/// Records reassembled at most into one handshake message.
const MAX_RECORDS: usize = 8;
/// Largest plaintext record (RFC 8446 section 5.1), plus the slack some stacks use.
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest handshake message reassembled (a ClientHello with post-quantum key shares is ~2 KiB).
const MAX_MESSAGE_LEN: usize = 1 << 16;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// The extension types of ECH (RFC draft) and its ancestor ESNI: the real server name is encrypted.
const ECH: u16 = 0xfe0d;
const ESNI: u16 = 0xffce;
/// The `random` of a ServerHello that is really a HelloRetryRequest (RFC 8446 section 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What a ClientHello says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The `legacy_version` field (`0x0303` for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// The server name (SNI), when the client sent one.
    pub sni: Option<String>,
    /// Versions offered, most preferred first, GREASE removed: the `supported_versions` extension, or
    /// the legacy version without it.
    pub versions: Vec<u16>,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<String>,
    /// True when the client used Encrypted Client Hello (or ESNI): the SNI is then only the public
    /// name of the front end.
    pub ech: bool,
    /// False when the message was cut by the end of the prefix: the extensions read are those that
    /// fit.
    pub complete: bool,
    /// JA3 and JA4, when the message is whole.
    pub fingerprint: Option<fingerprint::Client>,
}

/// What a ServerHello says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// The negotiated version: `supported_versions` when present, else the legacy version.
    pub version: u16,
    /// The selected cipher suite.
    pub cipher: u16,
    /// The selected ALPN protocol (TLS 1.2 only: TLS 1.3 sends it encrypted).
    pub alpn: Option<String>,
    /// True when this is a HelloRetryRequest: the server asked for another ClientHello.
    pub retry: bool,
    /// JA3S and JA4S.
    pub fingerprint: Option<fingerprint::Server>,
}

/// True for the GREASE values of RFC 8701 (`0x0a0a`, `0x1a1a`, ... `0xfafa`).
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// A protocol version as people write it: `TLS 1.3`, `SSL 3.0`, `TLS 1.3 draft 23`, else hex.
pub fn version_name(version: u16) -> String {
    match version {
        0x0002 | 0x0200 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft {}", version & 0xff),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        _ => format!("0x{version:04x}"),
    }
}

/// The IANA name of a cipher suite (`TLS_AES_128_GCM_SHA256`), else its number in hex.
pub fn cipher_name(cipher: u16) -> String {
    match TlsCipherSuite::from_id(cipher) {
        Some(suite) => suite.name.to_string(),
        None => format!("0x{cipher:04x}"),
    }
}

/// The first handshake message of a stream, reassembled from the consecutive handshake records at
/// its start.
struct Handshake {
    /// The whole message, header included, cut at its declared length.
    bytes: Vec<u8>,
    /// False when the stream ended before the message did.
    complete: bool,
}

fn first_handshake_message(stream: &[u8], msg_type: u8) -> Option<Handshake> {
    let mut bytes = Vec::new();
    let mut rest = stream;
    for _ in 0..MAX_RECORDS {
        let Ok((after_header, header)) = parse_tls_record_header(rest) else {
            break;
        };
        let len = usize::from(header.len);
        if header.record_type != TlsRecordType::Handshake
            || header.version.0 >> 8 != 3
            || len == 0
            || len > MAX_RECORD_LEN
        {
            break;
        }
        let available = after_header.len().min(len);
        bytes.extend_from_slice(after_header.get(..available)?);
        if bytes.first() != Some(&msg_type) {
            return None;
        }
        if available < len || message_len(&bytes).is_some_and(|total| bytes.len() >= total) {
            break;
        }
        rest = after_header.get(len..)?;
    }
    let total = message_len(&bytes)?;
    if total > MAX_MESSAGE_LEN {
        return None;
    }
    let complete = bytes.len() >= total;
    bytes.truncate(total);
    Some(Handshake { bytes, complete })
}

/// The length of a handshake message, header included, from its 4-byte header.
fn message_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..4)?;
    Some(4 + (usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3])))
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// The extensions of an extension block, each parsed on its own so that one malformed extension
/// hides none of the others. A cut block yields the extensions that fit.
fn extensions(mut block: &[u8], server: bool) -> Vec<TlsExtension<'_>> {
    let mut found = Vec::new();
    while let Some(len) = be_u16(block, 2) {
        let end = 4 + usize::from(len);
        let Some(one) = block.get(..end) else {
            break;
        };
        let parsed = if server {
            parse_tls_server_hello_extension(one)
        } else {
            parse_tls_client_hello_extension(one)
        };
        if let Ok((_, extension)) = parsed {
            found.push(extension);
        }
        block = block.get(end..).unwrap_or_default();
    }
    found
}

/// The legacy version and the (possibly cut, possibly empty) extension block of a ClientHello
/// body, walked by hand so that a message cut by the prefix still gives what it has.
fn client_hello_fields(body: &[u8]) -> Option<(u16, &[u8])> {
    let version = be_u16(body, 0)?;
    let block = (|| {
        let mut at = 2 + 32;
        at += 1 + usize::from(*body.get(at)?); // session id
        at += 2 + usize::from(be_u16(body, at)?); // cipher suites
        at += 1 + usize::from(*body.get(at)?); // compression methods
        let ext_len = usize::from(be_u16(body, at)?);
        let block = body.get(at + 2..)?;
        Some(block.get(..ext_len).unwrap_or(block))
    })();
    Some((version, block.unwrap_or_default()))
}

/// Parses the ClientHello at the start of a client→server stream, reassembled from up to
/// [`MAX_RECORDS`] handshake records. A ClientHello cut by the prefix still gives its fields and the
/// extensions that fit, with `complete` false.
pub fn parse_client_hello(stream: &[u8]) -> Option<ClientHello> {
    client_hello_of(first_handshake_message(stream, CLIENT_HELLO)?, false)
}

/// Parses a ClientHello handshake message without the record layer, as QUIC carries it in CRYPTO
/// frames. A message cut short still gives its fields and the extensions that fit, with `complete`
/// false.
pub fn parse_client_hello_message(message: &[u8]) -> Option<ClientHello> {
    if message.first() != Some(&CLIENT_HELLO) {
        return None;
    }
    let total = message_len(message)?;
    if total > MAX_MESSAGE_LEN {
        return None;
    }
    let bytes = message.get(..total).unwrap_or(message).to_vec();
    client_hello_of(
        Handshake {
            complete: bytes.len() == total,
            bytes,
        },
        true,
    )
}

/// The fields of a ClientHello message; `quic` says which transport carried it (for JA4).
fn client_hello_of(message: Handshake, quic: bool) -> Option<ClientHello> {
    let (legacy_version, block) = if message.complete {
        match parse_tls_message_handshake(&message.bytes) {
            Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)))) => {
                (hello.version.0, hello.ext.unwrap_or_default())
            }
            _ => return None,
        }
    } else {
        client_hello_fields(message.bytes.get(4..)?)?
    };
    let mut hello = ClientHello {
        legacy_version,
        complete: message.complete,
        fingerprint: message
            .complete
            .then(|| fingerprint::client(&message.bytes, quic))
            .flatten(),
        ..ClientHello::default()
    };
    for extension in extensions(block, false) {
        match extension {
            TlsExtension::SNI(names) => {
                // Type 0 is host_name, the only type ever defined.
                hello.sni = names
                    .iter()
                    .find(|(kind, name)| kind.0 == 0 && !name.is_empty())
                    .map(|(_, name)| clean(name, 255));
            }
            TlsExtension::SupportedVersions(versions) => {
                hello.versions = versions
                    .iter()
                    .map(|v| v.0)
                    .filter(|&v| !is_grease(v))
                    .collect();
            }
            TlsExtension::ALPN(protocols) => {
                hello.alpn = protocols
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| clean(p, 64))
                    .collect();
            }
            TlsExtension::EncryptedServerName { .. } => hello.ech = true,
            TlsExtension::Unknown(TlsExtensionType(ECH | ESNI), _) => hello.ech = true,
            _ => {}
        }
    }
    if hello.versions.is_empty() {
        hello.versions.push(legacy_version);
    }
    Some(hello)
}

/// Parses the ServerHello (or HelloRetryRequest) at the start of a server→client stream. Needs the
/// whole message.
pub fn parse_server_hello(stream: &[u8]) -> Option<ServerHello> {
    let message = first_handshake_message(stream, SERVER_HELLO)?;
    if !message.complete {
        return None;
    }
    let Ok((_, TlsMessage::Handshake(handshake))) = parse_tls_message_handshake(&message.bytes)
    else {
        return None;
    };
    let (version, cipher, random, block) = match handshake {
        TlsMessageHandshake::ServerHello(hello) => {
            (hello.version.0, hello.cipher.0, hello.random, hello.ext)
        }
        TlsMessageHandshake::ServerHelloV13Draft18(hello) => {
            (hello.version.0, hello.cipher.0, hello.random, hello.ext)
        }
        _ => return None,
    };
    let mut hello = ServerHello {
        version,
        cipher,
        alpn: None,
        retry: random == HELLO_RETRY_RANDOM,
        fingerprint: fingerprint::server(&message.bytes, false),
    };
    for extension in extensions(block.unwrap_or_default(), true) {
        match extension {
            TlsExtension::SupportedVersions(versions) => {
                if let Some(selected) = versions.first() {
                    hello.version = selected.0;
                }
            }
            TlsExtension::ALPN(protocols) => {
                hello.alpn = protocols
                    .first()
                    .map(|p| clean(p, 64))
                    .filter(|p| !p.is_empty());
            }
            _ => {}
        }
    }
    Some(hello)
}

/// How many well-formed TLS records follow one another from the start of a stream, counting only
/// complete ones: record type 20 to 24, a 3.x record version, a length a record can have. A stream
/// that is TLS but whose handshake came before the capture starts like this.
pub fn record_chain(stream: &[u8]) -> usize {
    let mut rest = stream;
    let mut count = 0;
    while let Ok((after_header, header)) = parse_tls_record_header(rest) {
        let len = usize::from(header.len);
        if !(20..=24).contains(&header.record_type.0)
            || !(0x0300..=0x0304).contains(&header.version.0)
            || len == 0
            || len > MAX_RECORD_LEN
        {
            break;
        }
        let Some(next) = after_header.get(len..) else {
            break;
        };
        count += 1;
        rest = next;
    }
    count
}

/// True when both streams look like a TLS session already under way (the capture began after the
/// handshake): at least two complete records in total, with neither side contradicting it.
pub fn is_mid_stream(to_server: &[u8], to_client: &[u8]) -> bool {
    let (client, server) = (record_chain(to_server), record_chain(to_client));
    let fits = |stream: &[u8], chain: usize| stream.is_empty() || chain > 0;
    client + server >= 2 && fits(to_server, client) && fits(to_client, server)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record header for `len` bytes of handshake data.
    pub(crate) fn record_of(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x16, 0x03, 0x01];
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    /// A ClientHello handshake message (header included) for `host`, offering GREASE, TLS 1.3 and 1.2
    /// and ALPN h2, http/1.1.
    pub(crate) fn client_hello(host: &str) -> Vec<u8> {
        let mut sni = Vec::new();
        sni.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
        sni.extend_from_slice(host.as_bytes());
        let mut exts = extension(0x0a0a, b"");
        exts.extend(extension(0, &sni));
        exts.extend(extension(43, &[6, 0x1a, 0x1a, 0x03, 0x04, 0x03, 0x03]));
        exts.extend(extension(16, b"\x00\x0c\x02h2\x08http/1.1"));
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut message = vec![CLIENT_HELLO, 0];
        message.extend_from_slice(&(body.len() as u16).to_be_bytes());
        message.extend(body);
        message
    }

    fn server_hello(version_ext: bool) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[9; 32]);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x01, 0]);
        let exts = if version_ext {
            extension(43, &[0x03, 0x04])
        } else {
            Vec::new()
        };
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut message = vec![SERVER_HELLO, 0];
        message.extend_from_slice(&(body.len() as u16).to_be_bytes());
        message.extend(body);
        message
    }

    #[test]
    fn parses_a_client_hello_in_one_record() {
        let hello = parse_client_hello(&record_of(&client_hello("www.example.com"))).unwrap();
        assert_eq!(hello.sni.as_deref(), Some("www.example.com"));
        assert_eq!(hello.versions, [0x0304, 0x0303]);
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert!(hello.complete);
        assert!(!hello.ech);
    }

    #[test]
    fn reassembles_a_client_hello_split_over_two_records() {
        let message = client_hello("split.example.org");
        let (a, b) = message.split_at(20);
        let mut stream = record_of(a);
        stream.extend(record_of(b));
        let hello = parse_client_hello(&stream).unwrap();
        assert_eq!(hello.sni.as_deref(), Some("split.example.org"));
        assert!(hello.complete);
        // Only the first record in the prefix: the fields that fit, marked incomplete.
        let first = record_of(a);
        let hello = parse_client_hello(&first).unwrap();
        assert!(!hello.complete);
        assert_eq!(hello.legacy_version, 0x0303);
        assert_eq!(hello.sni, None);
    }

    #[test]
    fn keeps_the_extensions_of_a_client_hello_cut_by_the_prefix() {
        let stream = record_of(&client_hello("cut.example.net"));
        // Cut inside the ALPN extension: SNI and supported_versions are whole.
        let hello = parse_client_hello(&stream[..stream.len() - 4]).unwrap();
        assert!(!hello.complete);
        assert_eq!(hello.sni.as_deref(), Some("cut.example.net"));
        assert_eq!(hello.versions, [0x0304, 0x0303]);
        assert!(hello.alpn.is_empty());
        for n in 0..stream.len() {
            let _ = parse_client_hello(&stream[..n]);
        }
    }

    #[test]
    fn parses_server_hellos() {
        let hello = parse_server_hello(&record_of(&server_hello(true))).unwrap();
        assert_eq!(
            (hello.version, hello.cipher, hello.retry),
            (0x0304, 0x1301, false)
        );
        let hello = parse_server_hello(&record_of(&server_hello(false))).unwrap();
        assert_eq!(hello.version, 0x0303);
        assert_eq!(cipher_name(hello.cipher), "TLS_AES_128_GCM_SHA256");
        let mut retry = server_hello(true);
        retry[6..38].copy_from_slice(&HELLO_RETRY_RANDOM);
        assert!(parse_server_hello(&record_of(&retry)).unwrap().retry);
    }

    #[test]
    fn rejects_what_is_not_a_hello() {
        assert_eq!(parse_client_hello(b""), None);
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse_client_hello(&record_of(&server_hello(true))), None);
        assert_eq!(parse_server_hello(&record_of(&client_hello("x"))), None);
        // An alert record, an empty record, a record of garbage.
        assert_eq!(parse_client_hello(b"\x15\x03\x03\x00\x02\x02\x28"), None);
        assert_eq!(parse_client_hello(b"\x16\x03\x01\x00\x00"), None);
        assert_eq!(
            parse_client_hello(&record_of(&[1, 0, 0, 3, 0xff, 0xff, 0xff])),
            None
        );
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for n in [5, 100, 4096] {
            let mut stream = vec![0x16, 0x03, 0x01, 0x0f, 0xf0, 0x01];
            stream.extend_from_slice(&noise[..n]);
            let _ = parse_client_hello(&stream);
            let _ = parse_server_hello(&stream);
        }
    }

    #[test]
    fn recognises_a_session_whose_handshake_was_not_captured() {
        let app = |n: usize| {
            let mut r = vec![0x17, 0x03, 0x03];
            r.extend_from_slice(&(n as u16).to_be_bytes());
            r.extend(std::iter::repeat_n(0x5a, n));
            r
        };
        let client = [app(40), app(10)].concat();
        assert_eq!(record_chain(&client), 2);
        assert_eq!(
            record_chain(&client[..50]),
            1,
            "a cut record does not count"
        );
        assert!(is_mid_stream(&client, b""));
        assert!(is_mid_stream(&app(30), &app(50)));
        assert!(
            !is_mid_stream(&app(30), b""),
            "one record alone is too little"
        );
        assert!(!is_mid_stream(&client, b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!is_mid_stream(b"GET / HTTP/1.1\r\n\r\n", b""));
        assert_eq!(record_chain(b"\x17\x03\x03\x00\x00"), 0);
        assert_eq!(record_chain(b"\x19\x03\x03\x00\x01x"), 0);
    }

    #[test]
    fn names_versions_and_grease() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f17), "TLS 1.3 draft 23");
        assert_eq!(version_name(0x1234), "0x1234");
        assert!(is_grease(0x0a0a) && is_grease(0xfafa));
        assert!(!is_grease(0x0a1a) && !is_grease(0x0303));
        assert_eq!(cipher_name(0xffff), "0xffff");
    }
}
