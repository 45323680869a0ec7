//! One state file per WAN, with a backup: written atomically and not more often than the configured interval,
//! restored through a caller-supplied validator so that a corrupt or poisoned file can never inject bad values.
//!
//! Writes are blocking file I/O; the daemon calls them from `spawn_blocking` or its shutdown path.

use std::{
    fs,
    io::ErrorKind,
    marker::PhantomData,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::{Serialize, de::DeserializeOwned};

use super::atomic::{rename_durable, write_atomic};

/// Why a state file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state could not be encoded (a type that serde_json refuses).
    #[error("encoding state for {path}: {source}")]
    Encode {
        /// The state file.
        path: PathBuf,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// The file system refused the write or rename.
    #[error("writing state file {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Which copy [`StateStore::restore`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// The state file itself.
    Primary,
    /// The backup, because the state file was missing, corrupt or refused by the validator.
    Backup,
    /// Defaults, because no copy was usable (or this is the first start).
    Default,
}

/// What [`StateStore::restore`] found.
#[derive(Debug, Clone)]
pub struct Restored<T> {
    /// The state to start from.
    pub value: T,
    /// Where it came from.
    pub source: LoadSource,
    /// Every copy that was refused and why, for the log; empty on a clean start.
    pub problems: Vec<String>,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The file was written.
    Written,
    /// The state equals what was last written; nothing to do.
    Unchanged,
    /// Changed, but the last write is more recent than the interval; a later call will write it.
    NotDue,
}

/// The state file of one WAN and its backup.
#[derive(Debug)]
pub struct StateStore<T> {
    path: PathBuf,
    backup: PathBuf,
    min_interval: Duration,
    last_saved_at: Option<Instant>,
    last_bytes: Option<Vec<u8>>,
    /// The file at `path` was read back valid or written by us, so it may become the backup.
    primary_good: bool,
    _state: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> StateStore<T> {
    /// A store for the file `path` (the backup is `path` + `.bak`), writing at most once per `min_interval`.
    pub fn new(path: impl Into<PathBuf>, min_interval: Duration) -> Self {
        let path = path.into();
        Self {
            backup: with_suffix(&path, ".bak"),
            path,
            min_interval,
            last_saved_at: None,
            last_bytes: None,
            primary_good: false,
            _state: PhantomData,
        }
    }

    /// The store of WAN `wan` in `state_dir`: `<state_dir>/<wan>.state.json`.
    pub fn for_wan(state_dir: &Path, wan: &str, min_interval: Duration) -> Self {
        Self::new(state_dir.join(format!("{wan}.state.json")), min_interval)
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state file, else the backup, else `default()`. Each copy must parse and pass `validate`, which
    /// may also repair values (clamp a rate into the configured range). A refused state file is kept as
    /// `.corrupt` for inspection and never becomes the backup.
    pub fn restore(
        &mut self,
        validate: impl Fn(T) -> Result<T, String>,
        default: impl FnOnce() -> T,
    ) -> Restored<T> {
        let mut problems = Vec::new();
        match read_valid(&self.path, &validate) {
            Ok(Some(value)) => {
                self.primary_good = true;
                return Restored {
                    value,
                    source: LoadSource::Primary,
                    problems,
                };
            }
            Ok(None) => {}
            Err(why) => {
                problems.push(format!("{}: {why}", self.path.display()));
                let corrupt = with_suffix(&self.path, ".corrupt");
                if let Err(error) = rename_durable(&self.path, &corrupt) {
                    problems.push(format!(
                        "could not keep it as {}: {error}",
                        corrupt.display()
                    ));
                }
            }
        }
        match read_valid(&self.backup, &validate) {
            Ok(Some(value)) => {
                if problems.is_empty() {
                    problems.push(format!("{}: missing", self.path.display()));
                }
                Restored {
                    value,
                    source: LoadSource::Backup,
                    problems,
                }
            }
            Ok(None) => Restored {
                value: default(),
                source: LoadSource::Default,
                problems,
            },
            Err(why) => {
                problems.push(format!("{}: {why}", self.backup.display()));
                Restored {
                    value: default(),
                    source: LoadSource::Default,
                    problems,
                }
            }
        }
    }

    /// Writes `state` if it changed and the last write is at least the interval old.
    ///
    /// # Errors
    /// [`StateError`] when encoding or writing fails; the previous files are then unchanged.
    pub fn save_if_due(&mut self, state: &T, now: Instant) -> Result<SaveOutcome, StateError> {
        let due = self
            .last_saved_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.min_interval);
        self.save(state, now, due)
    }

    /// Writes `state` now if it changed (shutdown, or a transition worth keeping at once).
    ///
    /// # Errors
    /// As [`Self::save_if_due`].
    pub fn save_now(&mut self, state: &T, now: Instant) -> Result<SaveOutcome, StateError> {
        self.save(state, now, true)
    }

    fn save(&mut self, state: &T, now: Instant, due: bool) -> Result<SaveOutcome, StateError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateError::Encode {
            path: self.path.clone(),
            source,
        })?;
        if self.last_bytes.as_deref() == Some(bytes.as_slice()) {
            return Ok(SaveOutcome::Unchanged);
        }
        if !due {
            return Ok(SaveOutcome::NotDue);
        }
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Write { path, source }
        };
        if self.primary_good {
            match rename_durable(&self.path, &self.backup) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => return Err(write_error(&self.backup)(error)),
            }
        }
        write_atomic(&self.path, &bytes).map_err(write_error(&self.path))?;
        self.primary_good = true;
        self.last_saved_at = Some(now);
        self.last_bytes = Some(bytes);
        Ok(SaveOutcome::Written)
    }
}

/// `Ok(None)` when the file does not exist; `Err` with the reason when it is unreadable, corrupt or refused.
fn read_valid<T: DeserializeOwned>(
    path: &Path,
    validate: &impl Fn(T) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("unreadable: {error}")),
    };
    let value = serde_json::from_slice(&bytes).map_err(|error| format!("corrupt: {error}"))?;
    validate(value)
        .map(Some)
        .map_err(|why| format!("refused: {why}"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
