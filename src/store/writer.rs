//! Group commit. Writer threads own the write connections; each takes every write job waiting
//! (up to a batch), runs each in its own savepoint, commits once, and only then answers each
//! caller. A failing job rolls back its savepoint alone; a failed commit fails the whole batch.
//! Nobody hears "done" before their change is committed, and a burst of writes costs one commit
//! instead of one each. On PostgreSQL a batch first takes the advisory locks of every incident its
//! jobs change (`locks`), all at once and in order, so that batches changing different incidents
//! run side by side and those changing one incident take turns.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use diesel::Connection;
use diesel::r2d2::R2D2Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tokio::sync::oneshot;

use super::connection::{AnyConnection, ConnectionManager};
use super::locks::{self, Locks};
use super::{Orphaned, StoreError};

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;

/// The most advisory locks one batch declares, unless its single job declares more (a source
/// request with that many alerts runs, alone). PostgreSQL keeps every transaction's locks in one
/// table for the whole server, sized max_locks_per_transaction × (max_connections +
/// max_prepared_transactions): 64 × 100 = 6,400 by default. Advisory locks take a slot each, and
/// a transaction that finds the table full fails with "out of shared memory", every job of the
/// batch with it. 512 lets three writer threads (1,536) of a process, or a few processes, hold
/// their batches' locks within a quarter or so of the default, leaving the rest to everything
/// else; and it is twice `MAX_BATCH`, so batches of single alerts (one key each) still fill up.
const MAX_BATCH_LOCKS: usize = 512;

static NEXT_BATCH: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT_BATCH: Cell<u64> = const { Cell::new(0) };
}

/// A number unique to the transaction the calling writer thread is running (0 elsewhere):
/// what every job of a batch reads is read within that one transaction.
pub fn current_batch() -> u64 {
    CURRENT_BATCH.with(Cell::get)
}

/// A write waiting for a writer thread.
pub(super) trait WriteJob: Send {
    /// The advisory lock keys of the incidents it changes (sorted), taken before the batch runs.
    fn locks(&self) -> &[i64];
    fn run(&mut self, conn: &mut AnyConnection);
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

pub(super) struct Typed<T, E, F> {
    work: Option<F>,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
    orphaned: Option<Orphaned<T>>,
    locks: Locks,
}

impl<T, E, F> Typed<T, E, F> {
    pub fn new(
        work: F,
        reply: oneshot::Sender<Result<T, E>>,
        orphaned: Option<Orphaned<T>>,
        locks: Locks,
    ) -> Self {
        Self {
            work: Some(work),
            outcome: None,
            reply,
            orphaned,
            locks,
        }
    }
}

/// Runs `work` in a transaction (a savepoint inside one): committed when it succeeds, rolled
/// back when it fails, with its own error.
pub(super) fn in_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<StoreError>,
{
    conn.transaction(|conn| work(conn).map_err(Failure::Work))
        .map_err(|failure| match failure {
            Failure::Work(error) => error,
            Failure::Database(error) => StoreError::from(error).into(),
        })
}

/// Carries the job's own error or diesel's out of `Connection::transaction`.
enum Failure<E> {
    Work(E),
    Database(DieselError),
}

impl<E> From<DieselError> for Failure<E> {
    fn from(error: DieselError) -> Self {
        Failure::Database(error)
    }
}

impl<T, E, F> WriteJob for Typed<T, E, F>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send,
{
    fn locks(&self) -> &[i64] {
        self.locks.keys()
    }

    fn run(&mut self, conn: &mut AnyConnection) {
        let Some(work) = self.work.take() else { return };
        // Inside the batch's transaction this is a savepoint.
        self.outcome = Some(in_transaction(conn, work));
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Commit("the write did not run".into()).into()),
            (Err(error), _) => Err(error.into()),
        };
        // A caller that stopped waiting leaves a committed outcome to `orphaned`.
        if let Err(Ok(value)) = self.reply.send(result)
            && let Some(orphaned) = self.orphaned
        {
            orphaned(value);
        }
    }
}

pub(super) struct Writer {
    jobs: Sender<Box<dyn WriteJob>>,
}

