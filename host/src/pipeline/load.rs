//! Reads a pipeline file into [`Pipeline`], collecting every error with its position.

use super::{
    Diagnostic, Diagnostics, Grants, Limits, Pipeline, PluginSource, SourceMap, StageKind,
    StageSpec,
};
use crate::config::{TomlReader, expand_home, normalize};
use crate::flow::{FlowSettings, StreamBudget, StreamFilter};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Loads and checks a pipeline file. `is_builtin` says whether a plugin name is built in.
pub fn load(path: &Path, is_builtin: &dyn Fn(&str) -> bool) -> Result<Pipeline, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the pipeline file: {e}"),
        }])
    })?;
    parse(path, &text, is_builtin)
}

/// Parses pipeline text (`path` names it in errors and anchors relative plugin and grant paths).
pub fn parse(
    path: &Path,
    text: &str,
    is_builtin: &dyn Fn(&str) -> bool,
) -> Result<Pipeline, Diagnostics> {
    let source = SourceMap::new(path, text);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut cx = Checker {
        reader: TomlReader::new(&source),
        base,
        is_builtin,
    };
    for e in syntax {
        let span = e.span().unwrap_or(0..0);
        cx.errors
            .push(source.error(span, format!("TOML syntax: {}", e.message().trim())));
    }
    let root_span = root.span();
    let root = root.into_inner();
    let mut flows = FlowSettings::default();
    let mut defaults = Limits::default();
    let mut stages = Vec::new();
    let mut raw_stages: Vec<(StageKind, &Spanned<DeValue>)> = Vec::new();
    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "flows" => cx.flows(value, &mut flows),
            "limits" => {
                if let Some(t) = cx.table(value, "limits") {
                    defaults = cx.limits(t, Limits::default(), "[limits]");
                }
            }
            "analyzer" | "output" => {
                let kind = if key.get_ref() == "analyzer" { StageKind::Analyzer } else { StageKind::Output };
                match value.get_ref() {
                    DeValue::Array(items) => raw_stages.extend(items.iter().map(|i| (kind, i))),
                    _ => cx.err(
                        value.span(),
                        format!("`{0}` must be an array of tables: write each stage as [[{0}]]", key.get_ref()),
                    ),
                }
            }
            other => cx.err(
                key.span(),
                format!("unknown top-level key `{other}`; expected `flows`, `limits`, `analyzer` or `output`"),
            ),
        }
    }
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    for (kind, value) in raw_stages {
        if let Some(stage) = cx.stage(kind, value, defaults) {
            if names.contains_key(&stage.name) {
                cx.err(
                    stage.span.clone(),
                    format!(
                        "stage name `{}` is used twice; give one of them `name = \"...\"`",
                        stage.name
                    ),
                );
            }
            names.insert(stage.name.clone(), stage.span.clone());
            stages.push(stage);
        }
    }
    if cx.errors.is_empty() && !stages.iter().any(|s| s.kind == StageKind::Output) {
        cx.err(
            root_span.start..root_span.start,
            "the pipeline has no [[output]] stage, so the run would write nothing",
        );
    }
    if !cx.errors.is_empty() {
        let mut errors = cx.reader.errors;
        errors.sort_by_key(|d| (d.line, d.column));
        errors.dedup();
        return Err(Diagnostics(errors));
    }
    Ok(Pipeline {
        path: path.to_path_buf(),
        source,
        flows,
        stages,
    })
}

struct Checker<'a> {
    reader: TomlReader<'a>,
    base: PathBuf,
    is_builtin: &'a dyn Fn(&str) -> bool,
}

impl<'a> std::ops::Deref for Checker<'a> {
    type Target = TomlReader<'a>;
    fn deref(&self) -> &TomlReader<'a> {
        &self.reader
    }
}

impl std::ops::DerefMut for Checker<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.reader
    }
}

