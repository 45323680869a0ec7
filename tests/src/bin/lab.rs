//! `wanctl-lab`: the closed-loop lab. `run` executes one or more modes of a scenario (as root, in the VM
//! or on a machine whose kernel has sch_cake, netem, TBF and IFB) and prints marked data lines; `report` (on the host) turns a saved
//! console into JSON and an SVG plot. `cargo xtask lab` and `cargo xtask demo` drive both.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use wanctl_tests::lab::{
    data::{self, MARK, Mode},
    plot, report,
    run::run,
    scenario::Scenario,
    wanctl,
};

#[derive(Debug, Parser)]
#[command(
    name = "wanctl-lab",
    about = "closed-loop lab: real CAKE, real TCP, changing capacity"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run modes of a scenario here (root; needs sch_cake, netem, ifb) and print the data lines.
    Run {
        /// The scenario file.
        #[arg(long, conflicts_with = "scenario_yaml")]
        scenario: Option<PathBuf>,
        /// The scenario's YAML text (the VM has no copy of the file).
        #[arg(long)]
        scenario_yaml: Option<String>,
        /// Modes to run, in order: none, static, wanctl.
        #[arg(long, value_delimiter = ',', default_value = "none,static,wanctl")]
        modes: Vec<String>,
        /// The wanctl binary (for the wanctl mode).
        #[arg(long)]
        wanctl: Option<PathBuf>,
        /// In wanctl mode, record the daemon's control inputs and print its view per second.
        #[arg(long)]
        trace: bool,
    },
    /// Turn a saved console (the data lines of `run`) into `<out>/<scenario>.json` and `.svg`.
    Report {
        #[arg(long)]
        scenario: PathBuf,
        #[arg(long)]
        console: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Print the JSON report instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Print the wanctl configuration the lab generates for a scenario.
    Config {
        #[arg(long)]
        scenario: PathBuf,
        #[arg(long, default_value = "/tmp/wanctl-lab")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match main_result(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wanctl-lab: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main_result(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Run {
            scenario,
            scenario_yaml,
            modes,
            wanctl,
            trace,
        } => {
            let scenario = match (scenario, scenario_yaml) {
                (Some(path), _) => Scenario::load(&path),
                (None, Some(text)) => Scenario::parse(&text, "--scenario-yaml"),
                (None, None) => return Err("give --scenario or --scenario-yaml".into()),
            }
            .map_err(|e| e.to_string())?;
            let modes = modes
                .iter()
                .map(|m| {
                    Mode::parse(m)
                        .ok_or_else(|| format!("unknown mode `{m}` (none, static, wanctl, ideal)"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // A failing mode (e.g. a wanctl that will not start) leaves the others' results usable.
            let mut failed = Vec::new();
            for mode in modes {
                println!("{MARK} mode {} start", mode.name());
                match run(&scenario, mode, wanctl.as_deref(), trace) {
                    Ok(data) => {
                        data::print_run(&data);
                        println!("{MARK} mode {} done", mode.name());
                    }
                    Err(error) => {
                        println!("{MARK} mode {} failed: {error}", mode.name());
                        failed.push(mode.name());
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(format!("modes failed: {}", failed.join(", ")))
            }
        }
        Command::Report {
            scenario,
            console,
            out,
            json,
        } => write_report(&scenario, &console, &out, json),
        Command::Config { scenario, dir } => {
            let scenario = Scenario::load(&scenario).map_err(|e| e.to_string())?;
            print!("{}", wanctl::config(&scenario, &dir));
            Ok(())
        }
    }
}

fn write_report(scenario: &Path, console: &Path, out: &Path, json: bool) -> Result<(), String> {
    let scenario = Scenario::load(scenario).map_err(|e| e.to_string())?;
    let text =
        std::fs::read_to_string(console).map_err(|e| format!("{}: {e}", console.display()))?;
    let runs = data::parse_runs(text.lines())?;
    if runs.is_empty() {
        return Err(format!("{} holds no lab data lines", console.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let svg_path = out.join(format!("{}.svg", scenario.name));
    std::fs::write(&svg_path, plot::svg(&scenario, &runs))
        .map_err(|e| format!("{}: {e}", svg_path.display()))?;
    let report = report::report(&scenario, &runs, Some(svg_path.display().to_string()));
    let json_text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let json_path = out.join(format!("{}.json", scenario.name));
    std::fs::write(&json_path, &json_text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let trace = data::recorded(text.lines(), "trace");
    if !trace.is_empty() {
        let config_path = out.join(format!("{}.wanctl.yaml", scenario.name));
        let trace_path = out.join(format!("{}.trace.csv", scenario.name));
        for (path, content) in [
            (&config_path, data::recorded(text.lines(), "config")),
            (&trace_path, trace),
        ] {
            std::fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        eprintln!(
            "recorded: wanctl replay --config {} --trace {}",
            config_path.display(),
            trace_path.display()
        );
    }
    if json {
        println!("{json_text}");
    } else {
        print!("{}", report::summary(&report));
        println!("json: {}", json_path.display());
    }
    Ok(())
}
