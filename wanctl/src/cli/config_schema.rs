//! `wanctl config schema`: the JSON Schema of the configuration file, for editors (YAML language servers read
//! it through a `# yaml-language-server: $schema=` comment).

use std::process::ExitCode;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the configuration file.
    Schema,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Schema => {
            let schema = schemars::schema_for!(Config);
            println!("{}", serde_json::to_string_pretty(&schema)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
