//! The built-in SVG renderer: diagrams without Graphviz, inside the sandbox. layout-rs (pure Rust, a
//! Sugiyama-style layered layout) places the hosts and routes the edges; this module draws the result.
//!
//! Why not layout-rs's own SVG writer: its edge drawing asserts on degenerate geometry (two route
//! points falling on the same spot, about one graph in 5,000 in a fuzz run) and a panic in a WASI
//! plugin aborts the whole plugin. So only layout-rs's public lowering and placement steps run here;
//! the routes are read back from its layered graph and drawn with arithmetic that cannot fail. Drawing
//! ourselves also gives every node and edge an id, a class, a `<title>` tooltip and `data-*`
//! attributes (tests and scripts read them; screen readers read the `aria-label`s), and ids prefixed per
//! diagram so several diagrams can be inlined in one HTML page.

use super::class::Class;
use super::dot::{caption, node_style};
use super::text::escape_xml;
use super::view::View;
use layout::adt::dag::NodeHandle;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::Visible;
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use layout::topo::placer::Placer;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt};
use std::cell::Cell;
use std::fmt::Write;

const FONT: &str = "Helvetica, Arial, sans-serif";
/// Width of a character of the 10 px node font, generously.
const CHAR_W: f64 = 6.2;
/// Height of a label line.
const LINE_H: f64 = 13.0;
/// Width of a character of the 9 px edge-label font.
const LABEL_CHAR_W: f64 = 5.0;
const MARGIN: f64 = 20.0;
/// Views with more nodes plus edges than this are laid out without layout-rs's edge-crossing
/// reduction (which takes seconds past it).
pub const OPTIMIZE_LIMIT: usize = 200;

/// The crossing reduction one plugin instance may do, counted per optimized view as the cube of its
/// nodes plus edges (its cost grows about so: a view of 40 nodes and 40 edges takes 0.25 s in the
/// sandbox). The first view drawn is always optimized (under [`OPTIMIZE_LIMIT`]); later ones while
/// some of this remains. So the forty drill-down diagrams of a flood do not take a quarter of a
/// second each (a 40,000-packet MAC flood spent 5 s drawing them), and the same capture still gets
/// the same drawings, unlike a time limit. The views of an ordinary capture stay far below it.
pub const CROSSING_BUDGET: u64 = 2_000_000;

thread_local! {
    static CROSSING_LEFT: Cell<u64> = const { Cell::new(CROSSING_BUDGET) };
    static CROSSING_SKIPPED: Cell<usize> = const { Cell::new(0) };
}

/// Whether a view of `size` nodes plus edges gets crossing reduction, taking it from the budget.
fn crossing_reduction(size: usize) -> bool {
    if size > OPTIMIZE_LIMIT {
        return false;
    }
    let granted = CROSSING_LEFT.with(|left| {
        let l = left.get();
        left.set(l.saturating_sub((size as u64).pow(3)));
        l > 0
    });
    if !granted {
        CROSSING_SKIPPED.with(|n| n.set(n.get() + 1));
    }
    granted
}

/// How many views small enough for crossing reduction were drawn without it because
/// [`CROSSING_BUDGET`] was spent (for the plugin's log).
pub fn views_without_crossing_reduction() -> usize {
    CROSSING_SKIPPED.with(Cell::get)
}

/// Renders `view` as a standalone SVG document. `title` names the capture; `id_prefix` starts every
/// `id` in the document (use a different one per diagram when several share an HTML page).
pub fn to_svg(view: &View, title: &str, id_prefix: &str) -> String {
    to_svg_linked(view, title, id_prefix, &[]).0
}

/// [`to_svg`] with a link per node (`links[i]` for `view.nodes[i]`, relative URLs such as
/// `all/n3.svg`; missing or `None`: no link), and the document's width and height in pixels.
pub fn to_svg_linked(
    view: &View,
    title: &str,
    id_prefix: &str,
    links: &[Option<String>],
) -> (String, f64, f64) {
    let layout = place(view);
    document(
        view,
        title,
        id_prefix,
        layout.as_ref(),
        "No conversations to draw in this view.",
        links,
    )
}

