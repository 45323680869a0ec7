//! One mode of one scenario, run inside the VM: build the namespaces, set up the shaping, run the probes
//! and bulk flows while the ISP's capacity follows the schedule, and return what was measured.

use std::{
    net::{SocketAddr, TcpListener, UdpSocket},
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::{
    cpu::CpuSnapshot,
    data::{self, MARK, Mode, ProbeKind, ProbeSample, RunData, ShaperSample},
    scenario::{Dir, Scenario},
    topology::{LAN_ADDR, LabNet, SERVER_ADDR},
    traffic::{self, Bins},
    wanctl::Daemon,
};

const BIN: Duration = Duration::from_millis(100);
const SHAPER_EVERY: Duration = Duration::from_millis(500);

fn server(port: u16) -> SocketAddr {
    SocketAddr::new(SERVER_ADDR.parse().unwrap_or([0, 0, 0, 0].into()), port)
}

/// The median of answered samples of `kind` taken before `t0` (the idle phase), after the first second.
fn idle_median(samples: &[ProbeSample], kind: ProbeKind) -> f64 {
    let mut idle: Vec<f64> = samples
        .iter()
        .filter(|p| p.kind == kind && p.t < 0.0)
        .filter_map(|p| p.rtt_ms)
        .collect();
    idle.sort_by(f64::total_cmp);
    idle.get(idle.len() / 2).copied().unwrap_or(f64::NAN)
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock of the daemon's trace).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `mode`; `wanctl` is the daemon binary (needed for [`Mode::Wanctl`]). With `trace`, wanctl mode
/// records the daemon's control inputs and prints the controller's view per second ([`super::trace_summary`]).
pub fn run(
    scenario: &Scenario,
    mode: Mode,
    wanctl: Option<&Path>,
    trace: bool,
) -> Result<RunData, String> {
    let net = LabNet::new(scenario);
    let mut daemon = match mode {
        Mode::None => None,
        Mode::Static => {
            net.static_cake(
                scenario.nominal(Dir::Upload),
                scenario.nominal(Dir::Download),
            );
            None
        }
        Mode::Ideal => {
            net.static_cake(
                scenario.ideal_rate(Dir::Upload, 0.0),
                scenario.ideal_rate(Dir::Download, 0.0),
            );
            None
        }
        Mode::Wanctl => {
            let binary = wanctl.ok_or("wanctl mode needs --wanctl PATH")?;
            Some(Daemon::start(&net, scenario, binary, trace)?)
        }
    };
    let bind = |ns: &crate::netns::Netns, port| {
        ns.enter(|| TcpListener::bind(server(port)))
            .map_err(|e| format!("bind {port}: {e}"))
    };
    let echo_listener = bind(&net.srv, 7000)?;
    let down_listener = bind(&net.srv, 5001)?;
    let up_listener = bind(&net.srv, 5002)?;
    let udp_server = net
        .srv
        .enter(|| UdpSocket::bind(server(7001)))
        .map_err(|e| format!("bind udp: {e}"))?;
    let udp_client = net
        .lan
        .enter(|| {
            let socket = UdpSocket::bind((LAN_ADDR, 0))?;
            socket.connect(server(7001))?;
            Ok::<_, std::io::Error>(socket)
        })
        .map_err(|e| format!("udp probe socket: {e}"))?;
    // The listener's backlog completes the handshake; the echo thread accepts it later.
    let probe_stream = net
        .lan
        .enter(|| traffic::connect(server(7000)))
        .map_err(|e| format!("probe connect: {e}"))?;

    let duration = scenario.duration.get();
    let t0 = Instant::now() + scenario.idle.get();
    let end = t0 + duration;
    let (load_start, load_stop) = scenario.load_window();
    let bin_count = (duration.as_secs_f64() / BIN.as_secs_f64()).ceil() as usize + 1;
    let down_bins = Bins::new(t0, BIN, bin_count);
    let up_bins = Bins::new(t0, BIN, bin_count);
    let tcp_samples = Mutex::new(Vec::new());
    let shaper = Mutex::new(Vec::new());
    let interval = scenario.probe_interval.get();
    let mut notes = Vec::new();
    let flows = scenario.flows;
    let (start, stop) = (t0 + load_start, t0 + load_stop);
    let give_up = stop + Duration::from_secs(3);

    let mut t0_ns = 0;
    let udp_samples = std::thread::scope(|scope| {
        scope.spawn(|| traffic::tcp_echo(&echo_listener, end + Duration::from_secs(3)));
        scope.spawn(|| traffic::udp_echo(&udp_server, end + Duration::from_secs(2)));
        scope.spawn(|| traffic::tcp_probe(probe_stream, t0, interval, end, &tcp_samples));
        let udp = scope.spawn(|| traffic::udp_probe(&udp_client, t0, interval, end));
        // Capacity schedule.
        scope.spawn(|| {
            let mut changes: Vec<(Duration, Dir, wanctl::config::Bandwidth)> = Dir::BOTH
                .into_iter()
                .flat_map(|dir| {
                    scenario
                        .steps(dir)
                        .iter()
                        .skip(1)
                        .map(move |s| (s.at.get(), dir, s.rate))
                })
                .collect();
            changes.sort_by_key(|c| c.0);
            for (at, dir, rate) in changes {
                sleep_until(t0 + at);
                net.set_capacity(dir, rate, "change");
                if mode == Mode::Ideal {
                    net.set_cake_rate(dir, scenario.ideal_rate(dir, at.as_secs_f64()));
                }
            }
        });
        // Bulk flows.
        scope.spawn(|| {
            sleep_until(start);
            std::thread::scope(|bulk| {
                bulk.spawn(|| {
                    for stream in traffic::accept(&down_listener, flows.download, give_up) {
                        bulk.spawn(move || traffic::send_until(stream, stop));
                    }
                });
                bulk.spawn(|| {
                    for stream in traffic::accept(&up_listener, flows.upload, give_up) {
                        let bins = &up_bins;
                        bulk.spawn(move || traffic::receive_until(stream, bins, give_up));
                    }
                });
                for (port, count) in [(5001, flows.download), (5002, flows.upload)] {
                    for _ in 0..count {
                        let Ok(stream) = net.lan.enter(|| traffic::connect(server(port))) else {
                            continue;
                        };
                        let bins = &down_bins;
                        bulk.spawn(move || {
                            if port == 5001 {
                                // The LAN client receives the downloads.
                                traffic::receive_until(stream, bins, give_up);
                            } else {
                                traffic::send_until(stream, stop);
                            }
                        });
                    }
                }
            });
        });
        // Shaper rates and progress, once per tick until the end.
        sleep_until(t0);
        t0_ns = monotonic_ns();
        let cpu_start = CpuSnapshot::take(daemon.as_ref().map(Daemon::pid));
        let mut tick = t0;
        // Bounded by the clock, not the tick count: under a busy emulator a tick can take longer than
        // its period.
        while tick <= end && Instant::now() <= end {
            sleep_until(tick);
            let t = traffic::offset(t0, Instant::now());
            let health = daemon.as_ref().and_then(|_| super::wanctl::health(&net));
            let (download_bps, upload_bps) = match mode {
                Mode::None => (None, None),
                Mode::Static => (
                    Some(scenario.nominal(Dir::Download).bps()),
                    Some(scenario.nominal(Dir::Upload).bps()),
                ),
                Mode::Wanctl => health.as_ref().map_or((None, None), |h| h.rates_bps),
                Mode::Ideal => (
                    Some(scenario.ideal_rate(Dir::Download, t).bps()),
                    Some(scenario.ideal_rate(Dir::Upload, t).bps()),
                ),
            };
            let sample = ShaperSample {
                t,
                download_bps,
                upload_bps,
            };
            if let Ok(mut shaper) = shaper.lock() {
                shaper.push(sample);
            }
            if ((t / SHAPER_EVERY.as_secs_f64()).round() as u64).is_multiple_of(2) {
                let state = health.map(|h| h.summary);
                progress(
                    scenario,
                    mode,
                    &sample,
                    [&down_bins, &up_bins],
                    &tcp_samples,
                    state,
                );
            }
            if let Some(daemon) = daemon.as_mut()
                && let Some(status) = daemon.exited()
            {
                notes.push(format!(
                    "wanctl exited during the run ({status}): {}",
                    daemon.log_tail(10)
                ));
                break;
            }
            tick += SHAPER_EVERY;
            // Skip ticks already missed instead of running behind.
            while tick + SHAPER_EVERY < Instant::now() {
                tick += SHAPER_EVERY;
            }
        }
        let cpu_end = CpuSnapshot::take(daemon.as_ref().map(Daemon::pid));
        if let (Some(a), Some(b)) = (cpu_start, cpu_end) {
            notes.push(a.describe_until(&b, t0.elapsed().as_secs_f64()));
        }
        udp.join().unwrap_or_default()
    });
    let recorded = daemon
        .as_ref()
        .and_then(|d| Some((d.trace.clone()?, d.config.clone())));
    // Stopping the daemon flushes its trace.
    drop(daemon);
    if let Some((path, config)) = recorded {
        match super::trace_summary::summarize(&path, &config, t0_ns) {
            Ok(lines) => lines.iter().for_each(|l| println!("{MARK} trace {l}")),
            Err(error) => notes.push(format!("trace summary: {error}")),
        }
        // The raw recording too, so the host can replay it (`wanctl replay`) against other settings.
        match std::fs::read_to_string(&path) {
            Ok(csv) => data::recorded_lines(&config, &csv)
                .iter()
                .for_each(|l| println!("{l}")),
            Err(error) => notes.push(format!("trace {}: {error}", path.display())),
        }
    }
    let mut probes = tcp_samples.into_inner().unwrap_or_default();
    probes.extend(udp_samples);
    Ok(RunData {
        mode,
        base_rtt_tcp_ms: idle_median(&probes, ProbeKind::Tcp),
        base_rtt_udp_ms: idle_median(&probes, ProbeKind::Udp),
        probes,
        bin_s: BIN.as_secs_f64(),
        download_bytes: down_bins.snapshot(),
        upload_bytes: up_bins.snapshot(),
        shaper: shaper.into_inner().unwrap_or_default(),
        notes,
    })
}

fn sleep_until(at: Instant) {
    if let Some(wait) = at.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

/// One human line per second: capacity, shaper rate and goodput per direction, latest added latency.
fn progress(
    scenario: &Scenario,
    mode: Mode,
    sample: &ShaperSample,
    [down, up]: [&Bins; 2],
    tcp: &Mutex<Vec<ProbeSample>>,
    wanctl_state: Option<String>,
) {
    let t = sample.t;
    let last_second = |bins: &Bins| -> f64 {
        let now = (t / BIN.as_secs_f64()) as usize;
        let bits: u64 = (now.saturating_sub(10)..now)
            .map(|i| bins.get(i))
            .sum::<u64>()
            * 8;
        bits as f64 / 1e6
    };
    let latency = tcp.lock().map_or(String::from("-"), |samples| {
        let base = idle_median(&samples, ProbeKind::Tcp);
        let recent: Vec<f64> = samples
            .iter()
            .filter(|p| p.t > t - 1.0)
            .filter_map(|p| p.rtt_ms)
            .collect();
        recent
            .iter()
            .copied()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .map_or("-".into(), |max| format!("{:+.0}", max - base))
    });
    let shaper =
        |bps: Option<u64>| bps.map_or("   -".into(), |b| format!("{:4.1}", b as f64 / 1e6));
    println!(
        "{MARK} progress {} t={:>3.0}s/{:.0}s | down cap {:4.1} shaper {} goodput {:4.1} | up cap {:4.1} shaper {} goodput {:4.1} Mbit/s | added latency {} ms{}",
        mode.name(),
        t,
        scenario.duration.get().as_secs_f64(),
        scenario.capacity_at(Dir::Download, t).mbit(),
        shaper(sample.download_bps),
        last_second(down),
        scenario.capacity_at(Dir::Upload, t).mbit(),
        shaper(sample.upload_bps),
        last_second(up),
        latency,
        wanctl_state.map_or(String::new(), |s| format!(" | wanctl {s}"))
    );
}
