//! Events (SPEC §4.1): stored, then delivered to every webhook subscribed to their type, in the
//! same transaction as whatever caused them, through the [`Outbox`].

mod outbox;
#[cfg(test)]
pub mod testing;

use std::sync::Arc;

use serde_json::Value;

pub use outbox::{Emitted, Outbox, Transaction};

use crate::diff::diff;
use crate::ids::new_id;
use crate::model::event_types::is_postable;
use crate::model::{EncodedEvent, Event};
use crate::store::events::EventRow;
use crate::store::{self, Page, PageRequest, Store, StoreError};
use crate::timestamp::{now_millis, to_rfc3339};
use crate::validation::Invalid;

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
#[derive(Clone)]
pub struct PreparedEvent {
    event: Arc<EncodedEvent>,
    row: EventRow,
}

/// Builds the event: its id, its time and the exact text webhooks will receive. Build it
/// before the transaction when it is known beforehand (the writer then only stores it), and
/// inside when it describes what the transaction itself changed (an incident's new state).
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

/// An event accepted through the API: stored with its deliveries.
#[derive(Debug, Clone)]
pub struct Published {
    pub event: Arc<EncodedEvent>,
    pub deliveries: usize,
}

/// The events API's way in: object events and custom `x.*` events. Returns once the event and
/// its deliveries are committed.
pub async fn publish(outbox: &Outbox, new: NewEvent) -> Result<Published, EventError> {
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
    let emitted = outbox.write(move |tx| tx.emit(prepared)).await?;
    Ok(Published {
        event: emitted.event,
        deliveries: emitted.deliveries,
    })
}

/// An `object.updated` event with `previous` but without `changes` gets them computed:
/// field-level, nested paths as `a.b`, arrays compared as whole values (SPEC §4.3).
pub fn with_changes(mut new: NewEvent) -> NewEvent {
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
