//! Lab scenarios: a YAML file with the bottleneck's capacity over time per direction, the traffic, and the
//! base delay. Times count from the start of the measured run (after the idle baseline).

use std::{collections::BTreeMap, path::Path, time::Duration};

use serde::{Deserialize, Serialize};
use wanctl::config::{Bandwidth, DurationSpec};

/// A scenario file that cannot be used, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("scenario {name}: `{field}` {problem}")]
    Invalid {
        name: String,
        field: String,
        problem: String,
    },
}

/// One capacity change: from `at` on, the bottleneck carries `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub at: DurationSpec,
    pub rate: Bandwidth,
}

/// When the bulk flows run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub start: DurationSpec,
    pub stop: DurationSpec,
}

/// Numbers of bulk CUBIC flows per direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flows {
    pub download: usize,
    pub upload: usize,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Length of the measured run.
    pub duration: DurationSpec,
    /// Idle time before the run, measuring the base RTT with the probe alone.
    #[serde(default = "default_idle")]
    pub idle: DurationSpec,
    /// Round-trip delay of the path beyond the bottleneck (half each way).
    #[serde(default = "default_base_delay")]
    pub base_delay: DurationSpec,
    /// Depth of the ISP's FIFO, in time at the initial rate (a fixed byte count: deeper when slower).
    #[serde(default = "default_buffer")]
    pub buffer: DurationSpec,
    pub flows: Flows,
    /// Bulk traffic window; default: the whole run.
    #[serde(default)]
    pub load: Option<Load>,
    /// Interval of the TCP request/response and UDP echo probes.
    #[serde(default = "default_probe_interval")]
    pub probe_interval: DurationSpec,
    /// Static CAKE (and wanctl's ceiling) run at this share of the initial capacity.
    #[serde(default = "default_margin")]
    pub static_share: f64,
    /// The `ideal` mode's CAKE runs at this share of the capacity at each moment.
    #[serde(default = "default_ideal_share")]
    pub ideal_share: f64,
    pub download: Vec<Step>,
    pub upload: Vec<Step>,
    /// Overrides merged into the generated wanctl `control:` section (e.g. `target_bloat: 10ms`).
    #[serde(default)]
    pub wanctl_control: BTreeMap<String, serde_yaml_ng::Value>,
}

fn default_idle() -> DurationSpec {
    DurationSpec::from_secs(4)
}
fn default_base_delay() -> DurationSpec {
    DurationSpec::from_millis(20)
}
fn default_buffer() -> DurationSpec {
    DurationSpec::from_millis(250)
}
fn default_probe_interval() -> DurationSpec {
    DurationSpec::from_millis(100)
}
fn default_margin() -> f64 {
    0.9
}
fn default_ideal_share() -> f64 {
    0.95
}

/// Upload or download, as the lab names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Download,
    Upload,
}

impl Dir {
    /// Both directions, download first.
    pub const BOTH: [Dir; 2] = [Dir::Download, Dir::Upload];

    /// "download" or "upload".
    pub fn name(self) -> &'static str {
        match self {
            Dir::Download => "download",
            Dir::Upload => "upload",
        }
    }
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks scenario text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario =
            serde_yaml_ng::from_str(text).map_err(|e| ScenarioError::Parse {
                source_name: source_name.to_string(),
                message: e.to_string(),
            })?;
        scenario.check()?;
        Ok(scenario)
    }

    fn invalid(&self, field: &str, problem: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            name: self.name.clone(),
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let duration = self.duration.get();
        if duration.is_zero() {
            return Err(self.invalid("duration", "must be above zero"));
        }
        for dir in Dir::BOTH {
            let steps = self.steps(dir);
            let field = dir.name();
            match steps.first() {
                None => return Err(self.invalid(field, "needs at least one step")),
                Some(first) if !first.at.get().is_zero() => {
                    return Err(self.invalid(field, "must start with a step `at: 0s`"));
                }
                _ => {}
            }
            if steps.windows(2).any(|w| w[1].at <= w[0].at) {
                return Err(self.invalid(field, "steps must be in increasing `at` order"));
            }
            if steps.iter().any(|s| s.rate.bps() == 0) {
                return Err(self.invalid(field, "rates must be above zero"));
            }
            if steps.iter().any(|s| s.at.get() >= duration) {
                return Err(self.invalid(field, "a step lies at or after `duration`"));
            }
        }
        let (start, stop) = self.load_window();
        if start >= stop || stop > duration {
            return Err(self.invalid("load", "needs start < stop <= duration"));
        }
        if !(0.1..=1.0).contains(&self.static_share) {
            return Err(self.invalid("static_share", "must be within 0.1..=1.0"));
        }
        if !(0.1..=1.0).contains(&self.ideal_share) {
            return Err(self.invalid("ideal_share", "must be within 0.1..=1.0"));
        }
        if self.probe_interval.get() < Duration::from_millis(10) {
            return Err(self.invalid("probe_interval", "must be at least 10ms"));
        }
        Ok(())
    }

    /// The capacity schedule of `dir`.
    pub fn steps(&self, dir: Dir) -> &[Step] {
        match dir {
            Dir::Download => &self.download,
            Dir::Upload => &self.upload,
        }
    }

    /// The bulk traffic window as offsets from the run's start.
    pub fn load_window(&self) -> (Duration, Duration) {
        self.load
            .map_or((Duration::ZERO, self.duration.get()), |l| {
                (l.start.get(), l.stop.get())
            })
    }

    /// The capacity of `dir` at offset `t` (seconds).
    pub fn capacity_at(&self, dir: Dir, t: f64) -> Bandwidth {
        let steps = self.steps(dir);
        steps
            .iter()
            .rev()
            .find(|s| s.at.get().as_secs_f64() <= t)
            .or(steps.first())
            .map_or(Bandwidth::default(), |s| s.rate)
    }

    /// The static shaper's rate of `dir`: the initial capacity times `static_share`.
    pub fn nominal(&self, dir: Dir) -> Bandwidth {
        let initial = self.capacity_at(dir, 0.0).bps() as f64;
        Bandwidth::from_bps((initial * self.static_share).round() as u64)
    }

    /// The `ideal` mode's shaper rate of `dir` at offset `t` (seconds): the capacity then times
    /// `ideal_share`.
    pub fn ideal_rate(&self, dir: Dir, t: f64) -> Bandwidth {
        let capacity = self.capacity_at(dir, t).bps() as f64;
        Bandwidth::from_bps((capacity * self.ideal_share).round() as u64)
    }

    /// Times (seconds) at which `dir`'s capacity falls.
    pub fn drops(&self, dir: Dir) -> Vec<f64> {
        self.steps(dir)
            .windows(2)
            .filter(|w| w[1].rate < w[0].rate)
            .map(|w| w[1].at.get().as_secs_f64())
            .collect()
    }
}
