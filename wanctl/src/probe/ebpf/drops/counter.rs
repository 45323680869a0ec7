//! Loads the `kfree_skb` tracepoint program with the kernel's resolved layout and reads its counters.

use std::{ffi::CString, os::unix::fs::MetadataExt};

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{MapError, PerCpuHashMap, PerCpuValues},
    programs::{BtfTracePoint, ProgramError},
};
use wanctl_common::drops::{DropConfig, DropCounters, REASON_UNRESOLVED, WatchKey};

use super::{
    DropReasonClass,
    btf::{Btf, BtfError},
    resolve::{Unavailable, resolve},
};
use crate::probe::ebpf::embedded_object;

const PROGRAM: &str = "wanctl_qdisc_drops";
const CONFIG_GLOBAL: &str = "WANCTL_DROP_CONFIG";
const COUNTERS_MAP: &str = "QDISC_DROPS";
const TRACEPOINT: &str = "kfree_skb";
/// The network namespace of the calling thread (the one `Netns::enter` or a daemon's setns selected).
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// Why drop counting could not be set up or read on a kernel that supports it.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("interface `{interface}` not found in this network namespace")]
    Interface {
        interface: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading this thread's network namespace ({THREAD_NETNS})")]
    Netns(#[source] std::io::Error),
    #[error("parsing the kernel's BTF")]
    Btf(#[source] BtfError),
    #[error("loading the embedded eBPF object failed (needs root or CAP_BPF + CAP_PERFMON)")]
    Load(#[source] Box<EbpfError>),
    #[error("the eBPF object has no program or map named `{0}`")]
    Missing(&'static str),
    #[error("program `{PROGRAM}` on tracepoint `{TRACEPOINT}`: {action} failed")]
    Program {
        action: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("eBPF map `{COUNTERS_MAP}`: {action} failed")]
    Map {
        action: &'static str,
        #[source]
        source: MapError,
    },
    #[error("counting the possible CPUs ({0})")]
    Cpus(&'static str, #[source] std::io::Error),
}

/// The outcome of [`QdiscDropCounter::load`]: counting, or a clear statement that this kernel cannot.
#[derive(Debug)]
pub enum DropCounting {
    /// The tracepoint program is attached and counting.
    Active(QdiscDropCounter),
    /// This kernel lacks something the counter needs; nothing was loaded.
    Unavailable {
        /// What is missing.
        reason: Unavailable,
    },
}

/// Drops of one reason class on one interface since the counter was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassDrops {
    /// The reason class.
    pub class: DropReasonClass,
    /// Dropped packets (one per skb, as the qdisc's own `drops` counter counts them).
    pub packets: u64,
    /// Dropped bytes (`skb->len`).
    pub bytes: u64,
}

/// Qdisc drops on one watched interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceDrops {
    /// The interface name as given to [`QdiscDropCounter::load`].
    pub interface: String,
    /// Its ifindex in its namespace.
    pub ifindex: u32,
    /// One entry per reason class this kernel has, in [`DropReasonClass::ALL`] order.
    pub classes: Vec<ClassDrops>,
}

impl InterfaceDrops {
    /// Dropped packets over all classes.
    pub fn total_packets(&self) -> u64 {
        self.classes.iter().map(|c| c.packets).sum()
    }

    /// Drops of one class; `None` if this kernel does not have that reason.
    pub fn class(&self, class: DropReasonClass) -> Option<ClassDrops> {
        self.classes.iter().copied().find(|c| c.class == class)
    }
}

/// Counts qdisc drops per watched interface from `skb:kfree_skb`. The tracepoint stays attached as long
/// as this value lives (the link is fd-owned), so a killed process leaves nothing behind.
#[derive(Debug)]
pub struct QdiscDropCounter {
    ebpf: Ebpf,
    config: DropConfig,
    watched: Vec<(String, WatchKey)>,
}

impl QdiscDropCounter {
    /// Resolves the running kernel's layout from BTF, loads and attaches the tracepoint program, and
    /// watches `interfaces`, looked up in the calling thread's network namespace.
    ///
    /// # Errors
    /// [`DropError`] when an interface does not exist or the kernel refuses the program; a kernel that
    /// lacks the qdisc drop reasons is not an error but [`DropCounting::Unavailable`].
    ///
    /// # Examples
    /// ```no_run
    /// use wanctl::probe::ebpf::{DropCounting, QdiscDropCounter};
    ///
    /// match QdiscDropCounter::load(&["wan0"])? {
    ///     DropCounting::Active(counter) => {
    ///         for interface in counter.counts()? {
    ///             println!("{}: {} qdisc drops", interface.interface, interface.total_packets());
    ///         }
    ///     }
    ///     DropCounting::Unavailable { reason } => println!("qdisc drop counting unavailable: {reason}"),
    /// }
    /// # Ok::<(), wanctl::probe::ebpf::DropError>(())
    /// ```
    pub fn load(interfaces: &[&str]) -> Result<DropCounting, DropError> {
        let btf = match Btf::from_sys_fs() {
            Ok(btf) => btf,
            Err(BtfError::Read { source, .. }) => {
                return Ok(DropCounting::Unavailable {
                    reason: Unavailable::NoKernelBtf(source.to_string()),
                });
            }
            Err(e) => return Err(DropError::Btf(e)),
        };
        match resolve(&btf) {
            Ok(config) => Self::load_with(config, interfaces).map(DropCounting::Active),
            Err(reason) => Ok(DropCounting::Unavailable { reason }),
        }
    }

    fn load_with(config: DropConfig, interfaces: &[&str]) -> Result<Self, DropError> {
        // Look everything up before touching the kernel, so a typo loads nothing.
        let netns_inum = thread_netns_inum()?;
        let mut watched = interfaces
            .iter()
            .map(|&name| {
                let ifindex = ifindex(name)?;
                Ok((
                    name.to_string(),
                    WatchKey {
                        netns_inum,
                        ifindex,
                    },
                ))
            })
            .collect::<Result<Vec<_>, DropError>>()?;
        // A name given twice would otherwise be reported twice from one map entry.
        let mut seen = std::collections::HashSet::new();
        watched.retain(|(_, key)| seen.insert(*key));

        let mut ebpf = EbpfLoader::new()
            .override_global(CONFIG_GLOBAL, &config, true)
            .load(embedded_object())
            .map_err(|e| DropError::Load(Box::new(e)))?;
        let kernel_btf = aya::Btf::from_sys_fs().map_err(|e| DropError::Program {
            action: "reading kernel BTF",
            source: Box::new(ProgramError::Btf(e)),
        })?;
        let program: &mut BtfTracePoint = ebpf
            .program_mut(PROGRAM)
            .ok_or(DropError::Missing(PROGRAM))?
            .try_into()
            .map_err(|e| program_error("type check", e))?;
        program
            .load(TRACEPOINT, &kernel_btf)
            .map_err(|e| program_error("verifier load", e))?;

        // Entries exist before the program attaches, so the first drop already counts.
        let cpus = aya::util::nr_cpus().map_err(|(what, e)| DropError::Cpus(what, e))?;
        let map = ebpf
            .map_mut(COUNTERS_MAP)
            .ok_or(DropError::Missing(COUNTERS_MAP))?;
        let mut counters: PerCpuHashMap<_, WatchKey, DropCounters> =
            PerCpuHashMap::try_from(map).map_err(|source| map_error("open", source))?;
        for (_, key) in &watched {
            let zero = PerCpuValues::try_from(vec![DropCounters::default(); cpus])
                .map_err(|source| map_error("zero values", source.into()))?;
            counters
                .insert(*key, zero, 0)
                .map_err(|source| map_error("insert", source))?;
        }

        let program: &mut BtfTracePoint = ebpf
            .program_mut(PROGRAM)
            .ok_or(DropError::Missing(PROGRAM))?
            .try_into()
            .map_err(|e| program_error("type check", e))?;
        program.attach().map_err(|e| program_error("attach", e))?;
        tracing::debug!(?config, interfaces = ?interfaces, "qdisc drop counting attached");
        Ok(Self {
            ebpf,
            config,
            watched,
        })
    }

    /// The kernel's value of each reason class counted here (classes this kernel lacks are absent).
    pub fn tracked(&self) -> Vec<(DropReasonClass, u32)> {
        DropReasonClass::ALL
            .into_iter()
            .filter_map(|class| {
                let value = self.config.reasons[class.index()];
                (value != REASON_UNRESOLVED).then_some((class, value))
            })
            .collect()
    }

    /// Drops per watched interface per tracked reason class, summed over CPUs.
    ///
    /// # Errors
    /// [`DropError::Map`] when the kernel refuses the read.
    pub fn counts(&self) -> Result<Vec<InterfaceDrops>, DropError> {
        let tracked = self.tracked();
        let map = self
            .ebpf
            .map(COUNTERS_MAP)
            .ok_or(DropError::Missing(COUNTERS_MAP))?;
        let counters: PerCpuHashMap<_, WatchKey, DropCounters> =
            PerCpuHashMap::try_from(map).map_err(|source| map_error("open", source))?;
        self.watched
            .iter()
            .map(|(interface, key)| {
                let per_cpu = counters
                    .get(key, 0)
                    .map_err(|source| map_error("read", source))?;
                let classes = tracked
                    .iter()
                    .map(|&(class, _)| ClassDrops {
                        class,
                        packets: per_cpu.iter().map(|c| c.packets[class.index()]).sum(),
                        bytes: per_cpu.iter().map(|c| c.bytes[class.index()]).sum(),
                    })
                    .collect();
                Ok(InterfaceDrops {
                    interface: interface.clone(),
                    ifindex: key.ifindex,
                    classes,
                })
            })
            .collect()
    }
}

fn thread_netns_inum() -> Result<u32, DropError> {
    let inode = std::fs::metadata(THREAD_NETNS)
        .map_err(DropError::Netns)?
        .ino();
    // Namespace inode numbers are `unsigned int` in the kernel (`ns_common.inum`).
    u32::try_from(inode).map_err(|_| {
        DropError::Netns(std::io::Error::other(format!(
            "namespace inode {inode} exceeds 32 bits"
        )))
    })
}

fn ifindex(name: &str) -> Result<u32, DropError> {
    let interface_error = |source| DropError::Interface {
        interface: name.to_string(),
        source,
    };
    let c_name = CString::new(name).map_err(|e| interface_error(std::io::Error::other(e)))?;
    // SAFETY: `c_name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(interface_error(std::io::Error::last_os_error()));
    }
    Ok(index)
}

fn program_error(action: &'static str, source: ProgramError) -> DropError {
    DropError::Program {
        action,
        source: Box::new(source),
    }
}

fn map_error(action: &'static str, source: MapError) -> DropError {
    DropError::Map { action, source }
}
