//! The network model behind every diagram: a petgraph whose nodes are hosts and whose edges are
//! conversations aggregated per (client, server, traffic class). An output feeds it the flows of each
//! `consume` batch and completes it in `finish` with the report's hosts and the findings raised at the
//! end of the run, so it never holds the flows themselves: memory follows the number of host pairs.
//!
//! Findings raised in an analyzer's `finish` (the `suspicious` verdicts, `beacon`) arrive after their
//! flows went by. To still put such a flow on the right edge, the model keeps one compact record per
//! flow (id, edge, bytes, port: 28 bytes) for at most [`MAX_TRACKED_FLOWS`] flows; a late finding about
//! a flow past that bound is counted and reported by [`NetGraph::untracked_late_findings`] instead.
//!
//! Memory is bounded by host count too: the first [`DEFAULT_MAX_HOSTS`] addresses (configurable with
//! [`NetGraph::with_max_hosts`]) are nodes of their own; later addresses are folded into a node for
//! their address block (/24, IPv6 /48; /16 and /32 once there are as many blocks as hosts allowed,
//! then /8 and /16), which counts the hosts it stands for. The views group internet hosts by the
//! same blocks anyway, so a diagram of a million hosts looks as it would have, while the model holds a
//! bounded number of nodes; [`NetGraph::folded_hosts`] says how many were folded.
//!
//! And by conversations: the first [`MAX_CONVERSATIONS`] (client, server, class) are edges of their
//! own; a later one is counted on an edge between the address blocks of its two ends (/16, IPv6 /32,
//! coarser as such edges multiply, see [`NetGraph::folded_flows`]). So what the model holds is
//! bounded whatever the capture: about 8,200 nodes, 16,384 + 3 × 4,096 edges with at most 32 ports
//! each, 28 bytes for each of the first [`MAX_TRACKED_FLOWS`] flows, and the late findings' tags.

use super::class::{Class, Prefixes, ViewBits, classify, tag_bits};
use super::tracked::{FlowLog, Tracked};
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt, HashSet};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::tables::Table;
use pcapxray_plugin_sdk::{FindingRecord, Flow, HostInfo, Report, Severity, Subject};
use petgraph::graph::{EdgeIndex, Graph, NodeIndex};
use std::net::IpAddr;

/// How many flows the model remembers for late findings (28 bytes each: 7 MiB at most).
pub const MAX_TRACKED_FLOWS: usize = 262_144;

/// Addresses that get a node of their own before later ones are folded into address blocks.
pub const DEFAULT_MAX_HOSTS: usize = 4096;

/// Conversations (client, server, class) the model keeps exactly; past it a new one is counted on
/// an edge between the address blocks of its two ends (see [`NetGraph::folded_flows`]).
pub const MAX_CONVERSATIONS: usize = 16_384;

/// Edges between address blocks made at each fold level before the next, coarser one is used
/// (/16 and /32, then /8 and /16, then one block per address family).
const MAX_FOLDED_EDGES: usize = 4096;

/// Distinct ports counted per conversation; the rest are only counted together.
const MAX_PORTS: usize = 32;

/// Names, tags and finding tags kept per host.
const MAX_PER_HOST: usize = 16;

/// A host of the diagram.
#[derive(Clone, Debug)]
pub struct HostNode {
    /// The address.
    pub ip: IpAddr,
    /// On the local network (private, link-local, multicast, ...) rather than the internet.
    pub local: bool,
    /// Names from the analyzers' `name` facts (DNS answers, SNI, HTTP Host), best first, then
    /// `dhcp.hostname`.
    pub names: Vec<String>,
    /// The `vendor` fact (MAC vendor), if any.
    pub vendor: Option<String>,
    /// The `os` fact, if any.
    pub os: Option<String>,
    /// MAC addresses this address was sent from.
    pub macs: Vec<u64>,
    /// Marks shown in labels: `gateway`, `Tor relay`, ...
    pub tags: Vec<String>,
    /// Tags of findings about this host (`beacon`, `dns.tunnel-suspect`), distinct.
    pub findings: Vec<String>,
    /// The highest severity of the findings about this host.
    pub severity: Option<Severity>,
    /// Bytes sent and received, from the report.
    pub bytes: u64,
    /// Packets sent and received, from the report.
    pub packets: u64,
    /// When the node stands for an address block (hosts folded past the model's bound): its prefix
    /// length; `ip` is then the block's first address.
    pub block: Option<u8>,
    /// Hosts of the report this node stands for: 1 for a host, the count of folded hosts for a block
    /// (0 for a block that only carries conversations folded past [`MAX_CONVERSATIONS`] of hosts
    /// drawn on their own elsewhere).
    pub hosts: u64,
}

impl HostNode {
    fn new(ip: IpAddr) -> HostNode {
        HostNode {
            ip,
            local: IpClass::of(ip).is_local(),
            names: Vec::new(),
            vendor: None,
            os: None,
            macs: Vec::new(),
            tags: Vec::new(),
            findings: Vec::new(),
            severity: None,
            bytes: 0,
            packets: 0,
            block: None,
            hosts: 1,
        }
    }

    /// The address, or the block as `a.b.c.0/24`.
    pub fn address(&self) -> String {
        match self.block {
            Some(len) => format!("{}/{len}", self.ip),
            None => self.ip.to_string(),
        }
    }

