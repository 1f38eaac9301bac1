//! Schema migrations, embedded in the binary: one set per backend, kept in step (a test compares
//! the schemas they produce).

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use super::connection::AnyConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Several instances may start at once against one PostgreSQL database; this session lock makes
/// them apply migrations one after another instead of racing.
const PG_MIGRATION_LOCK: i64 = 0x5357_4954_4348; // "SWITCH"

fn migrations_for(conn: &AnyConnection) -> EmbeddedMigrations {
    match conn {
        AnyConnection::Postgresql(_) => POSTGRES,
        AnyConnection::Sqlite(_) => SQLITE,
    }
}

/// Applies every pending migration and returns how many were applied.
pub fn run_pending(conn: &mut AnyConnection) -> Result<usize, StoreError> {
    let is_postgres = matches!(conn, AnyConnection::Postgresql(_));
    if is_postgres {
        conn.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
    }
    let migrations = migrations_for(conn);
    let applied = conn
        .run_pending_migrations(migrations)
        .map(|versions| versions.len())
        .map_err(|e| StoreError::Migration(e.to_string()));
    if is_postgres {
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))?;
    }
    applied
}

pub fn has_pending(conn: &mut AnyConnection) -> Result<bool, StoreError> {
    let migrations = migrations_for(conn);
    conn.has_pending_migration(migrations)
        .map_err(|e| StoreError::Migration(e.to_string()))
}
