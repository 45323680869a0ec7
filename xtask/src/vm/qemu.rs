//! Boots the guest under TCG (KVM crashes on these machines) and follows its serial console.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
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
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        // Lines, not UTF-8 strings: the console may carry stray bytes.
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            buf.clear();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                echo(&line);
                let done = line.trim() == format!("{MARK} done");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
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
