//! The eBPF probe as the control loop's sample source: the ring buffer drained once per cycle, and the
//! per-CPU byte counters turned into the bytes each direction carried since the previous cycle.

use super::{Collected, SampleSource};
use crate::{
    probe::ebpf::{ProbeSample, ProbeStats, SampleReader, WanPrograms},
    signal::{PerDirection, RttSample, Timestamp},
};

/// The attached programs of one WAN and the reader of their samples. Dropping it detaches them.
pub struct EbpfSource {
    programs: WanPrograms,
    reader: SampleReader,
    batch: Vec<ProbeSample>,
    previous: Option<ProbeStats>,
}

impl EbpfSource {
    /// Wraps programs already attached to the WAN interface, with their reader.
    pub fn new(programs: WanPrograms, reader: SampleReader) -> Self {
        Self {
            programs,
            reader,
            batch: Vec::with_capacity(1024),
            previous: None,
        }
    }

    /// The programs, for counters and detaching at shutdown.
    pub fn programs_mut(&mut self) -> &mut WanPrograms {
        &mut self.programs
    }
}

impl SampleSource for EbpfSource {
    fn collect(&mut self, _now: Timestamp, samples: &mut Vec<RttSample>) -> Collected {
        samples.clear();
        self.batch.clear();
        self.reader.drain_into(&mut self.batch);
        samples.extend(self.batch.iter().map(|probe| probe.sample));
        let stats = match self.programs.stats() {
            Ok(stats) => stats,
            Err(error) => {
                return Collected {
                    degraded: Some(format!("eBPF counters unreadable: {error}")),
                    ..Collected::default()
                };
            }
        };
        let collected = match &self.previous {
            // The first reading is only the reference: bytes from before start are not this cycle's.
            None => Collected::default(),
            Some(before) => Collected {
                // Egress carries the upload, ingress the download (as the WAN interface sees them).
                achieved_bytes: PerDirection {
                    download: stats.download.bytes.saturating_sub(before.download.bytes),
                    upload: stats.upload.bytes.saturating_sub(before.upload.bytes),
                },
                ringbuf_lost: stats.ringbuf_full.saturating_sub(before.ringbuf_full),
                degraded: None,
            },
        };
        self.previous = Some(stats);
        collected
    }
}
