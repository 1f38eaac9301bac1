//! The trigger form's service slots: each a whole service (endpoint, format, template). Every
//! slot posts the same field names (`service_url`, `service_auth_type`, …), so the slots are
//! read by position; a refusal about a service is shown beside its field in its slot.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::form::{name_of, optional};
use crate::chat::trigger::{ServiceSpec, TriggerSpec};
use crate::ui::endpoint_form::{self, EndpointFields};
use crate::ui::error::UiError;
use crate::ui::webhooks::form::FieldError;
use crate::validation::Invalid;

/// One service slot; `index` is its place in the form, which is its place in the stored
/// trigger when the form was filled from one.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ServiceForm {
    pub index: usize,
    /// As the page counts: from 1.
    pub number: usize,
    /// The prefix of the slot's element ids.
    pub ids: String,
    pub name: String,
    pub url: String,
    pub method: String,
    pub format: String,
    pub body_template: String,
    /// `on` when a missing template variable fails the render.
    pub template_strict: String,
    pub endpoint: EndpointFields,
    /// A refusal about this service (`field` empty when none).
    pub error: FieldError,
}

impl ServiceForm {
    pub fn blank(index: usize) -> Self {
        Self {
            index,
            number: index + 1,
            ids: format!("sv-{index}"),
            method: "POST".into(),
            format: "mattermost-form".into(),
            endpoint: EndpointFields::blank(),
            ..Self::default()
        }
    }

    /// The slot for a stored service, its secrets masked.
    pub fn of(index: usize, service: &ServiceSpec) -> Self {
        Self {
            name: service.name.clone().unwrap_or_default(),
            url: service.endpoint.url.clone(),
            method: name_of(&service.endpoint.method),
            format: name_of(&service.format),
            body_template: service.body_template.clone().unwrap_or_default(),
            template_strict: if service.template_strict { "on" } else { "" }.into(),
            endpoint: EndpointFields::of(&service.endpoint),
            ..Self::blank(index)
        }
    }

    /// The field a posted name (without `service_`) sets.
    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "name" => &mut self.name,
            "url" => &mut self.url,
            "method" => &mut self.method,
            "format" => &mut self.format,
            "template" => &mut self.body_template,
            "strict" => &mut self.template_strict,
            name => return self.endpoint.field_mut(name),
        })
    }

    fn is_filled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The service as the API's JSON; a refusal names its field under the service.
    fn to_json(&self) -> Result<Value, Invalid> {
        let mut endpoint = Map::new();
        endpoint.insert("url".into(), json!(self.url.trim()));
        endpoint.insert("method".into(), json!(self.method));
        self.endpoint.add_to(&mut endpoint)?;
        Ok(json!({
            "name": optional(&self.name),
            "endpoint": endpoint,
            "format": self.format,
            "body_template": optional(&self.body_template),
            "template_strict": self.template_strict == "on",
        }))
    }
}

/// Posted slot fields in the order they came: the n-th value of a name belongs to slot n.
#[derive(Debug, Default)]
pub struct Slots {
    services: Vec<ServiceForm>,
    counts: HashMap<String, usize>,
}

impl Slots {
    pub fn set(&mut self, name: &str, value: String) {
        let count = self.counts.entry(name.to_owned()).or_default();
        if *count == self.services.len() {
            self.services.push(ServiceForm::blank(*count));
        }
        if let Some(slot) = self.services.get_mut(*count)
            && let Some(field) = slot.field_mut(name)
        {
            *field = value;
        }
        *count += 1;
    }

    /// The slots, when every field came once per slot.
    pub fn finish(self) -> Result<Vec<ServiceForm>, UiError> {
        if self
            .counts
            .values()
            .any(|&count| count != self.services.len())
        {
            return Err(UiError::bad_request("the service fields do not line up"));
        }
        Ok(self.services)
    }
}

/// The filled slots as the API's `services`, refusals named as the API names them
/// (`services[1].endpoint.headers`: the place among the filled slots).
pub fn to_json(slots: &[ServiceForm]) -> Result<Vec<Value>, Invalid> {
    filled(slots)
        .enumerate()
        .map(|(place, slot)| {
            slot.to_json()
                .map_err(|error| error.under(&format!("services[{place}]")))
        })
        .collect()
}

