//! The lab's plot as a self-contained SVG: one column per mode; rows for download and upload (capacity,
//! shaper rate, goodput in Mbit/s) and for the probes' added latency in ms.

use std::fmt::Write;

use super::{
    data::{ProbeKind, RunData},
    scenario::{Dir, Scenario},
    stats::{CONTROLLED_MS, base_rtt},
};

const CHART_W: f64 = 460.0;
const CHART_H: f64 = 190.0;
const MARGIN_L: f64 = 60.0;
const MARGIN_T: f64 = 50.0;
const GAP_X: f64 = 40.0;
const GAP_Y: f64 = 50.0;

/// A series to draw: colour, dashed or not, legend label, points.
struct Series<'a> {
    colour: &'a str,
    dashed: bool,
    label: &'a str,
    points: Vec<(f64, f64)>,
}

/// One chart's frame: where it sits and its axis ranges.
struct Frame {
    x: f64,
    y: f64,
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn px(&self, t: f64) -> f64 {
        self.x + t.clamp(0.0, self.x_max) / self.x_max * CHART_W
    }
    fn py(&self, v: f64) -> f64 {
        self.y + CHART_H - v.clamp(0.0, self.y_max) / self.y_max * CHART_H
    }
}

/// Draws every run of `scenario` into one SVG document.
pub fn svg(scenario: &Scenario, runs: &[RunData]) -> String {
    let duration = scenario.duration.get().as_secs_f64();
    let cols = runs.len().max(1) as f64;
    let width = MARGIN_L + cols * (CHART_W + GAP_X) + 20.0;
    let height = MARGIN_T + 3.0 * (CHART_H + GAP_Y) + 30.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{MARGIN_L}" y="22" font-size="16">wanctl lab: {} (base delay {} ms)</text>"##,
        escape(&scenario.name),
        scenario.base_delay.get().as_millis()
    );
    for (col, run) in runs.iter().enumerate() {
        let x = MARGIN_L + col as f64 * (CHART_W + GAP_X);
        for (row, dir) in Dir::BOTH.into_iter().enumerate() {
            let y = MARGIN_T + row as f64 * (CHART_H + GAP_Y);
            rate_chart(&mut out, scenario, run, dir, x, y, duration);
        }
        let y = MARGIN_T + 2.0 * (CHART_H + GAP_Y);
        latency_chart(&mut out, run, x, y, duration);
    }
    out.push_str("</svg>\n");
    out
}

fn rate_chart(
    out: &mut String,
    scenario: &Scenario,
    run: &RunData,
    dir: Dir,
    x: f64,
    y: f64,
    duration: f64,
) {
    let mut capacity = Vec::new();
    for (i, step) in scenario.steps(dir).iter().enumerate() {
        let at = step.at.get().as_secs_f64();
        let mbit = step.rate.mbit();
        if i > 0
            && let Some(&(_, previous)) = capacity.last()
        {
            capacity.push((at, previous));
        }
        capacity.push((at, mbit));
    }
    if let Some(&(_, last)) = capacity.last() {
        capacity.push((duration, last));
    }
    let shaper: Vec<(f64, f64)> = run
        .shaper
        .iter()
        .filter_map(|s| {
            match dir {
                Dir::Download => s.download_bps,
                Dir::Upload => s.upload_bps,
            }
            .map(|bps| (s.t, bps as f64 / 1e6))
        })
        .collect();
    let bins = match dir {
        Dir::Download => &run.download_bytes,
        Dir::Upload => &run.upload_bytes,
    };
    // Half-second averages: single bins swing with every burst of ACK clocking.
    let per = ((0.5 / run.bin_s).round() as usize).max(1);
    let goodput: Vec<(f64, f64)> = bins
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let span = chunk.len() as f64 * run.bin_s;
            let bits = chunk.iter().sum::<u64>() as f64 * 8.0;
            ((i * per) as f64 * run.bin_s + span / 2.0, bits / span / 1e6)
        })
        .collect();
    let peak = capacity
        .iter()
        .chain(&shaper)
        .map(|p| p.1)
        .fold(1.0, f64::max);
    let frame = Frame {
        x,
        y,
        x_max: duration,
        y_max: nice_ceiling(peak * 1.15),
    };
    let title = format!("{}: {} Mbit/s", run.mode.name(), dir.name());
    axes(out, &frame, &title);
    let series = [
        Series {
            colour: "#2ca02c",
            dashed: false,
            label: "goodput",
            points: goodput,
        },
        Series {
            colour: "#000000",
            dashed: false,
            label: "capacity",
            points: capacity,
        },
        Series {
            colour: "#1f77b4",
            dashed: true,
            label: "shaper rate",
            points: shaper,
        },
    ];
    draw(out, &frame, &series);
}

