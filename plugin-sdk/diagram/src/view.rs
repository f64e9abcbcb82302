//! Views: the part of the model one diagram shows (all traffic, web, DNS, Tor, ...), cut by the
//! investigator's From/To filters, and kept readable when a capture talks to hundreds of internet
//! hosts: past a threshold (`max_internet_nodes`, 40 by default) internet hosts are drawn as groups,
//! by the registered domain of their name or by address block, and the labels say so.
//!
//! Grouping rule, applied to one side (internet, or the local network past [`MAX_LAN_NODES`]) when it
//! has more hosts than its limit. Each level is tried in turn and the first whose node count fits is
//! used; a group of one host is drawn as that host:
//!
//! 1. named hosts by registered domain (`*.google.com`), unnamed ones by /24 (IPv6 /48);
//! 2. named hosts by registered domain, unnamed ones by /16 (IPv6 /32);
//! 3. named hosts by registered domain, unnamed ones by /8 (IPv6 /16);
//! 4. named hosts by top-level domain (`*.com`), unnamed ones by /8 (IPv6 /16);
//! 5. the groups of level 4 with the most bytes, and one `other internet hosts` node for the rest.
//!
//! When a level leaves room under the limit, the groups with the most bytes are split back into their
//! hosts while the side stays within the limit, so only as much is grouped as needed.
//!
//! (Local hosts have no name grouping: /24, /16, /8, then the rest; IPv6 /64, /48, /32.)

use super::class::{Class, FIXED_VIEWS, VIEW_SUSPICIOUS, ViewBits};
use super::model::{Conversation, HostNode, NetGraph};
use super::text::{IpNet, block_of, clean, registered_domain, top_level_domain};
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt, HashSet};
use pcapxray_plugin_sdk::time::iso8601;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The default most internet nodes a view draws before grouping them.
pub const DEFAULT_MAX_INTERNET_NODES: usize = 40;

/// The most local-network nodes a view draws before grouping them by address block (a safety limit
/// for sweeps of whole subnets; the layout time grows quickly with the node count).
pub const MAX_LAN_NODES: usize = 100;

/// The most edges a view draws (those with the most bytes): the layered layout's time grows faster
/// than the graph (140 nodes and 250 edges take about 2 s natively), and nobody reads more anyway.
pub const MAX_EDGES: usize = 250;

/// The largest width or height, in pixels, of a diagram drawn by the built-in renderer (labels stay
/// at their 10 px): a view whose drawing would be larger is cut again with fewer nodes and edges
/// ([`View::fitted`]).
pub const MAX_SVG_PX: f64 = 4096.0;

/// How many cuts [`View::fitted`] tries: level 0 is the view as configured; levels 1 to 3 draw at
/// most (40, 40, 80), (20, 20, 40), (10, 10, 20) local nodes, internet nodes and edges (never more
/// internet nodes than configured).
pub const FIT_LEVELS: usize = 4;

const LEVEL_LIMITS: [(usize, usize, usize); FIT_LEVELS - 1] =
    [(40, 40, 80), (20, 20, 40), (10, 10, 20)];

/// Longest host name shown in a label, in characters.
const NAME_CHARS: usize = 40;

/// How a view is cut from the model.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// Only conversations whose client lies in one of these blocks (all when empty).
    pub from: Vec<IpNet>,
    /// Only conversations whose server lies in one of these blocks (all when empty).
    pub to: Vec<IpNet>,
    /// Internet hosts drawn before they are grouped (at least 1).
    pub max_internet_nodes: usize,
    /// Local-network hosts drawn before they are grouped (at least 1).
    pub max_lan_nodes: usize,
    /// Edges drawn (those with the most bytes; at least 1).
    pub max_edges: usize,
    /// When not empty, only the conversations of these model nodes, which are grouped apart from
    /// their peers (a group's detail diagram).
    pub focus: Vec<NodeIndex>,
}

