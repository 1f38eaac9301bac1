//! `custom` sources: each alert or event field is a template (§5) over the request — `body`
//! (the text), `json` (the body parsed, or null), `form`, `query` and `headers` (credentials
//! masked) — in the manner of All Quiet's inbound mapping.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::presets::{Item, attributes, severity};
use super::request::SourceRequest;
use crate::events::NewEvent;
use crate::incidents::{AlertAction, AlertInput};
use crate::templates::{CompiledTemplate, OutputKind};
use crate::validation::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MappingTarget {
    Alert,
    Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub target: MappingTarget,
    /// Alerts: the dedup key (required).
    #[serde(default)]
    pub dedup_key: Option<String>,
    /// Alerts: `trigger` (default), `acknowledge` or `resolve`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Alerts: attribute names to templates of their values.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Events: the type (required): `object.created`, `object.updated`, `object.deleted` or
    /// `x.<name>`.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Events: a template producing the event's `data` as JSON (default: the body's JSON).
    #[serde(default)]
    pub data: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledMapping {
    target: MappingTarget,
    /// Field name, template.
    fields: Vec<(&'static str, CompiledTemplate)>,
    attributes: Vec<(String, CompiledTemplate)>,
}

fn text_template(field: &str, source: &str) -> Result<CompiledTemplate, Invalid> {
    CompiledTemplate::compile(source, OutputKind::Text, false)
        .map_err(|error| Invalid::new(field, error.to_string()))
}

impl Mapping {
    pub fn compile(&self) -> Result<CompiledMapping, Invalid> {
        let required: &[&'static str] = match self.target {
            MappingTarget::Alert => &["dedup_key"],
            MappingTarget::Event => &["type"],
        };
        let given = [
            ("dedup_key", &self.dedup_key),
            ("action", &self.action),
            ("title", &self.title),
            ("severity", &self.severity),
            ("message", &self.message),
            ("type", &self.event_type),
            ("subject", &self.subject),
        ];
        let mut fields = Vec::new();
        for (name, template) in given {
            match template {
                Some(source) => fields.push((name, text_template(name, source)?)),
                None if required.contains(&name) => {
                    return Err(Invalid::new(name, "is needed for this target"));
                }
                None => {}
            }
        }
        if let Some(source) = &self.data {
            let data = CompiledTemplate::compile(source, OutputKind::Json, false)
                .map_err(|error| Invalid::new("data", error.to_string()))?;
            fields.push(("data", data));
        }
        let attributes = self
            .attributes
            .iter()
            .map(|(name, value)| {
                let field = format!("attributes.{name}");
                let source = value
                    .as_str()
                    .ok_or_else(|| Invalid::new(&field, "must be a template (a string)"))?;
                Ok((name.clone(), text_template(&field, source)?))
            })
            .collect::<Result<_, Invalid>>()?;
        Ok(CompiledMapping {
            target: self.target,
            fields,
            attributes,
        })
    }
}

impl CompiledMapping {
    pub fn makes_events(&self) -> bool {
        self.target == MappingTarget::Event
    }

    pub fn apply(&self, request: &SourceRequest, source: &str) -> Result<Vec<Item>, String> {
        let context = json!({
            "body": request.text(),
            "json": request.json().unwrap_or(Value::Null),
            "form": request.form_fields(),
            "query": request.query_fields(),
            "headers": request.masked_headers(),
        });
        let render = |name: &str| -> Result<Option<String>, String> {
            self.fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, template)| template.render(context.clone()))
                .transpose()
                .map_err(|error| format!("{name}: {error}"))
        };
        match self.target {
            MappingTarget::Alert => self.alert(&context, source, render),
            MappingTarget::Event => {
                let data = match render("data")? {
                    Some(data) => {
                        serde_json::from_str(&data).map_err(|error| format!("data: {error}"))?
                    }
                    None => context["json"].clone(),
                };
                Ok(vec![Item::Event(NewEvent {
                    event_type: render("type")?.unwrap_or_default().trim().to_owned(),
                    subject: render("subject")?.filter(|subject| !subject.is_empty()),
                    data,
                    previous: None,
                    changes: None,
                })])
            }
        }
    }

    fn alert(
        &self,
        context: &Value,
        source: &str,
        render: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<Vec<Item>, String> {
        let word = render("action")?.unwrap_or_default();
        let action = match AlertAction::from_word(&word) {
            Some(action) => action,
            None if word.trim().is_empty() => AlertAction::Trigger,
            None => {
                let word = word.trim();
                return Err(format!(
                    "action: `{word}` is not trigger, acknowledge or resolve"
                ));
            }
        };
        let attributes_rendered = self
            .attributes
            .iter()
            .map(|(name, template)| {
                template
                    .render(context.clone())
                    .map(|value| (name.clone(), value))
                    .map_err(|error| format!("attributes.{name}: {error}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(vec![Item::Alert(AlertInput {
            dedup_key: render("dedup_key")?.unwrap_or_default(),
            action,
            title: Some(
                render("title")?
                    .filter(|title| !title.trim().is_empty())
                    .unwrap_or_else(|| format!("Alert from {source}")),
            ),
            severity: Some(severity(&render("severity")?.unwrap_or_default())),
            source: Some(source.to_owned()),
            message: render("message")?,
            attributes: Some(attributes(attributes_rendered)),
        })])
    }
}
