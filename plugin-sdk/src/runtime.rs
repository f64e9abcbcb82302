//! The two plugin traits and the glue behind the export macros. The component model calls free
//! functions; this module keeps the one plugin instance a component holds and routes each call to it.

use crate::{
    Artifact, ConfigError, FindingRecord, Flow, HostInfo, LinkBatch, Outcome, PluginError,
    PluginInfo, PluginKind, Report, StreamChunk, WitReport,
};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::cell::RefCell;

/// A plugin that reads flows and returns findings and host facts.
///
/// The host calls [`Analyzer::new`] once with the stage's `config` table, then
/// [`Analyzer::analyze`] for each batch of finished flows, then [`Analyzer::finish`].
pub trait Analyzer: Sized + 'static {
    /// Short lower-case name, e.g. `web`.
    const NAME: &'static str;
    /// Semantic version, usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// One sentence saying what the plugin finds.
    const DESCRIPTION: &'static str;
    /// Whether the plugin reads flow payloads; when false, flows arrive with empty payloads (faster).
    const NEEDS_PAYLOAD: bool = true;
    /// The stage's `config` table. Use `#[serde(deny_unknown_fields)]`, so a misspelt key is an error
    /// the investigator sees with its line and column; use [`NoConfig`] when there is nothing to set.
    type Config: DeserializeOwned;

    /// Builds the plugin from its configuration; reject bad values here with
    /// [`PluginError::Config`].
    fn new(config: Self::Config) -> Result<Self, PluginError>;

    /// Looks at a batch of finished flows. Findings and facts go into `out`.
    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError>;

    /// Whether `analyze` looks at its flows. A plugin that does its work in `finish` (from the host
    /// table, say) sets it false: the SDK then neither fetches nor decodes the batches, and `analyze`
    /// gets an empty slice (on a flood of one-packet flows decoding them was all such a stage did).
    const READS_FLOWS: bool = true;

    /// Whether the plugin looks only at flows that carried payload in at least one direction. When
    /// true, the host does not hand it the others (unanswered SYNs, empty datagrams), which on a flood
    /// capture are nearly all of them.
    const PAYLOAD_FLOWS_ONLY: bool = false;

    /// Whether the plugin wants link-layer events (ARP packets, source MACs, DHCP datagrams) in
    /// [`Analyzer::analyze_link`]. When false (the default) the host does not collect them.
    const WANTS_LINK_EVENTS: bool = false;

    /// The link-layer events of the next stretch of the capture, before the flows that finished in it
    /// (only when [`Analyzer::WANTS_LINK_EVENTS`] is true).
    fn analyze_link(&mut self, batch: &LinkBatch, out: &mut Outcome) -> Result<(), PluginError> {
        let _ = (batch, out);
        Ok(())
    }

    /// One chunk of a live flow's reassembled stream, in capture order (only when the pipeline stage
    /// asks for streams with `streams = true` or a filter; the default ignores it). Every chunk of a
    /// flow, its end markers included, comes before the `analyze` call with the flow.
    /// [`crate::streams::Streams`] keeps a value per direction and calls back per contiguous range.
    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        let _ = (chunk, out);
        Ok(())
    }

    /// The capture is over; report what needed all of it (e.g. periodic connections).
    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let _ = out;
        Ok(())
    }
}

