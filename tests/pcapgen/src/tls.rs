//! Hand-written TLS records: ClientHello (server_name, supported_versions,
//! ALPN, key_share…), ServerHello, and opaque application data, carried in a
//! TCP session. The bytes follow RFC 8446 / RFC 5246 so Wireshark and
//! `tls-parser` decode them; the "encrypted" parts are random bytes.

use std::io;

use crate::{Capture, Endpoint, Rng, Side, TcpEnd};

/// TLS 1.2 protocol version.
pub const TLS12: u16 = 0x0303;
/// TLS 1.3 protocol version.
pub const TLS13: u16 = 0x0304;

const CONTENT_CCS: u8 = 20;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPDATA: u8 = 23;

/// What the client offers in its ClientHello.
#[derive(Clone, Debug)]
pub struct TlsHello<'a> {
    /// server_name extension (omitted when `None`).
    pub sni: Option<&'a str>,
    /// ALPN protocols in preference order, e.g. `["h2", "http/1.1"]` (omitted when empty).
    pub alpn: &'a [&'a str],
    /// supported_versions, e.g. `[TLS13, TLS12]`; TLS 1.3 is negotiated when offered.
    pub versions: &'a [u16],
}

impl<'a> TlsHello<'a> {
    /// A browser-like hello: SNI, ALPN `h2`/`http/1.1`, TLS 1.3 and 1.2.
    pub fn browser(sni: &'a str) -> Self {
        TlsHello {
            sni: Some(sni),
            alpn: &["h2", "http/1.1"],
            versions: &[TLS13, TLS12],
        }
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` preceded by its length in `len_bytes` (1, 2 or 3) bytes.
fn put_vec(out: &mut Vec<u8>, len_bytes: usize, body: &[u8]) {
    let len = (body.len() as u32).to_be_bytes();
    out.extend_from_slice(&len[4 - len_bytes..]);
    out.extend_from_slice(body);
}

fn put_ext(out: &mut Vec<u8>, ext_type: u16, body: &[u8]) {
    put_u16(out, ext_type);
    put_vec(out, 2, body);
}

/// Wraps a body in a record header (`legacy_version` 0x0301 for the first hello).
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type];
    put_u16(&mut out, version);
    put_vec(&mut out, 2, body);
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![msg_type];
    put_vec(&mut out, 3, body);
    out
}

/// The ClientHello record for `hello`, with random/session id/key share from `rng`.
pub fn client_hello(hello: &TlsHello, rng: &mut Rng) -> Vec<u8> {
    let mut b = Vec::with_capacity(512);
    put_u16(&mut b, TLS12); // legacy_version
    b.extend_from_slice(&rng.bytes(32)); // random
    put_vec(&mut b, 1, &rng.bytes(32)); // legacy_session_id
    let suites: &[u16] = &[
        0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
        0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let suites: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    put_vec(&mut b, 2, &suites);
    put_vec(&mut b, 1, &[0]); // compression: null

    let mut ext = Vec::new();
    if let Some(sni) = hello.sni {
        let mut entry = vec![0u8]; // host_name
        put_vec(&mut entry, 2, sni.as_bytes());
        let mut list = Vec::new();
        put_vec(&mut list, 2, &entry);
        put_ext(&mut ext, 0x0000, &list);
    }
    put_ext(&mut ext, 0x0017, &[]); // extended_master_secret
    put_ext(&mut ext, 0xff01, &[0]); // renegotiation_info
    put_ext(
        &mut ext,
        0x000a,
        &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    ); // groups
    put_ext(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    put_ext(&mut ext, 0x0023, &[]); // session_ticket
    if !hello.alpn.is_empty() {
        let mut list = Vec::new();
        for p in hello.alpn {
            put_vec(&mut list, 1, p.as_bytes());
        }
        let mut body = Vec::new();
        put_vec(&mut body, 2, &list);
        put_ext(&mut ext, 0x0010, &body);
    }
    put_ext(&mut ext, 0x0005, &[1, 0, 0, 0, 0]); // status_request: OCSP
    let sigs: &[u16] = &[
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
    ];
    let sigs: Vec<u8> = sigs.iter().flat_map(|s| s.to_be_bytes()).collect();
    let mut body = Vec::new();
    put_vec(&mut body, 2, &sigs);
    put_ext(&mut ext, 0x000d, &body); // signature_algorithms
    if hello.versions.contains(&TLS13) {
        let mut share = Vec::new();
        put_u16(&mut share, 0x001d); // x25519
        put_vec(&mut share, 2, &rng.bytes(32));
        let mut body = Vec::new();
        put_vec(&mut body, 2, &share);
        put_ext(&mut ext, 0x0033, &body); // key_share
    }
    if !hello.versions.is_empty() {
        let v: Vec<u8> = hello
            .versions
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let mut body = Vec::new();
        put_vec(&mut body, 1, &v);
        put_ext(&mut ext, 0x002b, &body); // supported_versions
    }
    if hello.versions.contains(&TLS13) {
        put_ext(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    }
    put_vec(&mut b, 2, &ext);
    record(CONTENT_HANDSHAKE, 0x0301, &handshake(1, &b))
}

/// The ServerHello record choosing `version`; for TLS 1.2 it carries the
/// chosen `alpn` (TLS 1.3 sends ALPN in the encrypted extensions).
pub fn server_hello(version: u16, session_id: &[u8], alpn: Option<&str>, rng: &mut Rng) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    put_u16(&mut b, TLS12);
    b.extend_from_slice(&rng.bytes(32));
    put_vec(&mut b, 1, session_id);
    let suite: u16 = if version == TLS13 { 0x1301 } else { 0xc02f };
    put_u16(&mut b, suite);
    b.push(0); // compression
    let mut ext = Vec::new();
    if version == TLS13 {
        put_ext(&mut ext, 0x002b, &TLS13.to_be_bytes());
        let mut share = Vec::new();
        put_u16(&mut share, 0x001d);
        put_vec(&mut share, 2, &rng.bytes(32));
        put_ext(&mut ext, 0x0033, &share);
    } else {
        put_ext(&mut ext, 0xff01, &[0]);
        put_ext(&mut ext, 0x000b, &[1, 0]);
        put_ext(&mut ext, 0x0017, &[]);
        if let Some(p) = alpn {
            let mut list = Vec::new();
            put_vec(&mut list, 1, p.as_bytes());
            let mut body = Vec::new();
            put_vec(&mut body, 2, &list);
            put_ext(&mut ext, 0x0010, &body);
        }
    }
    put_vec(&mut b, 2, &ext);
    record(CONTENT_HANDSHAKE, TLS12, &handshake(2, &b))
}

/// Opaque application-data records holding `len` random bytes (≤ 16 KiB each).
pub fn app_data(len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 5 * (len / 16384 + 1));
    let mut left = len;
    while left > 0 {
        let n = left.min(16384);
        out.extend_from_slice(&record(CONTENT_APPDATA, TLS12, &rng.bytes(n)));
        left -= n;
    }
    out
}

fn ccs() -> Vec<u8> {
    record(CONTENT_CCS, TLS12, &[1])
}

impl Capture {
    /// A TLS connection inside a TCP session: handshake, ClientHello for
    /// `hello`, ServerHello (TLS 1.3 if offered, else 1.2) and the rest of
    /// the handshake as opaque records, then `app_data` records of the given
    /// sizes in the given directions, FIN teardown.
    pub fn tls_session(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        hello: &TlsHello,
        app: &[(Side, usize)],
    ) -> io::Result<()> {
        let mut conn = self.tcp_connect(client, server)?;
        let ch = client_hello(hello, self.rng());
        // legacy_session_id sits after record(5) + handshake(4) + version(2) + random(32) + len(1).
        let session_id = ch[44..76].to_vec();
        self.tcp_send(&mut conn, Side::Client, &ch)?;
        let tls13 = hello.versions.contains(&TLS13);
        let version = if tls13 { TLS13 } else { TLS12 };
        let mut flight = server_hello(
            version,
            &session_id,
            hello.alpn.first().copied(),
            self.rng(),
        );
        if tls13 {
            flight.extend(ccs());
            // EncryptedExtensions, Certificate, CertificateVerify, Finished.
            let n = self.rng().range(2500, 4200) as usize;
            flight.extend(app_data(n, self.rng()));
            self.tcp_send(&mut conn, Side::Server, &flight)?;
            let mut fin = ccs();
            fin.extend(app_data(53, self.rng()));
            self.tcp_send(&mut conn, Side::Client, &fin)?;
        } else {
            flight.extend(record(CONTENT_HANDSHAKE, TLS12, &handshake(14, &[])));
            self.tcp_send(&mut conn, Side::Server, &flight)?;
            let mut cke = Vec::new();
            put_vec(&mut cke, 1, &self.rng().bytes(32));
            let mut msg = record(CONTENT_HANDSHAKE, TLS12, &handshake(16, &cke));
            msg.extend(ccs());
            msg.extend(record(CONTENT_HANDSHAKE, TLS12, &self.rng().bytes(40)));
            self.tcp_send(&mut conn, Side::Client, &msg)?;
            let mut fin = ccs();
            fin.extend(record(CONTENT_HANDSHAKE, TLS12, &self.rng().bytes(40)));
            self.tcp_send(&mut conn, Side::Server, &fin)?;
        }
        let mut last = if tls13 { Side::Client } else { Side::Server };
        for &(side, len) in app {
            let data = app_data(len, self.rng());
            self.tcp_send(&mut conn, side, &data)?;
            last = side;
        }
        let peer = match last {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        self.tcp_ack(&mut conn, peer)?;
        self.tcp_close(conn, TcpEnd::Fin)
    }
}

/// Fixed certificates for TLS handshakes that show a chain, made once with OpenSSL 3.0 (RSA keys
/// thrown away). `LEAF` is for `shop.pcapgen.test` (names `shop.pcapgen.test`,
/// `www.shop.pcapgen.test`, `192.0.2.80`), serial `0b:ad:c0:ff:ee`, valid 2020-01-01 to 2021-01-01
/// (expired for any capture after that), issued by `INTERMEDIATE`, itself issued by `ROOT`.
/// `SELF_SIGNED` is `CN=router.lan`, serial 7, valid 2023-01-01 to 2033-01-01. Their fields and
/// fingerprints as `openssl x509 -noout -subject -issuer -serial -dates -fingerprint` prints them
/// are in `certs/README.md`.
pub mod certs {
    /// Leaf certificate of `shop.pcapgen.test` (DER, 1414 bytes).
    pub const LEAF: &[u8] = include_bytes!("certs/leaf.der");
    /// The intermediate CA that issued `LEAF` (DER).
    pub const INTERMEDIATE: &[u8] = include_bytes!("certs/int.der");
    /// The root CA that issued `INTERMEDIATE` (DER, self-signed).
    pub const ROOT: &[u8] = include_bytes!("certs/root.der");
    /// A self-signed certificate for `router.lan` (DER).
    pub const SELF_SIGNED: &[u8] = include_bytes!("certs/self.der");
}

/// A TLS 1.2 Certificate handshake message carrying `chain` (leaf first).
pub fn certificate_message(chain: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for cert in chain {
        put_vec(&mut list, 3, cert);
    }
    let mut body = Vec::new();
    put_vec(&mut body, 3, &list);
    handshake(11, &body)
}

/// Handshake messages cut into handshake records of at most `record_max` bytes each, as a TLS
/// stack may fragment them (a message then spans records).
pub fn handshake_records(messages: &[u8], record_max: usize) -> Vec<u8> {
    messages
        .chunks(record_max.max(1))
        .flat_map(|part| record(CONTENT_HANDSHAKE, TLS12, part))
        .collect()
}

impl Capture {
    /// A TLS 1.2 connection whose server shows its certificate `chain`: ClientHello for `hello`,
    /// then ServerHello, Certificate and ServerHelloDone in handshake records of at most
    /// `record_max` bytes (so the Certificate spans records, and TCP segments), the client's key
    /// exchange, both ChangeCipherSpecs and Finished, one application record each way, FIN.
    pub fn tls12_session_with_chain(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        hello: &TlsHello,
        chain: &[&[u8]],
        record_max: usize,
    ) -> io::Result<()> {
        let mut conn = self.tcp_connect(client, server)?;
        let ch = client_hello(hello, self.rng());
        let session_id = ch[44..76].to_vec();
        self.tcp_send(&mut conn, Side::Client, &ch)?;
        let alpn = hello.alpn.first().copied();
        // The ServerHello's handshake message, without its record header.
        let mut messages = server_hello(TLS12, &session_id, alpn, self.rng())[5..].to_vec();
        messages.extend(certificate_message(chain));
        messages.extend(handshake(14, &[]));
        self.tcp_send(
            &mut conn,
            Side::Server,
            &handshake_records(&messages, record_max),
        )?;
        let mut cke = Vec::new();
        put_vec(&mut cke, 1, &self.rng().bytes(32));
        let mut msg = record(CONTENT_HANDSHAKE, TLS12, &handshake(16, &cke));
        msg.extend(ccs());
        msg.extend(record(CONTENT_HANDSHAKE, TLS12, &self.rng().bytes(40)));
        self.tcp_send(&mut conn, Side::Client, &msg)?;
        let mut fin = ccs();
        fin.extend(record(CONTENT_HANDSHAKE, TLS12, &self.rng().bytes(40)));
        self.tcp_send(&mut conn, Side::Server, &fin)?;
        let data = app_data(300, self.rng());
        self.tcp_send(&mut conn, Side::Client, &data)?;
        let data = app_data(900, self.rng());
        self.tcp_send(&mut conn, Side::Server, &data)?;
        self.tcp_close(conn, TcpEnd::Fin)
    }
}
