//! credentials: every credential a capture carried in a readable form, found on whole reassembled
//! streams (issue #11), anywhere in a session rather than in its first 4 KiB: FTP, POP3 (with APOP),
//! IMAP, SMTP AUTH and Telnet logins, HTTP Basic and Digest, HTTP login forms, NTLMSSP over HTTP
//! and SMB2 (with the line hashcat and John crack), Kerberos AS-REQ (with its PA-ENC-TIMESTAMP as a
//! hashcat line). Each credential is one `credentials.<protocol>` finding on the flow that carried
//! it, with the attribute names of [`pcapxray_plugin_sdk::credentials`]; repeats within a flow are
//! counted, not listed again. Protocols are recognised by their first bytes, not by port (except
//! Kerberos over UDP, which has no handshake, and Telnet without option negotiation). Memory per flow
//! is bounded by each reader's buffers, and a flow that cannot carry credentials, or whose login is
//! done (accepted, or encrypted by STARTTLS), is dropped at once: its later chunks cost nothing.

mod cred;
mod form;
mod framing;
mod http;
mod kerberos;
mod lines;
mod ntlm;
mod smb;
mod telnet;
mod text;

use cred::Found;
pub use cred::{Cred, Outcome as Verdict};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Analyzer, Flow, FlowId, NoConfig, Outcome, PluginError, StreamChunk, StreamData, StreamStart,
};
use std::collections::HashMap;
use std::net::IpAddr;
use text::{Proto, Text};

/// What a flow's streams are being read as.
enum Reading {
    /// Nothing decisive seen yet.
    Undecided,
    /// A `220` greeting: SMTP or FTP, as the client's first command will say.
    Banner220,
    Text(Box<Text>),
    Telnet(Box<telnet::Telnet>),
    Http(Box<http::Http>),
    Smb(Box<smb::Smb>),
    Kerberos(Box<kerberos::Kerberos>),
    /// Not a protocol read here: the flow is dropped.
    Other,
}

impl Reading {
    /// True once nothing more can be learnt from the flow.
    fn done(&self) -> bool {
        match self {
            Reading::Text(t) => t.done,
            Reading::Telnet(t) => t.done,
            Reading::Http(h) => h.done(),
            Reading::Smb(s) => s.done,
            Reading::Kerberos(k) => k.done,
            Reading::Other => true,
            Reading::Undecided | Reading::Banner220 => false,
        }
    }

    fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        match self {
            Reading::Text(t) => t.data(to_server, bytes, found),
            Reading::Telnet(t) => t.data(to_server, bytes, found),
            Reading::Http(h) => h.data(to_server, bytes, found),
            Reading::Smb(s) => s.data(to_server, bytes, found),
            Reading::Kerberos(k) => k.data(to_server, bytes, found),
            Reading::Undecided | Reading::Banner220 | Reading::Other => {}
        }
    }

    fn gap(&mut self, to_server: bool) {
        match self {
            Reading::Text(t) => t.gap(to_server),
            Reading::Telnet(t) => t.done = true,
            Reading::Http(h) => h.gap(to_server),
            Reading::Smb(s) => s.gap(),
            Reading::Kerberos(k) => k.gap(),
            Reading::Undecided | Reading::Banner220 | Reading::Other => {}
        }
    }
}

/// A flow being read.
struct Session {
    reading: Reading,
    found: Found,
    start: StreamStart,
    ended: u8,
}

#[derive(Default)]
pub struct Credentials {
    sessions: HashMap<FlowId, Session>,
    /// Credentials of flows no longer read, waiting for their flow's `analyze`.
    done: HashMap<FlowId, Vec<Cred>>,
}

impl Analyzer for Credentials {
    const NAME: &'static str = "credentials";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Credentials anywhere in a session: FTP, POP3, IMAP, SMTP AUTH, Telnet, HTTP Basic/Digest/forms, NTLM over HTTP and SMB2 (hashcat lines), Kerberos AS-REQ (hashcat lines).";
    const NEEDS_PAYLOAD: bool = false;
    /// Logins are in streams: a flow that carried no payload has no stream and nothing to report.
    const PAYLOAD_FLOWS_ONLY: bool = true;
    type Config = NoConfig;

