//! Test-only analyzer that proves stream delivery end to end: for each direction of every flow it is
//! handed streams of, one Info finding `stream.hash` on the flow with the SHA-256 of the bytes
//! received, their count, the bytes missing (gaps), the conflicting overlaps and the bytes the budget
//! cut. It uses only the SDK's `Streams` helper, as a plugin author would.

use pcapxray_plugin_sdk::streams::{StreamEvent, Streams};
use pcapxray_plugin_sdk::{
    Analyzer, Finding, Flow, NoConfig, Outcome, PluginError, Severity, StreamChunk,
};
use sha2::{Digest, Sha256};

/// One direction being hashed.
#[derive(Default)]
struct Hashing {
    sha: Sha256,
    bytes: u64,
    missing: u64,
    gaps: u32,
}

#[derive(Default)]
struct StreamHash {
    streams: Streams<Hashing>,
}

impl Analyzer for StreamHash {
    const NAME: &'static str = "stream-hash";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str =
        "Hashes each direction of every stream it is handed (test plugin).";
    const NEEDS_PAYLOAD: bool = false;
    type Config = NoConfig;

    fn new(_config: NoConfig) -> Result<Self, PluginError> {
        Ok(StreamHash::default())
    }

    fn analyze(&mut self, _flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        Ok(())
    }

    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
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
        out.push(
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
