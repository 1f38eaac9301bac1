//! Alert intake (SPEC §4.3): `trigger` opens an incident or adds an occurrence to the one that
//! owns the dedup key, `acknowledge` and `resolve` act on it. Also direct creation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::IncidentError;
use super::changes::{self, Entry};
use super::lifecycle::{Intent, Transition, attributes_json, parse_attributes, transition, upsert};
use super::model::{Attribute, Incident, parse_severity};
use crate::events::{Outbox, Transaction};
use crate::ids::new_id;
use crate::store::incidents::IncidentRow;
use crate::store::{self, Locks, Store, StoreError};
use crate::templates::text::truncate;
use crate::templates::value_text;
use crate::timestamp::now_millis;
use crate::validation::Invalid;

const MAX_TITLE_CHARS: usize = 500;
const MAX_KEY_CHARS: usize = 200;
const DEFAULT_SEVERITY: &str = "warning";
const DEFAULT_SOURCE: &str = "api";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl AlertAction {
    /// An action as senders write it, in any case: `trigger(ed)`, `acknowledge(d)`, `ack`,
    /// `resolve(d)`.
    pub fn from_word(word: &str) -> Option<Self> {
        match word.trim().to_ascii_lowercase().as_str() {
            "trigger" | "triggered" => Some(AlertAction::Trigger),
            "acknowledge" | "acknowledged" | "ack" => Some(AlertAction::Acknowledge),
            "resolve" | "resolved" => Some(AlertAction::Resolve),
            _ => None,
        }
    }
}

/// Attributes as an object of names to values, or as a list of attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AttributesInput {
    List(Vec<Attribute>),
    #[schema(value_type = Object)]
    Map(Map<String, Value>),
}

impl AttributesInput {
    fn into_list(self) -> Vec<Attribute> {
        match self {
            AttributesInput::List(list) => list,
            AttributesInput::Map(map) => map
                .into_iter()
                .map(|(name, value)| Attribute {
                    name,
                    value: value_text(&value),
                    is_image: false,
                    hide_in_previews: false,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertInput {
    pub dedup_key: String,
    pub action: AlertAction,
    pub title: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    pub message: Option<String>,
    pub attributes: Option<AttributesInput>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: Option<String>,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    pub attributes: Option<AttributesInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertResult {
    Opened,
    Occurrence,
    Acknowledged,
    Resolved,
}

/// An incident to open, checked.
#[derive(Debug, Clone)]
struct Opening {
    title: String,
    description: String,
    severity: &'static str,
    source: String,
    dedup_key: Option<String>,
    attributes: Vec<Attribute>,
}

/// A title that is not empty, cut to 500 characters with a marker: a monitor never shortens
/// its titles, and refusing one would lose the alert. The whole title of a cut one is kept as
/// the attribute `full_title`.
fn checked_title(title: &str) -> Result<(String, Option<Attribute>), Invalid> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Invalid::new("title", "must not be empty"));
    }
    let cut = truncate(title, MAX_TITLE_CHARS, "…");
    let full = (cut.len() != title.len()).then(|| Attribute {
        name: "full_title".into(),
        value: title.to_owned(),
        is_image: false,
        hide_in_previews: true,
    });
    Ok((cut.into_owned(), full))
}

/// A key that is not empty. One over 200 characters is cut, and its end replaced by a digest of
/// the whole, so that it still tells incidents apart and the same long key maps the same way.
fn checked_key(key: &str) -> Result<String, Invalid> {
    let key = key.trim();
    if key.is_empty() {
        return Err(Invalid::new("dedup_key", "must not be empty"));
    }
    if key.chars().count() <= MAX_KEY_CHARS {
        return Ok(key.to_owned());
    }
    let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes())[..8]);
    let kept: String = key.chars().take(MAX_KEY_CHARS - digest.len() - 1).collect();
    Ok(format!("{kept}~{digest}"))
}

/// Every attribute needs a name: an object key `""` is refused as a list entry's would be.
fn checked_attributes(attributes: Vec<Attribute>) -> Result<Vec<Attribute>, Invalid> {
    match attributes
        .iter()
        .position(|attribute| attribute.name.trim().is_empty())
    {
        Some(index) => Err(Invalid::new(
            format!("attributes[{index}].name"),
            "must not be empty",
        )),
        None => Ok(attributes),
    }
}

impl Opening {
    /// Checks what a caller sent and fills in the defaults.
    fn checked(input: NewIncident) -> Result<Self, Invalid> {
        let (title, full_title) = checked_title(&input.title)?;
        let mut attributes = checked_attributes(
            input
                .attributes
                .map(AttributesInput::into_list)
                .unwrap_or_default(),
        )?;
        attributes.extend(full_title);
        Ok(Self {
            title,
            description: input.description,
            severity: parse_severity(input.severity.as_deref().unwrap_or(DEFAULT_SEVERITY))?,
            source: input.source.unwrap_or_else(|| DEFAULT_SOURCE.into()),
            dedup_key: input.dedup_key.as_deref().map(checked_key).transpose()?,
            attributes,
        })
    }

