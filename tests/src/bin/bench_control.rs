//! `cargo xtask bench control`: time per control cycle and allocations per cycle, side by side for several
//! sample loads in one run, printed as JSON.
//!
//! Every scenario drives one controller (one WAN, both directions) through cycles whose RTT moves through
//! GREEN, YELLOW, SOFT_RED and RED, so all rate-law branches run. Only `Controller::step` is timed and
//! counted; the samples are prepared outside the measured region.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use wanctl::{
    control::{ControlConfig, Controller, CycleInput},
    signal::{PerDirection, RttSample, SampleKind, Timestamp},
};

/// Counts every allocation and reallocation made by the process.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; the counters have no effect on memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const CONFIG: &str = "
download: { ceiling: 940Mbit, floor_green: 550Mbit, floor_yellow: 350Mbit, floor_soft_red: 275Mbit,
            floor_red: 200Mbit, step_up: 15Mbit }
upload: { ceiling: 38Mbit, floor_red: 8Mbit, step_up: 1Mbit }
";

const WARMUP_CYCLES: u64 = 2_000;
const CYCLES: u64 = 20_000;

struct Scenario {
    name: &'static str,
    samples: usize,
    flows: u64,
    /// Samples carry the peer's TSval (as the eBPF probe's do), so the one-way delay is measured too.
    peer_timestamps: bool,
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run(scenario: &Scenario) -> anyhow::Result<serde_json::Value> {
    let config: ControlConfig = serde_yaml_ng::from_str(CONFIG)?;
    let mut controller = Controller::new(config.validate()?);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut samples = vec![
        RttSample {
            at: Timestamp::from_nanos(0),
            rtt: Duration::ZERO,
            kind: SampleKind::Download,
            flow: 0,
            peer_tsval: None,
        };
        scenario.samples
    ];
    let mut times = Vec::with_capacity(CYCLES as usize);
    let (mut allocations, mut bytes) = (0, 0);
    for cycle in 0..WARMUP_CYCLES + CYCLES {
        let now = Timestamp::from_nanos((cycle + 1) * 50_000_000);
        // Queueing delay sweeps 0..100 ms over 20 s so every state is visited.
        let queue_ms = (cycle % 400) as f64 / 4.0;
        for sample in &mut samples {
            let flow = rng.next() % scenario.flows;
            sample.at = now;
            sample.flow = flow.wrapping_mul(0x9E37_79B9);
            let jitter_us = rng.next() % 3_000;
            sample.rtt = Duration::from_micros(18_000 + (flow % 16) * 500 + jitter_us)
                + Duration::from_secs_f64(queue_ms / 1e3);
            // The peer's 1 kHz clock (with a per-flow offset) saw the segment leave half the queue
            // earlier: every sample also feeds the one-way delay, as the eBPF probe's do.
            let sent_ms =
                now.as_nanos() / 1_000_000 - (9 + jitter_us / 2000) - (queue_ms / 2.0) as u64;
            sample.peer_tsval = scenario
                .peer_timestamps
                .then(|| (sent_ms as u32).wrapping_add(flow as u32 * 7919));
        }
        let input = CycleInput {
            now,
            samples: &samples,
            achieved_bytes: PerDirection {
                download: 5_000_000,
                upload: 200_000,
            },
            cake: PerDirection::default(),
        };
        let (a0, b0) = (
            ALLOCATIONS.load(Ordering::Relaxed),
            ALLOCATED_BYTES.load(Ordering::Relaxed),
        );
        let start = Instant::now();
        let decision = controller.step(&input);
        let elapsed = start.elapsed();
        std::hint::black_box(decision);
        if cycle >= WARMUP_CYCLES {
            allocations += ALLOCATIONS.load(Ordering::Relaxed) - a0;
            bytes += ALLOCATED_BYTES.load(Ordering::Relaxed) - b0;
            times.push(elapsed.as_nanos() as u64);
        }
    }
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    let mean = times.iter().sum::<u64>() as f64 / times.len() as f64;
    Ok(serde_json::json!({
        "scenario": scenario.name,
        "samples_per_cycle": scenario.samples,
        "flows": scenario.flows,
        "cycles": CYCLES,
        "us_per_cycle_mean": (mean / 10.0).round() / 100.0,
        "us_per_cycle_min": pct(0.0) as f64 / 1e3,
        "us_per_cycle_p10": pct(0.1) as f64 / 1e3,
        "us_per_cycle_p50": pct(0.5) as f64 / 1e3,
        "us_per_cycle_p99": pct(0.99) as f64 / 1e3,
        "us_per_cycle_max": pct(1.0) as f64 / 1e3,
        "allocations_per_cycle": allocations as f64 / CYCLES as f64,
        "bytes_allocated_per_cycle": bytes as f64 / CYCLES as f64,
    }))
}

fn main() -> anyhow::Result<()> {
    let scenarios = [
        Scenario {
            name: "1000 samples, 50 flows",
            samples: 1_000,
            flows: 50,
            peer_timestamps: true,
        },
        Scenario {
            name: "1000 samples, 1000 flows",
            samples: 1_000,
            flows: 1_000,
            peer_timestamps: true,
        },
        // The same without peer timestamps (active probes): what the one-way delay costs, side by side.
        Scenario {
            name: "1000 samples, 1000 flows, no peer timestamps",
            samples: 1_000,
            flows: 1_000,
            peer_timestamps: false,
        },
        Scenario {
            name: "10 samples, 3 flows",
            samples: 10,
            flows: 3,
            peer_timestamps: true,
        },
        Scenario {
            name: "idle (no samples)",
            samples: 0,
            flows: 1,
            peer_timestamps: false,
        },
    ];
    let results = scenarios
        .iter()
        .map(run)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = serde_json::json!({
        "benchmark": "control",
        "what": "Controller::step per cycle, one WAN, both directions",
        "note": "the machine is shared: compare scenarios within one run; p10/p50 are least disturbed by preemption",
        "targets": { "us_per_cycle_with_1000_samples": 20, "allocations_per_cycle": 0 },
        "results": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
