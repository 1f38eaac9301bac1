//! The store's one error type, and what it says about the database: away, out of room, or
//! in conflict with a concurrent transaction.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::ConnectError;
use crate::secrets::SecretsError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The database cannot be reached now: a connection cannot be opened, or broke.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the transaction did not commit: {0}")]
    Commit(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A stored resource's credentials could not be opened: `resource` names it.
    #[error("{resource}: {source}")]
    Unreadable {
        resource: String,
        source: SecretsError,
    },
    #[error("database task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// Why a stored resource's configuration could not be read: `what` and `id` name it.
    pub fn unreadable(what: &str, id: &str, error: SecretsError) -> Self {
        match error {
            SecretsError::Json(error) => StoreError::Corrupt(format!("{what} {id}: {error}")),
            other => StoreError::Unreadable {
                resource: format!("{what} {id}"),
                source: other,
            },
        }
    }

    /// The database cannot take this now, and may later: no connection could be had, one
    /// broke, or its disk is full. A new attempt after a while may succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Pool(_) | StoreError::Connect(_) => true,
            StoreError::Query(error) => is_unavailable_query(error),
            _ => false,
        }
    }

    /// A conflict with a concurrent transaction that a new attempt may not meet: PostgreSQL
    /// broke a deadlock or refused to serialise.
    pub fn is_transient_conflict(&self) -> bool {
        match self {
            StoreError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure,
                _,
            )) => true,
            StoreError::Query(DieselError::DatabaseError(_, info)) => {
                info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    /// `conflict()` when this is a unique violation (a name taken), else this error.
    pub fn unique_or<E: From<StoreError>>(self, conflict: impl FnOnce() -> E) -> E {
        if self.is_unique_violation() {
            conflict()
        } else {
            self.into()
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// A query that failed because the database went away or has no room, not because of what
/// it asked.
fn is_unavailable_query(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(_, info) => is_out_of_space(info.message()),
        _ => false,
    }
}

/// SQLite's `SQLITE_FULL` ("database or disk is full": the file system has no room, or
/// `max_page_count` is reached) and PostgreSQL's `disk_full` (an `ENOSPC` in its message):
/// diesel has no kind for either, so the message tells. Space may come back, so a write is
/// refused for now (`503`) instead of failing as a fault of the server (`500`).
fn is_out_of_space(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}
