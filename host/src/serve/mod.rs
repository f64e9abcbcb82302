//! `pcapxray serve`: the analysis as a local web application, for investigators who want to drop a
//! capture into a browser and look around instead of reading report files.
//!
//! The ancestor's GUI hung behind a progress bar that never ended, needed a display, and showed a static
//! picture. Here the server only moves bytes and state: uploads stream to disk under a size limit,
//! analyses run through the very same [`crate::run::run`] as the command line on blocking threads (at
//! most `--max-analyses` at a time, by default [`ANALYSES_AT_ONCE`], the rest queued), their progress is pushed to the page with
//! Server-Sent Events and always ends in "done" or a shown error, and everything the page explores is
//! computed in the browser from the run's `report.json` (and the traffic classes the `graph` output
//! decided, `graph/classes.json`), so changing a view never re-reads the capture.
//! Each case is a folder of its own (see [`cases`]); pages and scripts are embedded in the binary and
//! nothing is fetched from the network.

mod cases;
mod evidence;
mod explore;
mod files;
mod jobs;
mod pages;
mod routes;
mod upload;

use crate::pipeline::{self, Diagnostics};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many analyses run at the same time unless told otherwise; later uploads wait, shown as "queued".
pub const ANALYSES_AT_ONCE: usize = 2;

/// The shipped default pipeline, used when no pipeline file is given and `config/pipeline.toml` is not
/// in the current folder.
const BUILTIN_PIPELINE: &str = include_str!("../../../config/pipeline.toml");

/// What `pcapxray serve` needs.
pub struct ServeOptions {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    pub listen: SocketAddr,
    /// Pipeline file; `None` = `config/pipeline.toml` when present, else the built-in default.
    pub pipeline: Option<PathBuf>,
    /// Folder holding one sub-folder per case.
    pub data: PathBuf,
    /// Largest accepted upload, in bytes.
    pub max_upload: u64,
    /// Analyses that run at the same time (at least 1).
    pub analyses_at_once: usize,
    /// Lakes opened as cases at start (`--lake`): their captures' flows, joined across files.
    pub lakes: Vec<PathBuf>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the pipeline {path} has problems:\n{diagnostics}")]
    Pipeline {
        path: String,
        diagnostics: Diagnostics,
    },
    #[error("{0}")]
    Lake(crate::lake::LakeError),
    #[error("cannot use the data folder {path}: {source}")]
    Data {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the WebAssembly runtime: {0}")]
    Runtime(String),
    #[error("the web server stopped: {0}")]
    Server(std::io::Error),
}

/// The default data folder, `~/.local/share/pcapxray/cases`.
pub fn default_data_dir() -> PathBuf {
    pipeline::expand_home("~/.local/share/pcapxray/cases")
}

/// What every request handler shares.
pub(crate) struct App {
    pub store: Arc<cases::Store>,
    pub jobs: Arc<jobs::Jobs>,
    pub max_upload: u64,
    pub tor: TorFolders,
    /// What the last few uploads on the Tor relays page gave, by a random key: the form's post is
    /// answered with a redirect to `/tor?added=KEY`, which shows it (so reloading the page shows the
    /// result again instead of posting the files again).
    pub tor_results: std::sync::Mutex<std::collections::VecDeque<(String, TorResults)>>,
}

/// What one upload on the Tor relays page gave, file by file.
pub(crate) type TorResults = Vec<Result<crate::torimport::Imported, pages::UploadRefusal>>;

/// Where the Tor relays page keeps consensuses, and what the pipeline reads.
pub(crate) struct TorFolders {
    /// `<data>/tor`: where uploaded consensuses go.
    pub imported: PathBuf,
    /// The folders the pipeline's `tor` stages read consensuses from (empty: no `tor` stage).
    pub read: Vec<PathBuf>,
}

/// Starts the server and runs until Ctrl-C. Prints `listening on http://ADDR` on stdout once bound.
pub fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let data_err = |source| ServeError::Data {
        path: opts.data.display().to_string(),
        source,
    };
    let store = Arc::new(cases::Store::open(&opts.data).map_err(data_err)?);
    let data = std::path::absolute(&opts.data).map_err(data_err)?;
    let imported = crate::torimport::data_dir(&data);
    std::fs::create_dir_all(&imported).map_err(data_err)?;
    let pipeline = choose_pipeline(opts.pipeline.as_deref(), &data).map_err(data_err)?;
    let mut lakes = Vec::new();
    for root in &opts.lakes {
        // A wrong folder stops the server at once, as a broken pipeline does.
        let root = std::path::absolute(root).map_err(|source| ServeError::Data {
            path: root.display().to_string(),
            source,
        })?;
        crate::lake::read::captures(&root, None).map_err(ServeError::Lake)?;
        lakes.push(root);
    }
    let opts = ServeOptions { lakes, ..opts };
    let tor = TorFolders {
        imported,
        read: check_pipeline(&pipeline)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Server)?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Server)?;
        let jobs = jobs::Jobs::new(
            store.clone(),
            pipeline.clone(),
            opts.analyses_at_once.max(1),
            tor.read.clone(),
        );
        for root in &opts.lakes {
            let id = jobs.open_lake(root).map_err(|source| ServeError::Data {
                path: root.display().to_string(),
                source,
            })?;
            println!("lake {} is case /cases/{id}", root.display());
        }
        if !tor.read.contains(&tor.imported) {
            eprintln!(
                "note: the pipeline {} does not read {}, where the Tor relays page keeps consensuses; analyses use them only with that folder in its tor stage's `consensus` list and `files` grant.",
                pipeline.display(),
                tor.imported.display()
            );
        }
        let app = Arc::new(App {
            store,
            jobs,
            max_upload: opts.max_upload,
            tor,
            tor_results: Default::default(),
        });
        if !addr.ip().is_loopback() {
            eprintln!("{}", open_listen_warning(addr));
        }
        println!("listening on http://{addr}");
        println!("data folder {}", opts.data.display());
        println!("pipeline {}", pipeline.display());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let server = axum::serve(listener, routes::router(app)).into_future();
        tokio::select! {
            served = server => served.map_err(ServeError::Server),
            _ = tokio::signal::ctrl_c() => {
                // Analyses still running are marked interrupted the next time the folder is opened.
                println!("stopping");
                Ok(())
            }
        }
    });
    // Open connections (event streams) and running analyses are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Said when the server listens where other computers can reach it: nothing stands between them and
