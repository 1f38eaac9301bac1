//! What a request to a source becomes. It is authenticated, mapped by its sender's preset, and
//! stored in one transaction with the request itself in the source's log: every alert applied,
//! every event stored with its deliveries. What cannot be mapped is kept whole (an alert or an
//! `x.unmapped` event carrying the body); a body never gets a `4xx` or `5xx` for its content.

use std::sync::Arc;

use serde_json::{Value, json};

use super::custom::CompiledMapping;
use super::presets::{self, Item};
use super::request::SourceRequest;
use super::{Source, SourceError, Sources, auth};
use crate::events::{self, NewEvent, PreparedEvent, Transaction};
use crate::ids::new_id;
use crate::incidents::{self, CheckedAlert, IncidentError};
use crate::model::event_types::is_postable;
use crate::outbound::display::LOGGED_BODY_BYTES;
use crate::store::sources::RequestRow;
use crate::store::{self, Locks, StoreError, Transient};
use crate::templates::text::truncate;
use crate::timestamp::{now_millis, to_rfc3339};

const MAX_SUBJECT_CHARS: usize = 200;

/// A request in a source's log.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub id: String,
    pub received_at: String,
    pub method: String,
    pub headers: Value,
    pub body: String,
    pub body_truncated: bool,
    /// What it became: alerts with what each did, event ids, and why it could not be mapped.
    pub outcome: Value,
}

/// What a body would become, stored nowhere.
#[derive(Debug, Clone)]
pub struct Preview {
    pub items: Vec<Value>,
    pub unmapped: Option<String>,
}

/// One item of a request, checked and ready to store.
#[derive(Clone)]
enum Planned {
    Alert(CheckedAlert),
    Event(PreparedEvent),
}

impl Transient for SourceError {
    fn is_transient(&self) -> bool {
        matches!(self, SourceError::Store(error) if error.is_transient_conflict())
    }
}

impl Sources {
    /// Takes a request to `/hooks/in/{reference}[/{token}]`; returns what it became.
    pub async fn receive(
        &self,
        reference: &str,
        request: SourceRequest,
    ) -> Result<Value, SourceError> {
        let wanted = reference.to_owned();
        let row = self
            .outbox
            .store()
            .read(move |conn| store::sources::find_by_reference(conn, &wanted))
            .await?
            .filter(|row| row.enabled)
            .ok_or_else(|| SourceError::NotFound(reference.to_owned()))?;
        let source = Source::from_row(&row, self.outbox.store().secrets())?;
        let stored_token = row
            .token_hash
            .as_deref()
            .and_then(|hash| <[u8; 32]>::try_from(hex::decode(hash).ok()?).ok());
        let now = now_millis();
        if !auth::verify(
            &source.spec.auth,
            stored_token.as_ref(),
            &request,
            now / 1000,
        ) {
            tracing::debug!(source = %source.spec.name, "a request to a source was refused: its credentials do not match");
            return Err(SourceError::Unauthorized);
        }
        let Plan {
            items,
            unmapped,
            mapping,
        } = plan(&source, self.compiled_mapping(&source), &request);
        let planned = items
            .into_iter()
            .map(|item| checked(&source, &request, mapping.as_deref(), item))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let log = log_row(&source, &request, now);
        let actor = format!("source:{}", source.spec.name);
        let locks = Locks::dedup_keys(planned.iter().filter_map(|item| match item {
            Planned::Alert(alert) => Some(alert.key()),
            Planned::Event(_) => None,
        }));
        self.outbox
            .write_retrying_locked(locks, move |tx| {
                store_all(tx, &planned, unmapped.as_deref(), &log, &actor)
            })
            .await
    }

    /// What `request` would become at source `id`, stored nowhere.
    pub async fn preview(&self, id: &str, request: SourceRequest) -> Result<Preview, SourceError> {
        let source = self.get(id).await?;
        let Plan {
            items, unmapped, ..
        } = plan(&source, self.compiled_mapping(&source), &request);
        let items = items
            .into_iter()
            .map(|item| match item {
                Item::Alert(alert) => json!({ "alert": alert }),
                Item::Event(event) => json!({ "event": {
                    "type": event.event_type, "subject": event.subject,
                    "data": event.data, "previous": event.previous,
                } }),
            })
            .collect();
        Ok(Preview { items, unmapped })
    }

    /// The latest requests of source `id`, newest first.
    pub async fn requests(&self, id: &str) -> Result<Vec<LoggedRequest>, SourceError> {
        let id = id.to_owned();
        self.outbox
            .store()
            .read(move |conn| {
                super::find(conn, &id)?;
                let rows = store::sources::requests(conn, &id)?;
                Ok(rows.into_iter().map(LoggedRequest::from).collect())
            })
            .await
    }
}

impl From<RequestRow> for LoggedRequest {
    fn from(row: RequestRow) -> Self {
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        Self {
            headers: parse(&row.headers),
            outcome: parse(&row.outcome),
            id: row.id,
            received_at: to_rfc3339(row.received_at),
            method: row.method,
            body: row.body,
            body_truncated: row.body_truncated,
        }
    }
}

