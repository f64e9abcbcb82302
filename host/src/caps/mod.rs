//! What the host offers plugins beyond their sandbox. Each capability is one module that owns its grant
//! (the type, its `grants.NAME` syntax in a pipeline and the checks of it) and the host side of its WIT
//! interface, implemented on [`Session`], a stage's capability state. This file registers them in one
//! place: [`Grants`] holds and reads every `grants.*` key, [`link_analyzer`] and [`link_output`] put
//! every capability interface into a linker. Nothing is reachable unless the pipeline grants it to the
//! stage; a refusal names the stage and what it asked for.

pub mod dns;
pub mod extract;
pub mod files;
pub mod graphviz;
pub mod log;
pub mod queries;
pub mod sqlite;
pub mod whois;

use crate::bindings::CapabilityError;
use crate::bindings::analyzer::pcapxray::plugin as shared;
use crate::bindings::output::pcapxray::plugin as output_only;
use crate::config::{TomlReader, expand_home, normalize};
use crate::flow::{HostNote, HostTable};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use toml::de::{DeTable, DeValue};
use wasmtime::component::{HasSelf, Linker};

/// Every capability, by the name of its WIT interface and of its `grants` key.
pub const NAMES: [&str; 6] = ["files", "dns", "whois", "sqlite", "graphviz", "extract"];

/// Capabilities granted to a stage. Nothing is granted by default.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// The pipeline file's folder: relative paths a plugin passes to a capability are resolved there.
    pub base_dir: PathBuf,
    /// Files and folders the stage may read (absolute paths).
    pub files: Vec<PathBuf>,
    /// DNS lookups through the host resolver.
    pub dns: Option<dns::DnsGrant>,
    /// RDAP lookups.
    pub whois: Option<whois::WhoisGrant>,
    /// SQLite databases in the report folder.
    pub sqlite: bool,
    /// Graphviz's `dot` program.
    pub graphviz: Option<graphviz::GraphvizGrant>,
    /// Writing found files into `files/` of the report folder.
    pub extract: Option<extract::ExtractGrant>,
}

impl Grants {
    /// The capabilities granted, by the name of their WIT interface (`files`, `dns`, ...).
    pub fn granted(&self) -> Vec<&'static str> {
        [
            ("files", !self.files.is_empty()),
            ("dns", self.dns.is_some()),
            ("whois", self.whois.is_some()),
            ("sqlite", self.sqlite),
            ("graphviz", self.graphviz.is_some()),
            ("extract", self.extract.is_some()),
        ]
        .into_iter()
        .filter_map(|(cap, granted)| granted.then_some(cap))
        .collect()
    }

    /// Reads a stage's `grants` table; `base` is the pipeline file's folder. Problems go to `r`.
    pub fn from_toml(r: &mut TomlReader, table: &DeTable, stage: &str, base: &Path) -> Grants {
        let mut grants = Grants {
            base_dir: normalize(base),
            ..Grants::default()
        };
        for (key, v) in table.iter() {
            match key.get_ref().as_ref() {
                "files" => grants.files = files::grant_from_toml(r, v, stage, base),
                "dns" => grants.dns = dns::grant_from_toml(r, v, stage),
                "whois" => grants.whois = whois::grant_from_toml(r, v, stage),
                "sqlite" => match v.get_ref() {
                    DeValue::Boolean(b) => grants.sqlite = *b,
                    _ => r.err(
                        v.span(),
                        format!("stage `{stage}`: `grants.sqlite` must be true or false"),
                    ),
                },
                "graphviz" => grants.graphviz = graphviz::grant_from_toml(r, v, stage),
                "extract" => grants.extract = extract::grant_from_toml(r, v, stage),
                other => r.err(
                    key.span(),
                    format!(
                        "stage `{stage}`: unknown capability `{other}`; grantable are {}",
                        names_in_words()
                    ),
                ),
            }
        }
        grants
    }
}

