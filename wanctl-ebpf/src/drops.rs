//! Qdisc drop counting per watched interface from the `skb:kfree_skb` tracepoint (`tp_btf`).
//!
//! The tracepoint fires for every freed-with-reason skb on the machine, so the common path must be cheap: the
//! reason is compared against the (at most four) qdisc reason values first, and only qdisc drops touch the skb.
//! Rust BPF has no CO-RE, so the offsets of `sk_buff.dev`, `net_device.ifindex` and friends come from
//! userspace, which read them from the running kernel's BTF (`WANCTL_DROP_CONFIG`).

use aya_ebpf::{
    Global,
    helpers::bpf_probe_read_kernel,
    macros::{btf_tracepoint, map},
    maps::PerCpuHashMap,
    programs::BtfTracePointContext,
};
use wanctl_common::drops::{CLASS_COUNT, DropConfig, DropCounters, WatchKey};

/// Set by userspace from the kernel's BTF; the compiled-in value counts nothing.
#[unsafe(no_mangle)]
static WANCTL_DROP_CONFIG: Global<DropConfig> = Global::new(DropConfig::DISABLED);

/// Drop counters per watched interface. Userspace inserts one zeroed entry per interface; the program
/// only updates existing entries, so the map never grows by itself.
#[map]
static QDISC_DROPS: PerCpuHashMap<WatchKey, DropCounters> = PerCpuHashMap::with_max_entries(64, 0);

/// Argument positions of `kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason, ...)`
/// since 5.17; userspace checks the running kernel's prototype against them before loading this program.
const ARG_SKB: usize = 0;
const ARG_REASON: usize = 2;

#[btf_tracepoint(function = "kfree_skb")]
pub fn wanctl_qdisc_drops(ctx: BtfTracePointContext) -> i32 {
    count_drop(&ctx);
    0
}

#[inline(always)]
fn count_drop(ctx: &BtfTracePointContext) {
    let config = WANCTL_DROP_CONFIG.load();
    if config.enabled == 0 {
        return;
    }
    let reason = ctx.arg::<u64>(ARG_REASON) as u32;
    let mut class = CLASS_COUNT;
    for (i, &value) in config.reasons.iter().enumerate() {
        if value == reason {
            class = i;
        }
    }
    if class >= CLASS_COUNT {
        return;
    }
    let skb = ctx.arg::<*const u8>(ARG_SKB);
    let Some(key) = watch_key(skb, &config) else {
        return;
    };
    let Some(counters) = QDISC_DROPS.get_ptr_mut(key) else {
        return;
    };
    // SAFETY: probe reads return an error instead of faulting; the offsets come from the kernel's own BTF.
    let len = unsafe { read::<u32>(skb, config.skb_len) }.unwrap_or(0);
    // SAFETY: per-CPU value, only this CPU writes it while the program runs; `class < CLASS_COUNT`.
    unsafe {
        if let Some(packets) = (*counters).packets.get_mut(class) {
            *packets += 1;
        }
        if let Some(bytes) = (*counters).bytes.get_mut(class) {
            *bytes += u64::from(len);
        }
    }
}

/// Reads `skb->dev->ifindex` and `skb->dev->nd_net.net->ns.inum`.
#[inline(always)]
fn watch_key(skb: *const u8, config: &DropConfig) -> Option<WatchKey> {
    // SAFETY: probe reads of kernel memory; a bad pointer yields an error, never a fault.
    unsafe {
        let dev = read::<*const u8>(skb, config.skb_dev)?;
        if dev.is_null() {
            return None;
        }
        let ifindex = read::<u32>(dev, config.dev_ifindex)?;
        let net = read::<*const u8>(dev, config.dev_net)?;
        if net.is_null() {
            return None;
        }
        let netns_inum = read::<u32>(net, config.net_inum)?;
        Some(WatchKey {
            netns_inum,
            ifindex,
        })
    }
}

/// `bpf_probe_read_kernel` of a `T` at `base + offset`.
#[inline(always)]
unsafe fn read<T>(base: *const u8, offset: u32) -> Option<T> {
    // SAFETY: the helper validates the address; the caller provides offsets from kernel BTF.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize).cast::<T>()).ok() }
}
