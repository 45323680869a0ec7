//! CAKE's qdisc options (`TCA_OPTIONS` of a `cake` qdisc), typed, with their exact uapi numbers.
//!
//! Kernel reference: `include/uapi/linux/pkt_sched.h` and `net/sched/sch_cake.c` (`cake_change`,
//! `cake_dump`) at v6.12. `cake_change` updates only the attributes present, so a message holding only
//! [`TCA_CAKE_BASE_RATE64`] changes only the rate.

use netlink_packet_core::{DefaultNla, NlasIterator};
use netlink_packet_route::tc::TcOption;

pub(crate) const TCA_CAKE_BASE_RATE64: u16 = 2;
pub(crate) const TCA_CAKE_DIFFSERV_MODE: u16 = 3;
pub(crate) const TCA_CAKE_ATM: u16 = 4;
pub(crate) const TCA_CAKE_FLOW_MODE: u16 = 5;
pub(crate) const TCA_CAKE_OVERHEAD: u16 = 6;
pub(crate) const TCA_CAKE_RTT: u16 = 7;
pub(crate) const TCA_CAKE_TARGET: u16 = 8;
pub(crate) const TCA_CAKE_AUTORATE: u16 = 9;
pub(crate) const TCA_CAKE_MEMORY: u16 = 10;
pub(crate) const TCA_CAKE_NAT: u16 = 11;
pub(crate) const TCA_CAKE_RAW: u16 = 12;
pub(crate) const TCA_CAKE_WASH: u16 = 13;
pub(crate) const TCA_CAKE_MPU: u16 = 14;
pub(crate) const TCA_CAKE_INGRESS: u16 = 15;
pub(crate) const TCA_CAKE_ACK_FILTER: u16 = 16;
pub(crate) const TCA_CAKE_SPLIT_GSO: u16 = 17;
pub(crate) const TCA_CAKE_FWMARK: u16 = 18;

macro_rules! kernel_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// The kernel's number for this value.
            pub const fn to_kernel(self) -> u32 {
                match self { $(Self::$variant => $value,)+ }
            }

            /// The value for a kernel number, if known.
            pub const fn from_kernel(value: u32) -> Option<Self> {
                match value { $($value => Some(Self::$variant),)+ _ => None }
            }

            /// The keyword `tc` uses.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kernel_enum!(
    /// Priority tins (`CAKE_DIFFSERV_*`).
    DiffservMode {
        Diffserv3 = 0, "diffserv3";
        Diffserv4 = 1, "diffserv4";
        Diffserv8 = 2, "diffserv8";
        Besteffort = 3, "besteffort";
        Precedence = 4, "precedence";
    }
);

kernel_enum!(
    /// Flow isolation (`CAKE_FLOW_*`).
    FlowMode {
        Flowblind = 0, "flowblind";
        Srchost = 1, "srchost";
        Dsthost = 2, "dsthost";
        Hosts = 3, "hosts";
        Flows = 4, "flows";
        DualSrchost = 5, "dual-srchost";
        DualDsthost = 6, "dual-dsthost";
        TripleIsolate = 7, "triple-isolate";
    }
);

kernel_enum!(
    /// ACK filtering (`CAKE_ACK_*`).
    AckFilter {
        Disabled = 0, "disabled";
        Filter = 1, "ack-filter";
        Aggressive = 2, "ack-filter-aggressive";
    }
);

kernel_enum!(
    /// Link-layer cell framing (`CAKE_ATM_*`).
    AtmMode {
        None = 0, "noatm";
        Atm = 1, "atm";
        Ptm = 2, "ptm";
    }
);

/// A CAKE option set as sent to or read from the kernel; `None` means "not present" (keep the current
/// value on a change, kernel default on install).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CakeOptions {
    /// Shaped rate in bytes per second (0 = unlimited), as the kernel stores it.
    pub base_rate_bytes: Option<u64>,
    pub diffserv: Option<DiffservMode>,
    pub atm: Option<AtmMode>,
    pub flow_mode: Option<FlowMode>,
    /// Per-packet overhead in bytes; setting it turns raw mode off.
    pub overhead: Option<i32>,
    pub rtt_us: Option<u32>,
    pub target_us: Option<u32>,
    pub autorate: Option<bool>,
    pub memory_bytes: Option<u32>,
    pub nat: Option<bool>,
    /// Raw mode (no overhead compensation). Present in a dump when raw; sending it clears the overhead.
    pub raw: bool,
    pub wash: Option<bool>,
    pub mpu: Option<u32>,
    pub ingress: Option<bool>,
    pub ack_filter: Option<AckFilter>,
    pub split_gso: Option<bool>,
    pub fwmark: Option<u32>,
}

impl CakeOptions {
    /// Only the rate: what the control loop sends (`tc qdisc change ... cake bandwidth N` without the
    /// `autorate-ingress` reset `tc` adds).
    pub fn rate_only(bytes_per_second: u64) -> Self {
        Self {
            base_rate_bytes: Some(bytes_per_second),
            ..Self::default()
        }
    }

