//! `cargo xtask lab` and `cargo xtask demo`: the closed-loop lab. Builds the eBPF object, the `wanctl`
//! binary and `wanctl-lab`, runs the scenario's modes on this machine when its kernel has sch_cake,
//! netem, TBF and IFB, or else in the VM (Debian's kernel), streams the lab's progress lines, then writes
//! `target/lab/<scenario>.{json,svg}` on the host.

mod host;

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::{build_ebpf, cmd, vm};

/// Where the lab runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunOn {
    /// Here when this machine can (root, and its kernel takes CAKE, netem, TBF and an IFB), else the VM.
    Auto,
    /// In the VM with Debian's kernel (software-emulated CPU: the lab's rates are scaled down for it).
    Vm,
    /// Here, or an error naming what this machine lacks.
    Host,
}

/// Marker of the lab's console lines (as `wanctl_tests::lab::data::MARK`).
const MARK: &str = "@@lab";

/// `cargo xtask lab` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (see `configs/lab/`).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Modes to run, in order: `none`, `static`, `wanctl`, and `ideal` (CAKE that the lab itself sets to
    /// `ideal_share` of the capacity as it changes: the reference no controller can beat).
    #[arg(long, default_value = "none,static,wanctl")]
    pub modes: String,
    /// Print the JSON report at the end instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where the report and plot go (default `target/lab`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// In wanctl mode, also print the controller's view per second (samples by kind, local CAKE delay,
    /// delta, states and reasons), replayed from the daemon's recorded inputs.
    #[arg(long)]
    pub trace: bool,
    /// Where to run it.
    #[arg(long, value_enum, default_value = "auto")]
    pub on: RunOn,
}

/// `cargo xtask demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Modes to run: `none` first shows the problem, `wanctl` the fix.
    #[arg(long, default_value = "none,wanctl")]
    pub modes: String,
    /// Where to run it.
    #[arg(long, value_enum, default_value = "auto")]
    pub on: RunOn,
}

/// The demo: the short step scenario, without shaping and with wanctl, live.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    run(&Args {
        scenario: cmd::repo_root().join("configs/lab/demo.yaml"),
        modes: args.modes.clone(),
        json: false,
        out: None,
        trace: false,
        on: args.on,
    })
}

/// Resolves `auto`; `host` fails when this machine cannot run the lab.
fn choose(on: RunOn) -> anyhow::Result<RunOn> {
    if on == RunOn::Vm {
        return Ok(RunOn::Vm);
    }
    match (on, host::check()) {
        (_, Ok(())) => Ok(RunOn::Host),
        (RunOn::Host, Err(why)) => bail!("this machine cannot run the lab itself: {why}"),
        (_, Err(why)) => {
            println!("lab: in the VM (this machine cannot run it itself: {why})");
            Ok(RunOn::Vm)
        }
    }
}

/// Builds what the lab needs, runs it (here or in the VM) and writes the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = cmd::repo_root();
    let scenario_path = if args.scenario.is_absolute() {
        args.scenario.clone()
    } else {
        std::env::current_dir()?.join(&args.scenario)
    };
    let yaml = std::fs::read_to_string(&scenario_path)
        .with_context(|| format!("reading scenario {}", scenario_path.display()))?;
    let out = args.out.clone().unwrap_or_else(|| root.join("target/lab"));
    std::fs::create_dir_all(&out)?;

    // Before building: `--on host` on a machine that cannot fails at once.
    let on = choose(args.on)?;
    build_ebpf::run(&build_ebpf::Args { release: true })?;
    let (wanctl, lab) = build_binaries()?;
    let modes: Vec<&str> = args.modes.split(',').map(str::trim).collect();
    let seconds = scenario_seconds(&yaml);
    let timeout = Duration::from_secs(120 + modes.len() as u64 * (seconds + 60));
    println!(
        "lab: scenario {} ({seconds} s per mode incl. idle), modes {}, {}; expect about {} s",
        scenario_path.display(),
        modes.join(", "),
        if on == RunOn::Host {
            "on this machine"
        } else {
            "in the software-emulated VM"
        },
        30 + modes.len() as u64 * (seconds + 15)
    );
    let mut lab_args: Vec<String> = vec![
        "run".into(),
        "--scenario-yaml".into(),
        yaml,
        "--modes".into(),
        modes.join(","),
    ];
    if args.trace {
        lab_args.push("--trace".into());
    }
    let (lines, failure) = if on == RunOn::Host {
        lab_args.extend(["--wanctl".into(), wanctl.display().to_string()]);
        let run = host::run(&lab, &lab_args, timeout, &mut |line| echo(line, "host"))?;
        (run.lines, run.failure)
    } else {
        // In the guest the wanctl step below leaves the binary at /opt/0-wanctl.
        lab_args.extend(["--wanctl".into(), "/opt/0-wanctl".into()]);
        in_vm(wanctl, &lab, lab_args, timeout)?
    };
    let console = out.join(format!(
        "{}.console.txt",
        scenario_path
            .file_stem()
            .map_or("lab".into(), |s| s.to_string_lossy())
    ));
    std::fs::write(&console, lines.join("\n"))?;
    println!("\n== lab report (console saved to {})", console.display());
    let mut report = Command::new(&lab);
    report
        .args(["report", "--scenario"])
        .arg(&scenario_path)
        .arg("--console")
        .arg(&console)
        .arg("--out")
        .arg(&out);
    if args.json {
        report.arg("--json");
    }
    let reported = cmd::run(&mut report);
    if let Some(failure) = failure {
        bail!("{failure}; see the lines above");
    }
    reported
}

