//! TFTP (RFC 1350): a read or write request to port 69 names the file; the server answers from a port
//! of its own, so the transfer is another UDP flow between the same client endpoint and the server.
//! DATA blocks are put in order by block number (a repeated block is a retransmission and skipped, a
//! skipped number is a hole of that many blocks), and a block shorter than the block size (512, or
//! `blksize` from an OACK) ends the file.

use crate::Ctx;
use crate::report::{FileInfo, Found};
use crate::sink::Sink;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData, StreamStart};
use std::collections::HashMap;
use std::net::IpAddr;

/// A request seen on port 69.
#[derive(Clone, Debug)]
struct Request {
    name: String,
    write: bool,
    mode: String,
}

/// Requests waiting for their transfer flow, by the client's endpoint.
#[derive(Default)]
pub struct Registry {
    expected: HashMap<(IpAddr, u16), Request>,
}

impl Registry {
    /// The transfer a new UDP flow carries, if a request announced it.
    pub fn transfer_for(&mut self, start: &StreamStart) -> Option<Transfer> {
        let ends = [&start.client, &start.server];
        let request = ends
            .iter()
            .find_map(|e| self.expected.remove(&(IpAddr::from(e.ip), e.port)))?;
        Some(Transfer::data(request))
    }
}

/// One TFTP flow: the request flow (which may carry the data too) or a transfer flow.
pub struct Transfer {
    /// The client's endpoint, for a request flow.
    client: Option<(IpAddr, u16)>,
    request: Option<Request>,
    sink: Option<Sink>,
    next: u16,
    block_size: usize,
    done: bool,
    error: Option<String>,
    time: u64,
}

impl Transfer {
    /// A flow to port 69 from `client`.
    pub fn request(client: (IpAddr, u16)) -> Transfer {
        Transfer {
            client: Some(client),
            ..Transfer::data_without_request()
        }
    }

    fn data_without_request() -> Transfer {
        Transfer {
            client: None,
            request: None,
            sink: None,
            next: 1,
            block_size: 512,
            done: false,
            error: None,
            time: 0,
        }
    }

    fn data(request: Request) -> Transfer {
        Transfer {
            request: Some(request),
            ..Transfer::data_without_request()
        }
    }

    pub fn chunk(&mut self, chunk: &StreamChunk, ctx: &mut Ctx) {
        let StreamData::Data(d) = &chunk.data else {
            return;
        };
        self.time = chunk.time;
        if d.len() < 4 {
            return;
        }
        match u16::from_be_bytes([d[0], d[1]]) {
            1 | 2 => self.on_request(d, ctx),
            3 => self.on_data(u16::from_be_bytes([d[2], d[3]]), &d[4..]),
            5 => {
                let text = String::from_utf8_lossy(&d[4..]);
                self.error = Some(format!(
                    "the transfer failed: {}",
                    text.trim_end_matches('\0')
                ));
            }
            6 => self.on_oack(&d[2..]),
            _ => {}
        }
    }

    fn on_request(&mut self, d: &[u8], ctx: &mut Ctx) {
        let mut fields = d[2..]
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned());
        let name = fields.next().unwrap_or_default();
        let mode = fields.next().unwrap_or_default().to_ascii_lowercase();
        let request = Request {
            name,
            write: d[1] == 2,
            mode,
        };
        if let Some(client) = self.client
            && ctx.tftp.expected.len() < 4096
        {
            ctx.tftp.expected.insert(client, request.clone());
        }
        self.request = Some(request);
    }

    fn on_oack(&mut self, options: &[u8]) {
        let fields: Vec<String> = options
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).to_ascii_lowercase())
            .collect();
        for pair in fields.chunks(2) {
            if let [k, v] = pair
                && k == "blksize"
                && let Ok(n) = v.parse::<usize>()
            {
                self.block_size = n.clamp(8, 65464);
            }
        }
    }

    fn on_data(&mut self, block: u16, payload: &[u8]) {
        if self.done {
            return;
        }
        let name = self
            .request
            .as_ref()
            .map_or("", |r| r.name.as_str())
            .to_string();
        let sink = self.sink.get_or_insert_with(|| Sink::new(&name));
        let ahead = block.wrapping_sub(self.next);
        if ahead >= u16::MAX / 2 {
            return; // an earlier block again: a retransmission
        }
        if ahead > 0 {
            sink.gap(u64::from(ahead) * self.block_size as u64);
        }
        sink.data(payload);
        self.next = block.wrapping_add(1);
        self.done = payload.len() < self.block_size;
    }

    pub fn close(self, flow: FlowId, ctx: &mut Ctx) {
        let Some(sink) = self.sink else { return };
        let request = self.request.unwrap_or(Request {
            name: String::new(),
            write: false,
            mode: String::new(),
        });
        let what = if request.write { "upload" } else { "download" };
        let mut info = FileInfo::new("tftp", what, request.name);
        info.framed = self.done;
        info.problem = self.error;
        info.attr(names::files::TFTP_MODE, request.mode);
        ctx.found(
            flow,
            Found {
                info,
                summary: sink.finish(),
                time: self.time,
            },
        );
    }
}
