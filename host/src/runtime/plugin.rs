//! Compiling components and telling what they are.

use super::state::StageState;
use crate::bindings::{analyzer, output};
use crate::pipeline::{PluginSource, StageKind};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Config, Engine};

pub use crate::bindings::{WIT_PACKAGE, WIT_VERSION};

/// How often the epoch ticks: the resolution of call time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How to get this pcapxray's WIT, for the refusal of a plugin built against another. A Rust plugin
/// builds with the SDK's own copy (`pcapxray-sdk/wit`), whose bindings must match it too.
const REBUILD: &str = "`pcapxray wit --out wit` writes it; a Rust plugin reads the SDK's copy, so \
     replace its `pcapxray-sdk/` folder with the one `pcapxray plugin new NAME --dir NEW` writes into NEW";

#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error("{source_name} is not a WebAssembly component: {reason}")]
    NotAComponent { source_name: String, reason: String },
    #[error(
        "{source_name} was built for WIT package {found}, but this pcapxray speaks {WIT_PACKAGE}@{WIT_VERSION}{differences}; \
         rebuild it against this pcapxray's WIT ({WIT_PACKAGE}@{WIT_VERSION}): {REBUILD}"
    )]
    IncompatibleVersion {
        source_name: String,
        found: String,
        /// What differs, as `(…)` after the versions, or empty.
        differences: String,
    },
    #[error(
        "{source_name} was built against a WIT that says {found} but differs from this pcapxray's: {differences}; \
         rebuild it against this pcapxray's WIT ({WIT_PACKAGE}@{WIT_VERSION}): {REBUILD}"
    )]
    Reshaped {
        source_name: String,
        found: String,
        differences: String,
    },
    #[error(
        "{source_name} exports neither {WIT_PACKAGE}/analyzer nor {WIT_PACKAGE}/output; its exports are: {exports}"
    )]
    NotAPlugin {
        source_name: String,
        exports: String,
    },
    #[error("{source_name} cannot be linked: {reason}")]
    Link { source_name: String, reason: String },
    #[error("{source_name}: `describe` failed: {reason}")]
    Describe { source_name: String, reason: String },
    #[error("cannot read {source_name}: {reason}")]
    Io { source_name: String, reason: String },
    #[error("loading {0} panicked")]
    Panicked(String),
    #[error("no built-in plugin `{0}`")]
    NoBuiltin(String),
    #[error("plugin file {} {problem}", path.display())]
    NotAFile {
        path: std::path::PathBuf,
        problem: crate::pipeline::FileProblem,
    },
}

impl PluginLoadError {
    fn refused(source_name: &str, refusal: super::wit_shape::Refusal) -> PluginLoadError {
        use super::wit_shape::Refusal;
        let source_name = source_name.to_string();
        match refusal {
            Refusal::Unreadable(why) => PluginLoadError::NotAComponent {
                source_name,
                reason: format!("its type information cannot be read: {why}"),
            },
            Refusal::NotAPlugin(exports) => PluginLoadError::NotAPlugin {
                source_name,
                exports: if exports.is_empty() {
                    "(none)".into()
                } else {
                    exports.join(", ")
                },
            },
            Refusal::Version { found, differences } => PluginLoadError::IncompatibleVersion {
                source_name,
                found,
                differences: match differences.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", differences.join("; ")),
                },
            },
            Refusal::Shape { found, differences } => PluginLoadError::Reshaped {
                source_name,
                found,
                differences: differences.join("; "),
            },
        }
    }
}

/// A compiled plugin, ready to be instantiated by any number of stages.
pub struct LoadedPlugin {
    pub source: PluginSource,
    /// SHA-256 of the component bytes.
    pub digest: String,
    pub kind: StageKind,
    pub name: String,
    pub version: String,
    pub description: String,
    /// Whether the plugin reads payload bytes (when false the host passes flows without them).
    pub needs_payload: bool,
    /// Whether the plugin asked for link-layer events (`analyze-link`).
    pub wants_link_events: bool,
    /// Whether the plugin fetches its flows packed (`batch.flows`) instead of as the call's argument.
    pub packed_flows: bool,
    /// Whether the plugin only wants flows that carried payload.
    pub payload_flows_only: bool,
    /// The WIT package and version the component was built against (`pcapxray:plugin@0.6.0`).
    pub wit_package: String,
    /// Interfaces the component imports (capabilities it may ask for).
    pub imports: Vec<String>,
    /// Interfaces it exports.
    pub exports: Vec<String>,
    pub(super) pre: PluginPre,
}

