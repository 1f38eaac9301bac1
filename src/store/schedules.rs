//! Queries of the schedule aggregate: schedules, whose `config` is the JSON of the whole
//! definition, and their runs. Claiming due schedules locks their rows until the transaction
//! that fires them ends; on PostgreSQL rows another process holds are skipped, not waited for.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{deliveries, schedule_runs, schedules};
use super::{AnyConnection, Page, PageRequest, StoreError, insert_in_chunks};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = schedules)]
pub struct ScheduleRow {
    pub id: String,
    pub name: String,
    pub webhook_id: String,
    pub enabled: bool,
    pub config: String,
    pub next_due_at: Option<i64>,
    pub last_fired_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = schedule_runs)]
pub struct RunRow {
    pub id: String,
    pub schedule_id: String,
    pub due_at: i64,
    pub fired_at: i64,
    pub manual: bool,
    pub missed: i64,
    pub event_id: String,
}

/// The delivery of a run's event, as far as it has gone.
#[derive(Debug, Clone, Queryable)]
pub struct RunDelivery {
    pub event_id: String,
    pub id: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
}

pub fn insert(conn: &mut AnyConnection, row: &ScheduleRow) -> Result<(), StoreError> {
    diesel::insert_into(schedules::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Replaces a schedule's definition and next due time; when it last fired stays as the
/// scheduler left it. Returns whether the schedule existed.
pub fn update(conn: &mut AnyConnection, row: &ScheduleRow) -> Result<bool, StoreError> {
    let updated = diesel::update(schedules::table.find(&row.id))
        .set((
            schedules::name.eq(&row.name),
            schedules::webhook_id.eq(&row.webhook_id),
            schedules::enabled.eq(row.enabled),
            schedules::config.eq(&row.config),
            schedules::next_due_at.eq(row.next_due_at),
            schedules::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .find(id)
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<ScheduleRow>, StoreError> {
    let mut query = schedules::table
        .select(ScheduleRow::as_select())
        .order(schedules::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(schedules::id.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// Every schedule, for `check-config`.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .select(ScheduleRow::as_select())
        .order(schedules::id.asc())
        .load(conn)?)
}

/// Returns whether the schedule existed.
pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(schedules::table.find(id)).execute(conn)? > 0)
}

/// The name of a schedule that fires to `webhook_id`, if any does.
pub fn name_using_webhook(
    conn: &mut AnyConnection,
    webhook_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(schedules::table
        .filter(schedules::webhook_id.eq(webhook_id))
        .select(schedules::name)
        .first(conn)
        .optional()?)
}

const CLAIM_POSTGRES: &str = "SELECT * FROM schedules WHERE enabled AND next_due_at <= $1 \
     ORDER BY next_due_at LIMIT $2 FOR UPDATE SKIP LOCKED";
const CLAIM_SQLITE: &str = "SELECT * FROM schedules WHERE enabled AND next_due_at <= ? \
     ORDER BY next_due_at LIMIT ?";

/// Up to `limit` enabled schedules due at `now`, earliest first, held until the transaction
/// ends (SQLite's single writer holds the whole database).
pub fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<ScheduleRow>, StoreError> {
    macro_rules! claim {
        ($conn:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<ScheduleRow>($conn)?
        };
    }
    Ok(match conn {
        AnyConnection::Postgresql(pg) => claim!(pg, CLAIM_POSTGRES),
        AnyConnection::Sqlite(sqlite) => claim!(sqlite, CLAIM_SQLITE),
    })
}

/// How a schedule moves on after a pass: its next due time (`None` when none is left) and,
/// when it fired, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub id: String,
    pub next_due_at: Option<i64>,
    pub fired_at: Option<i64>,
}

/// Moves schedules on, one statement per distinct outcome: schedules due at the same time on
/// the same recurrence move on together.
pub fn advance(conn: &mut AnyConnection, advances: Vec<Advance>) -> Result<(), StoreError> {
    let mut groups: HashMap<(Option<i64>, Option<i64>), Vec<String>> = HashMap::new();
    for advance in advances {
        groups
            .entry((advance.next_due_at, advance.fired_at))
            .or_default()
            .push(advance.id);
    }
    for ((next_due_at, fired_at), ids) in groups {
        let target = schedules::table.filter(schedules::id.eq_any(&ids));
        match fired_at {
            Some(fired_at) => diesel::update(target)
                .set((
                    schedules::next_due_at.eq(next_due_at),
                    schedules::last_fired_at.eq(fired_at),
                ))
                .execute(conn)?,
            None => diesel::update(target)
                .set(schedules::next_due_at.eq(next_due_at))
                .execute(conn)?,
        };
    }
    Ok(())
}

/// Which of these (schedule, due time) pairs already fired on their own (not by hand).
pub fn fired_already(
    conn: &mut AnyConnection,
    wanted: &[(&str, i64)],
) -> Result<HashSet<(String, i64)>, StoreError> {
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<&str> = wanted.iter().map(|(id, _)| *id).collect();
    let due: Vec<i64> = wanted.iter().map(|(_, due_at)| *due_at).collect();
    let found: Vec<(String, i64)> = schedule_runs::table
        .filter(schedule_runs::manual.eq(false))
        .filter(schedule_runs::schedule_id.eq_any(&ids))
        .filter(schedule_runs::due_at.eq_any(&due))
        .select((schedule_runs::schedule_id, schedule_runs::due_at))
        .load(conn)?;
    let wanted: HashSet<(&str, i64)> = wanted.iter().copied().collect();
    Ok(found
        .into_iter()
        .filter(|(id, due_at)| wanted.contains(&(id.as_str(), *due_at)))
        .collect())
}

/// Records when a schedule was last fired (by hand).
pub fn mark_fired(conn: &mut AnyConnection, id: &str, fired_at: i64) -> Result<(), StoreError> {
    diesel::update(schedules::table.find(id))
        .set(schedules::last_fired_at.eq(fired_at))
        .execute(conn)?;
    Ok(())
}

/// When the earliest enabled schedule falls due, if any does.
pub fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, StoreError> {
    Ok(schedules::table
        .filter(schedules::enabled.eq(true))
        .select(diesel::dsl::min(schedules::next_due_at))
        .first::<Option<i64>>(conn)?)
}

/// The `limit` enabled schedules due soonest, as `(id, name, due at)`: the head of
/// `schedules_due_idx`.
pub fn due_soonest(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(schedules::table
        .filter(schedules::enabled.eq(true))
        .filter(schedules::next_due_at.is_not_null())
        .order(schedules::next_due_at.asc())
        .limit(limit)
        .select((
            schedules::id,
            schedules::name,
            schedules::next_due_at.assume_not_null(),
        ))
        .load(conn)?)
}

/// Many runs in few statements ([`insert_in_chunks`]).
pub fn insert_runs(conn: &mut AnyConnection, runs: &[RunRow]) -> Result<(), StoreError> {
    insert_in_chunks!(conn, schedule_runs::table, runs)
}

/// A page of a schedule's runs, newest first, with the deliveries of their events.
pub fn runs(
    conn: &mut AnyConnection,
    schedule_id: &str,
    page: &PageRequest,
) -> Result<(Page<RunRow>, Vec<RunDelivery>), StoreError> {
    let mut query = schedule_runs::table
        .filter(schedule_runs::schedule_id.eq(schedule_id))
        .select(RunRow::as_select())
        .order(schedule_runs::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(schedule_runs::id.lt(before));
    }
    let runs = Page::from_rows(query.load(conn)?, page, |run| &run.id);
    let event_ids: Vec<&str> = runs.items.iter().map(|run| run.event_id.as_str()).collect();
    let deliveries = deliveries::table
        .filter(deliveries::event_id.eq_any(&event_ids))
        .select((
            deliveries::event_id,
            deliveries::id,
            deliveries::status,
            deliveries::attempts,
            deliveries::last_status_code,
        ))
        .load::<RunDelivery>(conn)?;
    Ok((runs, deliveries))
}
