//! `cargo xtask bench <name> [args...]`: runs the benchmark binary `bench-<name>` from the `wanctl-tests`
//! crate in release mode. Each benchmark prints JSON with side-by-side measurements from one run.

use std::process::Command;

use crate::{build_ebpf, cmd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Benchmark name, e.g. `control`, `ebpf`, `shaper`, `routeros`, `daemon`.
    pub name: String,
    /// Arguments passed to the benchmark.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Benchmarks that need the VM's kernel (sch_cake); they run there through `cargo xtask vm`.
const IN_VM: &[&str] = &["shaper"];

/// Benchmarks that run the release `wanctl` binary.
const NEEDS_BINARY: &[&str] = &["daemon"];

pub fn run(args: &Args) -> anyhow::Result<()> {
    build_ebpf::run(&build_ebpf::Args { release: true })?;
    if NEEDS_BINARY.contains(&args.name.as_str()) {
        cmd::run(Command::new("cargo").current_dir(cmd::repo_root()).args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "wanctl",
            "--bin",
            "wanctl",
        ]))?;
    }
    if IN_VM.contains(&args.name.as_str()) {
        return crate::vm::bench(&format!("bench-{}", args.name), &args.rest);
    }
    cmd::run(
        Command::new("cargo")
            .current_dir(cmd::repo_root())
            .args(["run", "--quiet", "--release", "-p", "wanctl-tests", "--bin"])
            .arg(format!("bench-{}", args.name))
            .arg("--")
            .args(&args.rest),
    )
}
