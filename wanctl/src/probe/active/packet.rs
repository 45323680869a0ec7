//! ICMP and ICMPv6 echo messages: building requests and reading replies defensively.
//!
//! A reply is accepted only when it is an echo reply of the right family whose identifier and cookie are
//! ours; everything else (foreign pings, error messages, truncated or corrupt packets) is classified so the
//! prober can count it, and never becomes a sample.

/// IP version of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &std::net::IpAddr) -> Self {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    const fn request_type(self) -> u8 {
        match self {
            Family::V4 => 8,
            Family::V6 => 128,
        }
    }

    const fn reply_type(self) -> u8 {
        match self {
            Family::V4 => 0,
            Family::V6 => 129,
        }
    }
}

/// ICMP header (8 bytes) plus our 8-byte cookie.
pub const ECHO_LEN: usize = 16;
const IPPROTO_ICMP: u8 = 1;

/// The fields of an echo reply that identify the probe it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    /// Echo identifier (the kernel sets it to the socket's port on datagram ICMP sockets).
    pub id: u16,
    /// Echo sequence number.
    pub seq: u16,
    /// The first 8 payload bytes, which our requests fill with a per-prober secret.
    pub cookie: u64,
}

/// Why a received packet was not taken as a reply to one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("shorter than an echo reply")]
    Truncated,
    #[error("not an ICMP packet of the expected family")]
    NotIcmp,
    #[error("ICMP type {0} is not an echo reply")]
    NotEchoReply(u8),
    #[error("bad ICMP checksum")]
    BadChecksum,
}

