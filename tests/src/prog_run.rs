//! Runs wanctl's TC programs on crafted packets with `BPF_PROG_TEST_RUN`: no device, no traffic, the real
//! verifier-approved programs and maps.

use aya::programs::{TestRun, TestRunOptions};
use wanctl::probe::ebpf::{
    Framing, ProbeConfig, ProbeSample, ProbeStats, SampleReader, WanPrograms,
};

/// `TC_ACT_UNSPEC` as `BPF_PROG_TEST_RUN` reports it.
pub const TC_ACT_UNSPEC: u32 = u32::MAX;

/// Loaded programs plus their sample reader, driven packet by packet.
pub struct Harness {
    pub programs: WanPrograms,
    reader: SampleReader,
    // Keeps the reactor the reader is registered with alive.
    _runtime: tokio::runtime::Runtime,
}

impl Harness {
    /// Loads the programs with `config` and `framing`; panics on failure (tests need root).
    pub fn new(config: &ProbeConfig, framing: Framing) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut programs = WanPrograms::load(config).expect("load the eBPF programs");
        programs.set_framing(framing).expect("write the framing");
        let reader = {
            let _guard = runtime.enter();
            programs.samples().expect("sample reader")
        };
        Self {
            programs,
            reader,
            _runtime: runtime,
        }
    }

    /// Runs the egress program on `packet`; asserts it passed the packet on untouched.
    pub fn egress(&self, packet: &[u8]) {
        run(self.programs.egress_program().expect("egress"), packet, 1);
    }

    /// Runs the ingress program on `packet`; asserts it passed the packet on untouched.
    pub fn ingress(&self, packet: &[u8]) {
        run(self.programs.ingress_program().expect("ingress"), packet, 1);
    }

    /// Samples produced since the last call.
    pub fn samples(&mut self) -> Vec<ProbeSample> {
        self.reader.drain()
    }

    /// The programs' counters.
    pub fn stats(&self) -> ProbeStats {
        self.programs.stats().expect("read counters")
    }
}

/// Runs `program` `repeat` times on `packet`, asserts the verdict is `TC_ACT_UNSPEC` and the packet is
/// unchanged, and returns the kernel's average time per run.
pub fn run(
    program: &aya::programs::SchedClassifier,
    packet: &[u8],
    repeat: u32,
) -> std::time::Duration {
    let mut out = vec![0u8; packet.len() + 256];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(packet),
            data_out: Some(&mut out),
            repeat,
            ..TestRunOptions::default()
        })
        .expect("BPF_PROG_TEST_RUN");
    assert_eq!(
        result.return_value, TC_ACT_UNSPEC,
        "the verdict must be TC_ACT_UNSPEC"
    );
    assert_eq!(
        &out[..result.data_size_out as usize],
        packet,
        "the program must not alter the packet"
    );
    result.duration
}

/// Pins the calling thread to one CPU, so per-CPU state (the record rate limiter) is one CPU's.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity only touch it and this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            rc,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}