    /// Hosts this node stands for: 1 for a host, the hosts folded into it for a block (maybe 0).
    pub fn weight(&self) -> u64 {
        if self.block.is_some() { self.hosts } else { 1 }
    }

    /// The name to show, if any.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// True when marked as the local network's gateway or router.
    pub fn is_gateway(&self) -> bool {
        self.tags.iter().any(|t| t == "gateway")
    }

    /// True when a Tor relay.
    pub fn is_tor_relay(&self) -> bool {
        self.tags.iter().any(|t| t.starts_with("Tor relay"))
    }
}

/// Transport ports of a conversation's flows (the server side), with how many flows used each.
#[derive(Clone, Debug, Default)]
pub struct Ports {
    /// (IP protocol, port, flows), at most 32 entries.
    entries: Vec<(u8, u16, u64)>,
    /// Flows on ports beyond the 32 counted ones.
    pub overflow: u64,
}

impl Ports {
    fn add(&mut self, proto: u8, port: u16, n: u64) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.0 == proto && e.1 == port)
        {
            e.2 += n;
        } else if self.entries.len() < MAX_PORTS {
            self.entries.push((proto, port, n));
        } else {
            self.overflow += n;
        }
    }

    fn remove(&mut self, proto: u8, port: u16) {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.0 == proto && e.1 == port)
        {
            self.entries[i].2 -= 1;
            if self.entries[i].2 == 0 {
                self.entries.remove(i);
            }
        } else {
            self.overflow = self.overflow.saturating_sub(1);
        }
    }

    /// Adds all of `other`.
    pub fn merge(&mut self, other: &Ports) {
        for &(proto, port, n) in &other.entries {
            self.add(proto, port, n);
        }
        self.overflow += other.overflow;
    }

    /// The ports, most used first (ties by number), as text: `443`, `udp/53`, `icmp`, `ip/47`.
    pub fn top(&self) -> Vec<(String, u64)> {
        let mut v: Vec<&(u8, u16, u64)> = self.entries.iter().collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0)));
        v.into_iter()
            .map(|&(proto, port, n)| {
                let text = match proto {
                    6 => port.to_string(),
                    17 => format!("udp/{port}"),
                    1 => "icmp".to_string(),
                    58 => "icmpv6".to_string(),
                    p => format!("ip/{p}"),
                };
                (text, n)
            })
            .collect()
    }

    /// Number of distinct ports counted, plus one when some were only counted together.
    pub fn distinct(&self) -> usize {
        self.entries.len() + usize::from(self.overflow > 0)
    }
}

/// The flows of one (client, server, class): an edge of the diagram.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// The traffic class (decides the colour).
    pub class: Class,
    /// The views it belongs to.
    pub views: ViewBits,
    /// Flows.
    pub flows: u64,
    /// Bytes on the wire, both directions.
    pub bytes: u64,
    /// Packets, both directions.
    pub packets: u64,
    /// Server ports.
    pub ports: Ports,
    /// First packet (ns since the epoch; 0 when unknown).
    pub first: u64,
    /// Last packet.
    pub last: u64,
    /// Files carried over its flows (`files.*` findings, as the SDK's files table counts them).
    pub files: u64,
}

impl Conversation {
    fn new(class: Class) -> Conversation {
        Conversation {
            class,
            views: 0,
            flows: 0,
            bytes: 0,
            packets: 0,
            ports: Ports::default(),
            first: 0,
            last: 0,
            files: 0,
        }
    }

    /// Adds another conversation's counts (used when hosts are grouped).
    pub fn merge(&mut self, other: &Conversation) {
        self.views |= other.views;
        self.flows += other.flows;
        self.bytes += other.bytes;
        self.packets += other.packets;
        self.ports.merge(&other.ports);
        self.files += other.files;
        self.first = match (self.first, other.first) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
        self.last = self.last.max(other.last);
    }
}

/// The model: build it with [`NetGraph::consume`] and [`NetGraph::finish`], then cut views from it
/// with [`super::view::View::build`].
#[derive(Debug)]
pub struct NetGraph {
    /// Hosts and conversations. Edges with no flows left (all moved by late findings) are skipped by
    /// the views.
    pub graph: Graph<HostNode, Conversation>,
    /// Tag prefixes with views of their own.
    pub prefixes: Prefixes,
    nodes: HashMap<IpAddr, NodeIndex>,
    edges: HashMap<(NodeIndex, NodeIndex, Class), EdgeIndex>,
    tracked: FlowLog,
    untracked: u64,
    /// Flows past [`MAX_TRACKED_FLOWS`], which [`NetGraph::flows_by_conversation`] cannot list.
    untracked_flows: u64,
    /// Findings noted before [`NetGraph::finish`], in the order they came: applied once every flow
    /// and host is in.
    late: Vec<Late>,
    /// The distinct tags of `late`, and where each is.
    late_tags: Vec<String>,
    late_tag_index: HashMap<String, u32>,
    /// Internet addresses per MAC, over the hosts added so far (to find the router).
    internet_macs: HashMap<u64, usize>,
    /// Whether an analyzer named a gateway or router.
    named_gateway: bool,
    /// Addresses with a node of their own, at most.
    max_hosts: usize,
    /// Block nodes, by (first address, prefix length).
    blocks: HashMap<(IpAddr, u8), NodeIndex>,
    /// Hosts of the report folded into block nodes.
    folded: u64,
    /// Edges between blocks made for conversations past [`MAX_CONVERSATIONS`], and the flows put on
    /// them.
    folded_edges: usize,
    folded_flows: u64,
}

