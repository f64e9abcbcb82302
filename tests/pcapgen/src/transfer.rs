//! Large transfers for the stream-reassembly tests and memory measurements (#11): one TCP download of
//! a known, deterministic body, with some segments reordered, and many concurrent downloads whose
//! first segment the capture lost.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;

use crate::{Capture, Endpoint, Side, TcpEnd};

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x30];

/// The body of a transfer: `len` bytes that differ at nearby offsets, so any misplaced segment
/// changes its hash.
pub fn body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 9) ^ seed as usize) as u8)
        .collect()
}

fn ends(port: u16) -> (Endpoint, Endpoint) {
    (
        Endpoint::new(CLIENT_MAC, Ipv4Addr::new(10, 9, 0, 2), port),
        Endpoint::new(SERVER_MAC, Ipv4Addr::new(10, 9, 0, 3), 8080),
    )
}

/// Segment order with every `every`-th pair of segments swapped.
fn swapped(segments: usize, every: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..segments).collect();
    for i in (0..segments.saturating_sub(1)).step_by(every) {
        order.swap(i, i + 1);
    }
    order
}

/// One download of `body(bytes, 0)` from 10.9.0.3:8080, in 1,460-byte segments, every 50th pair
/// reordered, the client acknowledging every 64 segments.
pub fn bulk_transfer(bytes: usize) -> io::Result<Capture> {
    download(Vec::new(), bytes)
}

/// The same download as [`bulk_transfer`] as an HTTP/1.1 response: a `200 OK` with
/// `Content-Length: bytes`, `Content-Type: application/octet-stream` and the file name `big.bin`,
/// then `body(bytes, 0)`.
pub fn http_download(bytes: usize) -> io::Result<Capture> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes}\r\n\
         Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n"
    );
    download(head.into_bytes(), bytes)
}

/// A download of `body(bytes, 0)` after `head`, both sent by the server.
fn download(head: Vec<u8>, bytes: usize) -> io::Result<Capture> {
    let mut cap = Capture::new(1_700_000_000);
    let (client, server) = ends(40000);
    let mut conn = cap.tcp_connect(client, server)?;
    cap.tcp_send(
        &mut conn,
        Side::Client,
        b"GET /big HTTP/1.1\r\nHost: bulk\r\n\r\n",
    )?;
    let mut data = head;
    data.extend(body(bytes, 0));
    let window = 1460 * 64;
    for part in data.chunks(window) {
        let segments = part.len().div_ceil(1460);
        cap.tcp_send_segments(&mut conn, Side::Server, part, 1460, &swapped(segments, 50))?;
        cap.tcp_ack(&mut conn, Side::Client)?;
    }
    cap.tcp_close(conn, TcpEnd::Fin)?;
    Ok(cap)
}

/// `streams` downloads of `body(bytes, i)` open at once, each missing its first 1,000-byte segment and
/// never acknowledged until all have been sent: everything after the hole is held out of order, so
/// together they exceed a small stream budget. Client ports 41000 + i.
pub fn held_transfers(streams: u16, bytes: usize) -> io::Result<Capture> {
    let mut cap = Capture::new(1_700_000_000);
    let mut conns = Vec::new();
    for i in 0..streams {
        let (client, server) = ends(41000 + i);
        conns.push(cap.tcp_connect(client, server)?);
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let data = body(bytes, i as u8);
        let order: Vec<usize> = (1..bytes.div_ceil(1000)).collect();
        cap.tcp_send_segments(conn, Side::Server, &data, 1000, &order)?;
    }
    for mut conn in conns {
        cap.tcp_ack(&mut conn, Side::Client)?;
        cap.tcp_close(conn, TcpEnd::Fin)?;
    }
    Ok(cap)
}

/// What one direction of a stream in [`anomalies`] must come out as.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedStream {
    /// The bytes delivered, in order, gaps left out.
    pub data: Vec<u8>,
    /// Bytes never seen (one gap).
    pub missing: u64,
    /// Conflicting overlaps.
    pub conflicts: u32,
}

/// The streams of [`anomalies`], by (server port, client to server).
pub type Expected = BTreeMap<(u16, bool), ExpectedStream>;

fn expect(data: &[u8], missing: u64, conflicts: u32) -> ExpectedStream {
    ExpectedStream {
        data: data.to_vec(),
        missing,
        conflicts,
    }
}

/// Four conversations between 10.9.0.2 and 10.9.0.3 that test reassembly, and what each direction
/// must come out as:
/// 1. port 80: reordered and retransmitted segments, both sequence spaces wrapping around 2^32;
/// 2. port 21: a retransmission carrying different bytes (the first copy must win, one conflict);
/// 3. port 8080: a segment the capture lost, which the client acknowledges (a 1,000-byte gap);
/// 4. UDP port 9999: two datagrams.
pub fn anomalies() -> io::Result<(Capture, Expected)> {
    let mut cap = Capture::new(1_700_000_000);
    let mut want = Expected::new();
    let ends = |port: u16, server: u16| {
        let (c, s) = self::ends(port);
        (c, s.with_port(server))
    };
    let request = body(4000, 1);
    let response = body(20_000, 2);
    let (c, s) = ends(40001, 80);
    let mut conn = cap.tcp_connect_isn(c, s, u32::MAX - 3000, u32::MAX - 100)?;
    cap.tcp_send_segments(&mut conn, Side::Client, &request, 1000, &[0, 2, 1, 1, 3])?;
    let order = [0, 1, 3, 2, 4, 5, 5, 6, 8, 7, 9, 10, 11, 12, 13];
    cap.tcp_send_segments(&mut conn, Side::Server, &response, 1460, &order)?;
    cap.tcp_ack(&mut conn, Side::Client)?;
    cap.tcp_close(conn, TcpEnd::Fin)?;
    want.insert((80, true), expect(&request, 0, 0));
    want.insert((80, false), expect(&response, 0, 0));

    let login = b"USER alice\r\nPASS secret\r\n".to_vec();
    let (c, s) = ends(40002, 21);
    let mut conn = cap.tcp_connect(c, s)?;
    cap.tcp_send_segments(&mut conn, Side::Client, &login, 12, &[0, 1, 2])?;
    let back = 0u32.wrapping_sub(login.len() as u32 - 12);
    cap.tcp_send_at(&mut conn, Side::Client, back, b"PASS hacked\r")?;
    cap.tcp_ack(&mut conn, Side::Server)?;
    cap.tcp_close(conn, TcpEnd::Fin)?;
    want.insert((21, true), expect(&login, 0, 1));
    want.insert((21, false), expect(b"", 0, 0));

    let data = body(5000, 3);
    let (c, s) = ends(40003, 8080);
    let mut conn = cap.tcp_connect(c, s)?;
    cap.tcp_send_segments(&mut conn, Side::Server, &data, 1000, &[0, 1, 3, 4])?;
    cap.tcp_ack(&mut conn, Side::Client)?;
    cap.tcp_close(conn, TcpEnd::Fin)?;
    let seen = [&data[..2000], &data[3000..]].concat();
    want.insert((8080, false), expect(&seen, 1000, 0));
    want.insert((8080, true), expect(b"", 0, 0));

    let (c, s) = ends(40004, 9999);
    cap.udp_send(c, s, b"hello ")?;
    cap.udp_send(c, s, b"world")?;
    want.insert((9999, true), expect(b"hello world", 0, 0));
    want.insert((9999, false), expect(b"", 0, 0));
    Ok((cap, want))
}