/// An SVG document for `view` that says why it was not laid out (`reason`), for when the time
/// budget of the run is spent ([`super::LAYOUT_BUDGET_MS`]). The DOT file still has the whole view.
pub fn to_svg_unplaced(view: &View, title: &str, id_prefix: &str, reason: &str) -> String {
    document(view, title, id_prefix, None, reason, &[]).0
}

fn document(
    view: &View,
    title: &str,
    id_prefix: &str,
    layout: Option<&Placed>,
    empty: &str,
    links: &[Option<String>],
) -> (String, f64, f64) {
    let cap = caption(view);
    // The caption's parts on their own lines: the view, then each grouping note.
    let lines: Vec<&str> = cap.split("; ").collect();
    let extra = (lines.len() - 1) as f64 * 15.0;
    let mut body = String::new();
    let (dw, dh) = match layout {
        Some(l) => (l.width, l.height),
        None => (360.0, 40.0),
    };
    let width = (dw + 2.0 * MARGIN).max(LEGEND_W + 2.0 * MARGIN);
    let legend_h = LEGEND_ROWS as f64 * 17.0 + 26.0;
    let top = 54.0 + extra + legend_h;
    let height = top + dh + MARGIN;
    let p = escape_xml(id_prefix);
    let _ = writeln!(
        body,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{p}title {p}desc\" class=\"pcapxray-graph\" font-family=\"{FONT}\">",
        w = num(width),
        h = num(height),
    );
    let _ = write!(
        body,
        "<title id=\"{p}title\">{}</title>\n<desc id=\"{p}desc\">{}</desc>\n",
        escape_xml(&format!("{title}: {cap}")),
        escape_xml(
            "Network diagram: each box is a host or a group of hosts, each arrow the conversations of one traffic class from client to server, coloured by class and labelled with ports and flow count."
        )
    );
    body.push_str("<defs>");
    for class in Class::ALL {
        let _ = write!(
            body,
            "<marker id=\"{p}arrow-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker>",
            class.as_str(),
            class.color()
        );
    }
    body.push_str("</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let _ = writeln!(
        body,
        "<text x=\"{m}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape_xml(title),
        m = num(MARGIN)
    );
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#333333\">{}</text>",
            num(MARGIN),
            num(40.0 + i as f64 * 15.0),
            escape_xml(line)
        );
    }
    legend(&mut body, MARGIN, 50.0 + extra);
    let _ = writeln!(
        body,
        "<g class=\"diagram\" transform=\"translate({},{})\">",
        num(MARGIN),
        num(top)
    );
    match layout {
        Some(l) => draw(&mut body, view, l, &p, links),
        None => {
            let _ = write!(
                body,
                "<text x=\"0\" y=\"20\" font-size=\"12\" fill=\"#555555\">{}</text>",
                escape_xml(empty)
            );
        }
    }
    body.push_str("</g>\n</svg>\n");
    (body, width, height)
}

const LEGEND_ROWS: usize = 5;
const LEGEND_COL: f64 = 300.0;
const LEGEND_W: f64 = 900.0;

fn legend(out: &mut String, x: f64, y: f64) {
    out.push_str("<g class=\"legend\" font-size=\"10\">");
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#bbbbbb\" rx=\"4\"/>",
        num(x),
        num(y),
        num(LEGEND_W),
        num(LEGEND_ROWS as f64 * 17.0 + 12.0)
    );
    let mut items: Vec<String> = Vec::new();
    for class in Class::ALL {
        items.push(format!(
            "<line x1=\"0\" y1=\"-3\" x2=\"22\" y2=\"-3\" stroke=\"{c}\" stroke-width=\"2\"/><text x=\"28\" y=\"0\" fill=\"{c}\" font-weight=\"bold\">{}</text><text x=\"92\" y=\"0\">{}</text>",
            class.as_str(),
            escape_xml(class.description()),
            c = class.color()
        ));
    }
    for (fill, border, text) in [
        (
            super::dot::LAN_FILL,
            super::dot::BORDER,
            "local-network host",
        ),
        (
            super::dot::INTERNET_FILL,
            super::dot::BORDER,
            "internet host",
        ),
        (
            super::dot::GROUP_FILL,
            super::dot::BORDER,
            "group of hosts (count in label)",
        ),
        (
            "white",
            super::dot::FLAGGED_BORDER,
            "host with medium/high findings",
        ),
        ("white", super::dot::TOR_BORDER, "Tor relay"),
    ] {
        items.push(format!(
            "<rect x=\"0\" y=\"-10\" width=\"22\" height=\"12\" rx=\"3\" fill=\"{fill}\" stroke=\"{border}\" stroke-width=\"1.5\"/><text x=\"28\" y=\"0\">{text}</text>"
        ));
    }
    items.push(
        "<line x1=\"0\" y1=\"-3\" x2=\"22\" y2=\"-3\" stroke=\"#555555\" stroke-width=\"3\"/><text x=\"28\" y=\"0\">bold edge: also flagged suspicious</text>".to_string(),
    );
    for (i, item) in items.iter().enumerate() {
        let col = i / LEGEND_ROWS;
        let row = i % LEGEND_ROWS;
        let _ = write!(
            out,
            "<g transform=\"translate({},{})\">{item}</g>",
            num(x + 10.0 + col as f64 * LEGEND_COL),
            num(y + 20.0 + row as f64 * 17.0)
        );
    }
    out.push_str("</g>\n");
}

