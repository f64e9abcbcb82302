//! Command-line parsing and what each command prints. Exit codes: 0 ok, 1 fatal, 2 finished with errors.

use clap::{Parser, Subcommand};
use pcapxray::lake::LakeOptions;
use pcapxray::pipeline::{self, PluginSource};
use pcapxray::run::{RunError, RunOptions, RunSummary};
use pcapxray::{builtins, runtime, stages};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "pcapxray",
    version,
    about = "Network forensics: a packet capture in, a network diagram and reports out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze a capture with a pipeline and write the reports.
    Run {
        /// The pipeline file (TOML), e.g. config/pipeline.toml.
        pipeline: PathBuf,
        /// The capture (pcap or pcapng).
        #[arg(required_unless_present = "from_lake")]
        capture: Option<PathBuf>,
        /// Report folder [default: <capture name>-report in the current folder].
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Print plugin debug messages, and what each stage cost (calls, seconds, peak memory).
        #[arg(short, long)]
        verbose: bool,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
        /// Also write the run's flows, findings, hosts and files as Parquet tables into this lake
        /// folder, partitioned by sensor, date and capture (docs/lake.md). Running a capture again
        /// replaces its partitions.
        #[arg(long, value_name = "ROOT")]
        lake: Option<PathBuf>,
        /// The sensor (or case) name of the lake's partitions and flow ids [default: default]; with
        /// --from-lake, only this sensor's captures.
        #[arg(long)]
        sensor: Option<String>,
        /// Instead of a capture, analyze the flows of every capture of this lake, pieces of flows
        /// cut by file rotation joined into whole flows (docs/lake.md): detectors that need state
        /// across files (scans, beacons) see them all. The lake holds no payloads.
        #[arg(long, value_name = "ROOT", conflicts_with_all = ["capture", "lake"])]
        from_lake: Option<PathBuf>,
    },
    /// Analyze many captures into one lake with a pool of workers: `run --lake` for each capture,
    /// in the order given; the lake is the same whatever the number of workers (docs/lake.md).
    Batch {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Capture files, or folders whose .pcap, .pcapng and .cap files are taken (sorted by name).
        #[arg(required = true)]
        captures: Vec<PathBuf>,
        /// The lake folder.
        #[arg(long, value_name = "ROOT")]
        lake: PathBuf,
        /// The sensor (or case) name of the lake's partitions and flow ids [default: default].
        #[arg(long)]
        sensor: Option<String>,
        /// Captures analyzed at once.
        #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: u16,
        /// Keep each capture's report folder here (`NNNN-<name>-report`) [default: keep none].
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// Check a pipeline file: every error, with line and column. Plugins are loaded and configured.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// List the built-in plugins, inspect a component (`plugins inspect FILE.wasm`), or start a new
    /// plugin in Rust, Python or JavaScript (`plugin new NAME --lang rust|python|js`).
    #[command(visible_alias = "plugin")]
    Plugins {
        #[command(subcommand)]
        command: Option<PluginsCommand>,
    },
    /// Start the web interface: upload captures, follow the analysis, explore the results.
    Serve {
        /// Address to listen on (port 0 picks a free port; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Pipeline for every analysis [default: config/pipeline.toml if present, else the built-in
        /// default].
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Folder for the cases (uploaded captures and their reports).
        #[arg(long, default_value_os_t = pcapxray::serve::default_data_dir())]
        data: PathBuf,
        /// Largest accepted upload, in MiB.
        #[arg(long = "max-upload-mb", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        max_upload_mb: u64,
        /// Analyses that run at the same time; later uploads wait, shown as "queued".
        #[arg(long = "max-analyses", default_value_t = pcapxray::serve::ANALYSES_AT_ONCE as u16, value_parser = clap::value_parser!(u16).range(1..=64))]
        max_analyses: u16,
        /// Open this lake as a case (repeatable): the flows of all its captures, joined across
        /// rotated files, with their hosts, findings and diagram (as `run --from-lake`). The case is
        /// analyzed again at every start.
        #[arg(long, value_name = "ROOT")]
        lake: Vec<PathBuf>,
    },
    /// Print the WIT package plugins are built against (one file), or write its files into a folder.
    Wit {
        /// Write the package's files into this folder instead of printing them.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Tor relay data for the `tor` analyzer.
    Tor {
        #[command(subcommand)]
        command: TorCommand,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Show what a plugin component is: name, kind, version, WIT version, imports (capabilities it may
    /// ask for, and which a pipeline grants), exports and content digest. A component this pcapxray
    /// cannot link is shown with the imports it lacks.
    Inspect {
        /// The .wasm component.
        file: PathBuf,
        /// A pipeline whose stages running this component show what they are granted.
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
    /// Start a plugin: a working detector (flows to a configured port) with a unit test, a build
    /// script, a pipeline and this pcapxray's WIT (and, for Rust, its plugin SDK).
    New {
        /// Plugin name (lower case, digits, `-`/`_`); also the folder created.
        name: String,
        /// The language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: pcapxray::template::Lang,
        /// What the plugin is (an output only in Rust).
        #[arg(long, value_enum, default_value = "analyzer")]
        kind: pcapxray::template::Kind,
        /// Where to create it [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TorCommand {
    /// Download the current consensus from the Tor directory authorities (the only command that goes
    /// online; analyses never do).
    Fetch {
        /// Folder to store it in.
        #[arg(long, default_value_os_t = pcapxray::torfetch::default_dir())]
        dir: PathBuf,
        /// Consensus URL to use instead of the directory authorities (repeatable).
        #[arg(long = "from")]
        from: Vec<String>,
        /// Seconds to wait for each source.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Store consensus files or Tor Metrics monthly archives (consensuses-YYYY-MM.tar.xz) for relay
    /// matching on their dates, offline.
    Import {
        /// Consensus documents, or .tar / .tar.xz / .xz archives of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Folder to store them in (the one the default pipeline reads).
        #[arg(long, default_value_os_t = pcapxray::torfetch::default_dir())]
        dir: PathBuf,
    },
}

pub fn main() -> i32 {
    // A usage error exits 1 (nothing was analyzed), not clap's 2, which pcapxray keeps for "a report
    // was written but is incomplete"; --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    match cli.command {
        Command::Run {
            pipeline,
            capture,
            out,
            verbose,
            quiet,
            lake,
            sensor,
            from_lake,
        } => {
            if sensor.is_some() && lake.is_none() && from_lake.is_none() {
                eprintln!("error: --sensor needs --lake or --from-lake");
                return 1;
            }
            let from_lake = from_lake.map(|root| pcapxray::run::FromLake {
                root,
                sensor: sensor.clone(),
            });
            let capture = match (capture, &from_lake) {
                (Some(c), _) => c,
                (None, Some(lake)) => lake.root.clone(),
                (None, None) => unreachable!("clap requires a capture or --from-lake"),
            };
            run(
                pipeline,
                capture,
                out,
                verbose,
                quiet,
                lake_options(lake, sensor),
                from_lake,
            )
        }
        Command::Batch {
            pipeline,
            captures,
            lake,
            sensor,
            jobs,
            out,
        } => batch(
            pipeline,
            &captures,
            lake_options(Some(lake), sensor),
            jobs,
            out,
        ),
        Command::Validate { pipeline } => validate(&pipeline),
        Command::Plugins { command: None } => plugins(),
        Command::Plugins {
            command: Some(PluginsCommand::Inspect { file, pipeline }),
        } => inspect(&file, pipeline.as_deref()),
        Command::Plugins {
            command:
                Some(PluginsCommand::New {
                    name,
                    lang,
                    kind,
                    dir,
                }),
        } => plugin_new(&name, lang, kind, dir),
        Command::Wit { out } => wit(out.as_deref()),
        Command::Serve {
            listen,
            pipeline,
            data,
            max_upload_mb,
            max_analyses,
            lake,
        } => serve(pcapxray::serve::ServeOptions {
            listen,
            pipeline,
            data,
            max_upload: max_upload_mb << 20,
            analyses_at_once: usize::from(max_analyses),
            lakes: lake,
        }),
        Command::Tor {
            command: TorCommand::Fetch { dir, from, timeout },
        } => tor_fetch(&dir, from, timeout),
        Command::Tor {
            command: TorCommand::Import { files, dir },
        } => tor_import(&files, &dir),
    }
}

/// The lake of `run --lake`, its sensor name checked (or why it is refused).
fn lake_options(
    root: Option<PathBuf>,
    sensor: Option<String>,
) -> Result<Option<LakeOptions>, String> {
    let Some(root) = root else {
        return Ok(None);
    };
    let sensor = sensor.unwrap_or_else(|| pcapxray::lake::DEFAULT_SENSOR.to_string());
    pcapxray::lake::check_sensor(&sensor).map_err(|e| e.to_string())?;
    Ok(Some(LakeOptions { root, sensor }))
}

fn run(
    pipeline: PathBuf,
    capture: PathBuf,
    out: Option<PathBuf>,
    verbose: bool,
    quiet: bool,
    lake: Result<Option<LakeOptions>, String>,
    from_lake: Option<pcapxray::run::FromLake>,
) -> i32 {
    let lake = match lake {
        Ok(lake) => lake,
        Err(e) => {
            eprintln!("error: --sensor: {e}");
            return 1;
        }
    };
    let out_dir = out.unwrap_or_else(|| default_out_dir(&capture));
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let opts = RunOptions {
        pipeline,
        capture,
        evidence_name: None,
        out_dir,
        verbose,
        bar: bar.clone(),
        on_progress: None,
        from_lake,
        cancel: Some(cancel_on_ctrl_c("the run is cancelled and writes nothing")),
    };
    let result = pcapxray::run::run_into_lake(opts, lake);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            print_summary(&summary, verbose);
            summary.exit_code()
        }
        Err(RunError::Pipeline(diagnostics)) => {
            eprintln!("{diagnostics}");
            eprintln!(
                "error: the pipeline has {} problem(s); nothing was analyzed",
                diagnostics.0.len()
            );
            1
        }
        Err(e @ RunError::Cancelled { .. }) => {
            eprintln!("error: {e}; the report folder was left as it was");
            130
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Ctrl-C during `run` or `batch`: the first cancels (a run stops within moments, a plugin call in
/// progress included, and writes nothing; says `message`), a second ends the process at once. Exit
/// code 130.
fn cancel_on_ctrl_c(message: &'static str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let set = flag.clone();
    // Without this thread (it could not start) Ctrl-C keeps its default: the process ends at once.
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                set.store(true, std::sync::atomic::Ordering::Relaxed);
                eprintln!("\nstopping: {message} (Ctrl-C again to quit at once)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            });
        });
    flag
}

fn batch(
    pipeline: PathBuf,
    captures: &[PathBuf],
    lake: Result<Option<LakeOptions>, String>,
    jobs: u16,
    out: Option<PathBuf>,
) -> i32 {
    let (lake, captures) = match (lake, pcapxray::batch::expand(captures)) {
        (Ok(Some(lake)), Ok(captures)) => (lake, captures),
        (Err(e), _) => {
            eprintln!("error: --sensor: {e}");
            return 1;
        }
        (_, Err(e)) => {
            eprintln!("error: {e}");
            return 1;
        }
        (Ok(None), _) => unreachable!("batch always has a lake"),
    };
    let opts = pcapxray::batch::BatchOptions {
        pipeline,
        captures,
        lake,
        jobs: usize::from(jobs),
        out,
        cancel: Some(cancel_on_ctrl_c(
            "the batch is cancelled: captures being analyzed stop and write nothing, queued ones do not start",
        )),
    };
    let started = std::time::Instant::now();
    let items = pcapxray::batch::batch(&opts);
    let (mut failed, mut incomplete) = (false, false);
    let (mut done, mut stopped, mut not_started) = (0, 0, 0);
    for item in &items {
        let name = item.capture.display();
        match &item.result {
            _ if item.not_started => {
                println!("{name}: not started: the batch was cancelled");
                not_started += 1;
            }
            Err(e @ pcapxray::run::RunError::Cancelled { .. }) => {
                println!("{name}: cancelled: {e}; run it again to have it in the lake");
                stopped += 1;
            }
            Ok((flows, problems)) => {
                done += 1;
                println!("{name}: {flows} flows in {:.2} s", item.seconds);
                for p in problems {
                    println!("  incomplete: {p}");
                    incomplete = true;
                }
            }
            Err(e) => {
                println!("{name}: failed: {e}");
                failed = true;
            }
        }
    }
    println!(
        "{} captures, {} jobs, {:.2} s",
        items.len(),
        jobs,
        started.elapsed().as_secs_f64()
    );
    if stopped + not_started > 0 {
        eprintln!(
            "error: the batch was cancelled: {done} captures were analyzed into the lake, {stopped} stopped while being analyzed and {not_started} never started; run the batch again on those to add them"
        );
        return 130;
    }
    if failed {
        1
    } else if incomplete {
        2
    } else {
        0
    }
}

fn default_out_dir(capture: &Path) -> PathBuf {
    let stem = capture
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("capture");
    PathBuf::from(format!("{stem}-report"))
}

fn print_summary(s: &RunSummary, verbose: bool) {
    println!("capture   {}", s.capture);
    println!("packets   {} ({} bytes)", s.packets, s.bytes);
    println!(
        "flows     {} (at most {} active at once)",
        s.flows, s.max_active_flows
    );
    println!("hosts     {}", s.hosts);
    if s.findings_by_tag.is_empty() {
        println!("findings  none");
    } else {
        println!(
            "findings  {} as the reports list them ({} findings on flows, listed once per roll-up of the same stage, tag, severity and summary between the same two hosts)",
            s.findings_by_tag.values().sum::<u64>(),
            s.flow_findings
        );
        for (tag, n) in &s.findings_by_tag {
            println!("  {n:>7}  {tag}");
        }
    }
    if !s.notes.is_empty() {
        println!("run notes {}", s.notes.len());
        for n in &s.notes {
            println!("  {n}");
        }
    }
    print_fates(s);
    let rate = if s.seconds > 0.0 {
        s.packets as f64 / s.seconds
    } else {
        0.0
    };
    println!("time      {:.2} s ({:.0} packets/s)", s.seconds, rate);
    if s.scratch_bytes > 0 {
        println!(
            "scratch   {:.1} MB on disk for the roll-ups of flow findings (a scratch file, removed at the end)",
            s.scratch_bytes as f64 / 1e6
        );
    }
    if verbose {
        for st in &s.stages {
            println!(
                "  {:<12} {:>7} calls {:>8.2} s ({:.2} s in finish) {:>7.1} MiB peak memory",
                st.stage,
                st.calls,
                st.seconds,
                st.finish_seconds,
                st.peak_memory as f64 / (1 << 20) as f64
            );
        }
        for st in &s.stages {
            for (stream, printed) in [("stderr", &st.printed), ("stdout", &st.printed_to_stdout)] {
                if let Some(printed) = printed {
                    println!("stage `{}` printed to {stream}:", st.stage);
                    for line in printed.lines() {
                        println!("    {line}");
                    }
                }
            }
        }
    }
    println!("report    {}", s.out_dir.display());
    for f in &s.files {
        println!("  {}", f.strip_prefix(&s.out_dir).unwrap_or(f).display());
    }
    if !s.problems.is_empty() {
        println!("INCOMPLETE: {} problem(s):", s.problems.len());
        for p in &s.problems {
            println!("  - {p}");
        }
    }
}

/// What became of the packets (they sum to the packets read), then the timestamp anomalies.
fn print_fates(s: &RunSummary) {
    if !s.packet_fates.is_empty() {
        println!("packets by fate");
        for f in &s.packet_fates {
            println!("  {:>7}  {}  [{}]", f.packets, f.label, f.key);
        }
    }
    for note in &s.timestamp_anomalies {
        println!("clock     {note}");
    }
}

fn validate(path: &Path) -> i32 {
    let pipeline = match pipeline::load(path, &builtins::exists) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            eprintln!("error: {} problem(s) in {}", d.0.len(), path.display());
            return 1;
        }
    };
    let rt = match runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the WebAssembly runtime: {e:#}");
            return 1;
        }
    };
    let services = std::sync::Arc::new(pcapxray::caps::Services::default());
    match stages::start_stages(&rt, &pipeline, &services) {
        Ok(stages) => {
            let warnings = stages::grant_warnings(&pipeline, &stages);
            for w in &warnings {
                eprintln!("{w}");
            }
            let noted = match warnings.len() {
                0 => String::new(),
                n => format!(" with {n} warning(s)"),
            };
            let started = stages.plugins(&pipeline);
            println!("{}: ok{noted}, {} stage(s)", path.display(), started.len());
            for (spec, plugin) in started {
                println!(
                    "  {:<8} {:<12} {} {}",
                    spec.kind.as_str(),
                    spec.name,
                    plugin.name,
                    plugin.version
                );
            }
            0
        }
        Err(d) => {
            eprintln!("{d}");
            eprintln!("error: {} problem(s) in {}", d.0.len(), path.display());
            1
        }
    }
}

fn plugins() -> i32 {
    let rt = match runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the WebAssembly runtime: {e:#}");
            return 1;
        }
    };
    let mut status = 0;
    for (name, _) in builtins::BUILTINS {
        match stages::load_one(&rt, &PluginSource::Builtin(name.to_string())) {
            Ok(p) => println!(
                "{:<12} {:<8} {:<8} {}",
                p.name,
                p.kind.as_str(),
                p.version,
                p.description
            ),
            Err(e) => {
                eprintln!("error: {e}");
                status = 1;
            }
        }
    }
    status
}

fn serve(opts: pcapxray::serve::ServeOptions) -> i32 {
    match pcapxray::serve::serve(opts) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn tor_fetch(dir: &Path, from: Vec<String>, timeout: u64) -> i32 {
    let sources = if from.is_empty() {
        pcapxray::torfetch::authority_urls()
    } else {
        from
    };
    match pcapxray::torfetch::fetch(&sources, dir, std::time::Duration::from_secs(timeout)) {
        Ok((path, validity)) => {
            println!("saved {} ({validity})", path.display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Imports every file; fails (1) when one could not be read or none held a consensus.
fn tor_import(files: &[PathBuf], dir: &Path) -> i32 {
    let mut code = 0;
    let mut stored = 0;
    for file in files {
        match pcapxray::torimport::import(file, &file.display().to_string(), dir) {
            Ok(got) => {
                stored += got.stored.len();
                println!("{}", got.describe());
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = 1;
            }
        }
    }
    let docs = pcapxray::torimport::list(dir);
    let spans: Vec<String> = pcapxray::torimport::coverage(&docs)
        .iter()
        .map(|(from, to)| format!("{from} to {to}"))
        .collect();
    println!(
        "{} now holds {} consensuses, covering (UTC) {}",
        dir.display(),
        docs.len(),
        if spans.is_empty() {
            "nothing".to_string()
        } else {
            spans.join(", ")
        }
    );
    if stored == 0 {
        eprintln!("error: no consensus was stored");
        code = 1;
    }
    code
}

fn plugin_new(
    name: &str,
    lang: pcapxray::template::Lang,
    kind: pcapxray::template::Kind,
    dir: Option<PathBuf>,
) -> i32 {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    match pcapxray::template::create(name, lang, kind, &dir) {
        Ok(build) => {
            println!("created {} — build it with:", dir.display());
            println!("  {build}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn wit(out: Option<&Path>) -> i32 {
    let Some(dir) = out else {
        print!("{}", pcapxray::embedded::wit_single_file());
        return 0;
    };
    match pcapxray::embedded::write_wit(dir) {
        Ok(()) => {
            println!(
                "wrote {}@{} into {}",
                runtime::WIT_PACKAGE,
                runtime::WIT_VERSION,
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: cannot write the WIT package: {e}");
            1
        }
    }
}

fn inspect(file: &Path, pipeline_path: Option<&Path>) -> i32 {
    let rt = match runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the WebAssembly runtime: {e:#}");
            return 1;
        }
    };
    let inspected = match stages::inspect_one(&rt, &PluginSource::File(file.to_path_buf())) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    println!("file         {}", file.display());
    let (imports, exports, digest) = match &inspected {
        runtime::Inspected::Linked(p) => {
            print_plugin(p);
            (&p.imports, &p.exports, &p.digest)
        }
        runtime::Inspected::Unlinked(u) => {
            println!("kind         {}", u.declared.kind.as_str());
            println!("wit          {}", u.declared.wit_package);
            println!("links        NO: {}", u.reason());
            for m in &u.missing {
                println!("  missing    {m}");
            }
            (&u.declared.imports, &u.declared.exports, &u.digest)
        }
    };
    println!("digest       sha256:{digest}");
    let code = print_capabilities(file, imports, pipeline_path);
    println!("imports");
    for i in imports {
        println!("  {i}");
    }
    println!("exports");
    for e in exports {
        println!("  {e}");
    }
    match (&inspected, code) {
        (runtime::Inspected::Unlinked(_), _) => 2,
        (_, code) => code,
    }
}

fn print_plugin(p: &runtime::LoadedPlugin) {
    println!("name         {}", p.name);
    println!("kind         {}", p.kind.as_str());
    println!("version      {}", p.version);
    println!("description  {}", p.description);
    println!("wit          {}", p.wit_package);
    println!("links        yes");
    println!(
        "payloads     {}",
        if p.needs_payload {
            "reads flow payloads"
        } else {
            "does not read payloads"
        }
    );
    println!(
        "flows        {}{}",
        if p.packed_flows {
            "fetched packed (batch.flows)"
        } else {
            "passed as records"
        },
        if p.payload_flows_only {
            ", only those that carried payload"
        } else {
            ""
        }
    );
}

/// The grantable capabilities a component imports and, with a pipeline, what each of its stages that
/// runs this file is granted. An import is no use: Python and JavaScript toolchains import every
/// capability of the world; only a grant lets a call through.
fn print_capabilities(file: &Path, imports: &[String], pipeline_path: Option<&Path>) -> i32 {
    let imported = runtime::capabilities_among(imports);
    println!(
        "capabilities {} imported{}",
        if imported.is_empty() {
            "none".to_string()
        } else {
            imported.join(", ")
        },
        if imported.is_empty() {
            ""
        } else {
            " (an import is no grant: calls are refused unless the pipeline grants them)"
        }
    );
    let Some(path) = pipeline_path else {
        return 0;
    };
    let pipeline = match pipeline::load(path, &builtins::exists) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            return 1;
        }
    };
    let same_file = |s: &pcapxray::pipeline::StageSpec| match &s.source {
        PluginSource::File(p) => std::fs::canonicalize(p).ok() == std::fs::canonicalize(file).ok(),
        PluginSource::Builtin(_) => false,
    };
    let mut any = false;
    for spec in pipeline.stages.iter().filter(|s| same_file(s)) {
        any = true;
        let granted = spec.grants.granted();
        let list = |caps: Vec<&str>| match caps.is_empty() {
            true => "none".to_string(),
            false => caps.join(", "),
        };
        println!(
            "  stage `{}`: granted {}; imported only {}",
            spec.name,
            list(
                granted
                    .iter()
                    .copied()
                    .filter(|c| imported.contains(c))
                    .collect()
            ),
            list(
                imported
                    .iter()
                    .copied()
                    .filter(|c| !granted.contains(c))
                    .collect()
            ),
        );
    }
    if !any {
        println!("  no stage of {} runs this file", path.display());
    }
    0
}
