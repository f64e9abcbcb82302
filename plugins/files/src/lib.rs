//! files: the files a capture carried, found on whole reassembled streams (issue #11): HTTP/1.x bodies
//! (every transaction of a connection, content codings undone, multipart uploads split, 206 ranges),
//! SMTP, POP3 and IMAP messages with their MIME attachments, FTP transfers linked to their control
//! session, TFTP transfers, and SMB2/3 reads and writes named by their CREATE. Each file is one `files.<protocol>` finding on the flow that carried
//! it, with its name, declared and detected types, size, missing ranges, MD5, SHA-1 and SHA-256, both
//! hosts and the time; a declared type the content contradicts raises it to Medium. Protocols are
//! recognised by their first bytes, not by port. Bytes are hashed as they stream by and, when the
//! stage is granted `extract`, handed to the host to keep; nothing is held whole.

mod decode;
mod entity;
mod ftp;
mod http;
mod mail;
mod mime;
mod multipart;
mod report;
mod sink;
mod smb;
mod smb1;
mod tftp;

use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Analyzer, Flow, FlowId, Outcome, PluginError, RunNote, StreamChunk, StreamData, StreamStart,
    Timestamp,
};
use report::Found;
use serde::Deserialize;
use std::collections::HashMap;

/// The stage's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Keep the files' bytes through the `extract` capability when the stage is granted it.
    pub extract: bool,
    /// Largest decoded size of one content-coded body or encoded attachment, in MB: decoding stops
    /// there (a decompression bomb), the file is reported as incomplete with the reason.
    pub decoded_mb: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            extract: true,
            decoded_mb: 64,
        }
    }
}

/// What a flow's streams are being read as.
enum Conv {
    /// Nothing decisive seen yet.
    Undecided,
    /// A `220` banner: SMTP or FTP, as the client's first command will say.
    Banner220,
    Http(Box<http::Conversation>),
    Mail(Box<mail::Session>),
    FtpControl(Box<ftp::Control>),
    FtpData(Box<ftp::Data>),
    Tftp(Box<tftp::Transfer>),
    Smb(Box<smb::Smb>),
    /// Not a protocol that carries files: chunks are dropped at once.
    Other,
}

/// Shared state of the protocols that span flows, and the settings.
pub struct Ctx {
    /// Cap on decoded bytes.
    pub cap: u64,
    pub ftp: ftp::Registry,
    pub tftp: tftp::Registry,
    /// Files found, by the flow that carried them.
    pub done: HashMap<FlowId, Vec<Found>>,
}

impl Ctx {
    pub fn found(&mut self, flow: FlowId, found: Found) {
        self.done.entry(flow).or_default().push(found);
    }
}

pub struct Files {
    /// Each live flow's reading, its end markers seen, and the time of its last chunk.
    conv: HashMap<FlowId, (Conv, u8, Timestamp)>,
    /// Files an extraction cap kept out, for the run note.
    not_kept: u64,
    /// Each flow's endpoints, until it is handed over.
    starts: HashMap<FlowId, StreamStart>,
    ctx: Ctx,
}

impl Analyzer for Files {
    const NAME: &'static str = "files";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Files carried over HTTP, SMTP, POP3, IMAP, FTP, TFTP and SMB2/3, with types, hashes and missing ranges; kept when granted `extract`.";
    const NEEDS_PAYLOAD: bool = false;
    /// Files are in payloads: a flow without any has none (its stream start is forgotten at its end).
    const PAYLOAD_FLOWS_ONLY: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<Self, PluginError> {
        sink::set_extract(config.extract);
        Ok(Files {
            conv: HashMap::new(),
            not_kept: 0,
            starts: HashMap::new(),
            ctx: Ctx {
                cap: config.decoded_mb.max(1) << 20,
                ftp: ftp::Registry::default(),
                tftp: tftp::Registry::default(),
                done: HashMap::new(),
            },
        })
    }

    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        let flow = chunk.flow;
        if let StreamData::Start(start) = &chunk.data {
            let conv = self.first_conv(flow, start);
            // A flow that cannot carry files keeps nothing here (a flood of a million of them costs
            // no memory), and the host sends no more of it.
            if matches!(conv, Conv::Other) {
                out.stop_stream(flow);
            } else {
                self.starts.insert(flow, *start);
                self.conv.insert(flow, (conv, 0, chunk.time));
            }
            return Ok(());
        }
        let Some((mut conv, mut ended, _)) = self.conv.remove(&flow) else {
            return Ok(());
        };
        if let StreamData::End(_) = chunk.data {
            ended += 1;
        }
        if let StreamData::Data(bytes) = &chunk.data {
            let server = self.starts.get(&flow).map(|s| s.server.ip.into());
            conv = decide(conv, chunk.to_server, bytes, self.ctx.cap, server);
            if matches!(conv, Conv::Other) && !self.ctx.done.contains_key(&flow) {
                self.starts.remove(&flow);
                out.stop_stream(flow);
                return Ok(());
            }
        }
        self.feed(&mut conv, chunk);
        if ended < 2 {
            self.conv.insert(flow, (conv, ended, chunk.time));
        } else {
            self.close(flow, conv, chunk.time);
            // `analyze` (which reports the flow's files and forgets its start) is not called for a
            // flow that carried no payload: with no file found, forget it now.
            if !self.ctx.done.contains_key(&flow) {
                self.starts.remove(&flow);
            }
        }
        Ok(())
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            let start = self.starts.remove(&flow.id);
            if let Some((conv, _, _)) = self.conv.remove(&flow.id) {
                // A flow handed over without its end markers (should not happen): close it now.
                self.close(flow.id, conv, flow.last_seen());
            }
            for found in self.ctx.done.remove(&flow.id).unwrap_or_default() {
                self.emit(flow.id, start.as_ref(), found, out);
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let open: Vec<FlowId> = self.conv.keys().copied().collect();
        for flow in open {
            if let Some((conv, _, time)) = self.conv.remove(&flow) {
                self.close(flow, conv, time);
            }
        }
        for (flow, found) in std::mem::take(&mut self.ctx.done) {
            let start = self.starts.get(&flow).copied();
            for f in found {
                self.emit(flow, start.as_ref(), f, out);
            }
        }
        if self.not_kept > 0 {
            out.note(
                RunNote::warning(
                    names::files::NOTE_EXTRACT_CAP,
                    format!(
                        "{} files were found but not kept in files/ because an extraction cap \
                         (grants.extract: file_mb or total_mb) was reached; their hashes are reported",
                        self.not_kept
                    ),
                )
                .attr(names::files::NOTE_FILES, self.not_kept.to_string()),
            );
        }
        Ok(())
    }
}

