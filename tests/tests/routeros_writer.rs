//! The per-router writer against the emulator: the control loop never waits on the router, writes are
//! coalesced and rate limited (decreases first), and an outage or a wrong password neither loses the
//! newest target nor causes a request storm.
//!
//! These run on the real clock: tokio's paused clock jumps ahead whenever the runtime waits on a socket,
//! which would fire request timeouts while the loopback emulator is still answering. Bounds are generous
//! multiples of the behaviour under test (seconds against a 50 ms loop), never tight latencies.

use std::{convert::Infallible, sync::Arc, time::Duration};

use tokio::time::{Instant, sleep};
use wanctl::{
    config::{Bandwidth, DurationSpec},
    shaper::{
        Shaper, ShaperHealth, ShaperStats,
        routeros::{Password, RouterOsClient, RouterOsConfig, RouterOsWriter},
    },
    signal::Direction,
};
use wanctl_tests::routeros_emulator::{Emulator, Outage, PASSWORD, QUEUE_TREE};

fn mbit(n: u64) -> Bandwidth {
    Bandwidth::from_mbit(n)
}

struct Router {
    emu: Emulator,
    _dir: tempfile::TempDir,
    config: RouterOsConfig,
}

async fn router() -> Router {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let emu = Emulator::start_https().await;
    emu.add_queue_tree("wan-down", "100000000");
    emu.add_queue_tree("wan-up", "20000000");
    let dir = tempfile::tempdir().unwrap();
    let ca = emu.write_ca(dir.path());
    let mut config = emu.config(Some(&ca));
    config.deadband_percent = 0.0;
    Router {
        emu,
        _dir: dir,
        config,
    }
}

fn writer(r: &Router, password: &str) -> RouterOsWriter {
    let client = RouterOsClient::new(&r.config, Password::new(password)).unwrap();
    RouterOsWriter::with_client(Arc::new(client), &r.config)
}

