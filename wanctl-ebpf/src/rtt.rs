//! Passive RTT: an egress TSval is stored in one of the flow's two slots (first sighting only, at most one
//! per sampling interval); its first echo as TSecr on ingress completes a sample. Download samples (pure-ACK
//! TSvals echoed on data) are accepted only while the peer is sending back to back, which bounds the peer's
//! pause that would otherwise inflate them.

use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::TcContext};
use wanctl_common::{
    FlowKey, FlowState, ProbeCounters, ProbeSettings, RttRecord, TrafficCounters, budget,
    direction, flow_flags, limits, record_flags, sample_kind, seq_after,
};

use crate::{
    COUNTERS, FLOWS, RATE_LIMIT, RTT_RECORDS, SCRATCH, SETTINGS, TRAFFIC,
    parse::{self, Segment, tcp_flags},
};

const BPF_NOEXIST: u64 = 1;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
const BPF_RB_AVAIL_DATA: u64 = 0;
const EEXIST: i32 = 17;

/// Counts the packet and, for TCP, runs the RTT logic of `dir`.
#[inline(always)]
pub fn observe(ctx: &TcContext, dir: u32) {
    let Some(traffic) = TRAFFIC.get_ptr_mut(dir) else {
        return;
    };
    // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
    let traffic = unsafe { &mut *traffic };
    traffic.packets += 1;
    traffic.bytes += u64::from(ctx.len());
    let Some(settings) = SETTINGS.get(0) else {
        return;
    };
    if settings.enabled == 0 {
        return;
    }
    let Some(counters) = COUNTERS.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: as above.
    let counters = unsafe { &mut *counters };
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch, used by one program run at a time on this CPU.
    let scratch = unsafe { &mut *scratch };
    let segment = &mut scratch.segment;
    match parse::tcp_segment(ctx, dir, settings.framing, segment) {
        Ok(true) => {}
        Ok(false) => return,
        Err(parse::Malformed) => {
            counters.malformed += 1;
            return;
        }
    }
    traffic.tcp_packets += 1;
    // Most segments (repeated TSvals, old echoes) need no time at all; the clock is read at most once.
    let mut now = Clock(0);
    if dir == direction::EGRESS {
        egress(
            segment,
            &mut scratch.fresh,
            &mut now,
            settings,
            counters,
            traffic,
        );
    } else {
        ingress(segment, &mut now, settings, counters, traffic);
    }
}

#[inline(always)]
fn egress(
    seg: &Segment,
    fresh: &mut FlowState,
    clock: &mut Clock,
    settings: &ProbeSettings,
    counters: &mut ProbeCounters,
    traffic: &mut TrafficCounters,
) {
    if seg.flags & tcp_flags::RST != 0 {
        let _ = FLOWS.remove(&seg.key);
        return;
    }
    let syn = seg.flags & tcp_flags::SYN != 0;
    let mut created = false;
    let state = match FLOWS.get_ptr_mut(&seg.key) {
        Some(state) => state,
        None => {
            if seg.flags & tcp_flags::FIN != 0 {
                return;
            }
            // A flow met mid-stream starts at its current TSval: the first one seen may not be the first
            // sent with that value (ePPing's "wait for the first edge").
            *fresh = FlowState::default();
            fresh.last_tsval_out = seg.tsval;
            match FLOWS.insert(&seg.key, &*fresh, BPF_NOEXIST) {
                Ok(()) => {
                    counters.flows_created += 1;
                    created = true;
                }
                Err(e) if e == -EEXIST => {}
                Err(_) => {
                    counters.flow_create_failed += 1;
                    return;
                }
            }
            match FLOWS.get_ptr_mut(&seg.key) {
                Some(state) => state,
                None => return,
            }
        }
    };
    // SAFETY: a preallocated map value; concurrent updates from another CPU may race, which costs at most a
    // lost or duplicate sample, never a wrong RTT (both reference implementations accept this).
    let state = unsafe { &mut *state };

    let retransmit = advance(
        &mut state.snd_end,
        &mut state.flags,
        flow_flags::HAVE_SND,
        seg,
    );
    if retransmit {
        traffic.tcp_retransmits += 1;
    }
    if seg.flags & tcp_flags::FIN != 0 {
        state.flags |= flow_flags::FIN_OUT;
        if state.flags & flow_flags::FIN_IN != 0 {
            let _ = FLOWS.remove(&seg.key);
            return;
        }
    }
    if !seg.has_ts {
        counters.no_timestamp += 1;
        return;
    }
    let newer = seq_after(seg.tsval, state.last_tsval_out);
    if newer {
        state.last_tsval_out = seg.tsval;
    }
    let first_sighting = if created { syn } else { newer };
    if !first_sighting || retransmit {
        return;
    }
    let now = clock.now();
    let kind = if syn {
        sample_kind::HANDSHAKE
    } else if seg.payload > 0 {
        sample_kind::UPLOAD
    } else if seg.flags & tcp_flags::FIN == 0 && settings.download_samples != 0 {
        sample_kind::DOWNLOAD
    } else {
        return;
    };
    if kind != sample_kind::HANDSHAKE
        && state.last_stored_ns != 0
        && now.wrapping_sub(state.last_stored_ns) < settings.sample_interval_ns
    {
        counters.suppressed_interval += 1;
        return;
    }
    let slot = if free(state.slots[0].sent_ns, now) {
        &mut state.slots[0]
    } else if free(state.slots[1].sent_ns, now) {
        &mut state.slots[1]
    } else {
        // Both slots wait for echoes; keeping them gives about one sample per RTT (LibreQoS' rule).
        return;
    };
    slot.sent_ns = now;
    slot.tsval = seg.tsval;
    slot.kind = kind;
    state.last_stored_ns = now;
}