impl Default for ViewOptions {
    fn default() -> ViewOptions {
        ViewOptions {
            from: Vec::new(),
            to: Vec::new(),
            max_internet_nodes: DEFAULT_MAX_INTERNET_NODES,
            max_lan_nodes: MAX_LAN_NODES,
            max_edges: MAX_EDGES,
            focus: Vec::new(),
        }
    }
}

/// A node of a view: one host, or a group of hosts.
#[derive(Clone, Debug)]
pub struct ViewNode {
    /// The DOT and SVG identifier: `n0`, `n1`, ...
    pub id: String,
    /// Label lines: address (or group), name, vendor, marks.
    pub lines: Vec<String>,
    /// A local-network node (not internet).
    pub local: bool,
    /// Hosts it stands for (1 for a host).
    pub members: usize,
    /// The host's address, for a single host.
    pub ip: Option<IpAddr>,
    /// The router of the local network.
    pub gateway: bool,
    /// A Tor relay.
    pub tor_relay: bool,
    /// A finding of severity medium or high is about this host (or a member of the group).
    pub flagged: bool,
    /// Hover text with the details that do not fit the label.
    pub tooltip: String,
    /// The model's nodes it stands for (one for a host or a folded block, more for a group).
    pub model_nodes: Vec<NodeIndex>,
}

impl ViewNode {
    /// The label, lines joined with `\n`.
    pub fn label(&self) -> String {
        self.lines.join("\n")
    }
}

/// The mark an edge label carries when files went over it (a paper clip).
pub const FILES_MARK: &str = "\u{1f4ce}";

/// An edge of a view: the conversations of one class between two nodes.
#[derive(Clone, Debug)]
pub struct ViewEdge {
    /// Index of the client node in [`View::nodes`].
    pub from: usize,
    /// Index of the server node.
    pub to: usize,
    /// The traffic class.
    pub class: Class,
    /// The counts, merged over grouped hosts.
    pub conversation: Conversation,
}

impl ViewEdge {
    /// Also flagged suspicious while its class is another (drawn bold).
    pub fn flagged(&self) -> bool {
        self.class != Class::Suspicious && self.conversation.views & VIEW_SUSPICIOUS != 0
    }

    /// `https: 443, 3 flows`; up to three ports, most used first.
    pub fn label(&self) -> String {
        let c = &self.conversation;
        let mut ports = c.ports.top();
        if self.class == Class::Icmp {
            // The class says it all.
            ports.retain(|(p, _)| !p.starts_with("icmp"));
        }
        let mut text = format!("{}: ", self.class.as_str());
        if !ports.is_empty() {
            let shown: Vec<&str> = ports.iter().take(3).map(|(p, _)| p.as_str()).collect();
            text.push_str(&shown.join(" "));
            let more = ports.len().saturating_sub(3) + usize::from(c.ports.overflow > 0);
            if more > 0 {
                text.push_str(&format!(" +{more}"));
            }
            text.push_str(", ");
        }
        text.push_str(&count(c.flows, "flow"));
        if c.files > 0 {
            // A paper clip: files went over this edge (the files table lists them).
            text.push_str(&format!(", {FILES_MARK} {}", count(c.files, "file")));
        }
        text
    }

    /// Hover text: endpoints, counts, all ports, time span.
    pub fn tooltip(&self, nodes: &[ViewNode]) -> String {
        let c = &self.conversation;
        let name = |i: usize| {
            nodes
                .get(i)
                .and_then(|n| n.lines.first().cloned())
                .unwrap_or_default()
        };
        let ports: Vec<String> = c
            .ports
            .top()
            .iter()
            .take(12)
            .map(|(p, n)| format!("{p} ×{n}"))
            .collect();
        let mut text = format!(
            "{} → {}: {}, {}, {} bytes, {}",
            name(self.from),
            name(self.to),
            self.class.description(),
            count(c.flows, "flow"),
            c.bytes,
            count(c.packets, "packet"),
        );
        if !ports.is_empty() {
            text.push_str(&format!("; ports {}", ports.join(", ")));
        }
        if c.first != 0 {
            text.push_str(&format!("; {} to {}", iso8601(c.first), iso8601(c.last)));
        }
        if self.flagged() {
            text.push_str("; also flagged suspicious");
        }
        text
    }
}