fn latency_chart(out: &mut String, run: &RunData, x: f64, y: f64, duration: f64) {
    let added = |kind| -> Vec<(f64, f64)> {
        let base = base_rtt(run, kind);
        run.probes
            .iter()
            .filter(|p| p.kind == kind)
            .filter_map(|p| p.rtt_ms.map(|r| (p.t, r - base)))
            .collect()
    };
    let (tcp, udp) = (added(ProbeKind::Tcp), added(ProbeKind::Udp));
    let peak = tcp
        .iter()
        .chain(&udp)
        .map(|p| p.1)
        .fold(CONTROLLED_MS * 2.0, f64::max);
    let frame = Frame {
        x,
        y,
        x_max: duration,
        y_max: nice_ceiling(peak * 1.05),
    };
    axes(
        out,
        &frame,
        &format!("{}: added latency, ms", run.mode.name()),
    );
    let limit = vec![(0.0, CONTROLLED_MS), (duration, CONTROLLED_MS)];
    let series = [
        Series {
            colour: "#ff7f0e",
            dashed: false,
            label: "UDP echo",
            points: udp,
        },
        Series {
            colour: "#d62728",
            dashed: false,
            label: "TCP req/resp",
            points: tcp,
        },
        Series {
            colour: "#7f7f7f",
            dashed: true,
            label: "15 ms",
            points: limit,
        },
    ];
    draw(out, &frame, &series);
}

fn axes(out: &mut String, f: &Frame, title: &str) {
    let (x0, y0, x1, y1) = (f.x, f.y, f.x + CHART_W, f.y + CHART_H);
    let _ = write!(
        out,
        r##"<text x="{x0}" y="{}" font-size="13">{}</text><rect x="{x0}" y="{y0}" width="{CHART_W}" height="{CHART_H}" fill="none" stroke="#444"/>"##,
        y0 - 8.0,
        escape(title)
    );
    for i in 0..=4 {
        let v = f.y_max * f64::from(i) / 4.0;
        let py = f.py(v);
        let _ = write!(
            out,
            r##"<line x1="{x0}" y1="{py:.1}" x2="{x1}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 4.0,
            py + 4.0,
            trim_number(v)
        );
    }
    let step = nice_ceiling(f.x_max / 6.0).max(1.0);
    let mut t = 0.0;
    while t <= f.x_max + 1e-9 {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{}s</text>"##,
            f.px(t),
            y1 + 14.0,
            trim_number(t)
        );
        t += step;
    }
}

fn draw(out: &mut String, f: &Frame, series: &[Series]) {
    let mut legend_x = f.x + 8.0;
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let points: Vec<String> = s
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", f.px(t), f.py(v)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6,3""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="{}" stroke-width="1.5"{dash} points="{}"/><rect x="{legend_x:.1}" y="{:.1}" width="10" height="3" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            s.colour,
            points.join(" "),
            f.y + 12.0,
            s.colour,
            legend_x + 13.0,
            f.y + 16.0,
            escape(s.label)
        );
        legend_x += 20.0 + 7.0 * s.label.len() as f64;
    }
}

/// The smallest 1, 2, 2.5 or 5 times a power of ten at or above `v`.
pub fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
