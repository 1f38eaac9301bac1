//! The status transitions of an incident, shared by alerts and patches: what each intent does
//! to the row, and which timeline entry and event record it.

use super::model::Attribute;
use crate::store::StoreError;
use crate::store::incidents::IncidentRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Resolved,
    Unresolved,
    Acknowledged,
    Commented,
}

/// A change to make: the row after it, the timeline entry's intent and the event's type.
pub struct Transition {
    pub updated: IncidentRow,
    pub entry: &'static str,
    pub event: &'static str,
}

/// What `intent` does to `row` at `now`; `None` when the incident is in that state already.
pub fn transition(intent: Intent, row: &IncidentRow, now: i64) -> Option<Transition> {
    let base = IncidentRow {
        updated_at: now,
        ..row.clone()
    };
    let (updated, entry, event) = match intent {
        Intent::Resolved if row.status != "resolved" => (
            IncidentRow {
                status: "resolved".into(),
                resolved_at: Some(now),
                ..base
            },
            "resolved",
            "incident.resolved",
        ),
        Intent::Unresolved if row.status == "resolved" => (
            IncidentRow {
                status: "open".into(),
                resolved_at: None,
                acknowledged_at: None,
                ..base
            },
            "reopened",
            "incident.reopened",
        ),
        Intent::Acknowledged if row.status == "open" => (
            IncidentRow {
                status: "acknowledged".into(),
                acknowledged_at: Some(now),
                ..base
            },
            "acknowledged",
            "incident.acknowledged",
        ),
        Intent::Commented => (base, "commented", "incident.commented"),
        _ => return None,
    };
    Some(Transition {
        updated,
        entry,
        event,
    })
}

/// Replaces attributes of the same name (in any case) and adds the others.
pub fn upsert(attributes: &mut Vec<Attribute>, incoming: Vec<Attribute>) {
    for attribute in incoming {
        match attributes
            .iter_mut()
            .find(|existing| existing.name.eq_ignore_ascii_case(&attribute.name))
        {
            Some(existing) => *existing = attribute,
            None => attributes.push(attribute),
        }
    }
}

pub fn parse_attributes(row: &IncidentRow) -> Result<Vec<Attribute>, StoreError> {
    serde_json::from_str(&row.attributes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn attributes_json(attributes: &[Attribute]) -> Result<String, StoreError> {
    serde_json::to_string(attributes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
