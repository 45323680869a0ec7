//! Namespaces for the active-probing tests: a two-WAN gateway, an ISP router with a TBF bottleneck towards
//! the gateway, a reflector host with several addresses, and a slow reflector answering from user space.
//!
//! ```text
//!  gw ── wan0 192.0.2.1 ──── isp0 192.0.2.2 ─┐ (TBF on isp0: the download bottleneck)
//!     └─ wan1 198.51.100.1 ─ isp1 198.51.100.2┤ isp ── isp2 203.0.113.1/28 ── r0 203.0.113.2, .10-.12 (refl)
//!                                            └────── isp3 203.0.113.17/28 ─ s0 203.0.113.18 (slow)
//!  203.0.113.99 is blackholed in isp: a dead reflector. IPv6 (optional): 2001:db8:1::/64 on wan0,
//!  2001:db8:3::/64 towards refl (reflector 2001:db8:3::10).
//! ```

use std::{
    fs::File,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::netns::{Netns, veth};

/// Addresses of the topology.
pub mod addr {
    /// Gateway side of WAN 0 and WAN 1.
    pub const WAN0: &str = "192.0.2.1";
    pub const WAN1: &str = "198.51.100.1";
    /// The reflector host's own address (also the TCP load server).
    pub const REFL_HOST: &str = "203.0.113.2";
    /// Reflectors answered by the kernel of the reflector host.
    pub const REFLECTORS: [&str; 3] = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];
    /// A reflector that never answers (blackholed by the ISP).
    pub const DEAD: &str = "203.0.113.99";
    /// The slow reflector, answered late by a user-space responder.
    pub const SLOW: &str = "203.0.113.18";
    /// An IPv6 reflector on the reflector host.
    pub const REFLECTOR_V6: &str = "2001:db8:3::10";
}

/// The namespaces; dropping it deletes them all.
pub struct ActiveTopology {
    pub gw: Netns,
    pub isp: Netns,
    pub refl: Netns,
    pub slow: Netns,
}

