//! `cargo xtask setup`: installs what is missing, and nothing else. A second run on a prepared machine only
//! checks, which takes seconds.
//!
//! The eBPF crate is built with Debian's rustc (`rustc-web`, which ships a prebuilt `core` for
//! `bpfel-unknown-none` in `libstd-rust-web-dev-bpf`) and bpf-linker linked against Debian's LLVM 22,
//! because the rustup toolchains here have no `rust-src` to build `core` from.

use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;

/// Debian packages: the eBPF toolchain, then what the tests drive (namespaces, tc, the CAKE VM).
pub const PACKAGES: &[&str] = &[
    "rustc-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
    "iproute2",
    "qemu-system-x86",
    "busybox-static",
    "cpio",
    "xz-utils",
    "kmod",
    "nftables",
    "systemd",
];

/// bpf-linker must use the same LLVM major as Debian's rustc-web.
const LLVM_MAJOR: &str = "22";

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<()> {
    install_packages()?;
    install_bpf_linker()?;
    // The VM tests' kernel (real sch_cake), cached in the repository's gitignored .cache/vm.
    let kernel = crate::vm::kernel::ensure().context("VM kernel")?;
    println!("setup: VM kernel ready at {}", kernel.image.display());
    println!("setup: ready (packages and bpf-linker with LLVM {LLVM_MAJOR})");
    Ok(())
}

fn install_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| !package_installed(p))
        .collect();
    if missing.is_empty() {
        println!(
            "setup: Debian packages already installed: {}",
            PACKAGES.join(" ")
        );
        return Ok(());
    }
    println!(
        "setup: installing missing Debian packages: {}",
        missing.join(" ")
    );
    if !cmd::is_root() {
        bail!(
            "installing packages needs root; run `cargo xtask setup` as root (missing: {})",
            missing.join(" ")
        );
    }
    cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn package_installed(package: &str) -> bool {
    cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|status| status.trim() == "install ok installed")
}

fn install_bpf_linker() -> anyhow::Result<()> {
    let linker = cmd::cargo_bin_dir().join("bpf-linker");
    if linker.exists() && linked_llvm_major(&linker).as_deref() == Some(LLVM_MAJOR) {
        println!(
            "setup: bpf-linker already installed at {} (LLVM {LLVM_MAJOR})",
            linker.display()
        );
        return Ok(());
    }
    println!("setup: building bpf-linker against Debian's LLVM {LLVM_MAJOR} (takes a few minutes)");
    let llvm_prefix = format!("/usr/lib/llvm-{LLVM_MAJOR}");
    let llvm_bin = std::path::PathBuf::from(&llvm_prefix).join("bin");
    cmd::run(
        Command::new("cargo")
            .args(["install", "bpf-linker", "--force", "--no-default-features"])
            .args(["--features", &format!("llvm-{LLVM_MAJOR}")])
            .env("PATH", cmd::path_with(&[&llvm_bin]))
            .env("LLVM_PREFIX", &llvm_prefix)
            .env(format!("LLVM_SYS_{LLVM_MAJOR}1_PREFIX"), &llvm_prefix),
    )
    .context("cargo install bpf-linker")
}

/// The LLVM major version a bpf-linker binary is dynamically linked against (`libLLVM.so.22...`).
fn linked_llvm_major(linker: &std::path::Path) -> Option<String> {
    let ldd = cmd::output(Command::new("ldd").arg(linker))?;
    let start = ldd.find("libLLVM.so.")? + "libLLVM.so.".len();
    Some(
        ldd[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect(),
    )
}
