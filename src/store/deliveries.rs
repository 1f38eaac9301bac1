//! Queries of the delivery queue: claiming due deliveries under a lease, recording attempts,
//! releasing claims and sending again. Reading the log is in [`super::delivery_log`].

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use super::schema::{deliveries, delivery_attempts, webhooks};
use super::{AnyConnection, StoreError, insert_in_chunks};
use crate::ids::id_bound_at;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// `None` is inserted as NULL rather than left out, so the insert is the same statement for every
/// row and diesel keeps it prepared (left out, the text differs with the row and is built anew).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub initiated_by: String,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = delivery_attempts, treat_none_as_default_value = false)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i32,
    pub initiated_by: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub request: String,
    pub response: Option<String>,
    pub error: Option<String>,
}

/// A claimed delivery: enough to load what it needs and send it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub webhook_id: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    #[diesel(sql_type = Text)]
    pub initiated_by: String,
}

/// Many deliveries in few statements ([`insert_in_chunks`]).
pub fn insert_many(conn: &mut AnyConnection, rows: &[DeliveryRow]) -> Result<(), StoreError> {
    insert_in_chunks!(conn, deliveries::table, rows)
}

const CLAIM_POSTGRES: &str = "UPDATE deliveries SET lease_owner = $1, next_attempt_at = $2 \
     WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $3 \
                  AND webhook_id IN (SELECT id FROM webhooks WHERE active) \
                  ORDER BY next_attempt_at LIMIT $4 FOR UPDATE OF deliveries SKIP LOCKED) \
     RETURNING id, event_id, webhook_id, attempts, max_attempts, initiated_by";
// On SQLite one process owns the queue and writes are serialised, so no row locking is needed.
// The due index is named: left to itself the planner may walk all of a webhook's deliveries.
const CLAIM_SQLITE: &str = "UPDATE deliveries SET lease_owner = ?1, next_attempt_at = ?2 \
     WHERE id IN (SELECT id FROM deliveries INDEXED BY deliveries_due_idx \
                  WHERE status = 'pending' AND next_attempt_at <= ?3 \
                  AND webhook_id IN (SELECT id FROM webhooks WHERE active) \
                  ORDER BY next_attempt_at LIMIT ?4) \
     RETURNING id, event_id, webhook_id, attempts, max_attempts, initiated_by";

/// Claims up to `limit` due deliveries of active webhooks for `owner` until `lease_until`
/// (a paused webhook's deliveries wait). On PostgreSQL, rows
/// another process is claiming at the same moment are skipped, not waited for.
pub fn claim_due(
    conn: &mut AnyConnection,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<ClaimedRow>, StoreError> {
    macro_rules! claim {
        ($conn:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<ClaimedRow>($conn)?
        };
    }
    Ok(match conn {
        AnyConnection::Postgresql(pg) => claim!(pg, CLAIM_POSTGRES),
        AnyConnection::Sqlite(sqlite) => claim!(sqlite, CLAIM_SQLITE),
    })
}

/// When the earliest pending delivery of an active webhook falls due, if any is pending. A
/// paused webhook's deliveries wait, so they are not due: counted, they would wake the claimer
/// over and over for nothing it may claim.
pub fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, StoreError> {
    // Walked in the order of the due index, it stops at the first active webhook's delivery:
    // `min()` over the same filter would read every pending delivery.
    let active = webhooks::table
        .filter(webhooks::active.eq(true))
        .select(webhooks::id);
    Ok(deliveries::table
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::webhook_id.eq_any(active))
        .order(deliveries::next_attempt_at)
        .select(deliveries::next_attempt_at)
        .first::<i64>(conn)
        .optional()?)
}

/// Extends `owner`'s lease; `false` means the claim was lost (another process took it).
pub fn extend_lease(
    conn: &mut AnyConnection,
    id: &str,
    owner: &str,
    until: i64,
) -> Result<bool, StoreError> {
    let updated = diesel::update(owned(id, owner))
        .set(deliveries::next_attempt_at.eq(until))
        .execute(conn)?;
    Ok(updated > 0)
}

