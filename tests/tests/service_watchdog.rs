//! The watchdog under a real notification socket: WATCHDOG=1 flows while the loop makes progress, stops once it
//! stalls (announced by a STATUS line), and resumes when it progresses again.
//!
//! This binary's only test sets `NOTIFY_SOCKET` before any other thread exists, as systemd would.

use std::{
    os::unix::net::UnixDatagram,
    time::{Duration, Instant},
};

use wanctl::service::{Notifier, ProgressTracker, WatchdogGate, run_watchdog};

/// Generous: only a broken watchdog, never a slow machine, fails these waits.
const PATIENCE: Duration = Duration::from_secs(20);

fn next_message(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 1024];
    let n = socket
        .recv(&mut buffer)
        .expect("no notification within the patience window");
    String::from_utf8(buffer[..n].to_vec()).unwrap()
}

/// Reads until a message satisfies `done`, returning everything read before it.
fn read_until(socket: &UnixDatagram, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut before = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "gave up; read {before:?}");
        let message = next_message(socket);
        if done(&message) {
            return before;
        }
        before.push(message);
    }
}

#[test]
fn watchdog_pings_only_while_the_loop_progresses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&path).unwrap();
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    // SAFETY: no other thread exists yet in this single-test binary.
    unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tracker = ProgressTracker::default();
    let progress = std::sync::Arc::new(tracker.register("wan1"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = WatchdogGate::new(tracker.clone(), Duration::from_millis(100));
    let notifier = Notifier::from_env().unwrap();
    assert!(notifier.is_enabled());
    runtime.spawn(run_watchdog(
        notifier,
        gate,
        Duration::from_millis(20),
        async {
            let _ = stop_rx.await;
        },
    ));

    // Progressing: pings arrive.
    let ticking = std::sync::Arc::clone(&progress);
    let ticker = runtime.spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        loop {
            interval.tick().await;
            ticking.tick();
        }
    });
    for _ in 0..3 {
        assert_eq!(next_message(&systemd), "WATCHDOG=1\n");
    }

    // Stalled: the STATUS line comes, and after it no ping, however long we listen.
    ticker.abort();
    let before = read_until(&systemd, |m| m.starts_with("STATUS=stalled: wan1"));
    assert!(before.iter().all(|m| m == "WATCHDOG=1\n"), "{before:?}");
    systemd
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buffer = [0u8; 64];
    match systemd.recv(&mut buffer) {
        Ok(n) => panic!(
            "a stalled loop still produced {:?}",
            String::from_utf8_lossy(&buffer[..n])
        ),
        Err(error) => assert!(matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
    }

    // Progress again: pings resume.
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..2000 {
            interval.tick().await;
            progress.tick();
        }
    });
    read_until(&systemd, |m| m == "WATCHDOG=1\n");
    let _ = stop_tx.send(());
}
