//! What a component says it is, read from its type information without compiling it: its imports,
//! its exports, the WIT version it was built against and the shape of every `pcapxray:plugin` type and
//! function it uses. A component built against another WIT is refused here, in milliseconds even for
//! an 18 MB Python component whose compilation would take half a minute, with what differs named.

use super::plugin::{WIT_PACKAGE, compatible};
use crate::pipeline::StageKind;
use std::sync::OnceLock;
use wit_parser::{Interface, Resolve, Type, TypeDefKind, WorldKey};

/// How many differences a refusal lists before saying how many more there are.
const SHOWN: usize = 8;

/// What a component declares about itself.
#[derive(Clone)]
pub struct Declared {
    pub kind: StageKind,
    /// `pcapxray:plugin@0.6.0`.
    pub wit_package: String,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// For each imported interface, one of its functions (methods included), by which the runtime
    /// can tell whether it provides the interface; `None` for an interface of types only, which
    /// needs nothing from the host.
    pub probes: Vec<(String, Option<String>)>,
}

/// Why a component's declarations were refused.
pub enum Refusal {
    /// Its type information could not be read.
    Unreadable(String),
    /// It exports no plugin world; its exports are listed.
    NotAPlugin(Vec<String>),
    /// It was built against another version of the WIT package.
    Version {
        found: String,
        differences: Vec<String>,
    },
    /// The same version, but a different shape (a WIT edited without a new version).
    Shape {
        found: String,
        differences: Vec<String>,
    },
}

/// Reads and checks a component's declarations.
pub fn read(bytes: &[u8]) -> Result<Declared, Refusal> {
    let (resolve, world) = match wit_parser::decoding::decode(bytes) {
        Ok(wit_parser::decoding::DecodedWasm::Component(resolve, world)) => (resolve, world),
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(..)) => {
            return Err(Refusal::Unreadable(
                "it is a WIT package encoded as WebAssembly, not a component that implements one"
                    .into(),
            ));
        }
        Err(e) => return Err(Refusal::Unreadable(format!("{e:#}"))),
    };
    let names = |items: &mut dyn Iterator<Item = &WorldKey>| -> Vec<String> {
        items.map(|k| resolve.name_world_key(k)).collect()
    };
    let imports = names(&mut resolve.worlds[world].imports.keys());
    let probes = resolve.worlds[world]
        .imports
        .iter()
        .map(|(key, item)| {
            let function = match item {
                wit_parser::WorldItem::Interface { id, .. } => {
                    resolve.interfaces[*id].functions.keys().next().cloned()
                }
                _ => None,
            };
            (resolve.name_world_key(key), function)
        })
        .collect();
    let exports = names(&mut resolve.worlds[world].exports.keys());
    let Some((kind, version)) = exports.iter().find_map(|e| plugin_export(e)) else {
        return Err(Refusal::NotAPlugin(exports));
    };
    let found = format!("{WIT_PACKAGE}@{version}");
    let differences = differences(&resolve, host());
    if !compatible(&version) {
        return Err(Refusal::Version { found, differences });
    }
    if !differences.is_empty() {
        return Err(Refusal::Shape { found, differences });
    }
    Ok(Declared {
        kind,
        wit_package: found,
        imports,
        exports,
        probes,
    })
}

/// `pcapxray:plugin/analyzer@0.6.0` → (analyzer, "0.6.0").
pub(super) fn plugin_export(name: &str) -> Option<(StageKind, String)> {
    let rest = name.strip_prefix(&format!("{WIT_PACKAGE}/"))?;
    let (iface, version) = rest.split_once('@').unwrap_or((rest, "?"));
    let kind = match iface {
        "analyzer" => StageKind::Analyzer,
        "output" => StageKind::Output,
        _ => return None,
    };
    Some((kind, version.to_string()))
}

/// The WIT package this binary speaks, parsed once.
fn host() -> &'static Resolve {
    static HOST: OnceLock<Resolve> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut resolve = Resolve::default();
        resolve
            .push_str("plugin.wit", &crate::embedded::wit_single_file())
            .expect("the embedded WIT parses (checked by a test)");
        resolve
    })
}

/// Lists how the component's `pcapxray:plugin` interfaces differ from this binary's, interface by
/// interface, type by type and function by function, each as one sentence; at most [`SHOWN`], then a
/// count of the rest.
pub fn differences(theirs: &Resolve, ours: &Resolve) -> Vec<String> {
    let mut found = Vec::new();
    for (_, iface) in theirs.interfaces.iter() {
        if !in_plugin_package(theirs, iface) {
            continue;
        }
        let Some(name) = iface.name.as_deref() else {
            continue;
        };
        match ours
            .interfaces
            .iter()
            .find(|(_, i)| in_plugin_package(ours, i) && i.name.as_deref() == Some(name))
        {
            None => found.push(format!("interface `{name}` is not in this pcapxray's WIT")),
            Some((_, mine)) => compare_interface(name, theirs, iface, ours, mine, &mut found),
        }
    }
    if found.len() > SHOWN {
        let more = found.len() - SHOWN;
        found.truncate(SHOWN);
        found.push(format!("{more} more difference(s)"));
    }
    found
}