impl Files {
    fn emit(&mut self, flow: FlowId, start: Option<&StreamStart>, found: Found, out: &mut Outcome) {
        if found.over_cap() {
            self.not_kept += 1;
        }
        out.push(report::finding(flow, start, found));
    }

    /// What a new flow is, from what other flows announced (FTP data, TFTP transfers).
    fn first_conv(&mut self, flow: FlowId, start: &StreamStart) -> Conv {
        if start.ip_protocol == 17 {
            return match self.ctx.tftp.transfer_for(start) {
                Some(t) => Conv::Tftp(Box::new(t)),
                None if start.server.port == 69 => Conv::Tftp(Box::new(tftp::Transfer::request((
                    start.client.ip.into(),
                    start.client.port,
                )))),
                None => Conv::Other,
            };
        }
        if start.ip_protocol != 6 {
            return Conv::Other;
        }
        match self.ctx.ftp.data_for(flow, start) {
            Some(data) => Conv::FtpData(Box::new(data)),
            None => Conv::Undecided,
        }
    }

    fn feed(&mut self, conv: &mut Conv, chunk: &StreamChunk) {
        let ctx = &mut self.ctx;
        match conv {
            Conv::Http(c) => c.chunk(chunk, ctx),
            Conv::Mail(s) => s.chunk(chunk, ctx),
            Conv::FtpControl(c) => c.chunk(chunk, ctx),
            Conv::FtpData(d) => d.chunk(chunk),
            Conv::Tftp(t) => t.chunk(chunk, ctx),
            Conv::Smb(s) => s.chunk(chunk, ctx),
            Conv::Undecided | Conv::Banner220 | Conv::Other => {}
        }
    }

    /// Both directions ended: report what the flow still held.
    fn close(&mut self, flow: FlowId, conv: Conv, time: Timestamp) {
        let ctx = &mut self.ctx;
        match conv {
            Conv::Http(c) => c.close(flow, time, ctx),
            Conv::Mail(s) => s.close(flow, time, ctx),
            Conv::FtpControl(c) => c.close(ctx),
            Conv::FtpData(d) => d.close(flow, time, ctx),
            Conv::Tftp(t) => t.close(flow, ctx),
            Conv::Smb(s) => s.close(flow, ctx),
            Conv::Undecided | Conv::Banner220 | Conv::Other => {}
        }
    }
}

/// Decides what an undecided conversation is from its first bytes in a direction.
fn decide(
    conv: Conv,
    to_server: bool,
    bytes: &[u8],
    cap: u64,
    server: Option<std::net::IpAddr>,
) -> Conv {
    let upper = |n: usize| bytes[..bytes.len().min(n)].to_ascii_uppercase();
    match conv {
        Conv::Undecided if !to_server => {
            let head = upper(5);
            if head.starts_with(b"HTTP/") {
                Conv::Http(Box::new(http::Conversation::new(cap)))
            } else if head.starts_with(b"220") {
                Conv::Banner220
            } else if head.starts_with(b"+OK") {
                Conv::Mail(Box::new(mail::Session::pop3(cap)))
            } else if head.starts_with(b"* OK") || head.starts_with(b"* PRE") {
                Conv::Mail(Box::new(mail::Session::imap(cap)))
            } else {
                Conv::Other
            }
        }
        Conv::Undecided => {
            if http::starts_like_http(&bytes[..bytes.len().min(16)], false) {
                Conv::Http(Box::new(http::Conversation::new(cap)))
            } else if smb::starts_like_smb(bytes) {
                Conv::Smb(Box::default())
            } else {
                Conv::Other
            }
        }
        Conv::Banner220 if to_server => {
            let head = upper(4);
            if head == b"EHLO" || head == b"HELO" {
                Conv::Mail(Box::new(mail::Session::smtp(cap)))
            } else {
                Conv::FtpControl(Box::new(ftp::Control::new(server)))
            }
        }
        other => other,
    }
}

/// Tags of the findings this plugin raises.
pub const TAGS: &[&str] = &[
    names::files::HTTP,
    names::files::SMTP,
    names::files::POP3,
    names::files::IMAP,
    names::files::FTP,
    names::files::TFTP,
    names::files::SMB,
];

pcapxray_plugin_sdk::export_analyzer!(Files);
