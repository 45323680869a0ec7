//! The TC programs on one WAN interface: load, attach to egress and ingress, read their maps.

use aya::{
    Ebpf, EbpfError,
    maps::{MapData, MapError, PerCpuArray, RingBuf},
    programs::{ProgramError, SchedClassifier, TcAttachType},
};
use wanctl_common::{TrafficCounters, direction};

use super::embedded_object;

/// Why the eBPF programs could not be loaded, attached or read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("loading the embedded eBPF object failed (needs root or CAP_BPF + CAP_NET_ADMIN)")]
    Load(#[source] Box<EbpfError>),
    #[error("the eBPF object has no program or map named `{0}`")]
    Missing(&'static str),
    #[error("program `{program}` on interface `{interface}`: {action} failed")]
    Program {
        program: &'static str,
        interface: String,
        action: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("eBPF map `{map}`: {action} failed")]
    Map {
        map: &'static str,
        action: &'static str,
        #[source]
        source: MapError,
    },
}

const EGRESS_PROGRAM: &str = "wanctl_egress";
const INGRESS_PROGRAM: &str = "wanctl_ingress";
const TRAFFIC_MAP: &str = "TRAFFIC";
const PACKET_EVENTS_MAP: &str = "PACKET_EVENTS";

/// wanctl's programs, loaded into the kernel. Attachments live as long as this value (TCX links are
/// detached when their file descriptors close), so a killed process leaves nothing behind.
pub struct WanPrograms {
    ebpf: Ebpf,
}

impl WanPrograms {
    /// Loads the embedded object and verifies both programs.
    ///
    /// # Errors
    /// [`ProbeError::Load`] when the kernel refuses the object (no privileges, verifier rejection).
    pub fn load() -> Result<Self, ProbeError> {
        let mut ebpf = Ebpf::load(embedded_object()).map_err(|e| ProbeError::Load(Box::new(e)))?;
        for name in [EGRESS_PROGRAM, INGRESS_PROGRAM] {
            let program = classifier(&mut ebpf, name)?;
            program.load().map_err(|source| ProbeError::Program {
                program: name,
                interface: String::new(),
                action: "verifier load",
                source: Box::new(source),
            })?;
        }
        Ok(Self { ebpf })
    }

    /// Attaches the egress and ingress programs to `interface` (TCX where the kernel has it, clsact
    /// otherwise). Must run in the network namespace that owns `interface`.
    ///
    /// # Errors
    /// [`ProbeError::Program`] naming the program and interface.
    pub fn attach(&mut self, interface: &str) -> Result<(), ProbeError> {
        for (name, attach_type) in [
            (EGRESS_PROGRAM, TcAttachType::Egress),
            (INGRESS_PROGRAM, TcAttachType::Ingress),
        ] {
            let program = classifier(&mut self.ebpf, name)?;
            program
                .attach(interface, attach_type)
                .map_err(|source| ProbeError::Program {
                    program: name,
                    interface: interface.to_string(),
                    action: "attach",
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    /// Takes the ring buffer of per-packet events (the build proof's record stream).
    ///
    /// # Errors
    /// [`ProbeError::Missing`] if it was already taken.
    pub fn take_packet_events(&mut self) -> Result<RingBuf<MapData>, ProbeError> {
        let map = self
            .ebpf
            .take_map(PACKET_EVENTS_MAP)
            .ok_or(ProbeError::Missing(PACKET_EVENTS_MAP))?;
        RingBuf::try_from(map).map_err(|source| ProbeError::Map {
            map: PACKET_EVENTS_MAP,
            action: "open",
            source,
        })
    }

    /// Traffic counters summed over CPUs, indexed by [`direction`].
    ///
    /// # Errors
    /// [`ProbeError::Map`] when the kernel refuses the read.
    pub fn traffic(&self) -> Result<[TrafficCounters; 2], ProbeError> {
        let map = self
            .ebpf
            .map(TRAFFIC_MAP)
            .ok_or(ProbeError::Missing(TRAFFIC_MAP))?;
        let counters: PerCpuArray<_, TrafficCounters> =
            PerCpuArray::try_from(map).map_err(|source| ProbeError::Map {
                map: TRAFFIC_MAP,
                action: "open",
                source,
            })?;
        let mut totals = [TrafficCounters::default(); 2];
        for dir in [direction::EGRESS, direction::INGRESS] {
            let per_cpu = counters.get(&dir, 0).map_err(|source| ProbeError::Map {
                map: TRAFFIC_MAP,
                action: "read",
                source,
            })?;
            for cpu in per_cpu.iter() {
                totals[dir as usize].packets += cpu.packets;
                totals[dir as usize].bytes += cpu.bytes;
            }
        }
        Ok(totals)
    }
}

fn classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, ProbeError> {
    let program = ebpf.program_mut(name).ok_or(ProbeError::Missing(name))?;
    program.try_into().map_err(|source| ProbeError::Program {
        program: name,
        interface: String::new(),
        action: "type check",
        source: Box::new(source),
    })
}
