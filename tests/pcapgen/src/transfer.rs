//! Large transfers for the stream-reassembly tests and memory measurements (#11): one TCP download of
//! a known, deterministic body, with some segments reordered, and many concurrent downloads whose
//! first segment the capture lost.

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
    let mut cap = Capture::new(1_700_000_000);
    let (client, server) = ends(40000);
    let mut conn = cap.tcp_connect(client, server)?;
    cap.tcp_send(
        &mut conn,
        Side::Client,
        b"GET /big HTTP/1.1\r\nHost: bulk\r\n\r\n",
    )?;
    let data = body(bytes, 0);
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
