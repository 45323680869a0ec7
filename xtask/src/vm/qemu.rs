//! Boots the guest under TCG (KVM crashes on these machines) and follows its serial console.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::initramfs::MARK;

/// What the guest printed, in order, and whether it finished.
pub struct Console {
    pub lines: Vec<String>,
    pub timed_out: bool,
}

/// Boots `image` with `initrd`; hands every console line to `echo` as it arrives and stops the VM after
/// `timeout`.
pub fn boot(
    image: &Path,
    initrd: &Path,
    memory_mb: u32,
    timeout: Duration,
    echo: &mut dyn FnMut(&str),
) -> anyhow::Result<Console> {
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args([
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-smp",
            "2",
            "-nographic",
            "-no-reboot",
        ])
        .args(["-m", &memory_mb.to_string()])
        .arg("-kernel")
        .arg(image)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(kernel_command_line())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("$ {}", crate::cmd::describe(&command));
    let mut child = command
        .spawn()
        .context("starting qemu-system-x86_64 (install qemu-system-x86)")?;
    let stdout = child.stdout.take().context("qemu stdout")?;
    let done = format!("{MARK} done");
    let crate::follow::Followed { lines, timed_out } =
        crate::follow::lines(stdout, timeout, echo, |line| line.trim() == done);
    // Give a clean poweroff a moment, then stop the VM we started.
    let grace = Instant::now() + Duration::from_secs(5);
    while Instant::now() < grace {
        if child.try_wait().ok().flatten().is_some() {
            return Ok(Console { lines, timed_out });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(Console { lines, timed_out })
}

/// The guest kernel's command line. The TSC is marked unstable so that time comes from the HPET, which
/// qemu emulates from the same clock as its timers: with the TSC under a busy TCG host, timers and the
/// clock drifted apart and every rate shaper in the guest (CAKE, TBF) ran about a third slow.
/// `WANCTL_VM_APPEND` adds arguments.
fn kernel_command_line() -> String {
    let mut line =
        "console=ttyS0 quiet panic=-1 oops=panic clocksource=hpet tsc=unstable".to_string();
    if let Ok(extra) = std::env::var("WANCTL_VM_APPEND") {
        line.push(' ');
        line.push_str(&extra);
    }
    line
}
