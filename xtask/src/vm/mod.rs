//! `cargo xtask vm`: run programs inside a qemu VM booted with Debian's 6.12 kernel, which has the modules
//! the host kernel lacks (sch_cake, netem). One boot runs every step; each step's exit code and cargo's
//! `test result:` lines come back over the serial console.
//!
//! Reusable: [`run`] takes any host binaries (tests, benchmarks, lab scenarios) with their arguments.

mod initramfs;
pub mod kernel;
mod qemu;

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::{
    cmd,
    test::{Tally, parse_result_line},
};

/// Modules loaded in every guest (with their dependencies); missing ones are skipped.
pub const DEFAULT_MODULES: &[&str] = &[
    "sch_cake",
    "ifb",
    "veth",
    "act_mirred",
    "act_gact",
    "cls_u32",
    "cls_matchall",
    "cls_bpf",
    "sch_ingress",
    "sch_tbf",
    "sch_netem",
    "sch_htb",
];

/// One program to run in the guest.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short name for the console and the report (no spaces).
    pub name: String,
    /// The host binary; copied in with its libraries.
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// How a step ended.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub name: String,
    /// `None` when the guest never reported its exit (crash or timeout).
    pub exit: Option<i32>,
    pub passed: u64,
    pub failed: u64,
}

/// What one VM run produced.
#[derive(Debug)]
pub struct Outcome {
    pub steps: Vec<StepResult>,
    pub lines: Vec<String>,
    pub timed_out: bool,
    pub insmod_failures: Vec<String>,
}

impl Outcome {
    /// True when every step exited 0, no test failed, the guest finished and every module loaded.
    pub fn ok(&self) -> bool {
        !self.timed_out
            && self.insmod_failures.is_empty()
            && self
                .steps
                .iter()
                .all(|s| s.exit == Some(0) && s.failed == 0)
    }

    /// Console lines printed by step `name`.
    pub fn step_output(&self, name: &str) -> Vec<&str> {
        let start = format!("{} step {name} start", initramfs::MARK);
        let end = format!("{} step {name} exit", initramfs::MARK);
        self.lines
            .iter()
            .skip_while(|l| !l.trim().ends_with(&start))
            .skip(1)
            .take_while(|l| !l.trim().starts_with(&end))
            .map(String::as_str)
            .collect()
    }
}

/// Boots a VM that loads `modules` and runs `steps` in order, then powers off; echoes the console.
pub fn run(steps: &[Step], modules: &[&str], timeout: Duration) -> anyhow::Result<Outcome> {
    run_with(steps, modules, timeout, &mut |line| println!("vm| {line}"))
}

/// As [`run`], handing each console line to `echo` as it arrives (live output).
pub fn run_with(
    steps: &[Step],
    modules: &[&str],
    timeout: Duration,
    echo: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    let kernel = kernel::ensure()?;
    let work = kernel::cache_dir().join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let initrd = initramfs::build(&kernel, modules, steps, &work)?;
    let console = qemu::boot(&kernel.image, &initrd, 1024, timeout, echo);
    let _ = std::fs::remove_dir_all(&work);
    let console = console?;
    Ok(parse(steps, console))
}

fn parse(steps: &[Step], console: qemu::Console) -> Outcome {
    let mut results: Vec<StepResult> = steps
        .iter()
        .map(|s| StepResult {
            name: s.name.clone(),
            exit: None,
            passed: 0,
            failed: 0,
        })
        .collect();
    let mut insmod_failures = Vec::new();
    let mut current: Option<usize> = None;
    for line in &console.lines {
        let line = line.trim();
        // The console may put terminal escapes in front of a marker.
        if let Some(rest) = line
            .find(initramfs::MARK)
            .map(|i| &line[i + initramfs::MARK.len()..])
        {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                ["step", name, "start"] => current = results.iter().position(|r| r.name == *name),
                ["step", name, "exit", code] => {
                    if let Some(r) = results.iter_mut().find(|r| r.name == *name) {
                        r.exit = code.parse().ok();
                    }
                    current = None;
                }
                ["insmod-failed", module] => insmod_failures.push((*module).to_string()),
                _ => {}
            }
        } else if let (Some(i), Some(tally)) = (current, parse_result_line(line)) {
            results[i].passed += tally.passed;
            results[i].failed += tally.failed;
        }
    }
    Outcome {
        steps: results,
        lines: console.lines,
        timed_out: console.timed_out,
        insmod_failures,
    }
}

/// Prints one line per step and fails unless the outcome is ok.
pub fn report(outcome: &Outcome) -> anyhow::Result<()> {
    println!("\n== vm summary");
    for step in &outcome.steps {
        let exit = step
            .exit
            .map_or("no exit reported".to_string(), |c| format!("exit {c}"));
        println!(
            "{} {} ({exit}; {} passed, {} failed)",
            if step.exit == Some(0) && step.failed == 0 {
                "ok    "
            } else {
                "FAILED"
            },
            step.name,
            step.passed,
            step.failed
        );
    }
    if outcome.timed_out {
        bail!("the VM timed out");
    }
    if !outcome.insmod_failures.is_empty() {
        bail!(
            "modules failed to load in the VM: {}",
            outcome.insmod_failures.join(", ")
        );
    }
    if !outcome.ok() {
        bail!("VM steps failed");
    }
    Ok(())
}