/// "files, dns, whois, sqlite, graphviz and extract".
fn names_in_words() -> String {
    let (last, rest) = NAMES.split_last().expect("capabilities exist");
    format!("{} and {last}", rest.join(", "))
}

/// Services shared by every stage of a run.
#[derive(Default)]
pub struct Services {
    pub log: log::Logger,
    pub hosts: Arc<Mutex<HostTable>>,
    /// Every query sent through a granted capability.
    pub queries: queries::QueryLog,
    /// The run's report folder (none while validating).
    pub out_dir: Option<PathBuf>,
    /// Files the host created for plugins (SQLite databases), for the run summary.
    pub created: Mutex<Vec<PathBuf>>,
    /// Set when the run is cancelled (the web interface's Cancel button): the read loop stops, and a
    /// plugin call in progress is interrupted at the next epoch tick.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

impl Services {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A stage's capability state: its grants, the run's services and what each capability keeps open
/// (a resolver, databases, files being extracted).
pub struct Session {
    /// The stage name, for log lines and refusals.
    pub stage: String,
    pub grants: Grants,
    pub services: Arc<Services>,
    /// Time spent in capability calls (DNS, RDAP) since the last epoch deadline: it does not count
    /// against the stage's call time limit.
    pub host_time: std::time::Duration,
    dns: Option<Result<dns::Dns, CapabilityError>>,
    whois: Option<whois::Whois>,
    databases: sqlite::Databases,
    extractor: extract::Extractor,
}

impl Session {
    pub fn new(stage: &str, grants: Grants, services: Arc<Services>) -> Session {
        Session {
            stage: stage.to_string(),
            grants,
            services,
            host_time: std::time::Duration::ZERO,
            dns: None,
            whois: None,
            databases: Default::default(),
            extractor: Default::default(),
        }
    }

    /// Adds facts learnt through a capability to the host table, under this stage's name.
    fn note(&self, ip: IpAddr, key: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let note = HostNote {
            stage: self.stage.clone(),
            key: key.into(),
            value: value.into(),
            observed: None,
        };
        self.services
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_note(ip, note);
    }

    /// Records files the host created for the stage, for the run summary.
    fn register(&self, created: Vec<PathBuf>) {
        if !created.is_empty() {
            self.services
                .created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(created);
        }
    }

    /// The report folder, for capabilities that write into it.
    fn report_dir(&self) -> Result<PathBuf, CapabilityError> {
        self.services.out_dir.clone().ok_or_else(|| {
            CapabilityError::Other("there is no report folder while validating a pipeline".into())
        })
    }

    /// Removes the bytes of files the plugin left open (it ended or was stopped).
    pub fn abandon_extractions(&mut self) {
        self.extractor.abandon();
    }
}

impl shared::capability::Host for Session {}

/// Links the capabilities of the analyzer world; `get` finds a store's [`Session`].
pub fn link_analyzer<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Session,
) -> wasmtime::Result<()> {
    shared::capability::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::files::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::dns::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::whois::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::extract::add_to_linker::<T, HasSelf<Session>>(linker, get)
}

/// Links the capabilities of the output world; `get` finds a store's [`Session`].
pub fn link_output<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Session,
) -> wasmtime::Result<()> {
    shared::capability::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::files::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::dns::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    shared::whois::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    output_only::sqlite::add_to_linker::<T, HasSelf<Session>>(linker, get)?;
    output_only::graphviz::add_to_linker::<T, HasSelf<Session>>(linker, get)
}

/// The refusal a stage gets for a capability it was not granted.
pub fn not_granted(stage: &str, capability: &str, what: &str) -> CapabilityError {
    CapabilityError::NotGranted(format!(
        "stage `{stage}` asked {what}, but the pipeline does not grant it `{capability}` \
         (add it under [analyzer.grants] or [output.grants] to allow it)"
    ))
}

/// `~/` and relative paths in what a plugin asks for mean what they mean in the pipeline file.
fn resolve_like_pipeline(grants: &Grants, path: &str) -> PathBuf {
    normalize(&grants.base_dir.join(expand_home(path)))
}
