//! Tactical RMM's alert actions: the user's own JSON body template with `action`, `dedup_key`,
//! `title`, `severity` (`info`/`warning`/`error`) and `message`, any other field an attribute.
//! Tactical RMM pastes values in without escaping them, so the body is read leniently; a `GET`
//! action sends its fields in the query string, and `?action=` may say what the body does not.

use serde_json::{Map, Value};

use super::{Item, attributes, derived_key, field, first_of, lenient, severity};
use crate::incidents::{AlertAction, AlertInput};
use crate::sources::request::SourceRequest;
use crate::templates::value_text;

const USED: [&str; 6] = [
    "action",
    "dedup_key",
    "title",
    "severity",
    "message",
    "source",
];

pub fn map(request: &SourceRequest, source: &str) -> Result<Vec<Item>, String> {
    let mut fields = request.query_fields();
    let form = request.form_fields();
    let body = request.text();
    if !form.is_empty() {
        fields.extend(form);
    } else if !body.trim().is_empty() {
        match lenient::parse(&body) {
            Some(Value::Object(object)) => fields.extend(object),
            Some(_) => return Err("the body is JSON but not an object of fields".into()),
            None => return Err("the body is not JSON, even read leniently".into()),
        }
    }
    if fields.is_empty() {
        return Err("the request carries no fields".into());
    }
    Ok(vec![Item::Alert(alert_of(&fields, source))])
}

fn alert_of(fields: &Map<String, Value>, source: &str) -> AlertInput {
    let action = AlertAction::from_word(&field(fields, "action")).unwrap_or(AlertAction::Trigger);
    let message = field(fields, "message");
    let title = first_of(fields, &["title", "subject"])
        .or_else(|| {
            message
                .lines()
                .next()
                .map(str::to_owned)
                .filter(|line| !line.is_empty())
        })
        .unwrap_or_else(|| "Tactical RMM alert".into());
    let dedup_key = first_of(fields, &["dedup_key"])
        .unwrap_or_else(|| derived_key(source, &[&field(fields, "hostname"), &title]));
    let others = fields
        .iter()
        .filter(|(key, _)| !USED.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value_text(value)));
    AlertInput {
        dedup_key,
        action,
        title: Some(title),
        severity: Some(severity(&field(fields, "severity"))),
        source: Some(first_of(fields, &["source"]).unwrap_or_else(|| source.to_owned())),
        message: Some(message),
        attributes: Some(attributes(others)),
    }
}
