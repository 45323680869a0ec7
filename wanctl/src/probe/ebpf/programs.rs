//! The TC programs on one WAN interface: load, attach to egress and ingress, read their maps.

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{Array, HashMap, MapData, MapError, PerCpuArray, RingBuf},
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttachType,
        tc::{self, NlOptions, SchedClassifierLinkId, TcAttachOptions},
    },
};
use wanctl_common::{
    FlowKey, FlowState, ProbeCounters, ProbeSettings, TrafficCounters, direction, map_names,
};

use super::{
    AttachMode, ConfigError, Framing, ProbeConfig, ProbeStats, SampleReader, embedded_object,
};

/// Why the eBPF programs could not be loaded, attached or read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid probe configuration")]
    Config(#[from] ConfigError),
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
    #[error("interface `{interface}`: cannot read its hardware type")]
    Interface {
        interface: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "interface `{interface}` is framed as {framing:?}, but these programs are already attached to {attached_framing:?} devices"
    )]
    FramingConflict {
        interface: String,
        framing: Framing,
        attached_framing: Framing,
    },
}

const EGRESS_PROGRAM: &str = "wanctl_egress";
const INGRESS_PROGRAM: &str = "wanctl_ingress";
const PROGRAMS: [(&str, TcAttachType); 2] = [
    (EGRESS_PROGRAM, TcAttachType::Egress),
    (INGRESS_PROGRAM, TcAttachType::Ingress),
];

/// wanctl's programs, loaded into the kernel. Attachments live as long as this value: dropping it detaches
/// them (TCX links also vanish with the process's file descriptors, so a killed process leaves nothing
/// behind; legacy clsact filters left by a killed run are removed by the next [`WanPrograms::attach`]).
pub struct WanPrograms {
    ebpf: Ebpf,
    settings: ProbeSettings,
    framing: Option<Framing>,
    links: Vec<(&'static str, SchedClassifierLinkId)>,
}

impl WanPrograms {
    /// Validates `config`, loads the embedded object with the flow map sized from it, verifies both
    /// programs and writes their settings. Nothing is attached yet.
    ///
    /// # Errors
    /// [`ProbeError::Config`] for a bad setting; [`ProbeError::Load`] when the kernel refuses the object (no
    /// privileges, verifier rejection).
    pub fn load(config: &ProbeConfig) -> Result<Self, ProbeError> {
        config.validate()?;
        // The TC programs use no CO-RE relocations, so the kernel's BTF (megabytes, parsed in memory) is
        // not loaded: it would double the daemon's peak memory for nothing.
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .map_max_entries(map_names::FLOWS, config.max_flows)
            .load(embedded_object())
            .map_err(|e| ProbeError::Load(Box::new(e)))?;
        for (name, _) in PROGRAMS {
            let program = classifier(&mut ebpf, name)?;
            program.load().map_err(|source| ProbeError::Program {
                program: name,
                interface: String::new(),
                action: "verifier load",
                source: Box::new(source),
            })?;
        }
        let cpus = aya::util::nr_cpus().unwrap_or(1);
        let mut programs = Self {
            ebpf,
            settings: config.kernel_settings(cpus),
            framing: None,
            links: Vec::new(),
        };
        programs.write_settings()?;
        Ok(programs)
    }

    /// Attaches the egress and ingress programs to `interface`: TCX first in the chain where the kernel has
    /// it, clsact filters otherwise. Must run in the network namespace that owns `interface`.
    ///
    /// # Errors
    /// [`ProbeError::Interface`] for an unknown device, [`ProbeError::FramingConflict`] when the programs
    /// already watch a device framed differently, [`ProbeError::Program`] naming the program and interface.
    pub fn attach(&mut self, interface: &str) -> Result<(), ProbeError> {
        self.attach_with_mode(interface, AttachMode::Auto)
    }

