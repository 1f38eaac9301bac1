//! VergeOS's task webhooks: a free-text message the user writes. A message with `action`,
//! `dedup_key`, `title` or `severity` is an alert; anything else an `x.vergeos` event carrying
//! the message (as JSON when it is JSON, else as text).

use serde_json::{Value, json};

use super::{Item, attributes, derived_key, field, first_of, lenient, severity};
use crate::events::NewEvent;
use crate::incidents::{AlertAction, AlertInput};
use crate::sources::request::SourceRequest;
use crate::templates::value_text;

const ALERT_FIELDS: [&str; 4] = ["action", "dedup_key", "title", "severity"];

pub fn map(request: &SourceRequest, source: &str) -> Result<Vec<Item>, String> {
    let text = request.text();
    let parsed = lenient::parse(&text);
    if let Some(Value::Object(fields)) = &parsed
        && ALERT_FIELDS.iter().any(|key| fields.contains_key(*key))
    {
        let action =
            AlertAction::from_word(&field(fields, "action")).unwrap_or(AlertAction::Trigger);
        let title = first_of(fields, &["title"]).unwrap_or_else(|| "VergeOS task".into());
        let others = fields
            .iter()
            .filter(|(key, _)| !ALERT_FIELDS.contains(&key.as_str()) && key.as_str() != "message")
            .map(|(key, value)| (key.clone(), value_text(value)));
        return Ok(vec![Item::Alert(AlertInput {
            dedup_key: first_of(fields, &["dedup_key"])
                .unwrap_or_else(|| derived_key(source, &[&title])),
            action,
            title: Some(title),
            severity: Some(severity(&field(fields, "severity"))),
            source: Some(source.to_owned()),
            message: Some(field(fields, "message")),
            attributes: Some(attributes(others)),
        })]);
    }
    let data = parsed.unwrap_or_else(|| json!({"message": text}));
    Ok(vec![Item::Event(NewEvent {
        event_type: "x.vergeos".into(),
        subject: Some(source.to_owned()),
        data,
        previous: None,
        changes: None,
    })])
}
