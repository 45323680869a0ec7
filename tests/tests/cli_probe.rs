//! `wanctl probe --json`, the operator's first command, run as the real binary in the gateway namespace of a
//! bufferbloat lab: it prints one JSON object per RTT sample and a summary with the counters on exit, and the
//! samples show the queue building up behind a CUBIC upload.

use std::{
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use wanctl_tests::{
    netns::is_root,
    tcp::{Sender, bulk},
    topology::{Bottleneck, Bufferbloat, SERVER_V4, WAN_IF},
};

/// The `wanctl` binary next to this test's executable: `cargo xtask test` builds it before the privileged
/// tests (`cargo build -p wanctl` when running this test alone).
fn wanctl_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("wanctl");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p wanctl` (cargo xtask test does)",
        binary.display()
    );
    binary
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn probe_json_prints_samples_of_real_traffic_and_a_summary() {
    assert!(is_root(), "this test needs root");
    let lab = Bufferbloat::new("pcli", &Bottleneck::default());
    let mut probe = Command::new("ip")
        .args(["netns", "exec", lab.gateway.name()])
        .arg(wanctl_binary())
        .args(["probe", "--interface", WAN_IF, "--duration", "9", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The probe says on stderr when its programs are attached; the transfer (and its SYN) starts after that.
    let mut stderr = BufReader::new(probe.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("watching wan0"),
        "unexpected first line on stderr: {first}"
    );
    let server = format!("{SERVER_V4}:5301").parse().unwrap();
    let transfer = bulk(
        &lab.gateway,
        &lab.server,
        server,
        Sender::Client,
        Duration::from_secs(5),
        Duration::from_millis(100),
    );
    assert!(
        transfer.bytes > 1_000_000,
        "the upload moved data: {}",
        transfer.bytes
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = probe.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            probe.kill().unwrap();
            panic!("wanctl probe did not stop after its --duration");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    probe
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "wanctl probe failed: {status}\n{rest}");

    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let (summary, samples) = lines.split_last().expect("at least the summary line");
    let summary = &summary["summary"];
    let mut upload_rtts: Vec<f64> = samples
        .iter()
        .filter(|s| s["kind"] == "upload" && s["direction"] == "upload")
        .map(|s| s["rtt_ms"].as_f64().unwrap())
        .collect();
    assert!(
        upload_rtts.len() >= 10,
        "upload samples: {}\n{stdout}",
        upload_rtts.len()
    );
    assert!(
        samples
            .iter()
            .all(|s| s["rtt_ms"].as_f64().is_some_and(|ms| ms > 0.0))
    );
    assert!(
        samples.iter().any(|s| s["kind"] == "handshake"),
        "the SYN/SYN-ACK gives a handshake sample"
    );
    // The TBF queue holds up to 300 ms: a CUBIC upload fills it, and the probe must see it.
    let late = upload_rtts.len() / 2;
    let queued = median(&mut upload_rtts[late..]);
    assert!(
        queued > 50.0,
        "median upload RTT in the second half: {queued:.1} ms"
    );

    assert_eq!(
        summary["samples_emitted"].as_u64(),
        Some(samples.len() as u64),
        "{summary}"
    );
    assert!(
        summary["upload"]["packets"].as_u64().unwrap() > 1000,
        "{summary}"
    );
    assert!(
        summary["download"]["packets"].as_u64().unwrap() > 100,
        "{summary}"
    );
    assert!(summary["flows_created"].as_u64().unwrap() >= 1, "{summary}");
}
