//! Keeping the exchange log without making the chat pay for it. Exchanges wait here, up to
//! [`KEPT_EXCHANGES`] of each trigger (and of the requests that matched none) each second, and
//! once a second one write stores what is waiting. Only what the log can show is ever kept,
//! encoded and written: a trigger answering thousands of requests a second costs a hundred rows
//! a second, and a flood of refused requests no more. Beyond a hundred in a second, an exchange
//! is dropped at once, on the thread that made it: holding on to every request's buffers to
//! keep the very latest would cost the chat more than the log is worth. A graceful stop stores
//! what is waiting; a crash loses at most the last second of the log (never an event: those
//! are stored apart).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::exchange::{Exchange, Why};
use super::gathering::{BatchWriter, Gathering};
use super::inbound::message::ChatMessage;
use super::trigger::Kind;
use crate::store::chat_exchanges::{self, ExchangeRow, KEPT_EXCHANGES};
use crate::store::{Store, StoreError};
use crate::timestamp::now_nanos;

/// How long exchanges gather before they are written.
pub const GATHER_FOR: Duration = Duration::from_secs(1);
/// The queue of each trigger holds what its log shows.
const KEPT: usize = KEPT_EXCHANGES as usize;

/// The exchanges of each trigger by id (`""`: of those that matched no trigger), oldest
/// first.
type Waiting = HashMap<String, Vec<Exchange>>;

pub struct ExchangeLog {
    exchanges: Arc<Gathering<ExchangeWriter>>,
}

/// How many exchanges a log holds for its next write: a request past the hundredth is turned
/// away by reading one counter, without the queue's lock.
struct Quota<'a>(&'a AtomicUsize);

