//! Crafted packets for `BPF_PROG_TEST_RUN`: TCP over IPv4/IPv6 with optional VLAN tags, PPPoE, IPv6
//! extension headers, raw option bytes and no link layer at all. Checksums are left zero: the programs
//! under test never verify them.

use std::net::IpAddr;

/// TCP flag bits.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Link-layer framing of a crafted packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet with these 802.1Q/802.1ad tag EtherTypes (empty = untagged).
    Ethernet(Vec<u16>),
    /// Ethernet + PPPoE session header.
    Pppoe,
    /// No link layer: the packet starts at the IP header.
    None,
}

/// A TCP segment to build.
#[derive(Debug, Clone)]
pub struct Segment {
    pub link: Link,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// TSval/TSecr in the usual NOP NOP TS layout.
    pub ts: Option<(u32, u32)>,
    /// Raw option bytes, replacing `ts` when set (padded with zeros to a multiple of 4 unless `doff` is
    /// forced).
    pub options: Option<Vec<u8>>,
    /// Force the data offset field (in 32-bit words), for malformed headers.
    pub doff: Option<u8>,
    pub payload: usize,
    /// IPv6 extension headers as (header type, length in bytes: a multiple of 8).
    pub ipv6_ext: Vec<(u8, usize)>,
    /// Cut the finished packet to this many bytes.
    pub truncate: Option<usize>,
}

impl Segment {
    /// A segment between two addresses with defaults: untagged Ethernet, ACK only, no options, no payload.
    pub fn new(src: &str, sport: u16, dst: &str, dport: u16) -> Self {
        Self {
            link: Link::Ethernet(Vec::new()),
            src: src.parse().expect("source address"),
            dst: dst.parse().expect("destination address"),
            sport,
            dport,
            seq: 1,
            ack: 1,
            flags: flags::ACK,
            ts: None,
            options: None,
            doff: None,
            payload: 0,
            ipv6_ext: Vec::new(),
            truncate: None,
        }
    }

    /// The same flow in the other direction (addresses and ports swapped, other fields kept).
    pub fn reversed(&self) -> Self {
        Self {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..self.clone()
        }
    }

    pub fn flags(mut self, flags: u8) -> Self {
        self.flags = flags;
        self
    }
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Self {
        self.ts = Some((tsval, tsecr));
        self
    }
    pub fn no_ts(mut self) -> Self {
        self.ts = None;
        self
    }
    pub fn seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }
    pub fn payload(mut self, bytes: usize) -> Self {
        self.payload = bytes;
        self
    }
    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }
    pub fn options(mut self, options: Vec<u8>) -> Self {
        self.options = Some(options);
        self
    }

    /// The packet's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut tcp_options = match (&self.options, self.ts) {
            (Some(raw), _) => raw.clone(),
            (None, Some((tsval, tsecr))) => {
                let mut o = vec![1, 1, 8, 10];
                o.extend_from_slice(&tsval.to_be_bytes());
                o.extend_from_slice(&tsecr.to_be_bytes());
                o
            }
            (None, None) => Vec::new(),
        };
        if self.doff.is_none() {
            while tcp_options.len() % 4 != 0 {
                tcp_options.push(0);
            }
        }
        let doff = self.doff.unwrap_or(((20 + tcp_options.len()) / 4) as u8);
        let mut tcp = Vec::with_capacity(20 + tcp_options.len() + self.payload);
        tcp.extend_from_slice(&self.sport.to_be_bytes());
        tcp.extend_from_slice(&self.dport.to_be_bytes());
        tcp.extend_from_slice(&self.seq.to_be_bytes());
        tcp.extend_from_slice(&self.ack.to_be_bytes());
        tcp.push(doff << 4);
        tcp.push(self.flags);
        tcp.extend_from_slice(&64_240u16.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(&tcp_options);
        tcp.resize(tcp.len() + self.payload, 0x5a);

        let (ethertype, ip) = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (20 + tcp.len()) as u16;
                let mut ip = vec![0x45, 0];
                ip.extend_from_slice(&total.to_be_bytes());
                ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
                ip.extend_from_slice(&tcp);
                (0x0800u16, ip)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let ext_len: usize = self.ipv6_ext.iter().map(|(_, len)| len).sum();
                let payload_len = (ext_len + tcp.len()) as u16;
                let first = self.ipv6_ext.first().map_or(6, |(t, _)| *t);
                let mut ip = vec![0x60, 0, 0, 0];
                ip.extend_from_slice(&payload_len.to_be_bytes());
                ip.extend_from_slice(&[first, 64]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
                for (i, (kind, len)) in self.ipv6_ext.iter().enumerate() {
                    let next = self.ipv6_ext.get(i + 1).map_or(6, |(t, _)| *t);
                    let mut ext = vec![0u8; *len];
                    ext[0] = next;
                    ext[1] = match kind {
                        44 => 0,
                        51 => (len / 4 - 2) as u8,
                        _ => (len / 8 - 1) as u8,
                    };
                    ip.extend_from_slice(&ext);
                }
                ip.extend_from_slice(&tcp);
                (0x86ddu16, ip)
            }
            _ => panic!("mixed address families"),
        };

        let mut frame = Vec::with_capacity(ip.len() + 30);
        match &self.link {
            Link::None => {}
            Link::Ethernet(tags) => {
                frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
                for tag in tags {
                    frame.extend_from_slice(&tag.to_be_bytes());
                    frame.extend_from_slice(&[0, 7]);
                }
                frame.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Pppoe => {
                frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x64]);
                frame.extend_from_slice(&[0x11, 0, 0, 1]);
                frame.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
                let ppp: u16 = if ethertype == 0x0800 { 0x0021 } else { 0x0057 };
                frame.extend_from_slice(&ppp.to_be_bytes());
            }
        }
        frame.extend_from_slice(&ip);
        if let Some(n) = self.truncate {
            frame.truncate(n);
        }
        frame
    }
}
