//! The `wanctl` command line: parses arguments, sets up logging, and hands over to [`wanctl::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = wanctl::cli::Cli::parse();
    wanctl::cli::init_logging(&cli.log);
    match wanctl::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