fn in_plugin_package(resolve: &Resolve, iface: &Interface) -> bool {
    iface.package.is_some_and(|p| {
        let name = &resolve.packages[p].name;
        format!("{}:{}", name.namespace, name.name) == WIT_PACKAGE
    })
}

fn compare_interface(
    name: &str,
    theirs: &Resolve,
    iface: &Interface,
    ours: &Resolve,
    mine: &Interface,
    found: &mut Vec<String>,
) {
    for (ty_name, &id) in &iface.types {
        let Some(&my_id) = mine.types.get(ty_name) else {
            found.push(format!(
                "type `{ty_name}` of interface `{name}` is not in this pcapxray's WIT"
            ));
            continue;
        };
        let (a, b) = (shape(theirs, id), shape(ours, my_id));
        if let Some(d) = compare_shapes(&a, &b) {
            found.push(format!("{} `{ty_name}` of interface `{name}`: {d}", b.0));
        }
    }
    for (f_name, f) in &iface.functions {
        match mine.functions.get(f_name) {
            None => found.push(format!(
                "function `{f_name}` of interface `{name}` is not in this pcapxray's WIT"
            )),
            Some(m) => {
                let (a, b) = (signature(theirs, f), signature(ours, m));
                if a != b {
                    found.push(format!(
                        "function `{f_name}` of interface `{name}` is `{a}` in the component but `{b}` here"
                    ));
                }
            }
        }
    }
    // An exported interface must have every function the host calls.
    if matches!(name, "analyzer" | "output") {
        for f_name in mine.functions.keys() {
            if !iface.functions.contains_key(f_name) {
                found.push(format!(
                    "the component's `{name}` lacks function `{f_name}`, which this pcapxray calls"
                ));
            }
        }
    }
}

/// A named type as (kind word, members as (name, type text)); aliases and plain types have one member
/// named "=".
type Shape = (&'static str, Vec<(String, String)>);

fn shape(resolve: &Resolve, id: wit_parser::TypeId) -> Shape {
    let member = |name: &str, ty: Option<&Type>| {
        (
            name.to_string(),
            ty.map(|t| render(resolve, t)).unwrap_or_default(),
        )
    };
    match &resolve.types[id].kind {
        TypeDefKind::Record(r) => (
            "record",
            r.fields
                .iter()
                .map(|f| member(&f.name, Some(&f.ty)))
                .collect(),
        ),
        TypeDefKind::Variant(v) => (
            "variant",
            v.cases
                .iter()
                .map(|c| member(&c.name, c.ty.as_ref()))
                .collect(),
        ),
        TypeDefKind::Enum(e) => (
            "enum",
            e.cases.iter().map(|c| member(&c.name, None)).collect(),
        ),
        TypeDefKind::Flags(f) => (
            "flags",
            f.flags.iter().map(|c| member(&c.name, None)).collect(),
        ),
        TypeDefKind::Resource => ("resource", Vec::new()),
        TypeDefKind::Type(t) => ("type", vec![member("=", Some(t))]),
        _ => ("type", vec![("=".into(), render_kind(resolve, id))]),
    }
}

/// One sentence on how `theirs` differs from `ours`, or `None` when they are the same.
fn compare_shapes(theirs: &Shape, ours: &Shape) -> Option<String> {
    if theirs.0 != ours.0 {
        return Some(format!(
            "a {} in the component but a {} here",
            theirs.0, ours.0
        ));
    }
    if theirs.1 == ours.1 {
        return None;
    }
    let text = |(n, t): &(String, String)| match (n.as_str(), t.is_empty()) {
        ("=", _) => t.clone(),
        (_, true) => format!("`{n}`"),
        _ => format!("`{n}: {t}`"),
    };
    let missing: Vec<String> = ours
        .1
        .iter()
        .filter(|m| !theirs.1.iter().any(|t| t.0 == m.0))
        .map(text)
        .collect();
    let extra: Vec<String> = theirs
        .1
        .iter()
        .filter(|t| !ours.1.iter().any(|m| m.0 == t.0))
        .map(text)
        .collect();
    let changed: Vec<String> = theirs
        .1
        .iter()
        .filter_map(|t| {
            let m = ours.1.iter().find(|m| m.0 == t.0)?;
            (m.1 != t.1).then(|| format!("{} where this pcapxray has {}", text(t), text(m)))
        })
        .collect();
    let mut parts = vec![format!(
        "{} member(s) in the component, {} here",
        theirs.1.len(),
        ours.1.len()
    )];
    if !missing.is_empty() {
        parts.push(format!("the component lacks {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "the component has {} in addition",
            extra.join(", ")
        ));
    }
    if !changed.is_empty() {
        parts.push(format!("the component has {}", changed.join(", ")));
    }
    if missing.is_empty() && extra.is_empty() && changed.is_empty() {
        parts.push("the same members in another order".into());
    }
    Some(parts.join("; "))
}

fn signature(resolve: &Resolve, f: &wit_parser::Function) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, render(resolve, &p.ty)))
        .collect();
    match &f.result {
        Some(r) => format!("func({}) -> {}", params.join(", "), render(resolve, r)),
        None => format!("func({})", params.join(", ")),
    }
}

