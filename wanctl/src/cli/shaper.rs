//! `wanctl shaper remove [--config FILE]`: removes the CAKE qdiscs, IFB and filters wanctl created (per
//! its record in /run/wanctl), and nothing it adopted.

use std::{path::PathBuf, process::ExitCode};

use super::check_cake::{DEFAULT_CONFIG, load_cake_configs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ShaperCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ShaperCommand {
    /// Remove what wanctl created for the configured CAKE shapers.
    Remove {
        /// Configuration file; every `cake:` section in it is handled.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let ShaperCommand::Remove { config } = &args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for cake in load_cake_configs(config)? {
        let removed = runtime.block_on(crate::shaper::cake::remove(&cake))?;
        if removed.is_empty() {
            println!("{}: nothing wanctl created is left", cake.interface);
        }
        for item in removed {
            println!("{}: removed {item}", cake.interface);
        }
    }
    Ok(ExitCode::SUCCESS)
}
