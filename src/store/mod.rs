//! Storage: pooled readers and group-committing writers on SQLite or PostgreSQL, migrations, and the queries
//! of each aggregate in its own module. Callers never see diesel outside this folder and the
//! closures they hand to [`Store::read`] and [`Store::write`].

pub mod audit;
pub mod chat_exchanges;
pub mod connection;
pub mod deliveries;
pub mod delivery_log;
mod error;
pub mod events;
pub mod incidents;
mod locks;
pub mod migrations;
mod page;
pub mod reply_links;
pub mod schedules;
pub mod schema;
pub mod secret_keys;
pub mod settings;
pub mod sources;
pub mod tokens;
pub mod triggers;
pub mod ui_sessions;
pub mod vars;
pub mod webhooks;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::Pool;
use tokio::sync::oneshot;

use connection::ConnectionManager;
pub use connection::{AnyConnection, ConnectError};
pub use error::StoreError;
pub use locks::Locks;
pub use page::{Page, PageRequest};
use writer::{Typed, Writer};

use crate::config::DatabaseUrl;
use crate::secrets::Secrets;

/// Inserts a slice of rows into a table in few statements: per row, a multi-row insert costs a
/// fraction of a statement of its own. The rows go in chunks of fixed sizes, largest first: a
/// chunk of a fixed size is the same statement every time, prepared once and kept by diesel,
/// where a slice of any length would be new SQL text to build and prepare on every batch. 256
/// rows of 13 columns bind 3,328 values, well under SQLite's 32,766 and PostgreSQL's 65,535.
macro_rules! insert_in_chunks {
    ($conn:expr, $table:path, $rows:expr) => {{
        let mut rest = $rows;
        $crate::store::insert_in_chunks!(@sizes $conn, $table, rest, 256, 32, 4, 1);
        Ok::<(), $crate::store::StoreError>(())
    }};
    (@sizes $conn:expr, $table:path, $rest:ident, $($size:literal),*) => {
        $(
            while let Some((chunk, tail)) = $rest.split_first_chunk::<$size>() {
                $crate::on_backend!($conn, |c| diesel::insert_into($table).values(chunk).execute(c))?;
                $rest = tail;
            }
        )*
    };
}
pub(crate) use insert_in_chunks;

pub const WRITE_ATTEMPTS: u32 = 5;

/// What receives a committed write's outcome when its caller stopped waiting for it.
pub type Orphaned<T> = Box<dyn FnOnce(T) + Send>;

/// Errors that may say "try again": a transient conflict with a concurrent transaction.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        self.is_transient_conflict()
    }
}

/// Reads go through a pool of connections on blocking threads; writes go to writer threads
/// that group-commit them (see `writer`). SQLite has one writer thread, since it admits one
/// writer at a time anyway; PostgreSQL has several, so statements' round trips overlap.
#[derive(Clone)]
pub struct Store {
    reader: Pool<ConnectionManager>,
    writer: Arc<Writer>,
    sqlite: bool,
    /// `limits.database_wait_ms`: the longest a request waits for the database.
    wait: Duration,
    /// The keys that seal and open stored credentials: none until the start has loaded them.
    secrets: Arc<Secrets>,
}

const SQLITE_READERS: u32 = 4;
const POSTGRES_READERS: u32 = 12;
/// Writer threads (connections) on PostgreSQL. Since incident changes stopped taking turns on one
/// lock (issue 20) the writers are busy at once, and on the 2-core reference host every writer
/// beyond what the cores can feed only splits the queue into smaller batches: more commits and
/// wake-ups for the same work. Measured there (BENCHMARKS.md, issue 20): alerts 1,861–1,906 a
/// second with 4 writers, 2,063–2,129 with 3, 1,763–1,772 with 6; durable deliveries 4,683–4,900
/// with 4, 5,465–5,708 with 3.
const POSTGRES_WRITERS: usize = 3;
/// How long a reader waits for a connection unless told otherwise (`limits.database_wait_ms`).
const DEFAULT_WAIT: Duration = Duration::from_secs(2);

impl Store {
    /// Opens the database (creating a SQLite file if needed), applies pending migrations and
    /// builds the pools. The first connection is opened directly so a failure reports its
    /// real cause at once instead of after a pool timeout.
    pub async fn open(url: DatabaseUrl) -> Result<Self, StoreError> {
        Self::open_waiting(url, DEFAULT_WAIT).await
    }

    /// [`Store::open`], with readers waiting at most `wait` for a connection.
    pub async fn open_waiting(url: DatabaseUrl, wait: Duration) -> Result<Self, StoreError> {
        let sqlite = matches!(url, DatabaseUrl::Sqlite(_));
        let manager = ConnectionManager::new(url).waiting(wait);
        let writer_manager = manager.for_writer();
        let (applied, reader) = tokio::task::spawn_blocking(move || {
            let mut conn = manager.open()?;
            let applied = migrations::run_pending(&mut conn)?;
            Ok::<_, StoreError>((applied, Self::reader_pool(&manager, sqlite, wait)?))
        })
        .await??;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        let writers = if sqlite { 1 } else { POSTGRES_WRITERS };
        Ok(Self {
            reader,
            writer: Arc::new(Writer::start(writer_manager, writers)),
            sqlite,
            wait,
            secrets: Arc::new(Secrets::default()),
        })
    }

