//! Logging set-up shared by every subcommand: human or JSON lines on stderr, filtered by `--log-level`
//! or `RUST_LOG`.

use tracing_subscriber::{EnvFilter, fmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Log format on stderr [default: human, or `service.log_format` for `wanctl run`].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Minimum level (error, warn, info, debug, trace) or a full filter such as "wanctl=debug".
    #[arg(long, global = true, default_value = "info", env = "RUST_LOG")]
    pub log_level: String,
}

/// Installs the global subscriber; `--log-format` wins over `default`. A bad filter falls back to "info"
/// rather than failing the command.
pub fn init_logging(args: &LogArgs, default: LogFormat) {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match args.log_format.unwrap_or(default) {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
