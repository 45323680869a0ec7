//! `wanctl config docs`: the configuration reference in Markdown (`docs/configuration.md`), generated from
//! the same schema as `wanctl config schema`.

use std::process::ExitCode;

use crate::config::reference;

/// Prints the reference; redirect it to `docs/configuration.md`.
pub fn run() -> ExitCode {
    print!("{}", reference::configuration_markdown());
    ExitCode::SUCCESS
}
