//! files: the files a capture carried, found on whole reassembled streams (issue #11, first part:
//! HTTP/1.x bodies). Each body of every transaction of a connection — downloads in responses, uploads
//! in requests, keep-alive and pipelined — is one `files.http` finding on its flow with its size, the
//! bytes missing from it, and its SHA-256, computed as the body streams by (nothing is held whole).
//! The stage must ask for streams in the pipeline (`streams = { ports = [80, 8080], protocols =
//! ["tcp"] }`, or `true` to look at every TCP stream: HTTP is recognised by its first bytes, not by
//! port). A body is the bytes on the wire after de-chunking; content codings (gzip, ...) are not
//! undone.

mod http;

use http::{Body, Direction, Head};
use pcapxray_plugin_sdk::{
    Analyzer, Finding, Flow, FlowId, NoConfig, Outcome, PluginError, Severity, StreamChunk,
    StreamData,
};
use std::collections::{HashMap, VecDeque};

/// The tag of a file carried in an HTTP body.
pub const TAG_HTTP: &str = "files.http";

/// One TCP conversation being read as HTTP.
struct Conversation {
    requests: Direction,
    responses: Direction,
    /// Requests not yet answered, oldest first.
    pending: VecDeque<Head>,
    /// Bodies found, in order, with their transaction number.
    found: Vec<Finding>,
    ended: u8,
}

impl Conversation {
    fn new() -> Conversation {
        Conversation {
            requests: Direction::new(false),
            responses: Direction::new(true),
            pending: VecDeque::new(),
            found: Vec::new(),
            ended: 0,
        }
    }

    fn chunk(&mut self, flow: FlowId, to_server: bool, data: &StreamData) {
        let pending = &mut self.pending;
        let dir = if to_server {
            &mut self.requests
        } else {
            &mut self.responses
        };
        match data {
            StreamData::Data(bytes) => dir.data(bytes, &mut || pending.pop_front()),
            StreamData::Gap(n) => dir.gap(*n),
            StreamData::End(_) => {
                dir.end();
                self.ended += 1;
            }
            StreamData::Start(_) => {}
        }
        self.pending.extend(self.requests.requests.drain(..));
        let bodies: Vec<Body> = self
            .requests
            .bodies
            .drain(..)
            .chain(self.responses.bodies.drain(..))
            .collect();
        for body in bodies {
            if body.size > 0 || body.missing > 0 {
                self.found.push(finding(flow, &body));
            }
        }
    }
}

#[derive(Default)]
pub struct Files {
    open: HashMap<FlowId, Conversation>,
    /// Findings waiting for their flow's `analyze`.
    done: HashMap<FlowId, Vec<Finding>>,
}

impl Analyzer for Files {
    const NAME: &'static str = "files";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Files carried in HTTP/1.x bodies (every transaction of a connection), with size and SHA-256.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = NoConfig;

    fn new(_config: NoConfig) -> Result<Self, PluginError> {
        Ok(Files::default())
    }

    fn stream(&mut self, chunk: &StreamChunk, _out: &mut Outcome) -> Result<(), PluginError> {
        if let StreamData::Start(start) = &chunk.data {
            if start.ip_protocol == 6 {
                self.open.insert(chunk.flow, Conversation::new());
            }
            return Ok(());
        }
        let Some(conv) = self.open.get_mut(&chunk.flow) else {
            return Ok(());
        };
        conv.chunk(chunk.flow, chunk.to_server, &chunk.data);
        if conv.ended == 2 {
            let conv = self.open.remove(&chunk.flow).expect("present");
            if !conv.found.is_empty() {
                self.done.insert(chunk.flow, conv.found);
            }
        }
        Ok(())
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            for f in self.done.remove(&flow.id).unwrap_or_default() {
                out.push(f);
            }
        }
        Ok(())
    }
}

/// The file's name: `filename=` of Content-Disposition, else the last segment of the request path.
fn name(body: &Body) -> String {
    let disposition = body.head.header("content-disposition").and_then(|v| {
        let i = v.to_ascii_lowercase().find("filename=")?;
        Some(
            v[i + 9..]
                .split(';')
                .next()?
                .trim()
                .trim_matches('"')
                .to_string(),
        )
    });
    let uri = body
        .request
        .as_ref()
        .map_or(body.head.uri.as_str(), |r| r.uri.as_str());
    let path = uri.split(['?', '#']).next().unwrap_or("");
    disposition
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| match path.rsplit('/').next() {
            Some(last) if !last.is_empty() => last.to_string(),
            _ => path.to_string(),
        })
}

fn finding(flow: FlowId, body: &Body) -> Finding {
    let upload = body.head.status == 0;
    let request = if upload {
        Some(&body.head)
    } else {
        body.request.as_ref()
    };
    let name = name(body);
    let direction = if upload { "upload" } else { "download" };
    let mut f = Finding::on_flow(flow, TAG_HTTP, Severity::Info)
        .summary(format!("HTTP {direction} {name} ({} bytes)", body.size))
        .attr("direction", direction)
        .attr("name", name)
        .attr("size", body.size.to_string())
        .attr("missing", body.missing.to_string())
        .attr("complete", body.complete.to_string())
        .attr("sha256", body.sha256.clone());
    if let Some(r) = request {
        f = f
            .attr("method", r.method.clone())
            .attr("uri", r.uri.clone());
        if let Some(host) = r.header("host") {
            f = f.attr("host", host);
        }
    }
    if !upload {
        f = f.attr("status", body.head.status.to_string());
    }
    for (key, header) in [
        ("content_type", "content-type"),
        ("content_encoding", "content-encoding"),
        ("transfer_encoding", "transfer-encoding"),
    ] {
        if let Some(v) = body.head.header(header) {
            f = f.attr(key, v);
        }
    }
    f
}

pcapxray_plugin_sdk::export_analyzer!(Files);