/// Runs `wanctl-lab` with `lab_args` in the VM; returns its lines and what went wrong, if anything.
fn in_vm(
    wanctl: PathBuf,
    lab: &std::path::Path,
    lab_args: Vec<String>,
    timeout: Duration,
) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let steps = [
        // Copies the wanctl binary into the guest (as /opt/0-wanctl) and records its version.
        vm::Step {
            name: "wanctl".into(),
            program: wanctl,
            args: vec!["version".into()],
        },
        vm::Step {
            name: "lab".into(),
            program: lab.to_path_buf(),
            args: lab_args,
        },
    ];
    let outcome = vm::run_with(&steps, vm::DEFAULT_MODULES, timeout, &mut |line| {
        echo(line, "vm")
    })?;
    let lines = outcome
        .step_output("lab")
        .into_iter()
        .map(str::to_string)
        .collect();
    let failure = if outcome.timed_out {
        Some("the VM timed out".to_string())
    } else if !outcome.insmod_failures.is_empty() {
        Some(format!(
            "modules failed to load in the VM: {}",
            outcome.insmod_failures.join(", ")
        ))
    } else {
        outcome
            .steps
            .iter()
            .find(|s| s.exit != Some(0))
            .map(|step| {
                format!(
                    "lab step `{}` failed ({})",
                    step.name,
                    step.exit.map_or("no exit".into(), |c| format!("exit {c}"))
                )
            })
    };
    Ok((lines, failure))
}

/// Prints the lab's progress as it streams; data lines stay out of the terminal, and other lines are
/// labelled with where they came from (`vm` or `host`).
fn echo(line: &str, source: &str) {
    match line.find(MARK).map(|at| &line[at + MARK.len()..]) {
        Some(rest) if rest.starts_with(" data ") || rest.starts_with(" recorded ") => {}
        Some(rest) => println!("lab|{}", rest.strip_prefix(" progress").unwrap_or(rest)),
        None => println!("{source}| {line}"),
    }
}

/// Builds `wanctl` and `wanctl-lab` in release mode in one cargo run (one feature resolution, so neither
/// build invalidates the other); returns their paths.
fn build_binaries() -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut command = Command::new("cargo");
    command.current_dir(cmd::repo_root()).args([
        "build",
        "--release",
        "-p",
        "wanctl",
        "-p",
        "wanctl-tests",
        "--features",
        "wanctl-tests/vm",
        "--bin",
        "wanctl",
        "--bin",
        "wanctl-lab",
        "--message-format=json-render-diagnostics",
    ]);
    let built = vm::executables(&mut command, false)?;
    let find = |name: &str| {
        built
            .iter()
            .find(|(target, _)| target == name)
            .map(|(_, path)| path.clone())
            .with_context(|| format!("cargo built no {name} binary"))
    };
    Ok((find("wanctl")?, find("wanctl-lab")?))
}

/// The scenario's idle plus duration in whole seconds (for the VM timeout); 120 if unreadable.
fn scenario_seconds(yaml: &str) -> u64 {
    let field = |key: &str, default: f64| -> f64 {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.split('#').next())
            .map(str::trim)
            .and_then(|v| v.strip_suffix('s'))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (field("duration:", 120.0) + field("idle:", 4.0)).ceil() as u64
}
