//! One root CAKE qdisc wanctl drives: install or adopt it, change its rate, read it back.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};

use super::{
    error::CakeError,
    netlink::{Handle32, Netlink, QdiscInfo, ROOT},
    options::CakeOptions,
    stats::{Accumulator, CakeAppStats},
};
use crate::shaper::DirectionStats;

/// The handle wanctl pins its CAKE to (`1:`), so a rate change can never graft a new qdisc.
pub const CAKE_HANDLE: Handle32 = 0x0001_0000;

/// What a read of the root qdisc found.
#[derive(Debug, Clone)]
pub struct CakeReading {
    pub options: CakeOptions,
    pub app: CakeAppStats,
    /// `TCA_STATS_BASIC` bytes/packets and `TCA_STATS_QUEUE` drops/backlog: qdisc totals.
    pub totals: QdiscInfo,
}

/// A root CAKE on one device.
#[derive(Debug)]
pub struct CakeQdisc {
    pub device: String,
    pub ifindex: u32,
    pub handle: Handle32,
    /// The full option set to (re)install with; its rate follows the last applied rate.
    pub desired: CakeOptions,
    /// The rate last written, bytes per second.
    pub last_rate: Option<u64>,
    accumulator: Accumulator,
}

/// `a:b` as `tc` prints handles.
pub fn handle_text(handle: Handle32) -> String {
    format!(
        "{:x}:{}",
        handle >> 16,
        if handle & 0xffff == 0 {
            String::new()
        } else {
            format!("{:x}", handle & 0xffff)
        }
    )
}

/// The device index of `device`, or `NoSuchDevice`.
pub async fn device_index(nl: &Netlink, device: &str) -> Result<u32, CakeError> {
    nl.link_index(device)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETLINK", device, e))?
        .ok_or_else(|| CakeError::NoSuchDevice {
            device: device.to_string(),
        })
}

async fn root(nl: &Netlink, device: &str, ifindex: u32) -> Result<Option<QdiscInfo>, CakeError> {
    nl.qdisc_at(ifindex, ROOT)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETQDISC root", device, e))
}

fn describe_root(root: Option<&QdiscInfo>) -> String {
    root.map_or_else(
        || "the default qdisc".to_string(),
        |q| format!("`{} {}`", q.kind, handle_text(q.handle)),
    )
}

impl CakeQdisc {
    /// Installs CAKE with `options` as the root of `device` with handle `1:` (`tc qdisc replace dev D root
    /// handle 1: cake ...`). Returns the qdisc and whether wanctl created it (false: it was already ours).
    pub async fn install(
        nl: &Netlink,
        device: &str,
        options: CakeOptions,
    ) -> Result<(Self, bool), CakeError> {
        let ifindex = device_index(nl, device).await?;
        let current = root(nl, device, ifindex).await?;
        let mut created = true;
        if let Some(q) = &current {
            if q.kind == "cake_mq" {
                return Err(CakeError::CakeMq {
                    device: device.into(),
                });
            }
            if q.handle == CAKE_HANDLE && q.kind != "cake" {
                return Err(CakeError::HandleTaken {
                    device: device.into(),
                    handle: handle_text(CAKE_HANDLE),
                    kind: q.kind.clone(),
                });
            }
            // Same kind and handle: the kernel takes the change path and keeps the qdisc (and its counters).
            created = !(q.kind == "cake" && q.handle == CAKE_HANDLE);
        }
        let qdisc = Self {
            device: device.into(),
            ifindex,
            handle: CAKE_HANDLE,
            last_rate: options.base_rate_bytes,
            desired: options,
            accumulator: Accumulator::default(),
        };
        qdisc.write_full(nl).await?;
        Ok((qdisc, created))
    }