    fn row(&self, now: i64) -> Result<IncidentRow, StoreError> {
        Ok(IncidentRow {
            id: new_id("inc"),
            number: 0,
            title: self.title.clone(),
            description: self.description.clone(),
            severity: self.severity.to_owned(),
            status: "open".into(),
            dedup_key: self.dedup_key.clone(),
            source: self.source.clone(),
            attributes: attributes_json(&self.attributes)?,
            forwarded_to: "[]".into(),
            occurrences: 1,
            created_at: now,
            updated_at: now,
            acknowledged_at: None,
            resolved_at: None,
        })
    }
}

/// Opens an incident directly (`POST /api/v1/incidents`). A dedup key already owned by an
/// unresolved incident is a conflict.
pub async fn create(
    outbox: &Outbox,
    input: NewIncident,
    actor: &str,
) -> Result<Incident, IncidentError> {
    let opening = Opening::checked(input)?;
    let actor = actor.to_owned();
    // One without a dedup key is nobody else's to change before it commits.
    let locks = opening
        .dedup_key
        .as_deref()
        .map_or_else(Locks::none, Locks::dedup_key);
    let incident = outbox
        .write_retrying_locked(locks, move |tx| {
            let now = now_millis();
            let entry = Entry {
                intent: "created",
                message: &opening.description,
                actor: &actor,
                at: now,
            };
            match open_numbered(tx, opening.row(now)?, &entry) {
                Err(error) if error.is_unique_violation() => Err(IncidentError::DedupKeyTaken(
                    opening.dedup_key.clone().unwrap_or_default(),
                )),
                other => Ok(other?),
            }
        })
        .await?;
    super::get(outbox.store(), &incident.id).await
}

/// Takes the next number and inserts, in a savepoint: if the dedup key turns out to be taken
/// (another transaction committed first), nothing of this attempt remains, the number included.
fn open_numbered(
    tx: &mut Transaction<'_>,
    mut row: IncidentRow,
    entry: &Entry<'_>,
) -> Result<Incident, StoreError> {
    tx.savepoint(|tx| {
        row.number = store::incidents::next_number(tx)?;
        changes::open(tx, row, entry)
    })
}

/// An alert that passed its checks, to apply inside a transaction.
#[derive(Debug, Clone)]
pub struct CheckedAlert {
    key: String,
    action: AlertAction,
    /// The incident a `trigger` opens when none owns the key.
    opening: Option<Opening>,
    message: String,
}

impl CheckedAlert {
    /// The dedup key, as checked.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn check(input: AlertInput) -> Result<Self, Invalid> {
        let key = checked_key(&input.dedup_key)?;
        let opening = match input.action {
            AlertAction::Trigger => Some(Opening::checked(NewIncident {
                title: input.title.unwrap_or_default(),
                description: input.message.clone().unwrap_or_default(),
                severity: input.severity,
                source: input.source,
                dedup_key: Some(key.clone()),
                attributes: input.attributes,
            })?),
            _ => None,
        };
        Ok(Self {
            key,
            action: input.action,
            opening,
            message: input.message.unwrap_or_default(),
        })
    }
}

