//! The eBPF object, embedded at build time so the `wanctl` binary is self-contained.

/// The ELF object built by `cargo xtask build-ebpf`, 8-byte aligned as ELF64 and BPF instructions require.
pub fn embedded_object() -> &'static [u8] {
    aya::include_bytes_aligned!(env!("WANCTL_EBPF_OBJECT_PATH"))
}
