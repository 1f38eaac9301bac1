//! The delivery engine (SPEC §6.3): durable, leased, retried delivery of events to webhooks.
//!
//! A delivery is a row that is the queue entry and the log entry at once. It is inserted in the
//! transaction that stores its event, so a `2xx` from the API means it can no longer be lost.
//! The process that stores it usually holds a lease on it from the start and sends it at once
//! (no polling on the fast path); the claimer picks up everything else that falls due: retries,
//! overflow, and the claims of a process that died, once their lease ends.

mod answers;
mod attempt;
mod claimer;
mod hosts;
pub mod log;
mod metrics;
mod outcome;
pub mod preview;
mod prune;
pub mod render;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use answers::{Answer, AnswerHandler};
pub use prune::{prune_before, prune_once};

use crate::config::Config;
use crate::ids::new_id;
use crate::model::{EncodedEvent, Event};
use crate::outbound::HttpClients;
use crate::store::deliveries::{DeliveryRow, PENDING};
use crate::store::{self, AnyConnection, Store, StoreError};
use crate::timestamp::now_millis;
use crate::vars::GlobalsSource;
use crate::webhooks::{Webhook, WebhookCache};
use hosts::HostLimits;
use metrics::DeliveryMetrics;

/// How long a claim lasts before another process may take the delivery over.
pub const LEASE_MS: i64 = 90_000;
/// A claim must outlast a request by this much when it starts; otherwise it is extended first.
const LEASE_MARGIN_MS: i64 = 15_000;
/// In-flight requests get this long to finish when the process stops (SPEC §6.3).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// One delivery this process has claimed, with everything sending it needs.
pub struct Job {
    pub delivery_id: String,
    /// The number of this attempt, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub initiated_by: String,
    pub lease_until: i64,
    pub event: Arc<EncodedEvent>,
    pub webhook: Arc<Webhook>,
    /// This job's place in the process's bounded set of claimed deliveries.
    slot: OwnedSemaphorePermit,
}

struct Shared {
    store: Store,
    clients: HttpClients,
    owner: String,
    default_timeout_ms: u64,
    /// Deliveries this process holds: queued, being sent, or waiting to be recorded.
    slots: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
    hosts: HostLimits,
    /// Where attempts run, and how many are still running.
    runtime: Handle,
    tasks: TaskTracker,
    /// Cancelled when the grace period at shutdown is over: requests still in flight are
    /// abandoned (their deliveries go out again later).
    abandon: CancellationToken,
    wake: Notify,
    outcomes: outcome::OutcomeBuffer,
    /// When the claimer will next look for due deliveries by itself (Unix ms): work due
    /// later needs no wake-up.
    claimer_wakes_at: AtomicI64,
    /// Set by the claimer when it found no room; the recorder then wakes it once room is freed.
    claimer_needs_room: AtomicBool,
    webhooks: WebhookCache,
    globals: GlobalsSource,
    /// Acts on answers of webhooks with `incident_updates`.
    answers: Arc<dyn AnswerHandler>,
    metrics: DeliveryMetrics,
    retention_days: u32,
}

#[derive(Clone)]
pub struct DeliveryEngine {
    shared: Arc<Shared>,
}

/// The engine's background work; [`DeliveryRunner::run`] drives it until shutdown.
pub struct DeliveryRunner {
    shared: Arc<Shared>,
}

/// An event and the webhooks it is to be delivered to.
pub struct Addressed {
    pub event: Arc<EncodedEvent>,
    pub webhooks: Vec<Arc<Webhook>>,
}

/// Deliveries created in a transaction that has not committed yet. Dropping it (the
/// transaction failed) gives its reserved places back.
pub struct NewDeliveries {
    event: Arc<EncodedEvent>,
    created: Vec<(String, Arc<Webhook>)>,
    reserved: Option<(OwnedSemaphorePermit, i64)>,
}

impl NewDeliveries {
    pub fn count(&self) -> usize {
        self.created.len()
    }

    pub fn event(&self) -> &Arc<EncodedEvent> {
        &self.event
    }
}

