//! Retention (`retention.deliveries_days`): finished deliveries, their attempts and events
//! older than that are deleted, in small batches so no long transaction blocks deliveries.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::store::{self, AnyConnection, Store, StoreError};
use crate::timestamp::now_millis;

const EVERY: Duration = Duration::from_secs(60 * 60);
const BATCH: i64 = 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn run(shared: std::sync::Arc<Shared>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        match prune_once(&shared.store, shared.retention_days).await {
            Ok((0, 0)) => {}
            Ok((deliveries, events)) => {
                tracing::info!(deliveries, events, "pruned old delivery logs")
            }
            Err(error) => tracing::error!(%error, "could not prune old delivery logs"),
        }
    }
}

/// Deletes what is older than `days`; returns how many deliveries and events went.
pub async fn prune_once(store: &Store, days: u32) -> Result<(usize, usize), StoreError> {
    prune_before(store, now_millis() - i64::from(days) * DAY_MS).await
}

/// Deletes finished deliveries created before `cutoff` (Unix ms) with their attempts, and
/// events from before then that no pending delivery needs.
pub async fn prune_before(store: &Store, cutoff: i64) -> Result<(usize, usize), StoreError> {
    let deliveries = in_batches(store, move |conn| {
        store::deliveries::prune(conn, cutoff, BATCH)
    })
    .await?;
    let events = in_batches(store, move |conn| store::events::prune(conn, cutoff, BATCH)).await?;
    Ok((deliveries, events))
}

async fn in_batches<F>(store: &Store, prune: F) -> Result<usize, StoreError>
where
    F: Fn(&mut AnyConnection) -> Result<usize, StoreError> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let deleted = store.write(prune.clone()).await?;
        total += deleted;
        if i64::try_from(deleted).unwrap_or(0) < BATCH {
            return Ok(total);
        }
    }
}