    /// The readers' pool, built with its first connection open: no pool thread is still
    /// connecting once the store is returned (a command that exits at once would otherwise
    /// race that thread to the process's end).
    fn reader_pool(
        manager: &ConnectionManager,
        sqlite: bool,
        wait: Duration,
    ) -> Result<Pool<ConnectionManager>, StoreError> {
        let readers = if sqlite {
            SQLITE_READERS
        } else {
            POSTGRES_READERS
        };
        Ok(Pool::builder()
            .max_size(readers)
            .min_idle(Some(1))
            .connection_timeout(wait)
            .build(manager.clone())?)
    }

    /// Runs `work` on one connection, without migrating or building pools: for commands that
    /// look at a database without serving it.
    pub async fn inspect<T, F>(url: DatabaseUrl, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        run_blocking(move || {
            let mut conn = ConnectionManager::new(url).open()?;
            work(&mut conn)
        })
        .await
    }

    /// The same store, sealing and opening stored credentials with `secrets`.
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = Arc::new(secrets);
        self
    }

    /// The keys that seal and open stored credentials.
    pub fn secrets(&self) -> &Arc<Secrets> {
        &self.secrets
    }

    /// SQLite serves one process; PostgreSQL may be shared by several.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Runs read-only work on a blocking thread, never on the async executor.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.reader.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            work(&mut conn)
        })
        .await
    }

    /// Runs `work` in a transaction: all of it commits, or none of it. Returns once committed.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(work, None, Locks::none()).await
    }

    /// [`Store::write`]; if the caller stops waiting (its future is dropped) and the write
    /// commits, `orphaned` receives what the caller would have.
    pub async fn write_or_orphan<T, E, F>(&self, work: F, orphaned: Orphaned<T>) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(work, Some(orphaned), Locks::none()).await
    }

    async fn submit<T, E, F>(
        &self,
        work: F,
        orphaned: Option<Orphaned<T>>,
        locks: Locks,
    ) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.writer
            .submit(Box::new(Typed::new(work, reply, orphaned, locks)))?;
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Commit("the database writer stopped".into()).into())
        })
    }

    /// Runs `work` in a transaction of its own on a pooled connection, beside the
    /// group-committing writers, so that on PostgreSQL several run at once: for large batches
    /// of independent work. SQLite takes one writer at a time, so there it is [`Store::write`].
    /// `orphaned` as in [`Store::write_or_orphan`].
    pub async fn write_apart<T, E, F>(&self, work: F, orphaned: Orphaned<T>) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if self.sqlite {
            return self.write_or_orphan(work, orphaned).await;
        }
        let pool = self.reader.clone();
        let (reply, answer) = oneshot::channel();
        // The blocking task runs to its end even when the caller stops waiting.
        tokio::task::spawn_blocking(move || {
            let outcome = pool
                .get()
                .map_err(|error| StoreError::from(error).into())
                .and_then(|mut conn| writer::in_transaction(&mut conn, work));
            if let Err(Ok(value)) = reply.send(outcome) {
                orphaned(value);
            }
        });
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Commit("the write stopped before it finished".into()).into())
        })
    }

    /// [`Store::write`], attempted again (up to [`WRITE_ATTEMPTS`] times in all) when it lost
    /// to a concurrent transaction. For work that locks rows other writers may lock in another
    /// order.
    pub async fn write_retrying<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: Fn(&mut AnyConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Transient + Send + 'static,
    {
        self.retrying(work, || None, Locks::none()).await
    }

    /// [`Store::write_retrying`] for work that changes the incidents `locks` names: on
    /// PostgreSQL it takes turns with other changes to them (see `locks`), and with nothing else.
    /// `orphaned` makes what each attempt hands over should its caller stop waiting
    /// ([`Store::write_or_orphan`]).
    pub async fn write_retrying_locked<T, E, F>(
        &self,
        locks: Locks,
        work: F,
        orphaned: impl Fn() -> Orphaned<T>,
    ) -> Result<T, E>
    where
        F: Fn(&mut AnyConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Transient + Send + 'static,
    {
        self.retrying(work, || Some(orphaned()), locks).await
    }

    async fn retrying<T, E, F>(
        &self,
        work: F,
        orphaned: impl Fn() -> Option<Orphaned<T>>,
        locks: Locks,
    ) -> Result<T, E>
    where
        F: Fn(&mut AnyConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Transient + Send + 'static,
    {
        let mut attempt = 1;
        loop {
            match self.submit(work.clone(), orphaned(), locks.clone()).await {
                Err(error) if error.is_transient() && attempt < WRITE_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    /// Ready means: a connection answers and every migration this binary knows is applied.
    /// The answer comes within the database wait even when a pooled connection's server stopped
    /// answering without closing it (a network that drops packets): a load balancer's probe
    /// must hear "not ready", not time out.
    pub async fn readiness(&self) -> Result<bool, StoreError> {
        let check = self.read(|conn| Ok(!migrations::has_pending(conn)?));
        tokio::time::timeout(self.wait, check)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no answer within {} ms",
                    self.wait.as_millis()
                )))
            })
    }
}

async fn run_blocking<T, E, F>(work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(StoreError::from(join).into()),
    }
}
