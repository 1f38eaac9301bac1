//! Previewing a webhook's request and sending a test, outside the queue (SPEC §6.2): the event
//! they are about (one given, a sample, or an incident as it is now), rendered exactly as a
//! delivery of it would be now.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{RenderError, Target, build_request, render};
use crate::ids::new_id;
use crate::model::samples::{sample_event, sample_type_for};
use crate::model::{EncodedEvent, Event};
use crate::outbound::display::LOGGED_BODY_BYTES;
use crate::outbound::{Endpoint, HttpClients, OutboundRequest, OutboundResponse, SendError};
use crate::templates::Globals;
use crate::timestamp::{now_millis, to_rfc3339};
use crate::validation::Invalid;
use crate::webhooks::Webhook;

const PREVIEW_EVENT_ID: &str = "evt_preview";

/// Which event to preview or test with: a given one, or a sample of the subscribed type.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// An event as webhooks receive it (`type` and `data` at least).
    #[schema(value_type = Object)]
    pub event: Option<Value>,
    /// Use a sample event of the first type the webhook subscribes to.
    #[serde(default)]
    pub sample: bool,
    /// An incident (id or number): the event is that incident as it is now, of the first
    /// incident type the webhook subscribes to.
    pub incident: Option<String>,
}

/// An incident as it is now, read by the caller (incidents sit above deliveries).
pub struct IncidentSnapshot {
    pub id: String,
    /// The incident as JSON, as its events carry it.
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the event cannot be encoded: {0}")]
    Encode(String),
}

impl PreviewInput {
    /// The event this input asks for; `incident` is the incident it names.
    fn event(
        self,
        webhook: &Webhook,
        incident: Option<IncidentSnapshot>,
    ) -> Result<Event, Invalid> {
        if let Some(incident) = incident {
            return Ok(incident_event(webhook, incident));
        }
        match self.event {
            Some(event) => given_event(event),
            None if self.sample => {
                let pattern = webhook.spec.events.first().map_or("*", String::as_str);
                Ok(sample_event(sample_type_for(pattern)))
            }
            None => Err(Invalid::new(
                "event",
                "send an `event`, or `\"sample\": true`",
            )),
        }
    }
}

fn incident_event(webhook: &Webhook, incident: IncidentSnapshot) -> Event {
    let event_type = webhook
        .spec
        .events
        .iter()
        .map(|pattern| sample_type_for(pattern))
        .find(|event_type| event_type.starts_with("incident."))
        .unwrap_or("incident.created");
    Event {
        id: PREVIEW_EVENT_ID.into(),
        event_type: event_type.to_owned(),
        occurred_at: to_rfc3339(now_millis()),
        subject: Some(incident.id),
        data: incident.data,
        previous: None,
        changes: None,
    }
}

/// A caller's event with what it left out filled in.
fn given_event(mut event: Value) -> Result<Event, Invalid> {
    let object = event
        .as_object_mut()
        .ok_or_else(|| Invalid::new("event", "must be an object"))?;
    object
        .entry("id")
        .or_insert_with(|| json!(PREVIEW_EVENT_ID));
    object
        .entry("occurred_at")
        .or_insert_with(|| json!(to_rfc3339(now_millis())));
    object.entry("subject").or_insert(Value::Null);
    object.entry("data").or_insert_with(|| json!({}));
    serde_json::from_value(event).map_err(|error| Invalid::new("event", error.to_string()))
}

/// A webhook's request for one event, exactly as a delivery would send it now.
pub struct Preview {
    request: OutboundRequest,
    endpoint: Endpoint,
}

/// What a test send did.
pub struct TestResult {
    pub request: OutboundRequest,
    pub outcome: Result<OutboundResponse, SendError>,
    pub duration_ms: u128,
}

impl Preview {
    pub fn build(
        webhook: &Webhook,
        input: PreviewInput,
        incident: Option<IncidentSnapshot>,
        globals: &Globals,
    ) -> Result<Self, PreviewError> {
        let event = EncodedEvent::encode(input.event(webhook, incident)?)
            .map_err(|error| PreviewError::Encode(error.to_string()))?;
        let delivery_id = new_id("dlv");
        let target = Target {
            webhook,
            event: &event,
            delivery_id: &delivery_id,
            attempt: 1,
        };
        let rendered = render(target, globals)?;
        Ok(Self {
            request: build_request(webhook, &event, &delivery_id, rendered),
            endpoint: webhook.spec.endpoint.clone(),
        })
    }

    /// The request with its credentials masked, as the API shows it.
    pub fn to_json(&self) -> Value {
        self.request.to_json(usize::MAX)
    }

    /// Sends the request now, through the same guarded clients as real deliveries.
    pub async fn send(self, clients: &HttpClients, default_timeout_ms: u64) -> TestResult {
        let timeout = self.endpoint.timeout(default_timeout_ms);
        let started = Instant::now();
        let outcome = clients
            .send(&self.request, timeout, self.endpoint.allow_insecure_tls)
            .await;
        TestResult {
            request: self.request,
            outcome,
            duration_ms: started.elapsed().as_millis(),
        }
    }
}

impl TestResult {
    /// The request and the answer (or the error) as the API shows them, bodies cut as in the
    /// delivery log.
    pub fn to_json(&self) -> Value {
        let (response, error) = match &self.outcome {
            Ok(response) => (response.to_json(LOGGED_BODY_BYTES), Value::Null),
            Err(error) => (Value::Null, json!(error.to_string())),
        };
        json!({
            "request": self.request.to_json(LOGGED_BODY_BYTES),
            "response": response,
            "error": error,
            "duration_ms": self.duration_ms,
        })
    }
}
