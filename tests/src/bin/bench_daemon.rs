//! `cargo xtask bench daemon [seconds]`: the cost of `wanctl run` (release build) at its default 20 Hz, in
//! one run: the time from spawn to READY=1 (and that time without the eBPF load and verification, read from
//! the daemon's own JSON log), then CPU share of one core and resident memory over an idle period and over
//! a period with real traffic (a CUBIC upload and download through a 20 Mbit/s bottleneck), side by side.
//! The sink is an emulated MikroTik, so REST writes are part of the cost.
//!
//! Prints one JSON object. Needs root.

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wanctl_tests::{
    daemon::{Daemon, free_port, http_get, metric, router_in},
    netns::is_root,
    routeros_emulator::PASSWORD,
    tcp::{Sender, bulk},
    topology::{Bottleneck, Bufferbloat, SERVER_V4, WAN_IF},
};

/// CPU time (user + system) of `pid`, from /proc.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    Duration::from_millis(ticks * 1000 / hz)
}

/// A `/proc/<pid>/status` value in kB (VmRSS, VmHWM).
fn status_kb(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("status key")
}

/// Seconds between the first log line whose message contains `from` and the first containing `to`.
fn log_span(log: &str, from: &str, to: &str) -> Option<f64> {
    let at = |needle: &str| {
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needle))
            })
            .and_then(|v| v["timestamp"].as_str().map(str::to_string))
    };
    let (a, b) = (at(from)?, at(to)?);
    Some(seconds_of_day(&b)? - seconds_of_day(&a)?)
}

/// `2026-11-29T10:45:36.423128Z` -> seconds since midnight.
fn seconds_of_day(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

fn config(dir: &Path, port: u16, router: &Value) -> Value {
    json!({
        "schema_version": 1,
        "service": {
            "http_listen": format!("127.0.0.1:{port}"),
            "state_dir": dir.join("state"),
            "runtime_dir": dir.join("run"),
            "log_format": "json",
        },
        "wans": [{
            "name": "wan1",
            "interface": WAN_IF,
            "control": {
                "interval": "50ms",
                "min_rtt": "10us",
                "download": { "ceiling": "22Mbit", "floor_red": "5Mbit", "step_up": "1Mbit" },
                "upload": { "ceiling": "22Mbit", "floor_red": "5Mbit", "step_up": "1Mbit" },
            },
            "routeros": router,
        }],
    })
}

/// CPU share of one core and RSS over `period` while `load` runs (or idles).
fn measure(daemon: &Daemon, period: Duration, load: impl FnOnce()) -> Value {
    let pid = daemon.pid();
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    load();
    let remaining = period.saturating_sub(t0.elapsed());
    std::thread::sleep(remaining);
    let (cpu1, wall) = (cpu_time(pid), t0.elapsed());
    json!({
        "seconds": wall.as_secs_f64(),
        "cpu_share_of_one_core": (cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64(),
        "rss_mb": status_kb(pid, "VmRSS") as f64 / 1024.0,
    })
}

fn main() {
    assert!(is_root(), "bench-daemon needs root (namespaces, eBPF)");
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let period = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = Bufferbloat::new("bd", &Bottleneck::default());
    let (emu, router) = router_in(&lab.gateway, &runtime, "22000000");
    let dir = std::env::temp_dir().join(format!("wanctl-bench-daemon-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("credentials")).unwrap();
    std::fs::write(dir.join("credentials/router"), PASSWORD).unwrap();
    let port = free_port(&lab.gateway);
    let config_path = dir.join("wanctl.yaml");
    std::fs::write(
        &config_path,
        serde_json::to_string(&config(&dir, port, &router)).unwrap(),
    )
    .unwrap();

    let mut daemon = Daemon::spawn(&lab.gateway, &dir, &config_path, &[], None);
    daemon.wait_for(Duration::from_secs(60), |m| m.contains("READY=1"));
    let ready = daemon.started.elapsed().as_secs_f64();
    let log = daemon.log_text();
    let ebpf_load = log_span(
        &log,
        "starting from the configured rates",
        "eBPF probe attached",
    );
    let idle = measure(&daemon, period, || {});
    let loaded = measure(&daemon, period, || {
        let server_up: SocketAddr = format!("{SERVER_V4}:5401").parse().unwrap();
        let server_down: SocketAddr = format!("{SERVER_V4}:5402").parse().unwrap();
        let transfer = period.saturating_sub(Duration::from_secs(1));
        std::thread::scope(|s| {
            s.spawn(|| {
                bulk(
                    &lab.gateway,
                    &lab.server,
                    server_up,
                    Sender::Client,
                    transfer,
                    transfer,
                )
            });
            s.spawn(|| {
                bulk(
                    &lab.gateway,
                    &lab.server,
                    server_down,
                    Sender::Server,
                    transfer,
                    transfer,
                )
            });
        });
    });
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let metrics = http_get(&lab.gateway, address, "/metrics").1;
    let peak_rss_mb = status_kb(daemon.pid(), "VmHWM") as f64 / 1024.0;
    daemon.signal(libc::SIGTERM);
    let clean_exit = daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success());
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);

    let result = json!({
        "benchmark": "daemon",
        "cycle_hz": 20,
        "start_to_ready_seconds": ready,
        "ebpf_load_and_verify_seconds": ebpf_load,
        "start_to_ready_without_ebpf_load_seconds": ebpf_load.map(|l| ready - l),
        "idle": idle,
        "with_traffic": loaded,
        "cpu_ratio_traffic_over_idle": loaded["cpu_share_of_one_core"].as_f64().unwrap_or(0.0)
            / idle["cpu_share_of_one_core"].as_f64().unwrap_or(f64::NAN),
        "peak_rss_mb": peak_rss_mb,
        "cycles": metric(&metrics, "wanctl_cycles_total{wan=\"wan1\"}"),
        "cycle_overruns": metric(&metrics, "wanctl_cycle_overruns_total{wan=\"wan1\"}"),
        "rtt_samples": metric(&metrics, "wanctl_rtt_samples_total{wan=\"wan1\"}"),
        "router_patches": emu.count("PATCH"),
        "clean_exit": clean_exit,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
}
