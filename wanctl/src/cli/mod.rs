//! Subcommands of the `wanctl` binary. Each lives in its own file and returns an exit code.

pub mod check_cake;
pub mod check_config;
mod config_docs;
pub mod config_schema;
mod generate;
mod logging;
mod probe;
pub mod replay;
mod run;
pub mod shaper;
pub mod status;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
pub use logging::{LogArgs, LogFormat, init_logging};

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
    /// Run the daemon: measure, decide and shape every configured WAN until SIGTERM (SIGHUP reloads).
    Run(run::Args),
    /// Print version and build facts (embedded eBPF object size).
    Version(version::Args),
    /// Validate a configuration file and print the effective configuration (exit 0 valid, 2 invalid).
    CheckConfig(check_config::Args),
    /// Configuration tools (`config schema`: JSON Schema for editors; `config docs`: Markdown reference).
    Config(config_schema::Args),
    /// Show the running daemon's health, one row per WAN.
    Status(status::Args),
    /// Run the control core over a recorded trace and print each cycle's state and rates.
    Replay(replay::Args),
    /// Audit the configured CAKE qdiscs against the configuration; `--fix` corrects them.
    CheckCake(check_cake::Args),
    /// Manage the local shaper (`wanctl shaper remove`).
    Shaper(shaper::Args),
    /// Attach the passive RTT probe to an interface and print its samples and counters.
    Probe(probe::Args),
    /// Write man pages and shell completions (used by `cargo xtask dist`).
    #[command(hide = true)]
    GenerateDocs(generate::Args),
}

/// Runs the chosen subcommand.
///
/// # Errors
/// Whatever the subcommand reports; the binary prints it and exits non-zero.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // `run` sets up logging itself, in the format its configuration asks for.
    if !matches!(cli.command, Command::Run(_)) {
        init_logging(&cli.log, LogFormat::Human);
    }
    match cli.command {
        Command::Run(args) => run::run(&args, &cli.log),
        Command::Version(args) => version::run(&args),
        Command::CheckConfig(args) => check_config::run(&args),
        Command::Config(args) => config_schema::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::CheckCake(args) => check_cake::run(&args),
        Command::Shaper(args) => shaper::run(&args),
        Command::Probe(args) => probe::run(&args),
        Command::GenerateDocs(args) => generate::run(&args),
    }
}
