//! A two-WAN gateway in namespaces, for steering tests.
//!
//! ```text
//!  client ──lan0── gw ──wan1── isp1 (TBF bottleneck) ── srv1 ┐
//!  192.0.2.2/28    │   198.51.100.1/30                       ├─ server, service address 192.0.2.200
//!                  └──wan2── isp2 ───────────────────── srv2 ┘
//!                      203.0.113.1/30
//! ```
//! The gateway masquerades on both WANs, so the server tells the WANs apart by the source address it sees:
//! [`WAN1_ADDR`] or [`WAN2_ADDR`]. Its main table routes everything via WAN1; the server has no default
//! route, so a reply can only go back the way its request came. Every namespace is deleted on drop.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::netns::{Netns, veth};

/// The LAN client.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The gateway's WAN1 address: the source the server sees for traffic via WAN1.
pub const WAN1_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The gateway's WAN2 address: the source the server sees for traffic via WAN2.
pub const WAN2_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// WAN2's next hop, for the steering table's default route.
pub const WAN2_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// The server's service address.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// Upper bound on how long any helper thread in this module runs.
pub const MAX_RUNTIME: Duration = Duration::from_secs(60);

/// The five namespaces, wired and routed.
pub struct SteeringTopology {
    pub client: Netns,
    pub gw: Netns,
    pub isp1: Netns,
    pub isp2: Netns,
    pub server: Netns,
}

impl SteeringTopology {
    /// Builds the topology with a TBF of `wan1_rate` (e.g. "20mbit") on WAN1 towards the server, so an
    /// upload from the client can saturate it in a forwarding namespace. Panics on any failure.
    pub fn new(wan1_rate: &str) -> Self {
        let t = Self {
            client: Netns::new("st-client"),
            gw: Netns::new("st-gw"),
            isp1: Netns::new("st-isp1"),
            isp2: Netns::new("st-isp2"),
            server: Netns::new("st-srv"),
        };
        veth(&t.client, "lan-c", &t.gw, "lan0");
        veth(&t.gw, "wan1", &t.isp1, "isp1-gw");
        veth(&t.gw, "wan2", &t.isp2, "isp2-gw");
        veth(&t.isp1, "isp1-srv", &t.server, "srv1");
        veth(&t.isp2, "isp2-srv", &t.server, "srv2");

        let addr = |ns: &Netns, cidr: &str, dev: &str| ns.ip(&["addr", "add", cidr, "dev", dev]);
        addr(&t.client, "192.0.2.2/28", "lan-c");
        addr(&t.gw, "192.0.2.1/28", "lan0");
        addr(&t.gw, "198.51.100.1/30", "wan1");
        addr(&t.isp1, "198.51.100.2/30", "isp1-gw");
        addr(&t.gw, "203.0.113.1/30", "wan2");
        addr(&t.isp2, "203.0.113.2/30", "isp2-gw");
        addr(&t.isp1, "198.51.100.5/30", "isp1-srv");
        addr(&t.server, "198.51.100.6/30", "srv1");
        addr(&t.isp2, "203.0.113.5/30", "isp2-srv");
        addr(&t.server, "203.0.113.6/30", "srv2");
        addr(&t.server, "192.0.2.200/32", "lo");

        t.client
            .ip(&["route", "add", "default", "via", "192.0.2.1"]);
        t.gw.ip(&[
            "route",
            "add",
            "default",
            "via",
            "198.51.100.2",
            "dev",
            "wan1",
        ]);
        t.isp1
            .ip(&["route", "add", "192.0.2.200/32", "via", "198.51.100.6"]);
        t.isp2
            .ip(&["route", "add", "192.0.2.200/32", "via", "203.0.113.6"]);
        t.server
            .ip(&["route", "add", "198.51.100.0/30", "via", "198.51.100.5"]);
        t.server
            .ip(&["route", "add", "203.0.113.0/30", "via", "203.0.113.5"]);

        for ns in [&t.gw, &t.isp1, &t.isp2] {
            ns.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        // Replies of steered connections arrive on wan2 although main routes the server via wan1.
        for key in ["all", "wan2"] {
            t.gw.exec_ok(&["sysctl", "-qw", &format!("net.ipv4.conf.{key}.rp_filter=2")]);
        }
        nft(
            &t.gw,
            "table ip wt_nat {\n chain post {\n type nat hook postrouting priority srcnat;\n \
             oifname { \"wan1\", \"wan2\" } masquerade\n }\n}\n",
        );
        t.isp1.exec_ok(&[
            "tc", "qdisc", "add", "dev", "isp1-srv", "root", "tbf", "rate", wan1_rate, "burst",
            "32kbit", "latency", "300ms",
        ]);
        t
    }
}

impl SteeringTopology {
    /// Bytes queued in WAN1's TBF bottleneck now (`tc -s qdisc show dev isp1-srv`).
    pub fn wan1_backlog_bytes(&self) -> u64 {
        let out = self
            .isp1
            .exec_ok(&["tc", "-s", "qdisc", "show", "dev", "isp1-srv"]);
        let words: Vec<&str> = out.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| *w == "backlog")
            .unwrap_or_else(|| panic!("no backlog in: {out}"));
        let bytes = words[at + 1].trim_end_matches('b');
        // tc prints large values with a K/M suffix.
        let (number, factor) = match bytes.chars().last() {
            Some('K') => (&bytes[..bytes.len() - 1], 1_000),
            Some('M') => (&bytes[..bytes.len() - 1], 1_000_000),
            _ => (bytes, 1),
        };
        number
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("backlog `{bytes}`: {e}"))
            * factor
    }
}