impl DeliveryEngine {
    pub fn new(
        store: Store,
        clients: HttpClients,
        globals: GlobalsSource,
        answers: Arc<dyn AnswerHandler>,
        config: &Config,
        registry: &prometheus::Registry,
    ) -> Result<(Self, DeliveryRunner), prometheus::Error> {
        let max_in_flight = config.outbound.max_in_flight;
        let webhooks = WebhookCache::new(Arc::clone(store.secrets()));
        let shared = Arc::new(Shared {
            store,
            clients,
            owner: new_id("proc"),
            default_timeout_ms: config.outbound.default_timeout_ms,
            // Twice the in-flight limit keeps the next requests ready without holding many claims.
            slots: Arc::new(Semaphore::new(max_in_flight * 2)),
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            hosts: HostLimits::new(config.outbound.max_in_flight_per_host),
            runtime: Handle::current(),
            tasks: TaskTracker::new(),
            abandon: CancellationToken::new(),
            wake: Notify::new(),
            outcomes: outcome::OutcomeBuffer::default(),
            claimer_wakes_at: AtomicI64::new(0),
            claimer_needs_room: AtomicBool::new(false),
            webhooks,
            globals,
            answers,
            metrics: DeliveryMetrics::new(registry)?,
            retention_days: config.retention.deliveries_days,
        });
        let runner = DeliveryRunner {
            shared: Arc::clone(&shared),
        };
        Ok((Self { shared }, runner))
    }

    /// Inside the transaction that stores the events: one delivery per event and webhook, all
    /// inserted together. When this process has room, it claims them right away, to send them
    /// as soon as the transaction commits; otherwise they are due now for the claimer.
    pub fn create_deliveries(
        &self,
        conn: &mut AnyConnection,
        addressed: Vec<Addressed>,
    ) -> Result<Vec<NewDeliveries>, StoreError> {
        let now = now_millis();
        let total: usize = addressed.iter().map(|item| item.webhooks.len()).sum();
        let mut reserved = u32::try_from(total)
            .ok()
            .filter(|&count| count > 0)
            .and_then(|count| {
                Arc::clone(&self.shared.slots)
                    .try_acquire_many_owned(count)
                    .ok()
            });
        let lease_until = now + LEASE_MS;
        let (lease_owner, due) = match &reserved {
            Some(_) => (Some(self.shared.owner.as_str()), lease_until),
            None => (None, now),
        };
        let mut rows = Vec::with_capacity(total);
        let created = addressed
            .into_iter()
            .map(|item| {
                let ids = self.rows_for(&item, lease_owner, due, now, &mut rows);
                let slots = reserved
                    .as_mut()
                    .and_then(|permit| permit.split(ids.len()))
                    .map(|slots| (slots, lease_until));
                NewDeliveries {
                    event: item.event,
                    created: ids,
                    reserved: slots,
                }
            })
            .collect();
        store::deliveries::insert_many(conn, &rows)?;
        Ok(created)
    }

    /// One delivery per webhook of `item`, due at `due` rather than now: the claimer sends
    /// them then.
    pub fn create_deliveries_due(
        &self,
        conn: &mut AnyConnection,
        item: Addressed,
        due: i64,
    ) -> Result<NewDeliveries, StoreError> {
        let mut rows = Vec::with_capacity(item.webhooks.len());
        let created = self.rows_for(&item, None, due, now_millis(), &mut rows);
        store::deliveries::insert_many(conn, &rows)?;
        Ok(NewDeliveries {
            event: item.event,
            created,
            reserved: None,
        })
    }

    /// Adds `item`'s rows to `rows`; returns their ids with their webhooks.
    fn rows_for(
        &self,
        item: &Addressed,
        lease_owner: Option<&str>,
        due: i64,
        now: i64,
        rows: &mut Vec<DeliveryRow>,
    ) -> Vec<(String, Arc<Webhook>)> {
        item.webhooks
            .iter()
            .map(|webhook| {
                let id = new_id("dlv");
                rows.push(DeliveryRow {
                    id: id.clone(),
                    event_id: item.event.event.id.clone(),
                    webhook_id: webhook.id.clone(),
                    status: PENDING.into(),
                    attempts: 0,
                    max_attempts: i32::try_from(webhook.spec.max_attempts).unwrap_or(i32::MAX),
                    next_attempt_at: due,
                    lease_owner: lease_owner.map(str::to_owned),
                    initiated_by: "schedule".into(),
                    last_status_code: None,
                    last_error: None,
                    created_at: now,
                    updated_at: now,
                });
                (id, Arc::clone(webhook))
            })
            .collect()
    }

