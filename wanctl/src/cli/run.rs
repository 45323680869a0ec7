//! `wanctl run`: the daemon. Reads and validates the configuration, sets up logging in the configured format
//! (the command line wins), and runs until SIGTERM.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

use super::{LogArgs, check_config::INVALID, logging::LogFormat};
use crate::{
    config::{self, load_config},
    service::{RunOptions, run_daemon},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file.
    #[arg(long, short, default_value = "/etc/wanctl/wanctl.yaml")]
    pub config: PathBuf,
    /// Compute and report decisions (logs, /health, /metrics) without touching any shaper.
    #[arg(long)]
    pub dry_run: bool,
    /// Record every cycle's input to FILE in the format `wanctl replay` reads (FILE.<wan> per WAN when
    /// there are several).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Runs the daemon; returns when it has stopped.
///
/// # Errors
/// Start-up failures (lock held, interface missing, eBPF refused, CAKE error), each naming its source.
pub fn run(args: &Args, log: &LogArgs) -> anyhow::Result<ExitCode> {
    let loaded = match load_config(&args.config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            super::init_logging(log, LogFormat::Human);
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!("{}: invalid configuration", args.config.display());
            return Ok(ExitCode::from(INVALID));
        }
    };
    let format = match loaded.document.service.log_format {
        config::LogFormat::Human => LogFormat::Human,
        config::LogFormat::Json => LogFormat::Json,
    };
    super::init_logging(log, format);
    for notice in &loaded.notices {
        tracing::warn!(path = %args.config.display(), "{notice}");
    }
    let options = RunOptions {
        dry_run: args.dry_run,
        record: args.record.clone(),
    };
    // One thread: the loops are short and I/O-bound, and a single thread keeps CPU and memory small.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime
        .block_on(run_daemon(args.config.clone(), loaded.document, options))
        .context("wanctl run")?;
    Ok(ExitCode::SUCCESS)
}
