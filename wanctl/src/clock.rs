//! The one place wanctl reads CLOCK_MONOTONIC (the edges: the daemon's cycle, the active prober): the clock of
//! `bpf_ktime_get_ns`, so kernel sample times, probe times and cycle times compare directly. The control core
//! never calls it; time is passed in.

use crate::signal::Timestamp;

/// Now on CLOCK_MONOTONIC.
pub fn monotonic_now() -> Timestamp {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return Timestamp::from_nanos(0);
    }
    let nanos = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or(0);
    Timestamp::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_never_goes_back() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(a.as_nanos() > 0);
        assert!(b >= a);
    }
}
