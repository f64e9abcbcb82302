//! # pcapxray diagram engine
//!
//! Network diagrams for output plugins: the shared model and its views, DOT text, and SVG drawn inside
//! the sandbox. Both the `graph` and the `html` outputs draw the same diagrams from
//! the same rules, so they live here rather than in either plugin.
//!
//! The flow: [`NetGraph::consume`] each batch of flows (only aggregates are kept: hosts, and
//! conversations per client, server and traffic class), [`NetGraph::finish`] with the report (host
//! names, vendors, late findings), then for each of [`available_views`] build a [`View`] (filtered,
//! with internet hosts grouped past `max_internet_nodes`) and write it with [`to_dot`] or [`to_svg`].
//!
//! ```no_run
//! # use pcapxray_plugin_sdk::{Flow, Report};
//! # fn demo(flows: Vec<Flow>, report: Report) {
//! use pcapxray_diagram::{NetGraph, View, ViewOptions, available_views, to_dot, to_svg};
//! let mut model = NetGraph::new();
//! model.consume(&flows);
//! model.finish(&report);
//! for (name, bits) in available_views(&model) {
//!     let view = View::build(&model, &name, bits, &ViewOptions::default());
//!     let dot = to_dot(&view, &report.capture.file);
//!     let svg = to_svg(&view, &report.capture.file, "");
//! }
//! # }
//! ```

#![deny(missing_docs)]

/// Wall-clock time an output should spend laying out diagrams with the built-in renderer in one run
/// (the host stops a plugin call after `call_timeout_ms`, 60 s by default). Views left when it is
/// spent get [`to_svg_unplaced`]; their DOT files are complete.
pub const LAYOUT_BUDGET_MS: u64 = 30_000;

mod class;
mod dot;
mod model;
mod svg;
pub mod text;
mod tracked;
mod view;

/// The index of a host (or block) in [`NetGraph::graph`], as [`ViewNode::model_nodes`] lists them.
pub use petgraph::graph::NodeIndex;

pub use class::{Class, FIXED_VIEWS, Prefixes, ViewBits, classify, is_view_name, tag_bits};
pub use dot::{caption, to_dot};
pub use model::{
    Conversation, DEFAULT_MAX_HOSTS, HostNode, MAX_CONVERSATIONS, MAX_TRACKED_FLOWS, NetGraph,
    Ports,
};
pub use svg::{
    CROSSING_BUDGET, OPTIMIZE_LIMIT, to_svg, to_svg_linked, to_svg_unplaced,
    views_without_crossing_reduction,
};
pub use view::{
    DEFAULT_MAX_INTERNET_NODES, FILES_MARK, FIT_LEVELS, MAX_EDGES, MAX_LAN_NODES, MAX_SVG_PX, View,
    ViewEdge, ViewNode, ViewOptions, available_views, view_bits, view_names,
};