/// A pending delivery, only while `owner` holds its claim.
type OwnedClaim<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<deliveries::table, &'a str>,
        diesel::dsl::Eq<deliveries::lease_owner, &'a str>,
    >,
    diesel::dsl::Eq<deliveries::status, &'static str>,
>;

fn owned<'a>(id: &'a str, owner: &'a str) -> OwnedClaim<'a> {
    deliveries::table
        .find(id)
        .filter(deliveries::lease_owner.eq(owner))
        .filter(deliveries::status.eq(PENDING))
}

/// The new state of a delivery after an attempt.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub id: String,
    pub status: &'static str,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

const COLUMNS_PER_CHANGE: usize = 7;

/// Applies state changes, in one statement, to the deliveries `owner` still holds a claim on
/// (a lost claim's delivery belongs to the process that took it over).
pub fn apply_all(
    conn: &mut AnyConnection,
    owner: &str,
    changes: &[StateChange],
) -> Result<(), StoreError> {
    for chunk in changes.chunks(ID_CHUNK / COLUMNS_PER_CHANGE) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4, \
             last_status_code = v.column5, last_error = v.column6, updated_at = v.column7, \
             lease_owner = NULL, initiated_by = 'schedule' \
             FROM (VALUES {rows}) AS v \
             WHERE deliveries.id = v.column1 AND deliveries.lease_owner = ? AND deliveries.status = 'pending'"
        );
        crate::on_backend!(conn, |c| {
            let mut query = diesel::sql_query(numbered_for(c, &sql)).into_boxed();
            for change in chunk {
                query = query
                    .bind::<Text, _>(&change.id)
                    .bind::<Text, _>(change.status)
                    .bind::<Integer, _>(change.attempts)
                    .bind::<BigInt, _>(change.next_attempt_at)
                    .bind::<Nullable<Integer>, _>(change.last_status_code)
                    .bind::<Nullable<Text>, _>(&change.last_error)
                    .bind::<BigInt, _>(change.updated_at);
            }
            query.bind::<Text, _>(owner).execute(c)
        })?;
    }
    Ok(())
}

/// PostgreSQL numbers its placeholders (`$1`); SQLite takes `?` as written.
fn numbered_for<C: 'static>(_: &C, sql: &str) -> String {
    if std::any::TypeId::of::<C>() != std::any::TypeId::of::<diesel::PgConnection>() {
        return sql.to_owned();
    }
    let mut numbered = String::with_capacity(sql.len() + sql.len() / 4);
    for (index, part) in sql.split('?').enumerate() {
        if index > 0 {
            numbered.push_str(&format!("${index}"));
        }
        numbered.push_str(part);
    }
    numbered
}

/// Gives an unsent claim back without counting an attempt: due again at `due`.
pub fn release(
    conn: &mut AnyConnection,
    id: &str,
    owner: &str,
    due: i64,
) -> Result<(), StoreError> {
    diesel::update(owned(id, owner))
        .set((
            deliveries::lease_owner.eq(None::<String>),
            deliveries::next_attempt_at.eq(due),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives back every claim of `owner` (a stopping process), due at once.
pub fn release_owner(conn: &mut AnyConnection, owner: &str, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::lease_owner.eq(owner))
            .filter(deliveries::status.eq(PENDING)),
    )
    .set((
        deliveries::lease_owner.eq(None::<String>),
        deliveries::next_attempt_at.eq(now),
    ))
    .execute(conn)?)
}

/// Gives back every claim of every owner. Only for SQLite at start: there the starting process
/// is the queue's only owner, so any claim left belongs to a process that died.
pub fn release_all(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::lease_owner.is_not_null())
            .filter(deliveries::status.eq(PENDING)),
    )
    .set((
        deliveries::lease_owner.eq(None::<String>),
        deliveries::next_attempt_at.eq(now),
    ))
    .execute(conn)?)
}

