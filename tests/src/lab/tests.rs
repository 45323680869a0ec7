//! The lab's pure parts: scenario files, statistics, the data line protocol and the generated wanctl
//! configuration. (The VM runs themselves are `cargo xtask lab`.)

use ::wanctl::shaper::cake::{AckFilter, CakeDirection};
use std::path::Path;

use super::{
    data::{self, Mode, ProbeKind, ProbeSample, RunData},
    report,
    scenario::{Dir, Scenario, ScenarioError},
    stats, wanctl,
};

const STEP: &str = "
name: t
duration: 60s
flows: { download: 2, upload: 1 }
download:
  - { at: 0s, rate: 10Mbit }
  - { at: 20s, rate: 4Mbit }
  - { at: 40s, rate: 10Mbit }
upload:
  - { at: 0s, rate: 2Mbit }
";

fn step() -> Scenario {
    Scenario::parse(STEP, "test").unwrap()
}

fn run_with(probes: Vec<ProbeSample>) -> RunData {
    RunData {
        mode: Mode::Wanctl,
        base_rtt_tcp_ms: 20.0,
        base_rtt_udp_ms: 20.0,
        probes,
        bin_s: 0.1,
        download_bytes: vec![],
        upload_bytes: vec![],
        shaper: vec![],
        notes: vec![],
    }
}

fn tcp(t: f64, rtt: f64) -> ProbeSample {
    ProbeSample {
        t,
        kind: ProbeKind::Tcp,
        rtt_ms: Some(rtt),
    }
}

#[test]
fn shipped_scenarios_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/lab");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let scenario = Scenario::load(&entry.unwrap().path()).unwrap();
        names.push(scenario.name);
    }
    names.sort();
    assert_eq!(
        names,
        ["demo", "idle-burst", "lte", "steady", "step", "step-native"]
    );
}

#[test]
fn scenario_defaults_and_lookups() {
    let s = step();
    assert_eq!(s.base_delay.get().as_millis(), 20);
    assert_eq!(s.load_window().1.as_secs(), 60);
    assert_eq!(s.capacity_at(Dir::Download, 19.9).mbit(), 10.0);
    assert_eq!(s.capacity_at(Dir::Download, 20.0).mbit(), 4.0);
    assert_eq!(s.capacity_at(Dir::Download, 59.0).mbit(), 10.0);
    assert_eq!(s.nominal(Dir::Download).bps(), 9_000_000);
    assert_eq!(s.ideal_rate(Dir::Download, 19.9).bps(), 9_500_000);
    assert_eq!(s.ideal_rate(Dir::Download, 20.0).bps(), 3_800_000);
    assert_eq!(Mode::parse("ideal"), Some(Mode::Ideal));
    assert_eq!(s.drops(Dir::Download), vec![20.0]);
    assert!(s.drops(Dir::Upload).is_empty());
}

#[test]
fn bad_scenarios_name_the_field() {
    let late_start = STEP.replace("{ at: 0s, rate: 2Mbit }", "{ at: 1s, rate: 2Mbit }");
    let error = Scenario::parse(&late_start, "x").unwrap_err();
    assert!(
        matches!(&error, ScenarioError::Invalid { field, .. } if field == "upload"),
        "{error}"
    );
    let rejected = |yaml: &str, field: &str| {
        let error = Scenario::parse(yaml, "x").unwrap_err().to_string();
        assert!(error.contains(field), "{field}: {error}");
    };
    rejected(&STEP.replace("at: 40s", "at: 10s"), "download");
    rejected(&format!("{STEP}bogus: 1\n"), "bogus");
    rejected(&format!("{STEP}ideal_share: 1.5\n"), "ideal_share");
    rejected(
        &format!("{STEP}load: {{ start: 30s, stop: 70s }}\n"),
        "load",
    );
}

#[test]
fn percentiles_by_nearest_rank() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(stats::percentile(&values, 50.0), Some(50.0));
    assert_eq!(stats::percentile(&values, 99.0), Some(99.0));
    assert_eq!(stats::percentile(&values, 100.0), Some(100.0));
    assert_eq!(stats::percentile(&[7.0], 99.0), Some(7.0));
    assert_eq!(stats::percentile(&[], 50.0), None);
}