/// `max-limit` values the router accepted for `queue`, in order.
fn written(emu: &Emulator, queue: &str) -> Vec<u64> {
    emu.requests()
        .into_iter()
        .filter(|l| l.method == "PATCH" && l.status == 200)
        .filter(|l| {
            let id = l.path.rsplit('/').next().unwrap();
            emu.find(QUEUE_TREE, ".id", id)
                .is_some_and(|r| r["name"] == queue)
        })
        .map(|l| {
            let body: serde_json::Value = serde_json::from_str(&l.body).unwrap();
            body["max-limit"].as_str().unwrap().parse().unwrap()
        })
        .collect()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[derive(Default)]
struct LocalShaper {
    applied: u64,
}

impl Shaper for LocalShaper {
    type Error = Infallible;
    fn name(&self) -> &str {
        "fake:local"
    }
    async fn apply(&mut self, _: Direction, _: Bandwidth) -> Result<(), Infallible> {
        self.applied += 1;
        Ok(())
    }
    async fn stats(&mut self) -> Result<ShaperStats, Infallible> {
        Ok(ShaperStats::default())
    }
    fn health(&self) -> ShaperHealth {
        ShaperHealth::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_answering_after_two_seconds_never_delays_the_control_loop() {
    let mut r = router().await;
    let router_latency = Duration::from_secs(2);
    r.emu.set_latency(router_latency);
    r.config.request_timeout = DurationSpec::from_secs(5);
    r.config.rate_limit.max_writes = 1_000;
    let mut remote = writer(&r, PASSWORD);
    let mut local = LocalShaper::default();

    let period = Duration::from_millis(50);
    let cycles = 100u32;
    let mut interval = tokio::time::interval(period);
    let start = Instant::now();
    let mut slowest_cycle = Duration::ZERO;
    let mut last = mbit(0);
    for i in 0..cycles {
        interval.tick().await;
        let began = Instant::now();
        // A new decision every cycle, as under congestion, to the router and the local shaper alike.
        last = mbit(60 + u64::from(i % 37));
        remote.apply(Direction::Download, last).await.unwrap();
        local.apply(Direction::Download, last).await.unwrap();
        slowest_cycle = slowest_cycle.max(began.elapsed());
    }
    let loop_time = start.elapsed();
    assert_eq!(local.applied, u64::from(cycles));
    // One router round trip inside the loop would cost 2 s; allow a quarter of that, 5 periods.
    assert!(
        slowest_cycle < router_latency / 4,
        "a cycle took {slowest_cycle:?}"
    );
    assert!(
        loop_time < period * cycles + router_latency / 2,
        "{cycles} cycles of {period:?} took {loop_time:?}"
    );
    // The router still gets the newest target, after a few coalesced writes of 2 s each.
    assert!(
        eventually(Duration::from_secs(15), || written(&r.emu, "wan-down")
            .last()
            == Some(&last.bps()))
        .await
    );
    let writes = written(&r.emu, "wan-down").len();
    assert!(
        writes < cycles as usize / 10,
        "{writes} writes for {cycles} decisions"
    );
}

#[tokio::test]
async fn router_down_then_up_gets_the_newest_target_once() {
    let mut r = router().await;
    r.config.retry.initial_backoff = DurationSpec::from_millis(20);
    r.config.retry.max_backoff = DurationSpec::from_millis(100);
    r.config.circuit_breaker.open_for = DurationSpec::from_millis(500);
    let mut w = writer(&r, PASSWORD);
    w.apply(Direction::Download, mbit(90)).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || written(&r.emu, "wan-down")
            == [90_000_000])
        .await
    );

    // Down (and rebooting, so ids change) while the controller keeps deciding.
    r.emu.set_outage(Some(Outage::Refuse));
    r.emu.reboot();
    let mut newest = mbit(0);
    for i in 0..100u64 {
        newest = mbit(40 + i % 50);
        w.apply(Direction::Download, newest).await.unwrap();
        sleep(Duration::from_millis(20)).await;
    }
    let health = w.health();
    assert!(!health.reachable, "{health:?}");
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{health:?}"
    );

    r.emu.clear_log();
    r.emu.set_outage(None);
    assert!(
        eventually(Duration::from_secs(5), || !written(&r.emu, "wan-down")
            .is_empty())
        .await
    );
    // The controller keeps repeating its newest decision; nothing more is written.
    for _ in 0..50 {
        w.apply(Direction::Download, newest).await.unwrap();
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(written(&r.emu, "wan-down"), [newest.bps()]);
    assert_eq!(
        r.emu.field(QUEUE_TREE, "wan-down", "max-limit").unwrap(),
        newest.bps().to_string()
    );
    let health = w.health();
    assert!(
        health.reachable && health.last_error.is_none(),
        "{health:?}"
    );
    assert_eq!(health.writes_done, 2);
}

#[tokio::test]
async fn a_burst_of_decisions_is_rate_limited_and_ends_on_the_newest() {
    let mut r = router().await;
    r.config.rate_limit.window = DurationSpec::from_secs(3);
    let max_writes = r.config.rate_limit.max_writes as usize;
    let mut w = writer(&r, PASSWORD);
    let mut newest = mbit(0);
    for i in 0..100u64 {
        newest = mbit(50 + i);
        w.apply(Direction::Download, newest).await.unwrap();
        sleep(Duration::from_millis(10)).await;
    }
    let in_burst = written(&r.emu, "wan-down").len();
    assert!(
        (1..=max_writes).contains(&in_burst),
        "{in_burst} writes in the burst"
    );
    assert!(
        eventually(Duration::from_secs(10), || written(&r.emu, "wan-down")
            .last()
            == Some(&newest.bps()))
        .await
    );
    let all = written(&r.emu, "wan-down");
    assert!(all.len() <= max_writes, "{all:?}");
    // Every decision is accounted for: written or skipped (coalesced).
    assert!(
        eventually(Duration::from_secs(5), || {
            let h = w.health();
            h.writes_done as usize == all.len() && h.writes_done + h.writes_skipped == 100
        })
        .await,
        "{:?}",
        w.health()
    );
}

#[tokio::test]
async fn a_waiting_decrease_replaces_the_queued_increase_and_goes_first() {
    let mut r = router().await;
    // A long window: an increase that has to wait would wait for a minute.
    r.config.rate_limit.window = DurationSpec::from_secs(60);
    let mut w = writer(&r, PASSWORD);
    // Four increases use the increase share of the window (5 writes, one kept for decreases).
    for (n, rate) in [101u64, 102, 103, 104].into_iter().enumerate() {
        w.apply(Direction::Download, mbit(rate)).await.unwrap();
        assert!(
            eventually(Duration::from_secs(5), || written(&r.emu, "wan-down").len()
                == n + 1)
            .await
        );
    }
    w.apply(Direction::Download, mbit(105)).await.unwrap();
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        written(&r.emu, "wan-down").len(),
        4,
        "the fifth increase waits"
    );
    w.apply(Direction::Download, mbit(60)).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || written(&r.emu, "wan-down")
            .last()
            == Some(&60_000_000))
        .await,
        "the decrease went without waiting for the window"
    );
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        written(&r.emu, "wan-down"),
        [
            101_000_000,
            102_000_000,
            103_000_000,
            104_000_000,
            60_000_000
        ],
        "the replaced increase was never written"
    );
}