fn filled(slots: &[ServiceForm]) -> impl Iterator<Item = &ServiceForm> {
    slots.iter().filter(|slot| slot.is_filled())
}

/// Puts back the stored secrets a slot sent back masked. By slot, not by place in the list:
/// `Triggers::replace` matches services by place, which shifts when an earlier slot is
/// emptied, and a bearer token left as its mask would then be saved as the mask.
pub fn keep_masked_secrets(spec: &mut TriggerSpec, slots: &[ServiceForm], stored: &TriggerSpec) {
    for (service, slot) in spec.services.iter_mut().zip(filled(slots)) {
        if let Some(old) = stored.services.get(slot.index) {
            service.endpoint.keep_masked_secrets(&old.endpoint);
        }
    }
}

/// Shows a refusal about a service beside its field in its slot; `false` when it is about
/// no slot field.
pub fn place_error(slots: &mut [ServiceForm], invalid: &Invalid) -> bool {
    let Some((place, path)) = slot_path(&invalid.field) else {
        return false;
    };
    let field = match path.split_once('.') {
        Some(("endpoint", "url")) => Some("url"),
        Some(("endpoint", rest)) => endpoint_form::form_field(rest),
        _ => match path {
            "name" => Some("name"),
            "format" => Some("format"),
            "body_template" => Some("body_template"),
            _ => None,
        },
    };
    let slot = slots.iter_mut().filter(|slot| slot.is_filled()).nth(place);
    match (field, slot) {
        (Some(field), Some(slot)) => {
            slot.error = FieldError {
                field,
                message: invalid.to_string(),
            };
            true
        }
        _ => false,
    }
}

/// `services[2].endpoint.url` as `(2, "endpoint.url")`.
fn slot_path(path: &str) -> Option<(usize, &str)> {
    let (place, rest) = path.strip_prefix("services[")?.split_once(']')?;
    Some((place.parse().ok()?, rest.strip_prefix('.')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(pairs: &[(&str, &str)]) -> Result<Vec<ServiceForm>, UiError> {
        let mut slots = Slots::default();
        for (name, value) in pairs {
            slots.set(name, (*value).to_owned());
        }
        slots.finish()
    }

    #[test]
    fn slots_line_up_by_position_and_refusals_find_their_slot() {
        let pairs = [
            ("url", ""),
            ("url", "https://ci.example.com/chat"),
            ("timeout_ms", ""),
            ("timeout_ms", "soon"),
        ];
        let mut parsed = slots(&pairs).unwrap();
        let refused = to_json(&parsed).unwrap_err();
        assert_eq!(refused.field, "services[0].endpoint.timeout_ms");
        assert!(place_error(&mut parsed, &refused));
        assert_eq!(parsed[1].error.field, "timeout_ms");
        assert!(slots(&[("url", "x"), ("url", "y"), ("name", "")]).is_err());
        assert_eq!(slot_path("services[3].name"), Some((3, "name")));
        assert_eq!(slot_path("services"), None);
    }

    #[test]
    fn a_masked_secret_keeps_the_secret_of_its_slot_when_an_earlier_slot_is_emptied() {
        let service = |url: &str, token: &str| json!({"endpoint": {"url": url, "auth": {"type": "bearer", "token": token}}});
        let spec = |services: Vec<Value>| -> TriggerSpec {
            serde_json::from_value(
                json!({"name": "build", "tokens": ["zmigewsanbbsdf59xnmduzypjc"],
                "trigger_words": ["#build"], "services": services}),
            )
            .unwrap()
        };
        let stored = spec(vec![
            service("https://a.example.com", "first-token-0123456789"),
            service("https://b.example.com", "second-token-abcdefghij"),
        ]);
        let mut slots: Vec<ServiceForm> = (stored.services.iter().enumerate())
            .map(|(index, service)| ServiceForm::of(index, service))
            .collect();
        slots[0].url.clear();
        let mut sent = spec(to_json(&slots).unwrap());
        keep_masked_secrets(&mut sent, &slots, &stored);
        assert_eq!(
            sent.services[0].endpoint.auth,
            stored.services[1].endpoint.auth
        );
    }
}
