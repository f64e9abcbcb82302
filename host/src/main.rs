//! The `pcapxray` command line. Parsing only; the library does the work.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
