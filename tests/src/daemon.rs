//! The real `wanctl run` binary in a namespace, as systemd would run it: a notification socket the test
//! reads (READY, STATUS, WATCHDOG, RELOADING, STOPPING), a credentials directory, signals by PID, and
//! HTTP requests to its health endpoint from inside the namespace. The process is killed on drop.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    os::unix::net::UnixDatagram,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::netns::Netns;

/// The `wanctl` binary built next to the running test or benchmark (`cargo build -p wanctl [--release]`).
pub fn wanctl_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join("wanctl");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p wanctl` (cargo xtask test does)",
        binary.display()
    );
    binary
}

/// A running `wanctl run`.
pub struct Daemon {
    child: Child,
    notify: mpsc::Receiver<String>,
    /// Where its stderr (the log) goes.
    pub log: PathBuf,
    /// Every notification received so far, in order.
    pub messages: Vec<String>,
    /// When it was spawned.
    pub started: Instant,
}

impl Daemon {
    /// Starts `wanctl run --config <config>` in `ns` with `dir` holding its notification socket, log and
    /// credentials (`dir/credentials`); `watchdog` sets WATCHDOG_USEC as systemd would.
    pub fn spawn(
        ns: &Netns,
        dir: &Path,
        config: &Path,
        extra_args: &[&str],
        watchdog: Option<Duration>,
    ) -> Self {
        let socket_path = dir.join(format!("notify-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket_path);
        let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
        // Read continuously, as systemd does: the sender's queue holds only a few datagrams.
        let (sender, notify) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buffer) {
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let log = dir.join("wanctl.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns.name()])
            .arg(wanctl_binary())
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra_args)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("CREDENTIALS_DIRECTORY", dir.join("credentials"))
            .env(
                "RUST_LOG",
                std::env::var("WANCTL_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(period) = watchdog {
            command.env("WATCHDOG_USEC", period.as_micros().to_string());
        }
        let started = Instant::now();
        let child = command.spawn().expect("spawn wanctl run");
        Self {
            child,
            notify,
            log,
            messages: Vec::new(),
            started,
        }
    }

    /// The PID of the daemon (`ip netns exec` execs it, so the child is wanctl itself).
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the PID of a child this harness spawned and has not reaped.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Reads notifications until one satisfies `done` (returned) or `patience` passes (panics with the
    /// log). Every message read is kept in [`Daemon::messages`].
    pub fn wait_for(&mut self, patience: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("wanctl exited ({status}) early:\n{}", self.log_text());
            }
            let Ok(message) = self.notify.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            self.messages.push(message.clone());
            if done(&message) {
                return message;
            }
        }
        panic!(
            "no matching notification within {patience:?}; got {:?}\n{}",
            self.messages,
            self.log_text()
        );
    }

    /// Reads whatever notifications arrive during `window`.
    pub fn drain(&mut self, window: Duration) -> Vec<String> {
        let end = Instant::now() + window;
        let mut got = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if let Ok(message) = self.notify.recv_timeout(left) {
                self.messages.push(message.clone());
                got.push(message);
            }
        }
        got
    }

    /// Waits for the process to exit (bounded); `None` if it did not.
    pub fn wait_exit(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- wanctl log ---\n{}", self.log_text());
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free TCP port on 127.0.0.1 inside `ns` (a fresh namespace has every port free; this just picks one).
pub fn free_port(ns: &Netns) -> u16 {
    ns.enter(|| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port")
    })
}

/// `GET path` over HTTP/1.0 from inside `ns`: (status code, body).
pub fn http_get(ns: &Netns, address: SocketAddr, path: &str) -> (u16, String) {
    ns.enter(|| {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {address}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        (status, body)
    })
}

/// The value of the first metric line starting with `name` (labels included in `name`).
pub fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// An emulated MikroTik (plain HTTP) listening inside `ns`, where the daemon runs, with the queue trees
/// `wan-down` and `wan-up` at `max_limit`; returns it with its `routeros:` configuration section.
pub fn router_in(
    ns: &Netns,
    runtime: &tokio::runtime::Runtime,
    max_limit: &str,
) -> (crate::routeros_emulator::Emulator, serde_json::Value) {
    let emu = ns.enter(|| runtime.block_on(crate::routeros_emulator::Emulator::start_http()));
    emu.add_queue_tree("wan-down", max_limit);
    emu.add_queue_tree("wan-up", max_limit);
    let config = serde_json::to_value(emu.config(None)).expect("router config");
    (emu, config)
}
