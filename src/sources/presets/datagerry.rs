//! DATAGERRY's object webhooks: `operation` `CREATE`/`UPDATE`/`DELETE` become
//! `object.created`/`updated`/`deleted`, `object_after`/`object_before` the event's `data` and
//! `previous`, subject `<type_id>/<public_id>`. MongoDB's `{"$date": ms}` becomes RFC 3339, and
//! `fields: [{name, value}]` a map, so an update's changes name the fields that changed.

use serde_json::{Map, Value};

use super::Item;
use crate::events::NewEvent;
use crate::sources::request::SourceRequest;
use crate::templates::value_text;
use crate::timestamp::to_rfc3339;

pub fn map(request: &SourceRequest) -> Result<Vec<Item>, String> {
    let document = request
        .json()
        .ok_or("the body is not JSON: DATAGERRY sends a JSON document")?;
    let operation = document
        .get("operation")
        .map(value_text)
        .unwrap_or_default();
    let event_type = match operation.to_ascii_uppercase().as_str() {
        "CREATE" => "object.created",
        "UPDATE" => "object.updated",
        "DELETE" => "object.deleted",
        _ => return Err(format!("unknown operation `{operation}`")),
    };
    let after = document
        .get("object_after")
        .filter(|value| value.is_object());
    let before = document
        .get("object_before")
        .filter(|value| value.is_object());
    let (data, previous) = match event_type {
        "object.deleted" => (before, None),
        _ => (after, before),
    };
    let data = data.ok_or_else(|| format!("a {operation} without the object"))?;
    let subject = format!(
        "{}/{}",
        data.get("type_id").map(value_text).unwrap_or_default(),
        data.get("public_id").map(value_text).unwrap_or_default()
    );
    Ok(vec![Item::Event(NewEvent {
        event_type: event_type.into(),
        subject: Some(subject),
        data: normalized(data),
        previous: previous.map(normalized),
        changes: None,
    })])
}

/// Dates as RFC 3339 and `fields` as a map, all the way down.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            if let Some(millis) = object
                .get("$date")
                .and_then(Value::as_i64)
                .filter(|_| object.len() == 1)
            {
                return Value::String(to_rfc3339(millis));
            }
            Value::Object(
                object
                    .iter()
                    .map(|(key, item)| {
                        let item = match (key.as_str(), item) {
                            ("fields", Value::Array(fields)) => fields_map(fields),
                            _ => normalized(item),
                        };
                        (key.clone(), item)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// `[{"name": "hostname", "value": "web-1"}]` as `{"hostname": "web-1"}`; entries without a
/// name are left out.
fn fields_map(fields: &[Value]) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .filter_map(|field| {
            let name = field.get("name")?.as_str()?;
            let value = field.get("value").map(normalized).unwrap_or(Value::Null);
            Some((name.to_owned(), value))
        })
        .collect();
    Value::Object(map)
}
