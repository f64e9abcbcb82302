//! The `graph` output: the ancestor's diagrams, fixed. One DOT file and one SVG per view (all traffic,
//! web, HTTP, HTTPS, DNS, ICMP, Tor, suspicious, and one per other finding family such as `beacon`),
//! every internet host its own node until there are too many to read, then grouped by domain or
//! address block with the count in the label. SVG is drawn inside the sandbox (layout-rs), so no
//! Graphviz install is needed; when the user has Graphviz and grants it, it can draw instead, and PNG
//! too.

use pcapxray_diagram::{
    Class, FIT_LEVELS, FIXED_VIEWS, LAYOUT_BUDGET_MS, MAX_SVG_PX, NetGraph, NodeIndex, View,
    ViewOptions, available_views, is_view_name, text::IpNet, to_dot, to_svg_linked,
    to_svg_unplaced, view_bits, view_names,
};
use pcapxray_plugin_sdk::host::{LogLevel, OutputHost, WitHost};
use pcapxray_plugin_sdk::{
    Artifact, ConfigError, FindingRecord, Flow, HostInfo, Output, PluginError, Report,
};
use serde::Deserialize;
use std::time::Instant;

/// Graphviz layout engines the `graphviz` capability accepts.
const ENGINES: &[&str] = &["dot", "neato", "sfdp", "circo", "fdp", "twopi"];

/// The most internet nodes a view may be configured to draw.
const MAX_INTERNET_NODES_LIMIT: usize = 500;

/// Who draws the SVG.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Renderer {
    /// layout-rs, inside the plugin: works everywhere.
    #[default]
    Builtin,
    /// Graphviz through the `graphviz` capability; falls back to the built-in renderer when it fails.
    Graphviz,
}

/// The `config` table of a `graph` stage.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Views to write (default: every view that has conversations, and `all`).
    views: Option<Vec<String>>,
    /// Only conversations whose client is in one of these addresses or CIDR blocks.
    from: Vec<String>,
    /// Only conversations whose server is in one of these addresses or CIDR blocks.
    to: Vec<String>,
    /// Internet hosts drawn per view before they are grouped.
    max_internet_nodes: usize,
    /// `builtin` or `graphviz`.
    renderer: Renderer,
    /// Graphviz layout engine for `renderer = "graphviz"` and PNG.
    engine: String,
    /// Also write PNG files (needs the `graphviz` capability).
    png: bool,
    /// Hosts the model keeps one by one; later ones are folded into their address blocks (/24, /48).
    max_hosts: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            views: None,
            from: Vec::new(),
            to: Vec::new(),
            max_internet_nodes: pcapxray_diagram::DEFAULT_MAX_INTERNET_NODES,
            renderer: Renderer::Builtin,
            engine: "dot".into(),
            png: false,
            max_hosts: pcapxray_diagram::DEFAULT_MAX_HOSTS,
        }
    }
}

fn config_error(key: String, message: impl Into<String>) -> PluginError {
    PluginError::Config(vec![ConfigError {
        key,
        message: message.into(),
    }])
}

fn parse_nets(key: &str, list: &[String]) -> Result<Vec<IpNet>, PluginError> {
    list.iter()
        .enumerate()
        .map(|(i, text)| IpNet::parse(text).map_err(|m| config_error(format!("{key}.{i}"), m)))
        .collect()
}

/// The plugin.
pub struct GraphOutput {
    env: Box<dyn OutputHost>,
    views: Option<Vec<String>>,
    options: ViewOptions,
    renderer: Renderer,
    engine: String,
    png: bool,
    model: NetGraph,
}

