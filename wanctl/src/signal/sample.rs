//! RTT samples as every source delivers them (eBPF passive, active probes), and the vocabulary shared by the
//! control core: directions and monotonic time.

use std::time::Duration;

/// A point on the monotonic clock (CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns`), in nanoseconds.
/// The control core never reads a clock: callers pass these in, and replays make them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// `nanos` nanoseconds after the clock's origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Seconds after the clock's origin (replay traces use seconds).
    pub fn from_secs_f64(secs: f64) -> Self {
        Self(Duration::try_from_secs_f64(secs).map_or(0, |d| d.as_nanos() as u64))
    }

    /// Nanoseconds after the clock's origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds after the clock's origin.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self` moved forward by `d`.
    pub const fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_nanos() as u64))
    }
}

/// Which rate a decision is about: traffic towards the user (download) or from the user (upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Download,
    Upload,
}

impl Direction {
    /// Both directions, download first.
    pub const ALL: [Direction; 2] = [Direction::Download, Direction::Upload];

    /// "download" or "upload", for logs, labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        }
    }
}

/// One value per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PerDirection<T> {
    pub download: T,
    pub upload: T,
}

impl<T> PerDirection<T> {
    /// The value for `direction`.
    pub fn get(&self, direction: Direction) -> &T {
        match direction {
            Direction::Download => &self.download,
            Direction::Upload => &self.upload,
        }
    }

    /// The value for `direction`, mutably.
    pub fn get_mut(&mut self, direction: Direction) -> &mut T {
        match direction {
            Direction::Download => &mut self.download,
            Direction::Upload => &mut self.upload,
        }
    }
}

/// What a sample measured, which decides how much the core trusts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleKind {
    /// Egress data segment, echoed by the ingress ACK: an upload flow's RTT (passive).
    Upload,
    /// Egress pure ACK, echoed on the next ingress data segment of a busy flow: a download flow's RTT (passive).
    Download,
    /// Egress SYN answered by the ingress SYN-ACK: a path's base RTT at connection start (passive).
    Handshake,
    /// An active probe (ICMP echo) to a reflector.
    Active,
}

impl SampleKind {
    /// True for the kinds measured from real traffic.
    pub const fn is_passive(self) -> bool {
        !matches!(self, SampleKind::Active)
    }
}

/// One RTT measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttSample {
    /// When the measurement completed.
    pub at: Timestamp,
    /// The round-trip time.
    pub rtt: Duration,
    /// What was measured.
    pub kind: SampleKind,
    /// Identifies the flow or reflector the sample came from (a hash), so statistics can weigh flows fairly.
    pub flow: u64,
    /// The peer's TCP timestamp (TSval) on the segment that completed the sample, when there was one: the
    /// peer's clock when it sent that segment, from which [`DownstreamDelay`](super::DownstreamDelay)
    /// measures the queue towards us alone.
    pub peer_tsval: Option<u32>,
}
