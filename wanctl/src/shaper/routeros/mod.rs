//! MikroTik RouterOS v7 over its REST API: queue `max-limit` by name, queue statistics, mangle rules by
//! comment, and a per-router writer task that keeps the control loop from ever waiting on the router.
//!
//! - [`RouterOsConfig`] (one per router) → `validate()` → [`RouterOsClient::new`] with a [`Password`]
//!   from [`load_password`] (systemd credential or a private file).
//! - [`RouterOsWriter`] implements [`crate::shaper::Shaper`]: `apply` stores the newest target and
//!   returns; its task writes `max-limit` past the deadband, within the rate limit (decreases first),
//!   with backoff and a circuit breaker. Dropping the writer stops the task.
//! - Steering shares the writer's client ([`RouterOsWriter::client`]) and calls
//!   [`RouterOsClient::set_mangle_enabled`], which reads the rules back to verify.
//!
//! RouterOS `.id`s are cached per name and re-resolved on 404, on a reply naming another queue, and
//! after any connection loss (a reboot renumbers them).

mod breaker;
mod client;
mod config;
mod error;
mod limiter;
mod mangle;
mod plan;
mod queue;
mod secret;
mod stats;
mod task;
mod validate;
mod wire;
mod writer;

pub use client::RouterOsClient;
pub use config::{
    BreakerConfig, QueueMap, QueueRef, RateLimitConfig, RetryConfig, RouterOsConfig, Scheme,
};
pub use error::RouterOsError;
pub use limiter::WriteLimiter;
pub use mangle::MangleRule;
pub use queue::QueueEntry;
pub use secret::{Password, load_password, load_password_from};
pub use stats::CounterTracker;
pub use wire::{Counters, MaxLimit, RawCounters};
pub use writer::RouterOsWriter;