/// `1 flow`, `3 flows`.
fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// One diagram's content.
#[derive(Clone, Debug)]
pub struct View {
    /// The view's name (`all`, `web`, `tor`, ... or a tag prefix); also its file name.
    pub name: String,
    /// Nodes: local network first, then internet, each by address.
    pub nodes: Vec<ViewNode>,
    /// Edges, by (client, server, class).
    pub edges: Vec<ViewEdge>,
    /// Set when hosts were grouped: what was done, for captions.
    pub grouping: Option<String>,
    /// Hosts the view's nodes stand for.
    pub hosts: usize,
}

/// The views a model offers, with their bits: `all`, then the fixed views with at least one
/// conversation, then one per other tag prefix with at least one conversation.
pub fn available_views(g: &NetGraph) -> Vec<(String, ViewBits)> {
    let mut seen: ViewBits = 0;
    for c in g.graph.edge_weights().filter(|c| c.flows > 0) {
        seen |= c.views;
    }
    let mut out: Vec<(String, ViewBits)> = FIXED_VIEWS
        .iter()
        .filter(|(name, bits)| *name == "all" || seen & bits != 0)
        .map(|(n, b)| (n.to_string(), *b))
        .collect();
    for (name, bit) in g.prefixes.iter() {
        if seen & bit != 0 && !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), bit));
        }
    }
    out
}

/// The names of the views whose bits are in `bits` (fixed views first, then tag prefixes).
pub fn view_names(g: &NetGraph, bits: ViewBits) -> Vec<&str> {
    let fixed = FIXED_VIEWS
        .iter()
        .filter(|(_, b)| *b != 0 && bits & b != 0)
        .map(|(n, _)| *n);
    let prefixes = g
        .prefixes
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| n);
    fixed.chain(prefixes).collect()
}

/// The bits of a view by name (fixed or tag prefix), if the model knows it.
pub fn view_bits(g: &NetGraph, name: &str) -> Option<ViewBits> {
    FIXED_VIEWS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .or_else(|| g.prefixes.get(name))
}

/// A group of hosts before it becomes a node.
struct Group {
    label: String,
    members: Vec<NodeIndex>,
    weight: u64,
}

