//! All Quiet's outbound incident webhooks: a template of the user's that forwards the incident
//! (`id`, `title`, `status` Open/Resolved, `severity` Critical/Warning/Minor, `attributes`).
//! All Quiet HTML-escapes the values it puts into a template, so they are unescaped here.

use serde_json::{Map, Value};

use super::{Item, attributes, field, first_of, severity};
use crate::incidents::{AlertAction, AlertInput};
use crate::sources::request::SourceRequest;

pub fn map(request: &SourceRequest, source: &str) -> Result<Vec<Item>, String> {
    let document = request
        .json()
        .ok_or("the body is not JSON: the All Quiet webhook template should produce JSON")?;
    let incident = document
        .as_object()
        .ok_or("the body is not a JSON object")?;
    // A template may forward the incident's latest event rather than the incident.
    let latest = incident
        .get("events")
        .and_then(Value::as_array)
        .and_then(|events| events.first())
        .and_then(Value::as_object);
    let pick = |key: &str| {
        first_of(incident, &[key]).or_else(|| latest.and_then(|event| first_of(event, &[key])))
    };
    let id = pick("id").ok_or("the incident has no `id`")?;
    let action = match pick("status")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "resolved" => AlertAction::Resolve,
        "acknowledged" | "investigated" => AlertAction::Acknowledge,
        _ => AlertAction::Trigger,
    };
    let title = unescape(&pick("title").unwrap_or_else(|| "All Quiet incident".into()));
    let listed = incident
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|attribute| {
            (
                unescape(&field(attribute, "name")),
                unescape(&field(attribute, "value")),
            )
        });
    Ok(vec![Item::Alert(AlertInput {
        dedup_key: format!("allquiet/{id}"),
        action,
        title: Some(title),
        severity: Some(severity(&pick("severity").unwrap_or_default())),
        source: Some(source.to_owned()),
        message: Some(unescape(&message(incident))),
        attributes: Some(attributes(listed)),
    })])
}

fn message(incident: &Map<String, Value>) -> String {
    first_of(incident, &["message", "description"]).unwrap_or_default()
}

/// HTML's character references as the characters they stand for.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match rest
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| Some((reference(&rest[1..end])?, end)))
        {
            Some((character, end)) => {
                out.push(character);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn reference(name: &str) -> Option<char> {
    match name {
        "quot" => Some('"'),
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn html_references_are_unescaped_and_stray_ampersands_kept() {
        assert_eq!(
            unescape("CPU &gt; 95 &amp; &quot;web-1&quot; &#39;x&#x27;"),
            "CPU > 95 & \"web-1\" 'x'"
        );
        assert_eq!(unescape("R&D & ops"), "R&D & ops");
    }
}
