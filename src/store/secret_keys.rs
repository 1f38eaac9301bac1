//! Queries of the secret keys' record: the ids of the keys that may have sealed a stored
//! secret.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::secret_keys;
use super::{AnyConnection, StoreError};
use crate::on_backend;
use crate::secrets::Secrets;
use crate::timestamp::now_millis;

/// Makes processes that record keys take turns until the transaction ends: two first starts
/// on one PostgreSQL database must not each record a key of their own.
pub fn lock(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(c) = conn {
        c.batch_execute("LOCK TABLE secret_keys IN EXCLUSIVE MODE")?;
    }
    Ok(())
}

pub fn ids(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    Ok(secret_keys::table
        .select(secret_keys::key_id)
        .order(secret_keys::recorded_at)
        .load(conn)?)
}

pub fn record(conn: &mut AnyConnection, key_id: &str, now: i64) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::insert_into(secret_keys::table)
        .values((
            secret_keys::key_id.eq(key_id),
            secret_keys::recorded_at.eq(now)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Records the key that seals this transaction's writes, before they are written. On
/// PostgreSQL the insert waits while a rotation holds the table, and a rotation waits for this
/// transaction: either way, the key that sealed what is stored stays recorded, so a start
/// without it stops instead of meeting values it cannot open.
pub fn record_sealing(conn: &mut AnyConnection, secrets: &Secrets) -> Result<(), StoreError> {
    match secrets.current_id() {
        Some(key_id) => record(conn, key_id, now_millis()),
        None => Ok(()),
    }
}

/// Forgets every key but `key_id`: nothing stored is sealed under them any more.
pub fn keep_only(conn: &mut AnyConnection, key_id: &str) -> Result<(), StoreError> {
    diesel::delete(secret_keys::table.filter(secret_keys::key_id.ne(key_id))).execute(conn)?;
    Ok(())
}
