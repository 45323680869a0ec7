//! Debian's 6.12 cloud kernel, the one with `sch_cake`: downloaded once with `apt-get download`, unpacked
//! under the repository's gitignored `.cache/vm/`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

use crate::cmd;

/// The pinned kernel package (Debian bookworm-security); the VM tests were verified against it.
pub const PACKAGE: &str = "linux-image-6.12.107+deb12-cloud-amd64-unsigned";
/// Its `uname -r`.
pub const RELEASE: &str = "6.12.107+deb12-cloud-amd64";

/// Where the kernel lives once unpacked.
pub struct Kernel {
    /// `vmlinuz`.
    pub image: PathBuf,
    /// `lib/modules/<release>`.
    pub modules: PathBuf,
}

/// `.cache/vm` in the repository.
pub fn cache_dir() -> PathBuf {
    cmd::repo_root().join(".cache").join("vm")
}

/// Downloads and unpacks the kernel unless it is already there (idempotent).
pub fn ensure() -> anyhow::Result<Kernel> {
    let dir = cache_dir();
    let unpacked = dir.join("kernel");
    let kernel = Kernel {
        image: unpacked.join("boot").join(format!("vmlinuz-{RELEASE}")),
        modules: unpacked.join("lib").join("modules").join(RELEASE),
    };
    if kernel.image.exists() && kernel.modules.join("kernel/net/sched").exists() {
        return Ok(kernel);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let deb = find_deb(&dir);
    let deb = match deb {
        Some(deb) => deb,
        None => {
            println!("vm: downloading {PACKAGE} into {}", dir.display());
            cmd::run(
                Command::new("apt-get")
                    .current_dir(&dir)
                    .args(["download", PACKAGE]),
            )
            .context("apt-get download of the VM kernel (run `apt-get update` if it is unknown)")?;
            find_deb(&dir).context("apt-get download left no .deb")?
        }
    };
    cmd::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
    if !kernel.image.exists() {
        bail!("{} holds no {}", deb.display(), kernel.image.display());
    }
    Ok(kernel)
}

fn find_deb(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PACKAGE) && n.ends_with(".deb"))
        })
}

impl Kernel {
    /// The module file for `name` (e.g. `sch_cake`), if this kernel builds it as a module.
    pub fn module_path(&self, name: &str) -> Option<PathBuf> {
        find_file(&self.modules.join("kernel"), &format!("{name}.ko.xz"))
            .or_else(|| find_file(&self.modules.join("kernel"), &format!("{name}.ko")))
    }

    /// `name` and the modules it depends on, dependencies first; names this kernel lacks (built in, or
    /// not built) are skipped.
    pub fn module_closure(&self, names: &[&str]) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for name in names {
            self.visit(name, &mut out, 0);
        }
        out
    }

    fn visit(&self, name: &str, out: &mut Vec<(String, PathBuf)>, depth: usize) {
        if depth > 16 || out.iter().any(|(n, _)| n == name) {
            return;
        }
        let Some(path) = self.module_path(name) else {
            return;
        };
        let depends = cmd::output(Command::new("modinfo").args(["-F", "depends"]).arg(&path))
            .unwrap_or_default();
        for dep in depends.trim().split(',').filter(|d| !d.is_empty()) {
            self.visit(&dep.replace('-', "_"), out, depth + 1);
        }
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), path));
        }
    }
}

fn find_file(dir: &Path, file_name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, file_name) {
                return Some(found);
            }
        } else if path.file_name().and_then(|n| n.to_str()) == Some(file_name) {
            return Some(path);
        }
    }
    None
}
