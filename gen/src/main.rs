//! The `gen` binary: a thin shell over the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    akidb_gen::cli::main(akidb_gen::cli::Cli::parse())
}
