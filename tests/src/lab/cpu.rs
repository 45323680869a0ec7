//! How busy the machine running the lab (the VM's guest, or the host itself) was during a run: the lab
//! shares its CPUs (two emulated vCPUs in the VM) with the forwarding, the shapers and (in wanctl mode)
//! the daemon, so a saturated machine shows up as latency no shaper caused.

use std::fs;

/// Clock ticks per second for `/proc` CPU times (USER_HZ, 100 on every Linux ABI wanctl runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// A snapshot of the whole machine's CPU time and, optionally, one process's.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    busy_ticks: u64,
    total_ticks: u64,
    process_ticks: Option<u64>,
    cpus: usize,
}

impl CpuSnapshot {
    /// Reads `/proc/stat` and, when `pid` is given, `/proc/<pid>/stat`.
    pub fn take(pid: Option<u32>) -> Option<Self> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let (busy_ticks, total_ticks) = parse_total(&stat)?;
        let cpus = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count()
            .max(1);
        let process_ticks = pid.and_then(|pid| {
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_process(&text)
        });
        Some(Self {
            busy_ticks,
            total_ticks,
            process_ticks,
            cpus,
        })
    }

    /// "CPU 63% busy (2 CPUs); wanctl used 12% of one CPU" between `self` and `later`,
    /// over `seconds` of wall time.
    pub fn describe_until(&self, later: &Self, seconds: f64) -> String {
        let total = later.total_ticks.saturating_sub(self.total_ticks).max(1) as f64;
        let busy = later.busy_ticks.saturating_sub(self.busy_ticks) as f64;
        let mut text = format!("CPU {:.0}% busy ({} CPUs)", 100.0 * busy / total, self.cpus);
        if let (Some(a), Some(b)) = (self.process_ticks, later.process_ticks) {
            let used = b.saturating_sub(a) as f64 / TICKS_PER_SECOND;
            text.push_str(&format!(
                "; wanctl used {:.0}% of one CPU",
                100.0 * used / seconds.max(0.001)
            ));
        }
        text
    }
}

/// (busy, total) ticks from the aggregate `cpu` line of `/proc/stat`; idle and iowait are not busy.
pub fn parse_total(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// utime + stime of `/proc/<pid>/stat` (fields 14 and 15; the command name may contain spaces).
pub fn parse_process(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state), so utime (14) is index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}
