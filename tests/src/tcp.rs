//! Bounded TCP bulk transfers between namespaces with a chosen congestion control, recording the sender's
//! own RTT estimate (`TCP_INFO` `tcpi_rtt`) on the monotonic clock, as the reference for passive RTT.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use crate::netns::Netns;

/// Which end of the connection sends the bulk data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The connecting side (an upload from the gateway).
    Client,
    /// The accepting side (a download to the gateway).
    Server,
}

/// What a transfer did.
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    /// Bytes the receiver read.
    pub bytes: u64,
    /// The client's local port (identifies the flow in samples).
    pub client_port: u16,
    /// `(CLOCK_MONOTONIC ns, tcpi_rtt)` of the sender, about every `trace_every`.
    pub sender_rtt: Vec<(u64, Duration)>,
    /// How long the sender sent.
    pub elapsed: Duration,
}

/// CLOCK_MONOTONIC in ns: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sets the socket's congestion control ("cubic": BBR, the host default, keeps queues empty).
pub fn set_congestion(stream: &impl AsRawFd, name: &str) {
    // SAFETY: setsockopt with a valid fd and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "TCP_CONGESTION {name}: {}",
        std::io::Error::last_os_error()
    );
}

/// The kernel's smoothed RTT of the connection.
pub fn tcp_rtt(stream: &impl AsRawFd) -> Duration {
    // SAFETY: a zeroed tcp_info is valid; getsockopt fills at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        );
        assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
        Duration::from_micros(u64::from(info.tcpi_rtt))
    }
}

/// Runs one CUBIC bulk transfer for `duration` from a client in `client_ns` to a listener on `server` in
/// `server_ns`, with `sender` sending; bounded in time on both ends.
pub fn bulk(
    client_ns: &Netns,
    server_ns: &Netns,
    server: SocketAddr,
    sender: Sender,
    duration: Duration,
    trace_every: Duration,
) -> Transfer {
    let listener = server_ns.enter(|| TcpListener::bind(server).expect("bind the bulk listener"));
    set_congestion(&listener, "cubic");
    std::thread::scope(|scope| {
        let server_side = scope.spawn(|| {
            let (conn, _) = listener.accept().expect("accept");
            conn.set_read_timeout(Some(duration + Duration::from_secs(10)))
                .unwrap();
            set_congestion(&conn, "cubic");
            match sender {
                Sender::Server => send(conn, duration, trace_every),
                Sender::Client => receive(conn),
            }
        });
        let client = client_ns.enter(|| {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(server),
                socket2::Type::STREAM,
                None,
            )
            .expect("socket");
            set_congestion(&socket, "cubic");
            socket
                .connect_timeout(&server.into(), Duration::from_secs(5))
                .expect("connect");
            TcpStream::from(socket)
        });
        client
            .set_read_timeout(Some(duration + Duration::from_secs(10)))
            .unwrap();
        let client_port = client.local_addr().unwrap().port();
        let client_result = match sender {
            Sender::Client => send(client, duration, trace_every),
            Sender::Server => receive(client),
        };
        let server_result = server_side.join().expect("server thread");
        let (sent, received) = match sender {
            Sender::Client => (client_result, server_result),
            Sender::Server => (server_result, client_result),
        };
        Transfer {
            bytes: received.bytes,
            client_port,
            sender_rtt: sent.sender_rtt,
            elapsed: sent.elapsed,
        }
    })
}

fn send(mut conn: TcpStream, duration: Duration, trace_every: Duration) -> Transfer {
    conn.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let start = Instant::now();
    let mut next_trace = start;
    let mut transfer = Transfer::default();
    while start.elapsed() < duration {
        if conn.write_all(&chunk).is_err() {
            break;
        }
        transfer.bytes += chunk.len() as u64;
        if Instant::now() >= next_trace {
            transfer.sender_rtt.push((monotonic_ns(), tcp_rtt(&conn)));
            next_trace += trace_every;
        }
    }
    transfer.elapsed = start.elapsed();
    let _ = conn.shutdown(std::net::Shutdown::Write);
    // Wait for the receiver to finish so the last data is not reset away.
    let mut sink = [0u8; 1024];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
    transfer
}

fn receive(mut conn: TcpStream) -> Transfer {
    let mut buf = vec![0u8; 256 * 1024];
    let mut transfer = Transfer::default();
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        transfer.bytes += n as u64;
    }
    transfer
}