/// The capabilities a pipeline can grant, by the name of their WIT interface and of their grant key.
pub const CAPABILITIES: &[&str] = &["files", "dns", "whois", "sqlite", "graphviz", "extract"];

impl LoadedPlugin {
    /// The grantable capabilities among the component's imports. A component that does not import one
    /// can never use a grant of it.
    pub fn capabilities(&self) -> Vec<&'static str> {
        capabilities_among(&self.imports)
    }
}

/// The grantable capabilities among a component's imports.
pub fn capabilities_among(imports: &[String]) -> Vec<&'static str> {
    CAPABILITIES
        .iter()
        .copied()
        .filter(|c| {
            let prefix = format!("{WIT_PACKAGE}/{c}@");
            imports.iter().any(|i| i.starts_with(&prefix))
        })
        .collect()
}

pub enum PluginPre {
    Analyzer(analyzer::AnalyzerPluginPre<StageState>),
    Output(output::OutputPluginPre<StageState>),
}

/// The wasmtime engine, the linkers of both worlds, and the epoch ticker.
pub struct Runtime {
    pub(super) engine: Engine,
    analyzer_linker: Linker<StageState>,
    output_linker: Linker<StageState>,
    ticking: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Runtime {
    /// The engine and linkers; an error says why wasmtime could not start (print it with `{:#}`).
    pub fn new() -> wasmtime::Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let mut analyzer_linker = Linker::new(&engine);
        link_base(&mut analyzer_linker)?;
        crate::caps::link_analyzer(&mut analyzer_linker, |s| &mut s.caps)?;
        let mut output_linker = Linker::new(&engine);
        link_base(&mut output_linker)?;
        crate::caps::link_output(&mut output_linker, |s| &mut s.caps)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (weak_engine, flag) = (engine.weak(), ticking.clone());
        std::thread::Builder::new()
            .name("epoch".into())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| wasmtime::format_err!("cannot start the epoch thread: {e}"))?;
        Ok(Runtime {
            engine,
            analyzer_linker,
            output_linker,
            ticking,
        })
    }

    /// Checks a component's declarations, compiles it, links it and asks it who it is.
    pub fn load(
        &self,
        source: PluginSource,
        bytes: &[u8],
    ) -> Result<LoadedPlugin, PluginLoadError> {
        let source_name = source.to_string();
        match self.inspect(source, bytes)? {
            Inspected::Linked(plugin) => Ok(plugin),
            Inspected::Unlinked(u) => Err(PluginLoadError::Link {
                source_name,
                reason: u.reason(),
            }),
        }
    }

    /// Like [`Runtime::load`], but a component this host cannot link is described instead of refused.
    /// Its WIT version and shape, and whether this host provides every import it names, are checked
    /// before it is compiled.
    pub fn inspect(
        &self,
        source: PluginSource,
        bytes: &[u8],
    ) -> Result<Inspected, PluginLoadError> {
        let source_name = source.to_string();
        if let Some(looks_like) = not_a_component(bytes) {
            return Err(PluginLoadError::NotAComponent {
                source_name,
                reason: looks_like,
            });
        }
        let digest = hex(&Sha256::digest(bytes));
        // A file's WIT is read before it is compiled; a built-in plugin was built from this very WIT
        // by build.rs (a test checks it), so its declarations are taken from the compiled component.
        let declared = match &source {
            PluginSource::File(_) => Some(
                super::wit_shape::read(bytes)
                    .map_err(|r| PluginLoadError::refused(&source_name, r))?,
            ),
            PluginSource::Builtin(_) => None,
        };
        // An import this host lacks is found from the names alone: no need to compile first.
        if let Some(declared) = &declared {
            let missing = self.missing_imports(declared.kind, &declared.probes);
            if !missing.is_empty() {
                return Ok(Inspected::Unlinked(Unlinked {
                    declared: declared.clone(),
                    digest,
                    missing,
                    error: String::new(),
                }));
            }
        }
        let component =
            self.compile(&source, bytes, &digest)
                .map_err(|e| PluginLoadError::NotAComponent {
                    source_name: source_name.clone(),
                    reason: format!("{e:#}"),
                })?;
        let declared = match declared {
            Some(declared) => declared,
            None => self.declared_by(&source_name, &component)?,
        };
        let pre = match self.link(declared.kind, &component) {
            Ok(pre) => pre,
            Err(e) => {
                return Ok(Inspected::Unlinked(Unlinked {
                    missing: Vec::new(),
                    error: format!("{e:#}"),
                    declared,
                    digest,
                }));
            }
        };
        let mut plugin = LoadedPlugin {
            source,
            digest,
            kind: declared.kind,
            name: String::new(),
            version: String::new(),
            description: String::new(),
            needs_payload: true,
            wants_link_events: false,
            packed_flows: false,
            payload_flows_only: false,
            wit_package: declared.wit_package,
            imports: declared.imports,
            exports: declared.exports,
            pre,
        };
        let info =
            super::stage::describe(self, &plugin).map_err(|e| PluginLoadError::Describe {
                source_name: source_name.clone(),
                reason: format!("{e:#}"),
            })?;
        plugin.name = info.name;
        plugin.version = info.version;
        plugin.description = info.description;
        plugin.needs_payload = info.needs_payload;
        plugin.wants_link_events = info.wants_link_events;
        plugin.packed_flows = info.packed_flows;
        plugin.payload_flows_only = info.payload_flows_only;
        Ok(Inspected::Linked(plugin))
    }

    /// A compiled component's declarations, from its type (for the built-in plugins).
    fn declared_by(
        &self,
        source_name: &str,
        component: &Component,
    ) -> Result<super::wit_shape::Declared, PluginLoadError> {
        let ty = component.component_type();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
            .map(|(n, _)| n.to_string())
            .collect();
        let Some((kind, version)) = exports
            .iter()
            .find_map(|e| super::wit_shape::plugin_export(e))
        else {
            return Err(PluginLoadError::refused(
                source_name,
                super::wit_shape::Refusal::NotAPlugin(exports),
            ));
        };
        Ok(super::wit_shape::Declared {
            kind,
            wit_package: format!("{WIT_PACKAGE}@{version}"),
            probes: imports.iter().map(|i| (i.clone(), None)).collect(),
            imports,
            exports,
        })
    }

    fn linker(&self, kind: StageKind) -> &Linker<StageState> {
        match kind {
            StageKind::Analyzer => &self.analyzer_linker,
            StageKind::Output => &self.output_linker,
        }
    }

    fn link(&self, kind: StageKind, component: &Component) -> wasmtime::Result<PluginPre> {
        let pre = self.linker(kind).instantiate_pre(component)?;
        Ok(match kind {
            StageKind::Analyzer => PluginPre::Analyzer(analyzer::AnalyzerPluginPre::new(pre)?),
            StageKind::Output => PluginPre::Output(output::OutputPluginPre::new(pre)?),
        })
    }

    /// The imported interfaces this host provides no implementation for. wasmtime serves an import
    /// by its exact name or a semver-compatible one (`wasi:io/streams@0.2.3` by `@0.2.6`). A linker
    /// cannot be asked what it holds, but defining a function it already holds fails: so one function
    /// of each import is defined, on a copy of the linker, under the import's name and each
    /// compatible name; if every attempt succeeds, nothing served it.
    fn missing_imports(&self, kind: StageKind, probes: &[(String, Option<String>)]) -> Vec<String> {
        probes
            .iter()
            .filter_map(|(name, function)| {
                let function = function.as_deref()?;
                let mut probe = self.linker(kind).clone();
                let served = compatible_names(name).iter().any(|n| {
                    probe
                        .instance(n)
                        .and_then(|mut i| i.func_new(function, |_, _, _, _| Ok(())))
                        .is_err()
                });
                (!served).then(|| name.clone())
            })
            .collect()
    }
}

