//! [`CakeShaper`]: local CAKE on a WAN device (upload) and its IFB (download), driven over netlink.

use super::{
    config::{CakeConfig, ExitPolicy, OnReplaced, SetupMode},
    error::CakeError,
    ifb,
    netlink::Netlink,
    qdisc::{CAKE_HANDLE, CakeQdisc, CakeReading},
    record::Created,
};
use crate::{
    config::Bandwidth,
    shaper::{Shaper, ShaperHealth, ShaperStats},
    signal::{Direction, PerDirection},
};

/// Local CAKE shaping for one WAN device. Owns its netlink connection (one owner per kernel resource).
pub struct CakeShaper {
    name: String,
    config: CakeConfig,
    nl: Netlink,
    qdiscs: PerDirection<Option<CakeQdisc>>,
    health: ShaperHealth,
}

impl CakeShaper {
    /// Validates `config`, then installs or adopts CAKE per direction (and the IFB for download). Must run
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// Invalid configuration, missing devices or module, a foreign qdisc in the way, netlink failures.
    pub async fn setup(config: CakeConfig) -> Result<Self, CakeError> {
        config.validate()?;
        let nl = Netlink::connect().map_err(CakeError::Socket)?;
        let mut created = Created::load(&config.interface)?;
        let result = setup_directions(&nl, &config, &mut created).await;
        // Record what was created even when a later step failed, so `shaper remove` can undo it.
        created.save(&config.interface)?;
        let qdiscs = result?;
        Ok(Self {
            name: format!("cake:{}", config.interface),
            config,
            nl,
            qdiscs,
            health: ShaperHealth {
                reachable: true,
                ..ShaperHealth::default()
            },
        })
    }

    /// The configuration this shaper runs with.
    pub fn config(&self) -> &CakeConfig {
        &self.config
    }

    /// The device shaping `direction` (the WAN for upload, the IFB for download).
    pub fn device(&self, direction: Direction) -> Option<&str> {
        self.qdiscs
            .get(direction)
            .as_ref()
            .map(|q| q.device.as_str())
    }

    /// Reads the live options and raw statistics of `direction`'s CAKE.
    ///
    /// # Errors
    /// Not configured, replaced, or a netlink failure.
    pub async fn read(&self, direction: Direction) -> Result<CakeReading, CakeError> {
        self.qdisc(direction)?.read(&self.nl).await
    }

    /// Applies the exit policy: leave the last rate, or set each direction's safe rate.
    ///
    /// # Errors
    /// A safe rate could not be written.
    pub async fn shutdown(mut self) -> Result<(), CakeError> {
        if self.config.on_exit == ExitPolicy::LeaveLastRate {
            return Ok(());
        }
        for direction in Direction::ALL {
            let safe = match direction {
                Direction::Upload => self.config.upload.as_ref(),
                Direction::Download => self.config.download.as_ref(),
            }
            .and_then(|d| d.safe_rate);
            if let Some(rate) = safe {
                self.apply(direction, rate).await?;
            }
        }
        Ok(())
    }

    fn qdisc(&self, direction: Direction) -> Result<&CakeQdisc, CakeError> {
        self.qdiscs
            .get(direction)
            .as_ref()
            .ok_or(CakeError::NotConfigured { direction })
    }

    fn record<T>(&mut self, result: &Result<T, CakeError>) {
        match result {
            Ok(_) => {
                self.health.reachable = true;
                self.health.last_error = None;
            }
            Err(e) => {
                self.health.reachable =
                    !matches!(e, CakeError::Netlink { .. } | CakeError::Socket(_));
                self.health.last_error = Some(e.to_string());
            }
        }
    }

