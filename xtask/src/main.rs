//! `cargo xtask`: the project's workflows as code. Every step prints what it runs.

mod bench;
mod build_ebpf;
mod cmd;
mod dist;
mod follow;
mod lab;
mod setup;
mod test;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "wanctl developer workflows")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what building and testing need (Debian packages, bpf-linker); idempotent.
    Setup(setup::Args),
    /// Build the eBPF object that the `wanctl` binary embeds.
    BuildEbpf(build_ebpf::Args),
    /// Run every check: fmt, clippy, unit, privileged (root) and VM tests.
    Test(test::Args),
    /// Run a benchmark (`cargo xtask bench <name>`); prints JSON.
    Bench(bench::Args),
    /// The demo lab: real TCP through a changing bottleneck, with and without wanctl (about 2 minutes).
    Demo(lab::DemoArgs),
    /// The closed-loop benchmark: a scenario under no shaping, static CAKE and wanctl; JSON and a plot.
    Lab(lab::Args),
    /// Release binary, man pages, shell completions, units and example configs in target/dist/.
    Dist,
    /// Run programs or the VM tests in a qemu VM with Debian's 6.12 kernel (real sch_cake).
    Vm(vm::Args),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Setup(args) => setup::run(&args),
        Command::BuildEbpf(args) => build_ebpf::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Demo(args) => lab::demo(&args),
        Command::Lab(args) => lab::run(&args),
        Command::Vm(args) => vm::main(&args),
        Command::Dist => dist::run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
