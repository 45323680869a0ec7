//! The service half of `wanctl run` without WAN components: one instance only, /health before and after the
//! first cycle, READY=1 with the per-WAN STATUS line, watchdog pings from real loop progress, clean stop.

use std::{os::unix::net::UnixDatagram, sync::Arc, time::Duration};

use tokio::time::Instant;
use wanctl::{
    cli::status,
    config::{Bandwidth, ServiceConfig},
    service::{CycleReport, LinkState, Notifier, ServiceRuntime, StartError},
    signal::PerDirection,
};

const PATIENCE: Duration = Duration::from_secs(20);

fn cycle() -> CycleReport {
    CycleReport {
        at: Instant::now(),
        duration: Duration::from_micros(250),
        overrun: false,
        state: PerDirection {
            download: LinkState::Green,
            upload: LinkState::Green,
        },
        rate: PerDirection {
            download: Bandwidth::from_mbit(95),
            upload: Bandwidth::from_mbit(18),
        },
        baseline_rtt: Some(Duration::from_millis(20)),
        load_rtt: Some(Duration::from_millis(21)),
        downstream_delay: None,
        samples: 3,
        ringbuf_lost: 0,
        shapers: vec![],
        degraded_reasons: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_runtime_serves_notifies_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let systemd = Arc::new(UnixDatagram::bind(&socket_path).unwrap());
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    let read = || {
        let systemd = Arc::clone(&systemd);
        tokio::task::spawn_blocking(move || {
            let mut buffer = [0u8; 1024];
            let n = systemd.recv(&mut buffer).expect("no notification in time");
            String::from_utf8(buffer[..n].to_vec()).unwrap()
        })
    };
    let service = ServiceConfig {
        http_listen: "127.0.0.1:0".parse().unwrap(),
        runtime_dir: dir.path().to_path_buf(),
        state_dir: dir.path().to_path_buf(),
        ..ServiceConfig::default()
    };
    let notifier = Notifier::to_socket(&socket_path).unwrap();
    let mut runtime = ServiceRuntime::start(&service, ["wan1"], notifier.clone())
        .await
        .unwrap();
    let url = format!("http://{}/health", runtime.http_address());

    let second = ServiceRuntime::start(&service, ["wan1"], notifier)
        .await
        .unwrap_err();
    assert!(matches!(second, StartError::Lock(_)), "{second}");

    let health = status::fetch(&url).await.unwrap();
    assert_eq!(
        health.wans[0].degraded_reasons,
        ["no control cycle completed yet"]
    );

    // What the WAN loop will do each cycle: report, then tick.
    let progress = runtime.progress().register("wan1");
    runtime.telemetry().record_cycle("wan1", cycle());
    progress.tick();
    runtime.ready(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(
        read().await.unwrap(),
        "READY=1\nSTATUS=wan1 GREEN/GREEN 95Mbit/18Mbit\n"
    );
    assert!(status::fetch(&url).await.unwrap().is_healthy());

    let telemetry = Arc::clone(runtime.telemetry());
    let looping = tokio::spawn(async move {
        for _ in 0..2000 {
            telemetry.record_cycle("wan1", cycle());
            progress.tick();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert_eq!(read().await.unwrap(), "WATCHDOG=1\n");
    looping.abort();

    runtime.stop().await;
    assert!(
        status::fetch(&url).await.is_err(),
        "the endpoint must be gone after stop"
    );
    // The lock is free again.
    let again = ServiceRuntime::start(&service, ["wan1"], Notifier::disabled())
        .await
        .unwrap();
    again.stop().await;
}