#[test]
fn added_latency_subtracts_base_and_counts_losses_as_worst() {
    let mut probes: Vec<ProbeSample> = (0..99).map(|i| tcp(f64::from(i) * 0.1, 25.0)).collect();
    probes.push(ProbeSample {
        t: 9.9,
        kind: ProbeKind::Tcp,
        rtt_ms: None,
    });
    probes.push(tcp(-1.0, 500.0)); // idle phase: outside the window
    let latency = stats::added_latency(&run_with(probes), ProbeKind::Tcp, 0.0, 10.0);
    assert_eq!(latency.samples, 100);
    assert_eq!(latency.lost, 1);
    assert_eq!(latency.p50_ms, Some(5.0));
    assert_eq!(latency.p99_ms, Some(5.0));
    assert!(latency.max_ms == Some(5.0));
    assert!(latency.p99_ms.is_some());
}

#[test]
fn settled_latency_leaves_out_only_the_recovery_windows() {
    // 10 s at 5 ms added, with a 300 ms spike 1 s after a drop at t = 4 s.
    let mut probes: Vec<ProbeSample> = (0..100).map(|i| tcp(f64::from(i) * 0.1, 25.0)).collect();
    probes[50].rtt_ms = Some(320.0);
    let run = run_with(probes);
    let all = stats::added_latency(&run, ProbeKind::Tcp, 0.0, 10.0);
    assert_eq!(all.max_ms, Some(300.0));
    let settled = stats::added_latency_outside(&run, ProbeKind::Tcp, 0.0, 10.0, &[(4.0, 6.0)]);
    assert_eq!(settled.samples, 80);
    assert_eq!(settled.max_ms, Some(5.0));
    // A spike outside the window still counts.
    let elsewhere = stats::added_latency_outside(&run, ProbeKind::Tcp, 0.0, 10.0, &[(6.0, 8.0)]);
    assert_eq!(elsewhere.max_ms, Some(300.0));
}

#[test]
fn capacity_integrates_the_schedule() {
    let s = step();
    let bits = stats::capacity_bits(&s, Dir::Download, 0.0, 60.0);
    assert_eq!(bits, 10e6 * 20.0 + 4e6 * 20.0 + 10e6 * 20.0);
    let bits = stats::capacity_bits(&s, Dir::Download, 15.0, 25.0);
    assert_eq!(bits, 10e6 * 5.0 + 4e6 * 5.0);
}

#[test]
fn goodput_share_uses_received_bins() {
    let s = step();
    // 1 Mbit/s less than capacity in every 100 ms bin.
    let bins: Vec<u64> = (0..600)
        .map(|i| {
            let t = f64::from(i) * 0.1;
            ((s.capacity_at(Dir::Download, t).bps() as f64 - 1e6) * 0.1 / 8.0) as u64
        })
        .collect();
    let mut run = run_with(vec![]);
    run.download_bytes = bins;
    let share = stats::goodput_share(&s, &run, Dir::Download, 0.0, 60.0);
    let expected =
        (9e6 * 20.0 + 3e6 * 20.0 + 9e6 * 20.0) / (10e6 * 20.0 + 4e6 * 20.0 + 10e6 * 20.0);
    assert!((share - expected).abs() < 1e-9, "{share} vs {expected}");
    // Half a bin counts half.
    assert_eq!(stats::received_bits(&[100, 100], 0.1, 0.05, 0.2), 1200.0);
}

#[test]
fn recovery_is_the_first_time_latency_stays_low_for_the_hold() {
    let mut probes = Vec::new();
    for i in 0..100 {
        let t = 20.0 + f64::from(i) * 0.1;
        // Bloated for 1.5 s, one good sample in between, a spike at 3.0 s, then low.
        let rtt = match t {
            t if t < 20.6 => 200.0,
            t if t < 20.75 => 21.0,
            t if t < 21.5 => 150.0,
            t if (23.0..23.05).contains(&t) => 60.0,
            _ => 24.0,
        };
        probes.push(tcp(t, rtt));
    }
    let run = run_with(probes);
    let at = stats::recovery_time(&run, ProbeKind::Tcp, 20.0, 40.0, 15.0, 1.0).unwrap();
    assert!((at - 1.5).abs() < 1e-6, "{at}");
    // Never below the limit: no recovery.
    let bloated = run_with(
        (0..50)
            .map(|i| tcp(20.0 + f64::from(i) * 0.1, 90.0))
            .collect(),
    );
    assert_eq!(
        stats::recovery_time(&bloated, ProbeKind::Tcp, 20.0, 40.0, 15.0, 1.0),
        None
    );
    // Good samples without a full hold window observed before `until`: not yet recovered.
    let short = run_with(
        (0..5)
            .map(|i| tcp(20.0 + f64::from(i) * 0.1, 21.0))
            .collect(),
    );
    assert_eq!(
        stats::recovery_time(&short, ProbeKind::Tcp, 20.0, 40.0, 15.0, 1.0),
        None
    );
}

