//! Logins for the `credentials` analyzer's tests, built from the specifications rather than from the
//! analyzer's code: NTLMSSP messages (MS-NLMP 2.2.1) with NTLMv2 responses computed from a password
//! as MS-NLMP 3.3.2 defines them (checked below against the test vectors of MS-NLMP 4.2.4), SMB2
//! SESSION_SETUP and TREE_CONNECT messages (MS-SMB2 2.2.5–2.2.10) over direct TCP, and Kerberos
//! AS-REQ, AS-REP and KRB-ERROR messages (RFC 4120 5.4.1, 5.9.1) written in DER by hand.

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;

type HmacMd5 = Hmac<Md5>;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// The NT hash: MD4 of the UTF-16LE password (MS-NLMP 3.3.1).
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16(password)).into()
}

/// NTOWFv2: HMAC-MD5 keyed by the NT hash over UTF-16LE(upper-case user + domain) (MS-NLMP 3.3.2).
pub fn ntowfv2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let text = utf16(&format!("{}{domain}", user.to_uppercase()));
    hmac_md5(&nt_hash(password), &[&text])
}

/// AV pairs naming the server's NetBIOS domain and computer, then MsvAvEOL (MS-NLMP 2.2.2.1).
pub fn target_info(domain: &str, computer: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, value) in [(2u16, domain), (1u16, computer)] {
        let v = utf16(value);
        out.extend(id.to_le_bytes());
        out.extend((v.len() as u16).to_le_bytes());
        out.extend(v);
    }
    out.extend([0, 0, 0, 0]);
    out
}

/// The NTLMv2 `temp` blob: versions, time, client challenge, target info (MS-NLMP 3.3.2).
pub fn ntlmv2_temp(time: u64, client_challenge: [u8; 8], target_info: &[u8]) -> Vec<u8> {
    let mut t = vec![1, 1, 0, 0, 0, 0, 0, 0];
    t.extend(time.to_le_bytes());
    t.extend(client_challenge);
    t.extend([0, 0, 0, 0]);
    t.extend(target_info);
    t.extend([0, 0, 0, 0]);
    t
}

/// The (LMv2, NTLMv2) challenge responses of `password` to `server_challenge` (MS-NLMP 3.3.2).
pub fn ntlmv2_responses(
    password: &str,
    user: &str,
    domain: &str,
    server_challenge: [u8; 8],
    client_challenge: [u8; 8],
    temp: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let key = ntowfv2(password, user, domain);
    let proof = hmac_md5(&key, &[&server_challenge, temp]);
    let lm = hmac_md5(&key, &[&server_challenge, &client_challenge]);
    (
        [&lm[..], &client_challenge].concat(),
        [&proof[..], temp].concat(),
    )
}

const SIGNATURE: &[u8] = b"NTLMSSP\0";
/// NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | EXTENDED_SESSIONSECURITY | TARGET_INFO.
const FLAGS: u32 = 0x0088_0205;

/// NTLMSSP NEGOTIATE (type 1) with no domain or workstation.
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend(1u32.to_le_bytes());
    m.extend(FLAGS.to_le_bytes());
    m.extend([0; 16]);
    m
}

/// NTLMSSP CHALLENGE (type 2) carrying `server_challenge` and `target_info`.
pub fn ntlm_challenge(server_challenge: [u8; 8], target_info: &[u8]) -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend(2u32.to_le_bytes());
    m.extend([0, 0, 0, 0, 48, 0, 0, 0]); // empty TargetName at 48
    m.extend(FLAGS.to_le_bytes());
    m.extend(server_challenge);
    m.extend([0; 8]);
    m.extend((target_info.len() as u16).to_le_bytes());
    m.extend((target_info.len() as u16).to_le_bytes());
    m.extend(48u32.to_le_bytes());
    m.extend(target_info);
    m
}

