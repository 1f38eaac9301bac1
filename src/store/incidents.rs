//! Queries of the incident aggregate: the incident row, its timeline, and its number counter.

use diesel::expression_methods::EscapeExpressionMethods;
use diesel::prelude::*;

use super::schema::{answer_patches, counters, incident_timeline, incidents};
use super::{AnyConnection, Page, PageRequest, StoreError};
use crate::on_backend;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = incidents, treat_none_as_null = true)]
pub struct IncidentRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub status: String,
    pub dedup_key: Option<String>,
    pub source: String,
    /// JSON array.
    pub attributes: String,
    /// JSON array of webhook ids.
    pub forwarded_to: String,
    pub occurrences: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_timeline)]
pub struct TimelineRow {
    pub id: String,
    pub incident_id: String,
    pub at: i64,
    pub intent: String,
    pub message: String,
    pub actor: String,
    /// JSON array of `{field, old, new}`.
    pub changes: String,
}

/// What a list may be narrowed to; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    /// Text the title contains, in any case.
    pub title_contains: Option<String>,
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// The next incident number. On PostgreSQL the counter's row lock makes concurrent
/// transactions take turns until the first commits, so numbers never repeat (nor skip: a
/// sequence would not wait, but would leave a gap for every rolled back opening). Its holder
/// already holds every advisory lock it will take (`locks`), so whoever waits here holds nothing
/// it waits for.
pub fn next_number(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let target = counters::table.find("incident_number");
    Ok(on_backend!(conn, |c| diesel::update(target)
        .set(counters::value.eq(counters::value + 1))
        .returning(counters::value)
        .get_result(c))?)
}

pub fn insert(conn: &mut AnyConnection, row: &IncidentRow) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::insert_into(incidents::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

pub fn update(conn: &mut AnyConnection, row: &IncidentRow) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::update(incidents::table.find(&row.id))
        .set(row)
        .execute(c))?;
    Ok(())
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<IncidentRow>, StoreError> {
    Ok(incidents::table
        .find(id)
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_number(
    conn: &mut AnyConnection,
    number: i64,
) -> Result<Option<IncidentRow>, StoreError> {
    Ok(incidents::table
        .filter(incidents::number.eq(number))
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?)
}

/// The incident that owns `dedup_key` (the one not resolved), locked for the rest of the
/// transaction on PostgreSQL so that concurrent changes to it take turns instead of
/// overwriting each other (SQLite has one writer at a time anyway).
pub fn find_unresolved(
    conn: &mut AnyConnection,
    dedup_key: &str,
) -> Result<Option<IncidentRow>, StoreError> {
    // Written once, typed for each backend. The condition of the partial index on open dedup
    // keys is written as it stands in the index, not bound: a planner that does not look at
    // bound values (PostgreSQL's generic plans, SQLite's with QPSG) can then use the index.
    macro_rules! unresolved {
        () => {
            incidents::table
                .filter(incidents::dedup_key.eq(dedup_key))
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "status <> 'resolved'",
                ))
                .select(IncidentRow::as_select())
        };
    }
    let found = match conn {
        AnyConnection::Postgresql(c) => unresolved!().for_update().first(c),
        AnyConnection::Sqlite(c) => unresolved!().first(c),
    };
    Ok(found.optional()?)
}

pub fn list(
    conn: &mut AnyConnection,
    filter: &IncidentFilter,
    page: &PageRequest,
) -> Result<Page<IncidentRow>, StoreError> {
    let mut query = incidents::table
        .select(IncidentRow::as_select())
        .order(incidents::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(incidents::id.lt(before));
    }
    if let Some(status) = &filter.status {
        query = query.filter(incidents::status.eq(status));
    }
    if let Some(severity) = &filter.severity {
        query = query.filter(incidents::severity.eq(severity));
    }
    if let Some(source) = &filter.source {
        query = query.filter(incidents::source.eq(source));
    }
    if let Some(dedup_key) = &filter.dedup_key {
        query = query.filter(incidents::dedup_key.eq(dedup_key));
    }
    if let Some(text) = &filter.title_contains {
        let pattern = like_pattern(&text.to_lowercase());
        query = query.filter(lower(incidents::title).like(pattern).escape('\\'));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// `%text%` with the pattern characters in `text` matched literally.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn insert_entry(conn: &mut AnyConnection, row: &TimelineRow) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::insert_into(incident_timeline::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// The timelines of these incidents, each in order.
pub fn timelines(
    conn: &mut AnyConnection,
    incident_ids: &[String],
) -> Result<Vec<TimelineRow>, StoreError> {
    Ok(incident_timeline::table
        .filter(incident_timeline::incident_id.eq_any(incident_ids))
        .order((incident_timeline::incident_id, incident_timeline::id))
        .select(TimelineRow::as_select())
        .load(conn)?)
}

/// Records that the answer to `delivery_id` patched `incident_id`; `false` if one already did.
pub fn mark_answer_applied(
    conn: &mut AnyConnection,
    delivery_id: &str,
    incident_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let inserted = on_backend!(conn, |c| diesel::insert_into(answer_patches::table)
        .values((
            answer_patches::delivery_id.eq(delivery_id),
            answer_patches::incident_id.eq(incident_id),
            answer_patches::applied_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// The latest `limit` entries of an incident's timeline, in order.
pub fn recent_timeline(
    conn: &mut AnyConnection,
    incident_id: &str,
    limit: i64,
) -> Result<Vec<TimelineRow>, StoreError> {
    let mut rows: Vec<TimelineRow> = on_backend!(conn, |c| incident_timeline::table
        .filter(incident_timeline::incident_id.eq(incident_id))
        .order(incident_timeline::id.desc())
        .limit(limit)
        .select(TimelineRow::as_select())
        .load(c))?;
    rows.reverse();
    Ok(rows)
}

/// How many incidents are not resolved, per severity (served by a partial index on them).
pub fn count_unresolved_by_severity(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(incidents::table
        .filter(incidents::status.ne("resolved"))
        .group_by(incidents::severity)
        .select((incidents::severity, diesel::dsl::count_star()))
        .load(conn)?)
}
