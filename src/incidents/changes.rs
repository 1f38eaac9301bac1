//! Changing an incident inside the caller's transaction: the row, a timeline entry recording
//! who changed which fields, and the event that tells webhooks — all committed together.

use serde_json::{Value, json};

use super::model::Incident;
use crate::diff::{Change, diff};
use crate::events::{self, NewEvent, Transaction};
use crate::ids::new_id;
use crate::store::incidents::{IncidentRow, TimelineRow};
use crate::store::{self, AnyConnection, StoreError};

/// Timeline entries an incident event carries (all of them for `incident.forwarded`).
pub const RECENT_ENTRIES: i64 = 5;

/// What a change records on the timeline and announces.
pub struct Entry<'a> {
    pub intent: &'a str,
    pub message: &'a str,
    pub actor: &'a str,
    pub at: i64,
}

/// The fields a change is measured on (not `updated_at`, which every change moves).
fn tracked(row: &IncidentRow) -> Value {
    json!({
        "title": row.title,
        "description": row.description,
        "severity": row.severity,
        "status": row.status,
        "source": row.source,
        "attributes": serde_json::from_str::<Value>(&row.attributes).unwrap_or_default(),
        "forwarded_to": serde_json::from_str::<Value>(&row.forwarded_to).unwrap_or_default(),
        "occurrences": row.occurrences,
    })
}

/// Stores a new incident: its `created` entry and an `incident.created` event.
pub fn open(
    tx: &mut Transaction<'_>,
    row: IncidentRow,
    entry: &Entry<'_>,
) -> Result<Incident, StoreError> {
    store::incidents::insert(tx, &row)?;
    let announce = Announce {
        event_type: "incident.created",
        also_to: None,
    };
    record(tx, &row, None, Vec::new(), entry, announce)
}

/// Stores `updated` in place of `current`, with an entry naming the changed fields and the
/// event `event_type` carrying the incident, its previous state and the changes.
pub fn update(
    tx: &mut Transaction<'_>,
    current: &IncidentRow,
    updated: IncidentRow,
    entry: &Entry<'_>,
    event_type: &str,
) -> Result<Incident, StoreError> {
    let announce = Announce {
        event_type,
        also_to: None,
    };
    replace(tx, current, updated, entry, announce)
}

/// [`update`] announcing `incident.forwarded`, which also goes to `webhook_id` whatever it
/// subscribes to.
pub fn forward(
    tx: &mut Transaction<'_>,
    current: &IncidentRow,
    updated: IncidentRow,
    entry: &Entry<'_>,
    webhook_id: &str,
) -> Result<Incident, StoreError> {
    let announce = Announce {
        event_type: "incident.forwarded",
        also_to: Some(webhook_id),
    };
    replace(tx, current, updated, entry, announce)
}

/// The event a change emits, and a webhook it goes to besides the subscribers.
struct Announce<'a> {
    event_type: &'a str,
    also_to: Option<&'a str>,
}

fn replace(
    tx: &mut Transaction<'_>,
    current: &IncidentRow,
    updated: IncidentRow,
    entry: &Entry<'_>,
    announce: Announce<'_>,
) -> Result<Incident, StoreError> {
    let changes = diff(&tracked(current), &tracked(&updated));
    store::incidents::update(tx, &updated)?;
    record(tx, &updated, Some(current), changes, entry, announce)
}

fn record(
    tx: &mut Transaction<'_>,
    row: &IncidentRow,
    previous: Option<&IncidentRow>,
    changes: Vec<Change>,
    entry: &Entry<'_>,
    announce: Announce<'_>,
) -> Result<Incident, StoreError> {
    let changes_json =
        serde_json::to_string(&changes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store::incidents::insert_entry(
        tx,
        &TimelineRow {
            id: new_id("tle"),
            incident_id: row.id.clone(),
            at: entry.at,
            intent: entry.intent.to_owned(),
            message: entry.message.to_owned(),
            actor: entry.actor.to_owned(),
            changes: changes_json,
        },
    )?;
    // An incident forwarded goes out whole; other events carry the latest entries, so an
    // incident with thousands of occurrences does not make every event carry thousands.
    let incident = if announce.also_to.is_some() {
        load_with_timeline(tx, row)?
    } else {
        let recent = store::incidents::recent_timeline(tx, &row.id, RECENT_ENTRIES)?;
        Incident::from_rows(row, &recent)?
    };
    let previous = match previous {
        Some(previous) => Some(Incident::from_rows(previous, &[])?.to_value()),
        None => None,
    };
    let prepared = events::prepare(NewEvent {
        event_type: announce.event_type.to_owned(),
        subject: Some(row.id.clone()),
        data: incident.to_value(),
        previous,
        changes: (!changes.is_empty()).then(|| serde_json::to_value(&changes).unwrap_or_default()),
    })?;
    tx.emit_also_to(prepared, announce.also_to)?;
    Ok(incident)
}

pub fn load_with_timeline(
    conn: &mut AnyConnection,
    row: &IncidentRow,
) -> Result<Incident, StoreError> {
    let timeline = store::incidents::timelines(conn, std::slice::from_ref(&row.id))?;
    Incident::from_rows(row, &timeline)
}