/// Applies an alert; returns what it did and the incident.
pub async fn alert(
    outbox: &Outbox,
    input: AlertInput,
    actor: &str,
) -> Result<(AlertResult, Incident), IncidentError> {
    let alert = CheckedAlert::check(input)?;
    let key = alert.key.clone();
    let actor = actor.to_owned();
    let (result, changed) = outbox
        .write_retrying_locked(Locks::dedup_key(&key), move |tx| {
            apply(tx, &alert, &actor, now_millis())
        })
        .await?;
    // Alerts come from machines, many a second: the answer carries the incident as its event
    // does (the latest timeline entries), without reading it again.
    let incident = match changed {
        Some(incident) => incident,
        None => unresolved(outbox.store(), &key).await?,
    };
    Ok((result, incident))
}

/// Applies `alert` in the caller's transaction, which holds the lock of the alert's dedup key
/// (`Locks::dedup_key`); returns what it did and the incident as it changed (`None` when it did
/// not change).
pub fn apply(tx: &mut Transaction<'_>, alert: &CheckedAlert, actor: &str, now: i64) -> Outcome {
    let current = store::incidents::find_unresolved(tx, &alert.key)?;
    let entry = |intent| Entry {
        intent,
        message: &alert.message,
        actor,
        at: now,
    };
    match (alert.action, current, alert.opening.as_ref()) {
        (AlertAction::Trigger, Some(current), Some(opening)) => {
            occurrence(tx, &current, opening, &entry("occurrence"))
        }
        (AlertAction::Trigger, None, Some(opening)) => {
            let created = Entry {
                message: &opening.description,
                ..entry("created")
            };
            match open_numbered(tx, opening.row(now)?, &created) {
                Ok(incident) => Ok((AlertResult::Opened, Some(incident))),
                // Another transaction opened it first: this trigger is an occurrence.
                Err(error) if error.is_unique_violation() => {
                    let current = store::incidents::find_unresolved(tx, &alert.key)?
                        .ok_or_else(|| IncidentError::NoOpenIncident(alert.key.clone()))?;
                    occurrence(tx, &current, opening, &entry("occurrence"))
                }
                Err(error) => Err(error.into()),
            }
        }
        (_, None, _) => Err(IncidentError::NoOpenIncident(alert.key.clone())),
        (AlertAction::Acknowledge, Some(current), _) => {
            act(tx, &current, Intent::Acknowledged, &entry("acknowledged"))
        }
        (_, Some(current), _) => act(tx, &current, Intent::Resolved, &entry("resolved")),
    }
}

/// What an alert did, and the incident as it changed (`None` when it did not change).
pub type Outcome = Result<(AlertResult, Option<Incident>), IncidentError>;

fn occurrence(
    tx: &mut Transaction<'_>,
    current: &IncidentRow,
    alert: &Opening,
    entry: &Entry<'_>,
) -> Outcome {
    let mut attributes = parse_attributes(current)?;
    upsert(&mut attributes, alert.attributes.clone());
    let updated = IncidentRow {
        occurrences: current.occurrences + 1,
        attributes: attributes_json(&attributes)?,
        updated_at: entry.at,
        ..current.clone()
    };
    let incident = changes::update(tx, current, updated, entry, "incident.updated")?;
    Ok((AlertResult::Occurrence, Some(incident)))
}

/// Acknowledges or resolves the incident; acknowledging it again changes nothing and announces
/// nothing.
fn act(
    tx: &mut Transaction<'_>,
    current: &IncidentRow,
    intent: Intent,
    entry: &Entry<'_>,
) -> Outcome {
    let result = match intent {
        Intent::Resolved => AlertResult::Resolved,
        _ => AlertResult::Acknowledged,
    };
    let Some(Transition { updated, event, .. }) = transition(intent, current, entry.at) else {
        return Ok((result, None));
    };
    let incident = changes::update(tx, current, updated, entry, event)?;
    Ok((result, Some(incident)))
}

/// The incident an unchanged acknowledgement concerns.
async fn unresolved(store: &Store, key: &str) -> Result<Incident, IncidentError> {
    let key = key.trim().to_owned();
    store
        .read(move |conn| {
            let row = store::incidents::find_unresolved(conn, &key)?
                .ok_or(IncidentError::NoOpenIncident(key))?;
            Ok(changes::load_with_timeline(conn, &row)?)
        })
        .await
}