impl ActiveTopology {
    /// Builds the topology. `ipv6` adds the IPv6 path; without it IPv6 is disabled on the gateway's WAN
    /// links so that their packet counters see nothing but the test's own traffic.
    pub fn new(ipv6: bool) -> Self {
        let t = Self {
            gw: Netns::new("agw"),
            isp: Netns::new("aisp"),
            refl: Netns::new("arefl"),
            slow: Netns::new("aslow"),
        };
        veth(&t.gw, "wan0", &t.isp, "isp0");
        veth(&t.gw, "wan1", &t.isp, "isp1");
        veth(&t.isp, "isp2", &t.refl, "r0");
        veth(&t.isp, "isp3", &t.slow, "s0");
        let (gw, isp, refl, slow) = (&t.gw, &t.isp, &t.refl, &t.slow);
        if !ipv6 {
            for dev in ["wan0", "wan1"] {
                gw.exec_ok(&[
                    "sysctl",
                    "-q",
                    "-w",
                    &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
                ]);
            }
        }
        gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
        gw.ip(&["addr", "add", "198.51.100.1/24", "dev", "wan1"]);
        isp.ip(&["addr", "add", "192.0.2.2/24", "dev", "isp0"]);
        isp.ip(&["addr", "add", "198.51.100.2/24", "dev", "isp1"]);
        isp.ip(&["addr", "add", "203.0.113.1/28", "dev", "isp2"]);
        isp.ip(&["addr", "add", "203.0.113.17/28", "dev", "isp3"]);
        refl.ip(&["addr", "add", "203.0.113.2/28", "dev", "r0"]);
        for a in addr::REFLECTORS {
            refl.ip(&["addr", "add", &format!("{a}/32"), "dev", "r0"]);
        }
        slow.ip(&["addr", "add", "203.0.113.18/28", "dev", "s0"]);
        // Both WANs reach the reflectors; WAN 0 is preferred, so only binding can send probes out of WAN 1.
        gw.ip(&[
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "192.0.2.2",
            "dev",
            "wan0",
        ]);
        gw.ip(&[
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "198.51.100.2",
            "dev",
            "wan1",
            "metric",
            "200",
        ]);
        isp.ip(&["route", "add", "blackhole", "203.0.113.99/32"]);
        refl.ip(&["route", "add", "default", "via", "203.0.113.1"]);
        slow.ip(&["route", "add", "default", "via", "203.0.113.17"]);
        isp.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        // The slow host answers pings from user space only.
        slow.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"]);
        if ipv6 {
            gw.ip(&[
                "-6",
                "addr",
                "add",
                "2001:db8:1::1/64",
                "dev",
                "wan0",
                "nodad",
            ]);
            isp.ip(&[
                "-6",
                "addr",
                "add",
                "2001:db8:1::2/64",
                "dev",
                "isp0",
                "nodad",
            ]);
            isp.ip(&[
                "-6",
                "addr",
                "add",
                "2001:db8:3::1/64",
                "dev",
                "isp2",
                "nodad",
            ]);
            refl.ip(&[
                "-6",
                "addr",
                "add",
                "2001:db8:3::2/64",
                "dev",
                "r0",
                "nodad",
            ]);
            refl.ip(&[
                "-6",
                "addr",
                "add",
                "2001:db8:3::10/64",
                "dev",
                "r0",
                "nodad",
            ]);
            gw.ip(&[
                "-6",
                "route",
                "add",
                "2001:db8:3::/64",
                "via",
                "2001:db8:1::2",
                "dev",
                "wan0",
            ]);
            refl.ip(&["-6", "route", "add", "default", "via", "2001:db8:3::1"]);
            isp.exec_ok(&["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
            t.wait_for_ipv6();
        }
        t
    }

    /// Waits until no IPv6 address on the path is tentative (link-local DAD takes a second or two; until
    /// then neighbour discovery and forwarding may drop the first packets).
    fn wait_for_ipv6(&self) {
        let settled = |ns: &Netns| {
            ns.exec_ok(&["ip", "-6", "addr", "show", "tentative"])
                .trim()
                .is_empty()
        };
        let ready = (0..100).any(|_| {
            [&self.gw, &self.isp, &self.refl].into_iter().all(settled) || {
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        });
        assert!(ready, "IPv6 addresses stayed tentative");
    }

    /// Puts a deep FIFO bottleneck on the ISP's link towards the gateway (download direction).
    pub fn add_bottleneck(&self, rate: &str, latency: &str) {
        self.isp.exec_ok(&[
            "tc", "qdisc", "replace", "dev", "isp0", "root", "tbf", "rate", rate, "burst",
            "32kbit", "latency", latency,
        ]);
    }

    /// Lets unprivileged (and root) processes in the gateway use ICMP datagram sockets.
    pub fn allow_ping_sockets(&self) {
        self.gw.exec_ok(&[
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ping_group_range=0 2147483647",
        ]);
    }

    /// Counts ICMP echo requests leaving the gateway by each WAN (nftables named counters `wan0_echo` and
    /// `wan1_echo`, read by [`Self::gw_echo_requests`]).
    pub fn count_echo_requests(&self) {
        let rules = r#"table ip probecount {
    counter wan0_echo {}
    counter wan1_echo {}
    chain out {
        type filter hook postrouting priority 0; policy accept;
        oifname "wan0" icmp type echo-request counter name "wan0_echo"
        oifname "wan1" icmp type echo-request counter name "wan1_echo"
    }
}
"#;
        let path = std::env::temp_dir().join(format!("{}-probecount.nft", self.gw.name()));
        std::fs::write(&path, rules).expect("write nft rules");
        let loaded = self
            .gw
            .exec(&["nft", "-f", path.to_str().expect("utf-8 path")]);
        let _ = std::fs::remove_file(&path);
        assert!(
            loaded.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
    }

    /// ICMP echo requests that have left the gateway by `dev` (`wan0` or `wan1`).
    pub fn gw_echo_requests(&self, dev: &str) -> u64 {
        let counter = format!("{dev}_echo");
        let out = self
            .gw
            .exec_ok(&["nft", "-j", "list", "counter", "ip", "probecount", &counter]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("nft -j output");
        json["nftables"]
            .as_array()
            .and_then(|items| items.iter().find_map(|i| i["counter"]["packets"].as_u64()))
            .unwrap_or_else(|| panic!("no counter {counter}: {out}"))
    }

    /// Packets sent so far by the gateway's `dev`.
    pub fn gw_tx_packets(&self, dev: &str) -> u64 {
        let out = self
            .gw
            .exec_ok(&["ip", "-s", "-j", "link", "show", "dev", dev]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("ip -j output");
        json[0]["stats64"]["tx"]["packets"]
            .as_u64()
            .unwrap_or_else(|| panic!("no tx packet counter for {dev}: {out}"))
    }
}

/// Runs `f` on a new thread inside `ns`.
pub fn spawn_in<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
        f()
    })
}

/// A user-space ICMP echo responder that answers `delay` late; stops on drop (or after `max_run`).
pub struct SlowResponder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl SlowResponder {
    /// Starts answering echo requests to the slow namespace's address, `delay` late.
    pub fn start(topology: &ActiveTopology, delay: Duration, max_run: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = spawn_in(&topology.slow, move || respond(&flag, delay, max_run));
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the responder; returns how many requests it answered.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap_or(0))
    }
}

impl Drop for SlowResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(stop: &AtomicBool, delay: Duration, max_run: Duration) -> u64 {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let socket =
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw ICMP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let udp: std::net::UdpSocket = socket.into();
    let started = Instant::now();
    let mut answered = 0;
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) && started.elapsed() < max_run {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let header = usize::from(buf[0] & 0x0f) * 4;
        if n < header + 8 || buf[header] != 8 {
            continue;
        }
        let mut reply = buf[header..n].to_vec();
        reply[0] = 0;
        reply[2..4].fill(0);
        let sum = wanctl::probe::active::checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        std::thread::sleep(delay);
        let to = SockAddr::from(std::net::SocketAddr::new(from.ip(), 0));
        let raw = socket2::SockRef::from(&udp);
        if raw.send_to(&reply, &to).is_ok() {
            answered += 1;
        }
    }
    answered
}