impl Default for NetGraph {
    fn default() -> NetGraph {
        NetGraph::with_max_hosts(DEFAULT_MAX_HOSTS)
    }
}

/// The prefix lengths blocks are made of, finest first: (IPv4, IPv6). The last one, a block per
/// address family, only holds conversations folded past [`MAX_CONVERSATIONS`].
const BLOCK_LEVELS: [(u8, u8); 4] = [(24, 48), (16, 32), (8, 16), (0, 0)];

/// The first address of `ip`'s block at a level.
fn block_start(ip: IpAddr, (v4, v6): (u8, u8)) -> (IpAddr, u8) {
    match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4)).unwrap_or(0);
            (IpAddr::V4((u32::from(a) & mask).into()), v4)
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(v6)).unwrap_or(0);
            (IpAddr::V6((u128::from(a) & mask).into()), v6)
        }
    }
}

/// What the model keeps of a finding not on a flow until the end.
#[derive(Debug)]
enum Late {
    /// A finding about a flow: 16 bytes, the tag an index into [`NetGraph::late_tags`] (floods raise
    /// one per flow).
    Flow { id: u64, tag: u32 },
    Host {
        ip: IpAddr,
        tag: u32,
        severity: Severity,
        peers: Vec<IpAddr>,
    },
}

impl NetGraph {
    /// An empty model.
    pub fn new() -> NetGraph {
        NetGraph::default()
    }

    /// An empty model that gives at most `max_hosts` addresses a node of their own (at least 1).
    pub fn with_max_hosts(max_hosts: usize) -> NetGraph {
        NetGraph {
            graph: Graph::default(),
            prefixes: Prefixes::default(),
            nodes: HashMap::new(),
            edges: HashMap::new(),
            tracked: FlowLog::default(),
            untracked: 0,
            untracked_flows: 0,
            late: Vec::new(),
            late_tags: Vec::new(),
            late_tag_index: HashMap::new(),
            internet_macs: HashMap::new(),
            named_gateway: false,
            max_hosts: max_hosts.max(1),
            blocks: HashMap::new(),
            folded: 0,
            folded_edges: 0,
            folded_flows: 0,
        }
    }

    /// The node of `ip`: its own, created when new while there is room, else its block's.
    pub fn node(&mut self, ip: IpAddr) -> NodeIndex {
        if let Some(n) = self.find(ip) {
            return n;
        }
        if self.nodes.len() < self.max_hosts {
            let n = self.graph.add_node(HostNode::new(ip));
            self.nodes.insert(ip, n);
            return n;
        }
        // The finest level that still has room (blocks are bounded like hosts), the coarsest else.
        let level = if self.blocks.len() < self.max_hosts / 2 {
            BLOCK_LEVELS[0]
        } else if self.blocks.len() < self.max_hosts {
            BLOCK_LEVELS[1]
        } else {
            BLOCK_LEVELS[2]
        };
        self.block_node(block_start(ip, level))
    }

    /// The node of the block `key` (first address, prefix length), made when new.
    fn block_node(&mut self, key: (IpAddr, u8)) -> NodeIndex {
        if let Some(&n) = self.blocks.get(&key) {
            return n;
        }
        let mut block = HostNode::new(key.0);
        block.block = Some(key.1);
        block.hosts = 0;
        let n = self.graph.add_node(block);
        self.blocks.insert(key, n);
        n
    }

    /// The node of `ip` (its own or its block's), if the model has it.
    pub fn find(&self, ip: IpAddr) -> Option<NodeIndex> {
        if let Some(&n) = self.nodes.get(&ip) {
            return Some(n);
        }
        if self.blocks.is_empty() {
            return None;
        }
        // Not the last level: a host is never folded into a block of a whole address family.
        BLOCK_LEVELS[..3]
            .iter()
            .find_map(|&level| self.blocks.get(&block_start(ip, level)).copied())
    }

    /// Hosts of the report folded into address blocks (past the bound on hosts with a node).
    pub fn folded_hosts(&self) -> u64 {
        self.folded
    }

    /// Flows counted on edges between address blocks because the capture has more than
    /// [`MAX_CONVERSATIONS`] conversations.
    pub fn folded_flows(&self) -> u64 {
        self.folded_flows
    }

    /// The bound on hosts with a node of their own.
    pub fn max_hosts(&self) -> usize {
        self.max_hosts
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex, class: Class) -> EdgeIndex {
        if let Some(&e) = self.edges.get(&(from, to, class)) {
            return e;
        }
        if self.edges.len() - self.folded_edges >= MAX_CONVERSATIONS {
            return self.folded_edge(from, to, class);
        }
        let e = self.graph.add_edge(from, to, Conversation::new(class));
        self.edges.insert((from, to, class), e);
        e
    }