#[inline(always)]
fn ingress(
    seg: &Segment,
    clock: &mut Clock,
    settings: &ProbeSettings,
    counters: &mut ProbeCounters,
    traffic: &mut TrafficCounters,
) {
    // No state is created on ingress: unsolicited packets (scans, SYN floods) cannot evict real flows.
    let Some(state) = FLOWS.get_ptr_mut(&seg.key) else {
        if !seg.has_ts {
            counters.no_timestamp += 1;
        }
        return;
    };
    if seg.flags & tcp_flags::RST != 0 {
        let _ = FLOWS.remove(&seg.key);
        return;
    }
    // SAFETY: see `egress`.
    let state = unsafe { &mut *state };
    let retransmit = advance(
        &mut state.rcv_end,
        &mut state.flags,
        flow_flags::HAVE_RCV,
        seg,
    );
    if retransmit {
        traffic.tcp_retransmits += 1;
    }
    let mut gap = u64::MAX;
    if seg.payload > 0 {
        let now = clock.now();
        if state.last_in_data_ns != 0 {
            gap = now.wrapping_sub(state.last_in_data_ns);
        }
        state.last_in_data_ns = now;
        if now.wrapping_sub(state.window_start_ns) >= limits::ACTIVITY_WINDOW_NS {
            state.previous_window_packets = state.window_packets;
            state.window_packets = 0;
            state.window_start_ns = now;
        }
        state.window_packets += 1;
    }
    if seg.flags & tcp_flags::FIN != 0 {
        state.flags |= flow_flags::FIN_IN;
    }
    if !seg.has_ts {
        counters.no_timestamp += 1;
        return;
    }
    if seg.flags & tcp_flags::ACK == 0 {
        return;
    }
    if state.flags & flow_flags::HAVE_TSECR != 0 && !seq_after(seg.tsecr, state.last_tsecr_in) {
        return;
    }
    state.last_tsecr_in = seg.tsecr;
    state.flags |= flow_flags::HAVE_TSECR;

    let mut sent_ns = 0u64;
    let mut kind = 0u8;
    for slot in state.slots.iter_mut() {
        if slot.sent_ns == 0 {
            continue;
        }
        if slot.tsval == seg.tsecr {
            sent_ns = slot.sent_ns;
            kind = slot.kind;
            slot.sent_ns = 0;
        } else if seq_after(seg.tsecr, slot.tsval) {
            // The peer echoes newer TSvals now; this one can never come back.
            slot.sent_ns = 0;
        }
    }
    if sent_ns == 0 || retransmit {
        return;
    }
    let now = clock.now();
    let rtt = now.wrapping_sub(sent_ns);
    if kind == sample_kind::DOWNLOAD {
        let limit = core::cmp::max(settings.download_gap_min_ns, state.min_rtt_ns / 8);
        let active = state.window_packets + state.previous_window_packets;
        if seg.payload == 0 || gap > limit || active < settings.download_min_packets {
            counters.download_rejected += 1;
            return;
        }
    }
    if state.min_rtt_ns == 0 || rtt < state.min_rtt_ns {
        state.min_rtt_ns = rtt;
    }
    let budget = if kind == sample_kind::HANDSHAKE {
        budget::HANDSHAKE
    } else {
        budget::DATA
    };
    if !rate_allows(now, settings, budget) {
        counters.suppressed_rate += 1;
        return;
    }
    let Some(mut entry) = RTT_RECORDS.reserve::<RttRecord>(0) else {
        counters.ringbuf_full += 1;
        return;
    };
    // Written field by field in place: a whole-struct temporary would not fit the stack.
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points at a reserved, exclusively owned ring-buffer slot of the right size.
    unsafe {
        (*record).at_ns = now;
        (*record).rtt_ns = rtt;
        (*record).flow_hash = flow_hash(&seg.key);
        (*record).remote_addr = seg.key.remote_addr;
        (*record).remote_port = seg.key.remote_port;
        (*record).local_port = seg.key.local_port;
        (*record).kind = kind;
        (*record).flags = if seg.key.family == 6 {
            record_flags::IPV6
        } else {
            0
        };
        (*record)._pad0 = 0;
        (*record).min_rtt_us = saturating_us(state.min_rtt_ns);
        (*record).gap_us = saturating_us(gap);
        (*record).peer_tsval = seg.tsval;
        (*record)._pad1 = 0;
    }
    // No wakeup while the ring is mostly empty: userspace drains on its control cycle, and each wakeup
    // costs microseconds. Past the threshold a waiting reader is woken so the ring cannot overflow.
    let flags = if RTT_RECORDS.query(BPF_RB_AVAIL_DATA) >= u64::from(limits::RING_WAKEUP_BYTES) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(flags);
    counters.samples_emitted += 1;
}

