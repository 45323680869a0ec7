//! `wanctl run` as an operator deploys it: the real binary in a gateway namespace, its passive probe on the
//! WAN veth, a bloated upload through a 20 Mbit/s bottleneck, and a (emulated) MikroTik as its sink. The test
//! reads the systemd notifications, `/health` and `/metrics`, reloads good and bad files, kills it with
//! SIGKILL and restarts it (the lock must not block, the state must come back, a corrupt state file falls
//! back to the backup), and stops it with SIGTERM (programs detached).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::{Value, json};
use wanctl_tests::{
    daemon::{Daemon, free_port, http_get, metric, router_in},
    netns::{Netns, is_root},
    routeros_emulator::{Emulator, PASSWORD, QUEUE_TREE},
    tc::filters_mentioning_wanctl,
    tcp::{Sender, bulk},
    topology::{Bottleneck, Bufferbloat, SERVER_V4, WAN_IF},
};

/// Generous: only a broken daemon, never a slow machine, runs out of it.
const PATIENCE: Duration = Duration::from_secs(30);

/// The gateway's configuration: passive probe on the WAN veth, the lab's microsecond idle RTT allowed,
/// ceilings near the 20 Mbit/s bottleneck, the emulated router as the only sink.
fn config(dir: &Path, port: u16, router: &Value, upload_ceiling: &str) -> Value {
    json!({
        "schema_version": 1,
        "service": {
            "http_listen": format!("127.0.0.1:{port}"),
            "state_dir": dir.join("state"),
            "runtime_dir": dir.join("run"),
            "state_save_interval": "1s",
            "watchdog": { "stall_after": "2s" },
        },
        "wans": [{
            "name": "wan1",
            "interface": WAN_IF,
            "control": {
                "min_rtt": "10us",
                "target_bloat": "15ms", "warn_bloat": "45ms", "hard_red_bloat": "80ms",
                "download": { "ceiling": "22Mbit", "floor_red": "5Mbit", "step_up": "1Mbit" },
                "upload": { "ceiling": upload_ceiling, "floor_red": "5Mbit", "step_up": "1Mbit" },
            },
            "routeros": router,
        }],
    })
}

fn write(path: &Path, value: &Value) {
    // JSON is YAML: the daemon reads it as its YAML configuration.
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn health(ns: &Netns, address: SocketAddr) -> (u16, Value) {
    let (status, body) = http_get(ns, address, "/health");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health `{body}`: {e}"));
    (status, json)
}

fn router_limit(emu: &Emulator, queue: &str) -> u64 {
    let text = emu.field(QUEUE_TREE, queue, "max-limit").unwrap();
    // RouterOS prints either plain bits per second or a k/M/G suffix.
    let (digits, scale) = match text.strip_suffix(['k', 'M', 'G']) {
        Some(digits) => (
            digits,
            [1_000, 1_000_000, 1_000_000_000]["kMG".find(text.chars().last().unwrap()).unwrap()],
        ),
        None => (text.as_str(), 1),
    };
    digits
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("max-limit {text}"))
        * scale
}

struct Lab {
    lab: Bufferbloat,
    dir: tempfile::TempDir,
    config: PathBuf,
    address: SocketAddr,
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn the_daemon_measures_decides_reloads_survives_sigkill_and_stops_cleanly() {
    assert!(is_root(), "this test needs root");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bufferbloat = Bufferbloat::new("dmn", &Bottleneck::default());
    // The router's REST API listens inside the gateway namespace, where the daemon runs.
    let (emu, router) = router_in(&bufferbloat.gateway, &runtime, "22000000");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("credentials")).unwrap();
    std::fs::write(dir.path().join("credentials/router"), PASSWORD).unwrap();
    let port = free_port(&bufferbloat.gateway);
    let lab = Lab {
        config: dir.path().join("wanctl.yaml"),
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        dir,
        lab: bufferbloat,
    };
    let gateway = &lab.lab.gateway;
    write(
        &lab.config,
        &config(lab.dir.path(), port, &router, "22Mbit"),
    );