#[test]
fn report_lists_every_drop_per_mode() {
    let s = step();
    let run = run_with((0..600).map(|i| tcp(f64::from(i) * 0.1, 22.0)).collect());
    let report = report::report(&s, &[run], None);
    let mode = &report.modes[0];
    assert_eq!(mode.recovery.len(), 1);
    assert_eq!(mode.recovery[0].seconds, Some(0.0));
    assert_eq!(mode.added_latency_tcp.p99_ms, Some(2.0));
}

#[test]
fn phases_show_where_the_slow_probes_and_the_lost_goodput_were() {
    let s = step();
    // 2 ms added throughout, but 40 ms in the 2 s after the drop (the allowance), three 30 ms probes and
    // a lost one later in the low capacity, and one 16 ms probe after the return.
    let mut probes: Vec<ProbeSample> = (0..600).map(|i| tcp(f64::from(i) * 0.1, 22.0)).collect();
    for p in &mut probes {
        if (20.0..22.0).contains(&p.t) {
            p.rtt_ms = Some(60.0);
        }
    }
    for i in [250, 300, 350] {
        probes[i].rtt_ms = Some(50.0);
    }
    probes[360].rtt_ms = None;
    probes[500].rtt_ms = Some(36.0);
    let mut run = run_with(probes);
    // The download carries its full capacity except after the return, where it carries half.
    run.download_bytes = (0..600)
        .map(|i| {
            let t = f64::from(i) * 0.1;
            let share = if t >= 40.0 { 0.5 } else { 1.0 };
            (s.capacity_at(Dir::Download, t).bps() as f64 * share * 0.1 / 8.0) as u64
        })
        .collect();
    let report = report::report(&s, &[run], None);
    let phases = &report.modes[0].phases;
    let spans: Vec<(f64, f64, f64)> = phases
        .iter()
        .map(|p| (p.from_s, p.to_s, p.download_capacity_mbit))
        .collect();
    assert_eq!(
        spans,
        [(0.0, 20.0, 10.0), (20.0, 40.0, 4.0), (40.0, 60.0, 10.0)]
    );
    let above: Vec<(usize, usize)> = phases
        .iter()
        .map(|p| (p.probes_above_controlled, p.probes))
        .collect();
    // The allowance's 20 probes are left out; the lost probe counts as above.
    assert_eq!(above, [(0, 200), (4, 180), (1, 200)]);
    assert_eq!(phases[0].p99_settled_ms, Some(2.0));
    let shares: Vec<f64> = phases.iter().map(|p| p.download_share).collect();
    assert!(
        (shares[0] - 1.0).abs() < 1e-9 && (shares[2] - 0.5).abs() < 1e-9,
        "{shares:?}"
    );
    let text = report::summary(&report);
    assert!(
        text.contains("20-40 s at 4.0 / 2.0 Mbit: 4 of 180 probes above 15 ms"),
        "{text}"
    );
    assert!(text.contains("goodput 50% / 0%"), "{text}");
    // A step that keeps the rate is no change: one stretch, which the summary does not repeat.
    let steady = STEP.replace("at: 20s, rate: 4Mbit", "at: 20s, rate: 10Mbit");
    let steady = Scenario::parse(&steady.replace("at: 40s", "at: 45s"), "x").unwrap();
    let steady_report = report::report(&steady, &[run_with(vec![])], None);
    assert_eq!(steady_report.modes[0].phases.len(), 1);
    assert!(!report::summary(&steady_report).contains("0-60 s at"));
}

