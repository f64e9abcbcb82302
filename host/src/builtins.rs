//! The plugins compiled into the binary by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component bytes of a built-in plugin.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// True when `name` is a built-in plugin.
pub fn exists(name: &str) -> bool {
    get(name).is_some()
}

/// Folder holding the plugins built by `build.rs`, test-only ones included (for the test suite).
pub const BUILD_DIR: &str = env!("PCAPXRAY_PLUGIN_DIR");
