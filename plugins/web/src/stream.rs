//! What the stage keeps of each live TCP flow while its reassembled stream goes by. The first bytes
//! decide: a TLS record or an HTTP request or response line makes the flow worth reading; anything
//! else is forgotten at once, so its later chunks cost a map lookup and no memory (the flow is then
//! judged from its payload prefix, as without streams). HTTP is read with
//! [`crate::http_stream`]; TLS keeps each direction's handshake records (at most
//! [`MAX_HANDSHAKE`] bytes) until its hellos and certificates are read, then only what was read.

use crate::cert::{self, Certificate};
use crate::http_stream::{self, Conversation};
use crate::tls::{self, ClientHello, ServerHello};
use pcapxray_plugin_sdk::{FlowId, StreamChunk, StreamData};
use std::collections::HashMap;

/// Handshake bytes kept per direction: a ClientHello, or a server's first flight with its
/// certificate chain.
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// What a flow's stream was read as.
#[derive(Debug)]
pub enum Conv {
    /// No data yet.
    Undecided,
    /// HTTP/1.x.
    Http(Box<Conversation>),
    /// A TLS handshake.
    Tls(Box<Handshake>),
}

/// The live flows being read.
#[derive(Debug, Default)]
pub struct Flows {
    live: HashMap<FlowId, Conv>,
    max_transactions: usize,
}

impl Flows {
    /// No flows yet; HTTP flows list at most `max_transactions`.
    pub fn new(max_transactions: usize) -> Flows {
        Flows {
            live: HashMap::new(),
            max_transactions,
        }
    }

    /// Reads one chunk; true when the flow's streams hold nothing more for this stage (neither HTTP
    /// nor TLS, or a TLS handshake read in both directions), so the host need send no more of them.
    pub fn chunk(&mut self, chunk: &StreamChunk) -> bool {
        if let StreamData::Start(start) = &chunk.data {
            if start.ip_protocol != 6 {
                return true;
            }
            self.live.insert(chunk.flow, Conv::Undecided);
            return false;
        }
        let Some(conv) = self.live.get_mut(&chunk.flow) else {
            return false;
        };
        if let (Conv::Undecided, StreamData::Data(bytes)) = (&*conv, &chunk.data) {
            match decide(chunk.to_server, bytes, self.max_transactions) {
                Some(decided) => *conv = decided,
                None => {
                    self.live.remove(&chunk.flow);
                    return true;
                }
            }
        }
        match conv {
            Conv::Http(http) => match &chunk.data {
                StreamData::Data(bytes) => http.data(chunk.to_server, bytes),
                StreamData::Gap(n) => http.gap(chunk.to_server, *n),
                StreamData::End(_) => http.end(chunk.to_server),
                StreamData::Start(_) => {}
            },
            Conv::Tls(tls) => {
                match &chunk.data {
                    StreamData::Data(bytes) => tls.data(chunk.to_server, bytes),
                    StreamData::Gap(_) | StreamData::End(_) => tls.stop(chunk.to_server),
                    StreamData::Start(_) => {}
                }
                return tls.done();
            }
            Conv::Undecided => {}
        }
        false
    }

    /// What was read of a flow, which is forgotten.
    pub fn take(&mut self, flow: FlowId) -> Option<Conv> {
        let mut conv = self.live.remove(&flow)?;
        if let Conv::Tls(tls) = &mut conv {
            tls.stop(true);
            tls.stop(false);
        }
        Some(conv)
    }

    /// Forgets every flow.
    pub fn clear(&mut self) {
        self.live.clear();
    }
}

/// What a flow is from its first bytes: `None` for neither HTTP nor TLS.
fn decide(to_server: bool, bytes: &[u8], max: usize) -> Option<Conv> {
    let tls = bytes.len() >= 3 && bytes[0] == 0x16 && bytes[1] == 3 && bytes[2] <= 4;
    if tls {
        return Some(Conv::Tls(Box::default()));
    }
    let http = if to_server {
        let token = bytes.split(|&b| b == b' ').next().unwrap_or_default();
        token.len() < bytes.len() && http_stream::is_method(token)
    } else {
        bytes.starts_with(b"HTTP/1.")
    };
    http.then(|| Conv::Http(Box::new(Conversation::new(max))))
}

/// The handshake of a TLS flow, read from both directions.
#[derive(Debug, Default)]
pub struct Handshake {
    client: Records,
    server: Records,
    /// The ClientHello.
    pub hello: Option<ClientHello>,
    /// The ServerHello.
    pub server_hello: Option<ServerHello>,
    /// The server's certificates, leaf first (TLS 1.2 and earlier).
    pub chain: Vec<Certificate>,
}

/// One direction's handshake records, until they are read.
#[derive(Debug, Default)]
struct Records {
    bytes: Vec<u8>,
    /// Where the next record header starts.
    next: usize,
    done: bool,
}

impl Records {
    /// Adds bytes; true when the handshake part of the direction is over (a record of another type,
    /// or the cap).
    fn feed(&mut self, data: &[u8]) -> bool {
        let room = MAX_HANDSHAKE
            .saturating_sub(self.bytes.len())
            .min(data.len());
        self.bytes.extend_from_slice(&data[..room]);
        while let Some(header) = self.bytes.get(self.next..self.next + 5) {
            if header[0] != 22 {
                self.bytes.truncate(self.next);
                return true;
            }
            self.next += 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
        }
        self.bytes.len() >= MAX_HANDSHAKE
    }
}

impl Handshake {
    fn data(&mut self, to_server: bool, data: &[u8]) {
        let side = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        if side.done {
            return;
        }
        let over = side.feed(data);
        // A client's handshake is over for us once its ClientHello is whole.
        let hello_whole = to_server
            && side.next <= side.bytes.len()
            && tls::parse_client_hello(&side.bytes).is_some_and(|h| h.complete);
        if over || hello_whole {
            self.stop(to_server);
        }
    }

    /// True once both directions' handshakes are read.
    fn done(&self) -> bool {
        self.client.done && self.server.done
    }

    /// Reads what one direction holds and drops its bytes.
    fn stop(&mut self, to_server: bool) {
        if to_server && !self.client.done {
            self.client.done = true;
            self.hello = tls::parse_client_hello(&self.client.bytes);
            self.client.bytes = Vec::new();
        } else if !to_server && !self.server.done {
            self.server.done = true;
            self.server_hello = tls::parse_server_hello(&self.server.bytes);
            self.chain = cert::chain(&self.server.bytes);
            self.server.bytes = Vec::new();
        }
    }
}