/// the cases.
fn open_listen_warning(addr: SocketAddr) -> String {
    format!(
        "warning: listening on {addr}, an address other computers can reach. pcapxray serve has no accounts \
         or passwords: anyone who can reach it can upload captures, read every case and its reports, and \
         delete cases. Listen on 127.0.0.1 (the default) unless every computer on this network may do that."
    )
}

/// Loads the pipeline and starts its plugins once, as `pcapxray validate` does, so that a broken
/// pipeline stops the server at once instead of failing every analysis. (Each analysis reads the file
/// again, so it can still be edited while the server runs.) Returns the folders its `tor` stages read
/// consensuses from.
fn check_pipeline(path: &Path) -> Result<Vec<PathBuf>, ServeError> {
    let failed = |diagnostics| ServeError::Pipeline {
        path: path.display().to_string(),
        diagnostics,
    };
    let loaded = pipeline::load(path, &crate::builtins::exists).map_err(failed)?;
    let rt = crate::runtime::Runtime::new().map_err(|e| ServeError::Runtime(format!("{e:#}")))?;
    let services = Arc::new(crate::caps::Services::default());
    crate::stages::start_stages(&rt, &loaded, &services).map_err(failed)?;
    Ok(tor_folders(&loaded))
}

/// The `consensus` sources of the pipeline's built-in `tor` stages, as absolute paths.
fn tor_folders(loaded: &pipeline::Pipeline) -> Vec<PathBuf> {
    let tor = pipeline::PluginSource::Builtin("tor".into());
    loaded
        .stages
        .iter()
        .filter(|s| s.source == tor)
        .flat_map(|s| {
            let list = s.config["consensus"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let base = s.grants.base_dir.clone();
            list.into_iter()
                .filter_map(|v| v.as_str().map(pipeline::expand_home))
                .map(move |p| pipeline::normalize(&base.join(p)))
        })
        .collect()
}

/// The built-in pipeline as the server writes it into its data folder: its `tor` stage also reads the
/// folder `tor` beside it, `<data>/tor`, where the Tor relays page keeps uploaded consensuses. The path
/// is relative to the pipeline file, so what the stage says about it (in report.json too) never names
/// the server's folders.
fn builtin_pipeline() -> String {
    const CONFIG: &str = "config = { consensus = [\"~/.local/share/pcapxray/tor\"] }";
    const GRANTS: &str = "grants = { files = [\"~/.local/share/pcapxray/tor\"] }";
    BUILTIN_PIPELINE
        .replacen(
            CONFIG,
            "config = { consensus = [\"~/.local/share/pcapxray/tor\", \"tor\"] }",
            1,
        )
        .replacen(
            GRANTS,
            "grants = { files = [\"~/.local/share/pcapxray/tor\", \"tor\"] }",
            1,
        )
}

/// The pipeline file to use: the one given, else `config/pipeline.toml`, else the built-in default
/// written into the data folder (a run reads its pipeline from a file).
fn choose_pipeline(given: Option<&Path>, data: &Path) -> std::io::Result<PathBuf> {
    if let Some(path) = given {
        return std::path::absolute(path);
    }
    let local = Path::new("config/pipeline.toml");
    if local.is_file() {
        return std::path::absolute(local);
    }
    let path = data.join("builtin-pipeline.toml");
    std::fs::write(&path, builtin_pipeline())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_pipeline_written_for_the_server_reads_its_tor_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = choose_pipeline(None, dir.path()).unwrap();
        let loaded = pipeline::load(&path, &crate::builtins::exists).unwrap();
        let expected = vec![
            pipeline::expand_home("~/.local/share/pcapxray/tor"),
            pipeline::normalize(&dir.path().join("tor")),
        ];
        assert_eq!(tor_folders(&loaded), expected);
        let tor = loaded.stages.iter().find(|s| s.name == "tor").unwrap();
        assert_eq!(tor.grants.files, expected);
    }
}
