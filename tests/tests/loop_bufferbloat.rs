//! One packet to one decision: the real eBPF probe on a gateway's WAN veth feeds the real control cycle while
//! a CUBIC upload fills a deep 20 Mbit/s TBF queue in the next hop (the configured ceiling, 22 Mbit/s, is
//! close to it, as an operator would set it). The controller must see the queue in the passive
//! samples, go RED and cut the rate it hands to its sinks, while its baseline stays at the idle RTT.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use wanctl::{
    config::Bandwidth,
    control::{ControlConfig, Controller},
    probe::ebpf::{ProbeConfig, WanPrograms},
    service::{EbpfSource, LinkState, Sink, WanCycle},
    shaper::{Shaper, ShaperHealth, ShaperStats},
    signal::Direction,
};
use wanctl_tests::{
    netns::is_root,
    tcp::{Sender, bulk},
    topology::{Bottleneck, Bufferbloat, SERVER_V4, WAN_IF},
};

/// Remembers every rate it is given (stands in for CAKE: this host kernel has none).
struct Recording {
    rates: Arc<Mutex<Vec<(Direction, Bandwidth)>>>,
}

impl Shaper for Recording {
    type Error = std::convert::Infallible;

    fn name(&self) -> &str {
        "cake:recording"
    }

    async fn apply(&mut self, direction: Direction, rate: Bandwidth) -> Result<(), Self::Error> {
        self.rates.lock().unwrap().push((direction, rate));
        Ok(())
    }

    async fn stats(&mut self) -> Result<ShaperStats, Self::Error> {
        Ok(ShaperStats::default())
    }

    fn health(&self) -> ShaperHealth {
        ShaperHealth {
            reachable: true,
            ..ShaperHealth::default()
        }
    }
}

/// The lab's idle RTT is tens of microseconds (veths, no propagation delay), below the default `min_rtt`.
fn controller() -> Controller {
    let config: ControlConfig = serde_yaml_ng::from_str(
        "{target_bloat: 15ms, warn_bloat: 45ms, hard_red_bloat: 80ms, min_rtt: 10us, \
          download: {ceiling: 22Mbit, floor_red: 5Mbit, step_up: 1Mbit}, \
          upload: {ceiling: 22Mbit, floor_red: 5Mbit, step_up: 1Mbit}}",
    )
    .unwrap();
    Controller::new(config.validate().unwrap())
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn passive_samples_of_a_bloated_upload_drive_the_rate_down() {
    assert!(is_root(), "this test needs root");
    let lab = Bufferbloat::new("loop", &Bottleneck::default());
    let rates = Arc::new(Mutex::new(Vec::new()));
    let sink_rates = Arc::clone(&rates);
    let (gateway, server) = (&lab.gateway, &lab.server);

    let reports = std::thread::scope(|scope| {
        let control = scope.spawn(move || {
            gateway.enter(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let mut programs = WanPrograms::load(&ProbeConfig::default()).unwrap();
                    programs.attach(WAN_IF).unwrap();
                    let reader = programs.samples().unwrap();
                    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(Recording { rates: sink_rates })];
                    let mut cycle = wanctl::service::ControlCycle::new(
                        controller(),
                        EbpfSource::new(programs, reader),
                        sinks,
                        false,
                    );
                    let mut reports = Vec::new();
                    let mut tick = tokio::time::interval(Duration::from_millis(50));
                    // 8 s of 50 ms cycles: idle first, then the upload below starts and fills the queue.
                    for _ in 0..160 {
                        tick.tick().await;
                        reports.push(cycle.run_cycle(tokio::time::Instant::now()).await);
                    }
                    reports
                })
            })
        });
        // Let the loop learn the idle path first (the SYN/SYN-ACK gives the base RTT).
        std::thread::sleep(Duration::from_millis(1500));
        let upload = bulk(
            gateway,
            server,
            format!("{SERVER_V4}:5401").parse().unwrap(),
            Sender::Client,
            Duration::from_secs(5),
            Duration::from_millis(100),
        );
        assert!(
            upload.bytes > 1_000_000,
            "the upload moved data: {}",
            upload.bytes
        );
        control.join().unwrap()
    });

    let with_samples = reports.iter().filter(|r| r.samples > 0).count();
    assert!(
        with_samples >= 40,
        "cycles with passive samples: {with_samples} of {}",
        reports.len()
    );
    let red = reports
        .iter()
        .position(|r| r.state.upload == LinkState::Red);
    red.unwrap_or_else(|| {
        panic!(
            "never RED: {:?}",
            reports.iter().map(|r| r.state).collect::<Vec<_>>()
        )
    });
    // By the end the queue holds hundreds of milliseconds; the baseline must not have followed it.
    let loaded = reports.iter().filter_map(|r| r.load_rtt).max().unwrap();
    let baseline = reports.last().unwrap().baseline_rtt.unwrap();
    assert!(
        loaded > Duration::from_millis(100),
        "the loaded RTT shows the queue: {loaded:?}"
    );
    assert!(
        baseline * 2 < loaded,
        "the baseline did not follow the queue: {baseline:?} vs {loaded:?}"
    );

    let rates = rates.lock().unwrap();
    let first_upload = rates
        .iter()
        .find(|(d, _)| *d == Direction::Upload)
        .unwrap()
        .1;
    let last_upload = rates
        .iter()
        .rev()
        .find(|(d, _)| *d == Direction::Upload)
        .unwrap()
        .1;
    assert_eq!(
        first_upload,
        Bandwidth::from_mbit(22),
        "the sink first gets the ceiling"
    );
    assert!(
        last_upload < Bandwidth::from_mbit(20),
        "the rate handed to the sink ends below the 20 Mbit/s bottleneck: {last_upload}"
    );
}
