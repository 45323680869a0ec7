//! One shutdown signal for every task: the trigger fires once, every clone of [`Shutdown`] sees it, including
//! clones made after it fired.

use tokio::sync::watch;

/// Fires the shutdown.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Waits for the shutdown; cheap to clone into each task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its first listener.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger(sender), Shutdown(receiver))
}

impl ShutdownTrigger {
    /// Tells every listener to stop.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    /// A new listener.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Resolves once the shutdown fired (at once if it already has, or if the trigger is gone).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }

    /// Whether the shutdown fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listener_sees_the_shutdown_even_late_ones() {
        let (trigger, first) = shutdown_channel();
        let waiting = tokio::spawn(first.clone().wait());
        assert!(!first.is_fired());
        trigger.fire();
        waiting.await.unwrap();
        trigger.subscribe().wait().await;
        assert!(first.is_fired());
    }

    #[tokio::test]
    async fn a_dropped_trigger_releases_the_waiters() {
        let (trigger, listener) = shutdown_channel();
        drop(trigger);
        listener.wait().await;
    }
}
