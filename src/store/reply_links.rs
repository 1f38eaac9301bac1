//! Queries of the reply links (`/hooks/reply/{id}`): created with a use budget and an expiry,
//! used atomically so concurrent posts never exceed the budget.

use diesel::prelude::*;

use super::schema::reply_links;
use super::{AnyConnection, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reply_links)]
pub struct ReplyLinkRow {
    pub id_hash: String,
    pub trigger_id: String,
    pub conversation: String,
    pub uses: i32,
    pub expires_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &ReplyLinkRow) -> Result<(), StoreError> {
    diesel::insert_into(reply_links::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The link, unless it expired.
pub fn find_live(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<ReplyLinkRow>, StoreError> {
    Ok(reply_links::table
        .find(id_hash)
        .filter(reply_links::expires_at.gt(now))
        .select(ReplyLinkRow::as_select())
        .first(conn)
        .optional()?)
}

/// What trying to use a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// Counted; carries the link's conversation.
    Granted(ReplyLinkRow),
    /// The link exists and has not expired, but its uses are spent.
    Exhausted,
    /// No such link, or it expired.
    Unknown,
}

/// Counts one use of the link if it is unexpired and has uses left.
pub fn try_use(
    conn: &mut AnyConnection,
    id_hash: &str,
    max_uses: i32,
    now: i64,
) -> Result<Use, StoreError> {
    let live = reply_links::table
        .find(id_hash)
        .filter(reply_links::expires_at.gt(now))
        .filter(reply_links::uses.lt(max_uses));
    let counted = diesel::update(live)
        .set(reply_links::uses.eq(reply_links::uses + 1))
        .execute(conn)?;
    Ok(match (counted, find_live(conn, id_hash, now)?) {
        (1, Some(row)) => Use::Granted(row),
        (_, Some(_)) => Use::Exhausted,
        (_, None) => Use::Unknown,
    })
}

/// Deletes links that expired before `before`; returns how many.
pub fn prune(conn: &mut AnyConnection, before: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(reply_links::table.filter(reply_links::expires_at.lt(before)))
            .execute(conn)?,
    )
}
