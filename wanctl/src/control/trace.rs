//! Control traces: the per-cycle inputs of the controller as CSV, recorded by the daemon (`--record`) and
//! replayed by `wanctl replay`.
//!
//! # Format (version 1)
//! Lines starting with `#` and blank lines are ignored. The first other line is the header, exactly:
//!
//! ```text
//! time_s,rtt_samples,download_bytes,upload_bytes,download_cake,upload_cake
//! ```
//!
//! Then one line per control cycle:
//! - `time_s`: end of the cycle in seconds on a monotonic clock (decimal, e.g. `12.050`);
//! - `rtt_samples`: the cycle's RTT samples separated by `;`, each `rtt_ms[:kind[:flow[:tsval:age_us]]]`
//!   where `kind` is `download`, `upload`, `handshake` or `active` (default `active`), `flow` the
//!   flow/reflector id in hexadecimal (default: the sample's position in the cell), `tsval` the peer's TCP
//!   timestamp on the segment that completed the sample (decimal) and `age_us` how long before the end of
//!   the cycle that segment arrived, in µs (negative: after it, drained late); empty for a cycle without samples;
//! - `download_bytes`, `upload_bytes`: bytes sent in each direction during the cycle;
//! - `download_cake`, `upload_cake` (optional): `drops/ecn_marks/backlog_bytes/max_tin_delay_us` of a local
//!   CAKE during the cycle, empty when there is none.
//!
//! Samples carry the cycle's time minus their `age_us` (0 when absent). Example:
//!
//! ```text
//! time_s,rtt_samples,download_bytes,upload_bytes,download_cake,upload_cake
//! 0.050,24.1:download:1a:81234:12000;25.0:download:2b;23.9:active:0,590000,21000,,
//! 0.100,,0,0,0/0/0/0,
//! ```

use std::{
    io::{self, BufRead, Write},
    time::Duration,
};

use super::input::{CakeSignals, CycleInput};
use crate::signal::{PerDirection, RttSample, SampleKind, Timestamp};

/// The header line of a version 1 trace.
pub const HEADER: &str = "time_s,rtt_samples,download_bytes,upload_bytes,download_cake,upload_cake";

/// A trace line that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Reading failed.
    #[error("reading trace: {0}")]
    Io(#[from] io::Error),
    /// The header is missing or different.
    #[error("trace line {line}: expected the header `{HEADER}`")]
    Header {
        /// Line number (1-based).
        line: usize,
    },
    /// A field is malformed.
    #[error("trace line {line}, column {column}: {problem}")]
    Field {
        /// Line number (1-based).
        line: usize,
        /// Column name.
        column: &'static str,
        /// What is wrong, with the value.
        problem: String,
    },
}

/// One cycle of a trace, owning its samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceRow {
    /// End of the cycle.
    pub now: Timestamp,
    /// The cycle's samples.
    pub samples: Vec<RttSample>,
    /// Bytes per direction.
    pub achieved_bytes: PerDirection<u64>,
    /// CAKE statistics per direction.
    pub cake: PerDirection<Option<CakeSignals>>,
}

impl TraceRow {
    /// The row as controller input.
    pub fn input(&self) -> CycleInput<'_> {
        CycleInput {
            now: self.now,
            samples: &self.samples,
            achieved_bytes: self.achieved_bytes,
            cake: self.cake,
        }
    }
}

