//! The one way out for events. A producer writes through the [`Outbox`]: inside its transaction
//! every event it emits is stored with one delivery per matching webhook, and once that
//! transaction has committed the outbox hands the new deliveries to the engine. "Create, then
//! start after commit" lives here alone: a producer cannot forget it, and a transaction that
//! rolls back (or a savepoint inside it) starts nothing.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::PreparedEvent;
use crate::delivery::{Addressed, DeliveryEngine, NewDeliveries};
use crate::model::EncodedEvent;
use crate::store::events::EventRow;
use crate::store::{self, AnyConnection, Locks, Orphaned, Store, StoreError, Transient};
use crate::webhooks::Webhook;

/// Which transaction a write runs in.
#[derive(Clone, Copy)]
enum Committing {
    /// The writers' group commit, shared with other writes.
    Grouped,
    /// One of its own beside it.
    Apart,
}

/// Writes that may emit events. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    engine: DeliveryEngine,
}

/// An event stored by [`Transaction::emit`], and how many deliveries it got.
pub struct Emitted {
    pub event: Arc<EncodedEvent>,
    pub deliveries: usize,
}

impl Outbox {
    pub fn new(store: Store, engine: DeliveryEngine) -> Self {
        Self { store, engine }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `work` in one transaction ([`Store::write`]); the deliveries of the events it
    /// emitted start once that transaction has committed.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_as(Committing::Grouped, work).await
    }

    /// [`Outbox::write`] in a transaction of its own beside the group commit
    /// ([`Store::write_apart`]): on PostgreSQL several run at once.
    pub async fn write_apart<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_as(Committing::Apart, work).await
    }

    async fn write_as<T, E, F>(&self, committing: Committing, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let engine = self.engine.clone();
        let work = move |conn: &mut AnyConnection| Transaction::run(conn, &engine, work);
        let (value, created) = match committing {
            Committing::Grouped => self.store.write_or_orphan(work, self.orphaned()).await,
            Committing::Apart => self.store.write_apart(work, self.orphaned()).await,
        }?;
        start(&self.engine, created);
        Ok(value)
    }

    /// [`Outbox::write`] for work that changes the incidents `locks` names, taking turns with
    /// other changes to them, and attempted again when it lost to a concurrent transaction
    /// ([`Store::write_retrying_locked`]). A failed attempt's deliveries are dropped with it.
    pub async fn write_retrying_locked<T, E, F>(&self, locks: Locks, work: F) -> Result<T, E>
    where
        F: Fn(&mut Transaction<'_>) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Transient + Send + 'static,
    {
        let engine = self.engine.clone();
        let work = move |conn: &mut AnyConnection| Transaction::run(conn, &engine, work.clone());
        let (value, created) = self
            .store
            .write_retrying_locked(locks, work, || self.orphaned())
            .await?;
        start(&self.engine, created);
        Ok(value)
    }

    /// Starts a committed write's deliveries when its caller stopped waiting (an HTTP client
    /// hung up and its handler was dropped): otherwise they would wait for their lease to end.
    fn orphaned<T>(&self) -> Orphaned<(T, Vec<NewDeliveries>)> {
        let engine = self.engine.clone();
        Box::new(move |(_, created)| start(&engine, created))
    }
}

fn start(engine: &DeliveryEngine, created: Vec<NewDeliveries>) {
    for deliveries in created {
        engine.start(deliveries);
    }
}

/// A database transaction that can emit events. It derefs to its connection, so the store's
/// queries take it as they are.
pub struct Transaction<'a> {
    conn: &'a mut AnyConnection,
    engine: &'a DeliveryEngine,
    /// Deliveries created so far, started by the outbox once the transaction committed.
    created: Vec<NewDeliveries>,
}

impl Deref for Transaction<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn
    }
}

impl<'a> Transaction<'a> {
    fn run<T, E>(
        conn: &'a mut AnyConnection,
        engine: &'a DeliveryEngine,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<(T, Vec<NewDeliveries>), E> {
        let mut transaction = Transaction {
            conn,
            engine,
            created: Vec::new(),
        };
        let value = work(&mut transaction)?;
        Ok((value, transaction.created))
    }

    /// Runs `work` in a savepoint: if it fails, what it stored is rolled back and the
    /// deliveries it created are forgotten, while the rest of the transaction goes on.
    pub fn savepoint<T>(
        &mut self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let engine = self.engine;
        let (value, created) = diesel::Connection::transaction(&mut *self.conn, |conn| {
            Transaction::run(conn, engine, work)
        })?;
        self.created.extend(created);
        Ok(value)
    }

    /// Stores `event` and one delivery per webhook subscribed to it.
    pub fn emit(&mut self, event: PreparedEvent) -> Result<Emitted, StoreError> {
        self.emit_also_to(event, None)
    }