/// Where layout-rs put things, shifted so the diagram starts at (0, 0).
struct Placed {
    /// Per view node: top-left corner and size.
    boxes: Vec<(Point, Point)>,
    /// Per view edge: route points from the client's border to the server's border, and where the
    /// label goes.
    routes: Vec<(Vec<Point>, Point)>,
    width: f64,
    height: f64,
}

fn label_size(lines: &[String]) -> Point {
    let chars = lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    Point::new(
        chars as f64 * CHAR_W + 16.0,
        lines.len().max(1) as f64 * LINE_H + 10.0,
    )
}

/// Lays the view out with layout-rs; `None` for a view without nodes (layout-rs cannot sort an empty
/// graph).
fn place(view: &View) -> Option<Placed> {
    if view.nodes.is_empty() {
        return None;
    }
    // As layout-rs's own DOT front end does: a left-to-right graph of top-to-bottom shapes.
    let orientation = Orientation::LeftToRight;
    let dir = orientation.flip();
    let mut vg = VisualGraph::new(orientation);
    let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 0, 10);
    let handles: Vec<NodeHandle> = view
        .nodes
        .iter()
        .map(|n| {
            let size = label_size(&n.lines);
            vg.add_node(Element::create(
                ShapeKind::Box(String::new()),
                look.clone(),
                dir,
                size,
            ))
        })
        .collect();
    // Each edge goes through a connector that reserves room for its label (layout-rs sizes connectors
    // at `font_size` pixels per character: 6 fits the 9 px label font).
    let label_look = StyleAttr::new(Color::fast("black"), 1, None, 0, 6);
    let mut connectors = Vec::with_capacity(view.edges.len());
    for e in &view.edges {
        let conn = vg.add_node(Element::create_connector(&e.label(), &label_look, dir));
        connectors.push(conn);
    }
    let plain = || {
        Arrow::new(
            LineEndKind::None,
            LineEndKind::None,
            LineStyleKind::Normal,
            "",
            &StyleAttr::simple(),
            &None,
            &None,
        )
    };
    for (e, &conn) in view.edges.iter().zip(&connectors) {
        vg.add_edge(plain(), handles[e.from], conn);
        vg.add_edge(plain(), conn, handles[e.to]);
    }
    let ours = vg.num_nodes();
    // layout-rs's `do_it` without its renderer: lower the graph, then place it.
    vg.to_valid_dag();
    vg.split_text_edges();
    // Crossing reduction costs most of the time and grows fast: 140 nodes and 234 edges take 3 s
    // natively with it, 40 ms without. Big views go without it.
    let optimize = crossing_reduction(view.nodes.len() + view.edges.len());
    vg.split_long_edges(!optimize);
    let all: Vec<NodeHandle> = vg.iter_nodes().collect();
    for &h in &all {
        vg.element_mut(h).resize();
    }
    Placer::new(&mut vg).layout(false);

    // Routes: chains of layout-rs's waypoints (nodes it added, past `ours`) between two of our nodes.
    let mut segments: HashMap<(usize, usize), Vec<Vec<Point>>> = HashMap::new();
    for start in all.iter().filter(|h| h.get_index() < ours) {
        for &first in vg.succ(*start) {
            let mut way = Vec::new();
            let mut cur = first;
            let mut steps = 0;
            while cur.get_index() >= ours && steps <= all.len() {
                way.push(safe(vg.pos(cur).center()));
                match vg.succ(cur).as_slice() {
                    [next] => cur = *next,
                    _ => break,
                }
                steps += 1;
            }
            if cur.get_index() < ours {
                segments
                    .entry((start.get_index(), cur.get_index()))
                    .or_default()
                    .push(way);
            }
        }
    }
    let mut take = |a: NodeHandle, b: NodeHandle| -> Vec<Point> {
        let key = (a.get_index(), b.get_index());
        if let Some(way) = segments.get_mut(&key).and_then(|v| v.pop()) {
            return way;
        }
        let key = (b.get_index(), a.get_index());
        if let Some(mut way) = segments.get_mut(&key).and_then(|v| v.pop()) {
            way.reverse();
            return way;
        }
        Vec::new()
    };

    let bbox = |h: NodeHandle| {
        let pos = vg.pos(h);
        let (a, b) = pos.bbox(false);
        (safe(a), safe(b))
    };
    let mut boxes: Vec<(Point, Point)> = handles
        .iter()
        .map(|&h| {
            let (a, b) = bbox(h);
            (a, Point::new((b.x - a.x).abs(), (b.y - a.y).abs()))
        })
        .collect();
    let mut routes = Vec::with_capacity(view.edges.len());
    for (e, &conn) in view.edges.iter().zip(&connectors) {
        let from = handles[e.from];
        let to = handles[e.to];
        let label_at = safe(vg.pos(conn).center());
        let mut points = vec![center(boxes[e.from])];
        points.extend(take(from, conn));
        points.push(label_at);
        points.extend(take(conn, to));
        points.push(center(boxes[e.to]));
        // Start and end on the boxes' borders, not their centres.
        let n = points.len();
        points[0] = border(boxes[e.from], points[1]);
        points[n - 1] = border(boxes[e.to], points[n - 2]);
        routes.push((points, label_at));
    }
    // Shift everything to start at (0, 0).
    let (mut min, mut max) = (
        Point::new(f64::MAX, f64::MAX),
        Point::new(f64::MIN, f64::MIN),
    );
    let mut grow = |p: Point| {
        min = Point::new(min.x.min(p.x), min.y.min(p.y));
        max = Point::new(max.x.max(p.x), max.y.max(p.y));
    };
    for (corner, size) in &boxes {
        grow(*corner);
        grow(corner.add(*size));
    }
    for (i, (points, label)) in routes.iter().enumerate() {
        for p in points {
            grow(*p);
        }
        let half = view.edges[i].label().chars().count() as f64 * LABEL_CHAR_W / 2.0 + 3.0;
        grow(Point::new(label.x - half, label.y - 8.0));
        grow(Point::new(label.x + half, label.y + 8.0));
    }
    let shift = Point::new(-min.x, -min.y);
    for (corner, _) in &mut boxes {
        *corner = corner.add(shift);
    }
    for (points, label) in &mut routes {
        for p in points.iter_mut() {
            *p = p.add(shift);
        }
        *label = label.add(shift);
    }
    let size = max.add(shift);
    Some(Placed {
        boxes,
        routes,
        width: size.x.max(1.0),
        height: size.y.max(1.0),
    })
}

