//! wanctl: a Linux-native, eBPF-assisted bufferbloat controller.
//!
//! Follow one packet to one netlink message:
//! 1. [`probe`]: TC programs on the WAN interface turn TCP timestamps into RTT samples (ring buffer).
//! 2. [`signal`]: samples of one control cycle become a robust statistic, a baseline and a load RTT.
//! 3. [`control`]: per WAN and direction, a state machine and rate law turn the delay into a target rate.
//! 4. [`shaper`]: the target rate goes to local CAKE (netlink) and/or a MikroTik queue (REST).
//! 5. [`service`]: the daemon that runs the cycle, with systemd integration, health and metrics.
//!
//! The control core ([`signal`], [`control`], [`steering`]'s state machine) is pure: no I/O, no clock reads;
//! time is passed in.

pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod probe;
pub mod service;
pub mod shaper;
pub mod signal;
pub mod state;
pub mod steering;
