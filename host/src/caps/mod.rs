//! What the host offers plugins beyond their sandbox, one file per capability. Nothing here is
//! reachable unless the pipeline grants it to the stage; a refusal names the stage and what it asked for.

pub mod dns;
pub mod extract;
pub mod files;
pub mod graphviz;
pub mod log;
pub mod queries;
pub mod sqlite;
pub mod whois;

use crate::flow::HostTable;
use crate::runtime::bindings::CapabilityError;
use std::sync::{Arc, Mutex};

/// Services shared by every stage of a run.
#[derive(Default)]
pub struct Services {
    pub log: log::Logger,
    pub hosts: Arc<Mutex<HostTable>>,
    /// Every query sent through a granted capability.
    pub queries: queries::QueryLog,
    /// The run's report folder (none while validating).
    pub out_dir: Option<std::path::PathBuf>,
    /// Files the host created for plugins (SQLite databases), for the run summary.
    pub created: Mutex<Vec<std::path::PathBuf>>,
}

/// The refusal a stage gets for a capability it was not granted.
pub fn not_granted(stage: &str, capability: &str, what: &str) -> CapabilityError {
    CapabilityError::NotGranted(format!(
        "stage `{stage}` asked {what}, but the pipeline does not grant it `{capability}` \
         (add it under [analyzer.grants] or [output.grants] to allow it)"
    ))
}

/// The answer for a capability that is granted but not built into this version of pcapxray.
pub fn not_available(capability: &str) -> CapabilityError {
    CapabilityError::Other(format!(
        "the `{capability}` capability is not available in this version of pcapxray"
    ))
}
