//! Patches in All Quiet's format (SPEC §4.4): `appendIntent`, `addAttributes`,
//! `upsertAttributes`, `changeSeverity`. A patch is checked whole before anything changes, then
//! applied in one transaction: each operation adds its timeline entry and emits its event.

use serde::Deserialize;

use super::changes::{self, Applied, Entry};
use super::intake::upsert;
use super::model::{Attribute, Incident, parse_severity};
use crate::delivery::{DeliveryEngine, NewDeliveries};
use crate::store::incidents::IncidentRow;
use crate::store::{AnyConnection, StoreError};
use crate::validation::Invalid;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInput {
    pub operations: Operations,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Operations {
    pub append_intent: Option<AppendIntent>,
    pub add_attributes: Option<AttributeList>,
    pub upsert_attributes: Option<AttributeList>,
    pub change_severity: Option<ChangeSeverity>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendIntent {
    pub intent: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeList {
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSeverity {
    pub severity: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Resolved,
    Unresolved,
    Acknowledged,
    Commented,
}

/// A patch that passed every check.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    add: Vec<Attribute>,
    upsert: Vec<Attribute>,
    severity: Option<&'static str>,
    intent: Option<(Intent, String)>,
}

const MAX_MESSAGE_CHARS: usize = 10_000;

fn check_attributes(field: &str, list: Option<AttributeList>) -> Result<Vec<Attribute>, Invalid> {
    let attributes = list.map(|list| list.attributes).unwrap_or_default();
    for (index, attribute) in attributes.iter().enumerate() {
        if attribute.name.trim().is_empty() {
            return Err(Invalid::new(
                format!("operations.{field}.attributes[{index}].name"),
                "must not be empty",
            ));
        }
    }
    Ok(attributes)
}

impl Operations {
    /// Checks every operation; nothing is applied unless all pass.
    pub fn check(self) -> Result<Patch, Invalid> {
        let intent = match self.append_intent {
            None => None,
            Some(append) => {
                let intent = match append.intent.trim().to_ascii_lowercase().as_str() {
                    "resolved" => Intent::Resolved,
                    "unresolved" => Intent::Unresolved,
                    "investigated" | "acknowledged" => Intent::Acknowledged,
                    "commented" => Intent::Commented,
                    _ => {
                        return Err(Invalid::new(
                            "operations.appendIntent.intent",
                            "must be Resolved, Unresolved, Investigated, Acknowledged or Commented",
                        ));
                    }
                };
                let message = append.message.unwrap_or_default();
                if intent == Intent::Commented && message.trim().is_empty() {
                    return Err(Invalid::new(
                        "operations.appendIntent.message",
                        "is needed for Commented",
                    ));
                }
                if message.chars().count() > MAX_MESSAGE_CHARS {
                    return Err(Invalid::new(
                        "operations.appendIntent.message",
                        "must be at most 10000 characters",
                    ));
                }
                Some((intent, message))
            }
        };
        let severity = self
            .change_severity
            .map(|change| parse_severity(&change.severity))
            .transpose()
            .map_err(|invalid| Invalid {
                field: "operations.changeSeverity.severity".into(),
                ..invalid
            })?;
        let patch = Patch {
            add: check_attributes("addAttributes", self.add_attributes)?,
            upsert: check_attributes("upsertAttributes", self.upsert_attributes)?,
            severity,
            intent,
        };
        if patch.add.is_empty()
            && patch.upsert.is_empty()
            && patch.severity.is_none()
            && patch.intent.is_none()
        {
            return Err(Invalid::new("operations", "holds nothing to apply"));
        }
        Ok(patch)
    }
}

/// What applying a patch did: the incident as it ends up, and the deliveries of its events.
pub struct Patched {
    pub incident: Incident,
    pub deliveries: Vec<NewDeliveries>,
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("an unresolved incident already has the dedup_key `{0}`: this one cannot be reopened")]
    DedupKeyTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `patch` to `current`: attributes, then severity, then the intent, each as its own
/// timeline entry and event. The caller's transaction makes it all or nothing.
pub fn apply(
    conn: &mut AnyConnection,
    engine: &DeliveryEngine,
    current: IncidentRow,
    patch: &Patch,
    actor: &str,
    now: i64,
) -> Result<Patched, PatchError> {
    let entry = |intent, message| Entry {
        intent,
        message,
        actor,
        at: now,
    };
    let mut row = current;
    let mut deliveries = Vec::new();
    let mut last: Option<Incident> = None;
    let mut step = |row: &mut IncidentRow, updated: IncidentRow, entry: Entry<'_>, event: &str| {
        let Applied {
            incident,
            deliveries: new,
        } = changes::update(conn, engine, row, updated.clone(), &entry, event)?;
        deliveries.push(new);
        last = Some(incident);
        *row = updated;
        Ok::<_, PatchError>(())
    };
    if !patch.add.is_empty() || !patch.upsert.is_empty() {
        let mut attributes: Vec<Attribute> = serde_json::from_str(&row.attributes)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let before = attributes.clone();
        attributes.extend(patch.add.iter().cloned());
        upsert(&mut attributes, patch.upsert.clone());
        // Upserting the values an incident already has changes nothing: no entry, no event.
        if attributes != before {
            let text = serde_json::to_string(&attributes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let updated = IncidentRow {
                attributes: text,
                updated_at: now,
                ..row.clone()
            };
            step(
                &mut row,
                updated,
                entry("attributes", ""),
                "incident.updated",
            )?;
        }
    }
    if let Some(severity) = patch.severity.filter(|severity| *severity != row.severity) {
        let updated = IncidentRow {
            severity: severity.to_owned(),
            updated_at: now,
            ..row.clone()
        };
        step(&mut row, updated, entry("severity", ""), "incident.updated")?;
    }
    if let Some((intent, message)) = &patch.intent {
        let transition = match intent {
            Intent::Resolved if row.status != "resolved" => Some((
                IncidentRow {
                    status: "resolved".into(),
                    resolved_at: Some(now),
                    updated_at: now,
                    ..row.clone()
                },
                "resolved",
                "incident.resolved",
            )),
            Intent::Unresolved if row.status == "resolved" => Some((
                IncidentRow {
                    status: "open".into(),
                    resolved_at: None,
                    acknowledged_at: None,
                    updated_at: now,
                    ..row.clone()
                },
                "reopened",
                "incident.reopened",
            )),
            Intent::Acknowledged if row.status == "open" => Some((
                IncidentRow {
                    status: "acknowledged".into(),
                    acknowledged_at: Some(now),
                    updated_at: now,
                    ..row.clone()
                },
                "acknowledged",
                "incident.acknowledged",
            )),
            Intent::Commented => Some((
                IncidentRow {
                    updated_at: now,
                    ..row.clone()
                },
                "commented",
                "incident.commented",
            )),
            // Already in that state: nothing to record.
            _ => None,
        };
        if let Some((updated, name, event)) = transition {
            let key = updated.dedup_key.clone().unwrap_or_default();
            match step(&mut row, updated, entry(name, message), event) {
                Err(PatchError::Store(error)) if error.is_unique_violation() => {
                    return Err(PatchError::DedupKeyTaken(key));
                }
                other => other?,
            }
        }
    }
    let incident = match last {
        Some(incident) => incident,
        None => changes::load_with_timeline(conn, &row)?,
    };
    Ok(Patched {
        incident,
        deliveries,
    })
}
