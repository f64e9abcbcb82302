//! The host's modules form layers: no top-level module of `host/src` (or of `host/capture/src`) may
//! reach, directly or through others, back into itself. The graph is read from the sources: a module
//! depends on another when its files name `crate::other` (in `use` lists too). A cycle fails the test
//! and is named, module by module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level module a file under `src` belongs to (`run/mod.rs` → `run`, `cli.rs` → `cli`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its `//` comments (doc links are not dependencies) and without its
/// test module (`#[cfg(test)]` before a `mod`, by convention at the end of the file): tests may use
/// any layer.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().contains("mod "))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal is rare in this code base and only hides a use on the
            // same line, which would be written on its own line anyway.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names of top-level modules after each `crate::` in `code`: `crate::a::b` gives `a`,
/// `crate::{a, b::c, d::{e, f}}` gives `a`, `b` and `d`.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i + "crate::".len();
        at = start;
        // `pcapxray_crate::` or `$crate::` are not this crate.
        let before = code[..start - "crate::".len()].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if bytes.get(start) == Some(&b'{') {
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in code[start..].char_indices() {
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            at = start + j;
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && (c.is_alphabetic() || c == '_') => {
                        let rest = &code[start + j..];
                        let end = rest
                            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len());
                        found.insert(rest[..end].to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let rest = &code[start..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                found.insert(rest[..end].to_string());
            }
        }
    }
    found
}

/// The dependency graph of the top-level modules under `src`.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let module = module_of(src, &file);
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let uses = crate_references(&code(&text));
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(uses.into_iter().filter(|m| *m != module && m != "self"));
    }
    // Only modules of this crate (re-exports such as `crate::flow` of another crate stay edges to
    // names without files, which cannot close a cycle).
    graph
}

/// A cycle of the graph, if there is one, as the modules along it (the first repeated at the end).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path
                    .iter()
                    .position(|n| n == node)
                    .expect("open node on path");
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn assert_layered(src: &Path) {
    let graph = module_graph(src);
    assert!(
        graph.len() > 3,
        "{}: expected the crate's modules, found {:?}",
        src.display(),
        graph.keys()
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "{}: the modules {} depend on each other in a cycle; move what they share into a \
             module below both",
            src.display(),
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_host_modules_have_no_import_cycle() {
    assert_layered(&repo().join("host/src"));
}

#[test]
fn the_capture_crate_modules_have_no_import_cycle() {
    assert_layered(&repo().join("host/capture/src"));
}

#[test]
fn references_are_read_from_paths_and_use_lists() {
    let code = code(
        "use crate::{alpha, beta::x, gamma::{y, z}};\nuse crate::delta::Thing;\n\
         fn f() { crate::epsilon::go(); } // crate::zeta in a comment\n\
         let s = pcapxray_crate::eta; $crate::theta;\n\
         #[cfg(test)]\nmod tests {\n    use crate::iota;\n}\n",
    );
    let found: Vec<_> = crate_references(&code).into_iter().collect();
    assert_eq!(found, ["alpha", "beta", "delta", "epsilon", "gamma"]);
}

#[test]
fn a_cycle_in_a_source_tree_is_found_and_named() {
    let dir = std::env::temp_dir().join(format!("pcapxray-layering-{}", std::process::id()));
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod caps;\npub mod runtime;\npub mod floor;\npub mod top;\n",
    );
    write("caps/mod.rs", "use crate::floor::X;\n");
    write("caps/dns.rs", "use crate::runtime::bindings::Error;\n");
    write("runtime/mod.rs", "use crate::{caps, floor};\n");
    write("floor.rs", "pub struct X;\n");
    write("top.rs", "use crate::runtime;\n");
    let cycle = find_cycle(&module_graph(&dir));
    // The same tree without the offending line is layered.
    write("caps/dns.rs", "use crate::floor::X;\n");
    let after = find_cycle(&module_graph(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
    let cycle = cycle.expect("caps -> runtime -> caps is a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"caps".to_string()) && cycle.contains(&"runtime".to_string()));
    assert_eq!(after, None);
}
