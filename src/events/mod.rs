//! Events (SPEC §4.1): stored, then delivered to every webhook subscribed to their type, in the
//! same transaction as whatever caused them.

use std::sync::Arc;

use serde_json::Value;

use crate::delivery::{DeliveryEngine, NewDeliveries};
use crate::diff::diff;
use crate::ids::new_id;
use crate::model::event_types::is_postable;
use crate::model::{EncodedEvent, Event};
use crate::store::events::EventRow;
use crate::store::{self, AnyConnection, Page, PageRequest, Store, StoreError};
use crate::timestamp::{now_millis, to_rfc3339};
use crate::validation::Invalid;
use crate::webhooks::Webhook;

/// An event before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub subject: Option<String>,
    pub data: Value,
    pub previous: Option<Value>,
    pub changes: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no event with id `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_SUBJECT_CHARS: usize = 200;

/// An event ready to store: its record, and the exact text webhooks will receive.
pub struct PreparedEvent {
    event: Arc<EncodedEvent>,
    row: EventRow,
}

/// Builds the event outside any transaction, so the writer only has to store it.
pub fn prepare(new: NewEvent) -> Result<PreparedEvent, StoreError> {
    let occurred_at = now_millis();
    let event = EncodedEvent::encode(Event {
        id: new_id("evt"),
        event_type: new.event_type,
        occurred_at: to_rfc3339(occurred_at),
        subject: new.subject,
        data: new.data,
        previous: new.previous,
        changes: new.changes,
    })
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let row = EventRow {
        id: event.event.id.clone(),
        event_type: event.event.event_type.clone(),
        subject: event.event.subject.clone(),
        occurred_at,
        payload: event.json.clone(),
    };
    Ok(PreparedEvent {
        event: Arc::new(event),
        row,
    })
}

/// Stores a prepared event and one delivery per subscribed webhook, in the caller's
/// transaction. Pass the returned deliveries to [`DeliveryEngine::start`] once that
/// transaction has committed.
pub fn emit(
    conn: &mut AnyConnection,
    engine: &DeliveryEngine,
    prepared: PreparedEvent,
) -> Result<(Arc<EncodedEvent>, NewDeliveries), StoreError> {
    emit_also_to(conn, engine, prepared, None)
}

/// [`emit`], and also to the webhook `also` whatever it subscribes to (a forwarded incident
/// goes to the webhook it is forwarded to). Each webhook gets the event once.
pub fn emit_also_to(
    conn: &mut AnyConnection,
    engine: &DeliveryEngine,
    prepared: PreparedEvent,
    also: Option<&str>,
) -> Result<(Arc<EncodedEvent>, NewDeliveries), StoreError> {
    store::events::insert(conn, &prepared.row)?;
    let mut recipients = engine.subscribers(conn, &prepared.event.event)?;
    if let Some(id) = also
        && !recipients.iter().any(|webhook| webhook.id == id)
    {
        recipients.extend(engine.webhooks(conn, &[id.to_owned()])?);
    }
    let deliveries = engine.create_deliveries(conn, Arc::clone(&prepared.event), recipients)?;
    Ok((prepared.event, deliveries))
}

/// Stores a prepared event with one delivery, to the webhook `id` alone whatever it
/// subscribes to, due at `due` (at once when `None`). For posts the gateway makes itself.
pub fn emit_to(
    conn: &mut AnyConnection,
    engine: &DeliveryEngine,
    prepared: PreparedEvent,
    id: &str,
    due: Option<i64>,
) -> Result<NewDeliveries, StoreError> {
    store::events::insert(conn, &prepared.row)?;
    let recipients = engine.webhooks(conn, &[id.to_owned()])?;
    match due {
        Some(due) => engine.create_deliveries_due(conn, prepared.event, recipients, due),
        None => engine.create_deliveries(conn, prepared.event, recipients),
    }
}

/// An event stored in the form webhooks receive, serialised straight from `data` without a JSON
/// tree: for frequent events that seldom have subscribers (`chat.triggered`). The tree is only
/// built, from the stored text, when a webhook subscribes.
pub fn encode_row(
    event_type: &str,
    subject: &str,
    data: &impl serde::Serialize,
) -> Result<EventRow, StoreError> {
    #[derive(serde::Serialize)]
    struct Envelope<'a, D> {
        id: &'a str,
        #[serde(rename = "type")]
        event_type: &'a str,
        occurred_at: &'a str,
        subject: &'a str,
        data: D,
    }
    let (id, occurred_at) = (new_id("evt"), now_millis());
    let payload = serde_json::to_string(&Envelope {
        id: &id,
        event_type,
        occurred_at: &to_rfc3339(occurred_at),
        subject,
        data,
    })
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(EventRow {
        id,
        event_type: event_type.to_owned(),
        subject: Some(subject.to_owned()),
        occurred_at,
        payload,
    })
}

/// Stores encoded events (none about an incident), many at once, and one delivery per webhook
/// subscribed to each one's type, in the caller's transaction. The subscribers of a type are
/// looked up once for all its events.
pub fn emit_rows(
    conn: &mut AnyConnection,
    engine: &DeliveryEngine,
    rows: &[EventRow],
) -> Result<Vec<NewDeliveries>, StoreError> {
    store::events::insert_many(conn, rows)?;
    let mut subscribers: Vec<(&str, Vec<Arc<Webhook>>)> = Vec::new();
    let mut started = Vec::new();
    for row in rows {
        let known = subscribers
            .iter()
            .find(|(event_type, _)| *event_type == row.event_type);
        let recipients = match known {
            Some((_, recipients)) => recipients.clone(),
            None => {
                let recipients = engine.subscribers_to(conn, &row.event_type)?;
                subscribers.push((&row.event_type, recipients.clone()));
                recipients
            }
        };
        if recipients.is_empty() {
            continue;
        }
        let event = EncodedEvent::decode(row.payload.clone())
            .map_err(|error| StoreError::Corrupt(format!("event {}: {error}", row.id)))?;
        started.push(engine.create_deliveries(conn, Arc::new(event), recipients)?);
    }
    Ok(started)
}

/// An event accepted through the API: stored with its deliveries.
#[derive(Debug, Clone)]
pub struct Published {
    pub event: Arc<EncodedEvent>,
    pub deliveries: usize,
}

/// The events API's way in: object events and custom `x.*` events. Returns once the event and
/// its deliveries are committed.
pub async fn publish(
    store: &Store,
    engine: &DeliveryEngine,
    new: NewEvent,
) -> Result<Published, EventError> {
    if !is_postable(&new.event_type) {
        return Err(Invalid::new(
            "type",
            format!(
                "`{}` cannot be posted: use object.created, object.updated, object.deleted or a custom x.<name>",
                new.event_type
            ),
        )
        .into());
    }
    if new
        .subject
        .as_ref()
        .is_some_and(|subject| subject.chars().count() > MAX_SUBJECT_CHARS)
    {
        return Err(Invalid::new("subject", "must be at most 200 characters").into());
    }
    let prepared = prepare(with_changes(new))?;
    let in_transaction = engine.clone();
    let (event, deliveries) = store
        .write(move |conn| emit(conn, &in_transaction, prepared))
        .await?;
    let count = deliveries.count();
    engine.start(deliveries);
    Ok(Published {
        event,
        deliveries: count,
    })
}

/// An `object.updated` event with `previous` but without `changes` gets them computed:
/// field-level, nested paths as `a.b`, arrays compared as whole values (SPEC §4.3).
fn with_changes(mut new: NewEvent) -> NewEvent {
    if new.event_type == "object.updated"
        && new.changes.is_none()
        && let Some(previous) = &new.previous
    {
        new.changes = serde_json::to_value(diff(previous, &new.data)).ok();
    }
    new
}

pub async fn get(store: &Store, id: &str) -> Result<Event, EventError> {
    let id = id.to_owned();
    store
        .read(move |conn| {
            let row = store::events::find(conn, &id)?.ok_or(EventError::NotFound(id))?;
            Ok(parse(&row)?)
        })
        .await
}

pub async fn list(
    store: &Store,
    event_type: Option<String>,
    page: PageRequest,
) -> Result<Page<Event>, EventError> {
    store
        .read(move |conn| {
            let rows = store::events::list(conn, event_type.as_deref(), &page)?;
            let items = rows.items.iter().map(parse).collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                next_cursor: rows.next_cursor,
            })
        })
        .await
}

fn parse(row: &EventRow) -> Result<Event, StoreError> {
    serde_json::from_str(&row.payload)
        .map_err(|error| StoreError::Corrupt(format!("event {}: {error}", row.id)))
}