    /// [`WanPrograms::attach`] with an explicit attachment mechanism.
    ///
    /// # Errors
    /// As [`WanPrograms::attach`].
    pub fn attach_with_mode(
        &mut self,
        interface: &str,
        mode: AttachMode,
    ) -> Result<(), ProbeError> {
        let framing = Framing::of_interface(interface).map_err(|source| ProbeError::Interface {
            interface: interface.to_string(),
            source,
        })?;
        match self.framing {
            Some(attached) if attached != framing => {
                return Err(ProbeError::FramingConflict {
                    interface: interface.to_string(),
                    framing,
                    attached_framing: attached,
                });
            }
            _ => self.set_framing(framing)?,
        }
        for (name, attach_type) in PROGRAMS {
            // A run killed while using clsact filters leaves them behind; replace rather than duplicate.
            match tc::qdisc_detach_program(interface, attach_type, name) {
                Ok(()) => {
                    tracing::info!(interface, program = name, "removed a stale clsact filter")
                }
                Err(error) => {
                    tracing::debug!(interface, program = name, %error, "no stale clsact filter")
                }
            }
            let program = classifier(&mut self.ebpf, name)?;
            let attach_error = |source| ProbeError::Program {
                program: name,
                interface: interface.to_string(),
                action: "attach",
                source: Box::new(source),
            };
            let tcx = match mode {
                AttachMode::Auto => program
                    .attach_with_options(
                        interface,
                        attach_type,
                        TcAttachOptions::TcxOrder(LinkOrder::first()),
                    )
                    .map_err(|error| tracing::debug!(%error, "TCX attach failed; using clsact"))
                    .ok(),
                AttachMode::Clsact => None,
            };
            let link = match tcx {
                Some(link) => link,
                None => {
                    // EEXIST when the qdisc is already there, which is fine.
                    let _ = tc::qdisc_add_clsact(interface);
                    program
                        .attach_with_options(
                            interface,
                            attach_type,
                            TcAttachOptions::Netlink(NlOptions::default()),
                        )
                        .map_err(attach_error)?
                }
            };
            self.links.push((name, link));
        }
        Ok(())
    }

    /// Detaches every attachment made so far (also done on drop).
    ///
    /// # Errors
    /// [`ProbeError::Program`] when the kernel refuses a detach.
    pub fn detach(&mut self) -> Result<(), ProbeError> {
        while let Some((name, link)) = self.links.pop() {
            let program = classifier(&mut self.ebpf, name)?;
            program.detach(link).map_err(|source| ProbeError::Program {
                program: name,
                interface: String::new(),
                action: "detach",
                source: Box::new(source),
            })?;
        }
        Ok(())
    }

    /// Sets the framing the programs assume, without attaching (attach sets it from the device; tests that
    /// run the programs on crafted packets set it directly).
    ///
    /// # Errors
    /// [`ProbeError::Map`] when the settings cannot be written.
    pub fn set_framing(&mut self, framing: Framing) -> Result<(), ProbeError> {
        self.settings.framing = framing.kernel_value();
        self.framing = Some(framing);
        self.write_settings()
    }

    /// The egress program, for `BPF_PROG_TEST_RUN`.
    pub fn egress_program(&self) -> Result<&SchedClassifier, ProbeError> {
        classifier_ref(&self.ebpf, EGRESS_PROGRAM)
    }

    /// The ingress program, for `BPF_PROG_TEST_RUN`.
    pub fn ingress_program(&self) -> Result<&SchedClassifier, ProbeError> {
        classifier_ref(&self.ebpf, INGRESS_PROGRAM)
    }