impl Sources {
    /// A custom source's mapping, compiled once for each stored version of the source.
    fn compiled_mapping(&self, source: &Source) -> Result<Option<Arc<CompiledMapping>>, String> {
        let Some(mapping) = &source.spec.mapping else {
            return Ok(None);
        };
        let mut kept = self
            .mappings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((version, compiled)) = kept.get(&source.id)
            && *version == source.updated_at
        {
            return Ok(Some(Arc::clone(compiled)));
        }
        let compiled = Arc::new(mapping.compile().map_err(|invalid| invalid.to_string())?);
        if kept.len() >= MAX_KEPT_MAPPINGS {
            // Those of sources deleted through other processes go too; the rest compile again.
            kept.clear();
        }
        kept.insert(
            source.id.clone(),
            (source.updated_at, Arc::clone(&compiled)),
        );
        Ok(Some(compiled))
    }
}

/// Beyond this many kept mappings, all are dropped.
const MAX_KEPT_MAPPINGS: usize = 10_000;

/// What a request maps to at a source.
struct Plan {
    items: Vec<Item>,
    /// Why the request could not be mapped (then `items` is the request kept whole).
    unmapped: Option<String>,
    /// A custom source's mapping: what it makes decides how what fails is kept.
    mapping: Option<Arc<CompiledMapping>>,
}

/// The request's items by its sender's preset; when it cannot be mapped, the request kept whole
/// and the reason.
fn plan(
    source: &Source,
    compiled: Result<Option<Arc<CompiledMapping>>, String>,
    request: &SourceRequest,
) -> Plan {
    let spec = &source.spec;
    let (mapping, mapped) = match compiled {
        Ok(mapping) => {
            let mapped = presets::map(spec.kind, mapping.as_deref(), request, &spec.name);
            (mapping, mapped)
        }
        Err(reason) => (None, Err(reason)),
    };
    match mapped {
        Ok(items) => Plan {
            items,
            unmapped: None,
            mapping,
        },
        Err(reason) => Plan {
            items: vec![presets::fallback(
                spec.kind,
                mapping.as_deref(),
                request,
                &spec.name,
                &reason,
            )],
            unmapped: Some(reason),
            mapping,
        },
    }
}

/// An item checked as the API would check it; one that fails is kept whole instead.
fn checked(
    source: &Source,
    request: &SourceRequest,
    mapping: Option<&CompiledMapping>,
    item: Item,
) -> Result<Planned, StoreError> {
    let refused = match item {
        Item::Alert(alert) => match CheckedAlert::check(alert) {
            Ok(checked) => return Ok(Planned::Alert(checked)),
            Err(invalid) => invalid.to_string(),
        },
        Item::Event(event) if is_postable(&event.event_type) => {
            return Ok(Planned::Event(events::prepare(events::with_changes(
                NewEvent {
                    subject: event
                        .subject
                        .map(|subject| truncate(&subject, MAX_SUBJECT_CHARS, "…").into_owned()),
                    ..event
                },
            ))?));
        }
        Item::Event(event) => format!(
            "`{}` is not an object.* or x.* event type",
            event.event_type
        ),
    };
    let kept = presets::fallback(
        source.spec.kind,
        mapping,
        request,
        &source.spec.name,
        &refused,
    );
    // What is kept whole always passes the check: this goes one level deep.
    checked(source, request, mapping, kept)
}

/// Stores every item and the request in the caller's transaction, which holds the locks of its
/// alerts' dedup keys; returns what each became.
fn store_all(
    tx: &mut Transaction<'_>,
    planned: &[Planned],
    unmapped: Option<&str>,
    log: &RequestRow,
    actor: &str,
) -> Result<Value, SourceError> {
    let now = now_millis();
    let (mut alerts, mut events) = (Vec::new(), Vec::new());
    for item in planned {
        match item {
            Planned::Alert(alert) => alerts.push(match incidents::apply_alert(tx, alert, actor, now) {
                Ok((result, incident)) => json!({
                    "dedup_key": alert.key(), "result": result,
                    "incident": incident.map(|incident| incident.id),
                }),
                Err(IncidentError::Store(error)) => return Err(error.into()),
                // A resolve for an incident that is not open, and the like: nothing to do.
                Err(error) => json!({"dedup_key": alert.key(), "result": "ignored", "reason": error.to_string()}),
            }),
            Planned::Event(event) => events.push(tx.emit(event.clone())?.event.event.id.clone()),
        }
    }
    let outcome = json!({"alerts": alerts, "events": events, "unmapped": unmapped});
    let log = RequestRow {
        outcome: outcome.to_string(),
        ..log.clone()
    };
    store::sources::log_request(tx, &log)?;
    Ok(outcome)
}

/// The request as the source's log keeps it (its outcome filled in once known).
fn log_row(source: &Source, request: &SourceRequest, now: i64) -> RequestRow {
    let text = request.text();
    let body = &text[..text.floor_char_boundary(LOGGED_BODY_BYTES)];
    RequestRow {
        id: new_id("srq"),
        source_id: source.id.clone(),
        received_at: now,
        method: request.method.clone(),
        headers: serde_json::Value::Object(request.masked_headers()).to_string(),
        body_truncated: body.len() < text.len(),
        body: body.to_owned(),
        outcome: String::new(),
    }
}
