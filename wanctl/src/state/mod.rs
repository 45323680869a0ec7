//! Persisted controller state: atomic writes, backup recovery, bounds-checked loading.

mod atomic;
mod store;

pub use atomic::write_atomic;
pub use store::{LoadSource, Restored, SaveOutcome, StateError, StateStore};