    /// Adopts the CAKE already at the root of `device`, whatever its handle; nothing is changed.
    pub async fn adopt(nl: &Netlink, device: &str) -> Result<Self, CakeError> {
        let ifindex = device_index(nl, device).await?;
        let current = root(nl, device, ifindex).await?;
        let q = match current {
            Some(q) if q.kind == "cake" => q,
            Some(q) if q.kind == "cake_mq" => {
                return Err(CakeError::CakeMq {
                    device: device.into(),
                });
            }
            other => {
                return Err(CakeError::RootIsOtherKind {
                    device: device.into(),
                    kind: other.map_or_else(|| "the default (none installed)".into(), |q| q.kind),
                });
            }
        };
        let options =
            CakeOptions::parse(q.options.as_deref().unwrap_or_default()).map_err(|source| {
                CakeError::Options {
                    device: device.into(),
                    source,
                }
            })?;
        Ok(Self {
            device: device.into(),
            ifindex,
            handle: q.handle,
            last_rate: options.base_rate_bytes,
            desired: options,
            accumulator: Accumulator::default(),
        })
    }

    /// Writes the whole option set (replace: creates, or changes a CAKE with the same handle in place).
    pub async fn write_full(&self, nl: &Netlink) -> Result<(), CakeError> {
        let mut options = self.desired.clone();
        options.base_rate_bytes = self.last_rate.or(options.base_rate_bytes);
        nl.new_qdisc(
            self.ifindex,
            ROOT,
            self.handle,
            "cake",
            Some(options.to_nlas()),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
        .map_err(|e| {
            if e.errno == libc::ENOENT {
                // Creating a qdisc of an unknown kind: the kernel could not load sch_cake.
                CakeError::ModuleMissing {
                    device: self.device.clone(),
                }
            } else {
                CakeError::netlink("RTM_NEWQDISC cake replace", &self.device, e)
            }
        })
    }

    /// Changes only `TCA_CAKE_BASE_RATE64` (`tc qdisc change dev D root handle 1: cake bandwidth N`, minus
    /// the autorate reset `tc` adds). Skips the write when the rate is unchanged; returns whether it wrote.
    pub async fn set_rate(
        &mut self,
        nl: &Netlink,
        bytes_per_second: u64,
    ) -> Result<bool, CakeError> {
        if self.last_rate == Some(bytes_per_second) {
            return Ok(false);
        }
        let options = CakeOptions::rate_only(bytes_per_second).to_nlas();
        nl.new_qdisc(self.ifindex, ROOT, self.handle, "cake", Some(options), 0)
            .await
            .map_err(|e| CakeError::netlink("RTM_NEWQDISC cake change", &self.device, e))?;
        self.last_rate = Some(bytes_per_second);
        Ok(true)
    }

    /// Reads the root qdisc; `Err(Replaced)` when it is no longer this CAKE.
    pub async fn read(&self, nl: &Netlink) -> Result<CakeReading, CakeError> {
        let current = root(nl, &self.device, self.ifindex).await?;
        match current {
            Some(q) if q.kind == "cake" && q.handle == self.handle => {
                let options = CakeOptions::parse(q.options.as_deref().unwrap_or_default())
                    .map_err(|source| CakeError::Options {
                        device: self.device.clone(),
                        source,
                    })?;
                let app = CakeAppStats::parse(q.app_stats.as_deref().unwrap_or_default()).map_err(
                    |source| CakeError::Stats {
                        device: self.device.clone(),
                        source,
                    },
                )?;
                Ok(CakeReading {
                    options,
                    app,
                    totals: q,
                })
            }
            other => Err(CakeError::Replaced {
                device: self.device.clone(),
                found: describe_root(other.as_ref()),
            }),
        }
    }

    /// Reads and folds the per-tin counters into cumulative statistics.
    pub async fn stats(&mut self, nl: &Netlink) -> Result<DirectionStats, CakeError> {
        let reading = self.read(nl).await?;
        Ok(self.accumulator.update(&reading.app))
    }

    /// Installs the configured CAKE again after it was replaced, at the last applied rate.
    pub async fn reinstall(&mut self, nl: &Netlink) -> Result<(), CakeError> {
        self.ifindex = device_index(nl, &self.device).await?;
        let current = root(nl, &self.device, self.ifindex).await?;
        if current
            .as_ref()
            .is_some_and(|q| q.handle == self.handle && q.kind != "cake")
        {
            return Err(CakeError::HandleTaken {
                device: self.device.clone(),
                handle: handle_text(self.handle),
                kind: current.map(|q| q.kind).unwrap_or_default(),
            });
        }
        // The accumulator notices the counters restarting; cumulative totals keep growing.
        self.write_full(nl).await
    }
}
