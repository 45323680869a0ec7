//! `cargo xtask dist`: a release build of `wanctl` with its man pages and shell completions, in
//! `target/dist/` (bin/, man/, completions/, plus the systemd units and example configs to install).

use std::process::Command;

use crate::{build_ebpf, cmd};

pub fn run() -> anyhow::Result<()> {
    build_ebpf::run(&build_ebpf::Args { release: true })?;
    let root = cmd::repo_root();
    cmd::run(Command::new("cargo").current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "wanctl",
        "--bin",
        "wanctl",
    ]))?;
    let dist = root.join("target/dist");
    let bin = dist.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(root.join("target/release/wanctl"), bin.join("wanctl"))?;
    cmd::run(
        Command::new(bin.join("wanctl"))
            .arg("generate-docs")
            .arg("--out")
            .arg(&dist),
    )?;
    for dir in ["systemd", "configs"] {
        cmd::run(
            Command::new("cp")
                .args(["-r", "--"])
                .arg(root.join(dir))
                .arg(&dist),
        )?;
    }
    println!("dist: {}", dist.display());
    Ok(())
}