/// A plugin that turns the annotated model into report files.
///
/// The host calls [`Output::new`], then [`Output::consume`] for each batch of annotated flows, then
/// [`Output::finish`] with the capture summary, hosts and findings.
pub trait Output: Sized + 'static {
    /// Short lower-case name, e.g. `json`.
    const NAME: &'static str;
    /// Semantic version, usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// One sentence saying what the plugin writes.
    const DESCRIPTION: &'static str;
    /// Whether the plugin reads flow payloads; when false, flows arrive with empty payloads (faster).
    const NEEDS_PAYLOAD: bool = true;
    /// The stage's `config` table (see [`Analyzer::Config`]).
    type Config: DeserializeOwned;

    /// Builds the plugin from its configuration.
    fn new(config: Self::Config) -> Result<Self, PluginError>;

    /// A batch of flows with every analyzer's annotations. Keep only what the report needs (a capture
    /// can hold millions of flows), or return file parts to write now: the host appends each returned
    /// artifact to the file of that name.
    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        let _ = flows;
        Ok(Vec::new())
    }

    /// When true, findings that are not on a flow (host and capture findings, and flow findings raised
    /// at the end of the run) go to [`Output::consume_findings`] in batches as they come, and
    /// `report.findings` is empty in `finish`. When false (the default), the SDK collects them and hands
    /// them over in `report.findings`.
    const STREAMS_FINDINGS: bool = false;

    /// Findings that are not on a flow, in batches, after the flows and before `finish` (only when
    /// [`Output::STREAMS_FINDINGS`] is true). Return file parts to append now, as from `consume`.
    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        let _ = findings;
        Ok(Vec::new())
    }

    /// When true, the hosts go to [`Output::consume_hosts`] in batches sorted by address, after the
    /// findings and before `finish`, and `report.hosts` is empty in `finish`. When false (the default),
    /// the SDK collects them and hands them over in `report.hosts`. A capture can hold millions of
    /// hosts: an output that can write or fold them as they come should stream them.
    const STREAMS_HOSTS: bool = false;

    /// Hosts, in batches sorted by address, after the findings and before `finish` (only when
    /// [`Output::STREAMS_HOSTS`] is true). Return file parts to append now, as from `consume`.
    fn consume_hosts(&mut self, hosts: Vec<HostInfo>) -> Result<Vec<Artifact>, PluginError> {
        let _ = hosts;
        Ok(Vec::new())
    }

    /// Returns the report files.
    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError>;
}

/// The configuration of a plugin that takes none: any key is an error.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Most problems one stage's config reports at once.
const MAX_CONFIG_ERRORS: usize = 16;

/// Parses a stage's JSON config, naming the offending key path of each error (see [`config_key`]).
/// Every problem is reported, not only the first: the key of each error is taken out and the table
/// read again, until it reads or an error cannot be taken out (it is about a whole table or list) or
/// [`MAX_CONFIG_ERRORS`] are found. A key taken out that its table requires is not reported again as
/// missing.
fn parse_config<C: DeserializeOwned>(json: &str) -> Result<C, PluginError> {
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        PluginError::Config(vec![ConfigError {
            key: String::new(),
            message: without_position(e.to_string()),
        }])
    })?;
    let mut errors = Vec::new();
    let mut removed: Vec<Vec<PathStep>> = Vec::new();
    loop {
        let e = match serde_path_to_error::deserialize::<_, C>(&value) {
            Ok(config) if errors.is_empty() => return Ok(config),
            Ok(_) => return Err(PluginError::Config(errors)),
            Err(e) => e,
        };
        let steps = path_steps(e.path());
        let key = config_key(e.path());
        let message = without_position(e.into_inner().to_string());
        if let Some(steps) = &steps
            && missing_because_removed(steps, &message, &removed)
        {
            return Err(PluginError::Config(errors));
        }
        errors.push(ConfigError { key, message });
        match steps {
            Some(steps) if errors.len() < MAX_CONFIG_ERRORS && remove_key(&mut value, &steps) => {
                removed.push(steps)
            }
            _ => return Err(PluginError::Config(errors)),
        }
    }
}

/// serde_json appends " at line 1 column N" of the JSON text, which means nothing to the user.
fn without_position(message: String) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

