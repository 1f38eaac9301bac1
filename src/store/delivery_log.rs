//! Reading the delivery log: deliveries with their webhook's name and their event's type, and
//! a delivery's attempts.

use diesel::prelude::*;

use super::deliveries::{AttemptRow, DeliveryRow};
use super::schema::{deliveries, delivery_attempts, events, webhooks};
use super::{AnyConnection, Page, PageRequest, StoreError};
use crate::ids::id_bound_at;

/// A delivery as the log shows it. The name and type come from joins on the two primary keys
/// (deliveries cascade away with their webhook and event, so an inner join loses none): the
/// list stays one query that walks the same index as without them, and each joined row is one
/// key lookup.
#[derive(Debug, Clone, Queryable, Selectable)]
pub struct LoggedRow {
    #[diesel(embed)]
    pub delivery: DeliveryRow,
    #[diesel(select_expression = webhooks::name)]
    pub webhook_name: String,
    #[diesel(select_expression = events::event_type)]
    pub event_type: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<String>,
    pub event_type: Option<String>,
    /// Deliveries of the events about this subject (an incident's id).
    pub subject: Option<String>,
    /// Deliveries created at or after this time (Unix milliseconds).
    pub created_from: Option<i64>,
    /// Deliveries created before this time (Unix milliseconds).
    pub created_before: Option<i64>,
}

/// A page of the log, newest first.
pub fn list(
    conn: &mut AnyConnection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<LoggedRow>, StoreError> {
    let mut query = deliveries::table
        .inner_join(webhooks::table)
        .inner_join(events::table)
        .select(LoggedRow::as_select())
        .order(deliveries::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(deliveries::id.lt(before));
    }
    if let Some(webhook_id) = &filter.webhook_id {
        query = query.filter(deliveries::webhook_id.eq(webhook_id));
    }
    if let Some(event_id) = &filter.event_id {
        query = query.filter(deliveries::event_id.eq(event_id));
    }
    if let Some(status) = &filter.status {
        query = query.filter(deliveries::status.eq(status));
    }
    if let Some(event_type) = &filter.event_type {
        query = query.filter(events::event_type.eq(event_type));
    }
    if let Some(subject) = &filter.subject {
        query = query.filter(events::subject.eq(subject));
    }
    // Times become bounds on the id (a UUIDv7 starts with its creation time), so a time range
    // is a range of the primary key rather than a scan of `created_at`.
    if let Some(from) = filter.created_from {
        query = query.filter(deliveries::id.ge(id_bound_at("dlv", from)));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(deliveries::id.lt(id_bound_at("dlv", before)));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.delivery.id))
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<LoggedRow>, StoreError> {
    Ok(deliveries::table
        .inner_join(webhooks::table)
        .inner_join(events::table)
        .filter(deliveries::id.eq(id))
        .select(LoggedRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn attempts_of(
    conn: &mut AnyConnection,
    delivery_id: &str,
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq(delivery_id))
        .order(delivery_attempts::attempt.asc())
        .select(AttemptRow::as_select())
        .load(conn)?)
}