    /// The edge a new conversation past [`MAX_CONVERSATIONS`] is counted on: between the blocks of
    /// its two ends, /16 (IPv6 /32) while there are few such edges, then /8 (/16), then one block per
    /// address family, so that their number stays bounded too.
    fn folded_edge(&mut self, from: NodeIndex, to: NodeIndex, class: Class) -> EdgeIndex {
        self.folded_flows += 1;
        let level = BLOCK_LEVELS[1 + (self.folded_edges / MAX_FOLDED_EDGES).min(2)];
        let a = self.block_node(block_start(self.graph[from].ip, level));
        let b = self.block_node(block_start(self.graph[to].ip, level));
        if let Some(&e) = self.edges.get(&(a, b, class)) {
            return e;
        }
        self.folded_edges += 1;
        let e = self.graph.add_edge(a, b, Conversation::new(class));
        self.edges.insert((a, b, class), e);
        e
    }

    /// Adds a batch of flows (call it from `Output::consume`).
    pub fn consume(&mut self, flows: &[Flow]) {
        for flow in flows {
            let (class, views) = classify(flow, &mut self.prefixes);
            let from = self.node(flow.client_ip());
            let to = self.node(flow.server_ip());
            let e = self.edge(from, to, class);
            let c = &mut self.graph[e];
            c.views |= views;
            c.flows += 1;
            c.bytes += flow.bytes();
            c.packets += flow.packets();
            c.ports.add(flow.ip_protocol, flow.server.port, 1);
            let files = flow
                .findings
                .iter()
                .filter(|r| Table::of_tag(&r.finding.tag) == Some(Table::Files))
                .count() as u64;
            c.files += files;
            let (first, last) = (flow.first_seen(), flow.last_seen());
            c.first = if c.first == 0 || (first != 0 && first < c.first) {
                first
            } else {
                c.first
            };
            c.last = c.last.max(last);
            if self.tracked.len() < MAX_TRACKED_FLOWS {
                self.tracked.push(Tracked {
                    id: flow.id,
                    bytes: flow.bytes(),
                    edge: e.index() as u32,
                    packets: flow.packets().min(u64::from(u32::MAX)) as u32,
                    port: flow.server.port,
                    proto: flow.ip_protocol,
                    files: files.min(u64::from(u8::MAX)) as u8,
                });
            } else {
                self.untracked_flows += 1;
            }
        }
    }

    /// Takes findings that were not on a flow (late flow findings, host findings) as they come: an
    /// output that streams them ([`pcapxray_plugin_sdk::Output::STREAMS_FINDINGS`]) calls this from
    /// `consume_findings`, so they need not be held until the end.
    pub fn note_findings(&mut self, records: &[FindingRecord]) {
        // A roll-up's findings came on their flows already.
        for record in records.iter().filter(|r| !r.rollup) {
            let f = &record.finding;
            match f.subject {
                Subject::Flow(id) => {
                    let tag = self.intern(&f.tag);
                    for id in std::iter::once(id).chain(f.flows.iter().copied()) {
                        self.late.push(Late::Flow { id, tag });
                    }
                }
                Subject::Host(ip) => {
                    let ip = IpAddr::from(ip);
                    let peers: Vec<IpAddr> = f
                        .attributes
                        .iter()
                        .filter_map(|a| a.value.parse::<IpAddr>().ok())
                        .filter(|p| *p != ip)
                        .collect();
                    let tag = self.intern(&f.tag);
                    self.late.push(Late::Host {
                        ip,
                        tag,
                        severity: f.severity,
                        peers,
                    });
                }
                Subject::Capture => {}
            }
        }
    }

    /// Completes the model at the end of the run: host details from the report, and the findings
    /// raised at the end (flow findings may move a flow to another class; host findings mark the host
    /// and, when an attribute names a peer, the conversations with it). Findings noted before with
    /// [`NetGraph::note_findings`] are applied first, in the order they came.
    pub fn finish(&mut self, report: &Report) {
        self.add_hosts(&report.hosts);
        self.conclude_hosts();
        self.tracked.sort();
        self.note_findings(&report.findings);
        let tags = std::mem::take(&mut self.late_tags);
        self.late_tag_index = HashMap::new();
        for late in std::mem::take(&mut self.late) {
            match late {
                Late::Flow { id, tag } => self.late_flow_finding(id, &tags[tag as usize]),
                Late::Host {
                    ip,
                    tag,
                    severity,
                    peers,
                } => self.host_finding(ip, &tags[tag as usize], severity, &peers),
            }
        }
    }

    /// The index of `tag` in `late_tags`, added when new.
    fn intern(&mut self, tag: &str) -> u32 {
        if let Some(&i) = self.late_tag_index.get(tag) {
            return i;
        }
        let i = self.late_tags.len() as u32;
        self.late_tags.push(tag.to_string());
        self.late_tag_index.insert(tag.to_string(), i);
        i
    }

    /// The flows of each conversation (by flow id, ascending), after [`NetGraph::finish`]: the class
    /// and views every flow ended up with, for a page that shows flows in the diagrams' colours without
    /// deciding them again. Conversations left without flows are skipped; flows past
    /// [`MAX_TRACKED_FLOWS`] are not listed (see [`NetGraph::untracked_flows`]).
    pub fn flows_by_conversation(&self) -> Vec<(EdgeIndex, Vec<u64>)> {
        let mut by_edge: HashMap<u32, Vec<u64>> = HashMap::new();
        for t in self.tracked.iter() {
            by_edge.entry(t.edge).or_default().push(t.id);
        }
        let mut out: Vec<(EdgeIndex, Vec<u64>)> = by_edge
            .into_iter()
            .map(|(e, mut ids)| {
                ids.sort_unstable();
                (EdgeIndex::new(e as usize), ids)
            })
            .collect();
        out.sort_unstable_by_key(|(e, _)| e.index());
        out
    }

