//! Storing what came of attempts. Attempts append their outcomes to a buffer; the first one to
//! find no write queued submits one, and that write takes the whole buffer when the writer
//! thread runs it. Whatever arrives while a write waits its turn goes with it, in one savepoint.
//! A delivery's place in the process is given back only once its outcome is stored.

use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use super::{Job, Shared};
use crate::store::deliveries::{AttemptRow, PENDING, StateChange};
use crate::store::{self, StoreError};

const RETRY_WRITE_AFTER: Duration = Duration::from_secs(1);

pub enum Outcome {
    Attempt {
        written: Box<(AttemptRow, StateChange)>,
        slot: OwnedSemaphorePermit,
    },
    /// A claim given back unsent, due again at `due`.
    Release {
        delivery_id: String,
        due: i64,
        slot: OwnedSemaphorePermit,
    },
}

impl Outcome {
    pub fn release(job: Job, due: i64) -> Self {
        Outcome::Release {
            delivery_id: job.delivery_id,
            due,
            slot: job.slot,
        }
    }
}

enum Write {
    Attempt(Box<(AttemptRow, StateChange)>),
    Release(String, i64),
}

/// Outcomes waiting to be written, with the places they hold.
#[derive(Default)]
pub struct OutcomeBuffer {
    waiting: Mutex<Vec<(Write, OwnedSemaphorePermit)>>,
    write_queued: AtomicBool,
}

impl OutcomeBuffer {
    fn lock(&self) -> MutexGuard<'_, Vec<(Write, OwnedSemaphorePermit)>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub async fn store(shared: &Arc<Shared>, outcome: Outcome) {
    let entry = match outcome {
        Outcome::Attempt { written, slot } => (Write::Attempt(written), slot),
        Outcome::Release {
            delivery_id,
            due,
            slot,
        } => (Write::Release(delivery_id, due), slot),
    };
    shared.outcomes.lock().push(entry);
    if !shared.outcomes.write_queued.swap(true, Ordering::AcqRel) {
        write_waiting(shared).await;
    }
}

/// Writes whatever is waiting when the writer thread gets to it, retrying while the database is
/// unavailable; once the process is stopping a failure is final (the claims then expire and
/// the deliveries are sent again). Outcomes a failed write had taken go back to the buffer,
/// also when only the commit failed: writing them again is harmless (attempts are inserted
/// once, a state change applies only to a claim still held), and losing them would hold their
/// deliveries until their lease ends.
async fn write_waiting(shared: &Arc<Shared>) {
    loop {
        let taken: Arc<Mutex<Taken>> = Arc::default();
        let (in_writer, in_write, owner) =
            (Arc::clone(shared), Arc::clone(&taken), shared.owner.clone());
        let result = shared
            .store
            .write(move |conn| {
                // From here on, new outcomes need a write of their own.
                in_writer
                    .outcomes
                    .write_queued
                    .store(false, Ordering::Release);
                let mut taken = lock(&in_write);
                taken.extend(mem::take(&mut *in_writer.outcomes.lock()));
                apply_all(conn, &taken, &owner)
            })
            .await;
        let taken = mem::take(&mut *lock(&taken));
        match result {
            Ok(()) => {
                let earliest_due = taken
                    .iter()
                    .filter_map(|(write, _)| due_again_at(write))
                    .min();
                drop(taken);
                let sooner_than_planned = earliest_due
                    .is_some_and(|due| due < shared.claimer_wakes_at.load(Ordering::Relaxed));
                if sooner_than_planned || shared.claimer_needs_room.swap(false, Ordering::Relaxed) {
                    shared.wake.notify_one();
                }
                return;
            }
            Err(error) => {
                // Put them back for the next write (ours, or another attempt's).
                shared.outcomes.lock().extend(taken);
                if shared.tasks.is_closed() {
                    tracing::error!(%error, "could not record delivery outcomes while stopping");
                    return;
                }
                tracing::warn!(%error, "could not record delivery outcomes; retrying");
                // A write that never ran (no connection) did not clear the flag; cleared
                // here, the outcomes of attempts finishing meanwhile start a write of their own
                // and this loop ends if one did.
                shared.outcomes.write_queued.store(false, Ordering::Release);
                tokio::time::sleep(RETRY_WRITE_AFTER).await;
                if shared.outcomes.write_queued.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        }
    }
}

type Taken = Vec<(Write, OwnedSemaphorePermit)>;

fn lock(taken: &Mutex<Taken>) -> MutexGuard<'_, Taken> {
    taken
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When the delivery falls due again, if it does.
fn due_again_at(write: &Write) -> Option<i64> {
    match write {
        Write::Attempt(written) => {
            (written.1.status == PENDING).then_some(written.1.next_attempt_at)
        }
        Write::Release(_, due) => Some(*due),
    }
}

/// Writes a batch of outcomes with a few statements, whatever its size.
fn apply_all(
    conn: &mut store::AnyConnection,
    taken: &[(Write, OwnedSemaphorePermit)],
    owner: &str,
) -> Result<(), StoreError> {
    let mut attempts = Vec::new();
    let mut changes = Vec::new();
    for (write, _) in taken {
        match write {
            Write::Attempt(written) => {
                attempts.push(written.0.clone());
                changes.push(written.1.clone());
            }
            Write::Release(id, due) => store::deliveries::release(conn, id, owner, *due)?,
        }
    }
    store::deliveries::insert_attempts(conn, &attempts)?;
    store::deliveries::apply_all(conn, owner, &changes)
}
