//! Single instance: a second wanctl is refused while the first runs, and a SIGKILLed instance never blocks a
//! restart (the kernel drops a `flock` with the holder's last file descriptor).

use std::{
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use wanctl::service::{InstanceLock, LockError};

const CHILD_DIR: &str = "WANCTL_TEST_LOCK_CHILD_DIR";

/// Runs only as the child started by the test below: takes the lock and waits to be killed.
#[test]
#[ignore = "helper process of a_sigkilled_instance_never_blocks_a_restart, not a test of its own"]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    // The parent polls by taking the lock for an instant; retry while it does (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    let _lock = loop {
        match InstanceLock::acquire(Path::new(&dir)) {
            Ok(lock) => break lock,
            Err(LockError::Held { .. }) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(error) => panic!("{error}"),
        }
    };
    // Bounded: the parent kills us long before this ends.
    thread::sleep(Duration::from_secs(60));
}

fn wait_until_held(dir: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match InstanceLock::acquire(dir) {
            Err(LockError::Held {
                holder: Some(pid), ..
            }) => return pid,
            Ok(lock) => drop(lock),
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "the child never took the lock");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_sigkilled_instance_never_blocks_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--include-ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let holder = wait_until_held(dir.path());
    assert_eq!(
        holder,
        child.id(),
        "the lock file names the running instance"
    );

    // SAFETY: kill(2) on the child we started and have not yet reaped; no memory is involved.
    let status = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(status, 0);
    child.wait().unwrap();

    let lock = InstanceLock::acquire(dir.path()).expect("restart after SIGKILL must take the lock");
    let pid: u32 = std::fs::read_to_string(lock.path())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, std::process::id());
}