    /// Flows the model saw but could not remember (past [`MAX_TRACKED_FLOWS`]).
    pub fn untracked_flows(&self) -> u64 {
        self.untracked_flows
    }

    /// Late findings about flows the model could not track (past [`MAX_TRACKED_FLOWS`]).
    pub fn untracked_late_findings(&self) -> u64 {
        self.untracked
    }

    fn late_flow_finding(&mut self, id: u64, tag: &str) {
        let Some(i) = self.tracked.find(id) else {
            self.untracked += 1;
            return;
        };
        let t = *self.tracked.get_mut(i);
        let (class, bits) = tag_bits(tag, &mut self.prefixes);
        let old = EdgeIndex::new(t.edge as usize);
        let current = self.graph[old].class;
        let target = match class {
            Some(c) if c < current => {
                let Some((from, to)) = self.graph.edge_endpoints(old) else {
                    return;
                };
                let moved = self.graph[old].views;
                let c_old = &mut self.graph[old];
                c_old.flows = c_old.flows.saturating_sub(1);
                c_old.bytes = c_old.bytes.saturating_sub(t.bytes);
                c_old.packets = c_old.packets.saturating_sub(u64::from(t.packets));
                c_old.ports.remove(t.proto, t.port);
                c_old.files = c_old.files.saturating_sub(u64::from(t.files));
                let new = self.edge(from, to, c);
                let (first, last) = (self.graph[old].first, self.graph[old].last);
                let c_new = &mut self.graph[new];
                c_new.flows += 1;
                c_new.bytes += t.bytes;
                c_new.packets += u64::from(t.packets);
                c_new.ports.add(t.proto, t.port, 1);
                c_new.files += u64::from(t.files);
                c_new.views |= moved;
                if c_new.first == 0 {
                    c_new.first = first;
                }
                c_new.last = c_new.last.max(last);
                self.tracked.get_mut(i).edge = new.index() as u32;
                new
            }
            _ => old,
        };
        self.graph[target].views |= bits;
        if Table::of_tag(tag) == Some(Table::Files) {
            self.graph[target].files += 1;
            let t = self.tracked.get_mut(i);
            t.files = t.files.saturating_add(1);
        }
    }

    fn host_finding(&mut self, ip: IpAddr, tag: &str, severity: Severity, peers: &[IpAddr]) {
        let Some(n) = self.find(ip) else {
            return;
        };
        let (_, bits) = tag_bits(tag, &mut self.prefixes);
        let host = &mut self.graph[n];
        if !host.findings.iter().any(|t| t == tag) && host.findings.len() < MAX_PER_HOST {
            host.findings.push(tag.to_string());
        }
        if severity > Severity::Info && host.severity.is_none_or(|s| severity > s) {
            host.severity = Some(severity);
        }
        for peer in peers {
            let Some(p) = self.find(*peer) else { continue };
            let edges: Vec<EdgeIndex> = self
                .graph
                .edges_connecting(n, p)
                .chain(self.graph.edges_connecting(p, n))
                .map(|e| petgraph::visit::EdgeRef::id(&e))
                .collect();
            for e in edges {
                self.graph[e].views |= bits;
            }
        }
    }

    /// Fills in what the report knows about each host; hosts without conversations become lone nodes
    /// (shown in the `all` view only). An output that streams hosts ([`pcapxray_plugin_sdk::Output::STREAMS_HOSTS`])
    /// calls this from `consume_hosts`; otherwise [`NetGraph::finish`] does, with `report.hosts`.
    pub fn add_hosts(&mut self, hosts: &[HostInfo]) {
        for h in hosts {
            // For the router's MAC: see `conclude_hosts`. Bounded like the nodes.
            if !IpClass::of(h.ip.into()).is_local() {
                for m in &h.macs {
                    if self.internet_macs.len() < self.max_hosts
                        || self.internet_macs.contains_key(m)
                    {
                        *self.internet_macs.entry(*m).or_default() += 1;
                    }
                }
            }
            let ip: IpAddr = h.ip.into();
            let n = self.node(ip);
            let node = &mut self.graph[n];
            if node.block.is_some() {
                // A folded host: counted, its traffic summed, its details left out.
                node.hosts += 1;
                node.bytes += h.bytes_sent + h.bytes_received;
                node.packets += h.packets_sent + h.packets_received;
                self.folded += 1;
                continue;
            }
            node.macs = h.macs.iter().copied().take(MAX_PER_HOST).collect();
            node.bytes = h.bytes_sent + h.bytes_received;
            node.packets = h.packets_sent + h.packets_received;
            let mut names: Vec<String> = Vec::new();
            let mut dhcp: Vec<String> = Vec::new();
            for note in &h.notes {
                let value = note.value.trim();
                if value.is_empty() {
                    continue;
                }
                match note.key.as_str() {
                    names::host::NAME => push_distinct(&mut names, value),
                    names::dhcp::HOSTNAME => push_distinct(&mut dhcp, value),
                    names::host::VENDOR if node.vendor.is_none() => {
                        node.vendor = Some(value.to_string())
                    }
                    names::host::OS if node.os.is_none() => node.os = Some(value.to_string()),
                    names::host::DEVICE => {
                        let v = value.to_ascii_lowercase();
                        if v.contains("gateway") || v.contains("router") {
                            push_distinct(&mut node.tags, "gateway");
                            self.named_gateway = true;
                        }
                    }
                    names::tor::RELAY => {
                        let tag = format!("Tor relay {value}");
                        if !node.is_tor_relay() {
                            push_distinct(&mut node.tags, &tag);
                        }
                    }
                    _ => {}
                }
            }
            for d in dhcp {
                push_distinct(&mut names, &d);
            }
            node.names = names;
        }
    }

