//! RTT sample sources: the eBPF programs on the WAN interface (passive) and ICMP probes to reflectors (active).

pub mod active;
pub mod ebpf;
