//! Queries of the audit log: append and list, never update.

use diesel::prelude::*;

use super::schema::audit_log;
use super::{AnyConnection, Page, PageRequest, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub actor: Option<String>,
    /// Entries at or after this time (Unix milliseconds).
    pub at_from: Option<i64>,
    /// Entries before this time.
    pub at_before: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &AuditRow) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn list(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditRow>, StoreError> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(audit_log::id.lt(before));
    }
    if let Some(resource_type) = &filter.resource_type {
        query = query.filter(audit_log::resource_type.eq(resource_type));
    }
    if let Some(resource_id) = &filter.resource_id {
        query = query.filter(audit_log::resource_id.eq(resource_id));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor));
    }
    if let Some(from) = filter.at_from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(before) = filter.at_before {
        query = query.filter(audit_log::at.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}
