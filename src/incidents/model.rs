//! The incident resource (SPEC §4.2) and its parts, as stored and as shown.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::Change;
use crate::store::StoreError;
use crate::store::incidents::{IncidentRow, TimelineRow};
use crate::timestamp::to_rfc3339;
use crate::validation::Invalid;

use crate::model::incident_fields::SEVERITIES;

/// A severity by name in any case; `error` (Tactical RMM's) means critical.
pub fn parse_severity(name: &str) -> Result<&'static str, Invalid> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "error" {
        return Ok("critical");
    }
    SEVERITIES
        .iter()
        .find(|severity| **severity == lower)
        .copied()
        .ok_or_else(|| Invalid::new("severity", "must be critical, warning, minor or info"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attribute {
    pub name: String,
    pub value: String,
    #[serde(default, alias = "isImage")]
    pub is_image: bool,
    #[serde(default, alias = "hideInPreviews")]
    pub hide_in_previews: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at: String,
    pub intent: String,
    pub message: String,
    pub actor: String,
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub status: String,
    pub dedup_key: Option<String>,
    pub source: String,
    pub attributes: Vec<Attribute>,
    pub forwarded_to: Vec<String>,
    pub occurrences: i64,
    pub created_at: String,
    pub updated_at: String,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub timeline: Vec<TimelineEntry>,
}

fn corrupt(what: &str, id: &str, error: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("incident {id} {what}: {error}"))
}

impl Incident {
    pub fn from_rows(row: &IncidentRow, timeline: &[TimelineRow]) -> Result<Self, StoreError> {
        let entries = timeline
            .iter()
            .map(|entry| {
                Ok(TimelineEntry {
                    at: to_rfc3339(entry.at),
                    intent: entry.intent.clone(),
                    message: entry.message.clone(),
                    actor: entry.actor.clone(),
                    changes: serde_json::from_str(&entry.changes)
                        .map_err(|e| corrupt("timeline", &row.id, e))?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            id: row.id.clone(),
            number: row.number,
            title: row.title.clone(),
            description: row.description.clone(),
            severity: row.severity.clone(),
            status: row.status.clone(),
            dedup_key: row.dedup_key.clone(),
            source: row.source.clone(),
            attributes: serde_json::from_str(&row.attributes)
                .map_err(|e| corrupt("attributes", &row.id, e))?,
            forwarded_to: serde_json::from_str(&row.forwarded_to)
                .map_err(|e| corrupt("forwarded_to", &row.id, e))?,
            occurrences: row.occurrences,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
            acknowledged_at: row.acknowledged_at.map(to_rfc3339),
            resolved_at: row.resolved_at.map(to_rfc3339),
            timeline: entries,
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