impl Checker<'_> {
    fn flows(&mut self, value: &Spanned<DeValue>, flows: &mut FlowSettings) {
        let Some(table) = self.table(value, "flows") else {
            return;
        };
        for (key, v) in table.iter() {
            let k = key.get_ref().as_ref();
            let what = format!("flows.{k}");
            match k {
                "payload_bytes" => {
                    if let Some(n) = self.uint(v, &what, 0, 1 << 20) {
                        flows.payload_bytes = n as usize;
                    }
                }
                "tcp_idle_timeout" => {
                    if let Some(n) = self.uint(v, &what, 1, 86_400) {
                        flows.tcp_idle_timeout = n;
                    }
                }
                "udp_idle_timeout" => {
                    if let Some(n) = self.uint(v, &what, 1, 86_400) {
                        flows.udp_idle_timeout = n;
                    }
                }
                "other_idle_timeout" => {
                    if let Some(n) = self.uint(v, &what, 1, 86_400) {
                        flows.other_idle_timeout = n;
                    }
                }
                "batch_size" => {
                    if let Some(n) = self.uint(v, &what, 1, 1 << 20) {
                        flows.batch_size = n as usize;
                    }
                }
                "max_active_flows" => {
                    if let Some(n) = self.uint(v, &what, 1024, 1 << 28) {
                        flows.max_active_flows = n as usize;
                    }
                }
                "stream_budget_mb" => {
                    let min = (StreamBudget::MIN >> 20) as u64;
                    if let Some(n) = self.uint(v, &what, min, 64 * 1024) {
                        flows.stream_budget = StreamBudget {
                            total: (n as usize) << 20,
                        };
                    }
                }
                other => self.err(
                    key.span(),
                    format!(
                        "unknown key `{other}` in [flows]; expected payload_bytes, tcp_idle_timeout, \
                         udp_idle_timeout, other_idle_timeout, batch_size, max_active_flows or \
                         stream_budget_mb"
                    ),
                ),
            }
        }
    }

    fn limits(&mut self, table: &DeTable, mut limits: Limits, where_: &str) -> Limits {
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "memory_mb" => {
                    if let Some(n) = self.uint(v, "memory_mb", 1, 16 * 1024) {
                        limits.memory_mb = n;
                    }
                }
                "call_timeout_ms" => {
                    if let Some(n) = self.uint(v, "call_timeout_ms", 10, 24 * 3_600_000) {
                        limits.call_timeout_ms = n;
                    }
                }
                other => self.err(
                    key.span(),
                    format!(
                        "unknown key `{other}` in {where_}; expected memory_mb or call_timeout_ms"
                    ),
                ),
            }
        }
        limits
    }

    fn stage(
        &mut self,
        kind: StageKind,
        value: &Spanned<DeValue>,
        defaults: Limits,
    ) -> Option<StageSpec> {
        let span = value.span();
        let DeValue::Table(table) = value.get_ref() else {
            self.err(
                span,
                format!("each [[{}]] entry must be a table", kind.as_str()),
            );
            return None;
        };
        let mut plugin = None;
        let mut name = None;
        let mut config = (
            serde_json::Value::Object(Default::default()),
            HashMap::new(),
        );
        let mut grants = Grants {
            base_dir: normalize(&self.base),
            ..Grants::default()
        };
        let mut limits = defaults;
        let mut streams = None;
        let label = |n: &Option<String>, p: &Option<(String, Range<usize>)>| {
            n.clone()
                .or_else(|| p.as_ref().map(|p| stage_name_from(&p.0)))
                .unwrap_or_else(|| "?".into())
        };
        // `plugin` and `name` first, so later errors can name the stage.
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "plugin" => plugin = self.string(v, "plugin").map(|s| (s, v.span())),
                "name" => name = self.string(v, "name"),
                _ => {}
            }
        }
        let stage_label = label(&name, &plugin);
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "plugin" | "name" => {}
                "config" => {
                    if let DeValue::Table(_) = v.get_ref() {
                        let mut spans = HashMap::new();
                        let json = to_json(v, "", &mut spans);
                        config = (json, spans);
                    } else {
                        self.err(v.span(), format!("stage `{stage_label}`: `config` must be a table"));
                    }
                }
                "grants" => {
                    if let Some(t) = self.table(v, "grants") {
                        grants = self.grants(t, &stage_label);
                    }
                }
                "streams" if kind == StageKind::Analyzer => {
                    streams = self.streams(v, &stage_label);
                }
                "limits" => {
                    if let Some(t) = self.table(v, "limits") {
                        limits = self.limits(t, defaults, &format!("the limits of stage `{stage_label}`"));
                    }
                }
                other => self.err(
                    key.span(),
                    format!(
                        "stage `{stage_label}`: unknown key `{other}`; a stage has plugin, name, config, grants, \
                         limits and, for analyzers, streams (plugin settings go in its `config` table)"
                    ),
                ),
            }
        }
        let Some((plugin, plugin_span)) = plugin else {
            self.err(
                span,
                format!(
                    "a [[{}]] stage has no `plugin`: name a built-in plugin (see `pcapxray plugins`) or a .wasm file",
                    kind.as_str()
                ),
            );
            return None;
        };
        let source = if plugin.ends_with(".wasm") || plugin.contains('/') {
            let path = normalize(&self.base.join(expand_home(&plugin)));
            if let Err(why) = plugin_file_problem(&path) {
                self.err(
                    plugin_span,
                    format!(
                        "stage `{stage_label}`: plugin file {} {why}",
                        path.display()
                    ),
                );
            }
            PluginSource::File(path)
        } else if (self.is_builtin)(&plugin) {
            PluginSource::Builtin(plugin.clone())
        } else {
            self.err(
                plugin_span,
                format!(
                    "stage `{stage_label}`: there is no built-in plugin `{plugin}` (run `pcapxray plugins` to list them; \
                     a plugin file must end in .wasm)"
                ),
            );
            return None;
        };
        Some(StageSpec {
            name: name.unwrap_or_else(|| stage_name_from(&plugin)),
            kind,
            source,
            config: config.0,
            config_spans: config.1,
            span,
            grants,
            limits,
            streams,
        })
    }

    /// A stage's `streams`: `true`, `false`, or a table of `ports` and `protocols`.
    fn streams(&mut self, v: &Spanned<DeValue>, stage: &str) -> Option<StreamFilter> {
        let table = match v.get_ref() {
            DeValue::Boolean(on) => return on.then(StreamFilter::all),
            DeValue::Table(t) => t,
            _ => {
                let m = format!(
                    "stage `{stage}`: `streams` must be true, false or a table of ports and protocols"
                );
                self.err(v.span(), m);
                return None;
            }
        };
        let mut filter = StreamFilter::all();
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "ports" => filter.ports = self.ports(v, stage),
                "protocols" => (filter.tcp, filter.udp) = self.protocols(v, stage),
                other => self.err(
                    key.span(),
                    format!("stage `{stage}`: unknown key `{other}` in `streams`; expected ports or protocols"),
                ),
            }
        }
        Some(filter)
    }

    fn ports(&mut self, v: &Spanned<DeValue>, stage: &str) -> Vec<u16> {
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|p| {
                    let port = match p.get_ref() {
                        DeValue::Integer(i) => i.as_str().parse::<u16>().ok().filter(|n| *n > 0),
                        _ => None,
                    };
                    if port.is_none() {
                        let m = format!("stage `{stage}`: a port in `streams.ports` must be a whole number from 1 to 65535");
                        self.err(p.span(), m);
                    }
                    port
                })
                .collect(),
            _ => {
                self.err(
                    v.span(),
                    format!("stage `{stage}`: `streams.ports` must be a list of port numbers"),
                );
                Vec::new()
            }
        }
    }

    fn protocols(&mut self, v: &Spanned<DeValue>, stage: &str) -> (bool, bool) {
        let (mut tcp, mut udp) = (false, false);
        let DeValue::Array(items) = v.get_ref() else {
            self.err(
                v.span(),
                format!(
                    "stage `{stage}`: `streams.protocols` must be a list such as [\"tcp\", \"udp\"]"
                ),
            );
            return (true, true);
        };
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(p) if p.as_ref() == "tcp" => tcp = true,
                DeValue::String(p) if p.as_ref() == "udp" => udp = true,
                _ => self.err(
                    item.span(),
                    format!("stage `{stage}`: `streams.protocols` may hold \"tcp\" and \"udp\""),
                ),
            }
        }
        (tcp, udp)
    }

    fn grants(&mut self, table: &DeTable, stage: &str) -> Grants {
        let base = self.base.clone();
        Grants::from_toml(&mut self.reader, table, stage, &base)
    }
}