/// What the writer threads take their batches from: the submitted jobs, and the one that did
/// not fit the batch taken before it (its locks would have passed `MAX_BATCH_LOCKS`), which is
/// first in line for the next batch.
struct Queue {
    jobs: Receiver<Box<dyn WriteJob>>,
    held: Option<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts `threads` writer threads, each with its own connection.
    pub fn start(manager: ConnectionManager, threads: usize) -> Self {
        let (jobs, receiver) = mpsc::channel::<Box<dyn WriteJob>>();
        let queue = Arc::new(Mutex::new(Queue {
            jobs: receiver,
            held: None,
        }));
        for index in 0..threads.max(1) {
            let (manager, queue) = (manager.clone(), Arc::clone(&queue));
            let spawned = std::thread::Builder::new()
                .name(format!("db-writer-{index}"))
                .spawn(move || write_loop(&manager, &queue));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a database writer thread");
            }
        }
        Self { jobs }
    }

    pub fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError> {
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Commit("the database writer has stopped".into()))
    }
}

/// Runs until every sender is gone (the store was dropped).
fn write_loop(manager: &ConnectionManager, queue: &Mutex<Queue>) {
    let mut connection: Option<AnyConnection> = None;
    while let Some(mut batch) = next_batch(queue) {
        let committed = commit_batch(manager, &mut connection, &mut batch);
        batch
            .into_iter()
            .for_each(|job| job.finish(committed.clone().map_err(BatchFailure::into_error)));
    }
}

/// Runs `batch` in one transaction on the thread's connection, opening one if it has none.
/// A connection kept from earlier batches may have died meanwhile (the database restarted or
/// was out of reach): when the transaction fails before any job ran, the batch is tried once
/// more on a new connection, so the first writes after the database's return do not fail for
/// a connection that broke while it was away.
fn commit_batch(
    manager: &ConnectionManager,
    connection: &mut Option<AnyConnection>,
    batch: &mut [Box<dyn WriteJob>],
) -> Result<(), BatchFailure> {
    loop {
        let kept = connection.is_some();
        let conn = match connection {
            Some(conn) => conn,
            None => match manager.open() {
                Ok(conn) => connection.insert(conn),
                Err(error) => return Err(BatchFailure::Unavailable(error.to_string())),
            },
        };
        let (outcome, ran) = run_batch(conn, batch);
        let Err((failure, replace_connection)) = outcome else {
            return Ok(());
        };
        if replace_connection || (kept && !ran) {
            *connection = None;
        }
        if ran || !kept {
            return Err(failure);
        }
    }
}

/// Runs every job of `batch` in a transaction; says whether any job ran, and on failure
/// whether the connection must be replaced.
fn run_batch(
    conn: &mut AnyConnection,
    batch: &mut [Box<dyn WriteJob>],
) -> (Result<(), (BatchFailure, bool)>, bool) {
    let mut ran = false;
    let keys = batch_locks(batch);
    CURRENT_BATCH.with(|batch| batch.set(NEXT_BATCH.fetch_add(1, Ordering::Relaxed)));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        conn.transaction::<(), StoreError, _>(|conn| {
            // Before any job takes a row lock: see `locks`. They end with the transaction,
            // committed or not; a job rolled back to its savepoint leaves them held.
            locks::take(conn, keys.keys())?;
            ran = true;
            batch.iter_mut().for_each(|job| job.run(conn));
            Ok(())
        })
    }));
    CURRENT_BATCH.with(|batch| batch.set(0));
    let result = match outcome {
        Ok(Ok(())) => Ok(()),
        // A connection that broke means the database went away, maybe in the middle of
        // COMMIT: whether the batch committed is unknown, and the caller hears 503 like
        // any other outage (it may try again; a `2xx` is only ever said of a commit seen).
        Ok(Err(error)) if conn.is_broken() => {
            Err((BatchFailure::Unavailable(error.to_string()), true))
        }
        // A full disk rolls the batch back (SQLite may have ended the transaction itself,
        // so the connection starts afresh); once there is room, the same writes succeed.
        Ok(Err(error)) if error.is_unavailable() => {
            Err((BatchFailure::Unavailable(error.to_string()), true))
        }
        Ok(Err(error)) => Err((BatchFailure::of(error), false)),
        // The connection may be left mid-transaction: start afresh.
        Err(_) => Err((
            BatchFailure::Commit("a write panicked; the batch was rolled back".to_owned()),
            true,
        )),
    };
    (result, ran)
}

/// The union of the batch's lock keys, sorted and without repeats.
fn batch_locks(batch: &[Box<dyn WriteJob>]) -> Locks {
    Locks::from_keys(batch.iter().flat_map(|job| job.locks()).copied().collect())
}

/// Why a batch did not commit, for each of its jobs.
#[derive(Clone)]
enum BatchFailure {
    Unavailable(String),
    Commit(String),
    /// PostgreSQL broke a deadlock or refused to serialise (taking the locks, or committing):
    /// kept as such so that each job's `write_retrying` tries again rather than failing.
    Conflict(DatabaseErrorKind, String),
}

