//! The event record (SPEC §4.1): what happened, stored before the call that caused it returns,
//! and delivered to webhooks as it is.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    /// What the event is about: an incident id, an object's id.
    pub subject: Option<String>,
    pub data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Value>,
}

/// An event with the exact JSON text it is stored as, so that sending it as it is (the
/// `generic` format) needs no second serialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub event: Event,
    pub json: String,
}

impl EncodedEvent {
    pub fn encode(event: Event) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(&event)?;
        Ok(Self { event, json })
    }

    pub fn decode(json: String) -> Result<Self, serde_json::Error> {
        let event = serde_json::from_str(&json)?;
        Ok(Self { event, json })
    }
}
