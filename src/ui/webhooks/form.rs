//! The webhook form's fields: parsed into the API's [`WebhookSpec`] (built as the same JSON an
//! API client would send, so the form accepts exactly what the API does), and filled from a
//! stored webhook with its secrets masked. A refusal names the form field it concerns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ui::endpoint_form::{self, EndpointFields, lines, number};
use crate::validation::Invalid;
use crate::webhooks::{Webhook, WebhookSpec};

/// Every field as the browser sends it; checkboxes are absent when unchecked.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhookForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    /// `preview` shows the rendered request instead of saving.
    #[serde(skip_serializing)]
    pub action: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub method: String,
    #[serde(flatten)]
    pub endpoint: EndpointFields,
    pub format: String,
    pub body_template: String,
    pub request_template: String,
    pub template_strict: Option<String>,
    /// Event types or patterns, separated by commas or lines.
    pub events: String,
    /// The filter as JSON; empty for none.
    pub filter: String,
    pub forwarding: String,
    pub max_attempts: String,
    pub incident_updates: Option<String>,
    pub active: Option<String>,
    /// What the preview renders (not part of the webhook): empty for a sample event,
    /// `event:<id>` for a stored event, `incident:<id>` for an incident as it is now.
    pub preview_with: String,
}

/// A refusal placed beside its field: `field` is the form field's name (`form` when none fits).
#[derive(Debug, Default, Clone, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn of(invalid: &Invalid) -> Self {
        Self {
            field: form_field(&invalid.field),
            message: invalid.to_string(),
        }
    }
}

/// The form field an API field path (`endpoint.auth.token`, `events[1]`) belongs to.
fn form_field(path: &str) -> &'static str {
    let path = path.strip_prefix("endpoint.").unwrap_or(path);
    if let Some(field) = endpoint_form::form_field(path) {
        return field;
    }
    match path.split(['.', '[']).next().unwrap_or_default() {
        "name" => "name",
        "description" => "description",
        "url" => "url",
        "method" => "method",
        "format" => "format",
        "body_template" => "body_template",
        "request_template" => "request_template",
        "events" => "events",
        "filter" => "filter",
        "forwarding" => "forwarding",
        "max_attempts" => "max_attempts",
        _ => "form",
    }
}

fn optional_text(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        json!(text)
    }
}

impl WebhookForm {
    /// A blank form with the API's defaults.
    pub fn blank() -> Self {
        Self {
            method: "POST".into(),
            endpoint: EndpointFields::blank(),
            format: "generic".into(),
            forwarding: "always".into(),
            max_attempts: "8".into(),
            events: "incident.*".into(),
            active: Some("on".into()),
            ..Self::default()
        }
    }

    pub fn to_spec(&self) -> Result<WebhookSpec, Invalid> {
        let mut endpoint = Map::new();
        endpoint.insert("url".into(), json!(self.url.trim()));
        endpoint.insert("method".into(), json!(self.method));
        self.endpoint.add_to(&mut endpoint)?;
        let filter = match self.filter.trim() {
            "" => json!({}),
            text => serde_json::from_str(text)
                .map_err(|error| Invalid::new("filter", format!("is not JSON: {error}")))?,
        };
        let max_attempts = number(&self.max_attempts, "max_attempts")?;
        let spec = json!({
            "name": self.name,
            "description": self.description,
            "active": self.active.is_some(),
            "endpoint": endpoint,
            "format": self.format,
            "body_template": optional_text(&self.body_template),
            "request_template": optional_text(&self.request_template),
            "template_strict": self.template_strict.is_some(),
            "events": lines(&self.events),
            "filter": filter,
            "forwarding": self.forwarding,
            "incident_updates": self.incident_updates.is_some(),
            "max_attempts": if max_attempts.is_null() { json!(8) } else { max_attempts },
        });
        serde_json::from_value(spec).map_err(|error| Invalid::new("form", error.to_string()))
    }

    /// The form for a stored webhook, its secrets masked.
    pub fn of(webhook: &Webhook) -> Self {
        let spec = &webhook.spec;
        Self {
            name: spec.name.clone(),
            description: spec.description.clone(),
            url: spec.endpoint.url.clone(),
            method: name_of(&spec.endpoint.method),
            endpoint: EndpointFields::of(&spec.endpoint),
            format: name_of(&spec.format),
            body_template: spec.body_template.clone().unwrap_or_default(),
            request_template: spec.request_template.clone().unwrap_or_default(),
            template_strict: spec.template_strict.then(|| "on".into()),
            events: spec.events.join("\n"),
            filter: filter_text(spec),
            forwarding: name_of(&spec.forwarding),
            max_attempts: spec.max_attempts.to_string(),
            incident_updates: spec.incident_updates.then(|| "on".into()),
            active: spec.active.then(|| "on".into()),
            ..Self::blank()
        }
    }
}

/// A unit enum's wire name (`teams-adaptive`, `after_forwarding`).
fn name_of(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The filter as pretty JSON, or nothing when it lets everything through.
fn filter_text(spec: &WebhookSpec) -> String {
    if spec.filter == crate::webhooks::Filter::default() {
        return String::new();
    }
    serde_json::to_string_pretty(&spec.filter).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_form_with_a_url_is_a_valid_spec() {
        let form = WebhookForm {
            name: "ops".into(),
            url: "https://hooks.example.com/x".into(),
            endpoint: EndpointFields {
                headers: "X-Team: ops".into(),
                ..EndpointFields::blank()
            },
            ..WebhookForm::blank()
        };
        let spec = form.to_spec().unwrap();
        assert_eq!(spec.events, vec!["incident.*"]);
        assert_eq!(spec.max_attempts, 8);
        assert!(spec.active);
    }

    #[test]
    fn refusals_name_their_form_field() {
        let bad = WebhookForm {
            max_attempts: "many".into(),
            ..WebhookForm::blank()
        };
        let error = bad.to_spec().unwrap_err();
        assert_eq!(FieldError::of(&error).field, "max_attempts");
        assert_eq!(form_field("endpoint.auth.token"), "auth");
        assert_eq!(form_field("events[2]"), "events");
        assert_eq!(form_field("endpoint.url"), "url");
    }
}
