//! The scheduler inside `serve`: it fires what is due, then sleeps until the earliest next
//! due time, or until a schedule changes in this process. It does not poll; it looks again
//! every few seconds only for schedules created through other processes sharing the database.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Schedules;
use super::firing::fire_due;
use crate::store::{self, StoreError};
use crate::timestamp::now_millis;

/// Schedules created or changed through another process are seen within this long (that
/// process fires them on time itself while it runs).
const LOOK_AGAIN: Duration = Duration::from_secs(10);
const AFTER_ERROR: Duration = Duration::from_secs(1);
/// A due schedule that could not be claimed is held by another process's transaction, which
/// is about to commit: look again after this long rather than at once.
const HELD_ELSEWHERE: Duration = Duration::from_millis(25);

pub async fn run(schedules: Schedules, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let wait = match pass(&schedules).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::error!(%error, "could not fire due schedules");
                AFTER_ERROR
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = schedules.changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fires what is due now; returns how long to sleep before the next due time.
async fn pass(schedules: &Schedules) -> Result<Duration, StoreError> {
    let globals = schedules.globals.current();
    let fired = fire_due(
        &schedules.outbox,
        &schedules.readable,
        &globals,
        now_millis(),
    )
    .await?;
    let next = schedules
        .outbox
        .store()
        .read(store::schedules::next_due)
        .await?;
    Ok(match next {
        None => LOOK_AGAIN,
        Some(due) => {
            let until = u64::try_from(due - now_millis()).unwrap_or(0);
            if until == 0 && fired == 0 {
                HELD_ELSEWHERE
            } else {
                Duration::from_millis(until).min(LOOK_AGAIN)
            }
        }
    })
}
