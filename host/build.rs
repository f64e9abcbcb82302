//! Builds the plugins for wasm32-wasip2 with a nested cargo (in its own target dir, or it would deadlock
//! on the outer build's lock) and embeds the built-in ones, so `pcapxray` is a single file.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    for path in [
        "host/build.rs",
        "plugins",
        "plugin-sdk",
        "wit",
        "tests/plugins",
        "config/data",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    check_target();

    let builtins = crates_in(&root.join("plugins"));
    let test_plugins = crates_in(&root.join("tests/plugins"));
    let target_dir = root.join("target").join("wasm-plugins");
    let all: Vec<&String> = builtins.iter().chain(test_plugins.iter()).collect();
    if !all.is_empty() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .args([
                "build",
                "--profile",
                "wasm",
                "--target",
                TARGET,
                "--target-dir",
            ])
            .arg(&target_dir);
        for name in &all {
            cmd.args(["-p", name]);
        }
        // The outer build's environment (target dir, rustflags, jobserver) must not leak into the nested one.
        cmd.env_clear();
        for var in [
            "PATH",
            "HOME",
            "RUSTUP_HOME",
            "CARGO_HOME",
            "RUSTUP_TOOLCHAIN",
            "TMPDIR",
            "CARGO_NET_OFFLINE",
        ] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        let status = cmd.status().expect("cannot run cargo to build the plugins");
        if !status.success() {
            panic!("building the plugins for {TARGET} failed (see the cargo output above)");
        }
    }

    let out_dir = target_dir.join(TARGET).join("wasm");
    let mut code = String::from(
        "/// Built-in plugins: (name, component bytes).\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for krate in &builtins {
        let file = out_dir.join(format!("{}.wasm", krate.replace('-', "_")));
        let name = krate.strip_prefix("pcapxray-plugin-").unwrap_or(krate);
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(PathBuf::from(env("OUT_DIR")).join("builtins.rs"), code)
        .expect("write builtins.rs");
    println!("cargo:rustc-env=PCAPXRAY_PLUGIN_DIR={}", out_dir.display());
    embed_authoring_files(&root);
}

/// Writes `authoring.rs`: the WIT package, the plugin SDK (its manifest made standalone) and the
/// workspace's Cargo.lock, so `pcapxray wit` and `pcapxray plugin new` work from the binary alone.
fn embed_authoring_files(root: &Path) {
    let out = PathBuf::from(env("OUT_DIR"));
    let manifest = standalone_sdk_manifest(root);
    let manifest_path = out.join("sdk-Cargo.toml");
    std::fs::write(&manifest_path, manifest).expect("write the SDK's standalone manifest");
    let mut sdk = vec![("Cargo.toml".to_string(), manifest_path)];
    for file in files_under(&root.join("plugin-sdk/src")) {
        let inside = file
            .strip_prefix(root.join("plugin-sdk"))
            .expect("under the SDK");
        sdk.push((inside.to_string_lossy().replace('\\', "/"), file));
    }
    let wit: Vec<(String, PathBuf)> = files_under(&root.join("wit"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "wit"))
        .map(|f| (f.file_name().unwrap().to_string_lossy().into_owned(), f))
        .collect();
    let list = |files: &[(String, PathBuf)]| -> String {
        files
            .iter()
            .map(|(name, path)| {
                format!(
                    "    ({name:?}, include_str!({:?})),\n",
                    path.display().to_string()
                )
            })
            .collect()
    };
    let code = format!(
        "/// The WIT package: (file name, text).\npub static WIT: &[(&str, &str)] = &[\n{}];\n\
         /// The plugin SDK: (path inside its crate, text).\npub static SDK: &[(&str, &str)] = &[\n{}];\n\
         /// The workspace's lock file: the versions the SDK was built and tested with.\n\
         pub static CARGO_LOCK: &str = include_str!({:?});\n",
        list(&wit),
        list(&sdk),
        root.join("Cargo.lock").display().to_string()
    );
    std::fs::write(out.join("authoring.rs"), code).expect("write authoring.rs");
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The SDK's Cargo.toml with every `workspace = true` replaced by the workspace's value, so the copy
/// `plugin new` writes builds outside this workspace.
fn standalone_sdk_manifest(root: &Path) -> String {
    let read = |p: &str| {
        std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("cannot read {p}: {e}"))
    };
    let workspace = read("Cargo.toml");
    let package = section_values(&workspace, "[workspace.package]");
    let deps = section_values(&workspace, "[workspace.dependencies]");
    let mut text = String::from(
        "# The pcapxray plugin SDK, written by `pcapxray plugin new` from the pcapxray binary.\n",
    );
    for line in read("plugin-sdk/Cargo.toml").lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let value = if let Some(field) = key.strip_suffix(".workspace") {
            Some((field, package.get(field)))
        } else if line.ends_with("{ workspace = true }") {
            Some((key, deps.get(key)))
        } else {
            None
        };
        match value {
            None => text.push_str(line),
            Some((k, Some(v))) => text.push_str(&format!("{k} = {v}")),
            Some((k, None)) => {
                panic!("plugin-sdk/Cargo.toml: `{k}` is not in the workspace's Cargo.toml")
            }
        }
        text.push('\n');
    }
    text
}

/// `key = value` lines of one section of a TOML file (values kept as TOML text).
fn section_values(toml: &str, header: &str) -> std::collections::HashMap<String, String> {
    let mut values = std::collections::HashMap::new();
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
        } else if inside && let Some((k, v)) = line.split_once('=') {
            values.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    values
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("cargo did not set {var}"))
}

/// Stops the build with the one command that fixes a missing target.
fn check_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed =
        sysroot.is_some_and(|s| Path::new(&s).join("lib/rustlib").join(TARGET).is_dir());
    if !installed {
        panic!(
            "\n\nThe {TARGET} target is not installed, and pcapxray's plugins are built for it.\n\
             Install it with:\n\n    rustup target add {TARGET}\n\nthen build again.\n"
        );
    }
}

/// Package names of the crates directly under `dir` (sorted).
fn crates_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("Cargo.toml")).ok())
        .filter_map(|toml| package_name(&toml))
        .collect();
    names.sort();
    names
}

fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest
                .trim_start()
                .strip_prefix('=')?
                .trim()
                .trim_matches('"');
            return Some(value.to_string());
        }
    }
    None
}
