//! ICMP sockets bound to one WAN: unprivileged datagram sockets where `net.ipv4.ping_group_range` allows,
//! raw sockets (CAP_NET_RAW) otherwise; optionally bound to a device, a source address and a firewall mark.

use std::{
    io,
    mem::MaybeUninit,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::{
    packet::Family,
    snapshot::{SocketInfo, SocketKind},
};

/// A socket operation that failed while setting up probing.
#[derive(Debug, thiserror::Error)]
#[error("active probe socket ({family:?}): {op}: {source}")]
pub struct SocketError {
    pub family: Family,
    /// What was attempted, e.g. "SO_BINDTODEVICE wan1".
    pub op: String,
    #[source]
    pub source: io::Error,
}

/// How probes are tied to their WAN.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// `SO_BINDTODEVICE`.
    pub device: Option<String>,
    /// Source address (of this socket's family).
    pub source: Option<IpAddr>,
    /// `SO_MARK`.
    pub fwmark: Option<u32>,
}

/// An ICMP echo socket for one family, registered with tokio.
#[derive(Debug)]
pub struct IcmpSocket {
    fd: AsyncFd<Socket>,
    info: SocketInfo,
    /// The echo identifier replies carry: the kernel's choice on datagram sockets, ours on raw ones.
    id: u16,
}

impl IcmpSocket {
    /// Opens a datagram ICMP socket, or a raw one when datagram sockets are not permitted, and binds it.
    /// `raw_id` is the identifier used if the socket turns out raw. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`SocketError`] naming the operation (socket creation, device, mark or address binding).
    pub fn open(family: Family, binding: &Binding, raw_id: u16) -> Result<Self, SocketError> {
        let err = |op: String| move |source| SocketError { family, op, source };
        let (domain, protocol) = match family {
            Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
            Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(s) => (s, SocketKind::Datagram),
            Err(e) if is_permission(&e) => {
                tracing::debug!(?family, error = %e, "ICMP datagram socket refused; trying a raw socket");
                let raw = Socket::new(domain, Type::RAW, Some(protocol)).map_err(err(
                    "socket(SOCK_RAW) (needs CAP_NET_RAW or ping_group_range)".into(),
                ))?;
                (raw, SocketKind::Raw)
            }
            Err(e) => return Err(err("socket(SOCK_DGRAM)".into())(e)),
        };
        socket
            .set_nonblocking(true)
            .map_err(err("O_NONBLOCK".into()))?;
        if kind == SocketKind::Raw {
            pass_only_echo_replies(&socket, family).map_err(err("ICMP_FILTER".into()))?;
        }
        if let Some(device) = &binding.device {
            socket
                .bind_device(Some(device.as_bytes()))
                .map_err(err(format!("SO_BINDTODEVICE {device}")))?;
        }
        if let Some(mark) = binding.fwmark {
            socket
                .set_mark(mark)
                .map_err(err(format!("SO_MARK {mark:#x}")))?;
        }
        let local = binding.source.unwrap_or(match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        // Binding a datagram ICMP socket also makes the kernel pick its echo identifier (the "port").
        if kind == SocketKind::Datagram || binding.source.is_some() {
            socket
                .bind(&SockAddr::from(SocketAddr::new(local, 0)))
                .map_err(err(format!("bind {local}")))?;
        }
        let id = match kind {
            SocketKind::Raw => raw_id,
            SocketKind::Datagram => socket
                .local_addr()
                .map_err(err("getsockname".into()))?
                .as_socket()
                .map_or(0, |a| a.port()),
        };
        // SAFETY: the `Socket` owns its descriptor and keeps it open, unchanged, until the `AsyncFd` drops it.
        let fd = unsafe { AsyncFd::register(socket) }
            .map_err(|e| err("register with tokio".into())(io::Error::from(e)))?;
        Ok(Self {
            fd,
            info: SocketInfo { family, kind },
            id,
        })
    }

    /// Family and kind of the socket.
    pub fn info(&self) -> SocketInfo {
        self.info
    }

    /// The echo identifier our replies carry.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// True when received packets start with the IPv4 header (raw IPv4 sockets).
    pub fn includes_ip_header(&self) -> bool {
        self.info.kind == SocketKind::Raw && self.info.family == Family::V4
    }

    /// Sends one packet without waiting; a full socket buffer is an error (the probe counts as unsent).
    ///
    /// # Errors
    /// The `sendto` error, e.g. no route out of the bound device.
    pub fn send(&self, to: IpAddr, packet: &[u8]) -> io::Result<()> {
        self.fd
            .get_ref()
            .send_to(packet, &SockAddr::from(SocketAddr::new(to, 0)))
            .map(drop)
    }

    /// Waits for the next packet; returns its length and sender.
    ///
    /// # Errors
    /// The `recvfrom` error (ICMP errors reported on the socket show up here).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| recv_from(inner.get_ref(), buf)) {
                Ok(result) => return result.map(|(n, from)| (n, from.as_socket().map(|a| a.ip()))),
                Err(_would_block) => {}
            }
        }
    }
}

fn recv_from(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and recvfrom only writes initialised bytes
    // into the buffer, so it stays a valid `[u8]`.
    let uninit = unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    socket.recv_from(uninit)
}

/// `ICMP_FILTER` (level `SOL_RAW`) and `ICMP6_FILTER` (level `IPPROTO_ICMPV6`) from `linux/icmp.h` and
/// `linux/icmpv6.h`; the libc crate does not export them.
const ICMP_FILTER: libc::c_int = 1;
const ICMP6_FILTER: libc::c_int = 1;

/// A raw socket sees every ICMP packet the host receives; the kernel filter drops all but echo replies
/// before they wake us. In both filters a set bit blocks that ICMP type.
fn pass_only_echo_replies(socket: &Socket, family: Family) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let rc = match family {
        Family::V4 => {
            let mask: u32 = !(1 << 0);
            // SAFETY: the option value is a u32 that lives across the call, and its size is passed.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_RAW,
                    ICMP_FILTER,
                    (&raw const mask).cast(),
                    size_of::<u32>() as libc::socklen_t,
                )
            }
        }
        Family::V6 => {
            let mut filter = [u32::MAX; 8];
            filter[129 >> 5] &= !(1 << (129 & 31));
            // SAFETY: as above, with the 256-bit `struct icmp6_filter`.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_ICMPV6,
                    ICMP6_FILTER,
                    filter.as_ptr().cast(),
                    size_of::<[u32; 8]>() as libc::socklen_t,
                )
            }
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EPROTONOSUPPORT)
    )
}
