//! FTP: a control session announces where its data connections will go (the server's `227`/`229`
//! answers to PASV/EPSV, the client's PORT/EPRT) and what each carries (RETR, STOR, STOU, APPE, or a
//! listing). A transfer command belongs to the announcement its session made last before it, so a
//! data connection is named by the command that followed its announcement even when other data
//! connections of the session are missing from the capture. A new TCP flow to an announced endpoint
//! takes the oldest announcement of that endpoint no connection took yet: a server that announces the
//! same port for every transfer (a listing, then an upload) gives each connection its own command,
//! whichever of them ends first. Its bytes are hashed as they come, and when it ends it takes its
//! command for its name and direction. Listings (LIST, NLST, MLSD) are not files and are dropped.

use crate::Ctx;
use crate::report::{FileInfo, Found};
use crate::sink::Sink;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData, StreamStart, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

/// One announced data endpoint: the session that announced it and the transfer command that
/// followed (verb, argument), once seen.
struct Announcement {
    control: FlowId,
    command: Option<(String, String)>,
}

/// Sessions and the data endpoints they announced, shared by all flows.
#[derive(Default)]
pub struct Registry {
    next: u64,
    /// Every announcement not yet ended by its data connection, by number.
    announced: HashMap<u64, Announcement>,
    /// Announcements no data connection took yet, oldest first, by endpoint.
    waiting: HashMap<(IpAddr, u16), VecDeque<u64>>,
    /// The announcement each control flow made last (the next transfer command is for it).
    last: HashMap<FlowId, u64>,
}

const MAX_EXPECTED: usize = 4096;

impl Registry {
    /// The data connection state for a new flow to an announced endpoint.
    pub fn data_for(&mut self, _flow: FlowId, start: &StreamStart) -> Option<Data> {
        let server = (IpAddr::from(start.server.ip), start.server.port);
        let queue = self.waiting.get_mut(&server)?;
        let id = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&server);
        }
        let control = self.announced.get(&id)?.control;
        Some(Data {
            control,
            announcement: id,
            sinks: [Sink::new(""), Sink::new("")],
        })
    }

    fn expect(&mut self, endpoint: (IpAddr, u16), control: FlowId) {
        if self.announced.len() >= MAX_EXPECTED {
            self.announced.clear();
            self.waiting.clear();
            self.last.clear();
        }
        let id = self.next;
        self.next += 1;
        self.announced.insert(
            id,
            Announcement {
                control,
                command: None,
            },
        );
        self.waiting.entry(endpoint).or_default().push_back(id);
        self.last.insert(control, id);
    }

    /// A transfer command of a control flow: for the endpoint it announced last.
    fn command(&mut self, control: FlowId, verb: String, arg: String) {
        if let Some(id) = self.last.remove(&control)
            && let Some(a) = self.announced.get_mut(&id)
        {
            a.command = Some((verb, arg));
        }
    }
}

/// One control connection.
pub struct Control {
    server: Option<IpAddr>,
    lines: [Vec<u8>; 2],
}

impl Control {
    pub fn new(server: Option<IpAddr>) -> Control {
        Control {
            server,
            lines: [Vec::new(), Vec::new()],
        }
    }

    pub fn chunk(&mut self, chunk: &StreamChunk, ctx: &mut Ctx) {
        let side = usize::from(!chunk.to_server);
        match &chunk.data {
            StreamData::Data(bytes) => {
                let mut rest: &[u8] = bytes;
                while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                    self.lines[side].extend_from_slice(&rest[..i]);
                    rest = &rest[i + 1..];
                    let line = std::mem::take(&mut self.lines[side]);
                    let text = String::from_utf8_lossy(&line).trim().to_string();
                    self.line(chunk.flow, chunk.to_server, &text, ctx);
                }
                if self.lines[side].len() + rest.len() <= 4096 {
                    self.lines[side].extend_from_slice(rest);
                }
            }
            StreamData::Gap(_) => self.lines[side].clear(),
            _ => {}
        }
    }

    fn line(&mut self, flow: FlowId, to_server: bool, text: &str, ctx: &mut Ctx) {
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let verb = verb.to_ascii_uppercase();
        let arg = arg.trim();
        if to_server {
            match verb.as_str() {
                "PORT" => {
                    if let Some(ep) = comma_endpoint(arg) {
                        ctx.ftp.expect(ep, flow);
                    }
                }
                "EPRT" => {
                    if let Some(ep) = eprt(arg) {
                        ctx.ftp.expect(ep, flow);
                    }
                }
                "RETR" | "STOR" | "STOU" | "APPE" | "LIST" | "NLST" | "MLSD" => {
                    ctx.ftp.command(flow, verb, arg.to_string());
                }
                _ => {}
            }
        } else if verb == "227" {
            let inside = text
                .split_once('(')
                .map(|(_, r)| r.trim_end_matches(['.', ')']));
            let ep = inside.and_then(comma_endpoint).or_else(|| {
                // Some servers leave out the parentheses: the six numbers end the line.
                text.rsplit(' ').next().and_then(comma_endpoint)
            });
            if let Some(ep) = ep {
                ctx.ftp.expect(ep, flow);
            }
        } else if verb == "229" {
            let port = text
                .split('|')
                .filter_map(|p| p.parse::<u16>().ok())
                .next_back();
            if let (Some(ip), Some(port)) = (self.server, port) {
                ctx.ftp.expect((ip, port), flow);
            }
        }
    }

    pub fn close(self, _ctx: &mut Ctx) {}
}