impl View {
    /// Cuts the view `name` (with `bits`, 0 for `all`) from the model.
    pub fn build(g: &NetGraph, name: &str, bits: ViewBits, opts: &ViewOptions) -> View {
        let passes =
            |list: &[IpNet], ip: IpAddr| list.is_empty() || list.iter().any(|n| n.contains(ip));
        let focus: HashSet<NodeIndex> = opts.focus.iter().copied().collect();
        let edges: Vec<_> = g
            .graph
            .edge_references()
            .filter(|e| {
                let c = e.weight();
                c.flows > 0
                    && (bits == 0 || c.views & bits != 0)
                    && passes(&opts.from, g.graph[e.source()].ip)
                    && passes(&opts.to, g.graph[e.target()].ip)
                    && (focus.is_empty()
                        || focus.contains(&e.source())
                        || focus.contains(&e.target()))
            })
            .collect();
        // Bytes per node in this view, to rank groups when the last level must drop some.
        let mut weight: HashMap<NodeIndex, u64> = HashMap::new();
        for e in &edges {
            *weight.entry(e.source()).or_default() += e.weight().bytes;
            *weight.entry(e.target()).or_default() += e.weight().bytes;
        }
        let mut members: Vec<NodeIndex> = weight.keys().copied().collect();
        if bits == 0 && opts.from.is_empty() && opts.to.is_empty() {
            // `all` also shows hosts without conversations (seen in ARP, say).
            members = if focus.is_empty() {
                g.graph.node_indices().collect()
            } else {
                let mut all = members;
                all.extend(focus.iter().filter(|n| !weight.contains_key(n)));
                all
            };
        }
        members.sort_by_key(|&n| (!g.graph[n].local, g.graph[n].ip, n));
        let (focused, peers): (Vec<NodeIndex>, Vec<NodeIndex>) =
            members.iter().partition(|&&n| focus.contains(&n));
        let (local, internet): (Vec<NodeIndex>, Vec<NodeIndex>) =
            peers.iter().partition(|&&n| g.graph[n].local);
        let w = |n: NodeIndex| weight.get(&n).copied().unwrap_or(0);
        let mut notes = Vec::new();
        let hosts_of = |side: &[NodeIndex]| side.iter().map(|&n| g.graph[n].weight()).sum::<u64>();
        let lan_limit = opts.max_lan_nodes.max(1);
        let mut groups = Vec::new();
        if !focused.is_empty() {
            let by_name = focused.iter().any(|&n| !g.graph[n].local);
            let limit = if by_name {
                opts.max_internet_nodes.max(1)
            } else {
                lan_limit
            };
            groups = group_side(g, &focused, limit, by_name, &w);
            if (groups.len() as u64) < hosts_of(&focused) {
                notes.push(format!(
                    "{} hosts of the group drawn as {} nodes",
                    hosts_of(&focused),
                    groups.len()
                ));
            }
        }
        let local_groups = group_side(g, &local, lan_limit, false, &w);
        if (local_groups.len() as u64) < hosts_of(&local) {
            notes.push(format!(
                "{} local hosts drawn as {} nodes (limit {lan_limit})",
                hosts_of(&local),
                local_groups.len()
            ));
        }
        groups.extend(local_groups);
        let internet_groups = group_side(g, &internet, opts.max_internet_nodes.max(1), true, &w);
        if (internet_groups.len() as u64) < hosts_of(&internet) {
            notes.push(format!(
                "{} internet hosts drawn as {} nodes (max_internet_nodes = {}, grouped by domain or address block)",
                hosts_of(&internet),
                internet_groups.len(),
                opts.max_internet_nodes.max(1)
            ));
        }
        groups.extend(internet_groups);

        let mut nodes = Vec::with_capacity(groups.len());
        let mut index: HashMap<NodeIndex, usize> = HashMap::new();
        for (i, group) in groups.iter().enumerate() {
            for &m in &group.members {
                index.insert(m, i);
            }
            nodes.push(view_node(g, i, group));
        }
        let mut merged: BTreeMap<(usize, usize, Class), Conversation> = BTreeMap::new();
        for e in &edges {
            let (Some(&from), Some(&to)) = (index.get(&e.source()), index.get(&e.target())) else {
                continue;
            };
            let c = e.weight();
            merged
                .entry((from, to, c.class))
                .and_modify(|m| m.merge(c))
                .or_insert_with(|| c.clone());
        }
        let mut edges: Vec<ViewEdge> = merged
            .into_iter()
            .map(|((from, to, class), conversation)| ViewEdge {
                from,
                to,
                class,
                conversation,
            })
            .collect();
        let max_edges = opts.max_edges.max(1);
        if edges.len() > max_edges {
            let total = edges.len();
            edges.sort_by(|a, b| {
                (b.conversation.bytes, b.conversation.flows)
                    .cmp(&(a.conversation.bytes, a.conversation.flows))
            });
            edges.truncate(max_edges);
            edges.sort_by_key(|e| (e.from, e.to, e.class));
            notes.push(format!(
                "the {max_edges} edges with the most bytes of {total} drawn"
            ));
        }
        View {
            name: name.to_string(),
            nodes,
            edges,
            grouping: (!notes.is_empty()).then(|| notes.join("; ")),
            hosts: hosts_of(&members) as usize,
        }
    }

