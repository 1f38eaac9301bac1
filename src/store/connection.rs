//! Connections to either backend behind one type, and the r2d2 manager that opens them.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::config::DatabaseUrl;

/// A connection to whichever backend `database_url` names. Queries are written once against
/// this type; the few that need a backend's own SQL match on the variant.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs one diesel expression on the concrete connection behind an [`AnyConnection`]. The
/// expression is written once and compiled for each backend; unlike a query on the enum, it
/// uses diesel's prepared-statement cache, which matters on the hot path.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::AnyConnection::Sqlite($c) => $body,
            $crate::store::AnyConnection::Postgresql($c) => $body,
        }
    };
}

/// WAL lets readers proceed while the single writer commits; `synchronous=NORMAL` keeps every
/// commit safe from a process crash (kill -9) while avoiding an fsync per transaction.
/// `temp_store=MEMORY` keeps savepoint journals off the disk: each write job of a group commit
/// runs in a savepoint, which journals every page it touches, and on disk that multiplied the
/// bytes written per event many times over.
/// `busy_timeout` comes first: switching to WAL takes a lock, and without the timeout a
/// connection opened while another process closes the database (and checkpoints) fails at once.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; \
     PRAGMA temp_store = MEMORY;";

/// Page cache per connection, in KiB. Memory must stay flat however large the database grows,
/// and the operating system caches the file anyway, so readers keep little. The writer keeps
/// more: a group commit dirties many pages, and a transaction that outgrows its cache spills
/// pages to the WAL early and writes some of them twice.
pub const READER_CACHE_KIB: u32 = 1024;
pub const WRITER_CACHE_KIB: u32 = 8192;

/// Seconds libpq waits for a server before giving up, unless the URL or the database wait
/// says otherwise: an unreachable host should fail a start quickly with its real error.
const PG_CONNECT_TIMEOUT_SECONDS: u64 = 5;
/// libpq takes anything shorter as 2 s.
const PG_MIN_CONNECT_TIMEOUT_SECONDS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open the database: {0}")]
    Open(#[from] ConnectionError),
    #[error("cannot prepare the database connection: {0}")]
    Setup(#[from] diesel::result::Error),
}

/// Opens connections for the pool. Unlike diesel's generic manager it keeps the real connect
/// error ("connection refused") instead of a generic "invalid URL for multiconnection".
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    cache_kib: u32,
    connect_timeout_seconds: u64,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            cache_kib: READER_CACHE_KIB,
            connect_timeout_seconds: PG_CONNECT_TIMEOUT_SECONDS,
        }
    }

    /// Connecting to PostgreSQL gives up after `wait` (rounded up to libpq's seconds), so a
    /// server that does not answer holds no request longer than a busy pool would.
    pub fn waiting(self, wait: std::time::Duration) -> Self {
        let seconds = wait.as_millis().div_ceil(1000);
        Self {
            connect_timeout_seconds: u64::try_from(seconds)
                .unwrap_or(PG_CONNECT_TIMEOUT_SECONDS)
                .max(PG_MIN_CONNECT_TIMEOUT_SECONDS),
            ..self
        }
    }

    /// The same database, with the page cache of a writer.
    pub fn for_writer(&self) -> Self {
        Self {
            cache_kib: WRITER_CACHE_KIB,
            ..self.clone()
        }
    }

    pub fn open(&self) -> Result<AnyConnection, ConnectError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                conn.batch_execute(&format!("PRAGMA cache_size = -{};", self.cache_kib))?;
                Ok(AnyConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let url = with_connect_timeout(url, self.connect_timeout_seconds);
                let conn = PgConnection::establish(&url)?;
                Ok(AnyConnection::Postgresql(conn))
            }
        }
    }
}

fn with_connect_timeout(url: &str, seconds: u64) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<AnyConnection, ConnectError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectError> {
        Ok(conn.ping()?)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::with_connect_timeout;

    #[test]
    fn connect_timeout_is_added_once() {
        assert_eq!(
            with_connect_timeout("postgres://h/db", 5),
            "postgres://h/db?connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable", 5),
            "postgres://h/db?sslmode=disable&connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=1", 5),
            "postgres://h/db?connect_timeout=1"
        );
    }

    #[test]
    fn the_database_wait_bounds_connecting() {
        use std::time::Duration;

        use super::{ConnectionManager, DatabaseUrl};
        let manager = |millis| {
            ConnectionManager::new(DatabaseUrl::Postgres("postgres://h/db".into()))
                .waiting(Duration::from_millis(millis))
                .connect_timeout_seconds
        };
        assert_eq!(manager(2000), 2);
        assert_eq!(manager(2001), 3);
        assert_eq!(manager(500), 2, "libpq's least");
    }
}