/// `h1,h2,h3,h4,p1,p2`.
fn comma_endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let n: Vec<u8> = text
        .trim()
        .trim_end_matches(')')
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c, d, p1, p2] = n[..] else {
        return None;
    };
    Some((
        IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

/// `|1|132.235.1.2|6275|` or `|2|::1|6275|`.
fn eprt(text: &str) -> Option<(IpAddr, u16)> {
    let d = text.chars().next()?;
    let parts: Vec<&str> = text.split(d).collect();
    let ip = parts.get(2)?.parse().ok()?;
    let port = parts.get(3)?.parse().ok()?;
    Some((ip, port))
}

/// One data connection.
pub struct Data {
    control: FlowId,
    /// The announcement it took.
    announcement: u64,
    /// [to server, to client].
    sinks: [Sink; 2],
}

impl Data {
    pub fn chunk(&mut self, chunk: &StreamChunk) {
        let sink = &mut self.sinks[usize::from(!chunk.to_server)];
        match &chunk.data {
            StreamData::Data(bytes) => sink.data(bytes),
            StreamData::Gap(n) => sink.gap(*n),
            _ => {}
        }
    }

    pub fn close(self, flow: FlowId, time: Timestamp, ctx: &mut Ctx) {
        let command = ctx
            .ftp
            .announced
            .remove(&self.announcement)
            .and_then(|a| a.command);
        let listing = command
            .as_ref()
            .is_some_and(|(v, _)| matches!(v.as_str(), "LIST" | "NLST" | "MLSD"));
        let [a, b] = self.sinks;
        // The file is the direction that carried bytes.
        let (sink, other) = if a.size() >= b.size() { (a, b) } else { (b, a) };
        other.discard();
        let summary = sink.finish();
        if listing || (summary.size == 0 && summary.missing == 0) {
            return;
        }
        let (verb, name) = command.unwrap_or_default();
        let what = match verb.as_str() {
            "RETR" => "download",
            "" => "transfer",
            _ => "upload",
        };
        let mut info = FileInfo::new("ftp", what, name);
        info.attr(names::files::FTP_COMMAND, verb);
        info.attr(names::files::CONTROL_FLOW, self.control.to_string());
        ctx.found(
            flow,
            Found {
                info,
                summary,
                time,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_port_announced_twice_gives_each_connection_its_own_command() {
        // ftp_pasv_stor_html.pcap: PASV (21003), NLST, its data connection; PASV (21003) again,
        // STOR index.html, its data connection; the listing's connection ends last.
        let mut r = Registry::default();
        let ep: (IpAddr, u16) = ("10.0.0.2".parse().unwrap(), 21003);
        let end = |ip: u32, port| pcapxray_plugin_sdk::Endpoint {
            ip: pcapxray_plugin_sdk::IpAddress::V4(ip),
            port,
            mac: None,
        };
        let start = StreamStart {
            client: end(0x0a00_0001, 40000),
            server: end(0x0a00_0002, ep.1),
            ip_protocol: 6,
        };
        r.expect(ep, 1);
        r.command(1, "NLST".into(), String::new());
        let listing = r.data_for(7, &start).unwrap();
        r.expect(ep, 1);
        r.command(1, "STOR".into(), "index.html".into());
        let upload = r.data_for(8, &start).unwrap();
        let command = |r: &mut Registry, d: &Data| {
            r.announced.remove(&d.announcement).and_then(|a| a.command)
        };
        assert_eq!(
            command(&mut r, &upload),
            Some(("STOR".into(), "index.html".into()))
        );
        assert_eq!(
            command(&mut r, &listing),
            Some(("NLST".into(), String::new()))
        );
        // A connection made before its command still gets it.
        r.expect(ep, 1);
        let early = r.data_for(9, &start).unwrap();
        r.command(1, "RETR".into(), "a.pdf".into());
        assert_eq!(
            command(&mut r, &early),
            Some(("RETR".into(), "a.pdf".into()))
        );
        assert!(
            r.data_for(10, &start).is_none(),
            "nothing announced is left"
        );
    }

    #[test]
    fn announced_endpoints_are_read_from_pasv_port_and_eprt() {
        assert_eq!(
            comma_endpoint("192,168,1,2,195,80"),
            Some(("192.168.1.2".parse().unwrap(), 50000))
        );
        assert_eq!(
            eprt("|1|132.235.1.2|6275|"),
            Some(("132.235.1.2".parse().unwrap(), 6275))
        );
        assert_eq!(eprt("|2|::1|21|"), Some(("::1".parse().unwrap(), 21)));
    }
}