/// NTLMSSP AUTHENTICATE (type 3), strings in UTF-16LE, payload after a 64-byte header.
pub fn ntlm_authenticate(
    user: &str,
    domain: &str,
    workstation: &str,
    lm: &[u8],
    nt: &[u8],
) -> Vec<u8> {
    let fields: [Vec<u8>; 5] = [
        lm.to_vec(),
        nt.to_vec(),
        utf16(domain),
        utf16(user),
        utf16(workstation),
    ];
    let mut head = SIGNATURE.to_vec();
    head.extend(3u32.to_le_bytes());
    let mut payload = Vec::new();
    let mut offset = 72u32;
    for f in &fields {
        head.extend((f.len() as u16).to_le_bytes());
        head.extend((f.len() as u16).to_le_bytes());
        head.extend(offset.to_le_bytes());
        offset += f.len() as u32;
        payload.extend(f);
    }
    head.extend([0, 0, 0, 0]); // EncryptedRandomSessionKey: empty
    head.extend(offset.to_le_bytes());
    head.extend(FLAGS.to_le_bytes());
    head.extend([0; 8]); // version
    [head, payload].concat()
}

/// An SMB2 message over direct TCP (4-byte length), header per MS-SMB2 2.2.1.2.
pub fn smb2(command: u16, response: bool, status: u32, message_id: u64, body: &[u8]) -> Vec<u8> {
    let mut h = b"\xfeSMB".to_vec();
    h.extend(64u16.to_le_bytes());
    h.extend(1u16.to_le_bytes()); // credit charge
    h.extend(status.to_le_bytes());
    h.extend(command.to_le_bytes());
    h.extend(1u16.to_le_bytes()); // credits
    h.extend((response as u32).to_le_bytes());
    h.extend(0u32.to_le_bytes()); // next command
    h.extend(message_id.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(0u32.to_le_bytes()); // tree id
    h.extend(0x40u64.to_le_bytes()); // session id
    h.extend([0; 16]);
    let len = (h.len() + body.len()) as u32;
    [&len.to_be_bytes()[..], &h, body].concat()
}

/// SMB2 SESSION_SETUP request carrying a security blob (MS-SMB2 2.2.5).
pub fn smb2_session_setup(message_id: u64, blob: &[u8]) -> Vec<u8> {
    let mut b = 25u16.to_le_bytes().to_vec();
    b.extend([0, 1]); // flags, security mode
    b.extend([0; 8]); // capabilities, channel
    b.extend(88u16.to_le_bytes()); // 64 + 24
    b.extend((blob.len() as u16).to_le_bytes());
    b.extend([0; 8]); // previous session
    b.extend(blob);
    smb2(1, false, 0, message_id, &b)
}

/// SMB2 SESSION_SETUP response with `status` and a security blob (MS-SMB2 2.2.6).
pub fn smb2_session_setup_response(message_id: u64, status: u32, blob: &[u8]) -> Vec<u8> {
    let mut b = 9u16.to_le_bytes().to_vec();
    b.extend([0, 0]);
    b.extend(72u16.to_le_bytes()); // 64 + 8
    b.extend((blob.len() as u16).to_le_bytes());
    b.extend(blob);
    smb2(1, true, status, message_id, &b)
}

/// SMB2 TREE_CONNECT request for `path` (`\\server\share`, MS-SMB2 2.2.9).
pub fn smb2_tree_connect(message_id: u64, path: &str) -> Vec<u8> {
    let p = utf16(path);
    let mut b = 9u16.to_le_bytes().to_vec();
    b.extend([0, 0]);
    b.extend(72u16.to_le_bytes());
    b.extend((p.len() as u16).to_le_bytes());
    b.extend(p);
    smb2(3, false, 0, message_id, &b)
}

/// An SMB1 message over direct TCP (MS-CIFS 2.2.3.1): header, words, bytes.
pub fn smb1(command: u8, reply: bool, status: u32, words: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut m = b"\xffSMB".to_vec();
    m.push(command);
    m.extend(status.to_le_bytes());
    m.push(if reply { 0x98 } else { 0x18 });
    m.extend(0xc807u16.to_le_bytes()); // unicode, NT status, extended security, long names
    m.extend([0; 12]); // PID high, security features, reserved
    m.extend([0, 0, 0xff, 0xfe, 0x00, 0x08, 0x01, 0x00]); // TID, PID, UID, MID
    m.push((words.len() / 2) as u8);
    m.extend(words);
    m.extend((bytes.len() as u16).to_le_bytes());
    m.extend(bytes);
    [&(m.len() as u32).to_be_bytes()[..], &m].concat()
}

/// SMB1 SESSION_SETUP_ANDX request with extended security carrying `blob` (MS-SMB 2.2.4.6.1).
pub fn smb1_session_setup(blob: &[u8]) -> Vec<u8> {
    let mut w = vec![0xff, 0, 0, 0];
    w.extend(4356u16.to_le_bytes());
    w.extend(50u16.to_le_bytes());
    w.extend([0; 6]); // VC number, session key
    w.extend((blob.len() as u16).to_le_bytes());
    w.extend([0; 4]);
    w.extend(0x8000_0000u32.to_le_bytes()); // CAP_EXTENDED_SECURITY
    smb1(0x73, false, 0, &w, blob)
}

/// SMB1 SESSION_SETUP_ANDX response with `status` and a security blob (MS-SMB 2.2.4.6.2).
pub fn smb1_session_setup_response(status: u32, blob: &[u8]) -> Vec<u8> {
    let mut w = vec![0xff, 0, 0, 0, 0, 0];
    w.extend((blob.len() as u16).to_le_bytes());
    smb1(0x73, true, status, &w, blob)
}

/// A DER element: tag, definite length, contents.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend(content);
    out
}

