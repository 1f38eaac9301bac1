//! Patches in All Quiet's format (SPEC §4.4): `appendIntent`, `addAttributes`,
//! `upsertAttributes`, `changeSeverity`. A patch is checked whole before anything changes, then
//! applied in one transaction: each operation adds its timeline entry and emits its event.

use serde::Deserialize;

use super::changes::{self, Entry};
use super::lifecycle::{Intent, Transition, attributes_json, parse_attributes, transition, upsert};
use super::model::{Attribute, Incident, parse_severity};
use super::{IncidentError, find_by_id, get, locate};
use crate::events::{Outbox, Transaction};
use crate::store::StoreError;
use crate::store::incidents::IncidentRow;
use crate::timestamp::now_millis;
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

/// Applies a patch (`PATCH /api/v1/incidents/{id}`): all of it, or nothing when any operation
/// is invalid.
pub async fn patch(
    outbox: &Outbox,
    reference: &str,
    input: PatchInput,
    actor: &str,
) -> Result<Incident, IncidentError> {
    let checked = input.operations.check()?;
    let (id, locks) = locate(outbox.store(), reference).await?;
    let actor = actor.to_owned();
    let patched = outbox
        .write_retrying_locked(locks, move |tx| {
            let row = find_by_id(tx, &id)?;
            Ok::<_, IncidentError>(apply(tx, row, &checked, &actor, now_millis())?)
        })
        .await?;
    get(outbox.store(), &patched.id).await
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("an unresolved incident already has the dedup_key `{0}`: this one cannot be reopened")]
    DedupKeyTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `patch` to `current`: attributes, then severity, then the intent, each as its own
/// timeline entry and event. The caller's transaction makes it all or nothing; returns the
/// incident as it ends up.
pub fn apply(
    tx: &mut Transaction<'_>,
    current: IncidentRow,
    patch: &Patch,
    actor: &str,
    now: i64,
) -> Result<Incident, PatchError> {
    let mut steps = Steps {
        tx,
        actor,
        now,
        row: current,
        last: None,
    };
    if let Some(updated) = with_attributes(&steps.row, patch, now)? {
        steps.take(updated, "attributes", "", "incident.updated")?;
    }
    if let Some(severity) = patch
        .severity
        .filter(|severity| *severity != steps.row.severity)
    {
        let updated = IncidentRow {
            severity: severity.to_owned(),
            updated_at: now,
            ..steps.row.clone()
        };
        steps.take(updated, "severity", "", "incident.updated")?;
    }
    if let Some((intent, message)) = &patch.intent
        && let Some(Transition {
            updated,
            entry,
            event,
        }) = transition(*intent, &steps.row, now)
    {
        let key = updated.dedup_key.clone().unwrap_or_default();
        match steps.take(updated, entry, message, event) {
            Err(PatchError::Store(error)) if error.is_unique_violation() => {
                return Err(PatchError::DedupKeyTaken(key));
            }
            other => other?,
        }
    }
    steps.finish()
}

/// The row with the patch's attributes added and upserted; `None` if that changes nothing
/// (upserting values the incident already has records no entry and emits no event).
fn with_attributes(
    row: &IncidentRow,
    patch: &Patch,
    now: i64,
) -> Result<Option<IncidentRow>, StoreError> {
    if patch.add.is_empty() && patch.upsert.is_empty() {
        return Ok(None);
    }
    let before = parse_attributes(row)?;
    let mut attributes = before.clone();
    attributes.extend(patch.add.iter().cloned());
    upsert(&mut attributes, patch.upsert.clone());
    if attributes == before {
        return Ok(None);
    }
    Ok(Some(IncidentRow {
        attributes: attributes_json(&attributes)?,
        updated_at: now,
        ..row.clone()
    }))
}

/// The changes of one patch so far, each stored as it is taken.
struct Steps<'a, 'tx> {
    tx: &'a mut Transaction<'tx>,
    actor: &'a str,
    now: i64,
    row: IncidentRow,
    last: Option<Incident>,
}

impl Steps<'_, '_> {
    fn take(
        &mut self,
        updated: IncidentRow,
        intent: &str,
        message: &str,
        event: &str,
    ) -> Result<(), PatchError> {
        let entry = Entry {
            intent,
            message,
            actor: self.actor,
            at: self.now,
        };
        let incident = changes::update(self.tx, &self.row, updated.clone(), &entry, event)?;
        self.last = Some(incident);
        self.row = updated;
        Ok(())
    }

    fn finish(self) -> Result<Incident, PatchError> {
        Ok(match self.last {
            Some(incident) => incident,
            None => changes::load_with_timeline(self.tx, &self.row)?,
        })
    }
}