/// One step of a key path: a table key or a list index.
#[derive(Clone, PartialEq, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// The steps of `path`, or `None` when a step cannot be followed in the JSON (an enum variant).
fn path_steps(path: &serde_path_to_error::Path) -> Option<Vec<PathStep>> {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|segment| match segment {
            Segment::Map { key } => Some(PathStep::Key(key.clone())),
            Segment::Seq { index } => Some(PathStep::Index(*index)),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// Whether `message` is "missing field `name`" for a table at `steps` whose key `name` was taken out.
fn missing_because_removed(steps: &[PathStep], message: &str, removed: &[Vec<PathStep>]) -> bool {
    let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    else {
        return false;
    };
    removed.iter().any(|r| {
        r.len() == steps.len() + 1
            && r[..steps.len()] == *steps
            && r.last() == Some(&PathStep::Key(name.to_string()))
    })
}

/// Takes out the table key at `steps` (the last step must be a key); false when there is none.
fn remove_key(value: &mut serde_json::Value, steps: &[PathStep]) -> bool {
    let Some((PathStep::Key(last), parents)) = steps.split_last() else {
        return false;
    };
    let mut at = value;
    for step in parents {
        let next = match step {
            PathStep::Key(k) => at.get_mut(k.as_str()),
            PathStep::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    at.as_object_mut()
        .is_some_and(|table| table.remove(last.as_str()).is_some())
}

/// The `config-error.key` of a configuration error: the full path of the offending key inside the
/// stage's `config` table, table keys joined by dots and array items as `[i]` (`views[0].name`), the
/// form in which the host records where each key stands in the pipeline file. For an unknown key the
/// path ends with that key's own name (serde_path_to_error records the key whose deserialization
/// failed), so the host places the error with the key alone. Empty when the error is about the table
/// as a whole.
fn config_key(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    /// Findings collected for outputs that do not stream them.
    static FINDINGS: RefCell<Vec<FindingRecord>> = const { RefCell::new(Vec::new()) };
    /// Hosts collected for outputs that do not stream them.
    static HOSTS: RefCell<Vec<HostInfo>> = const { RefCell::new(Vec::new()) };
}

fn with_instance<T: 'static, R>(
    f: impl FnOnce(&mut T) -> Result<R, PluginError>,
) -> Result<R, PluginError> {
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(instance) => f(instance),
            None => Err(PluginError::Other(
                "the host called the plugin before `configure`".into(),
            )),
        }
    })
}

fn install<T: 'static>(instance: T) {
    INSTANCE.with(|cell| *cell.borrow_mut() = Some(Box::new(instance)));
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    pub fn info(
        name: &str,
        version: &str,
        description: &str,
        kind: PluginKind,
        needs_payload: bool,
        wants_link_events: bool,
        payload_flows_only: bool,
    ) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            kind,
            needs_payload,
            wants_link_events,
            // Every plugin built with the SDK fetches its flows packed and decodes them here.
            packed_flows: true,
            payload_flows_only,
        }
    }

    /// The call's flows: as passed, or fetched packed when the host passed none.
    fn flows_of_call(flows: Vec<Flow>) -> Result<Vec<Flow>, PluginError> {
        if flows.is_empty() {
            crate::packed::fetch()
        } else {
            Ok(flows)
        }
    }

    pub fn analyzer_configure<T: Analyzer>(json: &str) -> Result<(), PluginError> {
        install(T::new(parse_config::<T::Config>(json)?)?);
        Ok(())
    }

    pub fn analyzer_analyze<T: Analyzer>(flows: Vec<Flow>) -> Result<Outcome, PluginError> {
        let flows = if T::READS_FLOWS {
            flows_of_call(flows)?
        } else {
            Vec::new()
        };
        with_instance::<T, _>(|p| {
            let mut out = Outcome::default();
            p.analyze(&flows, &mut out)?;
            Ok(out)
        })
    }

    pub fn analyzer_analyze_link<T: Analyzer>(batch: LinkBatch) -> Result<Outcome, PluginError> {
        with_instance::<T, _>(|p| {
            let mut out = Outcome::default();
            p.analyze_link(&batch, &mut out)?;
            Ok(out)
        })
    }

    pub fn analyzer_analyze_stream<T: Analyzer>(
        batch: Vec<StreamChunk>,
    ) -> Result<Outcome, PluginError> {
        with_instance::<T, _>(|p| {
            let mut out = Outcome::default();
            // A flow the plugin gave up on gets no further chunk, even later in this batch. Only the
            // flows given up since the last chunk are added (adding the whole list each time made a
            // batch of a flood, where every chunk gives up on its flow, quadratic).
            let mut stopped = std::collections::HashSet::new();
            let mut added = 0;
            for chunk in &batch {
                if out.streams_done.len() > added {
                    stopped.extend(out.streams_done[added..].iter().copied());
                    added = out.streams_done.len();
                }
                if !stopped.contains(&chunk.flow) {
                    p.stream(chunk, &mut out)?;
                }
            }
            Ok(out)
        })
    }

    pub fn analyzer_finish<T: Analyzer>() -> Result<Outcome, PluginError> {
        with_instance::<T, _>(|p| {
            let mut out = Outcome::default();
            p.finish(&mut out)?;
            Ok(out)
        })
    }

    pub fn output_configure<T: Output>(json: &str) -> Result<(), PluginError> {
        install(T::new(parse_config::<T::Config>(json)?)?);
        Ok(())
    }

    pub fn output_consume<T: Output>(flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        let flows = flows_of_call(flows)?;
        with_instance::<T, _>(|p| p.consume(flows))
    }

    pub fn output_consume_findings<T: Output>(
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        if T::STREAMS_FINDINGS {
            with_instance::<T, _>(|p| p.consume_findings(findings))
        } else {
            FINDINGS.with(|kept| kept.borrow_mut().extend(findings));
            Ok(Vec::new())
        }
    }

    pub fn output_consume_hosts<T: Output>(
        hosts: Vec<HostInfo>,
    ) -> Result<Vec<Artifact>, PluginError> {
        if T::STREAMS_HOSTS {
            with_instance::<T, _>(|p| p.consume_hosts(hosts))
        } else {
            HOSTS.with(|kept| kept.borrow_mut().extend(hosts));
            Ok(Vec::new())
        }
    }

    pub fn output_finish<T: Output>(report: WitReport) -> Result<Vec<Artifact>, PluginError> {
        let report = Report {
            capture: report.capture,
            hosts: HOSTS.with(|kept| std::mem::take(&mut *kept.borrow_mut())),
            findings: FINDINGS.with(|kept| std::mem::take(&mut *kept.borrow_mut())),
            plugins: report.plugins,
            queries: report.queries,
            notes: report.notes,
        };
        with_instance::<T, _>(|p| p.finish(report))
    }
}

