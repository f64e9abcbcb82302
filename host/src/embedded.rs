//! The WIT package and the Rust plugin SDK this binary was built with, as text packed in by `build.rs`.
//! They are what the runtime checks a component against and what `pcapxray wit` and `pcapxray plugin
//! new` write out, so a plugin author needs the binary alone, never the source checkout, and always
//! gets the interface this very binary speaks.

use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/authoring.rs"));

/// The WIT package as one file: `worlds.wit` (which names the package) first, then the other files.
/// Each file opens no scope of its own, so their concatenation is the same package.
pub fn wit_single_file() -> String {
    let mut files: Vec<&(&str, &str)> = WIT.iter().collect();
    files.sort_by_key(|(name, _)| (*name != "worlds.wit", *name));
    let mut text = String::new();
    for (name, body) in files {
        text.push_str(&format!("// ---- {name} ----\n{body}"));
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// Writes the WIT package's files into `dir` (created if missing; files of the same names replaced).
pub fn write_wit(dir: &Path) -> std::io::Result<()> {
    write_all(dir, WIT)
}

/// Writes the plugin SDK crate into `dir`. It reads the WIT from `dir/wit`, where [`write_wit`] must
/// put it.
pub fn write_sdk(dir: &Path) -> std::io::Result<()> {
    write_all(dir, SDK)
}

fn write_all(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_single_file_wit_is_the_package_the_runtime_speaks() {
        let mut resolve = wit_parser::Resolve::default();
        let id = resolve
            .push_str("plugin.wit", &wit_single_file())
            .expect("the single-file WIT parses");
        let package = &resolve.packages[id];
        assert_eq!(
            package.name.to_string(),
            format!(
                "{}@{}",
                crate::bindings::WIT_PACKAGE,
                crate::bindings::WIT_VERSION
            )
        );
        for world in ["analyzer-plugin", "output-plugin"] {
            assert!(package.worlds.contains_key(world), "{world}");
        }
    }

    #[test]
    fn the_sdk_manifest_has_no_workspace_inheritance_left() {
        let (_, manifest) = SDK.iter().find(|(n, _)| *n == "Cargo.toml").unwrap();
        assert!(!manifest.contains("workspace"), "{manifest}");
        assert!(manifest.contains("wit-bindgen = \"0.63.0\""), "{manifest}");
        assert!(SDK.iter().any(|(n, _)| *n == "src/lib.rs"));
    }
}
