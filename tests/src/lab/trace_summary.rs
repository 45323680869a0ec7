//! The controller's view of a wanctl-mode run, one line per second: what the daemon measured (passive
//! samples by kind, the local CAKE's delay and backlog) and what its control core decided. The daemon
//! records its inputs (`wanctl run --record`); they are replayed here through the same control core and
//! configuration, which gives the same decisions (the core is deterministic). `cargo xtask lab --trace`.

use std::{fs::File, io::BufReader, path::Path};

use wanctl::{
    control::{ControlConfig, Controller, Reason, TraceReader, TraceRow},
    signal::SampleKind,
};

/// One second of a trace.
#[derive(Debug, Default)]
struct Second {
    download_rtts: Vec<f64>,
    upload_rtts: Vec<f64>,
    upload_cake_delay_ms: Vec<f64>,
    download_backlog: Vec<f64>,
    delta_ms: Vec<f64>,
    downstream_ms: Vec<f64>,
    baseline_ms: Option<f64>,
    download: DirectionSecond,
    upload: DirectionSecond,
}

/// What one direction's rate did during one second.
#[derive(Debug, Default)]
struct DirectionSecond {
    state: String,
    rates_mbit: Vec<f64>,
    steps_up: usize,
    yellow_cuts: usize,
    red_cuts: usize,
    refractory: usize,
}

impl DirectionSecond {
    fn add(&mut self, decision: &wanctl::control::DirectionDecision) {
        self.state = decision.state.to_string();
        self.rates_mbit.push(decision.rate.bps() as f64 / 1e6);
        match decision.reason {
            Reason::StepUp => self.steps_up += 1,
            Reason::Red | Reason::SoftRed => self.red_cuts += 1,
            Reason::Refractory => self.refractory += 1,
            reason if reason.is_cut() => self.yellow_cuts += 1,
            _ => {}
        }
    }

    /// `GREEN 3.33..4.10->3.90 (up 12, yellow 1, red 0, hold 3)`: state and rate at the end of the second,
    /// the range it moved in, and what the rate law did how many times.
    fn line(&self) -> String {
        let (Some(first), Some(last)) = (self.rates_mbit.first(), self.rates_mbit.last()) else {
            return "-".into();
        };
        let low = self.rates_mbit.iter().copied().fold(*first, f64::min);
        let high = self.rates_mbit.iter().copied().fold(*first, f64::max);
        format!(
            "{} {low:.2}..{high:.2}->{last:.2} (up {}, yellow {}, red {}, hold {})",
            self.state, self.steps_up, self.yellow_cuts, self.red_cuts, self.refractory
        )
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The control section of the generated configuration's first WAN.
pub fn control_params(config_yaml: &str) -> Result<wanctl::control::ControlParams, String> {
    let document: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(config_yaml).map_err(|e| e.to_string())?;
    let control = document
        .get("wans")
        .and_then(|w| w.get(0))
        .and_then(|w| w.get("control"))
        .ok_or("the configuration has no wans[0].control")?;
    let config: ControlConfig =
        serde_yaml_ng::from_value(control.clone()).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())
}

/// Summarises `trace` (recorded with `config_yaml`) per second, with times relative to `t0_ns` on the
/// monotonic clock (the lab's t = 0).
pub fn summarize(trace: &Path, config_yaml: &str, t0_ns: u64) -> Result<Vec<String>, String> {
    let params = control_params(config_yaml)?;
    let file = File::open(trace).map_err(|e| format!("{}: {e}", trace.display()))?;
    let mut reader = TraceReader::new(BufReader::new(file));
    let mut controller = Controller::new(params);
    let mut row = TraceRow::default();
    let mut seconds: Vec<(i64, Second)> = Vec::new();
    while reader.read_into(&mut row).map_err(|e| e.to_string())? {
        let decision = *controller.step(&row.input());
        let t = (row.now.as_nanos() as i64 - t0_ns as i64) as f64 / 1e9;
        let key = t.floor() as i64;
        if seconds.last().is_none_or(|(k, _)| *k != key) {
            seconds.push((key, Second::default()));
        }
        let Some((_, s)) = seconds.last_mut() else {
            continue;
        };
        for sample in &row.samples {
            let rtt = sample.rtt.as_secs_f64() * 1e3;
            match sample.kind {
                SampleKind::Download => s.download_rtts.push(rtt),
                SampleKind::Upload => s.upload_rtts.push(rtt),
                _ => {}
            }
        }
        if let Some(cake) = row.cake.upload {
            s.upload_cake_delay_ms
                .push(cake.max_tin_delay.as_secs_f64() * 1e3);
        }
        if let Some(cake) = row.cake.download {
            s.download_backlog.push(cake.backlog_bytes as f64);
        }
        if let Some(delta) = decision.delta_ms {
            s.delta_ms.push(delta);
        }
        if let Some(down) = decision.downstream_ms {
            s.downstream_ms.push(down);
        }
        s.baseline_ms = decision.baseline_ms;
        s.download.add(&decision.directions.download);
        s.upload.add(&decision.directions.upload);
    }
    Ok(seconds
        .into_iter()
        .filter(|(k, _)| *k >= -1)
        .map(|(k, mut s)| {
            format!(
                "t={k:>3}s rtt down {} ({}) up {} ({}) | up cake delay {} ms, down backlog {} B | base {} delta p50 {} max {}, of it downstream p50 {} max {} | down {} | up {}",
                ms(median(&mut s.download_rtts)),
                s.download_rtts.len(),
                ms(median(&mut s.upload_rtts)),
                s.upload_rtts.len(),
                ms(median(&mut s.upload_cake_delay_ms)),
                median(&mut s.download_backlog).map_or("-".into(), |b| format!("{b:.0}")),
                ms(s.baseline_ms),
                ms(median(&mut s.delta_ms.clone())),
                ms(s.delta_ms.iter().copied().reduce(f64::max)),
                ms(median(&mut s.downstream_ms.clone())),
                ms(s.downstream_ms.iter().copied().reduce(f64::max)),
                s.download.line(),
                s.upload.line(),
            )
        })
        .collect())
}
