//! The scheduler inside `serve`: it fires what is due, then sleeps until the earliest next
//! due time, or until a schedule changes in this process. It does not poll; it looks again
//! every few seconds only for schedules created through other processes sharing the database.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Schedules;
use super::firing::fire_due;
use crate::periodic::Failures;
use crate::store::{self, StoreError};
use crate::timestamp::now_millis;

/// Schedules created or changed through another process are seen within this long (that
/// process fires them on time itself while it runs).
const LOOK_AGAIN: Duration = Duration::from_secs(10);
const AFTER_ERROR: Duration = Duration::from_secs(1);
/// A due schedule that could not be claimed is held by another transaction, which is usually
/// about to commit: look again after this long, then twice as long each time, up to
/// [`AFTER_ERROR`] (a session that holds the row for long must not make every process poll).
const HELD_ELSEWHERE: Duration = Duration::from_millis(25);

pub async fn run(schedules: Schedules, stop: CancellationToken) {
    let mut held = HELD_ELSEWHERE;
    let mut failing = Failures::new("fire due schedules");
    while !stop.is_cancelled() {
        let passed = pass(&schedules).await;
        if passed.is_ok() {
            failing.recovered();
        }
        let wait = match passed {
            Ok(Some(wait)) => {
                held = HELD_ELSEWHERE;
                wait
            }
            Ok(None) => {
                let wait = held;
                held = (held * 2).min(AFTER_ERROR);
                wait
            }
            Err(error) => failing.failed(&error),
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = schedules.changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fires what is due now; returns how long to sleep before the next due time, or `None` when
/// one is due that another transaction holds.
async fn pass(schedules: &Schedules) -> Result<Option<Duration>, StoreError> {
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
        None => Some(LOOK_AGAIN),
        Some(due) => {
            let until = u64::try_from(due - now_millis()).unwrap_or(0);
            (until > 0 || fired > 0).then(|| Duration::from_millis(until).min(LOOK_AGAIN))
        }
    })
}