    let mut daemon = Daemon::spawn(
        gateway,
        lab.dir.path(),
        &lab.config,
        &[],
        Some(Duration::from_millis(400)),
    );
    let ready = daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    assert!(ready.contains("STATUS=wan1 GREEN/GREEN"), "{ready}");
    let (status, idle) = health(gateway, lab.address);
    assert_eq!(status, 200, "{idle}");
    assert_eq!(idle["wans"][0]["name"], "wan1");
    // The watchdog runs at half of WATCHDOG_USEC, gated on the loop's progress.
    daemon.wait_for(PATIENCE, |m| m.trim() == "WATCHDOG=1");

    loaded_upload_drives_the_router_down(&lab, &emu);
    let metrics = http_get(gateway, lab.address, "/metrics").1;
    let samples = metric(&metrics, "wanctl_rtt_samples_total{wan=\"wan1\"}").unwrap_or(0.0);
    assert!(samples > 0.0, "no RTT samples counted:\n{metrics}");
    let cycles = metric(&metrics, "wanctl_cycles_total{wan=\"wan1\"}").unwrap_or(0.0);
    assert!(cycles > 20.0, "{metrics}");
    assert!(
        metrics.contains("wanctl_target_rate_bits_per_second{wan=\"wan1\",direction=\"upload\"}"),
        "{metrics}"
    );
    let (_, loaded) = health(gateway, lab.address);
    assert!(loaded["wans"][0]["baseline_rtt_ms"].is_number(), "{loaded}");
    assert_eq!(loaded["wans"][0]["router_reachable"], true, "{loaded}");

    reloads_keep_a_bad_file_out_and_apply_a_good_one(&lab, &mut daemon, &router);
    let state_file = lab.dir.path().join("state/wan1.state.json");
    assert!(state_file.exists(), "no state written within 1 s intervals");

    // SIGKILL: no cleanup at all. The lock must not block the restart, and the state must come back even
    // though the primary file is now garbage (the backup is used, and the log says so).
    daemon.signal(libc::SIGKILL);
    assert!(
        daemon.wait_exit(PATIENCE).is_some(),
        "SIGKILL did not end it"
    );
    drop(daemon);
    assert!(
        lab.dir.path().join("state/wan1.state.json.bak").exists(),
        "no backup state written"
    );
    std::fs::write(&state_file, "{ not json").unwrap();
    let mut daemon = Daemon::spawn(gateway, lab.dir.path(), &lab.config, &[], None);
    daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    let log = daemon.log_text();
    assert!(
        log.contains("state restored") && log.contains("Backup"),
        "the backup was not used:\n{log}"
    );
    let (status, _) = health(gateway, lab.address);
    assert_eq!(status, 200);

    // SIGTERM: STOPPING=1, a clean exit, nothing of wanctl left on the interface.
    daemon.signal(libc::SIGTERM);
    daemon.wait_for(PATIENCE, |m| m.contains("STOPPING=1"));
    let exit = daemon.wait_exit(PATIENCE).expect("SIGTERM did not end it");
    assert!(exit.success(), "{exit}\n{}", daemon.log_text());
    assert_eq!(filters_mentioning_wanctl(gateway, WAN_IF), "");
}

/// A CUBIC upload fills the bottleneck's queue: the daemon must see it in its passive samples and lower the
/// upload queue's max-limit on the router.
fn loaded_upload_drives_the_router_down(lab: &Lab, emu: &Emulator) {
    let server: SocketAddr = format!("{SERVER_V4}:5301").parse().unwrap();
    bulk(
        &lab.lab.gateway,
        &lab.lab.server,
        server,
        Sender::Client,
        Duration::from_secs(8),
        Duration::from_secs(1),
    );
    let limit = router_limit(emu, "wan-up");
    assert!(
        limit < 20_000_000,
        "the router's upload limit stayed at {limit} under a bloated upload"
    );
    assert!(emu.count("PATCH") > 0);
}