impl Quota<'_> {
    fn take(&self) -> bool {
        self.0.load(Ordering::Relaxed) < KEPT && self.0.fetch_add(1, Ordering::Relaxed) < KEPT
    }

    fn renew(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

struct ExchangeWriter {
    store: Store,
    /// The quota of the requests that matched no trigger (a trigger's is on its route).
    unmatched: AtomicUsize,
    /// Exchanges stored per trigger since its log was last pruned: a log is pruned once it may
    /// hold twice what it shows, not at every write (the list shows the latest only).
    unpruned: Mutex<HashMap<Option<String>, i64>>,
}

impl BatchWriter for ExchangeWriter {
    type Batch = Waiting;

    fn is_empty(batch: &Waiting) -> bool {
        batch.is_empty()
    }

    /// Stores the batch and prunes the logs that grew full, in one transaction. The logs'
    /// quotas start again: what arrives from now on goes into the next write.
    async fn write(&self, batch: Waiting) -> Result<(), (Waiting, StoreError)> {
        // Every route of the batch: a trigger changed meanwhile has a new route.
        for exchange in batch.values().flatten() {
            self.quota(exchange).renew();
        }
        let rows = encode(&batch);
        let full = self.full_logs(&rows);
        let written = self
            .store
            .write(move |conn| {
                chat_exchanges::insert(conn, &rows)?;
                chat_exchanges::prune(conn, &full)
            })
            .await;
        written.map_err(|error| (batch, error))
    }

    /// The latest hundred of each trigger stay.
    fn put_back(waiting: &mut Waiting, failed: Waiting) {
        for (trigger, mut older) in failed {
            let newer = waiting.entry(trigger).or_default();
            older.append(newer);
            let excess = older.len().saturating_sub(KEPT);
            older.drain(..excess);
            *newer = older;
        }
    }
}

impl ExchangeWriter {
    fn quota<'a>(&'a self, exchange: &'a Exchange) -> Quota<'a> {
        Quota(
            exchange
                .route()
                .map_or(&self.unmatched, |route| &route.logged),
        )
    }

    /// The logs that `rows` fill to [`KEPT_EXCHANGES`] more than they held at their last prune.
    fn full_logs(&self, rows: &[ExchangeRow]) -> Vec<Option<String>> {
        let mut unpruned = self
            .unpruned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut full = Vec::new();
        for row in rows {
            let count = unpruned.entry(row.trigger_id.clone()).or_default();
            *count += 1;
            if *count >= KEPT_EXCHANGES {
                *count = 0;
                full.push(row.trigger_id.clone());
            }
        }
        full
    }
}

impl ExchangeLog {
    /// Call on the main runtime: the writes will run there, each `gather_for` after the
    /// first exchange it stores.
    pub fn new(store: Store, gather_for: Duration) -> Self {
        let writer = ExchangeWriter {
            store,
            unmatched: AtomicUsize::new(0),
            unpruned: Mutex::new(HashMap::new()),
        };
        Self {
            exchanges: Gathering::new(writer, gather_for),
        }
    }

    /// Queues `exchange`; it is stored within [`GATHER_FOR`], unless its trigger already has
    /// a hundred waiting.
    pub fn record(&self, mut exchange: Exchange) {
        if !self.exchanges.writer().quota(&exchange).take() {
            return;
        }
        exchange.keep();
        self.exchanges.add(|waiting| {
            let trigger = exchange.trigger_id().unwrap_or_default();
            // The key is copied only the first time a trigger is seen in a window.
            let queued = match waiting.get_mut(trigger) {
                Some(queued) => queued,
                None => waiting.entry(trigger.to_owned()).or_default(),
            };
            queued.push(exchange);
        });
    }

    /// Logs a request that was not forwarded, and why (also as a `debug` line).
    pub fn not_forwarded(&self, kind: Kind, message: Option<ChatMessage>, why: Why) {
        tracing::debug!(
            kind = kind.as_str(),
            trigger = why.route.as_ref().map(|route| route.spec.name.as_str()),
            outcome = why.verdict.as_str(),
            reason = %why.reason,
            "a chat request was not forwarded"
        );
        self.record(Exchange::not_forwarded(now_nanos(), kind, message, why));
    }

    /// Stores what is waiting now (at a stop, once no request can add more).
    pub async fn flush(&self) {
        self.exchanges.flush().await;
    }
}

/// The rows of a batch; an exchange that cannot be encoded is left out, and that logged.
fn encode(batch: &Waiting) -> Vec<ExchangeRow> {
    batch
        .values()
        .flatten()
        .filter_map(|exchange| {
            exchange
                .encode()
                .inspect_err(|error| tracing::error!(%error, "cannot encode a chat exchange"))
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::exchange::Verdict;
    use crate::events::testing::OutboxFixture;
    use crate::store::StoreError;
    use crate::store::schema::chat_exchanges;

    async fn stored(store: &Store) -> Vec<String> {
        use diesel::prelude::*;
        store
            .read(|conn| {
                Ok::<_, StoreError>(
                    chat_exchanges::table
                        .select(chat_exchanges::record)
                        .order(chat_exchanges::id)
                        .load::<String>(conn)?,
                )
            })
            .await
            .unwrap()
    }

    /// A refused request received `n` milliseconds into 1970.
    fn refused(n: i64, reason: &str) -> Exchange {
        let why = Why::new(Verdict::Refused, None, reason.to_owned());
        Exchange::not_forwarded(n, Kind::Outgoing, None, why)
    }

    /// A log that gathers for an hour: only a flush stores it.
    async fn gathering() -> (OutboxFixture, ExchangeLog) {
        let fixture = OutboxFixture::new().await;
        let log = ExchangeLog::new(fixture.store.clone(), Duration::from_secs(3600));
        (fixture, log)
    }

    #[tokio::test]
    async fn a_hundred_of_a_trigger_are_written_each_window() {
        let (fixture, log) = gathering().await;
        for n in 0..250 {
            log.record(refused(n, &format!("request {n}")));
        }
        assert!(stored(&fixture.store).await.is_empty(), "still gathering");
        log.flush().await;
        let records = stored(&fixture.store).await;
        assert_eq!(records.len(), KEPT);
        assert!(records[0].contains("request 0") && records[99].contains("request 99"));
    }

    /// However many exchanges come, a log holds at most twice what it shows.
    #[tokio::test]
    async fn the_stored_log_stays_bounded() {
        let (fixture, log) = gathering().await;
        for _ in 0..25 {
            for _ in 0..10 {
                log.record(refused(0, "no token"));
            }
            log.flush().await;
        }
        let kept = stored(&fixture.store).await.len();
        assert!((KEPT..2 * KEPT).contains(&kept), "{kept} kept");
    }
}
