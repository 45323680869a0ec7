//! wanctl's TC programs for the WAN interface: per-direction traffic counters and passive TCP RTT by
//! timestamp matching (an egress TSval, echoed as TSecr on ingress).
//!
//! They observe only: every program returns `TC_ACT_UNSPEC` so that later TCX programs and legacy filters
//! (such as the mirred redirect to the IFB used for ingress shaping) still run, and nothing in a packet is
//! ever written.
#![no_std]
#![no_main]
// Map keys and values are passed by reference on purpose: by value they would be copied onto the 512-byte stack.
#![allow(
    clippy::needless_borrows_for_generic_args,
    reason = "keep map keys off the stack"
)]

mod parse;
mod rtt;

mod drops;

use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    macros::{classifier, map},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
    programs::TcContext,
};
use wanctl_common::{
    FlowKey, FlowState, ProbeCounters, ProbeSettings, RateLimiter, TrafficCounters, direction,
    limits,
};

/// Per-connection state shared by both programs; resized by userspace from the config.
#[map]
static FLOWS: LruHashMap<FlowKey, FlowState> =
    LruHashMap::with_max_entries(limits::DEFAULT_FLOWS, 0);

/// RTT samples; userspace drains it on its own timer, so records never wake it.
#[map]
static RTT_RECORDS: RingBuf = RingBuf::with_byte_size(limits::RING_BYTES, 0);

/// Per-CPU traffic counters, indexed by direction.
#[map]
static TRAFFIC: PerCpuArray<TrafficCounters> = PerCpuArray::with_max_entries(direction::COUNT, 0);

/// Per-CPU RTT logic counters.
#[map]
static COUNTERS: PerCpuArray<ProbeCounters> = PerCpuArray::with_max_entries(1, 0);

/// Settings written by userspace.
#[map]
static SETTINGS: Array<ProbeSettings> = Array::with_max_entries(1, 0);

/// Per-CPU share of the global record rate limit.
#[map]
static RATE_LIMIT: PerCpuArray<RateLimiter> = PerCpuArray::with_max_entries(2, 0);

/// Per-CPU scratch space: the parsed segment and a new flow entry are too large for the 512-byte stack.
#[map]
static SCRATCH: PerCpuArray<rtt::Scratch> = PerCpuArray::with_max_entries(1, 0);

#[classifier]
pub fn wanctl_egress(ctx: TcContext) -> i32 {
    rtt::observe(&ctx, direction::EGRESS);
    TC_ACT_UNSPEC
}

#[classifier]
pub fn wanctl_ingress(ctx: TcContext) -> i32 {
    rtt::observe(&ctx, direction::INGRESS);
    TC_ACT_UNSPEC
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
