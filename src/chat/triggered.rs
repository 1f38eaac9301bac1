//! `chat.triggered` events (SPEC §4.1), one per forwarded message, stored without making the
//! chat wait: events queue here and, a few milliseconds after the first, one write stores
//! everything queued, with the deliveries of the webhooks subscribed to them. A graceful stop
//! stores what is still queued. The queue is bounded: beyond it events are dropped (and that
//! logged), never the chat's reply delayed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::gathering::{BatchWriter, Gathering};
use super::inbound::message::ChatMessage;
use super::routing::route::Route;
use crate::events::{self, Outbox};
use crate::store::StoreError;
use crate::store::events::EventRow;

const EVENT_TYPE: &str = "chat.triggered";
/// Events waiting beyond this many are dropped.
const MAX_WAITING: usize = 50_000;
/// How long events gather before they are written: one write then stores hundreds of them
/// instead of a few, which is most of what storing them costs.
pub const GATHER_FOR: Duration = Duration::from_millis(20);

pub struct TriggeredEvents {
    events: Arc<Gathering<EventWriter>>,
    dropped: AtomicU64,
}

struct EventWriter {
    outbox: Outbox,
}

impl BatchWriter for EventWriter {
    type Batch = Vec<EventRow>;

    fn is_empty(batch: &Vec<EventRow>) -> bool {
        batch.is_empty()
    }

    async fn write(&self, batch: Vec<EventRow>) -> Result<(), (Vec<EventRow>, StoreError)> {
        let batch = Arc::new(batch);
        let rows = Arc::clone(&batch);
        self.outbox
            .write(move |tx| tx.emit_rows(&rows))
            .await
            .map_err(|error| {
                let batch = Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
                (batch, error)
            })
    }

    fn put_back(waiting: &mut Vec<EventRow>, failed: Vec<EventRow>) {
        waiting.splice(0..0, failed);
    }
}

impl TriggeredEvents {
    /// Call on the main runtime: the writes will run there, each `gather_for` after the
    /// first event it stores.
    pub fn new(outbox: Outbox, gather_for: Duration) -> Self {
        Self {
            events: Gathering::new(EventWriter { outbox }, gather_for),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues the `chat.triggered` event of `message`, forwarded by `route` with `trigger_word`.
    pub fn record_forwarded(&self, route: &Route, message: &ChatMessage, trigger_word: &str) {
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
    fn record(&self, subject: &str, data: &impl Serialize) {
        let prepared = match events::encode_row(EVENT_TYPE, subject, data) {
            Ok(row) => row,
            Err(error) => {
                tracing::error!(%error, "cannot encode a chat.triggered event");
                return;
            }
        };
        self.events.add(|waiting| {
            if waiting.len() < MAX_WAITING {
                waiting.push(prepared);
            } else if self
                .dropped
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(1000)
            {
                tracing::warn!(
                    "chat.triggered events are arriving faster than they can be stored; dropping some"
                );
            }
        });
    }

    /// Stores what is queued now (at a stop, once no request can add more).
    pub async fn flush(&self) {
        self.events.flush().await;
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
    async fn gathering() -> (OutboxFixture, TriggeredEvents) {
        let fixture = OutboxFixture::new().await;
        let events = TriggeredEvents::new(fixture.outbox.clone(), Duration::from_secs(3600));
        (fixture, events)
    }

    #[tokio::test]
    async fn queued_events_wait_for_their_window_and_a_flush_stores_them() {
        let (fixture, events) = gathering().await;
        let store = &fixture.store;
        events.record("trg_1", &json!({"trigger": "build"}));
        events.record("trg_1", &json!({"trigger": "build"}));
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