    /// The view cut with the first level from `from` (see [`FIT_LEVELS`]) whose drawing is estimated
    /// to fit [`MAX_SVG_PX`] (the last level otherwise), and that level. A view that fits as
    /// configured is exactly [`View::build`]'s.
    pub fn fitted(
        g: &NetGraph,
        name: &str,
        bits: ViewBits,
        opts: &ViewOptions,
        from: usize,
    ) -> (View, usize) {
        let mut level = from.min(FIT_LEVELS - 1);
        loop {
            let mut o = opts.clone();
            if level > 0 {
                let (lan, internet, edges) = LEVEL_LIMITS[level - 1];
                o.max_lan_nodes = o.max_lan_nodes.min(lan);
                o.max_internet_nodes = o.max_internet_nodes.min(internet);
                o.max_edges = o.max_edges.min(edges);
            }
            let view = View::build(g, name, bits, &o);
            if level + 1 == FIT_LEVELS || view.estimated_px() <= MAX_SVG_PX {
                return (view, level);
            }
            level += 1;
        }
    }

    /// The drawing's larger side as the layered layout makes it, roughly: a column per rank, about
    /// 80 px per host box and 48 px per edge label (measured on layout-rs), plus title and legend.
    pub fn estimated_px(&self) -> f64 {
        let internet = self.internet_nodes();
        let local = self.nodes.len() - internet;
        let boxes = 80.0 * local.max(internet) as f64;
        let labels = 48.0 * self.edges.len() as f64;
        boxes.max(labels) + 200.0
    }

    /// Internet nodes of the view.
    pub fn internet_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| !n.local).count()
    }
}

/// Groups one side's hosts so that at most `limit` nodes remain (see the module documentation).
fn group_side(
    g: &NetGraph,
    hosts: &[NodeIndex],
    limit: usize,
    by_name: bool,
    weight: &dyn Fn(NodeIndex) -> u64,
) -> Vec<Group> {
    let single = |n: NodeIndex| Group {
        label: String::new(),
        members: vec![n],
        weight: weight(n),
    };
    if hosts.len() <= limit {
        return hosts.iter().map(|&n| single(n)).collect();
    }
    let mut last = Vec::new();
    for level in 0..4 {
        let mut by_key: BTreeMap<String, Vec<NodeIndex>> = BTreeMap::new();
        for &n in hosts {
            by_key
                .entry(group_key(&g.graph[n], level, by_name))
                .or_default()
                .push(n);
        }
        let groups: Vec<Group> = by_key
            .into_iter()
            .map(|(label, members)| {
                if members.len() == 1 {
                    single(members[0])
                } else {
                    let weight = members.iter().map(|&m| weight(m)).sum();
                    Group {
                        label,
                        members,
                        weight,
                    }
                }
            })
            .collect();
        if groups.len() <= limit {
            return sort_groups(g, expand(groups, limit, &single));
        }
        last = groups;
    }
    // Keep the heaviest groups, fold the rest into one node.
    last.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then(a.members.len().cmp(&b.members.len()).reverse())
            .then(a.label.cmp(&b.label))
    });
    let rest: Vec<Group> = last.split_off(limit - 1);
    let mut kept = last;
    let members: Vec<NodeIndex> = rest.into_iter().flat_map(|g| g.members).collect();
    if !members.is_empty() {
        let weight = members.iter().map(|&m| weight(m)).sum();
        let label = if by_name {
            "other internet hosts"
        } else {
            "other local hosts"
        };
        kept.push(Group {
            label: label.to_string(),
            members,
            weight,
        });
    }
    sort_groups(g, kept)
}

/// Gives detail back where there is room: the groups with the most traffic are split into their
/// hosts again, as long as the side stays within `limit` nodes.
fn expand(groups: Vec<Group>, limit: usize, single: &dyn Fn(NodeIndex) -> Group) -> Vec<Group> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[b].weight.cmp(&groups[a].weight).then(a.cmp(&b)));
    let mut count = groups.len();
    let mut split = vec![false; groups.len()];
    for i in order {
        let n = groups[i].members.len();
        if n > 1 && count - 1 + n <= limit {
            split[i] = true;
            count += n - 1;
        }
    }
    let mut out = Vec::with_capacity(count);
    for (group, split) in groups.into_iter().zip(split) {
        if split {
            out.extend(group.members.iter().map(|&m| single(m)));
        } else {
            out.push(group);
        }
    }
    out
}