    /// Takes the ring buffer of RTT samples as an async reader (once).
    ///
    /// # Errors
    /// [`ProbeError::Missing`] if it was already taken; [`ProbeError::Map`] if tokio cannot register it
    /// (must run inside a tokio runtime).
    pub fn samples(&mut self) -> Result<SampleReader, ProbeError> {
        let map = self
            .ebpf
            .take_map(map_names::RTT_RECORDS)
            .ok_or(ProbeError::Missing("RTT_RECORDS"))?;
        let ring: RingBuf<MapData> = RingBuf::try_from(map).map_err(|source| ProbeError::Map {
            map: "RTT_RECORDS",
            action: "open",
            source,
        })?;
        SampleReader::new(ring).map_err(|source| ProbeError::Map {
            map: "RTT_RECORDS",
            action: "register with tokio",
            source: MapError::IoError(source),
        })
    }

    /// All counters, summed over CPUs.
    ///
    /// # Errors
    /// [`ProbeError::Map`] when the kernel refuses a read.
    pub fn stats(&self) -> Result<ProbeStats, ProbeError> {
        let traffic: PerCpuArray<_, TrafficCounters> = self.map("TRAFFIC", map_names::TRAFFIC)?;
        let mut per_direction = [TrafficCounters::default(); 2];
        for dir in [direction::EGRESS, direction::INGRESS] {
            for cpu in traffic.get(&dir, 0).map_err(read_error("TRAFFIC"))?.iter() {
                per_direction[dir as usize].accumulate(cpu);
            }
        }
        let counters: PerCpuArray<_, ProbeCounters> = self.map("COUNTERS", map_names::COUNTERS)?;
        let mut total = ProbeCounters::default();
        for cpu in counters.get(&0, 0).map_err(read_error("COUNTERS"))?.iter() {
            total.accumulate(cpu);
        }
        Ok(ProbeStats::new(
            &total,
            &per_direction[direction::EGRESS as usize],
            &per_direction[direction::INGRESS as usize],
        ))
    }

    /// Flows currently in the flow map (walks the map: for diagnostics and tests, not per cycle).
    ///
    /// # Errors
    /// [`ProbeError::Map`] when the kernel refuses the walk.
    pub fn flow_count(&self) -> Result<usize, ProbeError> {
        let flows: HashMap<_, FlowKey, FlowState> = self.map("FLOWS", map_names::FLOWS)?;
        let mut count = 0;
        for key in flows.keys() {
            key.map_err(read_error("FLOWS"))?;
            count += 1;
        }
        Ok(count)
    }

    fn write_settings(&mut self) -> Result<(), ProbeError> {
        let map = self
            .ebpf
            .map_mut(map_names::SETTINGS)
            .ok_or(ProbeError::Missing("SETTINGS"))?;
        let mut settings: Array<_, ProbeSettings> =
            Array::try_from(map).map_err(|source| ProbeError::Map {
                map: "SETTINGS",
                action: "open",
                source,
            })?;
        settings
            .set(0, self.settings, 0)
            .map_err(|source| ProbeError::Map {
                map: "SETTINGS",
                action: "write",
                source,
            })
    }

    fn map<'a, T: TryFrom<&'a aya::maps::Map, Error = MapError>>(
        &'a self,
        label: &'static str,
        name: &str,
    ) -> Result<T, ProbeError> {
        let map = self.ebpf.map(name).ok_or(ProbeError::Missing(label))?;
        T::try_from(map).map_err(|source| ProbeError::Map {
            map: label,
            action: "open",
            source,
        })
    }
}

impl Drop for WanPrograms {
    fn drop(&mut self) {
        if let Err(error) = self.detach() {
            tracing::warn!(%error, "detaching the eBPF programs");
        }
    }
}

fn read_error(map: &'static str) -> impl Fn(MapError) -> ProbeError {
    move |source| ProbeError::Map {
        map,
        action: "read",
        source,
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

fn classifier_ref<'a>(
    ebpf: &'a Ebpf,
    name: &'static str,
) -> Result<&'a SchedClassifier, ProbeError> {
    let program = ebpf.program(name).ok_or(ProbeError::Missing(name))?;
    program.try_into().map_err(|source| ProbeError::Program {
        program: name,
        interface: String::new(),
        action: "type check",
        source: Box::new(source),
    })
}
