//! TLS fingerprints: JA3 and JA3S (Salesforce, <https://github.com/salesforce/ja3>) and JA4 and JA4S
//! (FoxIO, <https://github.com/FoxIO-LLC/ja4>, `technical_details/JA4.md`). They name the TLS stack
//! of a client or server from what its hello offers, so an analyst can pivot on them when the server
//! name is missing or faked. This module reads the hello messages by hand (the fingerprints need
//! every value in wire order, GREASE included so it can be dropped) and promises to follow the
//! published definitions exactly: the tests hold the published values. Malformed input gives `None`.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

use crate::text::hex;
use crate::tls::is_grease;

const SERVER_NAME: u16 = 0x0000;
const SUPPORTED_GROUPS: u16 = 0x000a;
const EC_POINT_FORMATS: u16 = 0x000b;
const SIGNATURE_ALGORITHMS: u16 = 0x000d;
const ALPN: u16 = 0x0010;
const SUPPORTED_VERSIONS: u16 = 0x002b;

/// The fingerprints of a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// JA3's full string: `771,4865-4866,0-23-65281,29-23,0`.
    pub ja3_full: String,
    /// The MD5 of `ja3_full`, lower-case hex.
    pub ja3: String,
    /// JA4: `t13d1516h2_8daaf6152771_e5627efa2ab1` (`q` first for QUIC).
    pub ja4: String,
}

/// The fingerprints of a ServerHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// JA3S's full string: `771,52393,0-65281-11-16`.
    pub ja3s_full: String,
    /// The MD5 of `ja3s_full`.
    pub ja3s: String,
    /// JA4S: `t1204h2_cca9_1428ce7b4018`.
    pub ja4s: String,
}

/// What a hello says, in wire order.
#[derive(Debug, Default)]
struct Hello<'a> {
    legacy_version: u16,
    ciphers: Vec<u16>,
    /// Extension types in order.
    extensions: Vec<u16>,
    groups: Vec<u16>,
    point_formats: Vec<u8>,
    signature_algorithms: Vec<u16>,
    /// The first ALPN protocol, as sent.
    alpn: Option<&'a [u8]>,
    /// `supported_versions`: every offered version (client) or the selected one (server).
    versions: Option<Vec<u16>>,
}

/// A cursor over big-endian fields.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a `width`-byte length.
    fn vec(&mut self, width: usize) -> Option<&'a [u8]> {
        let len = match width {
            1 => usize::from(self.u8()?),
            _ => usize::from(self.u16()?),
        };
        self.take(len)
    }
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect()
}

/// Reads an extension block into `hello`; `client` decides how `supported_versions` is framed.
fn read_extensions<'a>(mut r: Reader<'a>, hello: &mut Hello<'a>, client: bool) -> Option<()> {
    while !r.0.is_empty() {
        let kind = r.u16()?;
        let mut data = Reader(r.vec(2)?);
        hello.extensions.push(kind);
        match kind {
            SUPPORTED_GROUPS => hello.groups = u16s(data.vec(2)?),
            EC_POINT_FORMATS => hello.point_formats = data.vec(1)?.to_vec(),
            SIGNATURE_ALGORITHMS => hello.signature_algorithms = u16s(data.vec(2)?),
            ALPN => hello.alpn = Reader(data.vec(2)?).vec(1),
            SUPPORTED_VERSIONS if client => hello.versions = Some(u16s(data.vec(1)?)),
            SUPPORTED_VERSIONS => hello.versions = Some(vec![data.u16()?]),
            _ => {}
        }
    }
    Some(())
}

/// The body of a ClientHello (after its 4-byte handshake header).
fn read_client(body: &[u8]) -> Option<Hello<'_>> {
    let mut r = Reader(body);
    let mut hello = Hello {
        legacy_version: r.u16()?,
        ..Hello::default()
    };
    r.take(32)?;
    r.vec(1)?;
    hello.ciphers = u16s(r.vec(2)?);
    r.vec(1)?;
    if !r.0.is_empty() {
        read_extensions(Reader(r.vec(2)?), &mut hello, true)?;
    }
    Some(hello)
}

/// The body of a ServerHello.
fn read_server(body: &[u8]) -> Option<Hello<'_>> {
    let mut r = Reader(body);
    let mut hello = Hello {
        legacy_version: r.u16()?,
        ..Hello::default()
    };
    r.take(32)?;
    r.vec(1)?;
    hello.ciphers = vec![r.u16()?];
    r.u8()?;
    if !r.0.is_empty() {
        read_extensions(Reader(r.vec(2)?), &mut hello, false)?;
    }
    Some(hello)
}

fn dashed<T: std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    let mut out = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
    out
}

fn hex_list(values: impl Iterator<Item = u16>) -> String {
    let mut out = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&hex(&v.to_be_bytes()));
    }
    out
}

fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

/// JA4's truncated hash: the first 12 hex digits of SHA-256, or twelve zeros for an empty list.
fn hash12(text: &str) -> String {
    if text.is_empty() {
        return "000000000000".into();
    }
    hex(&Sha256::digest(text.as_bytes()))[..12].to_string()
}

