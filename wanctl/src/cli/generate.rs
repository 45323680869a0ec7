//! `wanctl generate-docs --out DIR` (hidden; `cargo xtask dist` runs it): the man pages (one per
//! subcommand, `wanctl.1` and `wanctl-<sub>.1`) and shell completions (bash, zsh, fish) from the same
//! clap definitions the binary parses, so they cannot drift.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory (created): man pages under `man/`, completions under `completions/`.
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes every man page and completion script.
///
/// # Errors
/// The output directory cannot be written.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let man = args.out.join("man");
    let completions = args.out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let command = Cli::command();
    clap_mangen::generate_to(command.clone(), &man)
        .with_context(|| format!("writing man pages to {}", man.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command.clone(), "wanctl", &completions)
            .with_context(|| format!("writing {shell} completions to {}", completions.display()))?;
    }
    println!(
        "man pages in {}, completions in {}",
        man.display(),
        completions.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_and_completions_cover_every_subcommand() {
        let out = std::env::temp_dir().join(format!("wanctl-generate-{}", std::process::id()));
        run(&Args { out: out.clone() }).unwrap();
        let page = std::fs::read_to_string(out.join("man/wanctl-run.1")).unwrap();
        assert!(page.contains("dry\\-run"), "{page}");
        assert!(out.join("man/wanctl-check-config.1").exists());
        let bash = std::fs::read_to_string(out.join("completions/wanctl.bash")).unwrap();
        for sub in [
            "run",
            "check-config",
            "status",
            "replay",
            "probe",
            "check-cake",
        ] {
            assert!(bash.contains(sub), "bash completion lacks {sub}");
        }
        assert!(out.join("completions/_wanctl").exists());
        assert!(out.join("completions/wanctl.fish").exists());
        std::fs::remove_dir_all(out).unwrap();
    }
}
