//! Header parsing: link layer (Ethernet with VLAN tags or PPPoE, or none), IPv4/IPv6 (bounded extension
//! header walk), TCP with the timestamp option. Every read goes through `bpf_skb_load_bytes`, which checks
//! bounds in the kernel and works on non-linear buffers, so a truncated packet is an error, never a bad read.

use aya_ebpf::{helpers::bpf_skb_load_bytes, programs::TcContext};
use wanctl_common::{FlowKey, direction, framing, limits};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const ETH_P_PPP_SES: u16 = 0x8864;
const PPP_IP: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const IPPROTO_TCP: u8 = 6;
const TCPOPT_EOL: u8 = 0;
const TCPOPT_NOP: u8 = 1;
const TCPOPT_TIMESTAMP: u8 = 8;
const TCPOLEN_TIMESTAMP: usize = 10;
const MAX_OPTIONS: usize = 40;

/// TCP flag bits (byte 13 of the header).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// A packet the parser could not make sense of (truncated, inconsistent lengths, bad options).
pub struct Malformed;

/// The facts the RTT logic needs about one TCP segment.
pub struct Segment {
    /// Flow identity from our side's point of view.
    pub key: FlowKey,
    pub seq: u32,
    pub flags: u8,
    /// TCP payload bytes (all segments of a GSO/GRO packet).
    pub payload: u32,
    /// Whether the timestamp option was present (then `tsval`/`tsecr` are valid).
    pub has_ts: bool,
    pub tsval: u32,
    pub tsecr: u32,
}

