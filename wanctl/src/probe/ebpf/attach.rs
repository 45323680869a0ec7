//! Where the programs attach and how packets on the device are framed.

use std::{ffi::CString, io, mem};

use wanctl_common::framing;

/// How packets on a device start, decided from its hardware type (`ARPHRD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// An Ethernet header (802.1Q tags and PPPoE session framing are parsed in the kernel).
    Ethernet,
    /// The IP header comes first: PPP, WireGuard, tun and other devices without a MAC header.
    L3,
}

impl Framing {
    /// The value the kernel programs read.
    pub(crate) const fn kernel_value(self) -> u32 {
        match self {
            Framing::Ethernet => framing::ETHERNET,
            Framing::L3 => framing::L3,
        }
    }

    /// Framing of `interface` in the calling thread's network namespace.
    ///
    /// # Errors
    /// The `SIOCGIFHWADDR` ioctl's error (no such device).
    pub fn of_interface(interface: &str) -> io::Result<Self> {
        Ok(Self::from_hardware_type(hardware_type(interface)?))
    }

    /// Ethernet-like types (Ethernet, loopback) carry a 14-byte MAC header; everything else is treated as
    /// starting at the IP header, which is what PPP (`ARPHRD_PPP`), WireGuard (`ARPHRD_NONE`), tun and
    /// `ARPHRD_RAWIP` devices deliver to TC.
    pub const fn from_hardware_type(arphrd: u16) -> Self {
        match arphrd {
            libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Framing::Ethernet,
            _ => Framing::L3,
        }
    }
}

/// How to attach the programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachMode {
    /// TCX links where the kernel has them (6.6+), first in the chain; clsact filters otherwise.
    #[default]
    Auto,
    /// Always legacy clsact filters (cls_bpf, direct action), as on kernels before 6.6.
    Clsact,
}

/// `ARPHRD_*` of `interface`, through `SIOCGIFHWADDR` on a socket of the current namespace (sysfs would
/// show the namespace sysfs was mounted in, not the thread's).
fn hardware_type(interface: &str) -> io::Result<u16> {
    let name = CString::new(interface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: zeroed ifreq is valid; the name fits (checked below) and is NUL-terminated.
    let mut request: libc::ifreq = unsafe { mem::zeroed() };
    if bytes.len() > request.ifr_name.len() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for (dst, src) in request.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `request` is a valid ifreq for this ioctl; `fd` is ours and closed right after.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut request) };
    let error = io::Error::last_os_error();
    // SAFETY: closing the socket opened above.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(error);
    }
    // SAFETY: the kernel filled the hwaddr member of the union.
    Ok(unsafe { request.ifr_ifru.ifru_hwaddr.sa_family })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_types_map_to_framing() {
        assert_eq!(
            Framing::from_hardware_type(1),
            Framing::Ethernet,
            "ARPHRD_ETHER"
        );
        assert_eq!(Framing::from_hardware_type(512), Framing::L3, "ARPHRD_PPP");
        assert_eq!(
            Framing::from_hardware_type(0xfffe),
            Framing::L3,
            "ARPHRD_NONE (WireGuard)"
        );
        assert_eq!(
            Framing::from_hardware_type(519),
            Framing::L3,
            "ARPHRD_RAWIP"
        );
    }

    #[test]
    fn loopback_is_ethernet_framed_and_missing_devices_are_errors() {
        assert_eq!(Framing::of_interface("lo").unwrap(), Framing::Ethernet);
        assert!(Framing::of_interface("wanctl-no-such-if0").is_err());
    }
}
