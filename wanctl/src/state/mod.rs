//! Persisted controller state: atomic writes, backup recovery, bounds-checked loading.