/// Builds an echo request carrying `cookie`. The IPv4 checksum is filled in (raw sockets need it; the kernel
/// recomputes it on datagram sockets); the kernel always computes the ICMPv6 checksum.
pub fn echo_request(family: Family, id: u16, seq: u16, cookie: u64) -> [u8; ECHO_LEN] {
    let mut packet = [0u8; ECHO_LEN];
    packet[0] = family.request_type();
    packet[4..6].copy_from_slice(&id.to_be_bytes());
    packet[6..8].copy_from_slice(&seq.to_be_bytes());
    packet[8..16].copy_from_slice(&cookie.to_be_bytes());
    if family == Family::V4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// Reads an echo reply from what a socket returned: with `ip_header` (raw IPv4 sockets) the buffer starts
/// with the IPv4 header; otherwise it starts with the ICMP header.
///
/// # Errors
/// [`Ignored`] says why the packet is not a reply.
pub fn parse_reply(family: Family, ip_header: bool, buf: &[u8]) -> Result<EchoReply, Ignored> {
    let icmp = if ip_header { strip_ipv4(buf)? } else { buf };
    if icmp.len() < ECHO_LEN {
        return match icmp.first() {
            Some(&t) if icmp.len() >= 8 && t != family.reply_type() => {
                Err(Ignored::NotEchoReply(t))
            }
            _ => Err(Ignored::Truncated),
        };
    }
    if icmp[0] != family.reply_type() || icmp[1] != 0 {
        return Err(Ignored::NotEchoReply(icmp[0]));
    }
    // Datagram sockets have the checksum verified by the kernel; raw IPv4 ones have not. ICMPv6 needs the
    // pseudo-header, which a raw socket does not see; the cookie guards against corruption there.
    if family == Family::V4 && checksum(icmp) != 0 {
        return Err(Ignored::BadChecksum);
    }
    let word = |at: usize| u16::from_be_bytes([icmp[at], icmp[at + 1]]);
    let mut cookie = [0u8; 8];
    cookie.copy_from_slice(&icmp[8..16]);
    Ok(EchoReply {
        id: word(4),
        seq: word(6),
        cookie: u64::from_be_bytes(cookie),
    })
}

fn strip_ipv4(buf: &[u8]) -> Result<&[u8], Ignored> {
    let first = *buf.first().ok_or(Ignored::Truncated)?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 {
        return Err(Ignored::NotIcmp);
    }
    if buf.len() < header_len {
        return Err(Ignored::Truncated);
    }
    if buf[9] != IPPROTO_ICMP {
        return Err(Ignored::NotIcmp);
    }
    Ok(&buf[header_len..])
}

/// The Internet checksum (RFC 1071); zero when computed over a packet with a correct checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| {
            u32::from(u16::from_be_bytes([
                pair[0],
                pair.get(1).copied().unwrap_or(0),
            ]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Turns one of our requests into the reply a host would send.
    fn as_reply(mut packet: [u8; ECHO_LEN], family: Family) -> [u8; ECHO_LEN] {
        packet[0] = family.reply_type();
        packet[2..4].fill(0);
        if family == Family::V4 {
            let sum = checksum(&packet);
            packet[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        packet
    }

    fn ipv4_header(protocol: u8) -> Vec<u8> {
        let mut header = vec![0x45, 0, 0, 36, 0, 0, 0, 0, 64, protocol, 0, 0];
        header.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        header
    }

    #[test]
    fn request_has_a_valid_checksum_and_round_trips() {
        let request = echo_request(Family::V4, 0x1234, 7, 0xdead_beef_0102_0304);
        assert_eq!(request[0], 8);
        assert_eq!(checksum(&request), 0, "a correct checksum sums to zero");
        let reply = parse_reply(Family::V4, false, &as_reply(request, Family::V4)).unwrap();
        assert_eq!(
            reply,
            EchoReply {
                id: 0x1234,
                seq: 7,
                cookie: 0xdead_beef_0102_0304
            }
        );
        let v6 = echo_request(Family::V6, 1, 65535, 42);
        assert_eq!(v6[0], 128);
        let reply = parse_reply(Family::V6, false, &as_reply(v6, Family::V6)).unwrap();
        assert_eq!((reply.id, reply.seq, reply.cookie), (1, 65535, 42));
    }

    #[test]
    fn raw_ipv4_replies_skip_the_ip_header_including_options() {
        let reply = as_reply(echo_request(Family::V4, 9, 3, 5), Family::V4);
        let mut packet = ipv4_header(IPPROTO_ICMP);
        packet.extend_from_slice(&reply);
        assert_eq!(parse_reply(Family::V4, true, &packet).unwrap().seq, 3);

        let mut with_options = ipv4_header(IPPROTO_ICMP);
        with_options[0] = 0x46;
        with_options.extend_from_slice(&[1, 1, 1, 0]);
        with_options.extend_from_slice(&reply);
        assert_eq!(parse_reply(Family::V4, true, &with_options).unwrap().id, 9);
    }

    #[test]
    fn foreign_and_broken_packets_are_classified_not_accepted() {
        let request = echo_request(Family::V4, 9, 3, 5);
        // Our own request looped back, or someone pinging us.
        assert_eq!(
            parse_reply(Family::V4, false, &request),
            Err(Ignored::NotEchoReply(8))
        );
        let reply = as_reply(request, Family::V4);
        for len in [0, 1, 7, 8, 15] {
            assert_eq!(
                parse_reply(Family::V4, false, &reply[..len]),
                Err(Ignored::Truncated),
                "{len} bytes"
            );
        }
        let mut corrupt = reply;
        corrupt[12] ^= 0x40;
        assert_eq!(
            parse_reply(Family::V4, false, &corrupt),
            Err(Ignored::BadChecksum)
        );
        // A destination-unreachable message quoting our probe.
        let mut unreachable = [0u8; 36];
        unreachable[0] = 3;
        assert_eq!(
            parse_reply(Family::V4, false, &unreachable),
            Err(Ignored::NotEchoReply(3))
        );
        // A v4 reply read on the v6 socket's parser is not a v6 reply.
        assert_eq!(
            parse_reply(Family::V6, false, &reply),
            Err(Ignored::NotEchoReply(0))
        );
        let mut udp = ipv4_header(17);
        udp.extend_from_slice(&reply);
        assert_eq!(parse_reply(Family::V4, true, &udp), Err(Ignored::NotIcmp));
        assert_eq!(
            parse_reply(Family::V4, true, &[0x45, 0, 0]),
            Err(Ignored::Truncated)
        );
        assert_eq!(
            parse_reply(Family::V4, true, &[0x60; 40]),
            Err(Ignored::NotIcmp)
        );
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the one's-complement sum of these bytes is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        assert_eq!(checksum(&[0xff]), !0xff00);
    }
}
