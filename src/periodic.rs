//! Background work that repeats: refreshing what other instances may have changed, pruning.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Runs `tick` every `period`, the first time at once, until `stop`. A slow tick delays the
/// next one instead of letting them pile up.
pub async fn every<F, Fut>(period: Duration, stop: CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => tick().await,
        }
    }
}

/// Orders the refreshes of an in-memory copy of stored data. A refresh takes a ticket before
/// it reads; what it read is installed only if no refresh that began later has installed
/// already. Without this, a periodic refresh that read just before a local change committed
/// could land after the change's own refresh and bring the old values back until the next
/// period.
#[derive(Debug, Default)]
pub struct RefreshOrder {
    begun: AtomicU64,
    installed: Mutex<u64>,
}

impl RefreshOrder {
    /// Call before reading.
    pub fn begin(&self) -> u64 {
        self.begun.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Runs `install` unless a refresh that began after `ticket` has installed already.
    pub fn install(&self, ticket: u64, install: impl FnOnce()) {
        let mut installed = self
            .installed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if ticket > *installed {
            install();
            *installed = ticket;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_that_began_earlier_cannot_replace_a_later_one() {
        let order = RefreshOrder::default();
        let mut value = "initial";
        let stale = order.begin();
        let fresh = order.begin();
        order.install(fresh, || value = "fresh");
        order.install(stale, || value = "stale");
        assert_eq!(value, "fresh");

        let next = order.begin();
        order.install(next, || value = "next");
        assert_eq!(value, "next");
    }
}
