//! Web sessions that only a reader of whole streams gets right (#11): a keep-alive connection of
//! many transactions, a request whose head is far longer than any payload prefix, form posts, and
//! TLS 1.2 handshakes whose certificate chain spans records and segments. Each is a plain
//! deterministic capture; the tests state what it holds.

use std::io;
use std::net::Ipv4Addr;

use crate::tls::certs;
use crate::{Capture, Endpoint, Side, TcpEnd, TlsHello};

/// Capture start: 2023-11-14T22:13:20Z.
pub const START: u64 = 1_700_000_000;

/// The client of every session here: 10.1.0.2.
pub fn client() -> Endpoint {
    Endpoint::new([2, 0, 0, 0, 0, 2], Ipv4Addr::new(10, 1, 0, 2), 50000)
}

/// The server at 10.1.0.3 on `port`.
pub fn server(port: u16) -> Endpoint {
    Endpoint::new([2, 0, 0, 0, 0, 3], Ipv4Addr::new(10, 1, 0, 3), port)
}

/// One HTTP/1.1 connection carrying `exchanges` (request, response) in turn, then FIN.
pub fn http_connection(exchanges: &[(Vec<u8>, Vec<u8>)]) -> io::Result<Capture> {
    let mut cap = Capture::new(START);
    let mut conn = cap.tcp_connect(client(), server(80))?;
    for (request, response) in exchanges {
        cap.tcp_send(&mut conn, Side::Client, request)?;
        if !response.is_empty() {
            cap.tcp_send(&mut conn, Side::Server, response)?;
        }
        cap.tcp_ack(&mut conn, Side::Client)?;
    }
    cap.tcp_close(conn, TcpEnd::Fin)?;
    Ok(cap)
}

/// A keep-alive connection of `requests` GETs (`/page0` …), each answered `200 OK` with a body of
/// 1,000 to about 3,000 bytes (`Content-Length`, every third one chunked).
pub fn keep_alive(requests: usize) -> io::Result<Capture> {
    let exchanges: Vec<_> = (0..requests)
        .map(|i| {
            let request = format!(
                "GET /page{i} HTTP/1.1\r\nHost: www.pcapgen.test\r\nUser-Agent: pcapgen\r\n\r\n"
            );
            let body = crate::transfer::body(1000 + 67 * i, i as u8);
            (request.into_bytes(), response(&body, i % 3 == 2))
        })
        .collect();
    http_connection(&exchanges)
}

/// A `200 OK` carrying `body`, chunked or with `Content-Length`.
fn response(body: &[u8], chunked: bool) -> Vec<u8> {
    if !chunked {
        let head = format!(
            "HTTP/1.1 200 OK\r\nServer: pcapgen\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        return [head.as_bytes(), body].concat();
    }
    let mut out =
        b"HTTP/1.1 200 OK\r\nServer: pcapgen\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(700) {
        out.extend(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend(part);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// One GET whose head holds an `X-Pad` header line of `pad` bytes, never answered.
pub fn long_header(pad: usize) -> io::Result<Capture> {
    let request = format!(
        "GET /hidden HTTP/1.1\r\nHost: www.pcapgen.test\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(pad)
    );
    http_connection(&[(request.into_bytes(), Vec::new())])
}

/// A URL-encoded login form (`username`, `password`, `remember`) and a multipart upload (`title`
/// and the file field `attachment`), each answered.
pub fn form_posts() -> io::Result<Capture> {
    let login = b"username=alice&password=hunter2&remember=on";
    let login = [
        format!(
            "POST /login HTTP/1.1\r\nHost: www.pcapgen.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            login.len()
        )
        .as_bytes(),
        login,
    ]
    .concat();
    let upload = [
        &b"--PcapgenBoundary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n"[..],
        b"--PcapgenBoundary\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.bin\"\r\n",
        b"Content-Type: application/octet-stream\r\n\r\n",
        &crate::transfer::body(6000, 3),
        b"\r\n--PcapgenBoundary--\r\n",
    ]
    .concat();
    let upload = [
        format!(
            "POST /upload HTTP/1.1\r\nHost: www.pcapgen.test\r\nContent-Type: multipart/form-data; boundary=PcapgenBoundary\r\nContent-Length: {}\r\n\r\n",
            upload.len()
        )
        .as_bytes(),
        &upload,
    ]
    .concat();
    let ok = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
    http_connection(&[(login, ok.clone()), (upload, ok)])
}

/// Three TLS 1.2 connections showing certificates in records of at most 1,000 bytes: two from
/// 10.1.0.3:443 with the chain `certs::LEAF` (`shop.pcapgen.test`, expired in 2021),
/// `INTERMEDIATE`, `ROOT` (a server flight of about 4.3 KB, beyond a 4 KiB prefix), and one from
/// 10.1.0.4:8443 with `certs::SELF_SIGNED` (`router.lan`).
pub fn certificates() -> io::Result<Capture> {
    let mut cap = Capture::new(START);
    let chain = [certs::LEAF, certs::INTERMEDIATE, certs::ROOT];
    let hello = TlsHello {
        sni: Some("shop.pcapgen.test"),
        alpn: &["http/1.1"],
        versions: &[],
    };
    for port in [50001, 50002] {
        cap.tls12_session_with_chain(client().with_port(port), server(443), &hello, &chain, 1000)?;
    }
    let router = Endpoint::new([2, 0, 0, 0, 0, 4], Ipv4Addr::new(10, 1, 0, 4), 8443);
    let hello = TlsHello {
        sni: Some("router.lan"),
        ..hello
    };
    cap.tls12_session_with_chain(
        client().with_port(50003),
        router,
        &hello,
        &[certs::SELF_SIGNED],
        1000,
    )?;
    Ok(cap)
}
