//! What one mode's run measured, and how it leaves the VM: JSON cut into marked console lines that the
//! host reassembles (long single lines are fragile on a serial console).

use serde::{Deserialize, Serialize};

/// Prefix of every line the lab prints for the host to parse.
pub const MARK: &str = "@@lab";

/// Which shaping runs at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No shaper: the ISP's FIFO holds the queue.
    None,
    /// CAKE at a fixed rate: the initial capacity times the scenario's `static_share`.
    Static,
    /// The wanctl daemon drives CAKE.
    Wanctl,
    /// The reference no controller can beat: CAKE set to the scenario's `ideal_share` of the capacity and
    /// changed at the very moment the capacity changes (the lab knows its schedule; a real gateway does not).
    Ideal,
}

impl Mode {
    /// Every mode; a benchmark runs the first three (`ideal` on request: `--modes ...,ideal`).
    pub const ALL: [Mode; 4] = [Mode::None, Mode::Static, Mode::Wanctl, Mode::Ideal];

    /// The lowercase name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Static => "static",
            Mode::Wanctl => "wanctl",
            Mode::Ideal => "ideal",
        }
    }

    /// Parses a mode name.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Which probe took a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Small TCP request/response (what an interactive application feels).
    Tcp,
    /// UDP echo.
    Udp,
}

/// One probe: sent at `t` seconds from the run's start; `rtt_ms` is `None` when no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    pub t: f64,
    pub kind: ProbeKind,
    pub rtt_ms: Option<f64>,
}

/// The gateway's CAKE rates at `t` (bits per second; `None` where no CAKE is installed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShaperSample {
    pub t: f64,
    pub download_bps: Option<u64>,
    pub upload_bps: Option<u64>,
}

/// Everything one mode's run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    pub mode: Mode,
    /// Median TCP probe RTT while idle before the run.
    pub base_rtt_tcp_ms: f64,
    /// Median UDP probe RTT while idle before the run.
    pub base_rtt_udp_ms: f64,
    pub probes: Vec<ProbeSample>,
    /// Width of the goodput bins, seconds.
    pub bin_s: f64,
    /// Payload bytes the receivers read per bin, from t = 0.
    pub download_bytes: Vec<u64>,
    pub upload_bytes: Vec<u64>,
    pub shaper: Vec<ShaperSample>,
    /// Problems seen during the run (e.g. wanctl exited early); reported, not fatal.
    pub notes: Vec<String>,
}

/// `data` as marked chunk lines: `@@lab data <mode> <index>/<count> <chunk>`.
pub fn data_lines(data: &RunData) -> Vec<String> {
    let json = serde_json::to_string(data).unwrap_or_default();
    let chunks: Vec<&str> = split_chars(&json, 2000);
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            format!(
                "{MARK} data {} {}/{} {chunk}",
                data.mode.name(),
                i + 1,
                chunks.len()
            )
        })
        .collect()
}

/// Prints [`data_lines`].
pub fn print_run(data: &RunData) {
    for line in data_lines(data) {
        println!("{line}");
    }
}

/// The daemon's configuration and its recorded trace as `@@lab recorded config|trace <line>` lines (blank
/// lines left out: the console trims line ends).
pub fn recorded_lines(config: &str, trace_csv: &str) -> Vec<String> {
    [("config", config), ("trace", trace_csv)]
        .into_iter()
        .flat_map(|(kind, text)| {
            text.lines()
                .filter(|line| !line.trim().is_empty())
                .map(move |line| format!("{MARK} recorded {kind} {}", line.trim_end()))
        })
        .collect()
}

/// The lines [`recorded_lines`] made for `kind` (`config` or `trace`), newline-terminated; empty when
/// the run recorded nothing.
pub fn recorded<'a>(lines: impl IntoIterator<Item = &'a str>, kind: &str) -> String {
    let prefix = format!("{MARK} recorded {kind} ");
    let mut out = String::new();
    for line in lines {
        if let Some(at) = line.find(&prefix) {
            out.push_str(&line[at + prefix.len()..]);
            out.push('\n');
        }
    }
    out
}

/// Cuts `text` into pieces of at most `size` bytes that do not end on whitespace (unless last).
pub fn split_chars(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        // The console trims line ends: never end a chunk on whitespace.
        while end < rest.len() && end > 1 && rest[..end].ends_with(char::is_whitespace) {
            end -= 1;
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Reassembles every mode's data from console lines (other lines are ignored).
pub fn parse_runs<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<RunData>, String> {
    let mut parts: Vec<(String, usize, Vec<Option<String>>)> = Vec::new();
    for line in lines {
        let Some(at) = line.find(MARK) else { continue };
        let rest = &line[at + MARK.len()..];
        let Some(rest) = rest.strip_prefix(" data ") else {
            continue;
        };
        let mut words = rest.splitn(3, ' ');
        let (Some(mode), Some(pos), chunk) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let Some((index, count)) = pos.split_once('/') else {
            continue;
        };
        let (Ok(index), Ok(count)) = (index.parse::<usize>(), count.parse::<usize>()) else {
            continue;
        };
        if index == 0 || index > count {
            continue;
        }
        if index == 1 || !parts.last().is_some_and(|p| p.0 == mode && p.1 == count) {
            parts.push((mode.to_string(), count, vec![None; count]));
        }
        if let Some(last) = parts.last_mut() {
            last.2[index - 1] = Some(chunk.unwrap_or_default().to_string());
        }
    }
    parts
        .into_iter()
        .map(|(mode, count, chunks)| {
            let missing = chunks.iter().filter(|c| c.is_none()).count();
            if missing > 0 {
                return Err(format!(
                    "mode {mode}: {missing} of {count} data lines missing"
                ));
            }
            let json: String = chunks.into_iter().flatten().collect();
            serde_json::from_str(&json).map_err(|e| format!("mode {mode}: bad data: {e}"))
        })
        .collect()
}
