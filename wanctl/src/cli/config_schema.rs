//! `wanctl config schema`: the JSON Schema of the configuration file, for editors (YAML language servers read
//! it through a `# yaml-language-server: $schema=` comment). `wanctl config docs`: the same facts as the
//! Markdown reference in `docs/configuration.md`.

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
    /// Print the configuration reference in Markdown (`docs/configuration.md`).
    Docs,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Schema => {
            let schema = schemars::schema_for!(Config);
            println!("{}", serde_json::to_string_pretty(&schema)?);
        }
        ConfigCommand::Docs => return Ok(super::config_docs::run()),
    }
    Ok(ExitCode::SUCCESS)
}
