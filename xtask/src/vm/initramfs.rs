//! The guest's root file system: busybox, iproute2, kernel modules and the programs to run, packed as a
//! `newc` cpio archive. Dynamically linked binaries bring the libraries `ldd` lists, at the same paths.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, bail};

use super::{Step, kernel::Kernel};
use crate::cmd;

/// Marker lines the guest prints on its console; the host parses them.
pub const MARK: &str = "@@wanctl-vm";

/// Host tools copied into every guest (with their libraries).
const HOST_TOOLS: &[&str] = &["/usr/sbin/tc", "/usr/sbin/ip"];

/// Builds the archive for `steps` in `work` and returns its path.
pub fn build(
    kernel: &Kernel,
    modules: &[&str],
    steps: &[Step],
    work: &Path,
) -> anyhow::Result<PathBuf> {
    let root = work.join("root");
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("clearing {}", root.display()))?;
    }
    for dir in [
        "bin",
        "sbin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "opt",
        "lib/modules",
    ] {
        fs::create_dir_all(root.join(dir))?;
    }
    fs::copy("/bin/busybox", root.join("bin/busybox"))
        .context("copying /bin/busybox (install busybox-static: `cargo xtask setup`)")?;
    for tool in HOST_TOOLS {
        copy_with_libs(
            Path::new(tool),
            &root.join(tool.trim_start_matches('/')),
            &root,
        )?;
    }
    let mut order = String::new();
    for (name, path) in kernel.module_closure(modules) {
        let dest = root.join("lib/modules").join(format!("{name}.ko"));
        unpack_module(&path, &dest)?;
        order.push_str(&name);
        order.push('\n');
    }
    for (i, step) in steps.iter().enumerate() {
        let dest = root.join("opt").join(format!("{i}-{}", step.name));
        copy_with_libs(&step.program, &dest, &root)?;
        let _ = Command::new("strip")
            .arg("--strip-debug")
            .arg(&dest)
            .status();
    }
    write_executable(&root.join("init"), &init_script(&order, steps))?;
    let archive = work.join("initramfs.cpio");
    pack(&root, &archive)?;
    Ok(archive)
}

fn init_script(module_order: &str, steps: &[Step]) -> String {
    let mut s = String::from(
        "#!/bin/busybox sh\n\
         /bin/busybox --install -s /bin\n\
         export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp WANCTL_VM=1 RUST_BACKTRACE=1\n\
         mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n\
         mount -t tmpfs tmp /tmp; mount -t tmpfs run /run; mkdir -p /var /sys/fs/bpf; ln -s /run /var/run\n\
         mount -t bpf bpf /sys/fs/bpf 2>/dev/null\n",
    );
    for module in module_order.lines() {
        s.push_str(&format!(
            "insmod /lib/modules/{module}.ko || echo \"{MARK} insmod-failed {module}\"\n"
        ));
    }
    s.push_str("ip link set lo up\ncd /tmp\n");
    for (i, step) in steps.iter().enumerate() {
        let args: Vec<String> = step.args.iter().map(|a| shell_quote(a)).collect();
        s.push_str(&format!(
            "echo \"{MARK} step {name} start\"\n/opt/{i}-{name} {args}\necho \"{MARK} step {name} exit $?\"\n",
            name = step.name,
            args = args.join(" ")
        ));
    }
    s.push_str(&format!("echo \"{MARK} done\"\npoweroff -f\n"));
    s
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// Copies `program` to `dest` and every library `ldd` names to the same path under `root`.
fn copy_with_libs(program: &Path, dest: &Path, root: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(program, dest).with_context(|| format!("copying {}", program.display()))?;
    let ldd = cmd::output(Command::new("ldd").arg(program)).unwrap_or_default();
    for line in ldd.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        let target = root.join(path.trim_start_matches('/'));
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(path, &target).with_context(|| format!("copying library {path}"))?;
    }
    Ok(())
}

fn unpack_module(source: &Path, dest: &Path) -> anyhow::Result<()> {
    if source.extension().and_then(|e| e.to_str()) == Some("xz") {
        let out = Command::new("xz")
            .args(["-dc"])
            .arg(source)
            .output()
            .context("running xz (install xz-utils)")?;
        if !out.status.success() {
            bail!("xz -dc {} failed", source.display());
        }
        fs::write(dest, out.stdout)?;
    } else {
        fs::copy(source, dest)?;
    }
    Ok(())
}

fn write_executable(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// `find . | cpio -o -H newc` run in `root`, owned by root in the archive.
fn pack(root: &Path, archive: &Path) -> anyhow::Result<()> {
    let out = fs::File::create(archive)?;
    let status = Command::new("sh")
        .current_dir(root)
        .args(["-c", "find . | cpio --quiet -o -H newc -R 0:0"])
        .stdout(Stdio::from(out))
        .status()
        .context("running cpio (install cpio)")?;
    if !status.success() {
        bail!("cpio failed ({status})");
    }
    Ok(())
}
