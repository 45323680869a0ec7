//! `cargo xtask test`: every check the project has, in one command. Each phase runs even when an earlier
//! one failed (except when the eBPF object cannot be built), and the run ends with one summary line.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::{Context, bail};

use crate::{build_ebpf, cmd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip the privileged tests (network namespaces, eBPF) instead of failing when not root.
    #[arg(long)]
    pub unprivileged: bool,
    /// Skip the VM tests (qemu with Debian's kernel: real sch_cake).
    #[arg(long)]
    pub no_vm: bool,
}

/// Tallies of one phase or of the whole run.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

struct Phase {
    name: &'static str,
    ok: bool,
    tally: Option<Tally>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    build_ebpf::run(&build_ebpf::Args { release: true }).context("building the eBPF object")?;
    let root = cmd::repo_root();
    let ebpf_dir = root.join("wanctl-ebpf");
    let host_target = host_target();
    let mut phases = Vec::with_capacity(8);
    phases.push(check(
        "fmt (host)",
        Command::new("cargo")
            .current_dir(&root)
            .args(["fmt", "--all", "--check"]),
    ));
    phases.push(check(
        "fmt (eBPF)",
        Command::new("cargo")
            .current_dir(&ebpf_dir)
            .args(["fmt", "--all", "--check"]),
    ));
    phases.push(check(
        "clippy (host)",
        Command::new("cargo").current_dir(&root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    ));
    // The eBPF crate is linted for the host target: clippy only type-checks, and rustup's clippy has a `core`
    // for the host but not for bpfel.
    phases.push(check(
        "clippy (eBPF)",
        Command::new("cargo").current_dir(&ebpf_dir).args([
            "clippy",
            "--workspace",
            "--target",
            &host_target,
            "--",
            "-D",
            "warnings",
        ]),
    ));
    phases.push(tests(
        "unit (shared eBPF types)",
        Command::new("cargo").current_dir(&ebpf_dir).args([
            "test",
            "-p",
            "wanctl-common",
            "--target",
            &host_target,
        ]),
    ));
    phases.push(tests(
        "unit",
        Command::new("cargo")
            .current_dir(&root)
            .args(["test", "--workspace"]),
    ));

    if cmd::is_root() {
        // Privileged tests also run the real `wanctl` binary (e.g. `wanctl probe`); `cargo test` does not build
        // it, so build it here, fresh.
        phases.push(check(
            "build the wanctl binary",
            Command::new("cargo")
                .current_dir(&root)
                .args(["build", "-p", "wanctl", "--bin", "wanctl"]),
        ));
        phases.push(tests(
            "privileged (root: netns, eBPF)",
            Command::new("cargo").current_dir(&root).args([
                "test",
                "--workspace",
                "--",
                "--ignored",
                "--test-threads=1",
            ]),
        ));
    } else if args.unprivileged {
        println!("test: skipping privileged tests (--unprivileged)");
    } else {
        phases.push(Phase {
            name: "privileged (needs root; pass --unprivileged to skip)",
            ok: false,
            tally: None,
        });
    }
    phases.push(vm_phase(args.no_vm));

    report(&phases)
}

/// The VM tests: one qemu boot runs them all; the phase fails on any failure or timeout.
fn vm_phase(skip: bool) -> Phase {
    let name = "vm (qemu, Debian 6.12 kernel: sch_cake)";
    if skip {
        println!("test: skipping VM tests (--no-vm)");
        return Phase {
            name,
            ok: true,
            tally: None,
        };
    }
    println!("\n== {name}");
    match crate::vm::run_tests(&[], &[]) {
        Ok(tally) => Phase {
            name,
            ok: true,
            tally: Some(tally),
        },
        Err(error) => {
            eprintln!("{error:#}");
            Phase {
                name,
                ok: false,
                tally: None,
            }
        }
    }
}

fn check(name: &'static str, command: &mut Command) -> Phase {
    println!("\n== {name}");
    let ok = cmd::run(command).map_err(|e| eprintln!("{e:#}")).is_ok();
    Phase {
        name,
        ok,
        tally: None,
    }
}

/// Runs a `cargo test` command, echoing its output and adding up its "test result:" lines.
fn tests(name: &'static str, command: &mut Command) -> Phase {
    println!("\n== {name}\n$ {}", cmd::describe(command));
    let mut tally = Tally::default();
    let status = command
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(stdout) = child.stdout.take() {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    println!("{line}");
                    if let Some(result) = parse_result_line(&line) {
                        tally.passed += result.passed;
                        tally.failed += result.failed;
                    }
                }
            }
            child.wait()
        });
    let ok = status.as_ref().is_ok_and(|s| s.success()) && tally.failed == 0;
    if let Err(error) = status {
        eprintln!("could not start `{}`: {error}", cmd::describe(command));
    }
    Phase {
        name,
        ok,
        tally: Some(tally),
    }
}

/// Reads "test result: ok. 12 passed; 0 failed; 3 ignored; ...".
pub(crate) fn parse_result_line(line: &str) -> Option<Tally> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |label: &str| {
        rest.split(';')
            .find_map(|part| {
                part.trim()
                    .trim_start_matches("ok.")
                    .trim_start_matches("FAILED.")
                    .trim()
                    .strip_suffix(label)
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    Some(Tally {
        passed: count("passed"),
        failed: count("failed"),
    })
}

fn report(phases: &[Phase]) -> anyhow::Result<()> {
    let mut total = Tally::default();
    println!("\n== summary");
    for phase in phases {
        let tally = phase
            .tally
            .map(|t| format!(" ({} passed, {} failed)", t.passed, t.failed))
            .unwrap_or_default();
        println!(
            "{} {}{tally}",
            if phase.ok { "ok    " } else { "FAILED" },
            phase.name
        );
        if let Some(t) = phase.tally {
            total.passed += t.passed;
            total.failed += t.failed;
        }
    }
    let failed: Vec<&str> = phases.iter().filter(|p| !p.ok).map(|p| p.name).collect();
    println!("test: {} passed, {} failed", total.passed, total.failed);
    if !failed.is_empty() {
        bail!("failed phases: {}", failed.join(", "));
    }
    Ok(())
}

fn host_target() -> String {
    cmd::output(Command::new("rustc").args(["-vV"]))
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_test_result_lines() {
        let t = parse_result_line("test result: ok. 12 passed; 0 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.01s").unwrap();
        assert_eq!((t.passed, t.failed), (12, 0));
        let t = parse_result_line(
            "test result: FAILED. 4 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        )
        .unwrap();
        assert_eq!((t.passed, t.failed), (4, 2));
        assert!(parse_result_line("running 3 tests").is_none());
    }
}
