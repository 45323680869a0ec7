//! Reads RTT records from the ring buffer in tokio: the kernel wakes the reader only when the ring passes
//! a fill threshold, so the control loop drains once per cycle and a waiting reader costs nothing.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};
use wanctl_common::{RttRecord, record_flags, sample_kind};

use crate::signal::{Direction, RttSample, SampleKind, Timestamp};

/// One RTT sample from the kernel, with the flow facts that came with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSample {
    /// The sample as the control core consumes it (`at` on CLOCK_MONOTONIC, `flow` = the kernel's hash).
    pub sample: RttSample,
    /// Which rate's traffic it measured: `None` for handshakes, which precede any data.
    pub direction: Option<Direction>,
    /// The peer.
    pub remote: SocketAddr,
    /// Our port.
    pub local_port: u16,
    /// The flow's smallest RTT so far.
    pub min_rtt: Duration,
    /// Gap since the flow's previous ingress data segment, if it had one (download sample quality).
    pub gap: Option<Duration>,
}

impl ProbeSample {
    /// Decodes one ring-buffer record; `None` for a record of the wrong size or an unknown kind.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size_of::<RttRecord>() {
            return None;
        }
        // SAFETY: the length matches and RttRecord is plain integers, valid for any bits; read_unaligned
        // copes with the ring slot's alignment.
        let record = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RttRecord>()) };
        Self::from_record(&record)
    }

    /// Converts a kernel record; `None` for an unknown kind.
    pub fn from_record(record: &RttRecord) -> Option<Self> {
        let (kind, direction) = match record.kind {
            sample_kind::UPLOAD => (SampleKind::Upload, Some(Direction::Upload)),
            sample_kind::DOWNLOAD => (SampleKind::Download, Some(Direction::Download)),
            sample_kind::HANDSHAKE => (SampleKind::Handshake, None),
            _ => return None,
        };
        let v6 = Ipv6Addr::from(record.remote_addr);
        let ip = if record.flags & record_flags::IPV6 != 0 {
            IpAddr::V6(v6)
        } else {
            IpAddr::V4(v6.to_ipv4_mapped()?)
        };
        Some(Self {
            sample: RttSample {
                at: Timestamp::from_nanos(record.at_ns),
                rtt: Duration::from_nanos(record.rtt_ns),
                kind,
                flow: record.flow_hash,
                peer_tsval: Some(record.peer_tsval),
            },
            direction,
            remote: SocketAddr::new(ip, record.remote_port),
            local_port: record.local_port,
            min_rtt: Duration::from_micros(u64::from(record.min_rtt_us)),
            gap: (record.gap_us != u32::MAX)
                .then(|| Duration::from_micros(u64::from(record.gap_us))),
        })
    }
}

/// The stream of samples from the programs' ring buffer.
pub struct SampleReader {
    ring: AsyncFd<RingBuf<MapData>>,
    invalid: u64,
}

impl SampleReader {
    /// Registers the ring buffer with tokio's reactor (must run inside a runtime).
    pub(crate) fn new(ring: RingBuf<MapData>) -> std::io::Result<Self> {
        // SAFETY: the ring buffer owns its map fd and keeps it open, unchanged, until it is dropped with
        // the AsyncFd that owns it.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self { ring, invalid: 0 })
    }

    /// Appends every sample available now to `out` without waiting; returns how many were added. The
    /// control loop calls this once per cycle.
    pub fn drain_into(&mut self, out: &mut Vec<ProbeSample>) -> usize {
        let before = out.len();
        let ring = self.ring.get_mut();
        while let Some(item) = ring.next() {
            match ProbeSample::decode(&item) {
                Some(sample) => out.push(sample),
                None => self.invalid += 1,
            }
        }
        out.len() - before
    }

    /// Every sample available now.
    pub fn drain(&mut self) -> Vec<ProbeSample> {
        let mut out = Vec::new();
        self.drain_into(&mut out);
        out
    }

    /// Waits until the kernel signals a filling ring or `timeout` passes, whichever is first; then call
    /// [`SampleReader::drain_into`]. Never polls in a loop.
    pub async fn wait(&mut self, timeout: Duration) {
        tokio::select! {
            ready = self.ring.readable_mut() => {
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                }
            }
            () = tokio::time::sleep(timeout) => {}
        }
    }

    /// Records that could not be decoded (should stay zero: kernel and userspace share the layout).
    pub fn invalid_records(&self) -> u64 {
        self.invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, flags: u8, remote_addr: [u8; 16]) -> RttRecord {
        RttRecord {
            at_ns: 5_000,
            rtt_ns: 12_345_678,
            flow_hash: 42,
            remote_addr,
            remote_port: 443,
            local_port: 50_000,
            kind,
            flags,
            min_rtt_us: 9_000,
            gap_us: u32::MAX,
            ..RttRecord::default()
        }
    }

    const V4: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7];

    #[test]
    fn decodes_an_upload_record() {
        let r = record(sample_kind::UPLOAD, 0, V4);
        // SAFETY: viewing a plain-integer struct as bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts((&raw const r).cast::<u8>(), size_of::<RttRecord>())
        };
        let s = ProbeSample::decode(bytes).unwrap();
        assert_eq!(s.sample.kind, SampleKind::Upload);
        assert_eq!(s.direction, Some(Direction::Upload));
        assert_eq!(s.sample.rtt, Duration::from_nanos(12_345_678));
        assert_eq!(s.sample.at, Timestamp::from_nanos(5_000));
        assert_eq!(s.sample.flow, 42);
        assert_eq!(s.remote, "198.51.100.7:443".parse().unwrap());
        assert_eq!(s.local_port, 50_000);
        assert_eq!(s.min_rtt, Duration::from_millis(9));
        assert_eq!(s.gap, None);
        assert!(ProbeSample::decode(&bytes[..63]).is_none(), "short record");
    }

    #[test]
    fn kinds_and_families_map_as_documented() {
        let s = ProbeSample::from_record(&record(sample_kind::DOWNLOAD, 0, V4)).unwrap();
        assert_eq!(
            (s.sample.kind, s.direction),
            (SampleKind::Download, Some(Direction::Download))
        );
        let s = ProbeSample::from_record(&record(sample_kind::HANDSHAKE, 0, V4)).unwrap();
        assert_eq!((s.sample.kind, s.direction), (SampleKind::Handshake, None));
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 2;
        let s =
            ProbeSample::from_record(&record(sample_kind::UPLOAD, record_flags::IPV6, v6)).unwrap();
        assert_eq!(s.remote, "[2001:db8::2]:443".parse().unwrap());
        assert!(
            ProbeSample::from_record(&record(9, 0, V4)).is_none(),
            "unknown kind"
        );
        assert!(
            ProbeSample::from_record(&record(sample_kind::UPLOAD, 0, v6)).is_none(),
            "an IPv4 record must carry a v4-mapped address"
        );
    }
}
