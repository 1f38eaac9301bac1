//! Queries of the source aggregate: sources, whose `config` is the JSON of the whole
//! definition, and the latest requests each received.

use diesel::prelude::*;

use super::schema::{source_requests, sources};
use super::{AnyConnection, Page, PageRequest, StoreError};

/// Requests kept per source.
pub const KEPT_REQUESTS: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sources)]
pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub config: String,
    pub token_hash: Option<String>,
    pub token_hint: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = source_requests)]
pub struct RequestRow {
    pub id: String,
    pub source_id: String,
    pub received_at: i64,
    pub method: String,
    pub headers: String,
    pub body: String,
    pub body_truncated: bool,
    pub outcome: String,
}

pub fn insert(conn: &mut AnyConnection, row: &SourceRow) -> Result<(), StoreError> {
    diesel::insert_into(sources::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Every source, for work over all of them.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<SourceRow>, StoreError> {
    Ok(sources::table.select(SourceRow::as_select()).load(conn)?)
}

/// Replaces a source's definition; its URL token stays. Returns whether the source existed.
pub fn update(conn: &mut AnyConnection, row: &SourceRow) -> Result<bool, StoreError> {
    let updated = diesel::update(sources::table.find(&row.id))
        .set((
            sources::name.eq(&row.name),
            sources::kind.eq(&row.kind),
            sources::enabled.eq(row.enabled),
            sources::config.eq(&row.config),
            sources::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

/// Sets a new URL token (its digest and hint). Returns whether the source existed.
pub fn set_token(
    conn: &mut AnyConnection,
    id: &str,
    hash: Option<&str>,
    hint: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = diesel::update(sources::table.find(id))
        .set((
            sources::token_hash.eq(hash),
            sources::token_hint.eq(hint),
            sources::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<SourceRow>, StoreError> {
    Ok(sources::table
        .find(id)
        .select(SourceRow::as_select())
        .first(conn)
        .optional()?)
}

/// A source by id or by name, as the intake URL names it.
pub fn find_by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<SourceRow>, StoreError> {
    Ok(sources::table
        .filter(sources::id.eq(reference).or(sources::name.eq(reference)))
        .select(SourceRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<SourceRow>, StoreError> {
    let mut query = sources::table
        .select(SourceRow::as_select())
        .order(sources::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(sources::id.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// Returns whether the source existed.
pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(sources::table.find(id)).execute(conn)? > 0)
}

/// Logs a request, keeping the latest [`KEPT_REQUESTS`] of its source.
pub fn log_request(conn: &mut AnyConnection, row: &RequestRow) -> Result<(), StoreError> {
    diesel::insert_into(source_requests::table)
        .values(row)
        .execute(conn)?;
    let oldest_kept: Option<String> = source_requests::table
        .filter(source_requests::source_id.eq(&row.source_id))
        .select(source_requests::id)
        .order(source_requests::id.desc())
        .offset(KEPT_REQUESTS - 1)
        .first(conn)
        .optional()?;
    if let Some(oldest_kept) = oldest_kept {
        diesel::delete(
            source_requests::table
                .filter(source_requests::source_id.eq(&row.source_id))
                .filter(source_requests::id.lt(oldest_kept)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A source's logged requests, newest first.
pub fn requests(conn: &mut AnyConnection, source_id: &str) -> Result<Vec<RequestRow>, StoreError> {
    Ok(source_requests::table
        .filter(source_requests::source_id.eq(source_id))
        .select(RequestRow::as_select())
        .order(source_requests::id.desc())
        .limit(KEPT_REQUESTS)
        .load(conn)?)
}

/// How many requests each of `sources` logged at or after the id bound `since`, and how many of
/// those could not be mapped: ranges of the `(source_id, id)` index (ids begin with their
/// receipt time), each at most [`KEPT_REQUESTS`] rows long. Sources without any are left out.
pub fn count_since_by_source(
    conn: &mut AnyConnection,
    sources: &[String],
    since: &str,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    // The outcome is JSON whose only `"unmapped":` key is top level; inside a string value a
    // quote is escaped, so this text cannot appear there.
    const MAPPED: &str = "%\"unmapped\":null%";
    let all: Vec<(String, i64)> = source_requests::table
        .filter(source_requests::source_id.eq_any(sources))
        .filter(source_requests::id.ge(since))
        .group_by(source_requests::source_id)
        .select((source_requests::source_id, diesel::dsl::count_star()))
        .load(conn)?;
    let failed: Vec<(String, i64)> = source_requests::table
        .filter(source_requests::source_id.eq_any(sources))
        .filter(source_requests::id.ge(since))
        .filter(source_requests::outcome.not_like(MAPPED))
        .group_by(source_requests::source_id)
        .select((source_requests::source_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(all
        .into_iter()
        .map(|(source, count)| {
            let failures = failed
                .iter()
                .find(|(id, _)| *id == source)
                .map_or(0, |(_, n)| *n);
            (source, count, failures)
        })
        .collect())
}

/// When each of `sources` last received a request: the newest of its kept requests.
pub fn last_received_by_source(
    conn: &mut AnyConnection,
    sources: &[String],
) -> Result<Vec<(String, Option<i64>)>, StoreError> {
    Ok(source_requests::table
        .filter(source_requests::source_id.eq_any(sources))
        .group_by(source_requests::source_id)
        .select((
            source_requests::source_id,
            diesel::dsl::max(source_requests::received_at),
        ))
        .load(conn)?)
}
