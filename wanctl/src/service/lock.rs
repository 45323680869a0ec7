//! Single instance: an advisory `flock` on a lock file in the runtime directory.
//!
//! The kernel drops the lock when the holder's file descriptor closes, including when the process is killed, so
//! a crashed instance never blocks a restart (unlike PID files checked with `kill(pid, 0)`).

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another wanctl is running (lock {path} held{})", holder.map(|pid| format!(" by PID {pid}")).unwrap_or_default())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The PID the holder wrote into the file, if readable.
        holder: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes `<runtime_dir>/wanctl.lock` without waiting, and writes our PID into it for operators.
    ///
    /// # Errors
    /// [`LockError::Held`] when another process holds the lock; [`LockError::Io`] when the file is unusable.
    pub fn acquire(runtime_dir: &Path) -> Result<Self, LockError> {
        let path = runtime_dir.join("wanctl.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: the holder's PID must stay readable for the error message.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    holder: text.trim().parse().ok(),
                    path,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_pid_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open in the same process conflicts too.
        match InstanceLock::acquire(dir.path()) {
            Err(LockError::Held { holder, path }) => {
                assert_eq!(holder, Some(std::process::id()));
                assert_eq!(path, first.path());
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        InstanceLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let error = InstanceLock::acquire(Path::new("/nonexistent/wanctl")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("lock file /nonexistent/wanctl/wanctl.lock: "),
            "{error}"
        );
    }
}
