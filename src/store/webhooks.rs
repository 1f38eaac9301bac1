//! Queries of the webhook aggregate. `config` is the JSON of the whole configuration.

use std::cell::RefCell;

use diesel::prelude::*;

use super::schema::webhooks;
use super::writer::current_batch;
use super::{AnyConnection, Page, PageRequest, StoreError};

/// Ids of webhooks the gateway keeps for itself; lists leave them out.
pub const MANAGED_PREFIX: &str = "whk_system_";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &WebhookRow) -> Result<(), StoreError> {
    diesel::insert_into(webhooks::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Returns whether the webhook existed.
pub fn update(conn: &mut AnyConnection, row: &WebhookRow) -> Result<bool, StoreError> {
    forget_active();
    let updated = diesel::update(webhooks::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    Ok(updated > 0)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<WebhookRow>, StoreError> {
    Ok(webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<WebhookRow>, StoreError> {
    Ok(webhooks::table
        .filter(webhooks::id.eq_any(ids))
        .select(WebhookRow::as_select())
        .load(conn)?)
}

/// Id and `updated_at` of webhooks.
type Versions = Vec<(String, i64)>;

thread_local! {
    /// The active webhooks as read in the writer's current batch, with that batch's number:
    /// every event stored in one transaction sees the same webhooks, so one read serves them
    /// all. Any webhook write in the batch forgets it.
    static ACTIVE_IN_BATCH: RefCell<Option<(u64, Versions)>> = const { RefCell::new(None) };
}

/// Id and version of every active webhook, for matching a new event against subscriptions.
pub fn active_versions(conn: &mut AnyConnection) -> Result<Versions, StoreError> {
    let batch = current_batch();
    if batch != 0
        && let Some(versions) = ACTIVE_IN_BATCH.with_borrow(|memo| {
            memo.as_ref()
                .filter(|(read_in, _)| *read_in == batch)
                .map(|(_, versions)| versions.clone())
        })
    {
        return Ok(versions);
    }
    let versions: Versions = crate::on_backend!(conn, |c| webhooks::table
        .filter(webhooks::active.eq(true))
        .select((webhooks::id, webhooks::updated_at))
        .load(c))?;
    if batch != 0 {
        ACTIVE_IN_BATCH.with_borrow_mut(|memo| *memo = Some((batch, versions.clone())));
    }
    Ok(versions)
}

fn forget_active() {
    ACTIVE_IN_BATCH.with_borrow_mut(|memo| *memo = None);
}

/// Id and version of those of `ids` that exist.
pub fn versions(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(webhooks::table
        .filter(webhooks::id.eq_any(ids))
        .select((webhooks::id, webhooks::updated_at))
        .load(conn)?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<WebhookRow>, StoreError> {
    let mut query = webhooks::table
        .select(WebhookRow::as_select())
        .filter(webhooks::id.not_like(format!("{MANAGED_PREFIX}%")))
        .order(webhooks::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(webhooks::id.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

/// The first `limit` webhooks by name, as `(id, name, active)`, without the managed ones.
pub fn names(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<(String, String, bool)>, StoreError> {
    Ok(webhooks::table
        .filter(webhooks::id.not_like(format!("{MANAGED_PREFIX}%")))
        .order(webhooks::name.asc())
        .limit(limit)
        .select((webhooks::id, webhooks::name, webhooks::active))
        .load(conn)?)
}

/// Every webhook, for checks over the whole configuration.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<WebhookRow>, StoreError> {
    Ok(webhooks::table
        .select(WebhookRow::as_select())
        .order(webhooks::name.asc())
        .load(conn)?)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    forget_active();
    Ok(diesel::delete(webhooks::table.find(id)).execute(conn)? > 0)
}
