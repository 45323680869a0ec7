//! The lab's own traffic: bulk CUBIC flows counted into time bins by their receivers, a TCP
//! request/response probe and a UDP echo probe. Every loop ends by a deadline.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::data::{ProbeKind, ProbeSample};
use crate::tcp::set_congestion;

/// Bytes received per time bin from `t0` on.
pub struct Bins {
    pub t0: Instant,
    pub width: Duration,
    counts: Vec<AtomicU64>,
}

impl Bins {
    /// `count` bins of `width` from `t0`.
    pub fn new(t0: Instant, width: Duration, count: usize) -> Self {
        Self {
            t0,
            width,
            counts: (0..count).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts `bytes` received now (ignored outside the bins).
    pub fn add(&self, bytes: usize) {
        let Some(since) = Instant::now().checked_duration_since(self.t0) else {
            return;
        };
        let index = (since.as_secs_f64() / self.width.as_secs_f64()) as usize;
        if let Some(bin) = self.counts.get(index) {
            bin.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Bytes in bin `index`.
    pub fn get(&self, index: usize) -> u64 {
        self.counts
            .get(index)
            .map_or(0, |b| b.load(Ordering::Relaxed))
    }

    /// All counts.
    pub fn snapshot(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

/// Seconds from `t0` to `at` (negative before `t0`).
pub fn offset(t0: Instant, at: Instant) -> f64 {
    match at.checked_duration_since(t0) {
        Some(d) => d.as_secs_f64(),
        None => -(t0 - at).as_secs_f64(),
    }
}

fn cubic(stream: &TcpStream) {
    set_congestion(stream, "cubic");
}

/// Sends bulk data on `stream` until `stop`, then closes its sending side.
pub fn send_until(mut stream: TcpStream, stop: Instant) {
    cubic(&stream);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(300)));
    let chunk = vec![0x5au8; 64 * 1024];
    while Instant::now() < stop {
        match stream.write(&chunk) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Reads `stream` into `bins` until the peer closes or `give_up` passes.
pub fn receive_until(mut stream: TcpStream, bins: &Bins, give_up: Instant) {
    cubic(&stream);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
    let mut buf = vec![0u8; 128 * 1024];
    while Instant::now() < give_up {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bins.add(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
}

/// Accepts up to `count` connections on `listener` before `give_up`.
pub fn accept(listener: &TcpListener, count: usize, give_up: Instant) -> Vec<TcpStream> {
    let _ = listener.set_nonblocking(true);
    let mut streams = Vec::new();
    while streams.len() < count && Instant::now() < give_up {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                streams.push(stream);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    streams
}

/// A CUBIC socket connected to `to` (call inside the client's namespace).
pub fn connect(to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        None,
    )?;
    set_congestion(&socket, "cubic");
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(TcpStream::from(socket))
}

const PROBE_LEN: usize = 32;

/// Runs the calling thread at real-time priority. The probes measure the network; in the lab their
/// client and server share two emulated vCPUs with the bulk flows' senders and receivers and the daemon,
/// and a probe thread waiting for a vCPU would add scheduler delay to every mode's latency (on a real
/// network they are separate hosts). Best effort: without the privilege the probes run as before.
fn measure_at_realtime_priority() {
    let param = libc::sched_param { sched_priority: 50 };
    // SAFETY: sets the calling thread's (pid 0) policy from a valid, initialised parameter.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
}

/// Echoes fixed-size TCP requests on the first connection of `listener` until `stop`.
pub fn tcp_echo(listener: &TcpListener, stop: Instant) {
    measure_at_realtime_priority();
    let Some(mut stream) = accept(listener, 1, stop).into_iter().next() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
    let mut buf = [0u8; PROBE_LEN];
    let mut filled = 0;
    while Instant::now() < stop {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled == PROBE_LEN {
                    if stream.write_all(&buf).is_err() {
                        break;
                    }
                    filled = 0;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
}

/// Echoes UDP datagrams on `socket` until `stop`.
pub fn udp_echo(socket: &UdpSocket, stop: Instant) {
    measure_at_realtime_priority();
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 256];
    while Instant::now() < stop {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    }
}

/// Sends a request every `interval` on `stream` and waits for its echo, from now until `stop`; each
/// sample goes into `out` (times relative to `t0`). A request whose answer has not come by `stop` plus
/// two seconds counts as lost.
pub fn tcp_probe(
    mut stream: TcpStream,
    t0: Instant,
    interval: Duration,
    stop: Instant,
    out: &Mutex<Vec<ProbeSample>>,
) {
    measure_at_realtime_priority();
    let _ = stream.set_nodelay(true);
    let give_up = stop + Duration::from_secs(2);
    let mut next = Instant::now();
    while next < stop {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = Instant::now();
        let request = [0x42u8; PROBE_LEN];
        let mut answered = stream.write_all(&request).is_ok();
        let mut buf = [0u8; PROBE_LEN];
        let mut filled = 0;
        while answered && filled < PROBE_LEN {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                answered = false;
                break;
            }
            match stream.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => answered = false,
                Ok(n) => filled += n,
            }
        }
        let rtt = answered.then(|| sent.elapsed().as_secs_f64() * 1e3);
        if let Ok(mut samples) = out.lock() {
            samples.push(ProbeSample {
                t: offset(t0, sent),
                kind: ProbeKind::Tcp,
                rtt_ms: rtt,
            });
        }
        if !answered {
            break;
        }
        next += interval;
        // A late answer delays the next request instead of sending a burst to catch up.
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
}

/// Sends a numbered datagram every `interval` from now until `stop` and matches the echoes; returns the
/// samples (times relative to `t0`), unanswered ones as lost.
pub fn udp_probe(
    socket: &UdpSocket,
    t0: Instant,
    interval: Duration,
    stop: Instant,
) -> Vec<ProbeSample> {
    let sent: Mutex<Vec<(Instant, Option<f64>)>> = Mutex::new(Vec::new());
    let give_up = stop + Duration::from_secs(1);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            measure_at_realtime_priority();
            let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 64];
            while Instant::now() < give_up {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                let now = Instant::now();
                let Some(seq) = buf
                    .get(..8)
                    .filter(|_| n >= 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                else {
                    continue;
                };
                if let Ok(mut sent) = sent.lock()
                    && let Some(entry) = sent.get_mut(seq as usize)
                    && entry.1.is_none()
                {
                    entry.1 = Some((now - entry.0).as_secs_f64() * 1e3);
                }
            }
        });
        measure_at_realtime_priority();
        let mut next = Instant::now();
        let mut seq: u64 = 0;
        while next < stop {
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut payload = [0u8; 40];
            payload[..8].copy_from_slice(&seq.to_be_bytes());
            if let Ok(mut sent) = sent.lock() {
                sent.push((Instant::now(), None));
            }
            let _ = socket.send(&payload);
            seq += 1;
            next += interval;
        }
    });
    sent.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|(at, rtt)| ProbeSample {
            t: offset(t0, at),
            kind: ProbeKind::Udp,
            rtt_ms: rtt,
        })
        .collect()
}
