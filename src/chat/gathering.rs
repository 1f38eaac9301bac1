//! Storing what requests produce without making them wait: additions gather in a batch, and
//! the first addition after a write schedules the next write a moment later, which stores
//! everything gathered by then in one transaction. A failed write gives its batch back, in
//! front of what arrived since, and is tried again while the database is unavailable.

use std::future::Future;
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;

use crate::store::StoreError;

const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a batch is and how it is stored.
pub trait BatchWriter: Send + Sync + 'static {
    type Batch: Default + Send + 'static;

    fn is_empty(batch: &Self::Batch) -> bool;

    /// Stores `batch`; on failure gives it back.
    fn write(
        &self,
        batch: Self::Batch,
    ) -> impl Future<Output = Result<(), (Self::Batch, StoreError)>> + Send;

    /// Puts a batch that could not be stored back in front of what arrived since.
    fn put_back(waiting: &mut Self::Batch, failed: Self::Batch);
}

pub struct Gathering<W: BatchWriter> {
    writer: W,
    /// The writes run on the main runtime, which outlives the HTTP workers at a stop.
    runtime: Handle,
    gather_for: Duration,
    waiting: Mutex<W::Batch>,
    write_queued: AtomicBool,
}

impl<W: BatchWriter> Gathering<W> {
    /// Call on the main runtime: the writes will run there, each `gather_for` after the
    /// first addition it stores.
    pub fn new(writer: W, gather_for: Duration) -> Arc<Self> {
        Arc::new(Self {
            writer,
            runtime: Handle::current(),
            gather_for,
            waiting: Mutex::new(W::Batch::default()),
            write_queued: AtomicBool::new(false),
        })
    }

    pub fn writer(&self) -> &W {
        &self.writer
    }

    fn lock(&self) -> MutexGuard<'_, W::Batch> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds to the batch being gathered.
    pub fn add(self: &Arc<Self>, add: impl FnOnce(&mut W::Batch)) {
        add(&mut self.lock());
        // Reading first spares the requests that find a write queued a write to a line of
        // memory every core shares.
        if !self.write_queued.load(Ordering::Acquire)
            && !self.write_queued.swap(true, Ordering::AcqRel)
        {
            let this = Arc::clone(self);
            self.runtime.spawn(async move {
                // Whatever arrives meanwhile goes into the same write.
                tokio::time::sleep(this.gather_for).await;
                this.write_waiting().await;
            });
        }
    }

    /// Stores what is gathered now (at a stop, once no request can add more).
    pub async fn flush(self: &Arc<Self>) {
        if !W::is_empty(&self.lock()) {
            Arc::clone(self).write_waiting().await;
        }
    }

    async fn write_waiting(self: Arc<Self>) {
        loop {
            // From here on, what arrives needs a write of its own (or joins a retry).
            self.write_queued.store(false, Ordering::Release);
            let batch = mem::take(&mut *self.lock());
            if W::is_empty(&batch) {
                return;
            }
            let Err((batch, error)) = self.writer.write(batch).await else {
                return;
            };
            tracing::error!(%error, "could not store what chat requests left to store; retrying");
            W::put_back(&mut self.lock(), batch);
            tokio::time::sleep(RETRY_AFTER).await;
            if self.write_queued.swap(true, Ordering::AcqRel) {
                // Another write is queued already; it takes the batch along.
                return;
            }
        }
    }
}
