//! Prometheus Alertmanager's webhook (`version` "4") and Grafana's webhook contact point
//! (`version` "1", the same document with more fields): one alert per entry of `alerts[]`.
//! The fingerprint is the dedup key, so a resolved alert resolves the incident its firing twin
//! opened, and a firing alert sent again every `repeat_interval` is an occurrence.

use serde_json::{Map, Value};

use super::{Item, attributes, derived_key, field, first_of, severity};
use crate::incidents::{AlertAction, AlertInput};
use crate::sources::request::SourceRequest;
use crate::templates::value_text;

/// Grafana's per-alert links and values, kept as attributes.
const GRAFANA_FIELDS: [&str; 6] = [
    "dashboardURL",
    "panelURL",
    "silenceURL",
    "valueString",
    "imageURL",
    "ruleUID",
];

pub fn map(request: &SourceRequest, source: &str) -> Result<Vec<Item>, String> {
    let document = request
        .json()
        .ok_or("the body is not JSON: Alertmanager and Grafana send a JSON document")?;
    let alerts = document
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or("the document has no `alerts` list")?;
    let group_title = document.get("title").map(value_text).unwrap_or_default();
    Ok(alerts
        .iter()
        .filter_map(Value::as_object)
        .map(|alert| Item::Alert(alert_of(alert, &group_title, source)))
        .collect())
}

fn object<'a>(alert: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    alert.get(key).and_then(Value::as_object)
}

fn alert_of(alert: &Map<String, Value>, group_title: &str, source: &str) -> AlertInput {
    let empty = Map::new();
    let labels = object(alert, "labels").unwrap_or(&empty);
    let annotations = object(alert, "annotations").unwrap_or(&empty);
    let dedup_key = first_of(alert, &["fingerprint"]).unwrap_or_else(|| {
        // Alertmanager's fingerprint is a hash of the labels: without one, hash them too.
        let labels = serde_json::to_string(labels).unwrap_or_default();
        derived_key(source, &[&labels])
    });
    let action = if field(alert, "status").eq_ignore_ascii_case("resolved") {
        AlertAction::Resolve
    } else {
        AlertAction::Trigger
    };
    let title = first_of(annotations, &["summary", "title"])
        .or_else(|| first_of(labels, &["alertname"]))
        .or_else(|| (!group_title.is_empty()).then(|| group_title.to_owned()))
        .unwrap_or_else(|| "Alert".into());
    let message = first_of(annotations, &["description", "message"]).unwrap_or_default();
    let pairs = labels
        .iter()
        .chain(
            annotations
                .iter()
                .filter(|(key, _)| !matches!(key.as_str(), "summary" | "description")),
        )
        .map(|(key, value)| (key.clone(), value_text(value)))
        .chain(
            ["generatorURL", "startsAt"]
                .iter()
                .chain(GRAFANA_FIELDS.iter())
                .map(|key| ((*key).to_owned(), field(alert, key))),
        );
    AlertInput {
        dedup_key,
        action,
        title: Some(title),
        severity: Some(severity(&field(labels, "severity"))),
        source: Some(source.to_owned()),
        message: Some(message),
        attributes: Some(attributes(pairs)),
    }
}
