//! MikroTik RouterOS v7 over its REST API: queue `max-limit` by name, queue statistics, mangle rules by
//! comment, and a per-router writer task that keeps the control loop from ever waiting on the router.

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
pub use wire::{Counters, MaxLimit, RawCounters};
pub use writer::RouterOsWriter;