/// Now on CLOCK_MONOTONIC, read independently of wanctl.
pub fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Parses an address constant.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("address literal")
}

/// The IPv4 constant as an `Ipv4Addr`.
pub fn ipv4(s: &str) -> Ipv4Addr {
    s.parse().expect("IPv4 literal")
}

/// A bounded bulk TCP download from the reflector host to the gateway, sent with CUBIC so it fills the
/// bottleneck's queue. Returns the sender's smoothed RTT samples (ms, `TCP_INFO`) taken every 250 ms after
/// `warmup`: the reference the probes are compared with.
pub fn bulk_download(
    topology: &ActiveTopology,
    warmup: Duration,
    duration: Duration,
) -> JoinHandle<Vec<f64>> {
    use socket2::{Domain, Socket, Type};
    use std::{io::Read, io::Write, net::TcpStream};
    let listener = {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = spawn_in(&topology.refl, move || {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("tcp socket");
            socket.set_reuse_address(true).expect("SO_REUSEADDR");
            socket
                .set_tcp_congestion(b"cubic")
                .expect("TCP_CONGESTION cubic");
            let bind = std::net::SocketAddr::new(ip(addr::REFL_HOST), 5001);
            socket.bind(&bind.into()).expect("bind load server");
            socket.listen(1).expect("listen");
            tx.send(()).expect("ready");
            let listener: std::net::TcpListener = socket.into();
            let (mut conn, _) = listener.accept().expect("accept load client");
            let chunk = [0x5au8; 64 * 1024];
            let started = Instant::now();
            let mut next_sample = warmup;
            let mut srtt = Vec::new();
            conn.set_write_timeout(Some(Duration::from_millis(500)))
                .expect("write timeout");
            while started.elapsed() < duration {
                let _ = conn.write(&chunk);
                if started.elapsed() >= next_sample {
                    srtt.push(tcp_srtt_ms(&conn));
                    next_sample += Duration::from_millis(250);
                }
            }
            srtt
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("load server ready");
        server
    };
    let client = spawn_in(&topology.gw, move || {
        let server = std::net::SocketAddr::new(ip(addr::REFL_HOST), 5001);
        let mut stream =
            TcpStream::connect_timeout(&server, Duration::from_secs(3)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("read timeout");
        let mut buf = vec![0u8; 256 * 1024];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        let srtt = listener.join().expect("load server");
        let _ = client.join();
        srtt
    })
}

fn tcp_srtt_ms(conn: &std::net::TcpStream) -> f64 {
    // SAFETY: tcp_info is plain old data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, which we own.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &raw mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    f64::from(info.tcpi_rtt) / 1000.0
}

/// Sends `count` echo requests with identifier `id` from a raw socket in `ns` to `to`, 20 ms apart, as
/// another pinger on the same host would. Their replies reach every raw ICMP socket of that namespace.
pub fn foreign_pings(ns: &Netns, to: IpAddr, id: u16, count: u16) -> JoinHandle<()> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    spawn_in(ns, move || {
        let (domain, protocol, request) = match to {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128),
        };
        let socket = Socket::new(domain, Type::RAW, Some(protocol)).expect("raw ICMP socket");
        for seq in 1..=count {
            let mut packet = [0u8; 16];
            packet[0] = request;
            packet[4..6].copy_from_slice(&id.to_be_bytes());
            packet[6..8].copy_from_slice(&seq.to_be_bytes());
            if to.is_ipv4() {
                let sum = wanctl::probe::active::checksum(&packet);
                packet[2..4].copy_from_slice(&sum.to_be_bytes());
            }
            let _ = socket.send_to(&packet, &SockAddr::from(std::net::SocketAddr::new(to, 0)));
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}
