//! `pcapxray plugin new`: a plugin folder that builds and runs unchanged, in Rust, Python or
//! JavaScript, so an author starts from a working detector with a test and a build script. Everything
//! it writes comes from this binary (the WIT package, and for Rust the SDK, see [`crate::embedded`]),
//! so it works without a pcapxray checkout and always matches the pcapxray that wrote it.

mod js;
mod names;
mod python;
mod rust;

use std::path::{Path, PathBuf};

/// The language of a new plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A cargo crate built for wasm32-wasip2 with the pcapxray plugin SDK.
    Rust,
    /// A Python module built with componentize-py.
    Python,
    /// A JavaScript module built with componentize-js.
    Js,
}

/// What a new plugin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Flows in; findings and host facts out.
    Analyzer,
    /// The annotated model in; report files out (Rust only).
    Output,
}

/// Why a plugin folder was not written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "`{0}` is not a usable plugin name: use lower-case letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} already exists and is not empty")]
    NotEmpty(PathBuf),
    #[error(
        "an output plugin can only be started in Rust (`--lang rust`); Python and JavaScript templates are analyzers"
    )]
    OutputNeedsRust,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A file of a new plugin: its path inside the folder and its text.
type File = (&'static str, String);

/// Writes a new plugin into `dir` (which must not exist or be empty) and returns the command that
/// builds it, for the user.
pub fn create(name: &str, lang: Lang, kind: Kind, dir: &Path) -> Result<String, TemplateError> {
    check_name(name)?;
    if lang != Lang::Rust && kind == Kind::Output {
        return Err(TemplateError::OutputNeedsRust);
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(TemplateError::NotEmpty(dir.to_path_buf()));
    }
    let mut files = match lang {
        Lang::Rust => rust::files(name, kind),
        Lang::Python => python::files(name),
        Lang::Js => js::files(name),
    };
    // Rust plugins have the names as the SDK's constants; the others get them as a list.
    if lang != Lang::Rust {
        files.push(("NAMES.md", names::markdown()));
    }
    write(dir, &files)?;
    let wrote = |path: PathBuf| {
        move |source| TemplateError::Write {
            path: path.clone(),
            source,
        }
    };
    crate::embedded::write_wit(&dir.join("wit")).map_err(wrote(dir.join("wit")))?;
    if lang == Lang::Rust {
        let sdk = dir.join(rust::SDK_DIR);
        crate::embedded::write_sdk(&sdk).map_err(wrote(sdk.clone()))?;
        crate::embedded::write_wit(&sdk.join("wit")).map_err(wrote(sdk.join("wit")))?;
    }
    set_executable(&dir.join("build.sh")).map_err(wrote(dir.join("build.sh")))?;
    Ok(format!("cd {} && ./build.sh", dir.display()))
}

fn check_name(name: &str) -> Result<(), TemplateError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(TemplateError::BadName(name.to_string()))
    }
}

fn write(dir: &Path, files: &[File]) -> Result<(), TemplateError> {
    for (file, text) in files {
        let path = dir.join(file);
        let result = match path.parent() {
            Some(parent) => {
                std::fs::create_dir_all(parent).and_then(|()| std::fs::write(&path, text))
            }
            None => std::fs::write(&path, text),
        };
        result.map_err(|source| TemplateError::Write { path, source })?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Fills `{{name}}`-style holes of a template.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |text, (k, v)| {
        text.replace(&format!("{{{{{k}}}}}"), v)
    })
}

/// The pipeline every template ships: the plugin on the given port, and report.json.
fn pipeline(wasm: &str) -> String {
    fill(
        r#"# Runs the plugin on a capture:  pcapxray run pipeline.toml CAPTURE.pcap
[[analyzer]]
plugin = "{{wasm}}"
config = { port = 80 }

[[output]]
plugin = "json"
"#,
        &[("wasm", wasm)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_not_make_a_crate_or_a_module_are_refused() {
        for bad in ["", "Big", "9lives", "a b", "a/b", "é"] {
            assert!(
                matches!(check_name(bad), Err(TemplateError::BadName(_))),
                "{bad:?}"
            );
        }
        for good in ["a", "port-watch", "port_watch2"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn every_language_writes_a_test_a_build_script_and_the_wit() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let dir = tempfile::tempdir().unwrap();
            let at = dir.path().join("port-watch");
            create("port-watch", lang, Kind::Analyzer, &at).unwrap();
            assert!(at.join("build.sh").is_file(), "{lang:?}");
            assert!(at.join("wit/worlds.wit").is_file(), "{lang:?}");
            // The SDK's copy stands alone: it reads its own wit/, as the published crate does.
            let sdk_wit = at.join(rust::SDK_DIR).join("wit/worlds.wit");
            assert_eq!(sdk_wit.is_file(), lang == Lang::Rust, "{lang:?}");
            assert!(at.join("pipeline.toml").is_file(), "{lang:?}");
            assert_eq!(
                at.join("NAMES.md").is_file(),
                lang != Lang::Rust,
                "{lang:?}"
            );
            let test = match lang {
                Lang::Rust => "src/lib.rs",
                Lang::Python => "test_detector.py",
                Lang::Js => "detector.test.js",
            };
            let text = std::fs::read_to_string(at.join(test)).unwrap();
            assert!(text.contains("test"), "{lang:?}");
            assert!(!text.contains("{{"), "{lang:?}: a hole is left in {test}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            create("x", Lang::Python, Kind::Output, &dir.path().join("x")),
            Err(TemplateError::OutputNeedsRust)
        ));
    }
}
