//! From a sender's own documents to alerts (SPEC §4.3) and events (§4.1): one module a
//! sender, each reading the fields its sender really sends and tolerating the rest.

mod alertmanager;
mod allquiet;
mod datagerry;
pub mod lenient;
mod tactical;
mod vergeos;

use serde_json::{Map, Value};

use super::custom::CompiledMapping;
use super::request::SourceRequest;
use super::spec::SourceKind;
use crate::events::NewEvent;
use crate::incidents::{AlertInput, Attribute, AttributesInput};
use crate::templates::value_text;

/// What one request becomes: alerts and events, in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Alert(AlertInput),
    Event(NewEvent),
}

/// Maps `request` as a source of `kind` (named `source`) takes it; `Err` says why it could not
/// be mapped, and the request is then kept whole instead (see `fallback`).
pub fn map(
    kind: SourceKind,
    mapping: Option<&CompiledMapping>,
    request: &SourceRequest,
    source: &str,
) -> Result<Vec<Item>, String> {
    match kind {
        SourceKind::Alertmanager | SourceKind::Grafana => alertmanager::map(request, source),
        SourceKind::TacticalRmm => tactical::map(request, source),
        SourceKind::Datagerry => datagerry::map(request),
        SourceKind::Vergeos => vergeos::map(request, source),
        SourceKind::Allquiet => allquiet::map(request, source),
        SourceKind::Custom => match mapping {
            Some(mapping) => mapping.apply(request, source),
            None => Err("the source has no mapping".into()),
        },
    }
}

/// What a request that could not be mapped becomes, so that nothing a sender believed
/// delivered is lost: an alert carrying the raw body, or for senders of object events an
/// `x.unmapped` event.
pub fn fallback(
    kind: SourceKind,
    mapping: Option<&CompiledMapping>,
    request: &SourceRequest,
    source: &str,
    reason: &str,
) -> Item {
    let body = request.text().into_owned();
    let events_only =
        kind == SourceKind::Datagerry || mapping.is_some_and(CompiledMapping::makes_events);
    if events_only {
        return Item::Event(NewEvent {
            event_type: "x.unmapped".into(),
            subject: Some(source.to_owned()),
            data: serde_json::json!({"source": source, "reason": reason, "body": body}),
            previous: None,
            changes: None,
        });
    }
    let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())[..8]);
    Item::Alert(AlertInput {
        dedup_key: format!("{source}/unmapped/{digest}"),
        action: crate::incidents::AlertAction::Trigger,
        title: Some(format!("A request to source {source} could not be read")),
        severity: Some("warning".into()),
        source: Some(source.to_owned()),
        message: Some(format!("{reason}\n\n{body}")),
        attributes: Some(attributes([("reason", reason.to_owned())])),
    })
}

/// `info`, `warning`, `minor` and `critical` as they are; the words senders use for them
/// mapped; anything else `warning`.
pub fn severity(text: &str) -> String {
    let known = match text.trim().to_ascii_lowercase().as_str() {
        "critical" | "crit" | "error" | "high" | "page" | "fatal" | "emergency" | "alert" => {
            "critical"
        }
        "minor" | "low" => "minor",
        "info" | "informational" | "information" | "none" | "ok" | "debug" => "info",
        _ => "warning",
    };
    known.to_owned()
}

/// Attributes from name and value pairs, in order, empty values left out.
pub fn attributes<N: Into<String>>(
    pairs: impl IntoIterator<Item = (N, String)>,
) -> AttributesInput {
    AttributesInput::List(
        pairs
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| Attribute {
                name: name.into(),
                value,
                is_image: false,
                hide_in_previews: false,
            })
            .collect(),
    )
}

/// A field of an object as text (`""` when absent).
pub fn field(object: &Map<String, Value>, key: &str) -> String {
    object.get(key).map(value_text).unwrap_or_default()
}

/// The first non-empty of `keys` in `object`.
pub fn first_of(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .map(|key| field(object, key))
        .find(|value| !value.trim().is_empty())
}

/// A key for an alert that names none: the same text always gives the same key.
pub fn derived_key(source: &str, parts: &[&str]) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(parts.join("\u{1f}").as_bytes());
    format!("{source}/{}", hex::encode(&digest[..8]))
}