/// Reads a trace cycle by cycle.
#[derive(Debug)]
pub struct TraceReader<R> {
    reader: R,
    line: usize,
    header_seen: bool,
    buf: String,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader over `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            line: 0,
            header_seen: false,
            buf: String::new(),
        }
    }

    /// Reads the next cycle into `row` (reusing its sample buffer); `Ok(false)` at the end.
    ///
    /// # Errors
    /// I/O errors, a missing header, or a malformed field (named with its line and column).
    pub fn read_into(&mut self, row: &mut TraceRow) -> Result<bool, TraceError> {
        loop {
            self.buf.clear();
            if self.reader.read_line(&mut self.buf)? == 0 {
                return Ok(false);
            }
            self.line += 1;
            let text = self.buf.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if !self.header_seen {
                if text != HEADER {
                    return Err(TraceError::Header { line: self.line });
                }
                self.header_seen = true;
                continue;
            }
            parse_row(text, self.line, row)?;
            return Ok(true);
        }
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceRow, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = TraceRow::default();
        match self.read_into(&mut row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn parse_row(text: &str, line: usize, row: &mut TraceRow) -> Result<(), TraceError> {
    let bad = |column: &'static str, problem: String| TraceError::Field {
        line,
        column,
        problem,
    };
    let mut cols = text.split(',');
    let mut next = || cols.next().unwrap_or("").trim();
    let (time, samples, down, up, down_cake, up_cake) =
        (next(), next(), next(), next(), next(), next());
    let secs: f64 = time
        .parse()
        .map_err(|_| bad("time_s", format!("`{time}` is not a number")))?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(bad(
            "time_s",
            format!("`{time}` must be a finite number >= 0"),
        ));
    }
    row.now = Timestamp::from_secs_f64(secs);
    row.samples.clear();
    for (index, item) in samples
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let sample = parse_sample(item, index, row.now).map_err(|p| bad("rtt_samples", p))?;
        row.samples.push(sample);
    }
    let bytes = |column: &'static str, v: &str| -> Result<u64, TraceError> {
        v.parse()
            .map_err(|_| bad(column, format!("`{v}` is not a byte count")))
    };
    row.achieved_bytes = PerDirection {
        download: bytes("download_bytes", down)?,
        upload: bytes("upload_bytes", up)?,
    };
    row.cake = PerDirection {
        download: parse_cake(down_cake).map_err(|p| bad("download_cake", p))?,
        upload: parse_cake(up_cake).map_err(|p| bad("upload_cake", p))?,
    };
    Ok(())
}

fn parse_sample(item: &str, index: usize, now: Timestamp) -> Result<RttSample, String> {
    let mut parts = item.split(':');
    let rtt_text = parts.next().unwrap_or("");
    let rtt_ms: f64 = rtt_text
        .parse()
        .map_err(|_| format!("`{rtt_text}` is not an RTT in ms"))?;
    // NaN, infinities and negatives are refused here; zero and absurd values pass and are counted by the core.
    let rtt = Duration::try_from_secs_f64(rtt_ms / 1e3)
        .map_err(|_| format!("`{rtt_text}` must be a finite, non-negative RTT in ms"))?;
    let kind = match parts.next() {
        None | Some("active") => SampleKind::Active,
        Some("download") => SampleKind::Download,
        Some("upload") => SampleKind::Upload,
        Some("handshake") => SampleKind::Handshake,
        Some(other) => {
            return Err(format!(
                "`{other}` is not a sample kind (download, upload, handshake, active)"
            ));
        }
    };
    let flow = match parts.next() {
        None => index as u64,
        Some(hex) => u64::from_str_radix(hex, 16)
            .map_err(|_| format!("`{hex}` is not a hexadecimal flow id"))?,
    };
    let peer_tsval = match parts.next() {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .map_err(|_| format!("`{text}` is not a TCP timestamp (0..=4294967295)"))?,
        ),
    };
    let age_us = match parts.next() {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| format!("`{text}` is not an age in µs"))?,
    };
    if parts.next().is_some() {
        return Err(format!(
            "`{item}` has more than rtt_ms:kind:flow:tsval:age_us"
        ));
    }
    let at_ns = i128::from(now.as_nanos()) - i128::from(age_us) * 1000;
    let at = Timestamp::from_nanos(u64::try_from(at_ns.max(0)).unwrap_or(u64::MAX));
    Ok(RttSample {
        at,
        rtt,
        kind,
        flow,
        peer_tsval,
    })
}

fn parse_cake(cell: &str) -> Result<Option<CakeSignals>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    let mut values = [0u64; 4];
    let mut parts = cell.split('/');
    for value in &mut values {
        let part = parts.next().ok_or_else(|| {
            format!("`{cell}` needs drops/ecn_marks/backlog_bytes/max_tin_delay_us")
        })?;
        *value = part
            .parse()
            .map_err(|_| format!("`{part}` in `{cell}` is not a non-negative integer"))?;
    }
    if parts.next().is_some() {
        return Err(format!("`{cell}` has more than four values"));
    }
    Ok(Some(CakeSignals {
        drops: values[0],
        ecn_marks: values[1],
        backlog_bytes: values[2],
        max_tin_delay: Duration::from_micros(values[3]),
    }))
}

/// Writes a trace: the header on creation, then one line per cycle.
#[derive(Debug)]
pub struct TraceWriter<W> {
    writer: W,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace on `writer`.
    ///
    /// # Errors
    /// Writing the header failed.
    pub fn new(mut writer: W) -> io::Result<Self> {
        writeln!(writer, "# wanctl control trace v1")?;
        writeln!(writer, "{HEADER}")?;
        Ok(Self { writer })
    }

    /// Appends one cycle.
    ///
    /// # Errors
    /// Writing failed.
    pub fn write_cycle(&mut self, input: &CycleInput<'_>) -> io::Result<()> {
        let ns = input.now.as_nanos();
        write!(
            self.writer,
            "{}.{:09},",
            ns / 1_000_000_000,
            ns % 1_000_000_000
        )?;
        for (i, sample) in input.samples.iter().enumerate() {
            let kind = match sample.kind {
                SampleKind::Download => "download",
                SampleKind::Upload => "upload",
                SampleKind::Handshake => "handshake",
                SampleKind::Active => "active",
            };
            let ns = sample.rtt.as_nanos();
            let sep = if i == 0 { "" } else { ";" };
            write!(
                self.writer,
                "{sep}{}.{:06}:{kind}:{:x}",
                ns / 1_000_000,
                ns % 1_000_000,
                sample.flow
            )?;
            if let Some(tsval) = sample.peer_tsval {
                // Signed: a sample drained after the cycle's clock was read arrived after `now`.
                let age_us = (i128::from(input.now.as_nanos()) - i128::from(sample.at.as_nanos()))
                    .div_euclid(1000);
                write!(self.writer, ":{tsval}:{age_us}")?;
            }
        }
        write!(
            self.writer,
            ",{},{},",
            input.achieved_bytes.download, input.achieved_bytes.upload
        )?;
        write_cake(&mut self.writer, input.cake.download.as_ref())?;
        self.writer.write_all(b",")?;
        write_cake(&mut self.writer, input.cake.upload.as_ref())?;
        self.writer.write_all(b"\n")
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// Flushing failed.
    pub fn finish(mut self) -> io::Result<W> {
        self.writer.flush()?;
        Ok(self.writer)
    }
}

fn write_cake(w: &mut impl Write, cake: Option<&CakeSignals>) -> io::Result<()> {
    match cake {
        None => Ok(()),
        Some(c) => write!(
            w,
            "{}/{}/{}/{}",
            c.drops,
            c.ecn_marks,
            c.backlog_bytes,
            c.max_tin_delay.as_micros()
        ),
    }
}
