//! Queries of the chat exchange log: the latest requests each trigger received, and those that
//! matched no trigger (`trigger_id` NULL), each a JSON record.

use diesel::prelude::*;

use super::schema::chat_exchanges;
use super::{AnyConnection, StoreError, insert_in_chunks};

/// Exchanges kept per trigger, and kept of those that matched no trigger.
pub const KEPT_EXCHANGES: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = chat_exchanges)]
pub struct ExchangeRow {
    pub id: String,
    pub trigger_id: Option<String>,
    pub received_at: i64,
    pub outcome: String,
    pub record: String,
}

/// Which exchanges to list.
#[derive(Debug, Clone, Default)]
pub struct ExchangeFilter {
    /// `Some(None)`: those that matched no trigger; `None`: all.
    pub trigger_id: Option<Option<String>>,
    pub outcome: Option<String>,
}

/// Stores `rows`.
pub fn insert(conn: &mut AnyConnection, rows: &[ExchangeRow]) -> Result<(), StoreError> {
    insert_in_chunks!(conn, chat_exchanges::table, rows)
}

/// Keeps the latest [`KEPT_EXCHANGES`] of each of `triggers` (`None`: those that matched no
/// trigger).
pub fn prune(conn: &mut AnyConnection, triggers: &[Option<String>]) -> Result<(), StoreError> {
    for trigger in triggers {
        prune_one(conn, trigger.as_deref())?;
    }
    Ok(())
}

fn prune_one(conn: &mut AnyConnection, trigger: Option<&str>) -> Result<(), StoreError> {
    let kept = chat_exchanges::table
        .select(chat_exchanges::id)
        .order(chat_exchanges::id.desc())
        .offset(KEPT_EXCHANGES - 1)
        .into_boxed();
    let older = diesel::delete(chat_exchanges::table).into_boxed();
    let (kept, older) = match trigger {
        Some(id) => (
            kept.filter(chat_exchanges::trigger_id.eq(id)),
            older.filter(chat_exchanges::trigger_id.eq(id)),
        ),
        None => (
            kept.filter(chat_exchanges::trigger_id.is_null()),
            older.filter(chat_exchanges::trigger_id.is_null()),
        ),
    };
    if let Some(oldest_kept) = kept.first::<String>(conn).optional()? {
        older
            .filter(chat_exchanges::id.lt(oldest_kept))
            .execute(conn)?;
    }
    Ok(())
}

/// The latest exchanges that pass `filter`, newest first.
pub fn list(
    conn: &mut AnyConnection,
    filter: &ExchangeFilter,
) -> Result<Vec<ExchangeRow>, StoreError> {
    let mut query = chat_exchanges::table
        .select(ExchangeRow::as_select())
        .order(chat_exchanges::id.desc())
        .limit(KEPT_EXCHANGES)
        .into_boxed();
    match &filter.trigger_id {
        Some(Some(id)) => query = query.filter(chat_exchanges::trigger_id.eq(id.clone())),
        Some(None) => query = query.filter(chat_exchanges::trigger_id.is_null()),
        None => {}
    }
    if let Some(outcome) = &filter.outcome {
        query = query.filter(chat_exchanges::outcome.eq(outcome.clone()));
    }
    Ok(query.load(conn)?)
}

/// The latest exchange of each of `trigger_ids` that has one: when it was received (Unix
/// milliseconds) and its outcome, without reading the records.
pub fn latest_of(
    conn: &mut AnyConnection,
    trigger_ids: &[String],
) -> Result<Vec<(String, i64, String)>, StoreError> {
    let mut latest = Vec::with_capacity(trigger_ids.len());
    for id in trigger_ids {
        let found = chat_exchanges::table
            .select((chat_exchanges::received_at, chat_exchanges::outcome))
            .filter(chat_exchanges::trigger_id.eq(id))
            .order(chat_exchanges::id.desc())
            .first::<(i64, String)>(conn)
            .optional()?;
        if let Some((received_at, outcome)) = found {
            latest.push((id.clone(), received_at, outcome));
        }
    }
    Ok(latest)
}

/// Forgets a deleted trigger's exchanges.
pub fn delete_of_trigger(conn: &mut AnyConnection, trigger_id: &str) -> Result<(), StoreError> {
    diesel::delete(chat_exchanges::table.filter(chat_exchanges::trigger_id.eq(trigger_id)))
        .execute(conn)?;
    Ok(())
}