impl GraphOutput {
    /// Checks the configuration.
    pub fn checked(config: Config, env: Box<dyn OutputHost>) -> Result<GraphOutput, PluginError> {
        if let Some(views) = &config.views {
            for (i, name) in views.iter().enumerate() {
                if !is_view_name(name) {
                    return Err(config_error(
                        format!("views.{i}"),
                        format!(
                            "`{name}` is not a view: use {} or a finding tag prefix such as `beacon` (lower-case letters, digits, `-`, `_`)",
                            FIXED_VIEWS.map(|(n, _)| n).join(", ")
                        ),
                    ));
                }
            }
        }
        if !(1..=MAX_INTERNET_NODES_LIMIT).contains(&config.max_internet_nodes) {
            return Err(config_error(
                "max_internet_nodes".into(),
                format!("must be 1 to {MAX_INTERNET_NODES_LIMIT}"),
            ));
        }
        if !(1..=10_000_000).contains(&config.max_hosts) {
            return Err(config_error(
                "max_hosts".into(),
                "must be 1 to 10000000".to_string(),
            ));
        }
        if !ENGINES.contains(&config.engine.as_str()) {
            return Err(config_error(
                "engine".into(),
                format!("must be one of {}", ENGINES.join(", ")),
            ));
        }
        Ok(GraphOutput {
            env,
            options: ViewOptions {
                from: parse_nets("from", &config.from)?,
                to: parse_nets("to", &config.to)?,
                max_internet_nodes: config.max_internet_nodes,
                ..ViewOptions::default()
            },
            views: config.views,
            renderer: config.renderer,
            engine: config.engine,
            png: config.png,
            model: NetGraph::with_max_hosts(config.max_hosts),
        })
    }

    /// The views to write, with their bits.
    fn selected(&mut self) -> Vec<(String, u64)> {
        let available = available_views(&self.model);
        match &self.views {
            None => available,
            Some(wanted) => {
                let mut out = Vec::new();
                for name in wanted {
                    if out.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    match available.iter().find(|(n, _)| n == name) {
                        Some(v) => out.push(v.clone()),
                        None if name == "all" => out.push(("all".into(), 0)),
                        None => self.env.log(LogLevel::Info, &format!(
                            "View `{name}` has no conversations in this capture{}; no file written for it.",
                            if view_bits(&self.model, name).is_none() {
                                " (no finding has that tag prefix)"
                            } else {
                                ""
                            }
                        )),
                    }
                }
                out
            }
        }
    }

    /// The report files: DOT and SVG (and PNG when asked) per view, and for `all` a detail diagram per
    /// group of hosts its overview draws as one node (`graph/all/<node>.svg`, linked from the node).
    pub fn render(&mut self, title: &str) -> Vec<Artifact> {
        let mut state = RenderState {
            out: Vec::new(),
            graphviz_ok: self.renderer == Renderer::Graphviz || self.png,
            started: Instant::now(),
            over_budget: false,
        };
        for (name, bits) in self.selected() {
            let view = self.write_view(&mut state, &name, &name, bits, Vec::new(), title);
            if name != "all" {
                continue;
            }
            let groups: Vec<(String, Vec<NodeIndex>)> = view
                .nodes
                .iter()
                .filter(|n| n.model_nodes.len() > 1)
                .map(|n| (n.id.clone(), n.model_nodes.clone()))
                .collect();
            for (id, focus) in groups {
                let file = format!("all/{id}");
                let title = format!(
                    "{title}: {}",
                    view.nodes
                        .iter()
                        .find(|n| n.id == id)
                        .map(|n| n.lines[0].as_str())
                        .unwrap_or("")
                );
                self.write_view(&mut state, &file, "all", 0, focus, &title);
            }
        }
        state.out
    }

    /// The view `name` cut with the first level from `from` whose drawing is estimated to fit.
    fn fitted(&self, name: &str, bits: u64, focus: &[NodeIndex], from: usize) -> (View, usize) {
        let opts = ViewOptions {
            focus: focus.to_vec(),
            ..self.options.clone()
        };
        View::fitted(&self.model, name, bits, &opts, from)
    }

