//! `wanctl version`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    println!("wanctl {}", env!("CARGO_PKG_VERSION"));
    println!(
        "embedded eBPF object: {} bytes",
        crate::probe::ebpf::embedded_object().len()
    );
    Ok(ExitCode::SUCCESS)
}
