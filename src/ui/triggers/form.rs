//! The trigger form's fields: parsed into the API's [`TriggerSpec`] (built as the JSON an API
//! client would send, so the form accepts exactly what the API does), and filled from a stored
//! trigger with its tokens and secrets masked. Services repeat: each slot sends the same named
//! fields, so the body is read as a list of pairs (actix's `Form` keeps one value per name).
//! The slots themselves are in [`super::services`].

use serde::Serialize;
use serde_json::{Value, json};

use super::services::{self, ServiceForm, Slots};
use crate::chat::routing::triggers::Trigger;
use crate::chat::trigger::TriggerSpec;
use crate::ui::error::UiError;
use crate::ui::webhooks::form::FieldError;
use crate::validation::Invalid;

/// Every field as the browser sends it; a checkbox is `true` when it was sent.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TriggerForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub kind: String,
    /// One per line; stored ones shown masked (`…ypjc`).
    pub tokens: String,
    pub slack_signing_secret: String,
    pub teams: String,
    pub channels: String,
    pub trigger_words: String,
    pub trigger_when: String,
    pub case_sensitive: bool,
    pub services: Vec<ServiceForm>,
    pub reply_mode: String,
    pub reply_template: String,
    pub response_type: String,
    pub username: String,
    pub icon_url: String,
    pub post_url: String,
    pub post_format: String,
    pub ack_text: String,
    pub on_error: String,
    pub incident_updates: bool,
}

/// Values separated by lines, commas or spaces (words and tokens hold no whitespace).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect()
}

pub(super) fn optional(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        json!(text.trim())
    }
}

/// The form field an API field path (`tokens[1]`, `reply.post_url`) belongs to.
fn form_field(path: &str) -> &'static str {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    match (head.split('[').next().unwrap_or_default(), rest) {
        ("name", _) => "name",
        ("description", _) => "description",
        ("tokens", _) => "tokens",
        ("slack_signing_secret", _) => "slack_signing_secret",
        ("teams", _) => "teams",
        ("channels", _) => "channels",
        ("trigger_words", _) => "trigger_words",
        ("services", _) => "services",
        ("reply", "template") => "reply_template",
        ("reply", "response_type") => "response_type",
        ("reply", "username") => "username",
        ("reply", "icon_url") => "icon_url",
        ("reply", "post_url") => "post_url",
        ("reply", "ack_text") => "ack_text",
        _ => "form",
    }
}

fn field_error(invalid: &Invalid) -> FieldError {
    FieldError {
        field: form_field(&invalid.field),
        message: invalid.to_string(),
    }
}

impl TriggerForm {
    /// A blank form with the API's defaults and two service slots.
    pub fn blank() -> Self {
        Self {
            enabled: true,
            kind: "outgoing".into(),
            trigger_when: "exact".into(),
            case_sensitive: true,
            services: vec![ServiceForm::blank(0), ServiceForm::blank(1)],
            reply_mode: "sync".into(),
            post_format: "mattermost".into(),
            on_error: "post".into(),
            ..Self::default()
        }
    }

