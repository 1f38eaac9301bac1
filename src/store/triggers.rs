//! Queries of the trigger aggregate. `config` is the JSON of the whole configuration; every
//! change bumps the `trigger_generation` counter in the same transaction, which is how other
//! instances learn that their routing table is stale.

use diesel::prelude::*;

use super::schema::{counters, triggers};
use super::{AnyConnection, Page, PageRequest, StoreError};
use crate::on_backend;

const GENERATION: &str = "trigger_generation";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = triggers)]
pub struct TriggerRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn bump_generation(conn: &mut AnyConnection) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::update(counters::table.find(GENERATION))
        .set(counters::value.eq(counters::value + 1))
        .execute(c))?;
    Ok(())
}

/// The number of trigger changes so far, across every instance.
pub fn generation(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(counters::table
        .find(GENERATION)
        .select(counters::value)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

pub fn insert(conn: &mut AnyConnection, row: &TriggerRow) -> Result<(), StoreError> {
    diesel::insert_into(triggers::table)
        .values(row)
        .execute(conn)?;
    bump_generation(conn)
}

/// Returns whether the trigger existed.
pub fn update(conn: &mut AnyConnection, row: &TriggerRow) -> Result<bool, StoreError> {
    let updated = diesel::update(triggers::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    bump_generation(conn)?;
    Ok(updated > 0)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<TriggerRow>, StoreError> {
    Ok(triggers::table
        .find(id)
        .select(TriggerRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<TriggerRow>, StoreError> {
    let mut query = triggers::table
        .select(TriggerRow::as_select())
        .order(triggers::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(triggers::id.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// Every trigger, oldest first: the order in which triggers are tried when several match.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<TriggerRow>, StoreError> {
    Ok(triggers::table
        .select(TriggerRow::as_select())
        .order(triggers::id.asc())
        .load(conn)?)
}

/// Returns whether the trigger existed.
pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let deleted = diesel::delete(triggers::table.find(id)).execute(conn)?;
    super::chat_exchanges::delete_of_trigger(conn, id)?;
    bump_generation(conn)?;
    Ok(deleted > 0)
}
