//! Pipeline stages → running plugin instances. Shared by `run` and `validate`: both load every plugin and
//! hand each stage its configuration, so a configuration error is found before any packet is read.

use crate::builtins;
use crate::caps::Services;
use crate::pipeline::{Diagnostic, Diagnostics, Pipeline, PluginSource, StageKind, StageSpec};
use crate::runtime::{
    AnalyzerStage, Inspected, LoadedPlugin, OutputStage, PluginLoadError, Runtime, Stage,
    StageError, World,
};
use std::collections::HashMap;
use std::sync::Arc;

/// The started stages of a pipeline, each list in pipeline order.
pub struct Stages {
    pub analyzers: Vec<AnalyzerStage>,
    pub outputs: Vec<OutputStage>,
}

impl Stages {
    /// Each stage's spec and plugin, in the pipeline's order.
    pub fn plugins<'a>(
        &'a self,
        pipeline: &Pipeline,
    ) -> Vec<(&'a StageSpec, &'a Arc<LoadedPlugin>)> {
        let all: Vec<(&StageSpec, &Arc<LoadedPlugin>)> = self
            .analyzers
            .iter()
            .map(|s| (&s.spec, &s.plugin))
            .chain(self.outputs.iter().map(|s| (&s.spec, &s.plugin)))
            .collect();
        pipeline
            .stages
            .iter()
            .filter_map(|spec| all.iter().find(|(s, _)| s.name == spec.name).copied())
            .collect()
    }
}

/// Compiles every plugin the pipeline names (each once) and starts every stage.
pub fn start_stages(
    rt: &Runtime,
    pipeline: &Pipeline,
    services: &Arc<Services>,
) -> Result<Stages, Diagnostics> {
    let mut errors = Vec::new();
    let plugins = load_plugins(rt, pipeline, &mut errors);
    let mut stages = Stages {
        analyzers: Vec::new(),
        outputs: Vec::new(),
    };
    for spec in &pipeline.stages {
        let Some(plugin) = plugins.get(&spec.source) else {
            continue;
        };
        if plugin.kind != spec.kind {
            errors.push(pipeline.source.error(
                spec.span.clone(),
                format!(
                    "stage `{}`: {} is an {} plugin, but it is listed under [[{}]]",
                    spec.name,
                    spec.source,
                    plugin.kind.as_str(),
                    spec.kind.as_str()
                ),
            ));
            continue;
        }
        let started = match spec.kind {
            StageKind::Analyzer => {
                start(rt, spec, plugin, services).map(|s| stages.analyzers.push(s))
            }
            StageKind::Output => start(rt, spec, plugin, services).map(|s| stages.outputs.push(s)),
        };
        match started {
            Ok(()) => {}
            Err(StageError::Config(problems)) => {
                for (key, message) in problems {
                    errors.push(config_error(pipeline, spec, &key, &message));
                }
            }
            Err(StageError::Stopped(stop)) => {
                errors.push(pipeline.source.error(spec.span.clone(), stop.to_string()))
            }
        }
    }
    if errors.is_empty() {
        Ok(stages)
    } else {
        errors.sort_by_key(|d| (d.line, d.column));
        Err(Diagnostics(errors))
    }
}

fn start<W: World>(
    rt: &Runtime,
    spec: &StageSpec,
    plugin: &Arc<LoadedPlugin>,
    services: &Arc<Services>,
) -> Result<Stage<W>, StageError> {
    Stage::start(rt, spec.clone(), plugin.clone(), services.clone())
}

fn load_plugins(
    rt: &Runtime,
    pipeline: &Pipeline,
    errors: &mut Vec<Diagnostic>,
) -> HashMap<PluginSource, Arc<LoadedPlugin>> {
    let mut sources: Vec<(&PluginSource, &StageSpec)> = Vec::new();
    for spec in &pipeline.stages {
        if !sources.iter().any(|(s, _)| *s == &spec.source) {
            sources.push((&spec.source, spec));
        }
    }
    // Compiling is the slow part of start-up: compile the plugins side by side.
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .map(|(source, _)| (source, scope.spawn(move || load_one(rt, source))))
            .collect();
        handles
            .into_iter()
            .map(|(source, h)| {
                h.join()
                    .unwrap_or_else(|_| Err(PluginLoadError::Panicked(source.to_string())))
            })
            .collect()
    });
    let mut plugins = HashMap::new();
    for ((source, spec), result) in sources.into_iter().zip(results) {
        match result {
            Ok(plugin) => {
                plugins.insert(source.clone(), Arc::new(plugin));
            }
            Err(message) => errors.push(pipeline.source.error(
                spec.span.clone(),
                format!("stage `{}`: {message}", spec.name),
            )),
        }
    }
    plugins
}

