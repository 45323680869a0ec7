//! RTT sample sources: the eBPF programs on the WAN interface (passive) and, later, active probes.

pub mod ebpf;
