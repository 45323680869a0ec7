//! `wanctl replay`: runs the control core over a recorded trace and prints every cycle's decision.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Context, anyhow, bail};

use crate::control::{ControlConfig, ControlParams, Controller, Decision, TraceReader, TraceRow};

const AFTER_HELP: &str = "\
CONFIG: the YAML file of the daemon; the control section of `wans[<--wan or first>].control` is used, e.g.
  wans:
    - name: wan1
      control: { download: {ceiling: 95Mbit, floor_red: 20Mbit, step_up: 2Mbit},
                 upload: {ceiling: 18Mbit, floor_red: 4Mbit, step_up: 500kbit} }

TRACE (CSV, version 1): lines starting with # are comments; the first other line is the header
  time_s,rtt_samples,download_bytes,upload_bytes,download_cake,upload_cake
then one line per control cycle:
  time_s          end of the cycle, seconds on a monotonic clock
  rtt_samples     `;`-separated samples rtt_ms[:kind[:flow]]; kind = download|upload|handshake|active
                  (default active), flow = hex id (default: position); empty = no samples (idle cycle)
  download_bytes  bytes sent towards the user in the cycle
  upload_bytes    bytes sent from the user in the cycle
  download_cake   optional drops/ecn_marks/backlog_bytes/max_tin_delay_us of a local CAKE; empty = none
  upload_cake     same for upload
Example: 0.050,24.1:download:1a;23.9:active:0,590000,21000,,

OUTPUT: one line per cycle with delay (baseline, delta) and per direction state, rate and reason;
--json prints the full decision as one JSON object per line.";

/// Arguments of `wanctl replay`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The daemon's YAML configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// The trace to replay (CSV; see --help for the columns).
    #[arg(long)]
    pub trace: PathBuf,
    /// Print one JSON object per cycle instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Which WAN's control section to use (default: the first).
    #[arg(long)]
    pub wan: Option<String>,
}

/// Runs the subcommand.
///
/// # Errors
/// Unreadable or invalid config or trace (naming the field or line).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let yaml = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let params = control_params(&yaml, args.wan.as_deref())
        .with_context(|| format!("in {}", args.config.display()))?;
    let trace =
        File::open(&args.trace).with_context(|| format!("opening {}", args.trace.display()))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = replay(params, BufReader::new(trace), args.json, &mut out)
        .map(drop)
        .and_then(|()| Ok(out.flush()?));
    match result {
        // `wanctl replay ... | head` closes the pipe early; that is not a failure.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        result => {
            result.with_context(|| format!("replaying {}", args.trace.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and validates `wans[<wan or first>].control` from the daemon's YAML.
///
/// # Errors
/// The YAML does not parse, has no such WAN, or its control section is invalid.
pub fn control_params(yaml: &str, wan: Option<&str>) -> anyhow::Result<ControlParams> {
    let root: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).context("parsing YAML")?;
    let wans = root
        .get("wans")
        .and_then(serde_yaml_ng::Value::as_sequence)
        .ok_or_else(|| anyhow!("no `wans:` list"))?;
    let name_of = |w: &serde_yaml_ng::Value| {
        w.get("name")
            .and_then(serde_yaml_ng::Value::as_str)
            .map(str::to_owned)
    };
    let (index, entry) = match wan {
        None => wans
            .iter()
            .enumerate()
            .next()
            .ok_or_else(|| anyhow!("`wans:` is empty"))?,
        Some(wanted) => wans
            .iter()
            .enumerate()
            .find(|(_, w)| name_of(w).as_deref() == Some(wanted))
            .ok_or_else(|| anyhow!("no WAN named `{wanted}` in `wans:`"))?,
    };
    let label = format!("wans[{index}] ({})", name_of(entry).unwrap_or_default());
    let Some(control) = entry.get("control") else {
        bail!("{label} has no `control:` section");
    };
    let config: ControlConfig =
        serde_yaml_ng::from_value(control.clone()).with_context(|| format!("{label}.control"))?;
    config.validate().with_context(|| label)
}

/// Replays `trace` through a fresh controller, writing one line per cycle; returns the number of cycles.
///
/// # Errors
/// A malformed trace line, or writing failed.
pub fn replay(
    params: ControlParams,
    trace: impl BufRead,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let mut controller = Controller::new(params);
    let mut reader = TraceReader::new(trace);
    let mut row = TraceRow::default();
    let mut cycles = 0;
    if !json {
        writeln!(
            out,
            "{:>10} {:>5} {:>5} {:>8} {:>8} {:>8}  {:<8} {:>9} {:<13}  {:<8} {:>9} {:<13}",
            "time_s",
            "smp",
            "flows",
            "rtt_ms",
            "base_ms",
            "delta_ms",
            "dl",
            "dl_mbit",
            "dl_reason",
            "ul",
            "ul_mbit",
            "ul_reason"
        )?;
    }
    while reader.read_into(&mut row)? {
        let decision = controller.step(&row.input());
        if json {
            serde_json::to_writer(&mut *out, decision)?;
            writeln!(out)?;
        } else {
            write_table_row(out, decision)?;
        }
        cycles += 1;
    }
    Ok(cycles)
}

fn write_table_row(out: &mut impl Write, d: &Decision) -> io::Result<()> {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let (dl, ul) = (&d.directions.download, &d.directions.upload);
    writeln!(
        out,
        "{:>10.3} {:>5} {:>5} {:>8} {:>8} {:>8}  {:<8} {:>9.3} {:<13}  {:<8} {:>9.3} {:<13}",
        d.at.as_secs_f64(),
        d.samples.used,
        d.samples.flows,
        ms(d.samples.rtt_ms),
        ms(d.baseline_ms),
        ms(d.delta_ms),
        dl.state.as_str(),
        dl.rate.mbit(),
        dl.reason.name(),
        ul.state.as_str(),
        ul.rate.mbit(),
        ul.reason.name(),
    )
}