    /// After the transaction that created `new` committed: send what this process claimed,
    /// or tell the claimer there is work.
    pub fn start(&self, new: NewDeliveries) {
        let Some((mut slots, lease_until)) = new.reserved else {
            if !new.created.is_empty() {
                self.wake();
            }
            return;
        };
        for (delivery_id, webhook) in new.created {
            let Some(slot) = slots.split(1) else { break };
            self.dispatch(Job {
                delivery_id,
                attempt: 1,
                max_attempts: webhook.spec.max_attempts,
                initiated_by: "schedule".into(),
                lease_until,
                event: Arc::clone(&new.event),
                webhook,
                slot,
            });
        }
    }

    /// Active webhooks subscribed to `event_type`, current within the caller's transaction.
    pub fn subscribers(
        &self,
        conn: &mut AnyConnection,
        event: &Event,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        self.shared.webhooks.subscribers(conn, event)
    }

    /// Active webhooks subscribed to `event_type`, an event type not about incidents.
    pub fn subscribers_to(
        &self,
        conn: &mut AnyConnection,
        event_type: &str,
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        self.shared.webhooks.subscribers_to(conn, event_type)
    }

    /// The webhooks with these ids that exist.
    pub fn webhooks(
        &self,
        conn: &mut AnyConnection,
        ids: &[String],
    ) -> Result<Vec<Arc<Webhook>>, StoreError> {
        self.shared.webhooks.get_many(conn, ids)
    }

    /// Tells the claimer that deliveries may have fallen due (a retry was requested, …).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Sends the job on the engine's runtime. Once the process is stopping nothing new starts;
    /// the claim is released at the end of the shutdown.
    fn dispatch(&self, job: Job) {
        if self.shared.tasks.is_closed() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        self.shared
            .tasks
            .spawn_on(attempt::run(shared, job), &self.shared.runtime);
    }
}

impl DeliveryRunner {
    /// Claims and prunes until `shutdown`; then stops claiming, gives in-flight requests up to
    /// 10 s, and releases every claim left for another process or the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let shared = self.shared;
        if let Err(error) = release_stale_claims(&shared).await {
            tracing::error!(%error, "could not release claims left by a previous run");
        }
        let claimer = tokio::spawn(claimer::run(Arc::clone(&shared), shutdown.clone()));
        let pruner = tokio::spawn(prune::run(Arc::clone(&shared), shutdown.clone()));
        shutdown.cancelled().await;
        shared.tasks.close();
        let _ = claimer.await;
        let _ = pruner.await;
        if tokio::time::timeout(SHUTDOWN_GRACE, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = shared.tasks.len(),
                "deliveries still in flight after the grace period; they will be sent again"
            );
            shared.abandon.cancel();
            shared.tasks.wait().await;
        }
        let owner = shared.owner.clone();
        match shared
            .store
            .write(move |conn| store::deliveries::release_owner(conn, &owner, now_millis()))
            .await
        {
            Ok(released) if released > 0 => tracing::info!(
                released,
                "released unsent deliveries for another process or the next start"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "could not release claims; they fall due when their lease ends")
            }
        }
    }
}

/// On SQLite one process owns the queue, so any claim found at start belongs to a process that
/// died: it can be sent again at once instead of after its lease. On PostgreSQL other live
/// processes may hold claims; theirs are left to expire.
async fn release_stale_claims(shared: &Shared) -> Result<(), StoreError> {
    if !shared.store.is_sqlite() {
        return Ok(());
    }
    let released = shared
        .store
        .write(|conn| store::deliveries::release_all(conn, now_millis()))
        .await?;
    if released > 0 {
        tracing::info!(
            released,
            "re-queued deliveries claimed by a process that stopped without releasing them"
        );
    }
    Ok(())
}