    fn new(_config: NoConfig) -> Result<Self, PluginError> {
        Ok(Credentials::default())
    }

    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        let flow = chunk.flow;
        if let StreamData::Start(start) = &chunk.data {
            match first_reading(start) {
                Some(reading) => {
                    let session = Session {
                        reading,
                        found: Found::default(),
                        start: *start,
                        ended: 0,
                    };
                    self.sessions.insert(flow, session);
                }
                None => out.stop_stream(flow),
            }
            return Ok(());
        }
        let Some(mut s) = self.sessions.remove(&flow) else {
            return Ok(());
        };
        match &chunk.data {
            StreamData::Data(bytes) => {
                decide(&mut s, chunk.to_server, bytes);
                if matches!(s.reading, Reading::Undecided | Reading::Banner220) {
                    // Still waiting for the other side's first words.
                } else {
                    s.reading.data(chunk.to_server, bytes, &mut s.found);
                }
            }
            StreamData::Gap(_) => s.reading.gap(chunk.to_server),
            StreamData::End(_) => s.ended += 1,
            StreamData::Start(_) => {}
        }
        let undecidable = matches!(s.reading, Reading::Undecided) && s.ended > 0;
        if s.ended >= 2 || s.reading.done() || undecidable {
            if !s.found.creds.is_empty() {
                self.done.entry(flow).or_default().extend(s.found.creds);
            }
            if s.ended < 2 {
                // Nothing more to read here: the host need send no more of this flow.
                out.stop_stream(flow);
            }
        } else {
            self.sessions.insert(flow, s);
        }
        Ok(())
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            let mut creds = self.done.remove(&flow.id).unwrap_or_default();
            if let Some(s) = self.sessions.remove(&flow.id) {
                creds.extend(s.found.creds);
            }
            for cred in creds {
                out.push(cred.finding(flow.id));
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        for (flow, s) in std::mem::take(&mut self.sessions) {
            self.done.entry(flow).or_default().extend(s.found.creds);
        }
        let mut left: Vec<(FlowId, Vec<Cred>)> =
            std::mem::take(&mut self.done).into_iter().collect();
        left.sort_by_key(|(flow, _)| *flow);
        for (flow, creds) in left {
            for cred in creds {
                out.push(cred.finding(flow));
            }
        }
        Ok(())
    }
}

/// What a flow may be from its start alone: Kerberos over UDP port 88, anything over TCP; other UDP
/// flows carry nothing read here and get no session.
fn first_reading(start: &StreamStart) -> Option<Reading> {
    match start.ip_protocol {
        6 => Some(Reading::Undecided),
        17 if start.server.port == 88 => {
            Some(Reading::Kerberos(Box::new(kerberos::Kerberos::new(false))))
        }
        _ => None,
    }
}

/// `scheme://server:port`.
fn origin(scheme: &str, start: &StreamStart) -> String {
    match IpAddr::from(start.server.ip) {
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}", start.server.port),
        ip => format!("{scheme}://{ip}:{}", start.server.port),
    }
}

/// Decides what an undecided flow is from the first bytes of a direction.
fn decide(s: &mut Session, to_server: bool, bytes: &[u8]) {
    let start = &s.start;
    let text = |proto: Proto, scheme: &str| {
        Reading::Text(Box::new(Text::new(proto, origin(scheme, start))))
    };
    let upper = bytes[..bytes.len().min(16)].to_ascii_uppercase();
    s.reading = match std::mem::replace(&mut s.reading, Reading::Undecided) {
        Reading::Undecided if !to_server => {
            if upper.starts_with(b"220") {
                Reading::Banner220
            } else if upper.starts_with(b"+OK") {
                text(Proto::Pop3, "pop3")
            } else if upper.starts_with(b"* OK") || upper.starts_with(b"* PREAUTH") {
                text(Proto::Imap, "imap")
            } else if telnet::starts_like_telnet(bytes) || start.server.port == 23 {
                Reading::Telnet(Box::new(telnet::Telnet::new(origin("telnet", start))))
            } else {
                Reading::Undecided // decided by the client's bytes, or never
            }
        }
        Reading::Undecided => client_first(s, bytes, &upper),
        Reading::Banner220 if to_server => {
            if upper.starts_with(b"EHLO") || upper.starts_with(b"HELO") {
                text(Proto::Smtp, "smtp")
            } else {
                text(Proto::Ftp, "ftp")
            }
        }
        other => other,
    };
}