/// Tracks the highest sequence end of one direction; returns true when the segment starts before it
/// (a retransmission). Segments without sequence space (pure ACKs) are ignored.
#[inline(always)]
fn advance(end: &mut u32, flags: &mut u32, have: u32, seg: &Segment) -> bool {
    let mut len = seg.payload;
    if seg.flags & (tcp_flags::SYN | tcp_flags::FIN) != 0 {
        len += 1;
    }
    if len == 0 {
        return false;
    }
    let seg_end = seg.seq.wrapping_add(len);
    if *flags & have == 0 {
        *end = seg_end;
        *flags |= have;
        return false;
    }
    let retransmit = seq_after(*end, seg.seq);
    if seq_after(seg_end, *end) {
        *end = seg_end;
    }
    retransmit
}

#[inline(always)]
fn free(sent_ns: u64, now: u64) -> bool {
    sent_ns == 0 || now.wrapping_sub(sent_ns) > limits::SLOT_TIMEOUT_NS
}

/// Generic cell rate algorithm on this CPU's share of the global record budget.
#[inline(always)]
fn rate_allows(now: u64, settings: &ProbeSettings, budget: u32) -> bool {
    let Some(limiter) = RATE_LIMIT.get_ptr_mut(budget) else {
        return false;
    };
    let Some(limits) = settings.budgets.get(budget as usize) else {
        return false;
    };
    // SAFETY: per-CPU slot.
    let limiter = unsafe { &mut *limiter };
    let tat = if limiter.tat_ns < now {
        now
    } else {
        limiter.tat_ns
    };
    if tat - now > limits.burst_ns {
        return false;
    }
    limiter.tat_ns = tat + limits.interval_ns;
    true
}

#[inline(always)]
fn saturating_us(ns: u64) -> u32 {
    let us = ns / 1000;
    if us > u64::from(u32::MAX) {
        u32::MAX
    } else {
        us as u32
    }
}

/// FNV-1a over the key's address and port bytes: stable per flow, computed only when a record is written.
#[inline(always)]
fn flow_hash(key: &FlowKey) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for b in key.local_addr {
        mix(b);
    }
    for b in key.remote_addr {
        mix(b);
    }
    for b in key.local_port.to_be_bytes() {
        mix(b);
    }
    for b in key.remote_port.to_be_bytes() {
        mix(b);
    }
    hash
}

/// Per-CPU scratch space (see `SCRATCH`).
pub struct Scratch {
    segment: Segment,
    fresh: FlowState,
}

/// `bpf_ktime_get_ns`, read on first use only.
pub struct Clock(u64);

impl Clock {
    #[inline(always)]
    fn now(&mut self) -> u64 {
        if self.0 == 0 {
            // SAFETY: helper without preconditions.
            self.0 = unsafe { bpf_ktime_get_ns() };
        }
        self.0
    }
}
