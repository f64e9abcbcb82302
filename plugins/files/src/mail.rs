//! Where messages are in mail sessions: SMTP (the client's `DATA` up to the lone `.`), POP3 (the
//! server's answer to `RETR` or `TOP`, up to the lone `.`), both dot-unstuffed, and IMAP (the literal
//! `{n}` of a `FETCH` response carrying `BODY[...]` or `RFC822`). Each message goes to a [`Message`],
//! which reports it and its attachments. Sessions read line by line, keeping one line at most
//! [`crate::mime::MAX_LINE`] long.

use crate::Ctx;
use crate::mime::{MAX_LINE, Message};
use crate::report::Found;
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData, Timestamp};
use std::collections::VecDeque;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Smtp,
    Pop3,
    Imap,
}

/// What the direction that carries messages is doing.
enum Mode {
    Commands,
    /// Inside a dot-terminated message (SMTP DATA, POP3 RETR).
    Dotted(Box<Message>),
    /// Skipping a dot-terminated answer that is not a message (POP3 LIST, UIDL, CAPA).
    Skipping,
    /// Inside an IMAP literal: `n` bytes left.
    Literal(Box<Message>, u64),
}

/// One mail session.
pub struct Session {
    kind: Kind,
    cap: u64,
    /// Lines being assembled: [client, server].
    lines: [Vec<u8>; 2],
    mode: Mode,
    /// POP3 commands waiting for their answer.
    commands: VecDeque<String>,
    /// Files found, waiting to be reported on the flow.
    found: Vec<Found>,
}

impl Session {
    fn new(kind: Kind, cap: u64) -> Session {
        Session {
            kind,
            cap,
            lines: [Vec::new(), Vec::new()],
            mode: Mode::Commands,
            commands: VecDeque::new(),
            found: Vec::new(),
        }
    }

    pub fn smtp(cap: u64) -> Session {
        Session::new(Kind::Smtp, cap)
    }

    pub fn pop3(cap: u64) -> Session {
        Session::new(Kind::Pop3, cap)
    }

    pub fn imap(cap: u64) -> Session {
        Session::new(Kind::Imap, cap)
    }