/// A type as WIT text; named types by name, aliases as what they stand for.
fn render(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
        // Aliases are seen through: a component keeps no name for `type flow-id = u64`.
        Type::Id(id) => match (&resolve.types[*id].kind, &resolve.types[*id].name) {
            (TypeDefKind::Type(inner), _) => render(resolve, inner),
            (_, Some(name)) => name.clone(),
            (_, None) => render_kind(resolve, *id),
        },
    }
}

fn render_kind(resolve: &Resolve, id: wit_parser::TypeId) -> String {
    let r = |t: &Type| render(resolve, t);
    let opt = |t: &Option<Type>| t.as_ref().map(r).unwrap_or_else(|| "_".into());
    match &resolve.types[id].kind {
        TypeDefKind::List(t) => format!("list<{}>", r(t)),
        TypeDefKind::Option(t) => format!("option<{}>", r(t)),
        TypeDefKind::Result(res) => format!("result<{}, {}>", opt(&res.ok), opt(&res.err)),
        TypeDefKind::Tuple(t) => format!(
            "tuple<{}>",
            t.types.iter().map(r).collect::<Vec<_>>().join(", ")
        ),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", r(k), r(v)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", r(t)),
        TypeDefKind::Future(t) => format!("future<{}>", opt(t)),
        TypeDefKind::Stream(t) => format!("stream<{}>", opt(t)),
        TypeDefKind::Type(t) => r(t),
        TypeDefKind::Handle(wit_parser::Handle::Own(t)) => {
            format!("own<{}>", render(resolve, &Type::Id(*t)))
        }
        TypeDefKind::Handle(wit_parser::Handle::Borrow(t)) => {
            format!("borrow<{}>", render(resolve, &Type::Id(*t)))
        }
        other => other.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's WIT with `edit` applied to its text, parsed.
    fn edited(edit: impl Fn(String) -> String) -> Resolve {
        let mut resolve = Resolve::default();
        resolve
            .push_str("plugin.wit", &edit(crate::embedded::wit_single_file()))
            .unwrap();
        resolve
    }

    /// The runtime trusts the built-in plugins' WIT without decoding it at every start (that would
    /// cost 0.4 s of a debug build's start-up): here is why it may.
    #[test]
    fn every_built_in_plugin_declares_this_wit() {
        for (name, bytes) in crate::builtins::BUILTINS {
            if let Err(refusal) = read(bytes) {
                let why = match refusal {
                    Refusal::Unreadable(w) => w,
                    Refusal::NotAPlugin(e) => e.join(", "),
                    Refusal::Version { differences, .. } | Refusal::Shape { differences, .. } => {
                        differences.join("; ")
                    }
                };
                panic!("built-in plugin {name}: {why}");
            }
        }
    }

    #[test]
    fn the_same_wit_has_no_differences() {
        assert!(differences(&edited(|t| t), host()).is_empty());
    }

    #[test]
    fn a_record_with_a_field_more_names_the_record_and_the_field() {
        let theirs = edited(|t| {
            t.replace(
                "    record attribute {\n",
                "    record attribute {\n        extra: u32,\n",
            )
        });
        let said = differences(&theirs, host());
        assert_eq!(
            said,
            [
                "record `attribute` of interface `types`: 3 member(s) in the component, 2 here; \
              the component has `extra: u32` in addition"
            ],
        );
    }

    #[test]
    fn a_changed_function_and_a_missing_export_are_named() {
        let theirs = edited(|t| {
            t.replace(
                "    finish: func() -> result<outcome, plugin-error>;",
                "    finish: func(final: bool) -> result<outcome, plugin-error>;",
            )
            .replace(
                "    analyze-link: func(batch: link-batch) -> result<outcome, plugin-error>;",
                "",
            )
        });
        let said = differences(&theirs, host()).join("\n");
        assert!(
            said.contains("function `finish` of interface `analyzer` is `func(final: bool) -> result<outcome, plugin-error>` in the component but `func() -> result<outcome, plugin-error>` here"),
            "{said}"
        );
        assert!(
            said.contains("the component's `analyzer` lacks function `analyze-link`"),
            "{said}"
        );
    }
}
