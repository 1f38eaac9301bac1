//! Queries of stored events. `payload` is the event exactly as webhooks receive it.

use diesel::prelude::*;

use super::schema::{deliveries, events};
use super::{AnyConnection, Page, PageRequest, StoreError, insert_in_chunks};
use crate::ids::id_bound_at;

/// `None` is inserted as NULL rather than left out, so the insert is the same statement for every
/// row and diesel keeps it prepared (left out, the text differs with the row and is built anew).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub event_type: String,
    pub subject: Option<String>,
    pub occurred_at: i64,
    pub payload: String,
}

/// On the concrete connection, whose statement cache holds the prepared insert: through the
/// multi-backend type the query would be built again as text for every event.
pub fn insert(conn: &mut AnyConnection, row: &EventRow) -> Result<(), StoreError> {
    crate::on_backend!(conn, |c| diesel::insert_into(events::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// Many events in few statements ([`insert_in_chunks`]).
pub fn insert_many(conn: &mut AnyConnection, rows: &[EventRow]) -> Result<(), StoreError> {
    insert_in_chunks!(conn, events::table, rows)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<EventRow>, StoreError> {
    Ok(events::table
        .find(id)
        .select(EventRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::id.eq_any(ids))
        .select(EventRow::as_select())
        .load(conn)?)
}

pub fn list(
    conn: &mut AnyConnection,
    event_type: Option<&str>,
    page: &PageRequest,
) -> Result<Page<EventRow>, StoreError> {
    let mut query = events::table
        .select(EventRow::as_select())
        .order(events::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(events::id.lt(before));
    }
    if let Some(event_type) = event_type {
        query = query.filter(events::event_type.eq(event_type));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// Deletes up to `batch` events older than `cutoff` that no pending delivery still needs;
/// their finished deliveries go with them. Returns how many were deleted.
pub fn prune(conn: &mut AnyConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let still_needed = deliveries::table
        .filter(deliveries::status.eq("pending"))
        .select(deliveries::event_id);
    let doomed = events::table
        .filter(events::id.lt(id_bound_at("evt", cutoff)))
        .filter(events::id.ne_all(still_needed))
        .select(events::id)
        .limit(batch)
        .load::<String>(conn)?;
    Ok(diesel::delete(events::table.filter(events::id.eq_any(&doomed))).execute(conn)?)
}
