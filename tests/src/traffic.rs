//! Bounded test traffic between namespaces: a CUBIC TCP bulk transfer with goodput measurement, and an
//! unresponsive UDP flood. Every loop stops by itself after its duration.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::netns::Netns;

/// Sets `TCP_CONGESTION` on a socket (the host defaults to BBR, which never builds a queue).
pub fn set_congestion(stream: &TcpStream, algorithm: &str) {
    // SAFETY: setsockopt with a valid fd and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            algorithm.as_ptr().cast(),
            algorithm.len() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "TCP_CONGESTION {algorithm}: {}",
        std::io::Error::last_os_error()
    );
}

/// Sends bulk TCP over `flows` parallel CUBIC connections from `sender` to `listen` (an address of
/// `receiver`) for `duration`; returns the receiver's total goodput in bits per second between `warmup`
/// (slow start excluded) and `duration`.
pub fn tcp_goodput(
    sender: &Netns,
    receiver: &Netns,
    listen: SocketAddr,
    flows: usize,
    duration: Duration,
    warmup: Duration,
) -> f64 {
    let counted = AtomicU64::new(0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            receiver.enter(|| {
                let listener = TcpListener::bind(listen).expect("bind receiver");
                ready_tx.send(()).expect("ready");
                std::thread::scope(|readers| {
                    for _ in 0..flows {
                        let (mut stream, _) = listener.accept().expect("accept");
                        let counted = &counted;
                        readers.spawn(move || {
                            stream
                                .set_read_timeout(Some(Duration::from_secs(2)))
                                .expect("timeout");
                            let mut buf = vec![0u8; 256 * 1024];
                            while let Ok(n) = stream.read(&mut buf) {
                                let at = start.elapsed();
                                if n == 0 || at > duration + Duration::from_secs(5) {
                                    break;
                                }
                                if at >= warmup && at <= duration {
                                    counted.fetch_add(n as u64, Ordering::Relaxed);
                                }
                            }
                        });
                    }
                });
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("receiver did not start");
        sender.enter(|| {
            std::thread::scope(|senders| {
                for _ in 0..flows {
                    senders.spawn(|| {
                        let mut stream =
                            TcpStream::connect_timeout(&listen, Duration::from_secs(5))
                                .expect("connect");
                        set_congestion(&stream, "cubic");
                        let chunk = vec![0x5au8; 64 * 1024];
                        while start.elapsed() < duration {
                            if stream.write_all(&chunk).is_err() {
                                break;
                            }
                        }
                    });
                }
            });
        });
    });
    counted.load(Ordering::Relaxed) as f64 * 8.0 / (duration - warmup).as_secs_f64()
}

/// Sends UDP datagrams of `size` bytes from `sender` to `target` at about `bps` for `duration`.
pub fn udp_flood(sender: &Netns, target: SocketAddr, bps: u64, size: usize, duration: Duration) {
    sender.enter(|| {
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind udp");
        let payload = vec![0xa5u8; size];
        let interval = Duration::from_secs_f64(size as f64 * 8.0 / bps as f64);
        let start = Instant::now();
        let mut sent = 0u32;
        while start.elapsed() < duration {
            let _ = socket.send_to(&payload, target);
            sent += 1;
            let due = interval * sent;
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    });
}
