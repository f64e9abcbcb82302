//! A view as Graphviz DOT, built with graphviz-rust's DOT model and printed by its printer: the file
//! investigators open in their own tools, and what the `graphviz` capability lays out when the user has
//! Graphviz. Local hosts and internet hosts sit in two clusters, a legend cluster explains the colours,
//! and every label is escaped (host names come from the capture).

use super::class::Class;
use super::text::{escape_xml, quote_dot};
use super::view::View;
use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph, GraphAttributes, Id, Node, NodeId, Stmt, Subgraph, Vertex,
};
use graphviz_rust::printer::{DotPrinter, PrinterContext};

/// Fill of local-network hosts.
pub const LAN_FILL: &str = "#e8f5e9";
/// Fill of internet hosts.
pub const INTERNET_FILL: &str = "#e3eefc";
/// Fill of grouped hosts.
pub const GROUP_FILL: &str = "#fff4d6";
/// Border of hosts with medium or high findings.
pub const FLAGGED_BORDER: &str = "#d62828";
/// Border of Tor relays.
pub const TOR_BORDER: &str = "#7b2cbf";
/// Border of other hosts.
pub const BORDER: &str = "#555555";

fn plain(s: &str) -> Id {
    Id::Plain(s.to_string())
}

fn esc(s: &str) -> Id {
    Id::Escaped(quote_dot(s))
}

fn attr(key: &str, value: Id) -> Attribute {
    Attribute(plain(key), value)
}

/// Node fill, border colour and border width of a view node.
pub fn node_style(node: &super::view::ViewNode) -> (&'static str, &'static str, u32) {
    let fill = if node.members > 1 {
        GROUP_FILL
    } else if node.local {
        LAN_FILL
    } else {
        INTERNET_FILL
    };
    let border = if node.flagged {
        FLAGGED_BORDER
    } else if node.tor_relay {
        TOR_BORDER
    } else {
        BORDER
    };
    let width = if node.gateway || node.flagged || node.tor_relay {
        2
    } else {
        1
    };
    (fill, border, width)
}

/// The text under the title: the view, its size, and any grouping.
pub fn caption(view: &View) -> String {
    let mut text = format!(
        "view {}: {} hosts as {} nodes, {} edges",
        view.name,
        view.hosts,
        view.nodes.len(),
        view.edges.len()
    );
    if let Some(g) = &view.grouping {
        text.push_str(&format!("; {g}"));
    }
    text
}

fn legend() -> Stmt {
    let mut rows = String::new();
    for class in Class::ALL {
        rows.push_str(&format!(
            "<tr><td align=\"left\"><font color=\"{}\"><b>&#9472;&#9472;&#9472; {}</b></font></td><td align=\"left\">{}</td></tr>",
            class.color(),
            class.as_str(),
            escape_xml(class.description())
        ));
    }
    for (fill, border, text) in [
        (LAN_FILL, BORDER, "local-network host"),
        (INTERNET_FILL, BORDER, "internet host"),
        (GROUP_FILL, BORDER, "group of hosts (count in label)"),
        ("white", FLAGGED_BORDER, "host with medium/high findings"),
        ("white", TOR_BORDER, "Tor relay"),
    ] {
        rows.push_str(&format!(
            "<tr><td bgcolor=\"{fill}\" border=\"1\" color=\"{border}\">&#160;</td><td align=\"left\">{text}</td></tr>"
        ));
    }
    rows.push_str(
        "<tr><td align=\"left\"><b>bold edge</b></td><td align=\"left\">also flagged suspicious</td></tr>",
    );
    let table = format!("<<table border=\"0\" cellspacing=\"2\" cellpadding=\"2\">{rows}</table>>");
    Stmt::Subgraph(Subgraph {
        id: plain("cluster_legend"),
        stmts: vec![
            Stmt::Attribute(attr("label", esc("Legend"))),
            Stmt::Attribute(attr("color", esc("#bbbbbb"))),
            Stmt::Node(Node::new(
                NodeId(plain("legend"), None),
                vec![
                    attr("shape", plain("plaintext")),
                    attr("style", esc("")),
                    attr("label", Id::Html(table)),
                ],
            )),
        ],
    })
}

/// The DOT text of `view`; `title` names the capture.
pub fn to_dot(view: &View, title: &str) -> String {
    let mut stmts = vec![
        Stmt::GAttribute(GraphAttributes::Graph(vec![
            attr(
                "label",
                esc(&format!("{title}\n{}", caption(view).replace("; ", "\n"))),
            ),
            attr("labelloc", plain("t")),
            attr("rankdir", plain("LR")),
            attr("fontname", esc("Helvetica,Arial,sans-serif")),
            attr("fontsize", plain("12")),
            attr("nodesep", plain("0.25")),
            attr("ranksep", plain("1.2")),
        ])),
        Stmt::GAttribute(GraphAttributes::Node(vec![
            attr("shape", plain("box")),
            attr("style", esc("rounded,filled")),
            attr("fontname", esc("Helvetica,Arial,sans-serif")),
            attr("fontsize", plain("10")),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            attr("fontname", esc("Helvetica,Arial,sans-serif")),
            attr("fontsize", plain("9")),
            attr("arrowsize", plain("0.7")),
        ])),
        legend(),
    ];
    for (local, id, label) in [
        (true, "cluster_lan", "Local network"),
        (false, "cluster_internet", "Internet"),
    ] {
        let members: Vec<Stmt> = view
            .nodes
            .iter()
            .filter(|n| n.local == local)
            .map(|n| {
                let (fill, border, width) = node_style(n);
                Stmt::Node(Node::new(
                    NodeId(plain(&n.id), None),
                    vec![
                        attr("label", esc(&n.label())),
                        attr("fillcolor", esc(fill)),
                        attr("color", esc(border)),
                        attr("penwidth", plain(&width.to_string())),
                        attr("tooltip", esc(&n.tooltip)),
                    ],
                ))
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        let mut sub = vec![
            Stmt::Attribute(attr(
                "label",
                esc(&format!("{label} ({} nodes)", members.len())),
            )),
            Stmt::Attribute(attr("style", esc("rounded,dashed"))),
            Stmt::Attribute(attr("color", esc("#999999"))),
        ];
        sub.extend(members);
        stmts.push(Stmt::Subgraph(Subgraph {
            id: plain(id),
            stmts: sub,
        }));
    }
    for e in &view.edges {
        let (Some(from), Some(to)) = (view.nodes.get(e.from), view.nodes.get(e.to)) else {
            continue;
        };
        let color = e.class.color();
        let mut attributes = vec![
            attr("label", esc(&e.label())),
            attr("color", esc(color)),
            attr("fontcolor", esc(color)),
            attr("tooltip", esc(&e.tooltip(&view.nodes))),
        ];
        if e.flagged() {
            attributes.push(attr("style", plain("bold")));
            attributes.push(attr("penwidth", plain("2")));
        }
        stmts.push(Stmt::Edge(Edge {
            ty: EdgeTy::Pair(
                Vertex::N(NodeId(plain(&from.id), None)),
                Vertex::N(NodeId(plain(&to.id), None)),
            ),
            attributes,
        }));
    }
    let graph = Graph::DiGraph {
        id: esc(&format!("pcapxray {}", view.name)),
        strict: false,
        stmts,
    };
    let mut ctx = PrinterContext::default();
    // One statement per line, whatever its length: the DOT file is also read by people and diffed.
    ctx.with_inline_size(usize::MAX / 2);
    let mut text = graph.print(&mut ctx);
    text.push('\n');
    text
}
