//! `wanctl probe`: attach the passive RTT programs to an interface and print what they see.

use std::{
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::probe::ebpf::{ProbeConfig, ProbeSample, ProbeStats, WanPrograms};

/// How often samples are drained and printed (the kernel also wakes us when its ring fills up).
const DRAIN_PERIOD: Duration = Duration::from_millis(100);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The WAN interface to watch (Ethernet, VLAN, PPP, WireGuard...).
    #[arg(long, short)]
    pub interface: String,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub duration: Option<f64>,
    /// One JSON object per line: each sample, then a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let duration = args
        .duration
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .with_context(|| format!("--duration {secs}: not a duration"))
        })
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(watch(args, duration))
}

async fn watch(args: &Args, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    let mut programs = WanPrograms::load(&ProbeConfig::default())?;
    programs
        .attach(&args.interface)
        .with_context(|| format!("attaching to {}", args.interface))?;
    let mut reader = programs.samples()?;
    // Registered once, so a signal arriving while a batch is printed is not missed.
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let started = Instant::now();
    let deadline = duration.map(|d| tokio::time::Instant::from_std(started + d));
    let stop = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    // On stderr in both modes: stdout stays pure JSON lines, and scripts can wait for this line to know the
    // programs are attached.
    eprintln!("watching {} (Ctrl-C to stop)", args.interface);
    let mut batch = Vec::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let done = tokio::select! {
            () = reader.wait(DRAIN_PERIOD) => false,
            _ = interrupt.recv() => true,
            _ = terminate.recv() => true,
            () = &mut stop => true,
        };
        batch.clear();
        reader.drain_into(&mut batch);
        for sample in &batch {
            writeln!(stdout, "{}", format_sample(sample, args.json))?;
        }
        stdout.flush()?;
        if done {
            break;
        }
    }
    let stats = programs.stats()?;
    writeln!(
        stdout,
        "{}",
        format_summary(&stats, started.elapsed(), args.json)
    )?;
    programs.detach()?;
    Ok(ExitCode::SUCCESS)
}

fn kind_name(sample: &ProbeSample) -> &'static str {
    match sample.sample.kind {
        crate::signal::SampleKind::Upload => "upload",
        crate::signal::SampleKind::Download => "download",
        crate::signal::SampleKind::Handshake => "handshake",
        crate::signal::SampleKind::Active => "active",
    }
}

fn format_sample(sample: &ProbeSample, as_json: bool) -> String {
    let rtt_ms = sample.sample.rtt.as_secs_f64() * 1e3;
    if as_json {
        json!({
            "at_ns": sample.sample.at.as_nanos(),
            "rtt_ms": rtt_ms,
            "kind": kind_name(sample),
            "direction": sample.direction.map(|d| d.as_str()),
            "remote": sample.remote.to_string(),
            "local_port": sample.local_port,
            "flow": format!("{:016x}", sample.sample.flow),
            "min_rtt_ms": sample.min_rtt.as_secs_f64() * 1e3,
            // The peer's clock on the completing segment: what the download's one-way delay is built from.
            "peer_tsval": sample.sample.peer_tsval,
        })
        .to_string()
    } else {
        format!(
            "{rtt_ms:9.3} ms  {:<9}  {} (local port {})",
            kind_name(sample),
            sample.remote,
            sample.local_port
        )
    }
}

fn format_summary(stats: &ProbeStats, elapsed: Duration, as_json: bool) -> String {
    if as_json {
        return json!({ "summary": stats, "elapsed_s": elapsed.as_secs_f64() }).to_string();
    }
    let dir = |name: &str, d: &crate::probe::ebpf::DirectionTraffic| {
        format!(
            "  {name:<8} {} packets, {} bytes, {} TCP segments, {} retransmissions",
            d.packets, d.bytes, d.tcp_packets, d.tcp_retransmits
        )
    };
    [
        format!("summary after {:.1} s:", elapsed.as_secs_f64()),
        format!(
            "  samples  {} emitted, {} suppressed by the per-flow interval, {} by the rate limit, {} lost (ring full)",
            stats.samples_emitted, stats.suppressed_interval, stats.suppressed_rate, stats.ringbuf_full
        ),
        format!(
            "  flows    {} created, {} refused by the map; {} download candidates rejected",
            stats.flows_created, stats.flow_create_failed, stats.download_rejected
        ),
        format!(
            "  packets  {} TCP without timestamps, {} malformed",
            stats.no_timestamp, stats.malformed
        ),
        dir("upload", &stats.upload),
        dir("download", &stats.download),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Direction, RttSample, SampleKind, Timestamp};

    #[test]
    fn json_lines_carry_rtt_kind_direction_and_the_peers_timestamp() {
        let sample = ProbeSample {
            sample: RttSample {
                at: Timestamp::from_nanos(7),
                rtt: Duration::from_micros(12_500),
                kind: SampleKind::Download,
                flow: 0xabc,
                peer_tsval: Some(4_000_000_123),
            },
            direction: Some(Direction::Download),
            remote: "198.51.100.7:443".parse().unwrap(),
            local_port: 40000,
            min_rtt: Duration::from_millis(10),
            gap: None,
        };
        let line: serde_json::Value = serde_json::from_str(&format_sample(&sample, true)).unwrap();
        assert_eq!(line["rtt_ms"], 12.5);
        assert_eq!(line["kind"], "download");
        assert_eq!(line["direction"], "download");
        assert_eq!(line["remote"], "198.51.100.7:443");
        assert_eq!(line["peer_tsval"], 4_000_000_123u32);
        let text = format_sample(&sample, false);
        assert!(
            text.contains("12.500 ms") && text.contains("download"),
            "{text}"
        );
    }

    #[test]
    fn summary_reports_every_counter() {
        let stats = ProbeStats {
            samples_emitted: 3,
            ringbuf_full: 4,
            ..ProbeStats::default()
        };
        let line: serde_json::Value =
            serde_json::from_str(&format_summary(&stats, Duration::from_secs(2), true)).unwrap();
        assert_eq!(line["summary"]["samples_emitted"], 3);
        assert_eq!(line["summary"]["ringbuf_full"], 4);
        assert_eq!(line["summary"]["upload"]["tcp_retransmits"], 0);
        let text = format_summary(&stats, Duration::from_secs(2), false);
        assert!(
            text.contains("3 emitted") && text.contains("4 lost"),
            "{text}"
        );
    }
}
