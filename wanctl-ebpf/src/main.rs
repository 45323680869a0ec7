//! wanctl's TC programs for the WAN interface.
//!
//! They observe only: every program returns `TC_ACT_UNSPEC` so that later TCX programs and legacy filters
//! (such as the mirred redirect to the IFB used for ingress shaping) still run.
#![no_std]
#![no_main]

mod drops;

use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    helpers::bpf_ktime_get_ns,
    macros::{classifier, map},
    maps::{PerCpuArray, RingBuf},
    programs::TcContext,
};
use wanctl_common::{PacketEvent, TrafficCounters, direction};

/// Ring buffer of [`PacketEvent`]s; userspace drains it on its own timer, so records never wake it.
#[map]
static PACKET_EVENTS: RingBuf = RingBuf::with_byte_size(64 * 1024, 0);

/// Per-CPU traffic counters, indexed by direction.
#[map]
static TRAFFIC: PerCpuArray<TrafficCounters> = PerCpuArray::with_max_entries(direction::COUNT, 0);

const BPF_RB_NO_WAKEUP: u64 = 1;

#[classifier]
pub fn wanctl_egress(ctx: TcContext) -> i32 {
    observe(&ctx, direction::EGRESS);
    TC_ACT_UNSPEC
}

#[classifier]
pub fn wanctl_ingress(ctx: TcContext) -> i32 {
    observe(&ctx, direction::INGRESS);
    TC_ACT_UNSPEC
}

#[inline(always)]
fn observe(ctx: &TcContext, dir: u32) {
    let len = ctx.len();
    if let Some(counters) = TRAFFIC.get_ptr_mut(dir) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe {
            (*counters).packets += 1;
            (*counters).bytes += u64::from(len);
        }
    }
    if let Some(mut entry) = PACKET_EVENTS.reserve::<PacketEvent>(0) {
        entry.write(PacketEvent {
            // SAFETY: helper without preconditions.
            timestamp_ns: unsafe { bpf_ktime_get_ns() },
            len,
            direction: dir,
        });
        entry.submit(BPF_RB_NO_WAKEUP);
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