    /// Writes one diagram as `graph/<file>.dot` and `.svg` (and `.png`), and returns its view.
    fn write_view(
        &mut self,
        state: &mut RenderState,
        file: &str,
        name: &str,
        bits: u64,
        focus: Vec<NodeIndex>,
        title: &str,
    ) -> View {
        let started = Instant::now();
        let (mut view, mut level) = self.fitted(name, bits, &focus, 0);
        let links = |view: &View| -> Vec<Option<String>> {
            view.nodes
                .iter()
                .map(|n| {
                    (focus.is_empty() && name == "all" && n.model_nodes.len() > 1)
                        .then(|| format!("all/{}.svg", n.id))
                })
                .collect()
        };
        let mut svg = None;
        if self.renderer == Renderer::Graphviz && state.graphviz_ok {
            match self
                .env
                .graphviz(&to_dot(&view, title), &self.engine, "svg")
            {
                Ok(bytes) => svg = Some(bytes),
                Err(e) => {
                    state.graphviz_ok = false;
                    self.env.log(LogLevel::Warn, &format!(
                        "Graphviz could not draw graph/{file}.svg ({}: {}); drawing it and the other views with the built-in renderer.",
                        e.kind(),
                        e.message()
                    ));
                }
            }
        }
        let svg = match svg {
            Some(svg) => svg,
            None if state.started.elapsed().as_millis() > u128::from(LAYOUT_BUDGET_MS) => {
                if !state.over_budget {
                    state.over_budget = true;
                    self.env.log(LogLevel::Warn, &format!(
                        "Laying out the diagrams took over {} s; graph/{file}.svg and the diagrams after it only say so (their DOT files are complete: draw them with Graphviz, or set `views` to fewer views).",
                        LAYOUT_BUDGET_MS / 1000
                    ));
                }
                to_svg_unplaced(
                    &view,
                    title,
                    "",
                    "Not laid out: the time for drawing diagrams in this run was spent on the views before this one. The DOT file of this view is complete.",
                )
                .into_bytes()
            }
            None => loop {
                // Estimates can miss: a drawing still too big is cut again with the next level.
                let (svg, w, h) = to_svg_linked(&view, title, "", &links(&view));
                if (w <= MAX_SVG_PX && h <= MAX_SVG_PX) || level + 1 == FIT_LEVELS {
                    break svg.into_bytes();
                }
                (view, level) = self.fitted(name, bits, &focus, level + 1);
            },
        };
        let dot = to_dot(&view, title);
        if self.png && state.graphviz_ok {
            match self.env.graphviz(&dot, &self.engine, "png") {
                Ok(bytes) => state.out.push(artifact(file, "png", "image/png", bytes)),
                Err(e) => {
                    state.graphviz_ok = false;
                    self.env.log(LogLevel::Warn, &format!(
                        "No PNG files: Graphviz could not draw graph/{file}.png ({}: {}). The SVG files are complete.",
                        e.kind(),
                        e.message()
                    ));
                }
            }
        }
        self.env.log(
            LogLevel::Debug,
            &format!(
                "graph/{file}: {} nodes, {} edges, drawn in {} ms.",
                view.nodes.len(),
                view.edges.len(),
                started.elapsed().as_millis()
            ),
        );
        if let Some(note) = &view.grouping {
            self.env
                .log(LogLevel::Info, &format!("graph/{file}: {note}."));
        }
        state
            .out
            .push(artifact(file, "dot", "text/vnd.graphviz", dot.into_bytes()));
        state.out.push(artifact(file, "svg", "image/svg+xml", svg));
        view
    }
}

/// What drawing the diagrams of a run carries from one to the next.
struct RenderState {
    out: Vec<Artifact>,
    graphviz_ok: bool,
    started: Instant,
    over_budget: bool,
}

