//! `wanctl check-config FILE`: validates a configuration without touching the system and prints the effective
//! configuration (defaults filled in). Exit 0 when valid, 2 when not.

use std::{path::PathBuf, process::ExitCode};

use crate::config::{Config, load_config};

/// Exit status for an invalid configuration (distinct from 1, a failure of the tool itself).
pub const INVALID: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file to check.
    pub file: PathBuf,
    /// Print only the verdict and problems, not the effective configuration.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = match load_config(&args.file) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!(
                "{}: invalid ({} problem{})",
                args.file.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(INVALID));
        }
    };
    for notice in &loaded.notices {
        eprintln!("{}: note: {notice}", args.file.display());
    }
    let config = &loaded.document;
    println!("{}: valid ({})", args.file.display(), summary(config));
    if !args.quiet {
        println!("# effective configuration, defaults filled in");
        print!("{}", serde_yaml_ng::to_string(config)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// One line: WANs and their interfaces, the HTTP address.
fn summary(config: &Config) -> String {
    let wans: Vec<String> = config
        .wans
        .iter()
        .map(|wan| format!("{} on {}", wan.name, wan.interface))
        .collect();
    format!(
        "schema_version {}; {} WAN{}: {}; health and metrics on http://{}",
        config.schema_version,
        wans.len(),
        if wans.len() == 1 { "" } else { "s" },
        wans.join(", "),
        config.service.http_listen
    )
}
