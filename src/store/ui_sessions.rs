//! Queries of the web console's sessions. Only a hash of each session id is stored.

use diesel::prelude::*;

use super::schema::ui_sessions;
use super::{AnyConnection, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ui_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    /// The SHA-256 of the token that signed in: re-checked on every request.
    pub credential_hash: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// When sessions stop being valid: used after `idle_since` or created before `born_since` ends
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    pub idle_since: i64,
    pub born_since: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(ui_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The session, unless it expired.
pub fn find_live(
    conn: &mut AnyConnection,
    id_hash: &str,
    live: Liveness,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(ui_sessions::table
        .find(id_hash)
        .filter(ui_sessions::last_used_at.ge(live.idle_since))
        .filter(ui_sessions::created_at.ge(live.born_since))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Slides the idle expiry forward, at most once per `granularity_ms` so most requests only read.
pub fn touch(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
    granularity_ms: i64,
) -> Result<(), StoreError> {
    diesel::update(
        ui_sessions::table
            .find(id_hash)
            .filter(ui_sessions::last_used_at.lt(now - granularity_ms)),
    )
    .set(ui_sessions::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> Result<(), StoreError> {
    diesel::delete(ui_sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// Ends every session signed in with that credential (a revoked token). Returns how many.
pub fn delete_for_credential(
    conn: &mut AnyConnection,
    credential_hash: &str,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(ui_sessions::table.filter(ui_sessions::credential_hash.eq(credential_hash)))
            .execute(conn)?,
    )
}

/// Deletes expired sessions. Returns how many.
pub fn prune(conn: &mut AnyConnection, live: Liveness) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        ui_sessions::table.filter(
            ui_sessions::last_used_at
                .lt(live.idle_since)
                .or(ui_sessions::created_at.lt(live.born_since)),
        ),
    )
    .execute(conn)?)
}