/// `name` and the names a linker would serve it with: the same interface at the other patch
/// versions of its `0.y` (0 to 63), or the other minor and patch versions of its `x` (to 63.63).
fn compatible_names(name: &str) -> Vec<String> {
    let Some((base, version)) = name.split_once('@') else {
        return vec![name.to_string()];
    };
    let parts: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    let mut names = vec![name.to_string()];
    match parts.as_slice() {
        [0, 0, _] => {}
        [0, minor, _] => names.extend((0..64).map(|p| format!("{base}@0.{minor}.{p}"))),
        [major, _, _] => names
            .extend((0..64).flat_map(|m| (0..64).map(move |p| format!("{base}@{major}.{m}.{p}")))),
        _ => {}
    }
    names.sort();
    names.dedup();
    names
}

/// What [`Runtime::inspect`] found.
pub enum Inspected {
    /// The component links and said who it is.
    Linked(LoadedPlugin),
    /// The component is a plugin of this WIT but cannot be linked.
    Unlinked(Unlinked),
}

/// A plugin component this host cannot link.
pub struct Unlinked {
    pub declared: super::wit_shape::Declared,
    pub digest: String,
    /// The imports no implementation was found for.
    pub missing: Vec<String>,
    /// wasmtime's reason when every import exists but one has another type (empty otherwise).
    pub error: String,
}

