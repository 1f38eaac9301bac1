//! The data a template sees (SPEC §5): the event and what it concerns, the webhook and the
//! delivery, allow-listed environment variables, global variables, and the prepared display.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::display::display;
use crate::model::Event;

/// Values shared by every render: read once (`env`) or refreshed in the background (`vars`).
#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub env: Arc<Value>,
    pub vars: Arc<Value>,
}

impl Globals {
    /// The allowed environment variables that are set, read now.
    pub fn env_from<'a>(allowed: impl IntoIterator<Item = &'a str>) -> Arc<Value> {
        let env: Map<String, Value> = allowed
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), Value::String(std::env::var(name).ok()?))))
            .collect();
        Arc::new(Value::Object(env))
    }
}

/// The webhook and delivery a render is for.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub webhook_id: &'a str,
    pub webhook_name: &'a str,
    pub delivery_id: &'a str,
    pub attempt: u32,
}

pub fn context(event: &Event, scope: &Scope<'_>, globals: &Globals) -> Value {
    let mut root = Map::with_capacity(10);
    let concerns = match event.event_type.split_once('.') {
        Some(("incident", _)) => Some("incident"),
        Some(("object", _)) => Some("object"),
        _ => None,
    };
    if let Some(name) = concerns {
        root.insert(name.to_owned(), event.data.clone());
    }
    if let Some(previous) = &event.previous {
        root.insert("previous".into(), previous.clone());
    }
    if let Some(changes) = &event.changes {
        root.insert("changes".into(), changes.clone());
    }
    root.insert(
        "webhook".into(),
        json!({"id": scope.webhook_id, "name": scope.webhook_name}),
    );
    root.insert(
        "delivery".into(),
        json!({"id": scope.delivery_id, "attempt": scope.attempt}),
    );
    root.insert("env".into(), Value::clone(&globals.env));
    root.insert("vars".into(), Value::clone(&globals.vars));
    root.insert(
        "display".into(),
        serde_json::to_value(display(event)).unwrap_or_default(),
    );
    root.insert(
        "event".into(),
        serde_json::to_value(event).unwrap_or_default(),
    );
    Value::Object(root)
}
