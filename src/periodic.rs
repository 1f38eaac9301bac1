//! Background work that repeats: refreshing what other instances may have changed, pruning.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::store::StoreError;
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

/// The first wait after a failure of background work that repeats; each failure in a row
/// doubles it, up to [`MOST_AFTER_FAILURES`].
const AFTER_FAILURE: Duration = Duration::from_secs(1);
/// The longest wait while work keeps failing: work must resume within 5 s of the database's
/// return (SPEC §10).
const MOST_AFTER_FAILURES: Duration = Duration::from_secs(4);

/// Failures in a row of background work that repeats. While the database is away every try
/// fails: the work waits longer after each, says so once (not every second), and says when
/// it works again.
pub struct Failures {
    what: &'static str,
    count: u32,
}

impl Failures {
    /// `what` the work does, for the log: "claim due deliveries".
    pub fn new(what: &'static str) -> Self {
        Self { what, count: 0 }
    }

    /// Notes a failure; returns how long to wait before trying again. A failure that is not
    /// an outage is a fault, logged every time.
    pub fn failed(&mut self, error: &StoreError) -> Duration {
        self.count = self.count.saturating_add(1);
        let what = self.what;
        if !error.is_unavailable() {
            tracing::error!(%error, "could not {what}");
        } else if self.count == 1 {
            tracing::warn!(%error, "could not {what}; trying again while it fails");
        } else {
            tracing::debug!(%error, failures = self.count, "could not {what}");
        }
        AFTER_FAILURE
            .saturating_mul(1 << (self.count - 1).min(8))
            .min(MOST_AFTER_FAILURES)
    }

    /// Notes a success.
    pub fn recovered(&mut self) {
        if self.count > 0 {
            let what = self.what;
            tracing::info!(failures = self.count, "could {what} again");
            self.count = 0;
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
    fn failures_wait_longer_each_time_up_to_the_most() {
        let mut failures = Failures::new("test");
        let away = StoreError::Unavailable("away".into());
        let seconds: Vec<u64> = (0..5).map(|_| failures.failed(&away).as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 4, 4]);
        failures.recovered();
        assert_eq!(
            failures.failed(&away),
            AFTER_FAILURE,
            "afresh after a success"
        );
    }

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