fn int(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|&&b| b == 0).count();
    let mut body = bytes[skip..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    der(0x02, &body)
}

/// `[n] EXPLICIT`.
fn ctx(n: u8, inner: Vec<u8>) -> Vec<u8> {
    der(0xa0 + n, &inner)
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn kerberos_string(s: &str) -> Vec<u8> {
    der(0x1b, s.as_bytes())
}

fn principal(name_type: u32, parts: &[&str]) -> Vec<u8> {
    let names: Vec<Vec<u8>> = parts.iter().map(|p| kerberos_string(p)).collect();
    seq(&[ctx(0, int(name_type)), ctx(1, seq(&names))])
}

/// A Kerberos AS-REQ for `user@realm` asking for `krbtgt/realm`, with a PA-ENC-TIMESTAMP of
/// encryption type `etype` and ciphertext `cipher` when given (RFC 4120 5.2.7.2, 5.4.1).
pub fn as_req(user: &str, realm: &str, timestamp: Option<(u32, &[u8])>) -> Vec<u8> {
    let mut padata = Vec::new();
    if let Some((etype, cipher)) = timestamp {
        let enc = seq(&[ctx(0, int(etype)), ctx(2, der(0x04, cipher))]);
        padata.push(seq(&[ctx(1, int(2)), ctx(2, der(0x04, &enc))]));
    }
    let body = seq(&[
        ctx(0, der(0x03, &[0, 0x40, 0x81, 0, 0x10])),
        ctx(1, principal(1, &[user])),
        ctx(2, kerberos_string(realm)),
        ctx(3, principal(2, &["krbtgt", realm])),
        ctx(5, der(0x18, b"20370913024805Z")),
        ctx(7, int(0x1234_5678)),
        ctx(8, seq(&[int(18), int(17), int(23)])),
    ]);
    let mut fields = vec![ctx(1, int(5)), ctx(2, int(10))];
    if !padata.is_empty() {
        fields.push(ctx(3, seq(&padata)));
    }
    fields.push(ctx(4, body));
    der(0x6a, &seq(&fields))
}

/// A KRB-ERROR with `code` (25: pre-authentication required, 24: failed) from the KDC of `realm`.
pub fn krb_error(code: u32, realm: &str) -> Vec<u8> {
    der(
        0x7e,
        &seq(&[
            ctx(0, int(5)),
            ctx(1, int(30)),
            ctx(4, der(0x18, b"20261203080000Z")),
            ctx(5, int(0)),
            ctx(6, int(code)),
            ctx(9, kerberos_string(realm)),
            ctx(10, principal(2, &["krbtgt", realm])),
        ]),
    )
}

/// The start of an AS-REP (APPLICATION 11); its contents do not matter to these tests.
pub fn as_rep_stub() -> Vec<u8> {
    der(0x6b, &seq(&[ctx(0, int(5)), ctx(1, int(11))]))
}

/// A Kerberos message over TCP: 4-byte length first (RFC 4120 7.2.2).
pub fn over_tcp(message: &[u8]) -> Vec<u8> {
    [&(message.len() as u32).to_be_bytes()[..], message].concat()
}

/// The hosts of [`logins`]: one client, one server per protocol (last octet = `n`).
fn host(n: u8, port: u16) -> crate::Endpoint {
    crate::Endpoint::new(
        [2, 0, 0, 0, 0, n],
        std::net::Ipv4Addr::new(10, 0, 0, n),
        port,
    )
}

/// The client of [`logins`], 10.0.0.10, on its own port per session.
fn client(port: u16) -> crate::Endpoint {
    host(10, port)
}

/// Every login the credentials analyzer reads, each in its own session from 10.0.0.10 (the values
/// the tests expect are written out there, from the specifications' own examples where they have
/// one: RFC 1939's APOP, RFC 2617's Digest, MS-NLMP 4.2.4's NTLMv2):
///
/// * FTP to 10.0.0.21: `alice`/`wrong1` refused twice, 800 `NOOP`s (4,800 bytes, past 4 KiB), `alice`/`Secr3t!`;
/// * POP3 to 10.0.0.22: `bob`/`pop-pw` accepted; APOP `mrose` (RFC 1939 4's example);
/// * IMAP to 10.0.0.23: LOGIN `carol`/`imap pw` accepted; AUTHENTICATE PLAIN `dave`/`plain-pw` refused;
/// * SMTP to 10.0.0.24: AUTH PLAIN `erin`/`smtp-pw` accepted; an AUTH after STARTTLS (not readable);
/// * Telnet to 10.0.0.25: `frank`/`telnet-pw`, accepted;
/// * HTTP to 10.0.0.80: after a 10 KB response, Basic `grace`/`basic-pw` refused twice, a form login
///   `heidi`/`form pw!`, a multipart form `ivan@example.com`/`multi-pw`, Digest `Mufasa` (RFC 2617 3.5);
/// * NTLM over HTTP to 10.0.0.81: `CORP\mallory` from `LAPTOP7`, password `NtlmPass1`;
/// * NTLM over SMB2 to 10.0.0.45: MS-NLMP 4.2.4's `Domain\User`, password `Password`, share
///   `\\10.0.0.45\share`; over SMB1 to 10.0.0.46: the same user's NTLMv1 responses of MS-NLMP 4.2.2;
/// * Kerberos over TCP to 10.0.0.88: `oscar@EXAMPLE.COM` without pre-authentication (answered
///   PREAUTH_REQUIRED), then with an RC4 PA-ENC-TIMESTAMP whose cipher is bytes 0..52 (answered
///   with an AS-REP); over UDP: `peggy@EXAMPLE.COM` with an AES256 one, bytes 100..156, refused.
pub fn logins(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::{Side::Client as C, Side::Server as S, TcpEnd::Fin};
    let mut noops = String::new();
    for _ in 0..800 {
        noops.push_str("NOOP\r\n");
    }
    let ftp: Vec<(crate::Side, Vec<u8>)> = vec![
        (S, b"220 FTP ready\r\n".to_vec()),
        (C, b"USER alice\r\n".to_vec()),
        (S, b"331 Password required\r\n".to_vec()),
        (C, b"PASS wrong1\r\n".to_vec()),
        (S, b"530 Login incorrect\r\n".to_vec()),
        (C, b"USER alice\r\nPASS wrong1\r\n".to_vec()),
        (S, b"530 Login incorrect\r\n".to_vec()),
        (C, noops.into_bytes()),
        (S, b"200 NOOP ok\r\n".to_vec()),
        (C, b"USER alice\r\n".to_vec()),
        (S, b"331 Password required\r\n".to_vec()),
        (C, b"PASS Secr3t!\r\n".to_vec()),
        (S, b"230 Logged in\r\n".to_vec()),
    ];
    session(cap, client(40021), host(21, 21), &ftp)?;
    cap.tcp_session(
        client(40110),
        host(22, 110),
        &[
            (S, b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
            (C, b"USER bob\r\n"),
            (S, b"+OK\r\n"),
            (C, b"PASS pop-pw\r\n"),
            (S, b"+OK maildrop has 2 messages\r\n"),
            (C, b"QUIT\r\n"),
        ],
        Fin,
    )?;
    cap.tcp_session(
        client(40111),
        host(22, 110),
        &[
            (
                S,
                b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
            ),
            (C, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
            (S, b"+OK mrose's maildrop has 2 messages (320 octets)\r\n"),
        ],
        Fin,
    )?;
    cap.tcp_session(
        client(40143),
        host(23, 143),
        &[
            (S, b"* OK IMAP4rev1 ready\r\n"),
            (C, b"a001 LOGIN carol \"imap pw\"\r\n"),
            (S, b"a001 OK LOGIN completed\r\n"),
        ],
        Fin,
    )?;
    cap.tcp_session(
        client(40144),
        host(23, 143),
        &[
            (S, b"* OK IMAP4rev1 ready\r\n"),
            (C, b"a1 AUTHENTICATE PLAIN\r\n"),
            (S, b"+ \r\n"),
            (C, b"AGRhdmUAcGxhaW4tcHc=\r\n"), // "\0dave\0plain-pw"
            (S, b"a1 NO authentication failed\r\n"),
        ],
        Fin,
    )?;
    cap.tcp_session(
        client(40587),
        host(24, 587),
        &[
            (S, b"220 mail ESMTP\r\n"),
            (C, b"EHLO client\r\n"),
            (S, b"250-mail\r\n250 AUTH PLAIN LOGIN\r\n"),
            (C, b"AUTH PLAIN AGVyaW4Ac210cC1wdw==\r\n"), // "\0erin\0smtp-pw"
            (S, b"235 2.7.0 Authentication successful\r\n"),
        ],
        Fin,
    )?;
    cap.tcp_session(
        client(40588),
        host(24, 587),
        &[
            (S, b"220 mail ESMTP\r\n"),
            (C, b"EHLO client\r\n"),
            (S, b"250-mail\r\n250 STARTTLS\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"220 2.0.0 Ready to start TLS\r\n"),
            // What follows is TLS in a real session; even text is not read as commands.
            (C, b"AUTH PLAIN AHRscwB0bHMtcHc=\r\n"),
            (S, b"235 ok\r\n"),
        ],
        Fin,
    )?;
    telnet(cap)?;
    http(cap)?;
    ntlm_http(cap)?;
    smb(cap)?;
    kerberos(cap)
}

/// A TCP session from owned payloads.
fn session(
    cap: &mut crate::Capture,
    c: crate::Endpoint,
    s: crate::Endpoint,
    payloads: &[(crate::Side, Vec<u8>)],
) -> std::io::Result<()> {
    let borrowed: Vec<(crate::Side, &[u8])> =
        payloads.iter().map(|(side, p)| (*side, &p[..])).collect();
    cap.tcp_session(c, s, &borrowed, crate::TcpEnd::Fin)
}

fn telnet(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::Side::{Client as C, Server as S};
    let mut p: Vec<(crate::Side, Vec<u8>)> = vec![
        (S, b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01".to_vec()),
        (C, b"\xff\xfb\x18\xff\xfc\x20\xff\xfd\x01".to_vec()),
        (S, b"Ubuntu 22.04\r\nhost login: ".to_vec()),
    ];
    for b in b"frank" {
        p.push((C, vec![*b]));
        p.push((S, vec![*b]));
    }
    p.push((C, b"\r\n".to_vec()));
    p.push((S, b"\r\nPassword: ".to_vec()));
    for b in b"telnet-pw\r\n" {
        p.push((C, vec![*b]));
    }
    p.push((
        S,
        b"\r\nLast login: Mon Nov 30 10:00:00 2026\r\n$ ".to_vec(),
    ));
    session(cap, client(40023), host(25, 23), &p)
}

fn http(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::Side::{Client as C, Server as S};
    let big = "x".repeat(10_000);
    let basic = "GET /admin HTTP/1.1\r\nHost: intranet.test\r\nAuthorization: Basic Z3JhY2U6YmFzaWMtcHc=\r\n\r\n"; // grace:basic-pw
    let denied = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
    let form = "username=heidi&password=form+pw%21";
    let multipart = "--b0undary\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nivan@example.com\r\n\
                     --b0undary\r\nContent-Disposition: form-data; name=\"passwd\"\r\n\r\nmulti-pw\r\n\
                     --b0undary\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\npassword=no\r\n--b0undary--\r\n";
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let p: Vec<(crate::Side, Vec<u8>)> = vec![
        (C, b"GET / HTTP/1.1\r\nHost: intranet.test\r\n\r\n".to_vec()),
        (S, format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}", big.len()).into_bytes()),
        (C, basic.as_bytes().to_vec()),
        (S, denied.as_bytes().to_vec()),
        (C, basic.as_bytes().to_vec()),
        (S, denied.as_bytes().to_vec()),
        (
            C,
            format!(
                "POST /login HTTP/1.1\r\nHost: intranet.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            )
            .into_bytes(),
        ),
        (S, b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".to_vec()),
        (
            C,
            format!(
                "POST /profile HTTP/1.1\r\nHost: intranet.test\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {}\r\n\r\n{multipart}",
                multipart.len()
            )
            .into_bytes(),
        ),
        (S, ok.as_bytes().to_vec()),
        (
            C,
            b"GET /dir/index.html HTTP/1.1\r\nHost: intranet.test\r\nAuthorization: Digest username=\"Mufasa\", \
              realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
              qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
              opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n\r\n"
                .to_vec(),
        ),
        (S, ok.as_bytes().to_vec()),
    ];
    session(cap, client(40080), host(80, 80), &p)
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn ntlm_http(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::Side::{Client as C, Server as S};
    let challenge = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let info = target_info("CORP", "WEB01");
    let temp = ntlmv2_temp(0x01d9_0000_0000_0000, [0xbb; 8], &info);
    let (lm, nt) = ntlmv2_responses("NtlmPass1", "mallory", "CORP", challenge, [0xbb; 8], &temp);
    let auth = ntlm_authenticate("mallory", "CORP", "LAPTOP7", &lm, &nt);
    let get = |blob: &[u8]| {
        format!(
            "GET /intranet HTTP/1.1\r\nHost: web01.corp.test\r\nAuthorization: NTLM {}\r\n\r\n",
            b64(blob)
        )
        .into_bytes()
    };
    let p: Vec<(crate::Side, Vec<u8>)> = vec![
        (C, get(&ntlm_negotiate())),
        (
            S,
            format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n",
                b64(&ntlm_challenge(challenge, &info))
            )
            .into_bytes(),
        ),
        (C, get(&auth)),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()),
    ];
    session(cap, client(40081), host(81, 80), &p)
}

fn smb(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::Side::{Client as C, Server as S};
    let challenge = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    let info = target_info("Domain", "Server");
    let temp = ntlmv2_temp(0, [0xaa; 8], &info);
    let (lm, nt) = ntlmv2_responses("Password", "User", "Domain", challenge, [0xaa; 8], &temp);
    let p: Vec<(crate::Side, Vec<u8>)> = vec![
        (C, smb2_session_setup(1, &ntlm_negotiate())),
        (
            S,
            smb2_session_setup_response(1, 0xc000_0016, &ntlm_challenge(challenge, &info)),
        ),
        (
            C,
            smb2_session_setup(
                2,
                &ntlm_authenticate("User", "Domain", "COMPUTER", &lm, &nt),
            ),
        ),
        (S, smb2_session_setup_response(2, 0, &[])),
        (C, smb2_tree_connect(3, "\\\\10.0.0.45\\share")),
    ];
    session(cap, client(40445), host(45, 445), &p)?;
    // SMB1 with NTLMv1: MS-NLMP 4.2.2's responses of `Password` to the same challenge.
    let lm = unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
    let nt = unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
    let p: Vec<(crate::Side, Vec<u8>)> = vec![
        (C, smb1_session_setup(&ntlm_negotiate())),
        (
            S,
            smb1_session_setup_response(0xc000_0016, &ntlm_challenge(challenge, &info)),
        ),
        (
            C,
            smb1_session_setup(&ntlm_authenticate("User", "Domain", "COMPUTER", &lm, &nt)),
        ),
        (S, smb1_session_setup_response(0, &[])),
    ];
    session(cap, client(40446), host(46, 445), &p)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn kerberos(cap: &mut crate::Capture) -> std::io::Result<()> {
    use crate::Side::{Client as C, Server as S};
    let rc4: Vec<u8> = (0u8..52).collect();
    let aes: Vec<u8> = (100u8..156).collect();
    let first = vec![
        (C, over_tcp(&as_req("oscar", "EXAMPLE.COM", None))),
        (S, over_tcp(&krb_error(25, "EXAMPLE.COM"))),
    ];
    session(cap, client(40088), host(88, 88), &first)?;
    let second = vec![
        (
            C,
            over_tcp(&as_req("oscar", "EXAMPLE.COM", Some((23, &rc4)))),
        ),
        (S, over_tcp(&as_rep_stub())),
    ];
    session(cap, client(40089), host(88, 88), &second)?;
    cap.udp_exchange(
        client(40090),
        host(88, 88),
        &as_req("peggy", "EXAMPLE.COM", Some((18, &aes))),
        Some(&krb_error(24, "EXAMPLE.COM")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// MS-NLMP 4.2.4: user "User", domain "Domain", password "Password", server challenge
    /// 0123456789abcdef, client challenge aa…, time 0, target info (Domain, Server).
    #[test]
    fn ntlmv2_responses_match_the_ms_nlmp_test_vectors() {
        assert_eq!(
            hex(&nt_hash("Password")),
            "a4f49c406510bdcab6824ee7c30fd852"
        );
        assert_eq!(
            hex(&ntowfv2("Password", "User", "Domain")),
            "0c868a403bfd7a93a3001ef22ef02e3f"
        );
        let temp = ntlmv2_temp(0, [0xaa; 8], &target_info("Domain", "Server"));
        assert_eq!(
            hex(&temp),
            "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000\
             02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000\
             00000000"
        );
        let challenge = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let (lm, nt) = ntlmv2_responses("Password", "User", "Domain", challenge, [0xaa; 8], &temp);
        assert_eq!(hex(&lm), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
        assert_eq!(hex(&nt[..16]), "68cd0ab851e51c96aabc927bebef6a1c");
    }
}