    /// [`Transaction::emit`], and also to the webhook `also` whatever it subscribes to (a
    /// forwarded incident goes to the webhook it is forwarded to). Each webhook gets the event
    /// once.
    pub fn emit_also_to(
        &mut self,
        event: PreparedEvent,
        also: Option<&str>,
    ) -> Result<Emitted, StoreError> {
        store::events::insert(self.conn, &event.row)?;
        let mut webhooks = self.engine.subscribers(self.conn, &event.event.event)?;
        if let Some(id) = also
            && !webhooks.iter().any(|webhook| webhook.id == id)
        {
            webhooks.extend(self.webhook(id)?);
        }
        let addressed = Addressed {
            event: event.event,
            webhooks,
        };
        let created = self.engine.create_deliveries(self.conn, vec![addressed])?;
        Ok(self.keep(created).remove(0))
    }

    /// Stores `event` with one delivery, to the webhook `id` alone whatever it subscribes to,
    /// due at `due` (at once when `None`). For posts the gateway makes itself.
    pub fn emit_to(
        &mut self,
        event: PreparedEvent,
        id: &str,
        due: Option<i64>,
    ) -> Result<Emitted, StoreError> {
        store::events::insert(self.conn, &event.row)?;
        let addressed = Addressed {
            event: event.event,
            webhooks: self.webhook(id)?.into_iter().collect(),
        };
        let engine = self.engine;
        let created = match due {
            Some(due) => vec![engine.create_deliveries_due(self.conn, addressed, due)?],
            None => engine.create_deliveries(self.conn, vec![addressed])?,
        };
        Ok(self.keep(created).remove(0))
    }

    /// Stores many events, each with one delivery to the webhook it names whatever that
    /// webhook subscribes to, in few statements: for what the gateway fires itself, many at
    /// once (schedules).
    pub fn emit_each_to(
        &mut self,
        events: Vec<(PreparedEvent, &str)>,
    ) -> Result<Vec<Emitted>, StoreError> {
        let rows: Vec<EventRow> = events.iter().map(|(event, _)| event.row.clone()).collect();
        store::events::insert_many(self.conn, &rows)?;
        let mut ids: Vec<String> = events.iter().map(|(_, id)| (*id).to_owned()).collect();
        ids.sort_unstable();
        ids.dedup();
        let webhooks = self.engine.webhooks(self.conn, &ids)?;
        let addressed = events
            .into_iter()
            .map(|(event, id)| Addressed {
                event: event.event,
                webhooks: webhooks
                    .iter()
                    .filter(|webhook| webhook.id == id)
                    .cloned()
                    .collect(),
            })
            .collect();
        let created = self.engine.create_deliveries(self.conn, addressed)?;
        Ok(self.keep(created))
    }

    /// Stores encoded events (none about an incident), many at once, and one delivery per
    /// webhook subscribed to each one's type. The subscribers of a type are looked up once for
    /// all its events, and an event without any is never decoded.
    pub fn emit_rows(&mut self, rows: &[EventRow]) -> Result<(), StoreError> {
        store::events::insert_many(self.conn, rows)?;
        let mut subscribers: Vec<(&str, Vec<Arc<Webhook>>)> = Vec::new();
        let mut addressed = Vec::new();
        for row in rows {
            let known = subscribers
                .iter()
                .find(|(event_type, _)| *event_type == row.event_type);
            let webhooks = match known {
                Some((_, webhooks)) => webhooks.clone(),
                None => {
                    let webhooks = self.engine.subscribers_to(self.conn, &row.event_type)?;
                    subscribers.push((&row.event_type, webhooks.clone()));
                    webhooks
                }
            };
            if webhooks.is_empty() {
                continue;
            }
            let event = EncodedEvent::decode(row.payload.clone())
                .map_err(|error| StoreError::Corrupt(format!("event {}: {error}", row.id)))?;
            addressed.push(Addressed {
                event: Arc::new(event),
                webhooks,
            });
        }
        let created = self.engine.create_deliveries(self.conn, addressed)?;
        self.keep(created);
        Ok(())
    }

    /// The webhook `id`, current within this transaction; `None` if there is none.
    pub fn webhook(&mut self, id: &str) -> Result<Option<Arc<Webhook>>, StoreError> {
        Ok(self
            .engine
            .webhooks(self.conn, &[id.to_owned()])?
            .into_iter()
            .next())
    }