/// Builds test targets of `wanctl-tests` (with the `vm` feature) and returns their executables.
pub fn build_tests(tests: &[&str], release: bool) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut command = Command::new("cargo");
    command.current_dir(cmd::repo_root()).args([
        "test",
        "-p",
        "wanctl-tests",
        "--features",
        "vm",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    for test in tests {
        command.args(["--test", test]);
    }
    executables(&mut command, true)
}

/// Builds the binary `bin` of `wanctl-tests` in release mode and returns its path.
pub fn build_bin(bin: &str) -> anyhow::Result<PathBuf> {
    let mut command = Command::new("cargo");
    command.current_dir(cmd::repo_root()).args([
        "build",
        "--release",
        "-p",
        "wanctl-tests",
        "--features",
        "vm",
        "--message-format=json-render-diagnostics",
        "--bin",
        bin,
    ]);
    executables(&mut command, false)?
        .into_iter()
        .map(|(_, path)| path)
        .next()
        .with_context(|| format!("cargo built no executable for {bin}"))
}

/// Executables cargo reported: test harnesses when `tests`, otherwise binaries.
pub fn executables(command: &mut Command, tests: bool) -> anyhow::Result<Vec<(String, PathBuf)>> {
    println!("$ {}", cmd::describe(command));
    let out = command.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("`{}` failed", cmd::describe(command));
    }
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(path), Some(name)) = (
            message.get("executable").and_then(|e| e.as_str()),
            message.pointer("/target/name").and_then(|n| n.as_str()),
        ) else {
            continue;
        };
        let is_test = message
            .pointer("/profile/test")
            .and_then(serde_json::Value::as_bool)
            == Some(true);
        if is_test == tests {
            found.push((name.to_string(), PathBuf::from(path)));
        }
    }
    Ok(found)
}

/// `cargo xtask vm` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: VmCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VmCommand {
    /// Download and unpack the VM kernel (idempotent).
    Kernel,
    /// Build the VM tests and run them all in one boot.
    Test {
        /// Only these test targets of `wanctl-tests` (default: all VM tests).
        #[arg(long = "test")]
        tests: Vec<String>,
        /// Extra arguments for every test binary (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Run any host program in the VM: `cargo xtask vm run -- /path/to/bin args...`.
    Run {
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

/// The VM test targets of `wanctl-tests`.
pub const VM_TESTS: &[&str] = &["cake_vm", "cake_vm_lifecycle"];

pub fn main(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        VmCommand::Kernel => {
            let kernel = kernel::ensure()?;
            println!("vm: kernel ready at {}", kernel.image.display());
            Ok(())
        }
        VmCommand::Test { tests, args } => run_tests(tests, args).map(|_| ()),
        VmCommand::Run {
            timeout_secs,
            command,
        } => {
            let (program, rest) = command.split_first().context("nothing to run")?;
            let step = Step {
                name: "run".into(),
                program: PathBuf::from(program),
                args: rest.to_vec(),
            };
            report(&run(
                &[step],
                DEFAULT_MODULES,
                Duration::from_secs(*timeout_secs),
            )?)
        }
    }
}

/// Builds and runs the VM tests (all of them by default) in one boot.
pub fn run_tests(tests: &[String], args: &[String]) -> anyhow::Result<Tally> {
    let names: Vec<&str> = if tests.is_empty() {
        VM_TESTS.to_vec()
    } else {
        tests.iter().map(String::as_str).collect()
    };
    let executables = build_tests(&names, false)?;
    let steps: Vec<Step> = executables
        .into_iter()
        .map(|(name, program)| {
            let mut all = vec!["--test-threads=1".to_string()];
            all.extend(args.iter().cloned());
            Step {
                name,
                program,
                args: all,
            }
        })
        .collect();
    let outcome = run(&steps, DEFAULT_MODULES, Duration::from_secs(900))?;
    report(&outcome)?;
    Ok(Tally {
        passed: outcome.steps.iter().map(|s| s.passed).sum(),
        failed: outcome.steps.iter().map(|s| s.failed).sum(),
    })
}

/// Builds benchmark `bin` in release mode, runs it in the VM and prints its JSON line.
pub fn bench(bin: &str, args: &[String]) -> anyhow::Result<()> {
    let program = build_bin(bin)?;
    let step = Step {
        name: bin.to_string(),
        program,
        args: args.to_vec(),
    };
    let outcome = run(&[step], DEFAULT_MODULES, Duration::from_secs(900))?;
    report(&outcome)?;
    let json = outcome
        .step_output(bin)
        .into_iter()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .with_context(|| format!("{bin} printed no JSON"))?;
    println!("{}", json.trim());
    Ok(())
}
