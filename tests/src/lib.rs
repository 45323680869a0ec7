//! Harnesses for wanctl's integration tests and benchmarks.
//!
//! Everything here creates its own namespaces and links, uses documentation-range addresses only
//! (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and removes what it made on drop,
//! including when a test panics.

pub mod active_topology;
pub mod cake;
pub mod daemon;
pub mod lab;
pub mod netns;
pub mod packet;
pub mod prog_run;
pub mod routeros_emulator;
pub mod steering_topology;
pub mod tc;
pub mod tcp;
pub mod topology;
pub mod traffic;