/// Applies an nftables ruleset given as text, in `ns`.
pub fn nft(ns: &Netns, ruleset: &str) {
    let path =
        std::env::temp_dir().join(format!("wt-nft-{}-{}.nft", ns.name(), std::process::id()));
    std::fs::write(&path, ruleset).unwrap();
    let out = ns.exec(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "nft in {}: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Named nftables packet counters in the server's input path, to prove which WAN a flow arrived on.
pub struct ServerCounters<'a> {
    ns: &'a Netns,
}

impl<'a> ServerCounters<'a> {
    /// Creates the counting table in `server`.
    pub fn new(server: &'a Netns) -> Self {
        nft(
            server,
            "table inet wt_count {\n chain input {\n type filter hook input priority 0; policy accept;\n }\n}\n",
        );
        Self { ns: server }
    }

    /// Counts TCP packets arriving on `iface` for `dport`, optionally from `sport` only.
    pub fn watch(&self, name: &str, iface: &str, dport: u16, sport: Option<u16>) {
        let sport = sport.map(|p| format!("tcp sport {p}")).unwrap_or_default();
        nft(
            self.ns,
            &format!(
                "add counter inet wt_count {name}\n\
                 add rule inet wt_count input iifname \"{iface}\" tcp dport {dport} {sport} counter name \"{name}\"\n"
            ),
        );
    }

    /// Packets counted so far.
    pub fn packets(&self, name: &str) -> u64 {
        let out = self
            .ns
            .exec_ok(&["nft", "list", "counter", "inet", "wt_count", name]);
        let words: Vec<&str> = out.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| *w == "packets")
            .unwrap_or_else(|| panic!("{out}"));
        words[at + 1].parse().unwrap()
    }
}

/// Servers in the server namespace that answer every request with the peer address they saw.
pub struct PeerServers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Bytes received by the TCP sinks, all connections together.
    pub sink_bytes: Arc<AtomicU64>,
    /// Peers accepted by the TCP servers, in order.
    pub accepted: Arc<Mutex<Vec<(u16, SocketAddr)>>>,
}

