//! Embeds the eBPF object built by `cargo xtask build-ebpf`. A missing object is a build error that says how
//! to make it: the binary must never ship with an empty or stale-looking program.
use std::{env, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let object = env::var_os("WANCTL_EBPF_OBJECT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../wanctl-ebpf/target/wanctl-ebpf.o"));
    println!("cargo:rerun-if-env-changed=WANCTL_EBPF_OBJECT");
    println!("cargo:rerun-if-changed={}", object.display());
    match std::fs::metadata(&object) {
        Ok(meta) if meta.len() > 0 => {}
        _ => {
            eprintln!(
                "error: the eBPF object {} is missing or empty.\n       Build it first with `cargo xtask build-ebpf` \
                 (after `cargo xtask setup` on a fresh machine).",
                object.display()
            );
            std::process::exit(1);
        }
    }
    let object = object.canonicalize().unwrap_or(object);
    println!(
        "cargo:rustc-env=WANCTL_EBPF_OBJECT_PATH={}",
        object.display()
    );
}
