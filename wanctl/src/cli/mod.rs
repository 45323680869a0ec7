//! Subcommands of the `wanctl` binary. Each lives in its own file and returns an exit code.

mod logging;
mod probe;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
pub use logging::{LogArgs, init_logging};

/// wanctl: keeps CAKE just under the link's real capacity, measured passively in the kernel.
#[derive(Debug, Parser)]
#[command(name = "wanctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print version and build facts (embedded eBPF object size).
    Version(version::Args),
    /// Attach the passive RTT probe to an interface and print its samples and counters.
    Probe(probe::Args),
}

/// Runs the chosen subcommand.
///
/// # Errors
/// Whatever the subcommand reports; the binary prints it and exits non-zero.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Probe(args) => probe::run(&args),
    }
}
