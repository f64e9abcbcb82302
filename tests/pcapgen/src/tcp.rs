//! TCP conversations: 3-way handshake, data with correct sequence and
//! acknowledgment numbers in both directions, and FIN/RST teardown.

use std::io;
use std::net::IpAddr;

use etherparse::TcpOptionElement;

use crate::{Capture, Endpoint, TcpSegment};

/// Which end of a connection sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that sent the SYN.
    Client,
    /// The end that answered with SYN/ACK.
    Server,
}

/// How a TCP session ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpEnd {
    /// Client FIN/ACK, server FIN/ACK, client ACK.
    Fin,
    /// Client RST/ACK.
    Rst,
    /// No teardown: the connection is still open when the capture ends.
    Open,
}

/// State of one open TCP connection (next sequence number of each side).
#[derive(Clone, Debug)]
pub struct TcpConn {
    /// The end that sent the SYN.
    pub client: Endpoint,
    /// The end that answered.
    pub server: Endpoint,
    client_next: u32,
    server_next: u32,
    last: Option<Side>,
}

impl TcpConn {
    fn ends(&self, from: Side) -> (Endpoint, Endpoint) {
        match from {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        }
    }

    /// (own next seq, peer's next seq = our ack) for `from`.
    fn seq_ack(&self, from: Side) -> (u32, u32) {
        match from {
            Side::Client => (self.client_next, self.server_next),
            Side::Server => (self.server_next, self.client_next),
        }
    }

    fn consume(&mut self, from: Side, n: u32) {
        match from {
            Side::Client => self.client_next = self.client_next.wrapping_add(n),
            Side::Server => self.server_next = self.server_next.wrapping_add(n),
        }
    }
}

fn window(from: Side) -> u16 {
    match from {
        Side::Client => 502,
        Side::Server => 509,
    }
}

fn mss(ip: IpAddr) -> usize {
    if ip.is_ipv4() { 1460 } else { 1440 }
}

const SYN_OPTIONS: [TcpOptionElement; 6] = [
    TcpOptionElement::MaximumSegmentSize(1460),
    TcpOptionElement::Noop,
    TcpOptionElement::WindowScale(7),
    TcpOptionElement::Noop,
    TcpOptionElement::Noop,
    TcpOptionElement::SelectiveAcknowledgementPermitted,
];

impl Capture {
    /// Moves the clock to when `from` sends its next segment on `conn`.
    fn tcp_pace(&mut self, conn: &mut TcpConn, from: Side) {
        match (conn.last, from) {
            (None, _) => {}
            (Some(Side::Client), Side::Server) => self.wait_reply(conn.client.ip, conn.server.ip),
            _ => self.think(),
        }
        conn.last = Some(from);
    }

    /// Sends one segment of `conn` from `from` and advances the sequence space.
    fn tcp_segment(
        &mut self,
        conn: &mut TcpConn,
        from: Side,
        flags: (bool, bool, bool),
        payload: &[u8],
    ) -> io::Result<()> {
        let (fin, rst, psh) = flags;
        self.tcp_pace(conn, from);
        let (src, dst) = conn.ends(from);
        let (seq, ack) = conn.seq_ack(from);
        self.push_tcp(
            src,
            dst,
            &TcpSegment {
                seq,
                ack: Some(ack),
                fin,
                rst,
                psh,
                window: window(from),
                payload,
                ..Default::default()
            },
        )?;
        conn.consume(from, payload.len() as u32 + u32::from(fin));
        Ok(())
    }

    /// Opens a connection: SYN, SYN/ACK, ACK (random initial sequence numbers).
    pub fn tcp_connect(&mut self, client: Endpoint, server: Endpoint) -> io::Result<TcpConn> {
        let c_isn = self.rng().next_u32();
        let s_isn = self.rng().next_u32();
        self.tcp_connect_isn(client, server, c_isn, s_isn)
    }

    /// Opens a connection with chosen initial sequence numbers (e.g. just below 2^32, so the
    /// sequence numbers wrap around during the transfer).
    pub fn tcp_connect_isn(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        c_isn: u32,
        s_isn: u32,
    ) -> io::Result<TcpConn> {
        let mut conn = TcpConn {
            client,
            server,
            client_next: c_isn,
            server_next: s_isn,
            last: None,
        };
        self.tcp_pace(&mut conn, Side::Client);
        self.push_tcp(
            client,
            server,
            &TcpSegment {
                seq: c_isn,
                syn: true,
                window: 64240,
                options: &SYN_OPTIONS,
                ..Default::default()
            },
        )?;
        conn.consume(Side::Client, 1);
        self.tcp_pace(&mut conn, Side::Server);
        self.push_tcp(
            server,
            client,
            &TcpSegment {
                seq: s_isn,
                ack: Some(conn.client_next),
                syn: true,
                window: 65160,
                options: &SYN_OPTIONS,
                ..Default::default()
            },
        )?;
        conn.consume(Side::Server, 1);
        self.tcp_ack(&mut conn, Side::Client)?;
        Ok(conn)
    }

