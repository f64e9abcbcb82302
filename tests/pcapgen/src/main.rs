//! `pcapgen`: writes pcapxray's demo capture and benchmark capture.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pcapgen",
    about = "Generate pcap files for pcapxray's demo, tests and benchmark"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the deterministic demo capture (the repo keeps it in config/demo.pcap).
    Demo {
        /// Output file.
        out: PathBuf,
    },
    /// Write the logins of every protocol the credentials analyzer reads (`pcapgen::creds::logins`).
    Credentials {
        /// Output file.
        out: PathBuf,
    },
    /// Build a large benchmark capture from copies of real Ethernet captures.
    Bench {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Stop once this many MiB are written.
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
        /// Directory whose *.pcap files are copied.
        #[arg(long, default_value = "../shared/testdata")]
        inputs: PathBuf,
    },
    /// Write one capture per encapsulation (`<name>.pcap`), `all.pcap` with all of them, and
    /// `qinq-pppoe-modified.pcap` (the QinQ + PPPoE capture in modified-pcap format) into a folder.
    Encap {
        /// Output folder (created if missing).
        dir: PathBuf,
    },
    /// Write one behaviour or load shape (`port-scan`, `syn-flood`, `mac-flood`, `arp-many-macs`, ...)
    /// of the given size: ports, hosts, sources, frames or MACs, as the recipe counts them.
    Shape {
        /// The recipe; `pcapgen shape list 0 -` lists them.
        name: String,
        /// Its size.
        count: u64,
        /// Output file.
        out: PathBuf,
    },
    /// Split a classic pcap file into consecutive files (`<stem>-001.pcap`, ...), as a sensor's
    /// rotation would: into `--parts N` of equal packet counts, or before the packets `--at I,J,...`
    /// (0-based indexes).
    Split {
        /// The pcap file.
        input: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out_dir: PathBuf,
        /// Number of parts of equal packet counts.
        #[arg(long, conflicts_with = "at")]
        parts: Option<usize>,
        /// Cut before these packet indexes.
        #[arg(long, value_delimiter = ',')]
        at: Vec<usize>,
    },
    /// Print the number of packets in a classic pcap file.
    Count {
        /// The pcap file.
        file: PathBuf,
    },
}

fn run(cli: Cli) -> io::Result<()> {
    match cli.cmd {
        Cmd::Demo { out } => {
            let cap = pcapgen::demo::demo()?;
            cap.write_file(&out)?;
            let bytes = std::fs::metadata(&out)?.len();
            println!(
                "wrote {}: {} packets, {} bytes",
                out.display(),
                cap.len(),
                bytes
            );
        }
        Cmd::Bench {
            out,
            size_mb,
            inputs,
        } => {
            let (inputs, skipped) = pcapgen::bench::load_inputs(&inputs)?;
            for s in &skipped {
                eprintln!("skipped {}: {}", s.name, s.reason);
            }
            let per_copy: usize = inputs.iter().map(|i| i.packets.len()).sum();
            eprintln!(
                "{} input captures, {per_copy} packets per copy",
                inputs.len()
            );
            let started = Instant::now();
            let w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
            // 2024-01-01 00:00:00 UTC.
            let stats = pcapgen::bench::generate(w, &inputs, size_mb << 20, 1_704_067_200_000_000)?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "wrote {}: {} packets, {} bytes, {} copies in {:.2} s ({:.0} MB/s)",
                out.display(),
                stats.packets,
                stats.bytes,
                stats.copies,
                secs,
                stats.bytes as f64 / 1e6 / secs.max(1e-9)
            );
        }
        Cmd::Encap { dir } => {
            std::fs::create_dir_all(&dir)?;
            for e in pcapgen::encap::Encap::ALL {
                e.capture()?
                    .write_file(dir.join(format!("{}.pcap", e.name())))?;
            }
            pcapgen::encap::all()?.write_file(dir.join("all.pcap"))?;
            let modified = pcapgen::encap::Encap::QinqPppoe.capture()?;
            let f = File::create(dir.join("qinq-pppoe-modified.pcap"))?;
            modified
                .write_modified_pcap(BufWriter::new(f))?
                .into_inner()?;
            println!(
                "wrote {} captures into {}",
                pcapgen::encap::Encap::ALL.len() + 2,
                dir.display()
            );
        }
        Cmd::Shape { name, count, out } if name == "list" => {
            let _ = (count, out);
            println!("{}", pcapgen::behaviours::SHAPES.join("\n"));
        }
        Cmd::Shape { name, count, out } => {
            let cap = pcapgen::behaviours::shape(&name, count)?;
            let w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
            cap.write_pcap(w)?
                .into_inner()
                .map_err(|e| e.into_error())?;
            println!(
                "wrote {} ({name} {count}): {} packets",
                out.display(),
                cap.len()
            );
        }
        Cmd::Credentials { out } => {
            let mut cap = pcapgen::Capture::new(1_764_748_800);
            pcapgen::creds::logins(&mut cap)?;
            cap.write_file(&out)?;
            println!("wrote {}: {} packets", out.display(), cap.len());
        }
        Cmd::Split {
            input,
            out_dir,
            parts,
            at,
        } => {
            let cuts = match parts {
                Some(n) => pcapgen::split::Cuts::Parts(n),
                None => pcapgen::split::Cuts::Before(at),
            };
            for (path, packets) in pcapgen::split::split(&input, &out_dir, cuts)? {
                println!("wrote {}: {packets} packets", path.display());
            }
        }
        Cmd::Count { file } => println!("{}", pcapgen::bench::count_packets(&file)?),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pcapgen: {e}");
            ExitCode::FAILURE
        }
    }
}