/// Exports a type implementing [`Analyzer`] as the plugin's component interface. Call it once, at the
/// crate root of a `cdylib` crate.
#[macro_export]
macro_rules! export_analyzer {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __PcapxrayAnalyzerExport;

        impl $crate::__bindings::analyzer_world::exports::pcapxray::plugin::analyzer::Guest
            for __PcapxrayAnalyzerExport
        {
            fn describe() -> $crate::PluginInfo {
                $crate::__private::info(
                    <$plugin as $crate::Analyzer>::NAME,
                    <$plugin as $crate::Analyzer>::VERSION,
                    <$plugin as $crate::Analyzer>::DESCRIPTION,
                    $crate::PluginKind::Analyzer,
                    <$plugin as $crate::Analyzer>::NEEDS_PAYLOAD,
                    <$plugin as $crate::Analyzer>::WANTS_LINK_EVENTS,
                    <$plugin as $crate::Analyzer>::PAYLOAD_FLOWS_ONLY,
                )
            }
            fn analyze_link(
                batch: $crate::LinkBatch,
            ) -> Result<$crate::Outcome, $crate::PluginError> {
                $crate::__private::analyzer_analyze_link::<$plugin>(batch)
            }
            fn analyze_stream(
                batch: Vec<$crate::StreamChunk>,
            ) -> Result<$crate::Outcome, $crate::PluginError> {
                $crate::__private::analyzer_analyze_stream::<$plugin>(batch)
            }
            fn configure(config: String) -> Result<(), $crate::PluginError> {
                $crate::__private::analyzer_configure::<$plugin>(&config)
            }
            fn analyze(flows: Vec<$crate::Flow>) -> Result<$crate::Outcome, $crate::PluginError> {
                $crate::__private::analyzer_analyze::<$plugin>(flows)
            }
            fn finish() -> Result<$crate::Outcome, $crate::PluginError> {
                $crate::__private::analyzer_finish::<$plugin>()
            }
        }

        // Exported symbols only exist in the component; a native build (unit tests) skips them.
        #[cfg(target_arch = "wasm32")]
        $crate::__bindings::analyzer_world::__export_analyzer_world!(
            __PcapxrayAnalyzerExport with_types_in $crate::__bindings::analyzer_world
        );
    };
}

