//! SIGHUP reloads the configuration only when the new file is valid; a bad file keeps the old configuration
//! running, says why, and still answers systemd with READY=1. SIGTERM ends with STOPPING=1.
//!
//! Signals go to this test process itself, so this binary has exactly one test.

use std::{os::unix::net::UnixDatagram, sync::Arc, time::Duration};

use wanctl::{
    config::{Config, load_config, reload_config},
    service::{LoadFn, Notifier, Reloader, Signals},
};

const PATIENCE: Duration = Duration::from_secs(20);

fn config_text(interface: &str) -> String {
    format!(
        "schema_version: 1\nwans:\n  - name: wan1\n    interface: {interface}\n    control: \
         {{download: {{ceiling: 95Mbit, floor_red: 20Mbit, step_up: 1Mbit}}, \
         upload: {{ceiling: 18Mbit, floor_red: 4Mbit, step_up: 1Mbit}}}}\n"
    )
}

fn next_message(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 1024];
    let n = socket
        .recv(&mut buffer)
        .expect("no notification within the patience window");
    String::from_utf8(buffer[..n].to_vec()).unwrap()
}

fn raise(signal: libc::c_int) {
    // SAFETY: kill(2) on our own PID; the handler was installed by `Signals::install`.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signal) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_good_files_keeps_the_old_config_on_bad_ones_and_sigterm_stops() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wanctl.yaml");
    let socket_path = dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    let systemd = Arc::new(systemd);
    let read = |systemd: &Arc<UnixDatagram>| {
        let systemd = Arc::clone(systemd);
        tokio::task::spawn_blocking(move || next_message(&systemd))
    };

    std::fs::write(&file, config_text("eth0")).unwrap();
    let initial = load_config(&file).unwrap().document;
    let load: LoadFn<Config, String> = Box::new(reload_config);
    let notifier = Notifier::to_socket(&socket_path).unwrap();
    let (reloader, mut config) = Reloader::new(file.clone(), initial, load, notifier);
    let mut signals = Signals::install().unwrap();
    let daemon = tokio::spawn(async move { reloader.run_until_shutdown(&mut signals).await });

    // A bad file: refused, the old configuration stays, systemd still gets READY=1.
    std::fs::write(&file, config_text("eth0\n    intreface: eth1")).unwrap();
    raise(libc::SIGHUP);
    let reloading = read(&systemd).await.unwrap();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let ready = read(&systemd).await.unwrap();
    assert!(
        ready.starts_with("READY=1\nSTATUS=reload refused, old configuration kept: ")
            && ready.contains("unknown key `intreface`; did you mean `interface`?"),
        "{ready:?}"
    );
    assert!(!config.has_changed().unwrap());
    assert_eq!(config.borrow().wans[0].interface, "eth0");

    // A good file: published to the watchers.
    std::fs::write(&file, config_text("eth1")).unwrap();
    raise(libc::SIGHUP);
    tokio::time::timeout(PATIENCE, config.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config.borrow_and_update().wans[0].interface, "eth1");
    assert!(read(&systemd).await.unwrap().starts_with("RELOADING=1\n"));
    assert_eq!(
        read(&systemd).await.unwrap(),
        "READY=1\nSTATUS=configuration reloaded\n"
    );

    // SIGTERM: STOPPING=1 and the signal loop ends.
    raise(libc::SIGTERM);
    let name = tokio::time::timeout(PATIENCE, daemon)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name, "SIGTERM");
    assert_eq!(read(&systemd).await.unwrap(), "STOPPING=1\n");
}
