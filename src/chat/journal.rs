//! What the gateway writes down without making the chat wait: the `chat.triggered` event of
//! each forwarded message (SPEC §4.1) and the exchange log of every request received. Both
//! queue here and, a few milliseconds after the first, one write stores everything queued, with
//! the deliveries of the webhooks subscribed to the events. A graceful stop stores what is
//! still queued. The queue is bounded: beyond it entries are dropped (and that logged), never
//! the chat's reply delayed.

use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;

use serde::Serialize;

use super::exchange::Exchange;
use super::inbound::message::ChatMessage;
use super::routing::route::Route;
use crate::events::{self, Outbox};
use crate::store::chat_exchanges::{self, ExchangeRow};
use crate::store::events::EventRow;

const EVENT_TYPE: &str = "chat.triggered";
/// Entries waiting beyond this many are dropped.
const MAX_WAITING: usize = 50_000;
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long entries gather before they are written: one write then stores hundreds of them
/// instead of a few, which is most of what storing them costs.
pub const GATHER_FOR: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Waiting {
    events: Vec<EventRow>,
    /// Encoded when written, off the request path.
    exchanges: Vec<Exchange>,
}

impl Waiting {
    fn len(&self) -> usize {
        self.events.len() + self.exchanges.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct Journal {
    outbox: Outbox,
    /// The writes run on the main runtime, which outlives the HTTP workers at a stop.
    runtime: Handle,
    gather_for: Duration,
    waiting: Mutex<Waiting>,
    write_queued: AtomicBool,
    dropped: AtomicU64,
}

impl Journal {
    /// Call on the main runtime: the writes will run there, each `gather_for` after the
    /// first entry it stores.
    pub fn new(outbox: Outbox, gather_for: Duration) -> Arc<Self> {
        Arc::new(Self {
            outbox,
            gather_for,
            runtime: Handle::current(),
            waiting: Mutex::new(Waiting::default()),
            write_queued: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
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
        self.record_event(&route.id, &data);
    }

    /// Queues a `chat.triggered` event about the trigger `subject`; it is stored shortly after.
    fn record_event(self: &Arc<Self>, subject: &str, data: &impl Serialize) {
        match events::encode_row(EVENT_TYPE, subject, data) {
            Ok(row) => self.queue(|waiting| waiting.events.push(row)),
            Err(error) => tracing::error!(%error, "cannot encode a chat.triggered event"),
        }
    }

    /// Queues an exchange for the log; it is stored shortly after.
    pub fn record_exchange(self: &Arc<Self>, exchange: Exchange) {
        self.queue(|waiting| waiting.exchanges.push(exchange));
    }

    fn queue(self: &Arc<Self>, add: impl FnOnce(&mut Waiting)) {
        {
            let mut waiting = self.lock();
            if waiting.len() >= MAX_WAITING {
                if self
                    .dropped
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(1000)
                {
                    tracing::warn!(
                        "chat events and exchanges are arriving faster than they can be stored; dropping some"
                    );
                }
                return;
            }
            add(&mut waiting);
        }
        if !self.write_queued.swap(true, Ordering::AcqRel) {
            let this = Arc::clone(self);
            self.runtime.spawn(async move {
                // Whatever arrives meanwhile goes into the same write.
                tokio::time::sleep(this.gather_for).await;
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

    /// Stores whatever is waiting, in one transaction; a failed write puts the whole batch
    /// back in front of the queue and is tried again while the database is unavailable.
    async fn write_waiting(self: Arc<Self>) {
        loop {
            // From here on, what arrives needs a write of its own (or joins a retry).
            self.write_queued.store(false, Ordering::Release);
            let batch = mem::take(&mut *self.lock());
            if batch.is_empty() {
                return;
            }
            let events = Arc::new(batch.events);
            let exchanges: Arc<Vec<ExchangeRow>> =
                Arc::new(batch.exchanges.iter().map(Exchange::encode).collect());
            let (stored_events, stored_exchanges) = (Arc::clone(&events), Arc::clone(&exchanges));
            let written = self
                .outbox
                .write(move |tx| {
                    tx.emit_rows(&stored_events)?;
                    chat_exchanges::insert(tx, &stored_exchanges)
                })
                .await;
            let Err(error) = written else {
                return;
            };
            tracing::error!(%error, "could not store chat events and exchanges; retrying");
            {
                let mut waiting = self.lock();
                let events = Arc::try_unwrap(events).unwrap_or_else(|shared| (*shared).clone());
                waiting.events.splice(0..0, events);
                waiting.exchanges.splice(0..0, batch.exchanges);
            }
            tokio::time::sleep(RETRY_AFTER).await;
            if self.write_queued.swap(true, Ordering::AcqRel) {
                // Another write is queued already; it takes the batch along.
                return;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::testing::OutboxFixture;
    use crate::store::{Store, StoreError};

    async fn stored(store: &Store) -> i64 {
        use diesel::prelude::*;
        store
            .read(|conn| {
                Ok::<_, StoreError>(
                    crate::store::schema::events::table
                        .count()
                        .get_result::<i64>(conn)?,
                )
            })
            .await
            .unwrap()
    }

    /// Events that gather for an hour: only a flush stores them.
    async fn gathering() -> (OutboxFixture, Arc<Journal>) {
        let fixture = OutboxFixture::new().await;
        let events = Journal::new(fixture.outbox.clone(), Duration::from_secs(3600));
        (fixture, events)
    }

    #[tokio::test]
    async fn queued_events_wait_for_their_window_and_a_flush_stores_them() {
        let (fixture, events) = gathering().await;
        let store = &fixture.store;
        events.record_event("trg_1", &json!({"trigger": "build"}));
        events.record_event("trg_1", &json!({"trigger": "build"}));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(stored(store).await, 0, "still gathering");

        events.flush().await;
        assert_eq!(stored(store).await, 2);
    }

    /// More rows than SQLite binds in one statement (32,766 values, five a row), and a count
    /// that takes a chunk of every fixed size the insert uses.
    #[tokio::test]
    async fn a_batch_larger_than_one_insert_statement_is_stored_whole() {
        let (fixture, _) = gathering().await;
        let rows: Vec<EventRow> = (0..7_001)
            .map(|n| events::encode_row(EVENT_TYPE, "trg_1", &json!({"n": n})).unwrap())
            .collect();
        fixture
            .outbox
            .write(move |tx| tx.emit_rows(&rows))
            .await
            .unwrap();
        assert_eq!(stored(&fixture.store).await, 7_001);
    }
}