/// Exports a type implementing [`Output`] as the plugin's component interface. Call it once, at the
/// crate root of a `cdylib` crate.
#[macro_export]
macro_rules! export_output {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __PcapxrayOutputExport;

        impl $crate::__bindings::output_world::exports::pcapxray::plugin::output::Guest
            for __PcapxrayOutputExport
        {
            fn describe() -> $crate::PluginInfo {
                $crate::__private::info(
                    <$plugin as $crate::Output>::NAME,
                    <$plugin as $crate::Output>::VERSION,
                    <$plugin as $crate::Output>::DESCRIPTION,
                    $crate::PluginKind::Output,
                    <$plugin as $crate::Output>::NEEDS_PAYLOAD,
                    false,
                    false,
                )
            }
            fn configure(config: String) -> Result<(), $crate::PluginError> {
                $crate::__private::output_configure::<$plugin>(&config)
            }
            fn consume(flows: Vec<$crate::Flow>) -> Result<Vec<$crate::Artifact>, $crate::PluginError> {
                $crate::__private::output_consume::<$plugin>(flows)
            }
            fn consume_findings(
                findings: Vec<$crate::FindingRecord>,
            ) -> Result<Vec<$crate::Artifact>, $crate::PluginError> {
                $crate::__private::output_consume_findings::<$plugin>(findings)
            }
            fn consume_hosts(
                hosts: Vec<$crate::HostInfo>,
            ) -> Result<Vec<$crate::Artifact>, $crate::PluginError> {
                $crate::__private::output_consume_hosts::<$plugin>(hosts)
            }
            fn finish(report: $crate::WitReport) -> Result<Vec<$crate::Artifact>, $crate::PluginError> {
                $crate::__private::output_finish::<$plugin>(report)
            }
        }

        // Exported symbols only exist in the component; a native build (unit tests) skips them.
        #[cfg(target_arch = "wasm32")]
        $crate::__bindings::output_world::__export_output_world!(
            __PcapxrayOutputExport with_types_in $crate::__bindings::output_world
        );
    };
}

#[cfg(test)]
mod tests {
    use super::parse_config;
    use crate::{ConfigError, PluginError};

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct View {
        name: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        pretty: Option<bool>,
        views: Option<Vec<View>>,
    }

    fn error(json: &str) -> (String, String) {
        match parse_config::<Config>(json) {
            Err(PluginError::Config(errors)) => match &errors[..] {
                [ConfigError { key, message }] => (key.clone(), message.clone()),
                other => panic!("{json}: one error expected, got {other:?}"),
            },
            other => panic!("{json}: a config error expected, got {other:?}"),
        }
    }

    #[test]
    fn the_key_is_the_full_path_of_the_offending_key() {
        let (key, message) = error(r#"{"colour": 1}"#);
        assert_eq!(key, "colour");
        assert!(message.starts_with("unknown field `colour`"), "{message}");
        let (key, _) = error(r#"{"views": [{"name": "a"}, {"name": "b", "nmae": "c"}]}"#);
        assert_eq!(key, "views[1].nmae");
        let (key, message) = error(r#"{"views": [{"name": 5}]}"#);
        assert_eq!(key, "views[0].name");
        assert_eq!(message, "invalid type: integer `5`, expected a string");
        let (key, message) = error(r#"{"views": [{}]}"#);
        assert_eq!(key, "views[0]");
        assert_eq!(message, "missing field `name`");
        let (key, _) = error("5");
        assert_eq!(key, "", "an error about the whole table has an empty key");
    }

    fn errors(json: &str) -> Vec<(String, String)> {
        match parse_config::<Config>(json) {
            Err(PluginError::Config(errors)) => {
                errors.into_iter().map(|e| (e.key, e.message)).collect()
            }
            other => panic!("{json}: config errors expected, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let all = errors(
            r#"{"colour": 1, "pretty": "yes", "views": [{"name": "a"}, {"name": "b", "nmae": "c"}], "zoom": 2}"#,
        );
        let mut keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["colour", "pretty", "views[1].nmae", "zoom"],
            "{all:?}"
        );
        let pretty = all.iter().find(|(k, _)| k == "pretty").unwrap();
        assert_eq!(pretty.1, "invalid type: string \"yes\", expected a boolean");
        // A required key with a wrong value is reported once, not again as missing once taken out;
        // the table it is in cannot be read past it, so the search ends there.
        let all = errors(r#"{"views": [{"name": 5}], "zoom": 2}"#);
        assert_eq!(
            all,
            [(
                "views[0].name".to_string(),
                "invalid type: integer `5`, expected a string".to_string()
            )]
        );
        // A problem that cannot be taken out (a list item of the wrong kind) ends the search there.
        let all = errors(r#"{"colour": 1, "views": [5]}"#);
        assert_eq!(all.len(), 2, "{all:?}");
        // A good config still reads.
        assert!(parse_config::<Config>(r#"{"pretty": true, "views": [{"name": "a"}]}"#).is_ok());
        // So many problems stop at the bound.
        let many = (0..40)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(
            errors(&format!("{{{many}}}")).len(),
            super::MAX_CONFIG_ERRORS
        );
    }
}