impl BatchFailure {
    fn of(error: StoreError) -> Self {
        if error.is_transient_conflict()
            && let StoreError::Query(DieselError::DatabaseError(kind, info)) = &error
        {
            return BatchFailure::Conflict(*kind, info.message().to_owned());
        }
        BatchFailure::Commit(error.to_string())
    }

    fn into_error(self) -> StoreError {
        match self {
            BatchFailure::Unavailable(reason) => StoreError::Unavailable(reason),
            BatchFailure::Commit(reason) => StoreError::Commit(reason),
            BatchFailure::Conflict(kind, message) => {
                StoreError::Query(DieselError::DatabaseError(kind, Box::new(message)))
            }
        }
    }
}

/// Waits for one job, then takes whatever else is already waiting, up to the batch size and
/// while the batch's locks stay within `MAX_BATCH_LOCKS`. The job that would pass it is held
/// back for the next batch (the channel cannot put it back), so that it keeps its place.
fn next_batch(queue: &Mutex<Queue>) -> Option<Vec<Box<dyn WriteJob>>> {
    let mut queue = queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let first = match queue.held.take() {
        Some(job) => job,
        None => queue.jobs.recv().ok()?,
    };
    let mut keys = first.locks().len();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        let Ok(job) = queue.jobs.try_recv() else {
            break;
        };
        if !joins(keys, job.locks().len()) {
            queue.held = Some(job);
            break;
        }
        keys += job.locks().len();
        batch.push(job);
    }
    Some(batch)
}

/// Whether a job declaring `job_keys` locks joins a batch whose jobs declared `batch_keys`.
/// Keys two jobs share are counted twice: the sum may overstate the locks taken, never
/// understate them, and needs no set.
fn joins(batch_keys: usize, job_keys: usize) -> bool {
    batch_keys + job_keys <= MAX_BATCH_LOCKS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> StoreError {
        StoreError::Query(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    /// Each job's `write_retrying` decides from the error it is handed whether to try again.
    #[test]
    fn a_batch_lost_to_a_concurrent_transaction_tells_each_job_to_try_again() {
        let deadlock = database_error(DatabaseErrorKind::Unknown, "deadlock detected");
        let serialization = database_error(DatabaseErrorKind::SerializationFailure, "could not");
        for lost in [deadlock, serialization] {
            let failure = BatchFailure::of(lost);
            assert!(failure.clone().into_error().is_transient_conflict());
            assert!(
                failure.into_error().is_transient_conflict(),
                "for every job"
            );
        }
        let other = database_error(DatabaseErrorKind::UniqueViolation, "duplicate key");
        assert!(matches!(
            BatchFailure::of(other).into_error(),
            StoreError::Commit(_)
        ));
    }

    /// A job that only declares `keys` locks.
    struct Declaring(Vec<i64>);

    impl WriteJob for Declaring {
        fn locks(&self) -> &[i64] {
            &self.0
        }
        fn run(&mut self, _: &mut AnyConnection) {}
        fn finish(self: Box<Self>, _: Result<(), StoreError>) {}
    }

    /// The number of locks each job of each batch declares, for jobs submitted with `sizes`.
    fn batches(sizes: &[usize]) -> Vec<Vec<usize>> {
        let (sender, receiver) = mpsc::channel::<Box<dyn WriteJob>>();
        for size in sizes {
            sender.send(Box::new(Declaring(vec![0; *size]))).unwrap();
        }
        drop(sender);
        let queue = Mutex::new(Queue {
            jobs: receiver,
            held: None,
        });
        std::iter::from_fn(|| next_batch(&queue))
            .map(|batch| batch.iter().map(|job| job.locks().len()).collect())
            .collect()
    }

    #[test]
    fn a_batch_takes_jobs_while_their_locks_stay_within_the_cap() {
        assert!(joins(MAX_BATCH_LOCKS - 3, 3));
        assert!(!joins(MAX_BATCH_LOCKS - 3, 4));
        assert_eq!(
            batches(&[300, 200, 100, 5, 407, 1]),
            [vec![300, 200], vec![100, 5, 407], vec![1]],
            "the job that would pass the cap starts the next batch, in its place"
        );
        assert_eq!(
            batches(&[2, MAX_BATCH_LOCKS + 1, 1, 1]),
            [vec![2], vec![MAX_BATCH_LOCKS + 1], vec![1, 1]],
            "a job over the cap goes alone"
        );
    }

    #[test]
    fn single_alerts_fill_whole_batches() {
        let batches = batches(&[1; MAX_BATCH + 1]);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].len(), MAX_BATCH);
    }
}