/// JA4's two-character version.
fn ja4_version(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN characters: the first and last character of the first protocol when both are ASCII
/// letters or digits, else the first and last character of its hex form; `00` without one.
fn alpn_chars(alpn: Option<&[u8]>) -> String {
    let Some(alpn) = alpn.filter(|a| !a.is_empty()) else {
        return "00".into();
    };
    let (first, last) = (alpn[0], alpn[alpn.len() - 1]);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        return format!("{}{}", first as char, last as char);
    }
    let hex = hex(alpn);
    let (a, b) = (&hex[..1], &hex[hex.len() - 1..]);
    format!("{a}{b}")
}

/// The version a hello stands for: the highest `supported_versions` entry, else the legacy field.
fn hello_version(hello: &Hello<'_>) -> u16 {
    hello
        .versions
        .as_ref()
        .and_then(|v| v.iter().copied().filter(|&v| !is_grease(v)).max())
        .unwrap_or(hello.legacy_version)
}

/// The fingerprints of a whole ClientHello handshake message (4-byte header included). `quic`
/// marks a hello carried by QUIC (`q` instead of `t` in JA4).
pub fn client(message: &[u8], quic: bool) -> Option<Client> {
    let hello = read_client(message.get(4..)?)?;
    let keep = |v: &u16| !is_grease(*v);
    let ja3_full = format!(
        "{},{},{},{},{}",
        hello.legacy_version,
        dashed(hello.ciphers.iter().filter(|v| keep(v))),
        dashed(hello.extensions.iter().filter(|v| keep(v))),
        dashed(hello.groups.iter().filter(|v| keep(v))),
        dashed(hello.point_formats.iter()),
    );
    let ciphers: Vec<u16> = hello.ciphers.iter().copied().filter(keep).collect();
    let extensions: Vec<u16> = hello.extensions.iter().copied().filter(keep).collect();
    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let mut sorted_exts: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|&e| e != SERVER_NAME && e != ALPN)
        .collect();
    sorted_exts.sort_unstable();
    let exts = hex_list(sorted_exts.into_iter());
    let sigs = hex_list(hello.signature_algorithms.iter().copied().filter(keep));
    let ext_hash = match (exts.is_empty(), sigs.is_empty()) {
        (true, _) => hash12(""),
        (false, true) => hash12(&exts),
        (false, false) => hash12(&format!("{exts}_{sigs}")),
    };
    let ja4 = format!(
        "{}{}{}{:02}{:02}{}_{}_{}",
        if quic { 'q' } else { 't' },
        ja4_version(hello_version(&hello)),
        if extensions.contains(&SERVER_NAME) {
            'd'
        } else {
            'i'
        },
        ciphers.len().min(99),
        extensions.len().min(99),
        alpn_chars(hello.alpn),
        hash12(&hex_list(sorted_ciphers.into_iter())),
        ext_hash,
    );
    Some(Client {
        ja3: md5_hex(&ja3_full),
        ja3_full,
        ja4,
    })
}

