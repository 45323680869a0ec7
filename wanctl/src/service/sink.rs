//! Object-safe view of a [`Shaper`], so one WAN can drive a list of different sinks (local CAKE, a RouterOS
//! router) with the same decision.

use std::{future::Future, pin::Pin};

use crate::{
    config::Bandwidth,
    shaper::{Shaper, ShaperHealth, ShaperStats},
    signal::Direction,
};

/// A boxed, sendable future, as object-safe traits return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A sink of rate decisions. Every [`Shaper`] is one.
pub trait Sink: Send {
    /// Sink name, e.g. `cake:eth0`.
    fn name(&self) -> &str;
    /// The part of the name before `:` (`cake`, `routeros`), for health and metrics.
    fn kind(&self) -> &str {
        self.name().split(':').next().unwrap_or_default()
    }
    /// Sets the rate of `direction`; the error is already a message naming the sink.
    fn apply_rate(
        &mut self,
        direction: Direction,
        rate: Bandwidth,
    ) -> BoxFuture<'_, Result<(), String>>;
    /// Cumulative statistics.
    fn read_stats(&mut self) -> BoxFuture<'_, Result<ShaperStats, String>>;
    /// Health without I/O.
    fn sink_health(&self) -> ShaperHealth;
    /// Applies the exit policy (e.g. CAKE's safe rate) and releases the sink.
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), String>>;
}

impl<S: Shaper + 'static> Sink for S {
    fn name(&self) -> &str {
        Shaper::name(self)
    }

    fn apply_rate(
        &mut self,
        direction: Direction,
        rate: Bandwidth,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let name = Shaper::name(self).to_string();
            self.apply(direction, rate).await.map_err(|e| {
                format!(
                    "{name}: setting the {} rate to {rate}: {e}",
                    direction.as_str()
                )
            })
        })
    }

    fn read_stats(&mut self) -> BoxFuture<'_, Result<ShaperStats, String>> {
        Box::pin(async move {
            let name = Shaper::name(self).to_string();
            self.stats()
                .await
                .map_err(|e| format!("{name}: reading statistics: {e}"))
        })
    }

    fn sink_health(&self) -> ShaperHealth {
        self.health()
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let name = Shaper::name(&*self).to_string();
            Shaper::finish(*self)
                .await
                .map_err(|e| format!("{name}: applying the exit policy: {e}"))
        })
    }
}
