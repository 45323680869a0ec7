//! Turns the runs of one scenario into the benchmark's JSON and a text summary.

use serde::Serialize;

use super::{
    data::{ProbeKind, RunData},
    phases::{self, Phase},
    scenario::{Dir, Scenario},
    stats::{self, CONTROLLED_HOLD_S, CONTROLLED_MS, Latency, RECOVERY_ALLOWANCE_S},
};

/// Recovery after one capacity drop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    pub direction: Dir,
    pub drop_at_s: f64,
    /// Seconds until added latency stayed below 15 ms for 1 s; `None`: not within the drop's span.
    pub seconds: Option<f64>,
}

/// Goodput of one direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Goodput {
    /// Payload bits per second received, averaged over the load window.
    pub mbit: f64,
    /// Share of the capacity offered over the load window (payload only, so ~0.95 is the ceiling).
    pub share: f64,
}

/// One mode's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeResult {
    pub mode: super::data::Mode,
    pub base_rtt_ms: f64,
    /// Added latency of the TCP request/response probe while the bulk flows run.
    pub added_latency_tcp: Latency,
    /// The same without the first `recovery_allowance_s` after each capacity drop.
    pub added_latency_tcp_settled: Latency,
    /// Added latency of the UDP echo while the bulk flows run.
    pub added_latency_udp: Latency,
    pub download: Goodput,
    pub upload: Goodput,
    pub recovery: Vec<Recovery>,
    /// The same numbers per stretch of constant capacity (one stretch for a steady scenario).
    pub phases: Vec<Phase>,
    pub notes: Vec<String>,
}

/// The benchmark's output for one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub scenario: String,
    pub description: String,
    pub base_delay_ms: f64,
    pub load_window_s: (f64, f64),
    pub controlled_below_ms: f64,
    pub controlled_hold_s: f64,
    pub recovery_allowance_s: f64,
    pub modes: Vec<ModeResult>,
    /// Every mode run more than once (`--modes wanctl,ideal,wanctl,ideal`): its runs summarised.
    pub repeated: Vec<Repeated>,
    /// Where the plot was written, when it was.
    pub plot: Option<String>,
}

/// A number over repeated runs: the median and the range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl Spread {
    /// `None` without any value.
    fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Self> {
        let mut sorted: Vec<f64> = values.into_iter().flatten().collect();
        sorted.sort_by(f64::total_cmp);
        Some(Spread {
            median: median(&sorted)?,
            low: *sorted.first()?,
            high: *sorted.last()?,
        })
    }
}

/// One mode's runs of one invocation taken together: single runs of this lab differ by more than most
/// changes to the controller do, so a change is judged on the median of interleaved repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repeated {
    pub mode: super::data::Mode,
    pub runs: usize,
    pub p99_ms: Option<Spread>,
    pub p99_settled_ms: Option<Spread>,
    pub download_share: Option<Spread>,
    pub upload_share: Option<Spread>,
    /// The median over runs of each run's slowest recovery, s (a run that did not recover counts as the
    /// slowest); `None` when that median is a run that did not recover.
    pub recovery_median_s: Option<f64>,
}

/// The middle value of `sorted`, or the mean of the two middle ones.
fn median(sorted: &[f64]) -> Option<f64> {
    let upper = *sorted.get(sorted.len() / 2)?;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[sorted.len() / 2 - 1] + upper) / 2.0
    } else {
        upper
    })
}

fn repeated(modes: &[ModeResult]) -> Vec<Repeated> {
    let mut seen: Vec<super::data::Mode> = Vec::new();
    for m in modes {
        if !seen.contains(&m.mode) {
            seen.push(m.mode);
        }
    }
    seen.into_iter()
        .filter_map(|mode| {
            let runs: Vec<&ModeResult> = modes.iter().filter(|m| m.mode == mode).collect();
            (runs.len() > 1).then(|| {
                let spread =
                    |f: fn(&ModeResult) -> Option<f64>| Spread::of(runs.iter().map(|m| f(m)));
                // Slowest recovery per run; not recovered sorts last.
                let mut slowest: Vec<f64> = runs
                    .iter()
                    .map(|m| {
                        m.recovery
                            .iter()
                            .map(|r| r.seconds.unwrap_or(f64::INFINITY))
                            .fold(0.0, f64::max)
                    })
                    .collect();
                slowest.sort_by(f64::total_cmp);
                Repeated {
                    mode,
                    runs: runs.len(),
                    p99_ms: spread(|m| m.added_latency_tcp.p99_ms),
                    p99_settled_ms: spread(|m| m.added_latency_tcp_settled.p99_ms),
                    download_share: spread(|m| Some(m.download.share)),
                    upload_share: spread(|m| Some(m.upload.share)),
                    recovery_median_s: median(&slowest).filter(|s| s.is_finite()),
                }
            })
        })
        .collect()
}