    fn proto(&self) -> &'static str {
        match self.kind {
            Kind::Smtp => "smtp",
            Kind::Pop3 => "pop3",
            Kind::Imap => "imap",
        }
    }

    /// Whether messages flow in this direction.
    fn carries(&self, to_server: bool) -> bool {
        (self.kind == Kind::Smtp) == to_server
    }

    pub fn chunk(&mut self, chunk: &StreamChunk, ctx: &mut Ctx) {
        let side = usize::from(!chunk.to_server);
        match &chunk.data {
            StreamData::Data(bytes) => self.data(chunk.to_server, bytes, chunk.time),
            StreamData::Gap(n) => {
                self.lines[side].clear();
                if self.carries(chunk.to_server) {
                    match &mut self.mode {
                        Mode::Dotted(m) => m.gap(*n),
                        Mode::Literal(m, left) => {
                            m.gap((*n).min(*left));
                            *left = left.saturating_sub(*n);
                        }
                        _ => {}
                    }
                }
            }
            StreamData::End(_) if self.carries(chunk.to_server) => {
                self.end_message(false, chunk.time);
            }
            _ => {}
        }
        for found in self.found.drain(..) {
            ctx.found(chunk.flow, found);
        }
    }

    fn data(&mut self, to_server: bool, mut bytes: &[u8], time: Timestamp) {
        let side = usize::from(!to_server);
        while !bytes.is_empty() {
            if let (true, Mode::Literal(m, left)) = (self.carries(to_server), &mut self.mode) {
                let n = (*left).min(bytes.len() as u64) as usize;
                m.data(&bytes[..n]);
                *left -= n as u64;
                bytes = &bytes[n..];
                if *left == 0 {
                    self.end_message(true, time);
                }
                continue;
            }
            let line = &mut self.lines[side];
            match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&bytes[..=i]);
                    bytes = &bytes[i + 1..];
                    let line = std::mem::take(line);
                    self.line(to_server, &line, time);
                }
                None => {
                    line.extend_from_slice(bytes);
                    bytes = &[];
                    if line.len() > MAX_LINE {
                        let line = std::mem::take(line);
                        self.long_line(to_server, &line);
                    }
                }
            }
        }
    }

    /// A piece of a line too long to hold: message content if a message is open, else dropped.
    fn long_line(&mut self, to_server: bool, piece: &[u8]) {
        if let (true, Mode::Dotted(m)) = (self.carries(to_server), &mut self.mode) {
            m.data(piece);
        }
    }

    fn line(&mut self, to_server: bool, line: &[u8], time: Timestamp) {
        let carries = self.carries(to_server);
        match (&mut self.mode, carries) {
            (Mode::Dotted(m), true) => {
                if line == b".\r\n" || line == b".\n" {
                    self.end_message(true, time);
                } else {
                    m.data(
                        line.strip_prefix(b".")
                            .filter(|_| line.starts_with(b".."))
                            .unwrap_or(line),
                    );
                }
            }
            (Mode::Skipping, true) => {
                if line == b".\r\n" || line == b".\n" {
                    self.mode = Mode::Commands;
                }
            }
            _ => match (self.kind, to_server) {
                (Kind::Smtp, true) => self.smtp_command(line),
                (Kind::Pop3, true) => self.pop3_command(line),
                (Kind::Pop3, false) => self.pop3_answer(line),
                (Kind::Imap, false) => self.imap_line(line),
                _ => {}
            },
        }
    }

    fn smtp_command(&mut self, line: &[u8]) {
        if line.trim_ascii().eq_ignore_ascii_case(b"DATA") {
            self.mode = Mode::Dotted(Box::new(Message::new("smtp", self.cap)));
        }
    }

    fn pop3_command(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line).trim().to_ascii_uppercase();
        let verb = text.split(' ').next().unwrap_or("").to_string();
        let args = text.split(' ').count() > 1;
        let kind = match verb.as_str() {
            "RETR" | "TOP" => "message",
            "LIST" | "UIDL" if !args => "list",
            "CAPA" => "list",
            _ => "single",
        };
        if self.commands.len() < 1024 {
            self.commands.push_back(kind.to_string());
        }
    }

    fn pop3_answer(&mut self, line: &[u8]) {
        if line.starts_with(b"+OK") {
            match self.commands.pop_front().as_deref() {
                Some("message") => {
                    self.mode = Mode::Dotted(Box::new(Message::new("pop3", self.cap)))
                }
                Some("list") => self.mode = Mode::Skipping,
                _ => {}
            }
        } else if line.starts_with(b"-ERR") {
            self.commands.pop_front();
        }
    }

    fn imap_line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        let upper = text.to_ascii_uppercase();
        if !upper.starts_with("* ") || !upper.contains(" FETCH ") {
            return;
        }
        if !(upper.contains("BODY[") || upper.contains("RFC822")) {
            return;
        }
        let Some(open) = text.rfind('{') else { return };
        let Some(n) = text
            .strip_suffix('}')
            .and_then(|t| t.get(open + 1..))
            .and_then(|n| n.trim_end_matches('+').parse::<u64>().ok())
        else {
            return;
        };
        if n > 0 {
            self.mode = Mode::Literal(Box::new(Message::new("imap", self.cap)), n);
        }
    }

    fn end_message(&mut self, framed: bool, time: Timestamp) {
        let message = match std::mem::replace(&mut self.mode, Mode::Commands) {
            Mode::Dotted(m) | Mode::Literal(m, _) => m,
            _ => return,
        };
        let proto = self.proto();
        for (mut info, summary) in message.finish(framed) {
            info.proto = proto;
            self.found.push(Found {
                info,
                summary,
                time,
            });
        }
    }

    pub fn close(mut self, flow: FlowId, time: Timestamp, ctx: &mut Ctx) {
        self.end_message(false, time);
        for found in self.found.drain(..) {
            ctx.found(flow, found);
        }
    }
}
