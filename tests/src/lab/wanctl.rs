//! wanctl mode: a configuration generated from the scenario for the lab's gateway, and the real `wanctl`
//! binary run on it (`wanctl run --config FILE`) inside the gateway namespace.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_yaml_ng::{Mapping, Value};
use wanctl::config::Bandwidth;

use super::{
    scenario::{Dir, Scenario},
    topology::{LabNet, WAN_IF},
};

/// Where the daemon serves /health and /metrics inside the gateway namespace.
pub const HTTP_LISTEN: &str = "127.0.0.1:9101";

fn rate(bps: f64) -> Value {
    Value::String(Bandwidth::from_bps((bps / 1000.0).round() as u64 * 1000).to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(m)
}

fn number(value: f64) -> Value {
    Value::Number(serde_yaml_ng::Number::from(value))
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// The wanctl configuration for the lab's gateway: CAKE installed on the WAN (upload) and its IFB
/// (download), starting and capped at the static shaper's rate. `dir` holds the state and runtime
/// directories. The scenario's `wanctl_control` entries override the generated `control:` keys.
///
/// Tuned for the lab (measured in the emulated VM):
/// - one floor for every state, 35% of the ceiling: below the step scenario's low capacity (42% of the
///   ceiling), so YELLOW can work an overshoot off (with separate YELLOW/SOFT_RED floors at 45/40% it could
///   not, and every overshoot became a SOFT_RED spike). Lower (25%, tried) lets the rate fall to where a
///   download flow gets one frame every 15 ms and an upload frame takes 12 ms: the probe then rejects most
///   download samples and upload samples carry more local CAKE sojourn than CAKE's per-tin average shows,
///   so the controller reads its own queue as bloat and stays at the floor;
/// - thresholds 6/30/60 ms (wanctl's defaults are 15/45/80): at 15 ms the queue an overshoot of the low
///   capacity builds reached 20-40 ms before the YELLOW cut; at 6 ms the same runs peaked at 10-16 ms of
///   measured delta (settled p99 20 ms instead of 37-44 ms, same goodput). Lower is noise: at 1.4 Mbit/s
///   up one full frame takes 8.6 ms, and an ACK that waits behind one moves the RTT by that much, so
///   5 ms with `dwell_cycles` 1 cut on that noise and held both directions at their floors (goodput 66%);
/// - the upload's CAKE filters the download's redundant ACKs (`ack-filter`, the usual setting on an
///   asymmetric link), as static CAKE's does;
/// - probe `download_max_gap` 15 ms: at the lab's rates each download flow gets 1-3 Mbit/s, one frame
///   every 4-10 ms, so the 2 ms default rejected almost every download sample and the controller saw
///   mostly the upload flow, whose samples carry its own CAKE sojourn;
/// - `plateau_step_share` 0.03: at a capacity that stays low, full steps (3% of the ceiling per cycle)
///   overshoot it within a few cycles every few seconds, and 0.1 still climbs 14% of the low capacity per
///   second, past it before the delay shows it (a spike every 2 s in the trace; 0.03: every 3-4 s, smaller);
/// - no `fill_share`: with the download's at 0.97 its rate stayed below the low capacity (it had climbed to
///   105% of it with the delay at baseline, then the flows filled the ISP's buffer at once), but the noisy
///   smoothed achieved rate held growth on half the cycles after the capacity returned: download goodput
///   76-86% in three runs against 82-88% in this session's five runs without it (other settings varied),
///   for a few ms less p99;
/// - `red_refractory` and `yellow_refractory` 250 ms: after a cut the queue it drains keeps the delay high
///   for a few round trips; cutting on every cycle of that walks the rate to its floor.
pub fn config(scenario: &Scenario, dir: &Path) -> String {
    let direction = |d: Dir| {
        let ceiling = scenario.nominal(d).bps() as f64;
        map(vec![
            ("ceiling", rate(ceiling)),
            ("floor_red", rate(ceiling * 0.35)),
            ("step_up", rate(ceiling * 0.03)),
            ("plateau_step_share", number(0.03)),
        ])
    };
    let mut control = Mapping::new();
    for (k, v) in [
        ("interval", s("50ms")),
        ("target_bloat", s("6ms")),
        ("warn_bloat", s("30ms")),
        ("hard_red_bloat", s("60ms")),
        ("red_refractory", s("250ms")),
        ("yellow_refractory", s("250ms")),
        ("download", direction(Dir::Download)),
        ("upload", direction(Dir::Upload)),
    ] {
        control.insert(s(k), v);
    }
    for (k, v) in &scenario.wanctl_control {
        merge(&mut control, k, v.clone());
    }
    let cake_direction = |d: Dir| {
        let nominal = scenario.nominal(d).bps() as f64;
        let mut entries = vec![
            ("initial_rate", rate(nominal)),
            ("safe_rate", rate(nominal * 0.5)),
            ("diffserv", s("diffserv4")),
        ];
        // As static CAKE: the upload filters the download's redundant ACKs.
        if d == Dir::Upload {
            entries.push(("ack_filter", s("ack-filter")));
        }
        map(entries)
    };
    let document = map(vec![
        ("schema_version", Value::Number(1.into())),
        (
            "service",
            map(vec![
                ("http_listen", s(HTTP_LISTEN)),
                ("state_dir", s(&dir.join("state").display().to_string())),
                ("runtime_dir", s(&dir.join("run").display().to_string())),
            ]),
        ),
        (
            "wans",
            Value::Sequence(vec![map(vec![
                ("name", s("lab")),
                ("interface", s(WAN_IF)),
                ("control", Value::Mapping(control)),
                (
                    "probe",
                    map(vec![
                        ("sample_interval", s("20ms")),
                        ("download_max_gap", s("15ms")),
                    ]),
                ),
                (
                    "cake",
                    map(vec![
                        ("interface", s(WAN_IF)),
                        ("mode", s("install")),
                        ("upload", cake_direction(Dir::Upload)),
                        ("download", cake_direction(Dir::Download)),
                    ]),
                ),
            ])]),
        ),
    ]);
    format!(
        "# Generated by wanctl-lab for scenario {}\n{}",
        scenario.name,
        serde_yaml_ng::to_string(&document).unwrap_or_default()
    )
}

/// Sets `key` in `target`, merging nested mappings (so `download: {step_up: ..}` keeps the other keys).
fn merge(target: &mut Mapping, key: &str, value: Value) {
    let key = s(key);
    match (target.get_mut(&key), value) {
        (Some(Value::Mapping(existing)), Value::Mapping(update)) => {
            for (k, v) in update {
                if let Some(k) = k.as_str() {
                    merge(existing, k, v);
                }
            }
        }
        (_, value) => {
            target.insert(key, value);
        }
    }
}

/// The running daemon; dropping it stops it (SIGTERM, then SIGKILL after 5 s).
pub struct Daemon {
    child: Child,
    pub log: PathBuf,
    /// The generated configuration.
    pub config: String,
    /// Where the daemon records its control inputs, when asked to.
    pub trace: Option<PathBuf>,
}

impl Daemon {
    /// Writes the configuration and starts `binary run --config FILE` in the gateway namespace, then
    /// waits (up to 90 s: the emulated guest verifies the eBPF programs slowly) until its CAKE is installed
    /// on both directions.
    pub fn start(
        net: &LabNet,
        scenario: &Scenario,
        binary: &Path,
        record: bool,
    ) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("wanctl-lab-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("state")).map_err(|e| format!("{}: {e}", dir.display()))?;
        fs::create_dir_all(dir.join("run")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let config_path = dir.join("wanctl.yaml");
        let config = config(scenario, &dir);
        fs::write(&config_path, &config).map_err(|e| format!("{}: {e}", config_path.display()))?;
        let trace = record.then(|| dir.join("trace.csv"));
        let log = dir.join("wanctl.log");
        let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", net.gw.name()])
            .arg(binary)
            .args(["run", "--config"])
            .arg(&config_path);
        if let Some(trace) = &trace {
            command.arg("--record").arg(trace);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut daemon = Self {
            child,
            log,
            config,
            trace,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return Err(format!(
                    "wanctl exited at start ({status}): {}",
                    daemon.log_tail(15)
                ));
            }
            if let (Some(_), Some(_)) = net.cake_rates() {
                return Ok(daemon);
            }
            if Instant::now() > deadline {
                let qdiscs = net.gw.exec(&["tc", "qdisc", "show"]);
                return Err(format!(
                    "wanctl installed no CAKE within 90 s (gateway qdiscs: {}): {}",
                    String::from_utf8_lossy(&qdiscs.stdout).replace('\n', "; "),
                    daemon.log_tail(15)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The daemon's process id (`ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while running; the exit status once it has ended.
    pub fn exited(&mut self) -> Option<String> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.to_string())
    }

    /// The last `lines` lines of the daemon's log, joined with " | ".
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join(" | ")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon's view from its /health endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthView {
    /// The rates the daemon set (download, upload), bit/s.
    pub rates_bps: (Option<u64>, Option<u64>),
    /// Each direction's state and the delay it measures ("down GREEN up YELLOW, delta 3.1 ms").
    pub summary: String,
}

/// Reads /health over a plain socket inside the gateway namespace (no `tc` or `curl` process: spawning
/// processes every tick costs the emulated guest more CPU than the daemon itself); `None` when it does
/// not answer.
pub fn health(net: &LabNet) -> Option<HealthView> {
    use std::io::{Read, Write};
    let body = net.gw.enter(|| -> Option<String> {
        let address = HTTP_LISTEN.parse().ok()?;
        let mut stream =
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    })?;
    parse_health(&body)
}

/// The lab's view of a /health body (the first WAN).
pub fn parse_health(body: &str) -> Option<HealthView> {
    let health: serde_json::Value = serde_json::from_str(body).ok()?;
    let wan = health.get("wans")?.get(0)?;
    let delta = wan
        .get("delta_rtt_ms")
        .and_then(serde_json::Value::as_f64)
        .map_or("-".into(), |d| format!("{d:.1}"));
    Some(HealthView {
        rates_bps: (
            wan.pointer("/rate_bps/download")
                .and_then(serde_json::Value::as_u64),
            wan.pointer("/rate_bps/upload")
                .and_then(serde_json::Value::as_u64),
        ),
        summary: format!(
            "down {} up {}, delta {delta} ms",
            wan.pointer("/state/download")?.as_str()?,
            wan.pointer("/state/upload")?.as_str()?,
        ),
    })
}