/// Computes one mode's results.
pub fn mode_result(scenario: &Scenario, run: &RunData) -> ModeResult {
    let (from, to) = scenario.load_window();
    let (from, to) = (from.as_secs_f64(), to.as_secs_f64());
    let goodput = |dir| Goodput {
        mbit: stats::received_bits(
            match dir {
                Dir::Download => &run.download_bytes,
                Dir::Upload => &run.upload_bytes,
            },
            run.bin_s,
            from,
            to,
        ) / (to - from)
            / 1e6,
        share: stats::goodput_share(scenario, run, dir, from, to),
    };
    let mut recovery = Vec::new();
    let mut allowances: Vec<(f64, f64)> = Vec::new();
    for dir in Dir::BOTH {
        let steps = scenario.steps(dir);
        for drop_at in scenario.drops(dir) {
            let until = steps
                .iter()
                .map(|s| s.at.get().as_secs_f64())
                .find(|&at| at > drop_at)
                .unwrap_or(to)
                .min(to);
            allowances.push((drop_at, drop_at + RECOVERY_ALLOWANCE_S));
            recovery.push(Recovery {
                direction: dir,
                drop_at_s: drop_at,
                seconds: stats::recovery_time(
                    run,
                    ProbeKind::Tcp,
                    drop_at,
                    until,
                    CONTROLLED_MS,
                    CONTROLLED_HOLD_S,
                ),
            });
        }
    }
    ModeResult {
        mode: run.mode,
        base_rtt_ms: run.base_rtt_tcp_ms,
        added_latency_tcp: stats::added_latency(run, ProbeKind::Tcp, from, to),
        added_latency_tcp_settled: stats::added_latency_outside(
            run,
            ProbeKind::Tcp,
            from,
            to,
            &allowances,
        ),
        added_latency_udp: stats::added_latency(run, ProbeKind::Udp, from, to),
        download: goodput(Dir::Download),
        upload: goodput(Dir::Upload),
        recovery,
        phases: phases::phases(scenario, run, &allowances),
        notes: run.notes.clone(),
    }
}

/// The whole report.
pub fn report(scenario: &Scenario, runs: &[RunData], plot: Option<String>) -> Report {
    let (from, to) = scenario.load_window();
    let modes: Vec<ModeResult> = runs.iter().map(|r| mode_result(scenario, r)).collect();
    Report {
        benchmark: "lab",
        scenario: scenario.name.clone(),
        description: scenario.description.trim().to_string(),
        base_delay_ms: scenario.base_delay.get().as_secs_f64() * 1e3,
        load_window_s: (from.as_secs_f64(), to.as_secs_f64()),
        controlled_below_ms: CONTROLLED_MS,
        controlled_hold_s: CONTROLLED_HOLD_S,
        recovery_allowance_s: RECOVERY_ALLOWANCE_S,
        repeated: repeated(&modes),
        modes,
        plot,
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// A table for the terminal.
pub fn summary(report: &Report) -> String {
    let mut s = format!(
        "scenario {} (base delay {} ms; load {:.0}-{:.0} s)\n\
         mode    | added latency TCP p50/p95/p99 ms | p99 outside {:.0} s after drops | UDP p99 ms (lost) | goodput down / up (share of capacity) | recovery after drops\n",
        report.scenario,
        report.base_delay_ms,
        report.load_window_s.0,
        report.load_window_s.1,
        report.recovery_allowance_s
    );
    for m in &report.modes {
        let recovery: Vec<String> = m
            .recovery
            .iter()
            .map(|r| {
                format!(
                    "{}@{:.0}s: {}",
                    r.direction.name(),
                    r.drop_at_s,
                    r.seconds
                        .map_or("not recovered".into(), |s| format!("{s:.1} s"))
                )
            })
            .collect();
        s.push_str(&format!(
            "{:<7} | {:>8} / {:>6} / {:>6}          | {:>6}                    | {:>7} ({})       | {:.1} Mbit ({:.0}%) / {:.1} Mbit ({:.0}%) | {}\n",
            m.mode.name(),
            ms(m.added_latency_tcp.p50_ms),
            ms(m.added_latency_tcp.p95_ms),
            ms(m.added_latency_tcp.p99_ms),
            ms(m.added_latency_tcp_settled.p99_ms),
            ms(m.added_latency_udp.p99_ms),
            m.added_latency_udp.lost,
            m.download.mbit,
            m.download.share * 100.0,
            m.upload.mbit,
            m.upload.share * 100.0,
            recovery.join(", ")
        ));
        if m.phases.len() > 1 {
            for line in phases::summary_lines(&m.phases) {
                s.push_str(&format!("        {line}\n"));
            }
        }
        for note in &m.notes {
            s.push_str(&format!("        note: {note}\n"));
        }
    }
    let has_drops = report.modes.iter().any(|m| !m.recovery.is_empty());
    for r in &report.repeated {
        let spread = |v: Option<Spread>, scale: f64| {
            v.map_or("-".into(), |v| {
                format!(
                    "{:.1} ({:.1}-{:.1})",
                    v.median * scale,
                    v.low * scale,
                    v.high * scale
                )
            })
        };
        s.push_str(&format!(
            "{} median of {} runs (range): TCP p99 {} ms, outside drops {} ms, goodput {}% / {}%, slowest recovery {}\n",
            r.mode.name(),
            r.runs,
            spread(r.p99_ms, 1.0),
            spread(r.p99_settled_ms, 1.0),
            spread(r.download_share, 100.0),
            spread(r.upload_share, 100.0),
            match r.recovery_median_s {
                _ if !has_drops => "-".to_string(),
                Some(s) => format!("{s:.1} s"),
                None => "not recovered".into(),
            },
        ));
    }
    if let Some(plot) = &report.plot {
        s.push_str(&format!("plot: {plot}\n"));
    }
    s
}
