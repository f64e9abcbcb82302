//! Compiling components and telling what they are.

use super::bindings::{analyzer, output};
use super::state::StageState;
use crate::pipeline::{PluginSource, StageKind};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Config, Engine};

/// The WIT package every plugin is built against.
pub const WIT_PACKAGE: &str = "pcapxray:plugin";
/// Its version. Plugins built for another major version (or, while 0.x, another minor) are refused.
pub const WIT_VERSION: &str = "0.6.0";

/// How often the epoch ticks: the resolution of call time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error("{source_name} is not a WebAssembly component: {reason}")]
    NotAComponent { source_name: String, reason: String },
    #[error(
        "{source_name} was built for WIT package {found}, but this pcapxray speaks {WIT_PACKAGE}@{WIT_VERSION}; \
         rebuild the plugin against {WIT_PACKAGE}@{WIT_VERSION}"
    )]
    IncompatibleVersion { source_name: String, found: String },
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
        CAPABILITIES
            .iter()
            .copied()
            .filter(|c| {
                let prefix = format!("{WIT_PACKAGE}/{c}@");
                self.imports.iter().any(|i| i.starts_with(&prefix))
            })
            .collect()
    }
}

pub(super) enum PluginPre {
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
    pub fn new() -> Result<Runtime, String> {
        Self::build().map_err(|e| format!("{e:#}"))
    }

    fn build() -> wasmtime::Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let mut analyzer_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut analyzer_linker)?;
        analyzer::AnalyzerPlugin::add_to_linker::<_, HasSelf<_>>(&mut analyzer_linker, |s| s)?;
        let mut output_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut output_linker)?;
        output::OutputPlugin::add_to_linker::<_, HasSelf<_>>(&mut output_linker, |s| s)?;
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

    /// Compiles a component and finds out which world it implements.
    pub fn load(
        &self,
        source: PluginSource,
        bytes: &[u8],
    ) -> Result<LoadedPlugin, PluginLoadError> {
        let source_name = source.to_string();
        if let Some(looks_like) = not_a_component(bytes) {
            return Err(PluginLoadError::NotAComponent {
                source_name,
                reason: looks_like,
            });
        }
        let digest = hex(&Sha256::digest(bytes));
        let component =
            self.compile(bytes, &digest)
                .map_err(|e| PluginLoadError::NotAComponent {
                    source_name: source_name.clone(),
                    reason: format!("{e:#}"),
                })?;
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
        let (kind, wit_package) = plugin_kind(&source_name, &exports)?;
        let link_err = |e: wasmtime::Error| PluginLoadError::Link {
            source_name: source_name.clone(),
            reason: format!("{e:#}"),
        };
        let pre = match kind {
            StageKind::Analyzer => {
                let pre = self
                    .analyzer_linker
                    .instantiate_pre(&component)
                    .map_err(link_err)?;
                PluginPre::Analyzer(analyzer::AnalyzerPluginPre::new(pre).map_err(link_err)?)
            }
            StageKind::Output => {
                let pre = self
                    .output_linker
                    .instantiate_pre(&component)
                    .map_err(link_err)?;
                PluginPre::Output(output::OutputPluginPre::new(pre).map_err(link_err)?)
            }
        };
        let mut plugin = LoadedPlugin {
            source,
            digest,
            kind,
            name: String::new(),
            version: String::new(),
            description: String::new(),
            needs_payload: true,
            wants_link_events: false,
            packed_flows: false,
            payload_flows_only: false,
            wit_package,
            imports,
            exports,
            pre,
        };
        let info =
            super::stage::describe(self, &plugin).map_err(|reason| PluginLoadError::Describe {
                source_name: source_name.clone(),
                reason,
            })?;
        plugin.name = info.name;
        plugin.version = info.version;
        plugin.description = info.description;
        plugin.needs_payload = info.needs_payload;
        plugin.wants_link_events = info.wants_link_events;
        plugin.packed_flows = info.packed_flows;
        plugin.payload_flows_only = info.payload_flows_only;
        Ok(plugin)
    }
}

impl Runtime {
    /// Compiles a component, or loads its machine code from the cache when this engine compiled the same
    /// bytes before (compiling costs 0.1–5 s per plugin; loading, a millisecond).
    fn compile(&self, bytes: &[u8], digest: &str) -> wasmtime::Result<Component> {
        let Some(dir) = cache_dir() else {
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

/// Reads the world from the export names: `pcapxray:plugin/analyzer@0.6.0`.
fn plugin_kind(
    source_name: &str,
    exports: &[String],
) -> Result<(StageKind, String), PluginLoadError> {
    for export in exports {
        let Some(rest) = export.strip_prefix(&format!("{WIT_PACKAGE}/")) else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, "?"));
        let kind = match iface {
            "analyzer" => StageKind::Analyzer,
            "output" => StageKind::Output,
            _ => continue,
        };
        if !compatible(version) {
            return Err(PluginLoadError::IncompatibleVersion {
                source_name: source_name.to_string(),
                found: format!("{WIT_PACKAGE}@{version}"),
            });
        }
        return Ok((kind, format!("{WIT_PACKAGE}@{version}")));
    }
    Err(PluginLoadError::NotAPlugin {
        source_name: source_name.to_string(),
        exports: if exports.is_empty() {
            "(none)".into()
        } else {
            exports.join(", ")
        },
    })
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
        let err = plugin_kind("x.wasm", &["pcapxray:plugin/analyzer@1.0.0".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pcapxray:plugin@1.0.0") && err.contains("pcapxray:plugin@0.6.0"),
            "{err}"
        );
    }
}