    /// Keeps deliveries to start at commit; returns what each event got.
    fn keep(&mut self, created: Vec<NewDeliveries>) -> Vec<Emitted> {
        let emitted = created
            .iter()
            .map(|deliveries| Emitted {
                event: Arc::clone(deliveries.event()),
                deliveries: deliveries.count(),
            })
            .collect();
        self.created.extend(created);
        emitted
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::prelude::*;
    use futures_util::FutureExt;
    use serde_json::json;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::events::testing::OutboxFixture;
    use crate::events::{NewEvent, prepare};
    use crate::outbound::NetworkPolicy;
    use crate::store::schema::{deliveries, events};
    use crate::webhooks::{self, WebhookSpec};

    /// A receiver, and a webhook to it subscribed to `x.*` events.
    async fn subscribed(fixture: &OutboxFixture) -> MockServer {
        let receiver = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .mount(&receiver)
            .await;
        let spec: WebhookSpec = serde_json::from_value(json!({
            "name": "receiver",
            "endpoint": {"url": receiver.uri()},
            "events": ["x.*"],
        }))
        .unwrap();
        let policy = NetworkPolicy::new(&fixture.config.outbound);
        webhooks::create(&fixture.store, &policy, spec, "test")
            .await
            .unwrap();
        receiver
    }

    fn event(name: &str) -> PreparedEvent {
        prepare(NewEvent {
            event_type: format!("x.{name}"),
            subject: None,
            data: json!({"name": name}),
            previous: None,
            changes: None,
        })
        .unwrap()
    }

    /// The event types the receiver got, waiting up to `patience` for `expected` of them.
    async fn received(receiver: &MockServer, expected: usize, patience: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let requests = receiver.received_requests().await.unwrap_or_default();
            if requests.len() >= expected || tokio::time::Instant::now() >= deadline {
                return requests
                    .iter()
                    .map(|request| {
                        let body: serde_json::Value =
                            serde_json::from_slice(&request.body).unwrap();
                        body["type"].as_str().unwrap().to_owned()
                    })
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stored(fixture: &OutboxFixture) -> (i64, i64) {
        fixture
            .store
            .read(|conn| {
                let events = events::table.count().get_result::<i64>(conn)?;
                let deliveries = deliveries::table.count().get_result::<i64>(conn)?;
                Ok::<_, StoreError>((events, deliveries))
            })
            .await
            .unwrap()
    }

    /// The claimer never runs here: whatever is sent was started by the outbox itself.
    #[tokio::test]
    async fn a_committed_write_starts_its_deliveries_itself() {
        let fixture = OutboxFixture::new().await;
        let receiver = subscribed(&fixture).await;
        let emitted = fixture
            .outbox
            .write(|tx| tx.emit(event("one")))
            .await
            .unwrap();
        assert_eq!(emitted.deliveries, 1);
        assert_eq!(
            received(&receiver, 1, Duration::from_secs(10)).await,
            ["x.one"]
        );
    }

    /// An HTTP handler whose client hung up is dropped while its write is under way.
    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_still_starts_its_deliveries() {
        let fixture = OutboxFixture::new().await;
        let receiver = subscribed(&fixture).await;
        let abandoned = fixture
            .outbox
            .write(|tx| {
                // Long enough that the one poll below cannot find the write done.
                std::thread::sleep(Duration::from_millis(100));
                tx.emit(event("abandoned"))
            })
            .now_or_never();
        assert!(abandoned.is_none(), "the write was still under way");
        assert_eq!(
            received(&receiver, 1, Duration::from_secs(10)).await,
            ["x.abandoned"]
        );
    }

    #[tokio::test]
    async fn a_rolled_back_write_stores_and_sends_nothing() {
        let mut fixture = OutboxFixture::new().await;
        fixture.run_engine();
        let receiver = subscribed(&fixture).await;
        let failed = fixture
            .outbox
            .write(|tx| {
                tx.emit(event("lost"))?;
                Err::<(), _>(StoreError::Corrupt("the producer gave up".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(stored(&fixture).await, (0, 0));
        // A later event is sent: had the lost one started, it would have gone out first.
        fixture
            .outbox
            .write(|tx| tx.emit(event("later")))
            .await
            .unwrap();
        assert_eq!(
            received(&receiver, 2, Duration::from_secs(2)).await,
            ["x.later"]
        );
    }

    #[tokio::test]
    async fn a_failed_savepoint_forgets_its_deliveries_and_the_rest_commits() {
        let fixture = OutboxFixture::new().await;
        let receiver = subscribed(&fixture).await;
        fixture
            .outbox
            .write(|tx| {
                tx.emit(event("before"))?;
                let inner = tx.savepoint(|tx| {
                    tx.emit(event("undone"))?;
                    Err::<(), _>(StoreError::Corrupt("the savepoint gave up".into()))
                });
                assert!(inner.is_err());
                tx.emit(event("after"))
            })
            .await
            .unwrap();
        assert_eq!(stored(&fixture).await, (2, 2));
        let mut types = received(&receiver, 3, Duration::from_secs(2)).await;
        types.sort();
        assert_eq!(types, ["x.after", "x.before"]);
    }
}
