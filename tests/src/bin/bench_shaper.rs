//! `cargo xtask bench shaper` (runs inside the VM: it needs sch_cake): latency of one CAKE rate change via
//! wanctl's netlink path vs `tc qdisc change` as a subprocess, alternated in one run. Prints JSON.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use wanctl::{
    config::Bandwidth,
    shaper::{
        Shaper,
        cake::{CakeConfig, CakeShaper, ExitPolicy, OnReplaced, SetupMode},
    },
    signal::Direction,
};
use wanctl_tests::netns::{Netns, veth};

const ITERATIONS: u32 = 400;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn summary(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    serde_json::json!({
        "samples": samples.len(),
        "p50_us": percentile(&samples, 0.5),
        "p99_us": percentile(&samples, 0.99),
        "min_us": percentile(&samples, 0.0),
        "max_us": percentile(&samples, 1.0),
    })
}

fn main() {
    let ns = Netns::new("bench");
    let peer = Netns::new("benchpeer");
    veth(&ns, "wb0", &peer, "pwb0");
    let config = CakeConfig {
        interface: "wb0".into(),
        mode: SetupMode::Install,
        on_replaced: OnReplaced::Report,
        on_exit: ExitPolicy::LeaveLastRate,
        upload: Some(wanctl_tests::cake::direction(100)),
        download: None,
    };
    let (netlink, tc, last_rate) = ns.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut shaper = runtime
            .block_on(CakeShaper::setup(config))
            .expect("install CAKE");
        let (mut netlink, mut tc) = (Vec::new(), Vec::new());
        let mut rate = 0;
        for i in 0..ITERATIONS {
            // Distinct rates, so every netlink call really writes.
            rate = 50_000_000 + u64::from(i) * 16_000;
            let start = Instant::now();
            runtime
                .block_on(shaper.apply(Direction::Upload, Bandwidth::from_bps(rate)))
                .expect("netlink change");
            netlink.push(start.elapsed());
            let start = Instant::now();
            let status = Command::new("tc")
                .args([
                    "qdisc",
                    "change",
                    "dev",
                    "wb0",
                    "root",
                    "handle",
                    "1:",
                    "cake",
                    "bandwidth",
                ])
                .arg(format!("{}bit", rate + 8_000))
                .status()
                .expect("run tc");
            tc.push(start.elapsed());
            assert!(status.success(), "tc qdisc change failed");
        }
        (netlink, tc, rate + 8_000)
    });
    let shown = wanctl_tests::tc::root_qdisc(&ns, "wb0");
    assert_eq!(
        shown["options"]["bandwidth"],
        last_rate / 8,
        "the last change is what tc shows"
    );
    let (netlink, tc) = (summary(netlink), summary(tc));
    let ratio_p50 =
        tc["p50_us"].as_f64().unwrap_or_default() / netlink["p50_us"].as_f64().unwrap_or(f64::NAN);
    let ratio_p99 =
        tc["p99_us"].as_f64().unwrap_or_default() / netlink["p99_us"].as_f64().unwrap_or(f64::NAN);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let out = serde_json::json!({
        "benchmark": "shaper",
        "what": "one CAKE rate change: wanctl netlink (RTM_NEWQDISC, BASE_RATE64 only) vs `tc qdisc change` subprocess, alternated",
        "kernel": kernel.trim(),
        "iterations": ITERATIONS,
        "netlink": netlink,
        "tc_subprocess": tc,
        "speedup_p50": ratio_p50,
        "speedup_p99": ratio_p99,
        "target_speedup_p50": 20.0,
    });
    println!("{out}");
}