/// Hosts first and groups after, each by their first member's address.
fn sort_groups(g: &NetGraph, mut groups: Vec<Group>) -> Vec<Group> {
    for group in &mut groups {
        group.members.sort_by_key(|&m| (g.graph[m].ip, m));
    }
    groups.sort_by_key(|gr| {
        (
            gr.members.len() > 1,
            gr.members.first().map(|&m| g.graph[m].ip),
        )
    });
    groups
}

fn group_key(host: &HostNode, level: u8, by_name: bool) -> String {
    if let Some(name) = host.name().filter(|_| by_name) {
        let domain = if level < 3 {
            registered_domain(name)
        } else {
            top_level_domain(name)
        };
        if !domain.is_empty() && domain.parse::<IpAddr>().is_err() {
            return format!("*.{}", clean(&domain, NAME_CHARS));
        }
    }
    let local_v6 = !by_name;
    let (v4, v6) = match level {
        0 => (24, if local_v6 { 64 } else { 48 }),
        1 => (16, if local_v6 { 48 } else { 32 }),
        _ => (8, if local_v6 { 32 } else { 16 }),
    };
    block_of(host.ip, v4, v6)
}

fn view_node(g: &NetGraph, i: usize, group: &Group) -> ViewNode {
    let id = format!("n{i}");
    if let [n] = group.members[..] {
        let h = &g.graph[n];
        if h.block.is_some() {
            return ViewNode {
                model_nodes: vec![n],
                ..block_node(id, h)
            };
        }
        let mut lines = vec![h.ip.to_string()];
        if let Some(name) = h.name() {
            let mut line = clean(name, NAME_CHARS);
            if h.names.len() > 1 {
                line.push_str(&format!(" (+{})", h.names.len() - 1));
            }
            lines.push(line);
        }
        if let Some(vendor) = &h.vendor {
            lines.push(clean(vendor, 32));
        }
        if !h.tags.is_empty() {
            lines.push(clean(&h.tags.join(", "), 48));
        }
        lines.retain(|l| !l.is_empty());
        return ViewNode {
            id,
            lines,
            local: h.local,
            members: 1,
            ip: Some(h.ip),
            gateway: h.is_gateway(),
            tor_relay: h.is_tor_relay(),
            flagged: h
                .severity
                .is_some_and(|s| s >= pcapxray_plugin_sdk::Severity::Medium),
            tooltip: host_tooltip(h),
            model_nodes: vec![n],
        };
    }
    let hosts: u64 = group.members.iter().map(|&m| g.graph[m].weight()).sum();
    let mut shown: Vec<String> = group
        .members
        .iter()
        .take(20)
        .map(|&m| {
            let h = &g.graph[m];
            match h.name() {
                Some(name) => format!("{} ({})", h.address(), clean(name, NAME_CHARS)),
                None => h.address(),
            }
        })
        .collect();
    if group.members.len() > 20 {
        shown.push(format!("… and {} more", group.members.len() - 20));
    }
    let local = group.members.iter().all(|&m| g.graph[m].local);
    ViewNode {
        id,
        lines: vec![group.label.clone(), format!("({hosts} hosts)")],
        local,
        members: hosts as usize,
        ip: None,
        gateway: false,
        tor_relay: group.members.iter().any(|&m| g.graph[m].is_tor_relay()),
        flagged: group.members.iter().any(|&m| {
            g.graph[m]
                .severity
                .is_some_and(|s| s >= pcapxray_plugin_sdk::Severity::Medium)
        }),
        tooltip: format!("{hosts} hosts grouped: {}", shown.join(", ")),
        model_nodes: group.members.clone(),
    }
}

