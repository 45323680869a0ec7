//! `cargo xtask build-ebpf [--release]`: builds `wanctl-ebpf` for `bpfel-unknown-none` and copies the
//! object to `wanctl-ebpf/target/wanctl-ebpf.o`, where the `wanctl` build embeds it from.
//!
//! Two toolchains can build it: Debian's rustc-web (prebuilt `core` for the BPF target, used with
//! `RUSTC_BOOTSTRAP=1` for the unstable bits aya-ebpf needs) or, where present, a rustup nightly with
//! `rust-src` (`-Z build-std=core`, the upstream aya way).

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};

use crate::cmd;

const TARGET: &str = "bpfel-unknown-none";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Build with the release profile (optimised, LTO). The dev profile is optimised too: the verifier
    /// needs it.
    #[arg(long)]
    pub release: bool,
}

/// Path of the object the `wanctl` crate embeds.
pub fn object_path() -> PathBuf {
    cmd::repo_root().join("wanctl-ebpf/target/wanctl-ebpf.o")
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let crate_dir = cmd::repo_root().join("wanctl-ebpf");
    let profile = if args.release { "release" } else { "debug" };
    let mut build = Command::new("cargo");
    build
        .current_dir(&crate_dir)
        .env("PATH", cmd::path_with(&[&cmd::cargo_bin_dir()]));
    // Variables of an outer cargo (xtask runs under `cargo run`) would leak the host toolchain in.
    for var in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTDOC",
    ] {
        build.env_remove(var);
    }
    if nightly_with_rust_src() {
        build.args(["+nightly", "build", "-Z", "build-std=core"]);
    } else if PathBuf::from(DEBIAN_RUSTC).exists() {
        build
            .env("RUSTC", DEBIAN_RUSTC)
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("build");
    } else {
        bail!(
            "no toolchain can build the eBPF object: run `cargo xtask setup` (installs Debian's rustc-web)"
        );
    }
    build.args(["--target", TARGET]);
    if args.release {
        build.arg("--release");
    }
    cmd::run(&mut build)?;
    let built = crate_dir
        .join("target")
        .join(TARGET)
        .join(profile)
        .join("wanctl-ebpf");
    let object = object_path();
    // Copy only a changed object: a fresh mtime alone makes cargo rebuild `wanctl` and all that uses it.
    let fresh = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    if std::fs::read(&object).ok().as_deref() != Some(fresh.as_slice()) {
        std::fs::write(&object, &fresh).with_context(|| format!("writing {}", object.display()))?;
    }
    println!(
        "build-ebpf: {} ({} bytes)",
        object.display(),
        std::fs::metadata(&object)?.len()
    );
    Ok(())
}

/// A rustup nightly that has `rust-src` can build `core` for the BPF target itself.
fn nightly_with_rust_src() -> bool {
    cmd::output(Command::new("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]))
        .map(|sysroot| {
            PathBuf::from(sysroot.trim()).join("lib/rustlib/src/rust/library/core/Cargo.toml")
        })
        .is_some_and(|core| core.exists())
}
