//! `chat.triggered` events (SPEC §4.1), one per forwarded message, stored without making the
//! chat wait: events queue here and, a few milliseconds after the first, one write stores
//! everything queued, with the deliveries of the webhooks subscribed to them. A graceful stop
//! stores what is still queued. The queue is bounded: beyond it events are dropped (and that
//! logged), never the chat's reply delayed.

use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;

use serde::Serialize;

use super::message::ChatMessage;
use super::route::Route;
use crate::delivery::DeliveryEngine;
use crate::events;
use crate::store::events::EventRow;
use crate::store::{Store, StoreError};

const EVENT_TYPE: &str = "chat.triggered";
/// Events waiting beyond this many are dropped.
const MAX_WAITING: usize = 50_000;
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long events gather before they are written: one write then stores hundreds of them
/// instead of a few, which is most of what storing them costs.
const GATHER_FOR: Duration = Duration::from_millis(20);

pub struct TriggeredEvents {
    store: Store,
    engine: DeliveryEngine,
    /// The writes run on the main runtime, which outlives the HTTP workers at a stop.
    runtime: Handle,
    waiting: Mutex<Vec<EventRow>>,
    write_queued: AtomicBool,
    dropped: AtomicU64,
}

impl TriggeredEvents {
    /// Call on the main runtime: the writes will run there.
    pub fn new(store: Store, engine: DeliveryEngine) -> Arc<Self> {
        Arc::new(Self {
            store,
            engine,
            runtime: Handle::current(),
            waiting: Mutex::new(Vec::new()),
            write_queued: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<EventRow>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues the `chat.triggered` event of `message`, forwarded by `route` with `trigger_word`.
    pub fn record_forwarded(
        self: &Arc<Self>,
        route: &Route,
        message: &ChatMessage,
        trigger_word: &str,
    ) {
        let field = |name| message.field(name);
        let data = TriggeredData {
            trigger: &route.spec.name,
            trigger_id: &route.id,
            kind: route.spec.kind.as_str(),
            platform: message.platform.as_str(),
            trigger_word,
            args: message.args(),
            text: field("text"),
            command: field("command"),
            team_id: field("team_id"),
            team_domain: field("team_domain"),
            channel_id: field("channel_id"),
            channel_name: field("channel_name"),
            user_id: field("user_id"),
            user_name: field("user_name"),
            services: route.services.len(),
        };
        self.record(&route.id, &data);
    }

    /// Queues a `chat.triggered` event about the trigger `subject`; it is stored shortly after.
    fn record(self: &Arc<Self>, subject: &str, data: &impl Serialize) {
        let prepared = match events::encode_row(EVENT_TYPE, subject, data) {
            Ok(row) => row,
            Err(error) => {
                tracing::error!(%error, "cannot encode a chat.triggered event");
                return;
            }
        };
        {
            let mut waiting = self.lock();
            if waiting.len() >= MAX_WAITING {
                if self
                    .dropped
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(1000)
                {
                    tracing::warn!(
                        "chat.triggered events are arriving faster than they can be stored; dropping some"
                    );
                }
                return;
            }
            waiting.push(prepared);
        }
        if !self.write_queued.swap(true, Ordering::AcqRel) {
            let this = Arc::clone(self);
            self.runtime.spawn(async move {
                // Whatever arrives meanwhile goes into the same write.
                tokio::time::sleep(GATHER_FOR).await;
                this.write_waiting().await;
            });
        }
    }

    /// Stores what is queued now (at a stop, once no request can add more).
    pub async fn flush(self: &Arc<Self>) {
        if !self.lock().is_empty() {
            Arc::clone(self).write_waiting().await;
        }
    }

    /// Stores whatever is waiting when the writer gets to it; retried while the database is
    /// unavailable.
    async fn write_waiting(self: Arc<Self>) {
        loop {
            let this = Arc::clone(&self);
            let result = self
                .store
                .write(move |conn| {
                    this.write_queued.store(false, Ordering::Release);
                    let taken = mem::take(&mut *this.lock());
                    let mut started = Vec::new();
                    let mut rows = taken.into_iter();
                    while let Some(row) = rows.next() {
                        match events::emit_row(conn, &this.engine, row) {
                            Ok(deliveries) => started.extend(deliveries),
                            Err(error) => {
                                this.lock().extend(rows);
                                return Err(error);
                            }
                        }
                    }
                    Ok::<_, StoreError>(started)
                })
                .await;
            match result {
                Ok(started) => {
                    for deliveries in started {
                        self.engine.start(deliveries);
                    }
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, "could not store chat.triggered events; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                    if self.write_queued.swap(true, Ordering::AcqRel) {
                        return;
                    }
                }
            }
        }
    }
}

/// The `data` of a `chat.triggered` event.
#[derive(Serialize)]
struct TriggeredData<'a> {
    trigger: &'a str,
    trigger_id: &'a str,
    kind: &'a str,
    platform: &'a str,
    trigger_word: &'a str,
    args: &'a str,
    text: &'a str,
    command: &'a str,
    team_id: &'a str,
    team_domain: &'a str,
    channel_id: &'a str,
    channel_name: &'a str,
    user_id: &'a str,
    user_name: &'a str,
    services: usize,
}