/// A node that stands for an address block the model folded hosts into.
fn block_node(id: String, h: &HostNode) -> ViewNode {
    let hosts = h.weight();
    if hosts == 0 {
        return ViewNode {
            id,
            lines: vec![h.address(), "(more conversations)".to_string()],
            local: h.local,
            members: 0,
            ip: None,
            gateway: false,
            tor_relay: false,
            flagged: false,
            tooltip: format!(
                "Conversations of hosts in {} past the {} the diagram keeps one by one (the hosts are drawn on their own elsewhere)",
                h.address(),
                super::model::MAX_CONVERSATIONS
            ),
            model_nodes: Vec::new(),
        };
    }
    ViewNode {
        id,
        lines: vec![h.address(), format!("({hosts} hosts)")],
        local: h.local,
        members: hosts as usize,
        ip: None,
        gateway: false,
        tor_relay: false,
        flagged: h
            .severity
            .is_some_and(|s| s >= pcapxray_plugin_sdk::Severity::Medium),
        tooltip: format!(
            "{hosts} hosts of {} (folded: the capture has more hosts than the diagram keeps one by one)",
            h.address()
        ),
        model_nodes: Vec::new(),
    }
}

fn host_tooltip(h: &HostNode) -> String {
    let mut parts = vec![format!(
        "{} ({})",
        h.ip,
        if h.local { "local network" } else { "internet" }
    )];
    if !h.names.is_empty() {
        let names: Vec<String> = h.names.iter().map(|n| clean(n, 80)).collect();
        parts.push(format!("names: {}", names.join(", ")));
    }
    if !h.macs.is_empty() {
        let macs: Vec<String> = h
            .macs
            .iter()
            .map(|&m| pcapxray_plugin_sdk::format_mac(m))
            .collect();
        parts.push(format!("MAC: {}", macs.join(", ")));
    }
    if let Some(v) = &h.vendor {
        parts.push(format!("vendor: {}", clean(v, 80)));
    }
    if let Some(os) = &h.os {
        parts.push(format!("OS: {}", clean(os, 80)));
    }
    if !h.tags.is_empty() {
        parts.push(clean(&h.tags.join(", "), 120));
    }
    if !h.findings.is_empty() {
        parts.push(format!("findings: {}", clean(&h.findings.join(", "), 200)));
    }
    parts.push(format!("{}, {} bytes", count(h.packets, "packet"), h.bytes));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{flow, host, report};
    use pcapxray_plugin_sdk::Protocol;

    fn many(n: usize, named: bool) -> NetGraph {
        let mut g = NetGraph::new();
        let mut flows = Vec::new();
        let mut hosts = vec![host("192.168.1.10", 1, &[])];
        for i in 0..n {
            let ip = format!(
                "{}.{}.{}.{}",
                11 + i % 50,
                (i * 7) % 256,
                i / 50,
                1 + i % 200
            );
            flows.push(flow(
                i as u64,
                "192.168.1.10",
                &ip,
                Protocol::Tcp,
                443,
                &["web.https"],
            ));
            let name = format!("h{i}.site{}.example.com", i % 5);
            let notes: Vec<(&str, &str)> = if named && i % 2 == 0 {
                vec![("name", name.as_str())]
            } else {
                vec![]
            };
            hosts.push(host(&ip, 2, &notes));
        }
        g.consume(&flows);
        g.finish(&report(hosts, vec![]));
        g
    }

    #[test]
    fn small_views_keep_every_host() {
        let g = many(10, true);
        let v = View::build(&g, "all", 0, &ViewOptions::default());
        assert_eq!(v.nodes.len(), 11);
        assert_eq!(v.edges.len(), 10);
        assert!(v.grouping.is_none());
        assert_eq!(v.nodes[0].lines[0], "192.168.1.10");
        assert_eq!(v.edges[0].label(), "https: 443, 1 flow");
    }

    #[test]
    fn three_hundred_internet_hosts_are_grouped_under_the_threshold() {
        for named in [false, true] {
            let g = many(300, named);
            let opts = ViewOptions::default();
            let v = View::build(&g, "all", 0, &opts);
            assert!(
                v.internet_nodes() <= opts.max_internet_nodes,
                "{}",
                v.internet_nodes()
            );
            assert!(
                v.grouping
                    .as_deref()
                    .unwrap()
                    .contains("300 internet hosts")
            );
            let grouped: usize = v.nodes.iter().filter(|n| !n.local).map(|n| n.members).sum();
            assert_eq!(grouped, 300);
            assert!(
                v.nodes
                    .iter()
                    .any(|n| n.lines.iter().any(|l| l.ends_with(" hosts)")))
            );
            if named {
                assert!(
                    v.nodes.iter().any(|n| n.lines[0] == "*.example.com"),
                    "{:?}",
                    v.nodes.iter().map(|n| &n.lines).collect::<Vec<_>>()
                );
            }
            let flows: u64 = v.edges.iter().map(|e| e.conversation.flows).sum();
            assert_eq!(flows, 300);
        }
    }

    #[test]
    fn groups_are_split_back_while_there_is_room() {
        let mut g = NetGraph::new();
        let mut flows = Vec::new();
        let mut hosts = vec![];
        // 30 hosts in 203.0.113/24 (heavy) and 30 in 198.51.100/24: 60 > 40, /24 gives 2 groups,
        // and one of them fits back as hosts: 30 + 1 = 31 nodes.
        for i in 0..60u64 {
            let ip = if i < 30 {
                format!("203.0.113.{}", i + 1)
            } else {
                format!("198.51.100.{}", i + 1)
            };
            let mut f = flow(i, "192.168.1.10", &ip, Protocol::Tcp, 443, &[]);
            if i < 30 {
                f.to_server.bytes = 10_000;
            }
            flows.push(f);
            hosts.push(host(&ip, 2, &[]));
        }
        g.consume(&flows);
        g.finish(&report(hosts, vec![]));
        let v = View::build(&g, "all", 0, &ViewOptions::default());
        assert_eq!(v.internet_nodes(), 31);
        let group = v.nodes.iter().find(|n| n.members > 1).unwrap();
        assert_eq!(group.lines, ["198.51.100.0/24", "(30 hosts)"]);
        assert!(
            v.nodes
                .iter()
                .any(|n| n.ip == Some("203.0.113.5".parse().unwrap()))
        );
    }

    #[test]
    fn filters_and_views_select_conversations() {
        let mut g = NetGraph::new();
        g.consume(&[
            flow(1, "192.168.0.5", "8.8.8.8", Protocol::Udp, 53, &["dns"]),
            flow(
                2,
                "192.168.0.6",
                "1.1.1.1",
                Protocol::Tcp,
                443,
                &["web.https"],
            ),
            flow(3, "192.168.0.6", "9.9.9.9", Protocol::Icmp, 0, &[]),
        ]);
        g.finish(&report(vec![], vec![]));
        let names: Vec<String> = available_views(&g).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["all", "web", "https", "dns", "icmp"]);
        let dns = View::build(
            &g,
            "dns",
            view_bits(&g, "dns").unwrap(),
            &ViewOptions::default(),
        );
        assert_eq!((dns.nodes.len(), dns.edges.len()), (2, 1));
        assert_eq!(dns.edges[0].label(), "dns: udp/53, 1 flow");
        let icmp = View::build(
            &g,
            "icmp",
            view_bits(&g, "icmp").unwrap(),
            &ViewOptions::default(),
        );
        assert_eq!(icmp.edges[0].label(), "icmp: 1 flow");
        let opts = ViewOptions {
            from: vec![IpNet::parse("192.168.0.6").unwrap()],
            to: vec![IpNet::parse("1.0.0.0/8").unwrap()],
            ..ViewOptions::default()
        };
        let v = View::build(&g, "all", 0, &opts);
        assert_eq!((v.nodes.len(), v.edges.len()), (2, 1));
        assert_eq!(v.nodes[1].ip, Some("1.1.1.1".parse().unwrap()));
    }
}