#[test]
fn repeated_modes_are_summarised_by_their_median_and_range() {
    let s = step();
    let at = |rtt: f64, mode: Mode| RunData {
        mode,
        ..run_with((0..600).map(|i| tcp(f64::from(i) * 0.1, rtt)).collect())
    };
    // Three wanctl runs (2, 10 and 3 ms added) around one ideal run: only wanctl repeats.
    let runs = [
        at(22.0, Mode::Wanctl),
        at(21.0, Mode::Ideal),
        at(30.0, Mode::Wanctl),
        at(23.0, Mode::Wanctl),
    ];
    let report = report::report(&s, &runs, None);
    assert_eq!(report.repeated.len(), 1);
    let wanctl = &report.repeated[0];
    assert_eq!((wanctl.mode, wanctl.runs), (Mode::Wanctl, 3));
    let p99 = wanctl.p99_ms.unwrap();
    assert_eq!((p99.median, p99.low, p99.high), (3.0, 2.0, 10.0));
    // Every run stays under 15 ms, so each is back under control at once after the drop.
    assert_eq!(wanctl.recovery_median_s, Some(0.0));
    let text = report::summary(&report);
    assert!(
        text.contains("wanctl median of 3 runs (range): TCP p99 3.0 (2.0-10.0) ms"),
        "{text}"
    );
    assert!(!text.contains("ideal median"), "{text}");
    // Two runs: the mean of both.
    let report = report::report(&s, &runs[..3], None);
    let p99 = report.repeated[0].p99_ms.unwrap();
    assert_eq!((p99.median, p99.low, p99.high), (6.0, 2.0, 10.0));
}

#[test]
fn data_lines_round_trip_through_a_noisy_console() {
    let mut run = run_with((0..700).map(|i| tcp(f64::from(i) * 0.1, 22.5)).collect());
    run.notes.push("a note ending in spaces   ".into());
    run.download_bytes = vec![12345; 600];
    let mut console = vec!["[  3.1] random kernel line".to_string()];
    for line in data::data_lines(&run) {
        // The console trims line ends and may prefix escapes.
        console.push(format!("\u{1b}[0m{}", line.trim_end()));
        console.push("vm noise".into());
    }
    assert!(console.len() > 5, "the data must span several lines");
    let parsed = data::parse_runs(console.iter().map(String::as_str)).unwrap();
    assert_eq!(parsed.len(), 1);
    let back = &parsed[0];
    assert_eq!(back.download_bytes, run.download_bytes);
    assert_eq!(back.notes, run.notes);
    assert_eq!(back.probes.len(), run.probes.len());
    // JSON floats come back within rounding.
    let worst = back
        .probes
        .iter()
        .zip(&run.probes)
        .map(|(a, b)| (a.t - b.t).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-12, "{worst}");
    let truncated = &console[..console.len() - 2];
    assert!(data::parse_runs(truncated.iter().map(String::as_str)).is_err());
}

#[test]
fn a_recorded_trace_survives_the_console() {
    let config = "schema_version: 1\n\nwans:\n  - name: lab\n";
    let csv = "# wanctl trace v3\n1000,22.5:down:7:99:-40,,\n2000,,3/0/1514/2000,\n";
    let mut console = vec!["[  3.1] kernel line".to_string()];
    for line in data::recorded_lines(config, csv) {
        console.push(format!("\u{1b}[0m{line}"));
        console.push(format!("{} progress noise", data::MARK));
    }
    let lines = || console.iter().map(String::as_str);
    assert_eq!(
        data::recorded(lines(), "config"),
        "schema_version: 1\nwans:\n  - name: lab\n"
    );
    assert_eq!(data::recorded(lines(), "trace"), csv);
    assert!(data::recorded(["vm| nothing recorded"], "trace").is_empty());
}

