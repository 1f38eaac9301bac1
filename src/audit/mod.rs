//! The audit log: who created, changed or deleted what, and when. Entries are written in the
//! same transaction as the change they describe, so the log never misses or invents one.

use serde_json::Value;

use crate::ids::new_id;
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::{self, AnyConnection, Page, PageRequest, Store, StoreError};
use crate::timestamp::now_millis;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// What changed, with every secret already masked by the caller.
    pub details: Value,
}

/// One change to record: `action` is `<resource>.<verb>`, e.g. `token.created`.
pub struct Change<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub details: Value,
}

impl<'a> Change<'a> {
    /// A change of the resource type its action names: `trigger.created` changes a `trigger`.
    pub fn of(actor: &'a str, action: &'a str, resource_id: &'a str, details: Value) -> Self {
        Self {
            actor,
            action,
            resource_type: action.split_once('.').map_or(action, |(kind, _)| kind),
            resource_id,
            details,
        }
    }
}

/// The details of a replacement: `{"changes": [...]}`, field by field, of two already masked
/// specifications.
pub fn changes(before: &impl serde::Serialize, after: &impl serde::Serialize) -> Value {
    let before = serde_json::to_value(before).unwrap_or_default();
    let after = serde_json::to_value(after).unwrap_or_default();
    serde_json::json!({ "changes": crate::diff::diff(&before, &after) })
}

/// Appends an entry; call it inside the transaction that makes the change.
pub fn record(conn: &mut AnyConnection, change: Change<'_>) -> Result<(), StoreError> {
    store::audit::insert(
        conn,
        &AuditRow {
            id: new_id("aud"),
            at: now_millis(),
            actor: change.actor.to_owned(),
            action: change.action.to_owned(),
            resource_type: change.resource_type.to_owned(),
            resource_id: change.resource_id.to_owned(),
            details: change.details.to_string(),
        },
    )
}

pub async fn list(
    store: &Store,
    filter: AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditEntry>, StoreError> {
    let rows = store
        .read(move |conn| store::audit::list(conn, &filter, &page))
        .await?;
    Ok(rows.map(AuditEntry::from))
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            details: serde_json::from_str(&row.details).unwrap_or(Value::Null),
        }
    }
}