#[tokio::test]
async fn deadband_and_unchanged_targets_are_skipped() {
    let mut r = router().await;
    r.config.deadband_percent = 2.0;
    let mut w = writer(&r, PASSWORD);
    assert!(eventually(Duration::from_secs(5), || !r.emu.requests().is_empty()).await);
    for _ in 0..5 {
        w.apply(Direction::Download, mbit(101)).await.unwrap();
        sleep(Duration::from_millis(20)).await;
    }
    sleep(Duration::from_millis(200)).await;
    assert!(written(&r.emu, "wan-down").is_empty());
    let health = w.health();
    assert_eq!((health.writes_done, health.writes_skipped), (0, 5));
    w.apply(Direction::Download, mbit(90)).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || written(&r.emu, "wan-down")
            == [90_000_000])
        .await
    );
}

#[tokio::test]
async fn wrong_password_is_one_clear_error_without_a_retry_storm() {
    let r = router().await;
    let mut w = writer(&r, "not-the-password");
    // Two seconds of a 10 ms control loop, each cycle with a new target.
    for i in 0..200u64 {
        w.apply(Direction::Download, mbit(50 + i % 40))
            .await
            .unwrap();
        sleep(Duration::from_millis(10)).await;
    }
    let requests = r.emu.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].status, 401);
    let health = w.health();
    let error = health.last_error.unwrap_or_default();
    assert!(error.contains("authentication failed"), "{error}");
    assert!(!error.contains("not-the-password"));
    assert_eq!(health.writes_done, 0);
}

#[tokio::test]
async fn statistics_are_polled_and_reported_as_deltas() {
    let mut r = router().await;
    r.config.stats_interval = Some(DurationSpec::from_millis(100));
    r.emu
        .add_traffic(QUEUE_TREE, "wan-down", None, 10_000, 100, 0);
    let mut w = writer(&r, PASSWORD);
    // Wait on what the writer has learned, not on the router's request log: a request is logged
    // before its reply reaches the writer.
    let both_read = |s: &ShaperStats| s.download.is_some() && s.upload.is_some();
    let first = stats_when(&mut w, both_read).await;
    assert_eq!(
        first.download.unwrap().sent_bytes,
        0,
        "the first reading is the baseline"
    );
    r.emu
        .add_traffic(QUEUE_TREE, "wan-down", None, 4_000, 40, 3);
    r.emu.add_traffic(QUEUE_TREE, "wan-up", None, 700, 7, 0);
    let stats = stats_when(&mut w, |s| {
        s.download.is_some_and(|d| d.sent_bytes > 0) && s.upload.is_some_and(|u| u.sent_bytes > 0)
    })
    .await;
    let down = stats.download.unwrap();
    assert_eq!(
        (down.sent_bytes, down.sent_packets, down.dropped_packets),
        (4_000, 40, 3)
    );
    assert_eq!(stats.upload.unwrap().sent_bytes, 700);
}

/// The writer's statistics once `ready` holds (or the last reading after five seconds).
async fn stats_when(w: &mut RouterOsWriter, ready: impl Fn(&ShaperStats) -> bool) -> ShaperStats {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(stats) = w.stats().await
            && (ready(&stats) || Instant::now() >= end)
        {
            return stats;
        }
        assert!(Instant::now() < end, "the writer never read statistics");
        sleep(Duration::from_millis(10)).await;
    }
}
