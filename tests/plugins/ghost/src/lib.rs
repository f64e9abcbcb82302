//! Test plugin: on the first flow it sees, raises one sound finding and four the host must not pass
//! on as they are (see README.md).

use pcapxray_plugin_sdk::{
    Analyzer, Finding, Flow, NoConfig, Outcome, PluginError, Severity, StreamChunk, StreamData,
};

pub struct Ghost {
    done: bool,
    streamed: bool,
}

impl Analyzer for Ghost {
    const NAME: &'static str = "ghost";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str =
        "Raises findings about flows that do not exist (test plugin).";
    type Config = NoConfig;

    fn new(_: NoConfig) -> Result<Ghost, PluginError> {
        Ok(Ghost {
            done: false,
            streamed: false,
        })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        let Some(first) = flows.first() else {
            return Ok(());
        };
        if self.done {
            return Ok(());
        }
        self.done = true;
        let id = first.id;
        out.push(Finding::on_flow(id, "ghost.sound", Severity::Low).summary("a sound finding"));
        out.push(
            Finding::on_flow(987_654, "ghost.ghost", Severity::Medium).summary("about no flow"),
        );
        out.push(Finding::on_flow(id, "", Severity::Low).summary("no tag"));
        out.push(Finding::on_flow(id, "ghost spaced", Severity::Low).summary("a spaced tag"));
        out.push(
            Finding::on_capture("ghost.listed", Severity::Low)
                .summary("lists a flow that does not exist")
                .flows(vec![123_456, id]),
        );
        Ok(())
    }

    /// A sound finding raised from a stream, before its flow reaches `analyze` (when the stage reads
    /// streams): the host must not take it for one about a flow that does not exist.
    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        if !self.streamed && matches!(chunk.data, StreamData::Start(_)) {
            self.streamed = true;
            out.push(
                Finding::on_flow(chunk.flow, "ghost.stream", Severity::Low)
                    .summary("raised from the stream"),
            );
        }
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(Ghost);
