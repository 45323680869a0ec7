//! Messages to systemd over `$NOTIFY_SOCKET` (sd_notify(3)): READY, STATUS, STOPPING, RELOADING with
//! MONOTONIC_USEC, WATCHDOG. The message text comes from the `sd-notify` crate; the socket is held here so that
//! tests can point it at their own socket instead of changing the process environment.

use std::{
    io,
    os::{
        linux::net::SocketAddrExt,
        unix::net::{SocketAddr, UnixDatagram},
    },
    path::Path,
    sync::Arc,
    time::Duration,
};

use sd_notify::NotifyState;

/// A handle to the service manager's notification socket; a no-op when not started by systemd.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<Arc<(UnixDatagram, SocketAddr)>>,
}

impl Notifier {
    /// The socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace); a no-op when unset.
    ///
    /// # Errors
    /// When the variable is set but the socket cannot be created or the address is invalid.
    pub fn from_env() -> io::Result<Self> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) => Self::to_socket(Path::new(&name)),
            None => Ok(Self::disabled()),
        }
    }

    /// Sends to the datagram socket at `path` (`@name` for an abstract socket).
    ///
    /// # Errors
    /// When the local socket cannot be created or the address is invalid.
    pub fn to_socket(path: &Path) -> io::Result<Self> {
        let text = path.as_os_str().as_encoded_bytes();
        let address = match text.strip_prefix(b"@") {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
            None => SocketAddr::from_pathname(path)?,
        };
        let socket = UnixDatagram::unbound()?;
        // A service manager that stops reading (the queue holds only a few datagrams) must not freeze the
        // daemon: a dropped message is reported as an error instead.
        socket.set_nonblocking(true)?;
        Ok(Self {
            target: Some(Arc::new((socket, address))),
        })
    }

    /// A notifier that sends nothing (development runs, tests).
    pub fn disabled() -> Self {
        Self { target: None }
    }

    /// Whether messages go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one datagram with every state, one assignment per line.
    ///
    /// # Errors
    /// The socket's send error (systemd gone, buffer full).
    pub fn send(&self, states: &[NotifyState<'_>]) -> io::Result<()> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let message: String = states.iter().map(|state| format!("{state}\n")).collect();
        let (socket, address) = &**target;
        socket.send_to_addr(message.as_bytes(), address).map(drop)
    }

    /// READY=1 with a STATUS line: start-up (or a reload) finished.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)])
    }

    /// STATUS=…, shown by `systemctl status`. Newlines would end the assignment, so they become "; ".
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn status(&self, status: &str) -> io::Result<()> {
        let one_line = status.replace('\n', "; ");
        self.send(&[NotifyState::Status(&one_line)])
    }

    /// RELOADING=1 with the current CLOCK_MONOTONIC, as `Type=notify-reload` requires; follow with [`Self::ready`].
    ///
    /// # Errors
    /// As [`Self::send`], or when the clock cannot be read.
    pub fn reloading(&self) -> io::Result<()> {
        self.send(&[NotifyState::Reloading, NotifyState::monotonic_usec_now()?])
    }

    /// STOPPING=1: shutdown has begun.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn stopping(&self) -> io::Result<()> {
        self.send(&[NotifyState::Stopping])
    }

    /// WATCHDOG=1. Only [`super::watchdog`] should call this, after checking real progress.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn watchdog(&self) -> io::Result<()> {
        self.send(&[NotifyState::Watchdog])
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC` (sd_watchdog_enabled(3)); `None` when disabled.
pub fn watchdog_period_from_env() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(socket: &UnixDatagram) -> String {
        let mut buffer = [0u8; 512];
        let n = socket.recv(&mut buffer).unwrap();
        String::from_utf8(buffer[..n].to_vec()).unwrap()
    }

    #[test]
    fn messages_arrive_on_a_path_socket_in_sd_notify_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::to_socket(&path).unwrap();
        notifier.ready("wan1 GREEN").unwrap();
        assert_eq!(receive(&listener), "READY=1\nSTATUS=wan1 GREEN\n");
        notifier.status("line one\nline two").unwrap();
        assert_eq!(receive(&listener), "STATUS=line one; line two\n");
        notifier.reloading().unwrap();
        let reloading = receive(&listener);
        let usec = reloading
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("{reloading:?}"));
        assert!(usec.parse::<u64>().unwrap() > 0);
        notifier.stopping().unwrap();
        assert_eq!(receive(&listener), "STOPPING=1\n");
    }

    #[test]
    fn abstract_sockets_work_and_disabled_is_silent() {
        let name = format!("wanctl-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        Notifier::to_socket(Path::new(&format!("@{name}")))
            .unwrap()
            .watchdog()
            .unwrap();
        assert_eq!(receive(&listener), "WATCHDOG=1\n");
        assert!(!Notifier::disabled().is_enabled());
        Notifier::disabled().ready("x").unwrap();
    }
}