    /// The attributes inside `TCA_OPTIONS`, in the kernel's numbering, native byte order.
    pub fn to_nlas(&self) -> Vec<TcOption> {
        let mut out = Vec::new();
        let mut u32_opt = |kind: u16, value: Option<u32>| {
            if let Some(v) = value {
                out.push(TcOption::Other(DefaultNla::new(
                    kind,
                    v.to_ne_bytes().to_vec(),
                )));
            }
        };
        u32_opt(
            TCA_CAKE_DIFFSERV_MODE,
            self.diffserv.map(DiffservMode::to_kernel),
        );
        u32_opt(TCA_CAKE_ATM, self.atm.map(AtmMode::to_kernel));
        u32_opt(TCA_CAKE_FLOW_MODE, self.flow_mode.map(FlowMode::to_kernel));
        u32_opt(TCA_CAKE_RTT, self.rtt_us);
        u32_opt(TCA_CAKE_TARGET, self.target_us);
        u32_opt(TCA_CAKE_AUTORATE, self.autorate.map(u32::from));
        u32_opt(TCA_CAKE_MEMORY, self.memory_bytes);
        u32_opt(TCA_CAKE_NAT, self.nat.map(u32::from));
        u32_opt(TCA_CAKE_WASH, self.wash.map(u32::from));
        u32_opt(TCA_CAKE_MPU, self.mpu);
        u32_opt(TCA_CAKE_INGRESS, self.ingress.map(u32::from));
        u32_opt(
            TCA_CAKE_ACK_FILTER,
            self.ack_filter.map(AckFilter::to_kernel),
        );
        u32_opt(TCA_CAKE_SPLIT_GSO, self.split_gso.map(u32::from));
        u32_opt(TCA_CAKE_FWMARK, self.fwmark);
        u32_opt(TCA_CAKE_RAW, self.raw.then_some(0));
        let mut head = Vec::new();
        if let Some(rate) = self.base_rate_bytes {
            head.push(TcOption::Other(DefaultNla::new(
                TCA_CAKE_BASE_RATE64,
                rate.to_ne_bytes().to_vec(),
            )));
        }
        if let Some(overhead) = self.overhead {
            out.push(TcOption::Other(DefaultNla::new(
                TCA_CAKE_OVERHEAD,
                overhead.to_ne_bytes().to_vec(),
            )));
        }
        head.extend(out);
        head
    }

    /// Reads the nested attributes of a dumped `TCA_OPTIONS`; unknown attributes are ignored and
    /// malformed ones are reported by number.
    pub fn parse(nested: &[u8]) -> Result<Self, OptionsError> {
        let mut o = Self::default();
        for nla in NlasIterator::new(nested) {
            let nla = nla.map_err(|_| OptionsError::Malformed)?;
            let kind = nla.kind() & 0x3fff;
            let value = nla.value();
            let bad = || OptionsError::BadAttribute(kind);
            let as_u32 = || value.try_into().map(u32::from_ne_bytes).map_err(|_| bad());
            match kind {
                TCA_CAKE_BASE_RATE64 => {
                    o.base_rate_bytes = Some(
                        value
                            .try_into()
                            .map(u64::from_ne_bytes)
                            .map_err(|_| bad())?,
                    );
                }
                TCA_CAKE_DIFFSERV_MODE => {
                    o.diffserv = Some(DiffservMode::from_kernel(as_u32()?).ok_or_else(bad)?);
                }
                TCA_CAKE_ATM => o.atm = Some(AtmMode::from_kernel(as_u32()?).ok_or_else(bad)?),
                TCA_CAKE_FLOW_MODE => {
                    o.flow_mode = Some(FlowMode::from_kernel(as_u32()?).ok_or_else(bad)?);
                }
                TCA_CAKE_OVERHEAD => {
                    o.overhead = Some(
                        value
                            .try_into()
                            .map(i32::from_ne_bytes)
                            .map_err(|_| bad())?,
                    );
                }
                TCA_CAKE_RTT => o.rtt_us = Some(as_u32()?),
                TCA_CAKE_TARGET => o.target_us = Some(as_u32()?),
                TCA_CAKE_AUTORATE => o.autorate = Some(as_u32()? != 0),
                TCA_CAKE_MEMORY => o.memory_bytes = Some(as_u32()?),
                TCA_CAKE_NAT => o.nat = Some(as_u32()? != 0),
                TCA_CAKE_RAW => o.raw = true,
                TCA_CAKE_WASH => o.wash = Some(as_u32()? != 0),
                TCA_CAKE_MPU => o.mpu = Some(as_u32()?),
                TCA_CAKE_INGRESS => o.ingress = Some(as_u32()? != 0),
                TCA_CAKE_ACK_FILTER => {
                    o.ack_filter = Some(AckFilter::from_kernel(as_u32()?).ok_or_else(bad)?);
                }
                TCA_CAKE_SPLIT_GSO => o.split_gso = Some(as_u32()? != 0),
                TCA_CAKE_FWMARK => o.fwmark = Some(as_u32()?),
                _ => {}
            }
        }
        Ok(o)
    }
}

/// A `TCA_OPTIONS` blob of a `cake` qdisc could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("malformed netlink attributes in CAKE's TCA_OPTIONS")]
    Malformed,
    #[error("CAKE option attribute {0} has an unexpected size or value")]
    BadAttribute(u16),
}
