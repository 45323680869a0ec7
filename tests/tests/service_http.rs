//! `/health` and `/metrics` over real HTTP on loopback, read the way `wanctl status` reads them.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};
use wanctl::{
    cli::status,
    config::Bandwidth,
    service::{CycleReport, LinkState, ShaperReport, Telemetry, http},
    shaper::ShaperHealth,
    signal::PerDirection,
};

fn report(at: Instant, reachable: bool) -> CycleReport {
    CycleReport {
        at,
        duration: Duration::from_micros(400),
        overrun: false,
        state: PerDirection {
            download: LinkState::Green,
            upload: LinkState::Red,
        },
        rate: PerDirection {
            download: Bandwidth::from_mbit(95),
            upload: Bandwidth::from_mbit(9),
        },
        baseline_rtt: Some(Duration::from_millis(18)),
        load_rtt: Some(Duration::from_millis(60)),
        downstream_delay: None,
        samples: 12,
        ringbuf_lost: 0,
        shapers: vec![ShaperReport {
            name: "routeros:rb5009".into(),
            kind: "routeros".into(),
            health: ShaperHealth {
                reachable,
                last_error: (!reachable).then(|| "connect timeout".to_string()),
                writes_done: 2,
                writes_skipped: 0,
            },
            write_failures: u64::from(!reachable),
        }],
        degraded_reasons: vec![],
    }
}

async fn raw_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn health_and_metrics_over_loopback() {
    let telemetry = Arc::new(Telemetry::new(Instant::now(), Duration::from_secs(60)));
    telemetry.register_wan("wan1");
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, Arc::clone(&telemetry), async {
        let _ = stopped.await;
    }));
    let base = format!("http://{address}");

    // Before the first cycle: 503 with the reason, still a readable report.
    let response = raw_get(address, "/health").await;
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(
        response.contains("content-type: application/json"),
        "{response}"
    );
    let health = status::fetch(&format!("{base}/health")).await.unwrap();
    assert_eq!(
        health.wans[0].degraded_reasons,
        ["no control cycle completed yet"]
    );

    telemetry.record_cycle("wan1", report(Instant::now(), true));
    let response = raw_get(address, "/health").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let health = status::fetch(&format!("{base}/health")).await.unwrap();
    assert!(health.is_healthy());
    let wan = &health.wans[0];
    assert_eq!(
        (wan.state.upload, wan.rate_bps.upload),
        (LinkState::Red, 9_000_000)
    );
    assert_eq!(wan.router_reachable, Some(true));
    assert!(
        status::render(&health).contains("wan1  healthy"),
        "{}",
        status::render(&health)
    );

    telemetry.record_cycle("wan1", report(Instant::now(), false));
    let health = status::fetch(&format!("{base}/health")).await.unwrap();
    assert_eq!(health.status, "degraded");
    assert_eq!(
        health.wans[0].degraded_reasons,
        ["shaper routeros:rb5009 unreachable: connect timeout"]
    );

    let metrics = raw_get(address, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    for line in [
        "wanctl_target_rate_bits_per_second{wan=\"wan1\",direction=\"upload\"} 9000000",
        "wanctl_congestion_state{wan=\"wan1\",direction=\"upload\",state=\"RED\"} 1",
        "wanctl_shaper_reachable{wan=\"wan1\",shaper=\"routeros:rb5009\",kind=\"routeros\"} 0",
        "wanctl_shaper_write_failures_total{wan=\"wan1\",shaper=\"routeros:rb5009\",kind=\"routeros\"} 1",
        "wanctl_cycles_total{wan=\"wan1\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?}");
    }

    assert!(raw_get(address, "/nope").await.starts_with("HTTP/1.1 404"));
    let _ = stop.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_the_address() {
    let first = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = first.local_addr().unwrap();
    let error = http::bind(address).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "cannot listen on {address} for /health and /metrics: "
        )),
        "{error}"
    );
}