    /// Once every host is in: when no analyzer (`devices`) named the gateway, the local addresses of
    /// the router's MAC are marked as the gateway. The router's MAC is the one the internet's packets
    /// arrive from: the MAC with the most internet addresses (at least 2, and at least half the top
    /// count, so that a machine's own global IPv6 addresses do not make it a router).
    fn conclude_hosts(&mut self) {
        let per_mac = std::mem::take(&mut self.internet_macs);
        if self.named_gateway {
            return;
        }
        let top = per_mac.values().copied().max().unwrap_or(0);
        let router: HashSet<u64> = per_mac
            .into_iter()
            .filter(|&(_, n)| n >= 2 && 2 * n >= top)
            .map(|(m, _)| m)
            .collect();
        if router.is_empty() {
            return;
        }
        for n in self.graph.node_indices() {
            let node = &mut self.graph[n];
            if node.local
                && matches!(IpClass::of(node.ip), IpClass::Private | IpClass::LinkLocal)
                && node.macs.iter().any(|m| router.contains(m))
            {
                push_distinct(&mut node.tags, "gateway");
            }
        }
    }
}

fn push_distinct(list: &mut Vec<String>, value: &str) {
    if list.len() < MAX_PER_HOST && !list.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        list.push(value.to_string());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pcapxray_plugin_sdk::{
        CaptureInfo, Direction, Finding, FindingRecord, HostNote, IpAddress, Protocol,
    };

    pub fn flow(
        id: u64,
        client: &str,
        server: &str,
        proto: Protocol,
        port: u16,
        tags: &[&str],
    ) -> Flow {
        let dir = |bytes| Direction {
            packets: 2,
            bytes,
            payload_bytes: 0,
            first_seen: 1_000_000_000 * id,
            last_seen: 1_000_000_000 * id + 5,
            tcp_flags: 0,
            ttl: 64,
            payload: Vec::new(),
            datagrams: Vec::new(),
            payload_truncated: false,
        };
        let mut flow =
            pcapxray_plugin_sdk::testing::FlowBuilder::new(proto, (client, 50000), (server, port))
                .id(id)
                .macs(Some(0x3c22fb000001), Some(0x00146c000001))
                .to_server(dir(100))
                .to_client(dir(400));
        if proto == Protocol::Other {
            flow = flow.ip_protocol(47);
        }
        for t in tags {
            flow = flow.finding(FindingRecord {
                stage: "test".into(),
                finding: Finding::on_flow(id, *t, Severity::Info),
                rollup: false,
            });
        }
        flow.build()
    }

    pub fn host(ip: &str, mac: u64, notes: &[(&str, &str)]) -> HostInfo {
        HostInfo {
            ip: ip.parse::<IpAddr>().unwrap().into(),
            macs: vec![mac],
            first_seen: 1,
            last_seen: 2,
            packets_sent: 3,
            packets_received: 4,
            bytes_sent: 500,
            bytes_received: 600,
            seen_in_arp: false,
            notes: notes
                .iter()
                .map(|(k, v)| HostNote {
                    stage: "test".into(),
                    key: k.to_string(),
                    value: v.to_string(),
                    observed: None,
                })
                .collect(),
        }
    }

    pub fn report(hosts: Vec<HostInfo>, findings: Vec<Finding>) -> Report {
        Report {
            capture: CaptureInfo {
                file: "test.pcap".into(),
                size: 1,
                sha256: "00".into(),
                format: "pcap".into(),
                format_details: "little-endian, microsecond".into(),
                link_types: vec!["ETHERNET (1)".into()],
                packets: 10,
                bytes: 1000,
                first_packet: 1_000_000_000,
                last_packet: 9_000_000_000,
                packet_fates: Vec::new(),
                timestamp_anomalies: Vec::new(),
                read_error: None,
                flows: 3,
            },
            hosts,
            findings: findings
                .into_iter()
                .map(|finding| FindingRecord {
                    stage: "late".into(),
                    finding,
                    rollup: false,
                })
                .collect(),
            plugins: Vec::new(),
            queries: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn ip(s: &str) -> IpAddress {
        s.parse::<IpAddr>().unwrap().into()
    }

    #[test]
    fn hosts_past_the_bound_are_folded_into_their_blocks_and_counted() {
        let mut g = NetGraph::with_max_hosts(3);
        let mut flows = Vec::new();
        let mut hosts = vec![host("192.168.1.10", 1, &[])];
        for i in 1..=6u64 {
            let client = format!("203.0.113.{i}");
            flows.push(flow(i, &client, "192.168.1.10", Protocol::Udp, 53, &[]));
            hosts.push(host(&client, 2, &[]));
        }
        g.consume(&flows);
        // 192.168.1.10, 203.0.113.1 and .2 are nodes; .3 to .6 share the block node 203.0.113.0/24.
        assert_eq!(g.graph.node_count(), 4);
        hosts.sort_by_key(|h| IpAddr::from(h.ip));
        g.finish(&report(hosts, vec![]));
        assert_eq!(g.folded_hosts(), 4);
        let block = g.find("203.0.113.6".parse().unwrap()).unwrap();
        assert_eq!(g.graph[block].address(), "203.0.113.0/24");
        assert_eq!(g.graph[block].weight(), 4);
        // The flows add up: 6 flows on 3 edges, 4 of them on the block's.
        let flows: Vec<u64> = g.graph.edge_weights().map(|c| c.flows).collect();
        assert_eq!(flows.iter().sum::<u64>(), 6);
        assert!(flows.contains(&4));
        // A view counts the hosts a block stands for.
        let view = crate::View::build(&g, "all", 0, &Default::default());
        assert_eq!(view.hosts, 7);
    }

    #[test]
    fn conversations_past_the_bound_are_counted_between_address_blocks() {
        // Every address a node of its own: only the conversations' bound folds.
        let mut g = NetGraph::with_max_hosts(1 << 20);
        let n = MAX_CONVERSATIONS as u64 + 5000;
        let flows: Vec<Flow> = (0..n)
            .map(|i| {
                let client = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
                flow(i, &client, "8.8.8.8", Protocol::Udp, 53, &["dns"])
            })
            .collect();
        for batch in flows.chunks(512) {
            g.consume(batch);
        }
        // A second flow of a kept conversation stays on its own edge.
        g.consume(&[flow(n, "10.0.0.0", "8.8.8.8", Protocol::Udp, 53, &["dns"])]);
        let mut hosts: Vec<HostInfo> = flows
            .iter()
            .map(|f| host(&f.client_ip().to_string(), 1, &[]))
            .collect();
        hosts.push(host("8.8.8.8", 2, &[]));
        g.finish(&report(hosts, vec![]));
        assert_eq!(g.folded_flows(), 5000);
        let live: Vec<&Conversation> = g.graph.edge_weights().filter(|c| c.flows > 0).collect();
        // 16,384 conversations of their own, and one edge from 10.0.0.0/16 to 8.8.0.0/16.
        assert_eq!(live.len(), MAX_CONVERSATIONS + 1);
        assert_eq!(live.iter().map(|c| c.flows).sum::<u64>(), n + 1);
        let block = g.blocks[&block_start("10.0.0.0".parse().unwrap(), (16, 32))];
        assert_eq!(g.graph[block].address(), "10.0.0.0/16");
        // The clients after the bound have no node of their own: the block stands for them.
        assert_eq!(g.graph[block].weight(), 5000 - 1);
        assert_eq!(g.folded_hosts(), 5000 - 1);
        // 8.8.8.8 keeps its node: its block only carries the folded conversations.
        let server_block = g.blocks[&block_start("8.8.0.0".parse().unwrap(), (16, 32))];
        assert_eq!(g.graph[server_block].weight(), 0);
        // Every host is counted once: 21,384 clients and 8.8.8.8.
        let view = crate::View::build(&g, "all", 0, &Default::default());
        assert_eq!(view.hosts as u64, n + 1);
    }

    #[test]
    fn conversations_aggregate_per_pair_and_class() {
        let mut g = NetGraph::new();
        g.consume(&[
            flow(1, "192.168.0.5", "8.8.8.8", Protocol::Udp, 53, &["dns"]),
            flow(2, "192.168.0.5", "8.8.8.8", Protocol::Udp, 53, &["dns"]),
            flow(
                3,
                "192.168.0.5",
                "8.8.8.8",
                Protocol::Tcp,
                443,
                &["web.https"],
            ),
            flow(
                4,
                "192.168.0.5",
                "8.8.8.8",
                Protocol::Tcp,
                8443,
                &["web.https"],
            ),
        ]);
        assert_eq!(g.graph.node_count(), 2);
        assert_eq!(g.graph.edge_count(), 2);
        let dns = g
            .graph
            .edge_weights()
            .find(|c| c.class == Class::Dns)
            .unwrap();
        assert_eq!((dns.flows, dns.bytes), (2, 1000));
        assert_eq!(dns.ports.top(), vec![("udp/53".to_string(), 2)]);
        let https = g
            .graph
            .edge_weights()
            .find(|c| c.class == Class::Https)
            .unwrap();
        assert_eq!(https.ports.distinct(), 2);
    }

    #[test]
    fn an_edge_counts_the_files_that_went_over_it_and_says_so_in_its_label() {
        let mut g = NetGraph::new();
        g.consume(&[
            flow(
                1,
                "192.168.0.5",
                "10.0.0.9",
                Protocol::Tcp,
                21,
                &["files.ftp", "files.ftp"],
            ),
            flow(2, "192.168.0.5", "10.0.0.9", Protocol::Tcp, 21, &[]),
            flow(3, "192.168.0.5", "8.8.8.8", Protocol::Udp, 53, &["dns"]),
        ]);
        g.note_findings(&[FindingRecord {
            stage: "files".into(),
            finding: Finding::on_flow(2, "files.ftp", Severity::Info),
            rollup: false,
        }]);
        // A late finding moves flow 1 (and its two files) to the suspicious edge.
        g.note_findings(&[FindingRecord {
            stage: "suspicious".into(),
            finding: Finding::on_flow(1, "suspicious", Severity::Medium),
            rollup: false,
        }]);
        g.finish(&report(Vec::new(), Vec::new()));
        let view = crate::View::build(
            &g,
            "all",
            crate::view_bits(&g, "all").unwrap(),
            &crate::ViewOptions::default(),
        );
        let labels: Vec<String> = view.edges.iter().map(|e| e.label()).collect();
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with("suspicious") && l.ends_with(", \u{1f4ce} 2 files")),
            "{labels:?}"
        );
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with("other") && l.ends_with(", \u{1f4ce} 1 file")),
            "{labels:?}"
        );
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with("dns") && !l.contains("file"))
        );
        let svg = crate::to_svg(&view, "t.pcap", "");
        assert!(
            svg.contains("data-files=\"2\"") && svg.contains("data-files=\"1\""),
            "the SVG edges say how many files"
        );
        let dot = crate::to_dot(&view, "t.pcap");
        assert!(dot.contains("2 files") && dot.contains("1 file\""), "{dot}");
    }

    fn late_findings_model() -> (NetGraph, Vec<Flow>, Report) {
        let flows = vec![
            flow(
                7,
                "192.168.0.5",
                "203.0.113.9",
                Protocol::Tcp,
                443,
                &["web.https"],
            ),
            flow(
                8,
                "192.168.0.5",
                "203.0.113.9",
                Protocol::Tcp,
                443,
                &["web.https"],
            ),
            flow(9, "192.168.0.5", "198.51.100.1", Protocol::Tcp, 8080, &[]),
        ];
        let report = report(
            vec![
                host(
                    "192.168.0.5",
                    0x3c22fb000001,
                    &[("vendor", "Apple, Inc."), ("os", "macOS")],
                ),
                host("192.168.0.1", 0x00146c000001, &[]),
                host(
                    "203.0.113.9",
                    0x00146c000001,
                    &[
                        ("name", "www.example.com"),
                        ("name", "WWW.EXAMPLE.COM"),
                        ("dhcp.hostname", "x"),
                    ],
                ),
                host("198.51.100.1", 0x00146c000001, &[("tor.relay", "moria1")]),
                // The client's own global IPv6 address: not a second router.
                host("2001:db8::5", 0x3c22fb000001, &[]),
            ],
            vec![
                Finding::on_flow(8, "suspicious", Severity::Medium),
                Finding::on_flow(12345, "suspicious", Severity::Medium),
                Finding::on_host(ip("192.168.0.5"), "beacon", Severity::Medium)
                    .attr("beacon.server", "198.51.100.1"),
            ],
        );
        (NetGraph::new(), flows, report)
    }

    fn check_late_findings(g: &NetGraph) {
        assert_eq!(g.untracked_late_findings(), 1);
        let by_class = |c: Class| {
            g.graph
                .edge_weights()
                .find(|e| e.class == c && e.flows > 0)
                .cloned()
        };
        assert_eq!(by_class(Class::Https).unwrap().flows, 1);
        let sus = by_class(Class::Suspicious).unwrap();
        assert_eq!(sus.flows, 1);
        assert!(
            sus.views & crate::class::VIEW_HTTPS != 0,
            "keeps its web views"
        );
        let beacon = g.prefixes.get("beacon").unwrap();
        assert!(by_class(Class::Other).unwrap().views & beacon != 0);
        let client = &g.graph[g.find("192.168.0.5".parse().unwrap()).unwrap()];
        assert_eq!(client.vendor.as_deref(), Some("Apple, Inc."));
        assert_eq!(client.severity, Some(Severity::Medium));
        assert_eq!(client.findings, vec!["beacon"]);
        let server = &g.graph[g.find("203.0.113.9".parse().unwrap()).unwrap()];
        assert_eq!(server.names, vec!["www.example.com", "x"]);
        let gw = &g.graph[g.find("192.168.0.1".parse().unwrap()).unwrap()];
        assert!(gw.is_gateway());
        assert!(!client.is_gateway());
        let relay = &g.graph[g.find("198.51.100.1".parse().unwrap()).unwrap()];
        assert!(relay.is_tor_relay());
    }

    #[test]
    fn late_findings_move_flows_and_mark_peers() {
        let (mut g, flows, report) = late_findings_model();
        g.consume(&flows);
        g.finish(&report);
        check_late_findings(&g);
    }

    #[test]
    fn streamed_findings_and_hosts_give_the_same_model() {
        let (mut g, flows, mut report) = late_findings_model();
        let findings = std::mem::take(&mut report.findings);
        // As the host streams them: after the batch they follow, interleaved with later batches.
        g.consume(&flows[..2]);
        g.note_findings(&findings[..1]);
        g.consume(&flows[2..]);
        g.note_findings(&findings[1..]);
        // Hosts too: in two batches, before `finish`.
        let hosts = std::mem::take(&mut report.hosts);
        g.add_hosts(&hosts[..2]);
        g.add_hosts(&hosts[2..]);
        g.finish(&report);
        check_late_findings(&g);
    }
}
