//! `cargo xtask bench routeros`: queue writes against the REST emulator on loopback.
//!
//! Measured side by side in one run:
//! - `client_https` / `client_http`: `RouterOsClient::set_max_limit` back to back (ids cached): writes/s,
//!   p50/p99 latency, HTTP requests per write;
//! - `writer_https`: the `RouterOsWriter` task, limiter opened wide, one new target at a time: time from
//!   `apply` to the router holding it, and HTTP requests per applied change (target 1).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use wanctl::{
    config::{Bandwidth, DurationSpec},
    shaper::{
        Shaper,
        routeros::{MaxLimit, Password, QueueRef, RouterOsClient, RouterOsWriter},
    },
    signal::Direction,
};
use wanctl_tests::routeros_emulator::{Emulator, PASSWORD};

const WRITES: usize = 1_000;
const WARMUP: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn summary(mut latencies: Vec<Duration>, total: Duration, requests: u64) -> serde_json::Value {
    latencies.sort();
    let n = latencies.len();
    json!({
        "writes": n,
        "writes_per_s": (n as f64 / total.as_secs_f64()).round(),
        "p50_ms": (percentile(&latencies, 0.50) * 1000.0).round() / 1000.0,
        "p99_ms": (percentile(&latencies, 0.99) * 1000.0).round() / 1000.0,
        "http_requests_per_write": requests as f64 / n as f64,
    })
}

fn rate(i: usize) -> Bandwidth {
    // Alternate so every write is a change.
    Bandwidth::from_bps(50_000_000 + (i as u64 % 2) * 1_000_000 + i as u64)
}

async fn client_bench(emu: &Emulator, ca: Option<&std::path::Path>) -> serde_json::Value {
    emu.add_queue_tree("wan-down", "100000000");
    let config = emu.config(ca);
    let client = RouterOsClient::new(&config, Password::new(PASSWORD)).expect("client");
    let queue = QueueRef::Tree("wan-down".into());
    for i in 0..WARMUP {
        client
            .set_max_limit(&queue, MaxLimit::Single(rate(i)))
            .await
            .expect("warmup write");
    }
    let before = client.requests_sent();
    let mut latencies = Vec::with_capacity(WRITES);
    let start = Instant::now();
    for i in 0..WRITES {
        let t = Instant::now();
        client
            .set_max_limit(&queue, MaxLimit::Single(rate(i + WARMUP)))
            .await
            .expect("write");
        latencies.push(t.elapsed());
    }
    summary(latencies, start.elapsed(), client.requests_sent() - before)
}

/// Waits until the writer has done `n` writes.
async fn wait_for(writer: &RouterOsWriter, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.health().writes_done < n {
        assert!(Instant::now() < deadline, "writer stalled");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

async fn writer_bench(emu: &Emulator, ca: &std::path::Path) -> serde_json::Value {
    emu.add_queue_tree("wan-down", "100000000");
    emu.add_queue_tree("wan-up", "20000000");
    let mut config = emu.config(Some(ca));
    config.deadband_percent = 0.0;
    config.rate_limit.max_writes = 1_000_000;
    config.rate_limit.window = DurationSpec::from_secs(1);
    let client = Arc::new(RouterOsClient::new(&config, Password::new(PASSWORD)).expect("client"));
    let mut writer = RouterOsWriter::with_client(client.clone(), &config);
    for i in 0..WARMUP {
        writer
            .apply(Direction::Download, rate(i))
            .await
            .expect("apply");
        wait_for(&writer, i as u64 + 1).await;
    }
    let before = client.requests_sent();
    let mut latencies = Vec::with_capacity(WRITES);
    let start = Instant::now();
    for i in 0..WRITES {
        let t = Instant::now();
        writer
            .apply(Direction::Download, rate(i + WARMUP))
            .await
            .expect("apply");
        wait_for(&writer, (WARMUP + i) as u64 + 1).await;
        latencies.push(t.elapsed());
    }
    summary(latencies, start.elapsed(), client.requests_sent() - before)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile_dir();
    let https = Emulator::start_https().await;
    let ca = https.write_ca(&dir);
    let client_https = client_bench(&https, Some(&ca)).await;
    let http = Emulator::start_http().await;
    let client_http = client_bench(&http, None).await;
    let writer_https_emu = Emulator::start_https().await;
    let ca2 = dir.join("writer");
    std::fs::create_dir_all(&ca2).expect("dir");
    let ca2 = writer_https_emu.write_ca(&ca2);
    let writer_https = writer_bench(&writer_https_emu, &ca2).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = json!({
        "benchmark": "routeros",
        "note": "loopback emulator, sequential writes, ids cached after warmup",
        "client_https": client_https,
        "client_http": client_http,
        "writer_https": writer_https,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wanctl-bench-routeros-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