/// Loads one plugin by source.
pub fn load_one(rt: &Runtime, source: &PluginSource) -> Result<LoadedPlugin, PluginLoadError> {
    let bytes = plugin_bytes(source)?;
    rt.load(source.clone(), &bytes)
}

/// Inspects one plugin by source: like [`load_one`], but a component that cannot be linked is
/// described instead of refused.
pub fn inspect_one(rt: &Runtime, source: &PluginSource) -> Result<Inspected, PluginLoadError> {
    let bytes = plugin_bytes(source)?;
    rt.inspect(source.clone(), &bytes)
}

fn plugin_bytes(source: &PluginSource) -> Result<Vec<u8>, PluginLoadError> {
    Ok(match source {
        PluginSource::Builtin(name) => builtins::get(name)
            .ok_or_else(|| PluginLoadError::NoBuiltin(name.clone()))?
            .to_vec(),
        PluginSource::File(path) => {
            crate::pipeline::plugin_file_problem(path).map_err(|problem| {
                PluginLoadError::NotAFile {
                    path: path.clone(),
                    problem,
                }
            })?;
            std::fs::read(path).map_err(|e| PluginLoadError::Io {
                source_name: path.display().to_string(),
                reason: e.to_string(),
            })?
        }
    })
}

/// Places a plugin's configuration error at the offending key in the pipeline file: `key` is the key's
/// full path inside the stage's `config` table (an unknown key's own name included), as the SDK and
/// `config_spans` write it; an error about the whole table, or a key the file does not have, is placed
/// at the stage.
fn config_error(pipeline: &Pipeline, spec: &StageSpec, key: &str, message: &str) -> Diagnostic {
    let span = spec
        .config_spans
        .get(key)
        .cloned()
        .unwrap_or_else(|| spec.span.clone());
    let place = if key.is_empty() {
        "config".to_string()
    } else {
        format!("config.{key}")
    };
    pipeline
        .source
        .error(span, format!("stage `{}`: {place}: {message}", spec.name))
}

/// Grants a stage cannot use (its plugin does not import the capability) and grants that are risky (read
/// access to the whole file system or a top-level folder, a `graphviz.program` that is not Graphviz):
/// warnings, placed at the stage, never errors. `validate` prints them and `run` logs them.
pub fn grant_warnings(pipeline: &Pipeline, stages: &Stages) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (spec, plugin) in stages.plugins(pipeline) {
        let warn = |message: String| {
            pipeline.source.error(
                spec.span.clone(),
                format!("warning: stage `{}`: {message}", spec.name),
            )
        };
        let imported = plugin.capabilities();
        let g = &spec.grants;
        for cap in g.granted() {
            if !imported.contains(&cap) {
                out.push(warn(format!(
                    "granted `{cap}`, but plugin {} does not import the {cap} capability, so the grant has no \
                     effect; remove it",
                    plugin.name
                )));
            }
        }
        for path in &g.files {
            if let Some(why) = broad_folder(path) {
                out.push(warn(format!(
                    "grants `files` read access to {} ({why}); grant the folder or file the plugin needs",
                    path.display()
                )));
            }
        }
        if let Some(gv) = &g.graphviz {
            let name = std::path::Path::new(&gv.program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !crate::caps::graphviz::ENGINES.contains(&name.as_str()) {
                out.push(warn(format!(
                    "`graphviz.program` is {:?}, which is not a Graphviz program ({}); the stage can run it \
                     with DOT text of its choosing on its input",
                    gv.program,
                    crate::caps::graphviz::ENGINES.join(", ")
                )));
            }
        }
    }
    out
}

/// Why granting read access to `path` exposes far more than a plugin needs, if it does.
fn broad_folder(path: &std::path::Path) -> Option<&'static str> {
    let depth = path.components().count();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    if path.parent().is_none() {
        Some("the whole file system")
    } else if depth <= 2 {
        Some("a top-level system folder")
    } else if home.as_deref() == Some(path) {
        Some("your whole home folder")
    } else {
        None
    }
}
