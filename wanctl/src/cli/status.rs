//! `wanctl status`: reads the running daemon's `/health` and prints one row per WAN. Exit 0 when healthy,
//! 1 when degraded or unreachable.

use std::{fmt::Write, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;

use crate::{
    config::{Bandwidth, load_config},
    service::HealthReport,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the daemon's HTTP endpoint.
    #[arg(long, conflicts_with = "config")]
    pub url: Option<String>,
    /// Take the address from this configuration file's `service.http_listen`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let base = match (&args.url, &args.config) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(path)) => {
            let loaded = load_config(path).map_err(|errors| {
                anyhow::anyhow!(
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?;
            format!("http://{}", loaded.document.service.http_listen)
        }
        (None, None) => "http://127.0.0.1:9101".to_string(),
    };
    let url = format!("{base}/health");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(fetch(&url))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.is_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// GETs `/health`; a 503 still carries the report.
pub async fn fetch(url: &str) -> anyhow::Result<HealthReport> {
    // reqwest is built with rustls and no default crypto provider (the RouterOS client installs ring); a
    // client without one panics, so make sure it is there. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}; is wanctl running?"))?;
    let status = response.status();
    if !(status.is_success() || status == reqwest::StatusCode::SERVICE_UNAVAILABLE) {
        anyhow::bail!("{url} answered {status}");
    }
    response
        .json()
        .await
        .with_context(|| format!("{url} did not answer with a wanctl health report"))
}

/// The table: a header line, one row per WAN, its degraded reasons indented below it.
pub fn render(report: &HealthReport) -> String {
    let header = [
        "WAN",
        "STATUS",
        "STATE DL/UL",
        "RATE DL/UL",
        "BASELINE",
        "DELTA",
        "SAMPLES/S",
        "LAST CYCLE",
        "ROUTER",
        "STEERING",
    ];
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}ms"));
    let rows: Vec<[String; 10]> = report
        .wans
        .iter()
        .map(|wan| {
            [
                wan.name.clone(),
                wan.status.clone(),
                format!(
                    "{}/{}",
                    wan.state.download.as_str(),
                    wan.state.upload.as_str()
                ),
                format!(
                    "{}/{}",
                    Bandwidth::from_bps(wan.rate_bps.download),
                    Bandwidth::from_bps(wan.rate_bps.upload)
                ),
                ms(wan.baseline_rtt_ms),
                // The download's own share of the delay, when the peers' timestamps measure it.
                match (wan.delta_rtt_ms, wan.downstream_delay_ms) {
                    (None, _) => "-".to_string(),
                    (Some(v), None) => format!("{v:+.1}ms"),
                    (Some(v), Some(dl)) => format!("{v:+.1}ms (dl {dl:.1})"),
                },
                format!("{:.0}", wan.samples_per_second),
                wan.last_cycle_age_ms
                    .map_or("never".to_string(), |v| format!("{v}ms ago")),
                match wan.router_reachable {
                    None => "-".to_string(),
                    Some(true) => "up".to_string(),
                    Some(false) => "DOWN".to_string(),
                },
                wan.steering.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[&str]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = format!(
        "wanctl {}: {} (up {}s{})\n",
        report.version,
        report.status,
        report.uptime_seconds,
        report
            .steering_state
            .as_ref()
            .map(|s| format!(", steering {s}"))
            .unwrap_or_default()
    );
    out.push_str(&line(&header));
    for (row, wan) in rows.iter().zip(&report.wans) {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
        for reason in &wan.degraded_reasons {
            let _ = writeln!(out, "  ! {reason}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        service::{LinkState, WanHealth},
        signal::PerDirection,
    };

    #[test]
    fn golden_table() {
        let wan = |name: &str, reasons: Vec<String>| WanHealth {
            name: name.into(),
            status: if reasons.is_empty() {
                "healthy"
            } else {
                "degraded"
            }
            .into(),
            state: PerDirection {
                download: LinkState::SoftRed,
                upload: LinkState::Green,
            },
            rate_bps: PerDirection {
                download: 95_000_000,
                upload: 18_000_000,
            },
            baseline_rtt_ms: Some(20.04),
            load_rtt_ms: Some(32.0),
            delta_rtt_ms: Some(11.96),
            downstream_delay_ms: Some(1.5),
            samples_per_second: 104.6,
            last_cycle_age_ms: Some(12),
            cycle_overruns: 0,
            active_probes: None,
            shapers: vec![],
            router_reachable: if reasons.is_empty() {
                None
            } else {
                Some(false)
            },
            steering: None,
            degraded_reasons: reasons,
        };
        let report = HealthReport {
            status: "degraded".into(),
            version: "0.1.0".into(),
            uptime_seconds: 42,
            steering_state: None,
            wans: vec![
                wan("wan1", vec![]),
                wan(
                    "fiber2",
                    vec!["shaper routeros:rb unreachable: timeout".into()],
                ),
            ],
        };
        assert_eq!(
            render(&report),
            "wanctl 0.1.0: degraded (up 42s)\n\
             WAN     STATUS    STATE DL/UL     RATE DL/UL     BASELINE  DELTA             SAMPLES/S  LAST CYCLE  ROUTER  STEERING\n\
             wan1    healthy   SOFT_RED/GREEN  95Mbit/18Mbit  20.0ms    +12.0ms (dl 1.5)  105        12ms ago    -       -\n\
             fiber2  degraded  SOFT_RED/GREEN  95Mbit/18Mbit  20.0ms    +12.0ms (dl 1.5)  105        12ms ago    DOWN    -\n\
             \x20 ! shaper routeros:rb unreachable: timeout\n"
        );
    }
}
