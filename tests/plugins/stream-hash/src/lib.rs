//! Test-only analyzer that proves stream delivery end to end: for each direction of every flow it is
//! handed streams of, one Info finding `stream.hash` on the flow with the SHA-256 of the bytes
//! received, their count, the bytes missing (gaps), the conflicting overlaps and the bytes the budget
//! cut. It uses only the SDK's `Streams` helper, as a plugin author would, and keeps each result until
//! `analyze` hands over the flow, which the host promises comes after every chunk of it: a flow that
//! arrives with a direction still open, or a result whose flow never arrives, is a `stream.order`
//! finding (a test checks there is none).

use pcapxray_plugin_sdk::streams::{StreamEvent, Streams};
use pcapxray_plugin_sdk::{
    Analyzer, Finding, Flow, Outcome, PluginError, Severity, StreamChunk, StreamData,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// One direction being hashed.
#[derive(Default)]
pub struct Hashing {
    sha: Sha256,
    bytes: u64,
    missing: u64,
    gaps: u32,
}

/// The stage's configuration.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// When set, the stage gives up on a flow's streams (`Outcome::stop_stream`) once this many bytes
    /// of it have come, and reports `stream.stopped` with what it had when it did.
    #[serde(default)]
    stop_after: Option<u64>,
}

#[derive(Default)]
pub struct StreamHash {
    config: Config,
    streams: Streams<Hashing>,
    /// Bytes seen per flow, when `stop_after` is set.
    seen: HashMap<u64, u64>,
    /// Flows the stage gave up on, until `analyze` hands them over.
    stopped: HashSet<u64>,
    /// Results waiting for their flow.
    done: HashMap<u64, Vec<Finding>>,
}

impl Analyzer for StreamHash {
    const NAME: &'static str = "stream-hash";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str =
        "Hashes each direction of every stream it is handed (test plugin).";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(StreamHash {
            config,
            ..StreamHash::default()
        })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            self.stopped.remove(&flow.id);
            if self.streams.start(flow.id).is_some() {
                out.push(
                    Finding::on_flow(flow.id, "stream.order", Severity::High)
                        .summary("flow handed over before its streams ended"),
                );
            }
            for f in self.done.remove(&flow.id).unwrap_or_default() {
                out.push(f);
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        for (id, _) in self.done.drain() {
            out.push(
                Finding::on_flow(id, "stream.order", Severity::High).summary(format!(
                    "streams of flow {id} ended but the flow never came"
                )),
            );
        }
        Ok(())
    }

    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        if self.stopped.contains(&chunk.flow) {
            // The host must not send a chunk of a flow the stage gave up on.
            self.done.entry(chunk.flow).or_default().push(
                Finding::on_flow(chunk.flow, "stream.order", Severity::High)
                    .summary("a chunk came after the stage gave up on the stream"),
            );
            return Ok(());
        }
        if let (Some(limit), StreamData::Data(bytes)) = (self.config.stop_after, &chunk.data) {
            let seen = self.seen.entry(chunk.flow).or_default();
            *seen += bytes.len() as u64;
            if *seen >= limit {
                let seen = self.seen.remove(&chunk.flow).unwrap_or_default();
                self.streams.forget(chunk.flow);
                self.stopped.insert(chunk.flow);
                out.stop_stream(chunk.flow);
                self.done.entry(chunk.flow).or_default().push(
                    Finding::on_flow(chunk.flow, "stream.stopped", Severity::Info)
                        .summary("stream given up")
                        .attr("bytes", seen.to_string()),
                );
                return Ok(());
            }
        }
        let done = self.streams.feed(chunk, |_, h, event| match event {
            StreamEvent::Data(bytes) => {
                h.sha.update(bytes);
                h.bytes += bytes.len() as u64;
            }
            StreamEvent::Gap(n) => {
                h.missing += n;
                h.gaps += 1;
            }
        });
        let Some((key, h, end)) = done else {
            return Ok(());
        };
        let direction = if key.to_server {
            "to-server"
        } else {
            "to-client"
        };
        let digest: String = h
            .sha
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.done.entry(key.flow).or_default().push(
            Finding::on_flow(key.flow, "stream.hash", Severity::Info)
                .summary(format!("stream {direction}"))
                .attr("direction", direction)
                .attr("sha256", digest)
                .attr("bytes", h.bytes.to_string())
                .attr("missing", h.missing.to_string())
                .attr("gaps", h.gaps.to_string())
                .attr("length", chunk.offset.to_string())
                .attr("conflicts", end.conflicts.to_string())
                .attr("cut", end.cut.to_string()),
        );
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(StreamHash);

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::StreamEnd;

    fn chunk(offset: u64, data: StreamData) -> StreamChunk {
        StreamChunk {
            flow: 7,
            to_server: true,
            offset,
            time: 0,
            data,
        }
    }

    #[test]
    fn a_direction_is_hashed_over_its_bytes_with_gaps_counted() {
        let mut p = StreamHash::new(Config::default()).unwrap();
        let mut out = Outcome::default();
        let end = StreamEnd {
            conflicts: 0,
            cut: 0,
        };
        for c in [
            chunk(0, StreamData::Data(b"ab".to_vec())),
            chunk(2, StreamData::Gap(2)),
            chunk(4, StreamData::Data(b"ef".to_vec())),
            chunk(6, StreamData::End(end)),
        ] {
            p.stream(&c, &mut out).unwrap();
        }
        let found = &p.done[&7][0];
        let attr = |k: &str| {
            found
                .attributes
                .iter()
                .find(|a| a.key == k)
                .map(|a| a.value.clone())
        };
        // SHA-256("abef"), computed with `printf abef | sha256sum`.
        assert_eq!(
            attr("sha256").as_deref(),
            Some("a0d3b657701f9ae5b8ae4bf994954dafc1e117c8fec78c4b722f9265affee60c")
        );
        assert_eq!(attr("bytes").as_deref(), Some("4"));
        assert_eq!(attr("missing").as_deref(), Some("2"));
        assert_eq!(attr("length").as_deref(), Some("6"));
    }
}