/// A finite point (layout arithmetic on odd input must not leak NaN into the SVG).
fn safe(p: Point) -> Point {
    let f = |v: f64| if v.is_finite() { v } else { 0.0 };
    Point::new(f(p.x), f(p.y))
}

fn center((corner, size): (Point, Point)) -> Point {
    Point::new(corner.x + size.x / 2.0, corner.y + size.y / 2.0)
}

/// Where an edge towards `toward` leaves (or enters) the box: the middle of its right side when
/// `toward` is to the right, of its left side when to the left, as the diagram flows left to right.
fn border(b: (Point, Point), toward: Point) -> Point {
    let c = center(b);
    let x = if toward.x >= c.x {
        b.0.x + b.1.x
    } else {
        b.0.x
    };
    Point::new(x, c.y)
}

fn num(v: f64) -> String {
    if v.is_finite() {
        let r = (v * 10.0).round() / 10.0;
        if r == r.trunc() {
            format!("{}", r as i64)
        } else {
            format!("{r:.1}")
        }
    } else {
        "0".to_string()
    }
}

/// A smooth path through the points for a left-to-right diagram: each hop is a cubic Bézier that
/// leaves and arrives horizontally, so curves never overshoot their end points (route points are
/// layout-rs's waypoints, one per rank).
fn smooth(points: &[Point]) -> String {
    let mut d = String::new();
    let Some(first) = points.first() else {
        return d;
    };
    let _ = write!(d, "M{},{}", num(first.x), num(first.y));
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let half = (b.x - a.x) / 2.0;
        let _ = write!(
            d,
            " C{},{} {},{} {},{}",
            num(a.x + half),
            num(a.y),
            num(b.x - half),
            num(b.y),
            num(b.x),
            num(b.y)
        );
    }
    d
}

