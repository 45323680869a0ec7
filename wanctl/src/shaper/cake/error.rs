//! Errors of the local CAKE shaper, each naming the device and saying what to do.

use super::{config::CakeConfigError, netlink::NlError, options::OptionsError, stats::StatsError};
use crate::signal::Direction;

/// Something went wrong setting up, changing or reading CAKE.
#[derive(Debug, thiserror::Error)]
pub enum CakeError {
    #[error(transparent)]
    Config(#[from] CakeConfigError),
    #[error("cannot open a route netlink socket: {0} (wanctl needs CAP_NET_ADMIN)")]
    Socket(#[source] std::io::Error),
    #[error(
        "no such device `{device}`: check `cake.interface` (or the IFB name) against `ip link`"
    )]
    NoSuchDevice { device: String },
    #[error(
        "the root qdisc of {device} is `{kind}`, not cake: with `mode: adopt` wanctl only adopts an existing \
         CAKE (use `mode: install`, or install CAKE first)"
    )]
    RootIsOtherKind { device: String, kind: String },
    #[error(
        "the kernel has no CAKE qdisc (module sch_cake missing): run `modprobe sch_cake`, or install a kernel \
         built with CONFIG_NET_SCH_CAKE"
    )]
    ModuleMissing { device: String },
    #[error(
        "handle {handle} on {device} is taken by a `{kind}` qdisc that wanctl did not create: remove it \
         (`tc qdisc del dev {device} root`) or use `mode: adopt` if it is CAKE"
    )]
    HandleTaken {
        device: String,
        handle: String,
        kind: String,
    },
    #[error(
        "{device} is shaped by cake_mq, whose per-queue children cannot be changed one by one: wanctl drives \
         a single-queue `cake` root only (replace cake_mq with cake, or do not configure this device)"
    )]
    CakeMq { device: String },
    #[error(
        "the CAKE wanctl manages on {device} was replaced or removed (root is now {found}); `on_replaced: \
         report` leaves it alone"
    )]
    Replaced { device: String, found: String },
    #[error("{} is not shaped by this CAKE shaper (not configured)", direction.as_str())]
    NotConfigured { direction: Direction },
    #[error("{op} on {device} failed: {source}")]
    Netlink {
        op: &'static str,
        device: String,
        #[source]
        source: NlError,
    },
    #[error("reading CAKE's options on {device}: {source}")]
    Options {
        device: String,
        #[source]
        source: OptionsError,
    },
    #[error("reading CAKE's statistics on {device}: {source}")]
    Stats {
        device: String,
        #[source]
        source: StatsError,
    },
    #[error("wanctl's record of what it created ({path}): {source}")]
    Record {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl CakeError {
    /// A netlink failure of `op` on `device`, translated where the errno has one meaning in context.
    pub(crate) fn netlink(op: &'static str, device: &str, source: NlError) -> Self {
        let device = device.to_string();
        match source.errno {
            libc::ENODEV => Self::NoSuchDevice { device },
            libc::EOPNOTSUPP => Self::CakeMq { device },
            _ => Self::Netlink { op, device, source },
        }
    }
}