/// `graph/classes.json`: the class and views of every flow, as the diagrams decided them, so that the
/// web page colours and filters flows without a classifier of its own. One entry per conversation
/// (client, server, class) with its flow ids; flows the model could not remember are only counted.
pub fn classes_artifact(model: &NetGraph) -> Artifact {
    let classes: Vec<serde_json::Value> = Class::ALL
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.as_str(),
                "color": c.color(),
                "description": c.description(),
            })
        })
        .collect();
    // Written a conversation at a time (the same bytes as one `json!` tree, without the tree: a
    // quarter of a million flow ids as JSON values would cost the plugin tens of megabytes).
    let mut bytes = b"{\"classes\":".to_vec();
    let _ = serde_json::to_writer(&mut bytes, &classes);
    bytes.extend_from_slice(b",\"conversations\":[");
    let mut first = true;
    for (e, flows) in model.flows_by_conversation() {
        let Some((from, to)) = model.graph.edge_endpoints(e) else {
            continue;
        };
        let c = &model.graph[e];
        if !std::mem::take(&mut first) {
            bytes.push(b',');
        }
        let conversation = serde_json::json!({
            "client": model.graph[from].address(),
            "server": model.graph[to].address(),
            "class": c.class.as_str(),
            "views": view_names(model, c.views),
            "flows": flows,
        });
        let _ = serde_json::to_writer(&mut bytes, &conversation);
    }
    bytes.extend_from_slice(b"],\"untracked_flows\":");
    bytes.extend_from_slice(model.untracked_flows().to_string().as_bytes());
    bytes.push(b'}');
    Artifact {
        name: "graph/classes.json".into(),
        media_type: "application/json".into(),
        bytes,
    }
}

fn artifact(view: &str, ext: &str, media_type: &str, bytes: Vec<u8>) -> Artifact {
    Artifact {
        name: format!("graph/{view}.{ext}"),
        media_type: media_type.into(),
        bytes,
    }
}

/// The capture's file name without its folders, for titles.
pub fn capture_title(report: &Report) -> String {
    let file = &report.capture.file;
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    pcapxray_diagram::text::clean(name, 120)
}

impl Output for GraphOutput {
    const NAME: &'static str = "graph";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes network diagrams per traffic view: graph/<view>.dot and graph/<view>.svg (built-in layout; Graphviz and PNG when granted).";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<GraphOutput, PluginError> {
        GraphOutput::checked(config, Box::new(WitHost))
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<Vec<Artifact>, PluginError> {
        self.model.consume(&flows);
        Ok(Vec::new())
    }

    /// Findings not on a flow are folded into the model as they come, not held until `finish`.
    const STREAMS_FINDINGS: bool = true;

    fn consume_findings(
        &mut self,
        findings: Vec<FindingRecord>,
    ) -> Result<Vec<Artifact>, PluginError> {
        self.model.note_findings(&findings);
        Ok(Vec::new())
    }

    /// Hosts are folded into the model as they come too.
    const STREAMS_HOSTS: bool = true;

    fn consume_hosts(&mut self, hosts: Vec<HostInfo>) -> Result<Vec<Artifact>, PluginError> {
        self.model.add_hosts(&hosts);
        Ok(Vec::new())
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        self.model.finish(&report);
        let lost = self.model.untracked_late_findings();
        if lost > 0 {
            self.env.log(LogLevel::Warn, &format!(
                "{lost} findings raised at the end of the run are about flows past the first {} of the capture; their flows keep the class they had.",
                pcapxray_diagram::MAX_TRACKED_FLOWS
            ));
        }
        if self.model.folded_hosts() > 0 {
            self.env.log(LogLevel::Warn, &format!(
                "The diagrams draw {} hosts one by one and fold {} more into their address blocks (config max_hosts raises the bound).",
                self.model.max_hosts(),
                self.model.folded_hosts()
            ));
        }
        let folded = self.model.folded_flows();
        if folded > 0 {
            self.env.log(LogLevel::Warn, &format!(
                "The capture has more than {} conversations (client, server, class); the diagrams count {folded} flows of later ones between the address blocks of their ends (nodes labelled `(more conversations)`).",
                pcapxray_diagram::MAX_CONVERSATIONS
            ));
        }
        let mut out = vec![classes_artifact(&self.model)];
        out.extend(self.render(&capture_title(&report)));
        let plain = pcapxray_diagram::views_without_crossing_reduction();
        if plain > 0 {
            self.env.log(LogLevel::Info, &format!(
                "{plain} diagram layouts were made without edge-crossing reduction: the views before them used this run's share of it (pcapxray_diagram::CROSSING_BUDGET); their lines may cross more."
            ));
        }
        Ok(out)
    }
}

pcapxray_plugin_sdk::export_output!(GraphOutput);

#[cfg(test)]
mod tests;