fn draw(out: &mut String, view: &View, placed: &Placed, p: &str, links: &[Option<String>]) {
    for (i, (e, (points, label_at))) in view.edges.iter().zip(&placed.routes).enumerate() {
        let (Some(from), Some(to)) = (view.nodes.get(e.from), view.nodes.get(e.to)) else {
            continue;
        };
        let label = e.label();
        let color = e.class.color();
        let width = if e.flagged() { "2.6" } else { "1.3" };
        let _ = write!(
            out,
            "<g class=\"edge\" id=\"{p}e{i}\" data-from=\"{}\" data-to=\"{}\" data-class=\"{}\" data-files=\"{}\" data-label=\"{}\" aria-label=\"{}\"><title>{}</title>",
            from.id,
            to.id,
            e.class.as_str(),
            e.conversation.files,
            escape_xml(&label),
            escape_xml(&format!("{} to {}: {label}", from.lines[0], to.lines[0])),
            escape_xml(&e.tooltip(&view.nodes))
        );
        let _ = write!(
            out,
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" marker-end=\"url(#{p}arrow-{})\"/>",
            smooth(points),
            e.class.as_str()
        );
        let half = label.chars().count() as f64 * LABEL_CHAR_W / 2.0 + 3.0;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"white\" fill-opacity=\"0.85\"/><text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"{color}\">{}</text></g>",
            num(label_at.x - half),
            num(label_at.y - 6.0),
            num(2.0 * half),
            num(label_at.x),
            num(label_at.y),
            escape_xml(&label)
        );
    }
    for (i, (n, (corner, size))) in view.nodes.iter().zip(&placed.boxes).enumerate() {
        let (fill, border, width) = node_style(n);
        let label = n.label();
        let link = links.get(i).and_then(Option::as_deref);
        if let Some(href) = link {
            let _ = write!(out, "<a href=\"{}\">", escape_xml(href));
        }
        let _ = write!(
            out,
            "<g class=\"node\" id=\"{p}{}\" data-id=\"{}\" data-hosts=\"{}\" data-label=\"{}\" aria-label=\"{}\"><title>{}</title>",
            n.id,
            n.id,
            n.members,
            escape_xml(&label),
            escape_xml(&n.lines.join(", ")),
            escape_xml(&n.tooltip)
        );
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{fill}\" stroke=\"{border}\" stroke-width=\"{width}\"{}/>",
            num(corner.x),
            num(corner.y),
            num(size.x),
            num(size.y),
            if n.members > 1 {
                " stroke-dasharray=\"4,2\""
            } else {
                ""
            }
        );
        let lines = n.lines.len().max(1) as f64;
        let cx = corner.x + size.x / 2.0;
        let y0 = corner.y + size.y / 2.0 - (lines - 1.0) * LINE_H / 2.0;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" dominant-baseline=\"middle\">",
            num(cx),
            num(y0)
        );
        for (i, line) in n.lines.iter().enumerate() {
            let _ = write!(
                out,
                "<tspan x=\"{}\" y=\"{}\"{}>{}</tspan>",
                num(cx),
                num(y0 + i as f64 * LINE_H),
                if i == 0 { " font-weight=\"bold\"" } else { "" },
                escape_xml(line)
            );
        }
        out.push_str("</text></g>");
        if link.is_some() {
            out.push_str("</a>");
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{flow, host, report};
    use crate::{NetGraph, View, ViewOptions, to_dot};
    use pcapxray_plugin_sdk::{Finding, Protocol, Severity};

    pub(crate) fn sample() -> NetGraph {
        let mut g = NetGraph::new();
        g.consume(&[
            flow(1, "192.168.0.5", "192.168.0.1", Protocol::Udp, 53, &["dns"]),
            flow(
                2,
                "192.168.0.5",
                "203.0.113.9",
                Protocol::Tcp,
                443,
                &["web.https"],
            ),
            flow(
                3,
                "192.168.0.5",
                "203.0.113.9",
                Protocol::Tcp,
                80,
                &["web.http"],
            ),
            flow(
                4,
                "192.168.0.5",
                "198.51.100.1",
                Protocol::Tcp,
                9001,
                &["tor.relay"],
            ),
            flow(5, "192.168.0.6", "198.51.100.7", Protocol::Tcp, 5228, &[]),
            flow(6, "192.168.0.6", "192.168.0.6", Protocol::Tcp, 4242, &[]),
            flow(7, "192.168.0.6", "198.51.100.7", Protocol::Icmp, 0, &[]),
            flow(8, "192.168.0.1", "192.168.0.5", Protocol::Udp, 67, &[]),
        ]);
        g.finish(&report(
            vec![
                host("192.168.0.5", 1, &[("vendor", "Apple, Inc.")]),
                host("192.168.0.1", 2, &[]),
                host(
                    "203.0.113.9",
                    2,
                    &[("name", "<script>alert(1)</script>.example.com")],
                ),
                host("198.51.100.1", 2, &[("tor.relay", "moria1")]),
            ],
            vec![Finding::on_flow(5, "suspicious", Severity::Medium)],
        ));
        g
    }

    #[test]
    fn the_svg_holds_every_node_and_edge_of_the_view_escaped() {
        let g = sample();
        let view = View::build(&g, "all", 0, &ViewOptions::default());
        let svg = to_svg(&view, "test.pcap", "x-");
        let dot = to_dot(&view, "test.pcap");
        if let Some(dir) = std::env::var_os("PCAPXRAY_GRAPH_DUMP") {
            std::fs::write(std::path::Path::new(&dir).join("sample.svg"), &svg).unwrap();
            std::fs::write(std::path::Path::new(&dir).join("sample.dot"), &dot).unwrap();
        }
        assert_eq!(svg.matches("<g class=\"node\"").count(), view.nodes.len());
        assert_eq!(svg.matches("<g class=\"edge\"").count(), view.edges.len());
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("NaN"));
        assert!(svg.contains("id=\"x-arrow-https\""));
        for n in &view.nodes {
            assert!(
                dot.contains(&format!("{}[", n.id)) || dot.contains(&format!("{} [", n.id)),
                "{dot}"
            );
        }
    }

    #[test]
    fn an_empty_view_still_gives_an_svg() {
        let g = NetGraph::new();
        let view = View::build(&g, "all", 0, &ViewOptions::default());
        let svg = to_svg(&view, "empty.pcap", "");
        assert!(svg.contains("No conversations"));
        assert!(svg.ends_with("</svg>\n"));
    }

    /// The crossing-reduction budget: the first view is optimized, views after the budget is spent are
    /// not (and are counted), and the drawing of a view depends only on the views before it.
    #[test]
    fn crossing_reduction_stops_at_its_budget_and_says_how_often() {
        // Each test runs on its own thread, so the thread's budget is whole here.
        let mut g = NetGraph::new();
        let flows: Vec<_> = (0..40u64)
            .map(|i| {
                let a = format!("10.0.0.{}", 1 + (i * 7) % 30);
                let b = format!("10.0.0.{}", 1 + (i * 11 + 3) % 30);
                flow(i, &a, &b, Protocol::Tcp, 445, &[])
            })
            .collect();
        g.consume(&flows);
        g.finish(&report(vec![], vec![]));
        let view = View::build(&g, "all", 0, &ViewOptions::default());
        let size = (view.nodes.len() + view.edges.len()) as u64;
        assert!(size <= OPTIMIZE_LIMIT as u64 && size.pow(3) < CROSSING_BUDGET);
        let first = to_svg(&view, "t", "");
        assert_eq!(views_without_crossing_reduction(), 0);
        let optimized = CROSSING_BUDGET.div_ceil(size.pow(3));
        let mut drawings = vec![first];
        for _ in 1..optimized + 2 {
            drawings.push(to_svg(&view, "t", ""));
        }
        assert_eq!(views_without_crossing_reduction(), 2);
        // The optimized drawings are all the same; the plain ones are the same as each other.
        let (with, without) = drawings.split_at(optimized as usize);
        assert!(with.iter().all(|d| *d == with[0]));
        assert!(without.iter().all(|d| *d == without[0]));
        // Without crossing reduction this meshed view is drawn differently.
        assert_ne!(with[0], without[0]);
    }

    /// Random graphs with cycles, self-loops, parallel edges and odd labels: layout and drawing must
    /// never panic (a panic would abort the plugin).
    #[test]
    fn random_graphs_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m.max(1)
        };
        let protos = [
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Icmp,
            Protocol::Other,
        ];
        let tags = [
            "web.https",
            "web.http",
            "dns",
            "tor.relay",
            "suspicious",
            "beacon",
            "x",
        ];
        for round in 0..150 {
            let hosts = 1 + next(12);
            let mut flows = Vec::new();
            for i in 0..next(30) {
                let a = format!("10.0.{}.{}", next(2), next(hosts));
                let b = if next(3) == 0 {
                    format!("10.0.0.{}", next(hosts))
                } else {
                    format!("8.{}.0.{}", next(3), next(hosts))
                };
                let tag = tags[next(tags.len() as u64) as usize];
                let p = protos[next(4) as usize];
                flows.push(flow(i, &a, &b, p, next(70000) as u16, &[tag]));
            }
            let mut g = NetGraph::new();
            g.consume(&flows);
            g.finish(&report(vec![], vec![]));
            let opts = ViewOptions {
                max_internet_nodes: 1 + next(6) as usize,
                ..ViewOptions::default()
            };
            for (name, bits) in crate::available_views(&g) {
                let view = View::build(&g, &name, bits, &opts);
                let svg = to_svg(&view, "fuzz", "");
                assert!(!svg.contains("NaN"), "round {round}");
                assert_eq!(svg.matches("<g class=\"edge\"").count(), view.edges.len());
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use crate::model::tests::{flow, report};
    use crate::{NetGraph, View, ViewOptions};
    use pcapxray_plugin_sdk::Protocol;

    /// The largest views the limits allow (150 local nodes, 40 internet nodes, 400 edges): how long
    /// the layout takes. `cargo test --release -p pcapxray-plugin-sdk --features graph -- --ignored`.
    #[test]
    #[ignore]
    fn worst_case_layout_time() {
        for (lan, inet, edges) in [(100, 40, 250), (150, 40, 400), (60, 40, 150)] {
            let mut flows = Vec::new();
            for i in 0..edges as u64 {
                let a = format!("10.0.{}.{}", (i % lan) / 200, 1 + (i % lan) % 200);
                let b = if i % 3 == 0 {
                    format!(
                        "10.0.{}.{}",
                        ((i * 7) % lan) / 200,
                        1 + ((i * 7) % lan) % 200
                    )
                } else {
                    format!("8.8.{}.{}", i % inet, 1)
                };
                flows.push(flow(i, &a, &b, Protocol::Tcp, 443, &["web.https"]));
            }
            time(flows);
        }
        // A meshed local network: 100 hosts, each talking to two others and one of 40 servers.
        let mut flows = Vec::new();
        for i in 0..100u64 {
            let a = format!("10.0.0.{}", i + 1);
            for (j, b) in [
                format!("10.0.0.{}", (i * 7 + 3) % 100 + 1),
                format!("10.0.0.{}", (i * 13 + 5) % 100 + 1),
                format!("93.184.{}.10", i % 40),
            ]
            .iter()
            .enumerate()
            {
                flows.push(flow(i * 3 + j as u64, &a, b, Protocol::Tcp, 445, &[]));
            }
        }
        time(flows);

        fn time(flows: Vec<pcapxray_plugin_sdk::Flow>) {
            let mut g = NetGraph::new();
            g.consume(&flows);
            g.finish(&report(vec![], vec![]));
            let v = View::build(&g, "all", 0, &ViewOptions::default());
            let t = std::time::Instant::now();
            let svg = super::to_svg(&v, "bench", "");
            eprintln!(
                "{} nodes, {} edges: {:?}, {} KB",
                v.nodes.len(),
                v.edges.len(),
                t.elapsed(),
                svg.len() / 1024
            );
        }
    }
}
