//! Claims deliveries that fall due: retries, deliveries stored while this process had no room,
//! and those of a process that died once their lease ended. It sleeps until the next one is
//! due, or until woken by new work.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{DeliveryEngine, Job, LEASE_MS, Shared};
use crate::model::EncodedEvent;
use crate::periodic::Failures;
use crate::store::{self, StoreError};
use crate::timestamp::now_millis;

const BATCH: usize = 256;
/// Even with nothing due, look again this often: other processes sharing a PostgreSQL database
/// may have stored deliveries this one was not told of.
const POLL: Duration = Duration::from_secs(1);
const AFTER_ERROR: Duration = Duration::from_secs(1);

pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut failing = Failures::new("claim due deliveries");
    while !shutdown.is_cancelled() {
        let wait = match claim_batch(&shared).await {
            Ok(Some(claimed)) if claimed == BATCH => {
                failing.recovered();
                continue;
            }
            Ok(_) => {
                failing.recovered();
                time_until_next_due(&shared).await
            }
            Err(error) => failing.failed(&error),
        };
        let planned = now_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        shared.claimer_wakes_at.store(planned, Ordering::Relaxed);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Claims as many due deliveries as there is room for; `None` when there is no room.
async fn claim_batch(shared: &Arc<Shared>) -> Result<Option<usize>, StoreError> {
    let room = shared.slots.available_permits().min(BATCH);
    if room == 0 {
        // The recorder wakes us when outcomes it stores free some room.
        shared.claimer_needs_room.store(true, Ordering::Relaxed);
        return Ok(None);
    }
    let Ok(mut slots) =
        Arc::clone(&shared.slots).try_acquire_many_owned(u32::try_from(room).unwrap_or(u32::MAX))
    else {
        return Ok(None);
    };
    let now = now_millis();
    let lease_until = now + LEASE_MS;
    let owner = shared.owner.clone();
    let limit = i64::try_from(room).unwrap_or(i64::MAX);
    let claimed = shared
        .store
        .write(move |conn| store::deliveries::claim_due(conn, &owner, now, lease_until, limit))
        .await?;
    if claimed.is_empty() {
        return Ok(Some(0));
    }
    let event_ids: Vec<String> = claimed.iter().map(|row| row.event_id.clone()).collect();
    let webhook_ids: Vec<String> = claimed.iter().map(|row| row.webhook_id.clone()).collect();
    let reader = Arc::clone(shared);
    let (events, webhooks) = shared
        .store
        .read(move |conn| {
            let events = store::events::find_many(conn, &event_ids)?;
            let webhooks = reader.webhooks.get_many(conn, &webhook_ids)?;
            Ok::<_, StoreError>((events, webhooks))
        })
        .await?;
    let events: HashMap<String, Arc<EncodedEvent>> = events
        .into_iter()
        .filter_map(|row| {
            EncodedEvent::decode(row.payload)
                .ok()
                .map(|event| (row.id, Arc::new(event)))
        })
        .collect();
    let webhooks: HashMap<_, _> = webhooks.into_iter().map(|w| (w.id.clone(), w)).collect();
    let engine = DeliveryEngine {
        shared: Arc::clone(shared),
    };
    let count = claimed.len();
    for row in claimed {
        // A delivery whose event or webhook vanished went with it (cascade); nothing to send.
        let (Some(event), Some(webhook)) =
            (events.get(&row.event_id), webhooks.get(&row.webhook_id))
        else {
            continue;
        };
        let Some(slot) = slots.split(1) else { break };
        engine.dispatch(Job {
            delivery_id: row.id,
            attempt: u32::try_from(row.attempts + 1).unwrap_or(1),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(1),
            initiated_by: row.initiated_by,
            lease_until,
            event: Arc::clone(event),
            webhook: Arc::clone(webhook),
            slot,
        });
    }
    Ok(Some(count))
}

async fn time_until_next_due(shared: &Shared) -> Duration {
    match shared.store.read(store::deliveries::next_due).await {
        Ok(Some(due)) => {
            let millis = u64::try_from(due - now_millis()).unwrap_or(0);
            Duration::from_millis(millis).min(POLL)
        }
        Ok(None) => POLL,
        Err(error) => {
            tracing::debug!(%error, "could not read when the next delivery is due");
            AFTER_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use serde_json::json;

    use crate::events::testing::OutboxFixture;
    use crate::events::{NewEvent, prepare};
    use crate::outbound::NetworkPolicy;
    use crate::store::schema::webhooks;
    use crate::store::{self, StoreError};

    async fn next_due(fixture: &OutboxFixture) -> Option<i64> {
        fixture
            .store
            .read(store::deliveries::next_due)
            .await
            .unwrap()
    }

    async fn set_active(fixture: &OutboxFixture, active: bool) {
        fixture
            .store
            .write(move |conn| {
                diesel::update(webhooks::table)
                    .set(webhooks::active.eq(active))
                    .execute(conn)?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
    }

    /// Counted, a paused webhook's waiting deliveries would wake the claimer again and again
    /// for nothing it may claim.
    #[tokio::test]
    async fn a_paused_webhooks_deliveries_are_not_due() {
        let fixture = OutboxFixture::new().await;
        let spec = serde_json::from_value(json!({"name": "paused", "endpoint": {"url": "http://127.0.0.1:9/"}, "events": ["x.*"]})).unwrap();
        let policy = NetworkPolicy::new(&fixture.config.outbound);
        let webhook = crate::webhooks::create(&fixture.store, &policy, spec, "test")
            .await
            .unwrap();
        set_active(&fixture, false).await;
        let event = prepare(NewEvent {
            event_type: "x.waiting".into(),
            subject: None,
            data: json!({}),
            previous: None,
            changes: None,
        })
        .unwrap();
        fixture
            .outbox
            .write(move |tx| tx.emit_to(event, &webhook.id, None))
            .await
            .unwrap();

        assert_eq!(next_due(&fixture).await, None, "waiting, not due");
        set_active(&fixture, true).await;
        assert!(next_due(&fixture).await.is_some());
    }
}