impl PeerServers {
    /// UDP echo-peer on each of `udp`, TCP echo-peer (one answer per line) on `tcp_echo`, and TCP sinks on
    /// `tcp_sink` (answer the first line, then count and discard until EOF).
    pub fn start(server: &Netns, udp: &[u16], tcp_echo: &[u16], tcp_sink: &[u16]) -> Self {
        let mut servers = Self {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            sink_bytes: Arc::new(AtomicU64::new(0)),
            accepted: Arc::new(Mutex::new(Vec::new())),
        };
        let deadline = Instant::now() + MAX_RUNTIME;
        for &port in udp {
            let socket = server.enter(|| UdpSocket::bind((SERVER_ADDR, port)).unwrap());
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let stop = servers.stop.clone();
            servers.threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    if let Ok((_, peer)) = socket.recv_from(&mut buf) {
                        let _ = socket.send_to(peer.to_string().as_bytes(), peer);
                    }
                }
            }));
        }
        for (&port, sink) in tcp_echo
            .iter()
            .map(|p| (p, false))
            .chain(tcp_sink.iter().map(|p| (p, true)))
        {
            let listener = server.enter(|| TcpListener::bind((SERVER_ADDR, port)).unwrap());
            listener.set_nonblocking(true).unwrap();
            let (stop, bytes, accepted) = (
                servers.stop.clone(),
                servers.sink_bytes.clone(),
                servers.accepted.clone(),
            );
            servers.threads.push(std::thread::spawn(move || {
                let mut connections = Vec::new();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            accepted.lock().unwrap().push((port, peer));
                            let (stop, bytes) = (stop.clone(), bytes.clone());
                            connections.push(std::thread::spawn(move || {
                                serve_tcp(stream, peer, sink, &stop, &bytes, deadline);
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                for c in connections {
                    let _ = c.join();
                }
            }));
        }
        servers
    }
}

fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    sink: bool,
    stop: &AtomicBool,
    bytes: &AtomicU64,
    deadline: Instant,
) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut answered = false;
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if sink && answered {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => return,
            }
            continue;
        }
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {
                line.clear();
                if writer.write_all(format!("{peer}\n").as_bytes()).is_err() {
                    return;
                }
                answered = true;
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Drop for PeerServers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// From the client: a new UDP "connection" to `port`, optionally with IP TOS `tos`; returns the source
/// address the server saw, or `None` if no answer came (three tries).
pub fn udp_ask(client: &Netns, port: u16, tos: Option<u8>) -> Option<SocketAddr> {
    let socket = client.enter(|| UdpSocket::bind((CLIENT_ADDR, 0)).unwrap());
    if let Some(tos) = tos {
        set_int_option(&socket, libc::IPPROTO_IP, libc::IP_TOS, i32::from(tos));
    }
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 128];
    (0..3).find_map(|_| {
        socket.send_to(b"who", (SERVER_ADDR, port)).unwrap();
        let (n, _) = socket.recv_from(&mut buf).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.parse().ok()
    })
}

/// A TCP connection from the client to an echo-peer server.
pub struct TcpAsker {
    stream: BufReader<TcpStream>,
}

impl TcpAsker {
    /// Connects from the client to `port` on the server.
    pub fn connect(client: &Netns, port: u16) -> Self {
        let stream = client.enter(|| {
            TcpStream::connect_timeout(&(SERVER_ADDR, port).into(), Duration::from_secs(3)).unwrap()
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// One request/answer on the existing connection: the peer address the server sees; `None` if the
    /// connection broke (as it would if its packets switched WAN behind NAT).
    pub fn ask(&mut self) -> Option<SocketAddr> {
        self.stream.get_mut().write_all(b"who\n").ok()?;
        let mut line = String::new();
        self.stream.read_line(&mut line).ok()?;
        line.trim().parse().ok()
    }
}

/// A bounded bulk TCP upload from the client (CUBIC, so it fills the WAN1 bottleneck's queue).
pub struct BulkUpload {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The peer address the server saw at the start.
    pub peer: SocketAddr,
    /// Bytes written so far.
    pub sent: Arc<AtomicU64>,
}

impl BulkUpload {
    /// Starts uploading to the sink on `port`; stops on drop or after [`MAX_RUNTIME`].
    pub fn start(client: &Netns, port: u16) -> Self {
        let mut asker = TcpAsker::connect(client, port);
        crate::tcp::set_congestion(asker.stream.get_ref(), "cubic");
        let peer = asker.ask().expect("bulk sink answers");
        let mut stream = asker.stream.into_inner();
        let (stop, sent) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (stop2, sent2) = (stop.clone(), sent.clone());
        stream
            .set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let deadline = Instant::now() + MAX_RUNTIME;
        let thread = std::thread::spawn(move || {
            let chunk = vec![0x5au8; 64 * 1024];
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match stream.write(&chunk) {
                    Ok(n) => {
                        sent2.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => return,
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
            peer,
            sent,
        }
    }
}

impl Drop for BulkUpload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set_int_option(socket: &impl AsRawFd, level: i32, option: i32, value: i32) {
    // SAFETY: valid fd and a pointer to an int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&raw const value).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt({level}, {option}): {}",
        std::io::Error::last_os_error()
    );
}