#[test]
fn generated_wanctl_config_is_valid_and_takes_overrides() {
    let mut s = step();
    let text = wanctl::config(&s, Path::new("/tmp/lab"));
    let loaded = ::wanctl::config::load_config_str(&text, Path::new("lab.yaml"))
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let wan = &loaded.document.wans[0];
    assert_eq!(wan.interface, "wan0");
    assert_eq!(wan.control.download.ceiling.bps(), 9_000_000);
    // Like static CAKE, the upload filters the download's redundant ACKs; the download has none to filter.
    let cake = wan.cake.as_ref().expect("the lab installs CAKE");
    let ack_filter = |d: &Option<CakeDirection>| d.as_ref().map(|d| d.ack_filter);
    assert_eq!(ack_filter(&cake.upload), Some(AckFilter::Filter));
    assert_eq!(ack_filter(&cake.download), Some(AckFilter::Disabled));
    let overrides = "{ target_bloat: 8ms, download: { step_up: 300kbit } }";
    s.wanctl_control = serde_yaml_ng::from_str(overrides).unwrap();
    let text = wanctl::config(&s, Path::new("/tmp/lab"));
    let loaded = ::wanctl::config::load_config_str(&text, Path::new("lab.yaml")).unwrap();
    let control = &loaded.document.wans[0].control;
    assert_eq!(control.target_bloat.get().as_millis(), 8);
    assert_eq!(control.download.step_up.bps(), 300_000);
    assert_eq!(
        control.download.ceiling.bps(),
        9_000_000,
        "merge keeps the other keys"
    );
}

#[test]
fn cpu_times_parse_from_proc_formats() {
    use super::cpu::{parse_process, parse_total};
    let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1\n";
    // busy = user+nice+system+irq+softirq+steal; idle and iowait are not busy.
    assert_eq!(parse_total(stat), Some((160, 980)));
    let process = "4242 (wanctl run) S 1 4242 4242 0 -1 4194560 900 0 0 0 37 12 0 0 20 0 9 0";
    assert_eq!(parse_process(process), Some(49));
    assert_eq!(parse_total("intr 1\n"), None);
}

#[test]
fn the_daemons_health_gives_the_lab_its_rates_and_states() {
    use super::wanctl::parse_health;
    let body = r#"{"status":"healthy","wans":[{"name":"lab","status":"healthy",
        "state":{"download":"RED","upload":"GREEN"},"rate_bps":{"download":2160000,"upload":720000},
        "delta_rtt_ms":42.25,"shapers":[]}]}"#;
    let view = parse_health(body).expect("parses");
    assert_eq!(view.rates_bps, (Some(2_160_000), Some(720_000)));
    assert_eq!(view.summary, "down RED up GREEN, delta 42.2 ms");
    assert_eq!(parse_health(r#"{"wans":[]}"#), None);
    assert_eq!(parse_health("not json"), None);
}

#[test]
fn the_trace_summary_replays_the_recorded_inputs_per_second() {
    use super::trace_summary::{control_params, summarize};
    let scenario = step();
    let dir = std::env::temp_dir().join(format!("wanctl-lab-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = super::wanctl::config(&scenario, &dir);
    assert!(control_params(&config).is_ok());
    // t0 at 10 s on the trace's clock; three cycles in the first second, one in the next, one before.
    let trace = dir.join("trace.csv");
    std::fs::write(
        &trace,
        "time_s,rtt_samples,download_bytes,upload_bytes,download_cake,upload_cake\n\
         9.950,25.0:download:1,1000,1000,0/0/0/0,0/0/0/4000\n\
         10.050,25.0:download:1;30.0:upload:2,1000,1000,0/0/0/0,0/0/0/4000\n\
         10.100,26.0:download:1,1000,1000,0/0/0/0,0/0/0/6000\n\
         10.150,27.0:download:1,1000,1000,0/0/0/0,0/0/0/6000\n\
         11.000,,0,0,0/0/3000/0,0/0/0/0\n",
    )
    .unwrap();
    let lines = summarize(&trace, &config, 10_000_000_000).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with("t= -1s"), "{}", lines[0]);
    assert!(
        lines[1].contains("rtt down 26.0 (3) up 30.0 (1)"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("up cake delay 6.0 ms"), "{}", lines[1]);
    assert!(lines[2].contains("down backlog 3000 B"), "{}", lines[2]);
    assert!(lines[1].contains("down GREEN"), "{}", lines[1]);
    assert!(
        lines[1].contains("(up 0, yellow 0, red 0, hold 0)"),
        "{}",
        lines[1]
    );
    assert!(summarize(&dir.join("missing.csv"), &config, 0).is_err());
}