/// Records attempts: in one statement on PostgreSQL, where each statement is a round trip;
/// one by one on SQLite, where statements are cheap and diesel has no multi-row insert for
/// rows with optional columns. An attempt recorded twice (a process that lost its claim while
/// sending) is kept once.
pub fn insert_attempts(conn: &mut AnyConnection, rows: &[AttemptRow]) -> Result<(), StoreError> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            for chunk in rows.chunks(ID_CHUNK / 10) {
                diesel::insert_into(delivery_attempts::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .execute(pg)?;
            }
        }
        AnyConnection::Sqlite(sqlite) => {
            for row in rows {
                diesel::insert_into(delivery_attempts::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// Which deliveries to send again.
pub enum Requeue<'a> {
    One(&'a str),
    /// A webhook's deliveries with `status` created since `since`.
    OfWebhook {
        webhook_id: &'a str,
        status: &'a str,
        since: i64,
    },
}

/// Bound parameters per statement stay well under SQLite's limit.
const ID_CHUNK: usize = 500;

/// Makes deliveries due now for a manual attempt each. Deliveries a process has
/// claimed at this moment are left alone. Returns how many were queued.
pub fn requeue(
    conn: &mut AnyConnection,
    which: Requeue<'_>,
    now: i64,
) -> Result<usize, StoreError> {
    let ids: Vec<String> = match which {
        Requeue::One(id) => vec![id.to_owned()],
        Requeue::OfWebhook {
            webhook_id,
            status,
            since,
        } => deliveries::table
            .filter(deliveries::webhook_id.eq(webhook_id))
            .filter(deliveries::status.eq(status))
            .filter(deliveries::created_at.ge(since))
            .select(deliveries::id)
            .load(conn)?,
    };
    let mut queued = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        queued += diesel::update(
            deliveries::table
                .filter(deliveries::id.eq_any(chunk))
                .filter(deliveries::lease_owner.is_null()),
        )
        .set((
            deliveries::status.eq(PENDING),
            deliveries::next_attempt_at.eq(now),
            // A finished delivery gets one more attempt; a waiting one keeps its schedule.
            deliveries::max_attempts.eq(diesel::dsl::sql::<Integer>(
                "CASE WHEN max_attempts > attempts THEN max_attempts ELSE attempts + 1 END",
            )),
            deliveries::initiated_by.eq("manual"),
            deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
    }
    Ok(queued)
}

/// Deletes up to `batch` finished deliveries (with their attempts) created before `cutoff`.
pub fn prune(conn: &mut AnyConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let doomed = deliveries::table
        .filter(deliveries::id.lt(id_bound_at("dlv", cutoff)))
        .filter(deliveries::status.ne(PENDING))
        .select(deliveries::id)
        .limit(batch)
        .load::<String>(conn)?;
    Ok(diesel::delete(deliveries::table.filter(deliveries::id.eq_any(&doomed))).execute(conn)?)
}

/// How many deliveries each of `webhooks` has per status among those created at or after the id
/// bound `since`: ranges of the `(webhook_id, id)` index (ids begin with their creation time),
/// so the cost follows those webhooks' recent deliveries, not the whole log.
pub fn count_since_by_webhook(
    conn: &mut AnyConnection,
    webhooks: &[String],
    since: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(deliveries::table
        .filter(deliveries::webhook_id.eq_any(webhooks))
        .filter(deliveries::id.ge(since))
        .group_by((deliveries::webhook_id, deliveries::status))
        .select((
            deliveries::webhook_id,
            deliveries::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// The status of a webhook's newest delivery: the last entry of its `(webhook_id, id)` index.
pub fn last_status(conn: &mut AnyConnection, webhook: &str) -> Result<Option<String>, StoreError> {
    Ok(deliveries::table
        .filter(deliveries::webhook_id.eq(webhook))
        .order(deliveries::id.desc())
        .select(deliveries::status)
        .first(conn)
        .optional()?)
}

/// How many deliveries created at or after the id bound `since` failed: a range of the
/// primary key.
pub fn count_failed_since(conn: &mut AnyConnection, since: &str) -> Result<i64, StoreError> {
    Ok(deliveries::table
        .filter(deliveries::id.ge(since))
        .filter(deliveries::status.eq(FAILED))
        .count()
        .get_result(conn)?)
}
