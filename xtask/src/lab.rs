//! `cargo xtask lab` and `cargo xtask demo`: the closed-loop lab. Builds the eBPF object, the `wanctl`
//! binary and `wanctl-lab`, runs the scenario's modes in the VM (real sch_cake and netem), streams the
//! lab's progress lines, then writes `target/lab/<scenario>.{json,svg}` on the host.

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::{build_ebpf, cmd, vm};

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
}

/// `cargo xtask demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Modes to run: `none` first shows the problem, `wanctl` the fix.
    #[arg(long, default_value = "none,wanctl")]
    pub modes: String,
}

/// The demo: the short step scenario, without shaping and with wanctl, live.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    run(&Args {
        scenario: cmd::repo_root().join("configs/lab/demo.yaml"),
        modes: args.modes.clone(),
        json: false,
        out: None,
        trace: false,
    })
}

/// Builds what the lab needs, runs it in the VM and writes the report.
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

    build_ebpf::run(&build_ebpf::Args { release: true })?;
    let (wanctl, lab) = build_binaries()?;
    let modes: Vec<&str> = args.modes.split(',').map(str::trim).collect();
    let seconds = scenario_seconds(&yaml);
    let timeout = Duration::from_secs(120 + modes.len() as u64 * (seconds + 60));
    println!(
        "lab: scenario {} ({seconds} s per mode incl. idle), modes {}; the VM is software-emulated, so \
         expect about {} s",
        scenario_path.display(),
        modes.join(", "),
        30 + modes.len() as u64 * (seconds + 15)
    );
    let mut lab_args = vec![
        "run".into(),
        "--scenario-yaml".into(),
        yaml,
        "--modes".into(),
        modes.join(","),
        "--wanctl".into(),
        "/opt/0-wanctl".into(),
    ];
    if args.trace {
        lab_args.push("--trace".into());
    }
    let steps = [
        // Copies the wanctl binary into the guest (as /opt/0-wanctl) and records its version.
        vm::Step {
            name: "wanctl".into(),
            program: wanctl,
            args: vec!["version".into()],
        },
        vm::Step {
            name: "lab".into(),
            program: lab.clone(),
            args: lab_args,
        },
    ];
    let outcome = vm::run_with(&steps, vm::DEFAULT_MODULES, timeout, &mut echo)?;
    let console = out.join(format!(
        "{}.console.txt",
        scenario_path
            .file_stem()
            .map_or("lab".into(), |s| s.to_string_lossy())
    ));
    std::fs::write(&console, outcome.step_output("lab").join("\n"))?;
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
    if outcome.timed_out {
        bail!("the VM timed out");
    }
    if !outcome.insmod_failures.is_empty() {
        bail!(
            "modules failed to load in the VM: {}",
            outcome.insmod_failures.join(", ")
        );
    }
    reported?;
    if let Some(step) = outcome.steps.iter().find(|s| s.exit != Some(0)) {
        bail!(
            "lab step `{}` failed ({}); see the lines above",
            step.name,
            step.exit.map_or("no exit".into(), |c| format!("exit {c}"))
        );
    }
    Ok(())
}

/// Prints the lab's progress as it streams; data lines stay out of the terminal.
fn echo(line: &str) {
    match line.find(MARK).map(|at| &line[at + MARK.len()..]) {
        Some(rest) if rest.starts_with(" data ") || rest.starts_with(" recorded ") => {}
        Some(rest) => println!("lab|{}", rest.strip_prefix(" progress").unwrap_or(rest)),
        None => println!("vm| {line}"),
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