/// The default stage name for a plugin: the built-in name, or the file stem.
fn stage_name_from(plugin: &str) -> String {
    Path::new(plugin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(plugin)
        .to_string()
}

/// Converts a TOML value to JSON, recording the span of every key path.
fn to_json(
    value: &Spanned<DeValue>,
    path: &str,
    spans: &mut HashMap<String, Range<usize>>,
) -> serde_json::Value {
    use serde_json::Value;
    match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(i.as_str().to_string())),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::Null),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let p = format!("{path}[{i}]");
                    spans.insert(p.clone(), item.span());
                    to_json(item, &p, spans)
                })
                .collect(),
        ),
        DeValue::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() {
                        k.get_ref().to_string()
                    } else {
                        format!("{path}.{}", k.get_ref())
                    };
                    spans.insert(p.clone(), k.span());
                    let j = to_json(v, &p, spans);
                    (k.get_ref().to_string(), j)
                })
                .collect(),
        ),
    }
}

/// Why a path cannot be a plugin file, in words that follow the path: `does not exist`, `is not a
/// regular file (it is a folder)`.
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    #[error("does not exist")]
    Missing,
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    #[error("is not a regular file (it is {0})")]
    NotRegular(&'static str),
}

/// Whether `path` can be a plugin file. Devices and named pipes are refused here because reading
/// them could block.
pub fn plugin_file_problem(path: &Path) -> Result<(), FileProblem> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileProblem::Missing),
        Err(e) => return Err(FileProblem::Unreadable(e)),
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(FileProblem::NotRegular(what))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::flow::{StreamBudget, StreamFilter};
    use std::path::Path;

    fn builtin(name: &str) -> bool {
        matches!(name, "web" | "json")
    }

    #[test]
    fn a_valid_pipeline_parses_with_its_settings() {
        let text = r#"
[flows]
payload_bytes = 512
[limits]
memory_mb = 64
[[analyzer]]
plugin = "web"
config = { max_transactions = 5 }
[[output]]
plugin = "json"
limits = { call_timeout_ms = 500 }
"#;
        let p = parse(Path::new("/tmp/p.toml"), text, &builtin).unwrap();
        assert_eq!(p.flows.payload_bytes, 512);
        assert_eq!(p.stages.len(), 2);
        assert_eq!(p.stages[0].name, "web");
        assert_eq!(p.stages[0].limits.memory_mb, 64);
        assert_eq!(p.stages[1].limits.call_timeout_ms, 500);
        assert_eq!(p.stages[0].config["max_transactions"], 5);
        assert!(p.stages[0].config_spans.contains_key("max_transactions"));
    }

    #[test]
    fn stages_ask_for_streams_with_a_filter_and_the_budget_is_set_in_flows() {
        let text = r#"
[flows]
stream_budget_mb = 16
max_active_flows = 5000
[[analyzer]]
plugin = "web"
streams = { ports = [80, 8080], protocols = ["tcp"] }
[[analyzer]]
plugin = "web"
name = "all"
streams = true
[[analyzer]]
plugin = "web"
name = "none"
[[output]]
plugin = "json"
"#;
        let p = parse(Path::new("/tmp/p.toml"), text, &builtin).unwrap();
        assert_eq!(p.flows.stream_budget.total, 16 << 20);
        assert_eq!(p.flows.max_active_flows, 5000);
        let web = StreamFilter {
            ports: vec![80, 8080],
            tcp: true,
            udp: false,
        };
        assert_eq!(p.stages[0].streams, Some(web));
        assert_eq!(p.stages[1].streams, Some(StreamFilter::all()));
        assert_eq!(p.stages[2].streams, None);
        let default = parse(
            Path::new("/tmp/p.toml"),
            "[[output]]\nplugin = \"json\"\n",
            &builtin,
        );
        let default = default.unwrap();
        assert_eq!(default.flows.stream_budget, StreamBudget::default());
        assert_eq!(
            default.flows.max_active_flows,
            crate::flow::DEFAULT_MAX_ACTIVE_FLOWS
        );
    }

    #[test]
    fn every_error_is_reported_with_line_and_column() {
        let text = "[flows]\npayload_bytes = \"big\"\nbogus = 1\n[[analyzer]]\nplugin = \"nope\"\n[[output]]\nplugin = \"json\"\ncolour = \"red\"\n";
        let errors = parse(Path::new("p.toml"), text, &builtin).unwrap_err().0;
        let lines: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(lines, vec![(2, 17), (3, 1), (5, 10), (8, 1)], "{errors:?}");
        assert!(errors[2].message.contains("no built-in plugin `nope`"));
        assert!(errors[3].message.contains("stage `json`"));
    }

    #[test]
    fn syntax_errors_are_positioned() {
        let errors = parse(Path::new("p.toml"), "[flows\nx = 1\n", &builtin)
            .unwrap_err()
            .0;
        assert_eq!(errors[0].line, 1, "{errors:?}");
    }
}