fn reloads_keep_a_bad_file_out_and_apply_a_good_one(
    lab: &Lab,
    daemon: &mut Daemon,
    router: &Value,
) {
    let good = std::fs::read_to_string(&lab.config).unwrap();
    std::fs::write(&lab.config, good.replace("\"wans\"", "\"wams\"")).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for(PATIENCE, |m| m.contains("RELOADING=1"));
    let after = daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    assert!(after.contains("reload refused"), "{after}");
    let (status, _) = health(&lab.lab.gateway, lab.address);
    assert_eq!(
        status, 200,
        "the daemon must keep running the old configuration"
    );

    // A lower upload ceiling applies at once; the rate is clamped into it.
    let port = lab.address.port();
    write(&lab.config, &config(lab.dir.path(), port, router, "8Mbit"));
    daemon.signal(libc::SIGHUP);
    let after = daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    assert!(after.contains("configuration reloaded"), "{after}");
    daemon.drain(Duration::from_millis(500));
    let (_, report) = health(&lab.lab.gateway, lab.address);
    let upload = report["wans"][0]["rate_bps"]["upload"].as_u64().unwrap();
    assert!(
        upload <= 8_000_000,
        "upload {upload} above the reloaded ceiling"
    );
}

/// `--dry-run` touches no shaper, `--record` writes a trace that `wanctl replay` reproduces (the same final
/// upload rate the daemon reported), and `service.log_format: json` makes every log line a JSON object.
#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn dry_run_records_a_replayable_trace_and_logs_json() {
    assert!(is_root(), "this test needs root");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = Bufferbloat::new("dry", &Bottleneck::default());
    let (emu, router) = router_in(&lab.gateway, &runtime, "22000000");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(&lab.gateway);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut config_json = config(dir.path(), port, &router, "22Mbit");
    config_json["service"]["log_format"] = json!("json");
    let config_path = dir.path().join("wanctl.yaml");
    write(&config_path, &config_json);
    let trace = dir.path().join("trace.csv");
    let record = trace.to_str().unwrap();

    let mut daemon = Daemon::spawn(
        &lab.gateway,
        dir.path(),
        &config_path,
        &["--dry-run", "--record", record],
        None,
    );
    daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    let server: SocketAddr = format!("{SERVER_V4}:5302").parse().unwrap();
    bulk(
        &lab.gateway,
        &lab.server,
        server,
        Sender::Client,
        Duration::from_secs(6),
        Duration::from_secs(1),
    );
    let (_, report) = health(&lab.gateway, address);
    daemon.signal(libc::SIGTERM);
    let exit = daemon.wait_exit(PATIENCE).expect("SIGTERM did not end it");
    assert!(exit.success(), "{exit}");

    assert_eq!(
        emu.requests().len(),
        0,
        "a dry run must not talk to the router"
    );
    let decided = report["wans"][0]["rate_bps"]["upload"].as_u64().unwrap();
    assert!(
        decided < 22_000_000,
        "the dry run decided nothing: {report}"
    );

    let log = daemon.log_text();
    assert!(!log.is_empty());
    for line in log.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    let replay = std::process::Command::new(wanctl_tests::daemon::wanctl_binary())
        .args(["replay", "--json", "--config"])
        .arg(&config_path)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let cycles: Vec<Value> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cycles.len() > 50, "{} cycles recorded", cycles.len());
    let rates: Vec<u64> = cycles
        .iter()
        .filter_map(|c| c["upload"]["rate_bps"].as_u64())
        .collect();
    assert!(
        rates.contains(&decided),
        "the replay never reached the daemon's upload rate {decided}: {:?}",
        &cycles[cycles.len() - 1]
    );
}