/// A flow whose client spoke first (or whose server's greeting was not captured).
fn client_first(s: &Session, bytes: &[u8], upper: &[u8]) -> Reading {
    let start = &s.start;
    let text = |proto: Proto, scheme: &str| {
        Reading::Text(Box::new(Text::new(proto, origin(scheme, start))))
    };
    if http::starts_like_http(bytes) {
        Reading::Http(Box::new(http::Http::new(origin("http", start))))
    } else if smb::starts_like_smb(bytes) {
        Reading::Smb(Box::new(smb::Smb::new(start.server.ip.to_string())))
    } else if kerberos::starts_like_tcp_as_req(bytes) {
        Reading::Kerberos(Box::new(kerberos::Kerberos::new(true)))
    } else if telnet::starts_like_telnet(bytes) || start.server.port == 23 {
        Reading::Telnet(Box::new(telnet::Telnet::new(origin("telnet", start))))
    } else if upper.starts_with(b"EHLO ") || upper.starts_with(b"HELO ") {
        text(Proto::Smtp, "smtp")
    } else if upper.starts_with(b"USER ") && start.server.port == 110 {
        text(Proto::Pop3, "pop3")
    } else if upper.starts_with(b"USER ") {
        text(Proto::Ftp, "ftp")
    } else {
        Reading::Other
    }
}

/// Tags of the findings this plugin raises.
pub const TAGS: &[&str] = &[
    names::credentials::FTP,
    names::credentials::POP3,
    names::credentials::IMAP,
    names::credentials::SMTP,
    names::credentials::TELNET,
    names::credentials::HTTP_BASIC,
    names::credentials::HTTP_DIGEST,
    names::credentials::HTTP_FORM,
    names::credentials::NTLM,
    names::credentials::KERBEROS,
];

pcapxray_plugin_sdk::export_analyzer!(Credentials);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::{Endpoint, IpAddress, StreamEnd};

    fn chunk(flow: FlowId, to_server: bool, data: StreamData) -> StreamChunk {
        StreamChunk {
            flow,
            to_server,
            offset: 0,
            time: 0,
            data,
        }
    }

    fn start(ip_protocol: u8, port: u16) -> StreamData {
        let end = |ip: u32, port| Endpoint {
            ip: IpAddress::V4(ip),
            port,
            mac: None,
        };
        StreamData::Start(StreamStart {
            client: end(0x0a00_000a, 40000),
            server: end(0x0a00_0001, port),
            ip_protocol,
        })
    }

    /// Feeds one flow's chunks (server first, then client and server alternating, each cut into
    /// pieces of `cut` bytes) and ends it.
    fn feed(c: &mut Credentials, flow: FlowId, proto: u8, port: u16, parts: &[&[u8]], cut: usize) {
        let mut out = Outcome::default();
        c.stream(&chunk(flow, true, start(proto, port)), &mut out)
            .unwrap();
        for (i, p) in parts.iter().enumerate() {
            for piece in p.chunks(cut.max(1)) {
                let data = StreamData::Data(piece.to_vec());
                c.stream(&chunk(flow, i % 2 == 1, data), &mut out).unwrap();
            }
        }
        for to_server in [true, false] {
            let end = StreamData::End(StreamEnd {
                conflicts: 0,
                cut: 0,
            });
            c.stream(&chunk(flow, to_server, end), &mut out).unwrap();
        }
    }

    /// Bad input never panics: protocol openings followed by pseudo-random bytes, cut at every chunk
    /// size from 1 to 16, on every reader; and a flow that ended is no longer held.
    #[test]
    fn arbitrary_bytes_after_any_opening_never_panic_and_nothing_stays_open() {
        let openings: &[(u8, u16, &[u8], &[u8])] = &[
            (6, 21, b"220 x\r\n", b"USER a\r\nPASS "),
            (6, 110, b"+OK <a@b>\r\n", b"APOP "),
            (6, 143, b"* OK\r\n", b"a LOGIN \"x"),
            (6, 25, b"220 x\r\n", b"EHLO x\r\nAUTH LOGIN\r\n"),
            (6, 23, b"\xff\xfd\x18login: ", b"\xff\xfa"),
            (6, 80, b"HTTP/1.1 401 x\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n--x"),
            (6, 445, b"\0\0\0\x50\xfeSMB", b"\0\0\x01\0\xfeSMB\x40\0"),
            (6, 88, b"\0\0\0\x10\x7e\x82", b"\0\0\0\x20\x6a\x82\x01"),
            (17, 88, b"\x7e\x03", b"\x6a\x30\x82\xff"),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        let mut c = Credentials::default();
        let mut flow = 0;
        for (proto, port, server, client) in openings {
            for cut in 1..=16 {
                flow += 1;
                let noise = random(600);
                let parts: [&[u8]; 4] = [server, client, &noise, &noise[..300]];
                feed(&mut c, flow, *proto, *port, &parts, cut);
            }
        }
        assert!(c.sessions.is_empty());
    }
}