impl Unlinked {
    /// Why, in words: the missing imports, with what to do about the usual one.
    pub fn reason(&self) -> String {
        if self.missing.is_empty() {
            return self.error.clone();
        }
        let mut text = format!(
            "it imports {}, which this pcapxray does not provide (plugins get only the WASI \
             interfaces of a command without network, and {WIT_PACKAGE}'s capabilities)",
            self.missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if self.missing.iter().any(|m| m.starts_with("wasi:http/")) {
            text.push_str(
                "; a JavaScript plugin must be built with `componentize-js -d http -d fetch-event` \
                 (docs/plugins.md)",
            );
        }
        text
    }
}

impl Runtime {
    /// Compiles a component, or loads its machine code from the cache when this engine compiled the same
    /// bytes before (compiling costs 0.1–5 s per plugin; loading, a millisecond).
    fn compile(
        &self,
        source: &PluginSource,
        bytes: &[u8],
        digest: &str,
    ) -> wasmtime::Result<Component> {
        let Some(dir) = cache_dir() else {
            notice_compiling(source, bytes, None);
            return Component::new(&self.engine, bytes);
        };
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&self.engine.precompile_compatibility_hash(), &mut hasher);
        let path = dir.join(format!(
            "{digest}-{:016x}.cwasm",
            std::hash::Hasher::finish(&hasher)
        ));
        if path.is_file() {
            // SAFETY: the file was written by `serialize` below for an engine with the same compatibility
            // hash, into the user's own cache folder; wasmtime checks its header and version again.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => return Ok(component),
                Err(_) => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        notice_compiling(source, bytes, Some(&dir));
        let component = Component::new(&self.engine, bytes)?;
        if let Ok(code) = component.serialize()
            && std::fs::create_dir_all(&dir).is_ok()
        {
            // Write then rename, so a parallel run never reads half a file.
            let tmp = dir.join(format!(".{digest}-{}.tmp", std::process::id()));
            if std::fs::write(&tmp, code).is_ok() && std::fs::rename(&tmp, &path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(component)
    }
}

/// Components this large take seconds to compile (an 18 MB Python one 30 to 50 s): say so before.
const NOTICE_BYTES: usize = 1 << 20;

/// Tells the user, on stderr, that a large component is being compiled and why it takes long.
fn notice_compiling(source: &PluginSource, bytes: &[u8], cache: Option<&std::path::Path>) {
    if bytes.len() < NOTICE_BYTES {
        return;
    }
    let then = match cache {
        Some(dir) => format!("once: later runs load it from {}", dir.display()),
        None => "every time: the cache is off (PCAPXRAY_CACHE_DIR=off)".into(),
    };
    eprintln!(
        "note: compiling {source} ({:.1} MB) for this machine; this can take a minute, {then}.",
        bytes.len() as f64 / 1e6
    );
}

/// Where compiled plugins are cached: `$PCAPXRAY_CACHE_DIR`, else `$XDG_CACHE_HOME/pcapxray`, else
/// `~/.cache/pcapxray`. `PCAPXRAY_CACHE_DIR=off` disables the cache.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    match std::env::var_os("PCAPXRAY_CACHE_DIR") {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("pcapxray")),
    }
}

/// What every stage may call whatever it is granted: WASI without files or network, logging, the
/// host table and the batch in hand. The capabilities come from [`crate::caps`].
fn link_base(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    use crate::bindings::analyzer::pcapxray::plugin::{batch, log, model, types};
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    types::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    log::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    model::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    batch::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// Semver compatibility with [`WIT_VERSION`]: same major, and while major is 0, same minor.
pub fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

pub use pcapxray_capture::hex;

/// When `bytes` are plainly not a WebAssembly component, what they look like instead (one line, never
/// the bytes themselves); `None` when they start like a component and the compiler must judge.
pub fn not_a_component(bytes: &[u8]) -> Option<String> {
    const WASM: &[u8] = b"\0asm";
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let looks = if bytes.is_empty() {
        "the file is empty".to_string()
    } else if starts(WASM) {
        match bytes.get(4..8) {
            Some([0x0d, 0x00, 0x01, 0x00]) => return None,
            Some([0x01, 0x00, 0x00, 0x00]) => {
                "it is a core WebAssembly module, not a component; build the plugin \
                 for wasm32-wasip2 (or wrap the module with `wasm-tools component new`)"
                    .to_string()
            }
            _ => "it starts like WebAssembly but has an unknown version or layer".to_string(),
        }
    } else if starts(b"\x7fELF") {
        "it looks like an ELF executable or library (a native program, not a plugin)".to_string()
    } else if starts(b"MZ") {
        "it looks like a Windows executable".to_string()
    } else if starts(&[0xcf, 0xfa, 0xed, 0xfe]) || starts(&[0xca, 0xfe, 0xba, 0xbe]) {
        "it looks like a macOS executable".to_string()
    } else if starts(b"PK\x03\x04") {
        "it looks like a zip archive".to_string()
    } else if starts(&[0x1f, 0x8b]) {
        "it looks like a gzip file".to_string()
    } else if starts(b"#!") {
        "it looks like a script".to_string()
    } else if let Some(line) = text_line(bytes) {
        format!("it looks like a text file starting with {line:?}")
    } else {
        let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!(
            "it starts with bytes {} instead of the WebAssembly magic 00 61 73 6d",
            head.join(" ")
        )
    };
    Some(looks)
}

/// The first line of a file that is text, cut to 60 characters.
fn text_line(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) if e.valid_up_to() + 4 > head.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return None;
    }
    let line = text.lines().next().unwrap_or("").trim();
    Some(line.chars().take(60).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_components_are_named_by_what_they_look_like() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"\0asm\x01\0\0\0rest", "core WebAssembly module"),
            (b"\x7fELF\x02\x01\x01", "ELF"),
            (
                b"root:x:0:0:root:/root:/bin/bash\nbin:x",
                "text file starting with \"root:x:0:0",
            ),
            (b"MZ\x90\0", "Windows executable"),
            (&[0xde, 0xad, 0xbe, 0xef, 0, 1], "de ad be ef"),
            (b"#!/bin/sh\necho", "script"),
        ];
        for (bytes, expected) in cases {
            let said = not_a_component(bytes).expect("refused");
            assert!(said.contains(expected), "{said:?} lacks {expected:?}");
            assert!(!said.contains('\n'), "one line: {said:?}");
        }
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0"), None);
    }

    #[test]
    fn versions_are_compatible_within_a_minor_while_zero() {
        assert!(compatible("0.6.0"));
        assert!(compatible("0.6.7"));
        assert!(!compatible("0.5.0"));
        assert!(!compatible("0.7.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible("garbage"));
    }

    #[test]
    fn another_wit_version_is_refused_with_both_versions_named() {
        let refusal = super::super::wit_shape::Refusal::Version {
            found: "pcapxray:plugin@1.0.0".into(),
            differences: vec!["interface `extra` is not in this pcapxray's WIT".into()],
        };
        let err = PluginLoadError::refused("x.wasm", refusal).to_string();
        assert!(
            err.contains("pcapxray:plugin@1.0.0")
                && err.contains("pcapxray:plugin@0.6.0 (interface `extra`")
                && err.contains("rebuild it against this pcapxray's WIT (pcapxray:plugin@0.6.0"),
            "{err}"
        );
    }

    #[test]
    fn compatible_names_cover_the_semver_family() {
        let names = compatible_names("wasi:io/streams@0.2.3");
        assert!(names.contains(&"wasi:io/streams@0.2.6".to_string()));
        assert!(!names.iter().any(|n| n.contains("@0.3.")));
        assert_eq!(compatible_names("a:b/c@0.0.1"), ["a:b/c@0.0.1"]);
        assert_eq!(compatible_names("a:b/c"), ["a:b/c"]);
    }
}