    async fn apply_inner(
        &mut self,
        direction: Direction,
        rate: Bandwidth,
    ) -> Result<bool, CakeError> {
        let on_replaced = self.config.on_replaced;
        let nl = self.nl.clone();
        let qdisc = self
            .qdiscs
            .get_mut(direction)
            .as_mut()
            .ok_or(CakeError::NotConfigured { direction })?;
        let bytes = rate.bps() / 8;
        match qdisc.set_rate(&nl, bytes).await {
            Ok(wrote) => Ok(wrote),
            Err(CakeError::Netlink { source, .. })
                if matches!(source.errno, libc::EINVAL | libc::EEXIST | libc::ENOENT) =>
            {
                // The pinned handle no longer names a CAKE: it was replaced or removed behind our back.
                let found = match qdisc.read(&nl).await {
                    Err(CakeError::Replaced { found, .. }) => found,
                    Err(other) => return Err(other),
                    Ok(_) => {
                        return Err(CakeError::netlink(
                            "RTM_NEWQDISC cake change",
                            &qdisc.device,
                            source,
                        ));
                    }
                };
                if on_replaced == OnReplaced::Report {
                    return Err(CakeError::Replaced {
                        device: qdisc.device.clone(),
                        found,
                    });
                }
                tracing::warn!(device = %qdisc.device, %found, "CAKE was replaced; reinstalling");
                qdisc.last_rate = Some(bytes);
                qdisc.reinstall(&nl).await?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }
}

async fn setup_directions(
    nl: &Netlink,
    config: &CakeConfig,
    created: &mut Created,
) -> Result<PerDirection<Option<CakeQdisc>>, CakeError> {
    let mut qdiscs = PerDirection {
        download: None,
        upload: None,
    };
    if let Some(upload) = &config.upload {
        qdiscs.upload = Some(
            one(
                nl,
                config.mode,
                &config.interface,
                upload.options(false),
                created,
            )
            .await?,
        );
    }
    if let (Some(download), Some(ifb_name)) = (&config.download, config.ifb_name()) {
        if config.mode == SetupMode::Install {
            ifb::ensure(nl, &config.interface, &ifb_name, created).await?;
        }
        qdiscs.download =
            Some(one(nl, config.mode, &ifb_name, download.options(true), created).await?);
    }
    Ok(qdiscs)
}

async fn one(
    nl: &Netlink,
    mode: SetupMode,
    device: &str,
    options: super::options::CakeOptions,
    created: &mut Created,
) -> Result<CakeQdisc, CakeError> {
    match mode {
        SetupMode::Adopt => CakeQdisc::adopt(nl, device).await,
        SetupMode::Install => {
            let (qdisc, new) = CakeQdisc::install(nl, device, options).await?;
            if new && !created.cake_roots.iter().any(|d| d == device) {
                created.cake_roots.push(device.to_string());
            }
            Ok(qdisc)
        }
    }
}

impl Shaper for CakeShaper {
    type Error = CakeError;

    fn name(&self) -> &str {
        &self.name
    }

    async fn finish(self) -> Result<(), CakeError> {
        CakeShaper::shutdown(self).await
    }

    async fn apply(&mut self, direction: Direction, rate: Bandwidth) -> Result<(), CakeError> {
        let result = self.apply_inner(direction, rate).await;
        match result {
            Ok(true) => self.health.writes_done += 1,
            Ok(false) => self.health.writes_skipped += 1,
            Err(_) => {}
        }
        self.record(&result);
        result.map(|_| ())
    }

    async fn stats(&mut self) -> Result<ShaperStats, CakeError> {
        let nl = self.nl.clone();
        let mut out = PerDirection {
            download: None,
            upload: None,
        };
        let mut result = Ok(());
        for direction in Direction::ALL {
            if let Some(qdisc) = self.qdiscs.get_mut(direction).as_mut() {
                match qdisc.stats(&nl).await {
                    Ok(stats) => *out.get_mut(direction) = Some(stats),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        self.record(&result);
        result.map(|()| out)
    }

    fn health(&self) -> ShaperHealth {
        self.health.clone()
    }
}

/// Removes what wanctl created for `config.interface` (per its record): its root CAKEs (only while they
/// are still CAKE with wanctl's handle), the redirect filter, the clsact qdisc and the IFB. Objects wanctl
/// adopted are left alone. Returns what was removed, for the operator.
///
/// # Errors
/// Netlink failures, or the record cannot be read or written.
pub async fn remove(config: &CakeConfig) -> Result<Vec<String>, CakeError> {
    let nl = Netlink::connect().map_err(CakeError::Socket)?;
    let mut created = Created::load(&config.interface)?;
    let mut removed = Vec::new();
    for device in std::mem::take(&mut created.cake_roots) {
        let Some(index) = nl
            .link_index(&device)
            .await
            .map_err(|e| CakeError::netlink("RTM_GETLINK", &device, e))?
        else {
            continue;
        };
        let root = nl
            .qdisc_at(index, super::netlink::ROOT)
            .await
            .map_err(|e| CakeError::netlink("RTM_GETQDISC root", &device, e))?;
        if root.is_some_and(|q| q.kind == "cake" && q.handle == CAKE_HANDLE) {
            nl.del_qdisc(index, super::netlink::ROOT, CAKE_HANDLE)
                .await
                .map_err(|e| CakeError::netlink("RTM_DELQDISC cake", &device, e))?;
            removed.push(format!("cake 1: on {device}"));
        }
    }
    if created.redirect_prio.is_some() {
        removed.push(format!("ingress redirect filter on {}", config.interface));
    }
    if created.ingress_qdisc {
        removed.push(format!("clsact qdisc on {}", config.interface));
    }
    if let Some(ifb) = &created.ifb {
        removed.push(format!("IFB device {ifb}"));
    }
    let result = ifb::remove(&nl, &config.interface, &mut created).await;
    created.save(&config.interface)?;
    result.map(|()| removed)
}