    /// Reads a posted form body; the service slots line up by position.
    pub fn parse(body: &[u8]) -> Result<Self, UiError> {
        let mut form = Self::default();
        let mut slots = Slots::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.strip_prefix("service_") {
                Some(name) => slots.set(name, value),
                None => form.set(&key, value),
            }
        }
        form.services = slots.finish()?;
        Ok(form)
    }

    /// Shows a refusal beside its field: in its service slot when it is about one.
    pub fn refusal(&mut self, invalid: &Invalid) -> Option<FieldError> {
        if services::place_error(&mut self.services, invalid) {
            None
        } else {
            Some(field_error(invalid))
        }
    }

    fn set(&mut self, key: &str, value: String) {
        let flag = match key {
            "enabled" => Some(&mut self.enabled),
            "case_sensitive" => Some(&mut self.case_sensitive),
            "incident_updates" => Some(&mut self.incident_updates),
            _ => None,
        };
        if let Some(flag) = flag {
            *flag = true;
        } else if let Some(text) = self.text_field(key) {
            *text = value;
        }
    }

    fn text_field(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "csrf" => &mut self.csrf,
            "name" => &mut self.name,
            "description" => &mut self.description,
            "kind" => &mut self.kind,
            "tokens" => &mut self.tokens,
            "slack_signing_secret" => &mut self.slack_signing_secret,
            "teams" => &mut self.teams,
            "channels" => &mut self.channels,
            "trigger_words" => &mut self.trigger_words,
            "trigger_when" => &mut self.trigger_when,
            "reply_mode" => &mut self.reply_mode,
            "reply_template" => &mut self.reply_template,
            "response_type" => &mut self.response_type,
            "username" => &mut self.username,
            "icon_url" => &mut self.icon_url,
            "post_url" => &mut self.post_url,
            "post_format" => &mut self.post_format,
            "ack_text" => &mut self.ack_text,
            "on_error" => &mut self.on_error,
            _ => return None,
        })
    }

    /// The specification the form describes; with the `stored` one, a service secret sent
    /// back masked keeps the stored service's secret of the same slot.
    pub fn to_spec(&self, stored: Option<&TriggerSpec>) -> Result<TriggerSpec, Invalid> {
        let services = services::to_json(&self.services)?;
        let spec = json!({
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "kind": self.kind,
            "tokens": words(&self.tokens),
            "slack_signing_secret": optional(&self.slack_signing_secret),
            "teams": words(&self.teams),
            "channels": words(&self.channels),
            "trigger_words": words(&self.trigger_words),
            "trigger_when": self.trigger_when,
            "case_sensitive": self.case_sensitive,
            "services": services,
            "reply": {
                "mode": self.reply_mode,
                "template": optional(&self.reply_template),
                "response_type": optional(&self.response_type),
                "username": optional(&self.username),
                "icon_url": optional(&self.icon_url),
                "post_url": optional(&self.post_url),
                "post_format": self.post_format,
                "ack_text": optional(&self.ack_text),
                "on_error": self.on_error,
            },
            "incident_updates": self.incident_updates,
        });
        let mut spec = serde_json::from_value(spec)
            .map_err(|error| Invalid::new("form", error.to_string()))?;
        if let Some(stored) = stored {
            services::keep_masked_secrets(&mut spec, &self.services, stored);
        }
        Ok(spec)
    }

    /// The form for a stored trigger, its secrets masked, with one blank service slot more.
    pub fn of(trigger: &Trigger) -> Self {
        let spec = trigger.spec.masked();
        let reply = &spec.reply;
        let mut services: Vec<ServiceForm> = (trigger.spec.services.iter().enumerate())
            .map(|(index, service)| ServiceForm::of(index, service))
            .collect();
        services.push(ServiceForm::blank(services.len()));
        Self {
            csrf: String::new(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            enabled: spec.enabled,
            kind: spec.kind.as_str().to_owned(),
            tokens: spec.tokens.join("\n"),
            slack_signing_secret: spec.slack_signing_secret.clone().unwrap_or_default(),
            teams: spec.teams.join("\n"),
            channels: spec.channels.join("\n"),
            trigger_words: spec.trigger_words.join("\n"),
            trigger_when: name_of(&spec.trigger_when),
            case_sensitive: spec.case_sensitive,
            services,
            reply_mode: name_of(&reply.mode),
            reply_template: reply.template.clone().unwrap_or_default(),
            response_type: reply.response_type.clone().unwrap_or_default(),
            username: reply.username.clone().unwrap_or_default(),
            icon_url: reply.icon_url.clone().unwrap_or_default(),
            post_url: reply.post_url.clone().unwrap_or_default(),
            post_format: name_of(&reply.post_format),
            ack_text: reply.ack_text.clone().unwrap_or_default(),
            on_error: name_of(&reply.on_error),
            incident_updates: spec.incident_updates,
        }
    }
}

/// A unit enum's wire name (`mattermost-form`, `in_channel`).
pub fn name_of(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(fields: &[(&str, &str)]) -> TriggerForm {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        TriggerForm::parse(body.as_bytes()).unwrap()
    }

    const SLOT: [(&str, &str); 5] = [
        ("service_name", ""),
        ("service_url", "https://ci.example.com/chat"),
        ("service_method", "POST"),
        ("service_format", "json"),
        ("service_template", ""),
    ];

    #[test]
    fn a_posted_form_is_a_valid_spec_and_blank_slots_are_left_out() {
        let mut fields = vec![
            ("name", "build"),
            ("kind", "outgoing"),
            ("tokens", "zmigewsanbbsdf59xnmduzypjc"),
            ("trigger_words", "#build, #deploy"),
            ("trigger_when", "exact"),
            ("reply_mode", "sync"),
            ("post_format", "mattermost"),
            ("on_error", "post"),
            ("enabled", "on"),
        ];
        fields.extend(SLOT);
        fields.extend(SLOT.map(|(key, _)| (key, "")));
        let form = posted(&fields);
        assert_eq!(form.services.len(), 2);
        let mut spec = form.to_spec(None).unwrap();
        assert!(spec.validate().is_ok());
        assert_eq!(spec.trigger_words, vec!["#build", "#deploy"]);
        assert_eq!(spec.services.len(), 1);
        assert!(spec.enabled && !spec.case_sensitive);
    }

    #[test]
    fn refusals_name_their_form_field() {
        assert_eq!(form_field("tokens[1]"), "tokens");
        assert_eq!(form_field("services[0].endpoint.url"), "services");
        assert_eq!(form_field("reply.post_url"), "post_url");
        assert_eq!(form_field("reply.mode"), "form");
        let unaligned = b"service_url=x&service_url=y&service_name=";
        assert!(TriggerForm::parse(unaligned).is_err());
    }
}