/// The fingerprints of a whole ServerHello handshake message (4-byte header included).
pub fn server(message: &[u8], quic: bool) -> Option<Server> {
    let hello = read_server(message.get(4..)?)?;
    let cipher = hello.ciphers[0];
    let ja3s_full = format!(
        "{},{},{}",
        hello.legacy_version,
        cipher,
        dashed(hello.extensions.iter())
    );
    let ja4s = format!(
        "{}{}{:02}{}_{cipher:04x}_{}",
        if quic { 'q' } else { 't' },
        ja4_version(hello_version(&hello)),
        hello.extensions.len().min(99),
        alpn_chars(hello.alpn),
        hash12(&hex_list(hello.extensions.iter().copied())),
    );
    Some(Server {
        ja3s: md5_hex(&ja3s_full),
        ja3s_full,
        ja4s,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hex text (whitespace ignored) as bytes.
    pub(crate) fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// The handshake message inside one handshake record.
    fn in_record(record: &[u8]) -> &[u8] {
        &record[5..]
    }

    #[test]
    fn matches_the_published_ja4_ja4s_and_tshark_ja3_of_a_cloudflare_handshake() {
        // FoxIO-LLC/ja4 pcap/tls-alpn-h2.pcap (stream 0, client and server directions as
        // `tshark -z follow,tcp,raw,0` prints them). Expected values: the repository's
        // python/test/testdata/tls-alpn-h2.pcap.json (JA4.1, JA4S); JA3 and JA3S as tshark 4.0.17
        // prints them for the same packets (tls.handshake.ja3_full, ja3, ja3s_full, ja3s).
        let client_stream = unhex(include_str!("../testdata/ja4-tls-alpn-h2-client.hex"));
        let server_stream = unhex(include_str!("../testdata/ja4-tls-alpn-h2-server.hex"));
        let hello = client(in_record(&client_stream), false).unwrap();
        assert_eq!(hello.ja4, "t12d4605h2_85626a9a5f7f_aaf95bb78ec9");
        assert_eq!(
            hello.ja3_full,
            "771,49200-49196-49192-49188-49172-49162-159-107-57-52393-52392-52394-65413-196-136-129-157-61-53-192-132-49199-49195-49191-49187-49171-49161-158-103-51-190-69-156-60-47-186-65-49169-49159-5-4-49170-49160-22-10-255,0-11-10-13-16,29-23-24,0"
        );
        assert_eq!(hello.ja3, "3faa4ad39f690c4ef1c3160caa375465");
        let len = usize::from(u16::from_be_bytes([server_stream[3], server_stream[4]]));
        let answer = server(&server_stream[5..5 + len], false).unwrap();
        assert_eq!(answer.ja4s, "t1204h2_cca9_1428ce7b4018");
        assert_eq!(answer.ja3s_full, "771,52393,0-65281-11-16");
        assert_eq!(answer.ja3s, "7f76f3e952a1bc7d407366fafe1db7ed");
    }

    #[test]
    fn matches_the_published_ja4_of_a_firefox_tls13_hello() {
        // FoxIO-LLC/ja4 pcap/tls12.pcap (its only ClientHello); expected: the repository's
        // python/test/testdata/tls12.pcap.json (JA4.1); JA3 as tshark 4.0.17 prints it.
        let stream = unhex(include_str!("../testdata/ja4-tls12-firefox-client.hex"));
        let hello = client(in_record(&stream), false).unwrap();
        assert_eq!(hello.ja4, "t13d1715h2_5b57614c22b0_3d5424432f57");
        assert_eq!(hello.ja3, "579ccef312d18482fc42e2b822ca2430");
    }

    #[test]
    fn matches_the_published_ja4_of_a_quic_client_initial() {
        // FoxIO-LLC/ja4 pcap/quic-tls-handshake.pcapng, the UDP payload of its first packet (a
        // Chrome Initial to www.google.com); expected: the repository's
        // rust/ja4/src/snapshots/ja4__insta@quic-tls-handshake.pcapng.snap.
        let datagram = unhex(include_str!(
            "../testdata/ja4-quic-tls-handshake-initial.hex"
        ));
        let quic = crate::quic::parse_client(&[&datagram]).unwrap();
        assert_eq!(quic.hello.sni.as_deref(), Some("www.google.com"));
        let fp = quic.hello.fingerprint.unwrap();
        assert_eq!(fp.ja4, "q13d0310h3_55b375c5d22e_cd85d2d88918");
    }

    #[test]
    fn follows_the_ja4_spec_examples_for_hashes_and_alpn() {
        // FoxIO-LLC/ja4 technical_details/JA4.md: the cipher list example and its hash, the
        // extension list with and without signature algorithms, and the ALPN examples.
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        let exts = "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01";
        assert_eq!(
            hash12(&format!("{exts}_0403,0804,0401,0503,0805,0501,0806,0601")),
            "e5627efa2ab1"
        );
        assert_eq!(hash12(exts), "6d807ffa2a79");
        assert_eq!(hash12(""), "000000000000");
        let alpn = |b: &[u8]| alpn_chars(Some(b));
        assert_eq!(alpn(b"h2"), "h2");
        assert_eq!(alpn(b"http/1.1"), "h1");
        assert_eq!(alpn(b"h"), "hh");
        assert_eq!(alpn(&[0xab]), "ab");
        assert_eq!(alpn(&[0x20]), "20");
        assert_eq!(alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(alpn(&[0x20, 0x61]), "21");
        assert_eq!(alpn(&[0x30, 0xab]), "3b");
        assert_eq!(alpn(&[0x61, 0x20]), "60");
        assert_eq!(alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
        assert_eq!(alpn_chars(None), "00");
        assert_eq!(alpn(b""), "00");
    }

    #[test]
    fn drops_grease_and_counts_what_is_left() {
        // A hand-made hello: GREASE in ciphers, extensions, groups and supported_versions.
        let hello = crate::tls::tests::client_hello("grease.example");
        let fp = client(&hello, false).unwrap();
        // Ciphers 1301, 1302; extensions SNI, supported_versions, ALPN (GREASE 0a0a dropped).
        assert!(fp.ja4.starts_with("t13d0203h2_"), "{}", fp.ja4);
        assert_eq!(fp.ja3_full, "771,4865-4866,0-43-16,,");
        assert!(client(&hello, true).unwrap().ja4.starts_with("q13d"));
        for n in 0..hello.len() {
            let _ = client(&hello[..n], false);
            let _ = server(&hello[..n], false);
        }
    }

    #[test]
    fn matches_the_salesforce_ja3_example() {
        // salesforce/ja3 README: this JA3 string hashes to ada70206e40642a3e4461f35503241d5.
        assert_eq!(
            md5_hex("769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"),
            "ada70206e40642a3e4461f35503241d5"
        );
    }
}