#[inline(always)]
fn load<T>(ctx: &TcContext, offset: usize) -> Result<T, Malformed> {
    ctx.load::<T>(offset).map_err(|_| Malformed)
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// Parses a TCP segment into `segment` (per-CPU scratch: the stack is too small); `Ok(false)` for anything
/// that is not TCP over IP (or is a non-first fragment).
#[inline(always)]
pub fn tcp_segment(
    ctx: &TcContext,
    dir: u32,
    frame: u32,
    segment: &mut Segment,
) -> Result<bool, Malformed> {
    if frame == framing::ETHERNET {
        match fast_path(ctx, dir, segment) {
            Fast::Tcp => return Ok(true),
            Fast::NotTcp => return Ok(false),
            Fast::Slow => {}
        }
    }
    let (mut off, version) = if frame == framing::L3 {
        let first: u8 = load(ctx, 0)?;
        (0usize, first >> 4)
    } else {
        match ethernet(ctx)? {
            Some(found) => found,
            None => return Ok(false),
        }
    };
    // `key._pad` is never written: the scratch map starts zeroed, so the padding the map hashes stays zero.
    let key = &mut segment.key;
    // Egress packets go from local to remote, ingress packets the other way.
    let (src, dst) = if dir == direction::EGRESS {
        (
            &mut key.local_addr as *mut [u8; 16],
            &mut key.remote_addr as *mut [u8; 16],
        )
    } else {
        (
            &mut key.remote_addr as *mut [u8; 16],
            &mut key.local_addr as *mut [u8; 16],
        )
    };
    let ip_payload: u32;
    if version == 4 {
        let ip: [u8; 20] = load(ctx, off)?;
        if ip[0] >> 4 != 4 {
            return Err(Malformed);
        }
        let ihl = u32::from(ip[0] & 0x0f) * 4;
        if ihl < 20 {
            return Err(Malformed);
        }
        if be16([ip[6], ip[7]]) & 0x1fff != 0 || ip[9] != IPPROTO_TCP {
            return Ok(false);
        }
        let total = u32::from(be16([ip[2], ip[3]]));
        // A zero total length marks a BIG TCP packet: the length is the buffer's.
        let total = if total == 0 {
            ctx.len().saturating_sub(off as u32)
        } else {
            total
        };
        if total < ihl {
            return Err(Malformed);
        }
        ip_payload = total - ihl;
        // SAFETY: both point at distinct fields of `segment.key`.
        unsafe {
            *src = v4_mapped([ip[12], ip[13], ip[14], ip[15]]);
            *dst = v4_mapped([ip[16], ip[17], ip[18], ip[19]]);
        }
        key.family = 4;
        off += ihl as usize;
    } else if version == 6 {
        let ip: [u8; 8] = load(ctx, off)?;
        if ip[0] >> 4 != 6 {
            return Err(Malformed);
        }
        let mut payload = u32::from(be16([ip[4], ip[5]]));
        if payload == 0 {
            payload = ctx.len().saturating_sub(off as u32 + 40);
        }
        let mut next = ip[6];
        // SAFETY: as for IPv4.
        unsafe {
            *src = load(ctx, off + 8)?;
            *dst = load(ctx, off + 24)?;
        }
        key.family = 6;
        off += 40;
        let mut walked = 0;
        while next != IPPROTO_TCP {
            if walked == limits::MAX_IPV6_EXT_HEADERS {
                return Ok(false);
            }
            walked += 1;
            let ext: [u8; 8] = load(ctx, off)?;
            let len = match next {
                // Hop-by-hop, routing, destination options: (length + 1) * 8 bytes.
                0 | 43 | 60 => (u32::from(ext[1]) + 1) * 8,
                // Fragment: only the first fragment carries the TCP header.
                44 => {
                    if be16([ext[2], ext[3]]) & 0xfff8 != 0 {
                        return Ok(false);
                    }
                    8
                }
                // Authentication header: (length + 2) * 4 bytes.
                51 => (u32::from(ext[1]) + 2) * 4,
                _ => return Ok(false),
            };
            if len > payload {
                return Err(Malformed);
            }
            payload -= len;
            next = ext[0];
            off += len as usize;
        }
        ip_payload = payload;
    } else {
        return Err(Malformed);
    }

    let tcp: [u8; 20] = load(ctx, off)?;
    let doff = u32::from(tcp[12] >> 4) * 4;
    if doff < 20 || doff > ip_payload {
        return Err(Malformed);
    }
    let (sport, dport) = (be16([tcp[0], tcp[1]]), be16([tcp[2], tcp[3]]));
    let key = &mut segment.key;
    if dir == direction::EGRESS {
        key.local_port = sport;
        key.remote_port = dport;
    } else {
        key.local_port = dport;
        key.remote_port = sport;
    }
    segment.seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    segment.flags = tcp[13];
    segment.payload = ip_payload - doff;
    segment.has_ts = false;
    segment.tsval = 0;
    segment.tsecr = 0;
    let options = (doff - 20) as usize;
    if options > 0 {
        timestamp_option(ctx, off + 20, options, segment)?;
    }
    Ok(true)
}

/// Skips the Ethernet header, up to two VLAN tags and PPPoE session framing; returns the IP header's
/// offset and version, or `None` for non-IP frames.
#[inline(always)]
fn ethernet(ctx: &TcContext) -> Result<Option<(usize, u8)>, Malformed> {
    let mut proto = be16(load(ctx, 12)?);
    let mut off = 14usize;
    for _ in 0..2 {
        if proto == ETH_P_8021Q || proto == ETH_P_8021AD {
            proto = be16(load(ctx, off + 2)?);
            off += 4;
        }
    }
    if proto == ETH_P_PPP_SES {
        proto = match be16(load(ctx, off + 6)?) {
            PPP_IP => ETH_P_IP,
            PPP_IPV6 => ETH_P_IPV6,
            _ => return Ok(None),
        };
        off += 8;
    }
    Ok(match proto {
        ETH_P_IP => Some((off, 4)),
        ETH_P_IPV6 => Some((off, 6)),
        _ => None,
    })
}

#[inline(always)]
fn v4_mapped(a: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

/// Finds TSval/TSecr among `len` (1..=40) option bytes at `off`. The common layout (NOP NOP TS first) is
/// read directly; anything else is walked option by option, each step at least 2 bytes long or a single
/// NOP, so the walk always ends within 40 steps.
#[inline(always)]
fn timestamp_option(
    ctx: &TcContext,
    off: usize,
    len: usize,
    segment: &mut Segment,
) -> Result<(), Malformed> {
    if len >= 12 {
        let head: [u8; 12] = load(ctx, off)?;
        if head[0] == TCPOPT_NOP
            && head[1] == TCPOPT_NOP
            && head[2] == TCPOPT_TIMESTAMP
            && head[3] == 10
        {
            segment.has_ts = true;
            segment.tsval = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            segment.tsecr = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
            return Ok(());
        }
    }
    let mut buf = [0u8; MAX_OPTIONS];
    let n = (len as u32) & 0x3f;
    if n == 0 || n > MAX_OPTIONS as u32 {
        return Err(Malformed);
    }
    // SAFETY: `buf` is a stack buffer of MAX_OPTIONS bytes and `n` is within 1..=MAX_OPTIONS.
    let rc =
        unsafe { bpf_skb_load_bytes(ctx.skb.skb.cast(), off as u32, buf.as_mut_ptr().cast(), n) };
    if rc != 0 {
        return Err(Malformed);
    }
    let mut pos = 0usize;
    for _ in 0..MAX_OPTIONS {
        if pos >= len {
            break;
        }
        let Some(&kind) = buf.get(pos) else { break };
        if kind == TCPOPT_EOL {
            break;
        }
        if kind == TCPOPT_NOP {
            pos += 1;
            continue;
        }
        let Some(&opt_len) = buf.get(pos + 1) else {
            return Err(Malformed);
        };
        let opt_len = opt_len as usize;
        if pos + 1 >= len || opt_len < 2 || pos + opt_len > len {
            return Err(Malformed);
        }
        if kind == TCPOPT_TIMESTAMP {
            if opt_len != TCPOLEN_TIMESTAMP {
                return Err(Malformed);
            }
            // Read from the packet: variable-offset stack reads are refused by the verifier.
            let ts: [u8; 8] = load(ctx, off + pos + 2)?;
            segment.has_ts = true;
            segment.tsval = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
            segment.tsecr = u32::from_be_bytes([ts[4], ts[5], ts[6], ts[7]]);
            return Ok(());
        }
        pos += opt_len;
    }
    Ok(())
}

/// The common case read straight from the packet, without helper calls: untagged Ethernet, IPv4 without
/// options or IPv6 without extension headers, TCP with the timestamp option first (NOP NOP TS), everything
/// in the linear area; plain IPv4 non-TCP and non-IP frames end here too. Anything else (and any
/// inconsistency) takes the general path, which also does the error accounting.
#[inline(always)]
fn fast_path(ctx: &TcContext, dir: u32, segment: &mut Segment) -> Fast {
    const ETH: usize = 14;
    const TCP_TS: usize = 32;
    let data = ctx.data();
    let end = ctx.data_end();
    if data + ETH + 20 > end {
        return Fast::Slow;
    }
    let p = data as *const u8;
    // SAFETY: every read below is within `data + ETH + 20 + TCP_TS` (IPv4) or re-checked against `end`
    // (IPv6), as the verifier also proves.
    unsafe {
        let proto = u16::from_be_bytes([*p.add(12), *p.add(13)]);
        let (tcp, ip_payload) = if proto == ETH_P_IP {
            let ip = p.add(ETH);
            // UDP (QUIC) and everything else that is plain IPv4 ends here, without helper calls.
            if *ip == 0x45 && *ip.add(9) != IPPROTO_TCP {
                return Fast::NotTcp;
            }
            if data + ETH + 20 + TCP_TS > end
                || *ip != 0x45
                || (*ip.add(6) & 0x3f) | *ip.add(7) != 0
            {
                return Fast::Slow;
            }
            let total = u32::from(u16::from_be_bytes([*ip.add(2), *ip.add(3)]));
            if total < 20 {
                return Fast::Slow;
            }
            let src = v4_mapped([*ip.add(12), *ip.add(13), *ip.add(14), *ip.add(15)]);
            let dst = v4_mapped([*ip.add(16), *ip.add(17), *ip.add(18), *ip.add(19)]);
            set_addresses(segment, dir, src, dst, 4);
            (ip.add(20), total - 20)
        } else if proto == ETH_P_IPV6 {
            if data + ETH + 40 + TCP_TS > end {
                return Fast::Slow;
            }
            let ip = p.add(ETH);
            if *ip >> 4 != 6 || *ip.add(6) != IPPROTO_TCP {
                return Fast::Slow;
            }
            let payload = u32::from(u16::from_be_bytes([*ip.add(4), *ip.add(5)]));
            let src = core::ptr::read_unaligned(ip.add(8).cast::<[u8; 16]>());
            let dst = core::ptr::read_unaligned(ip.add(24).cast::<[u8; 16]>());
            set_addresses(segment, dir, src, dst, 6);
            (ip.add(40), payload)
        } else if proto == ETH_P_8021Q || proto == ETH_P_8021AD || proto == ETH_P_PPP_SES {
            return Fast::Slow;
        } else {
            // ARP, LLDP and other non-IP frames.
            return Fast::NotTcp;
        };
        let doff = u32::from(*tcp.add(12) >> 4) * 4;
        if doff < TCP_TS as u32
            || doff > ip_payload
            || *tcp.add(20) != TCPOPT_NOP
            || *tcp.add(21) != TCPOPT_NOP
            || *tcp.add(22) != TCPOPT_TIMESTAMP
            || *tcp.add(23) != TCPOLEN_TIMESTAMP as u8
        {
            return Fast::Slow;
        }
        let sport = u16::from_be_bytes([*tcp, *tcp.add(1)]);
        let dport = u16::from_be_bytes([*tcp.add(2), *tcp.add(3)]);
        let key = &mut segment.key;
        if dir == direction::EGRESS {
            key.local_port = sport;
            key.remote_port = dport;
        } else {
            key.local_port = dport;
            key.remote_port = sport;
        }
        segment.seq = u32::from_be_bytes([*tcp.add(4), *tcp.add(5), *tcp.add(6), *tcp.add(7)]);
        segment.flags = *tcp.add(13);
        segment.payload = ip_payload - doff;
        segment.has_ts = true;
        segment.tsval =
            u32::from_be_bytes([*tcp.add(24), *tcp.add(25), *tcp.add(26), *tcp.add(27)]);
        segment.tsecr =
            u32::from_be_bytes([*tcp.add(28), *tcp.add(29), *tcp.add(30), *tcp.add(31)]);
    }
    Fast::Tcp
}

#[inline(always)]
fn set_addresses(segment: &mut Segment, dir: u32, src: [u8; 16], dst: [u8; 16], family: u8) {
    let key = &mut segment.key;
    key.family = family;
    if dir == direction::EGRESS {
        key.local_addr = src;
        key.remote_addr = dst;
    } else {
        key.local_addr = dst;
        key.remote_addr = src;
    }
}

/// Outcome of [`fast_path`].
enum Fast {
    /// A TCP segment, fully parsed.
    Tcp,
    /// Certainly not TCP over IP: nothing to do.
    NotTcp,
    /// Needs the general parser.
    Slow,
}