    /// Sends `data` from `from`, split into MSS-sized segments (PSH on the last).
    pub fn tcp_send(&mut self, conn: &mut TcpConn, from: Side, data: &[u8]) -> io::Result<()> {
        let mss = mss(conn.client.ip);
        let chunks: Vec<&[u8]> = data.chunks(mss).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.tcp_segment(conn, from, (false, false, i + 1 == n), chunk)?;
        }
        Ok(())
    }

    /// Sends `data` from `from` as segments of `size` bytes in the order `order` lists them by index:
    /// an index listed twice is a retransmission, one left out a segment the capture lost. Then moves
    /// the sequence space past all of `data`.
    pub fn tcp_send_segments(
        &mut self,
        conn: &mut TcpConn,
        from: Side,
        data: &[u8],
        size: usize,
        order: &[usize],
    ) -> io::Result<()> {
        let segments: Vec<&[u8]> = data.chunks(size).collect();
        for &i in order {
            self.tcp_send_at(conn, from, (i * size) as u32, segments[i])?;
        }
        conn.consume(from, data.len() as u32);
        Ok(())
    }

    /// Sends `bytes` from `from` at `offset` bytes past its next sequence number, without moving the
    /// sequence space (an out-of-order, overlapping or conflicting copy).
    pub fn tcp_send_at(
        &mut self,
        conn: &mut TcpConn,
        from: Side,
        offset: u32,
        bytes: &[u8],
    ) -> io::Result<()> {
        self.tcp_pace(conn, from);
        let (src, dst) = conn.ends(from);
        let (seq, ack) = conn.seq_ack(from);
        self.push_tcp(
            src,
            dst,
            &TcpSegment {
                seq: seq.wrapping_add(offset),
                ack: Some(ack),
                window: window(from),
                payload: bytes,
                ..Default::default()
            },
        )
    }

    /// Sends a pure ACK from `from`.
    pub fn tcp_ack(&mut self, conn: &mut TcpConn, from: Side) -> io::Result<()> {
        self.tcp_segment(conn, from, (false, false, false), &[])
    }

    /// Ends the connection as `end` says.
    pub fn tcp_close(&mut self, mut conn: TcpConn, end: TcpEnd) -> io::Result<()> {
        match end {
            TcpEnd::Fin => {
                self.tcp_segment(&mut conn, Side::Client, (true, false, false), &[])?;
                self.tcp_segment(&mut conn, Side::Server, (true, false, false), &[])?;
                self.tcp_ack(&mut conn, Side::Client)
            }
            TcpEnd::Rst => self.tcp_segment(&mut conn, Side::Client, (false, true, false), &[]),
            TcpEnd::Open => Ok(()),
        }?;
        self.think();
        Ok(())
    }

    /// A whole TCP session: handshake, each payload in order (the peer ACKs
    /// unless it answers with data right away), then `end`.
    pub fn tcp_session(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        payloads: &[(Side, &[u8])],
        end: TcpEnd,
    ) -> io::Result<()> {
        let mut conn = self.tcp_connect(client, server)?;
        for (i, (side, data)) in payloads.iter().enumerate() {
            self.tcp_send(&mut conn, *side, data)?;
            let peer = match side {
                Side::Client => Side::Server,
                Side::Server => Side::Client,
            };
            let peer_answers = payloads.get(i + 1).is_some_and(|(s, _)| *s == peer);
            if !peer_answers {
                self.tcp_ack(&mut conn, peer)?;
            }
        }
        self.tcp_close(conn, end)
    }

    /// A refused connection: SYN, then RST/ACK from the server (closed port).
    pub fn tcp_refused(&mut self, client: Endpoint, server: Endpoint) -> io::Result<()> {
        let isn = self.rng().next_u32();
        self.push_tcp(
            client,
            server,
            &TcpSegment {
                seq: isn,
                syn: true,
                window: 64240,
                options: &SYN_OPTIONS,
                ..Default::default()
            },
        )?;
        self.wait_reply(client.ip, server.ip);
        self.push_tcp(
            server,
            client,
            &TcpSegment {
                ack: Some(isn.wrapping_add(1)),
                rst: true,
                ..Default::default()
            },
        )?;
        self.think();
        Ok(())
    }
}
