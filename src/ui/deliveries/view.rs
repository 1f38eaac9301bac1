//! What the deliveries pages show: the list's filters (read from and written back into the
//! URL), its rows, and each attempt's request and answer with bodies made readable.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::delivery::log::{Attempt, Delivery};
use crate::store::delivery_log::DeliveryFilter;
use crate::timestamp::to_rfc3339;
use crate::ui::error::UiError;

pub const STATUSES: [&str; 3] = ["pending", "succeeded", "failed"];

/// The list's filters as the GET form sends them; an empty field filters nothing.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    pub webhook: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub event_type: String,
    /// An incident's id: the deliveries of its events (the incident page links here).
    #[serde(default)]
    pub incident: String,
    /// From this time on, RFC 3339 or as a `datetime-local` field sends it (taken as UTC).
    #[serde(default)]
    pub since: String,
    /// Before this time.
    #[serde(default)]
    pub until: String,
}

impl Filters {
    /// The store's filter; a status or time that does not parse is refused with `400`.
    pub fn to_store(&self) -> Result<DeliveryFilter, UiError> {
        let status = some(&self.status);
        if let Some(status) = &status
            && !STATUSES.contains(&status.as_str())
        {
            return Err(UiError::bad_request(
                "status: must be pending, succeeded or failed",
            ));
        }
        Ok(DeliveryFilter {
            webhook_id: some(&self.webhook),
            event_id: None,
            status,
            event_type: some(&self.event_type),
            subject: some(&self.incident),
            created_from: parse_time("since", &self.since)?,
            created_before: parse_time("until", &self.until)?,
        })
    }

    /// The list's address for these filters from `cursor` on.
    pub fn href(&self, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let fields = [
            ("webhook", &self.webhook),
            ("status", &self.status),
            ("event_type", &self.event_type),
            ("incident", &self.incident),
            ("since", &self.since),
            ("until", &self.until),
        ];
        for (name, value) in fields {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let query = query.finish();
        if query.is_empty() {
            "/ui/deliveries".to_owned()
        } else {
            format!("/ui/deliveries?{query}")
        }
    }
}

fn some(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Unix milliseconds of an RFC 3339 time, or of a date or `YYYY-MM-DDTHH:MM[:SS]` in UTC.
pub fn parse_time(field: &str, text: &str) -> Result<Option<i64>, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").map(|t| t.and_utc()))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        });
    match parsed {
        Ok(time) => Ok(Some(time.timestamp_millis())),
        Err(_) => Err(UiError::bad_request(format!(
            "{field}: must be a time such as 2026-11-22T10:00 (UTC) or 2026-11-22T10:00:00Z"
        ))),
    }
}

/// The badge class of a delivery's or attempt's state.
fn tone(state: &str) -> &'static str {
    match state {
        "succeeded" => "ok",
        "failed" => "bad",
        "retrying" => "warn",
        _ => "info",
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryRow {
    id: String,
    created_at: String,
    webhook_id: String,
    webhook_name: String,
    event_id: String,
    event_type: String,
    status: String,
    tone: &'static str,
    attempts: i32,
    max_attempts: i32,
    in_flight: bool,
    next_attempt_at: Option<String>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
}

impl From<Delivery> for DeliveryRow {
    fn from(delivery: Delivery) -> Self {
        Self {
            tone: tone(&delivery.status),
            id: delivery.id,
            created_at: to_rfc3339(delivery.created_at),
            webhook_id: delivery.webhook_id,
            webhook_name: delivery.webhook_name,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            status: delivery.status,
            attempts: delivery.attempts,
            max_attempts: delivery.max_attempts,
            in_flight: delivery.in_flight,
            next_attempt_at: delivery.next_attempt_at.map(to_rfc3339),
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
        }
    }
}

/// A request or an answer as the detail page shows it.
#[derive(Debug, Serialize)]
pub struct Message {
    /// `POST https://…` or `HTTP 503`.
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    attempt: i32,
    initiated_by: String,
    started_at: String,
    duration_ms: i64,
    outcome: String,
    tone: &'static str,
    request: Message,
    response: Option<Message>,
    error: Option<String>,
}

impl From<Attempt> for AttemptView {
    fn from(attempt: Attempt) -> Self {
        let request = &attempt.request;
        let line = format!("{} {}", text(&request["method"]), text(&request["url"]));
        Self {
            tone: tone(&attempt.outcome),
            attempt: attempt.attempt,
            initiated_by: attempt.initiated_by,
            started_at: to_rfc3339(attempt.started_at),
            duration_ms: attempt.duration_ms,
            request: message(line, request),
            response: attempt
                .response
                .as_ref()
                .map(|response| message(format!("HTTP {}", text(&response["status"])), response)),
            outcome: attempt.outcome,
            error: attempt.error,
        }
    }
}

fn message(line: String, logged: &Value) -> Message {
    let headers = logged["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| (name.clone(), text(value)))
                .collect()
        })
        .unwrap_or_default();
    Message {
        line,
        headers,
        body: pretty(&text(&logged["body"])),
    }
}

/// A string as it is, anything else as compact JSON; nothing as empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A JSON body indented; any other body as it is.
pub fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .filter(|value| value.is_object() || value.is_array())
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_utc_without_a_zone() {
        let z = parse_time("since", "2026-11-22T10:00:00Z").unwrap();
        assert_eq!(parse_time("since", "2026-11-22T10:00").unwrap(), z);
        assert_eq!(parse_time("since", " ").unwrap(), None);
        assert!(parse_time("since", "2026-11-22").unwrap().is_some());
        assert!(parse_time("since", "yesterday").is_err());
    }

    #[test]
    fn json_bodies_are_indented_and_others_kept() {
        assert_eq!(pretty(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("<script>x</script>"), "<script>x</script>");
        assert_eq!(pretty("42"), "42");
    }

    #[test]
    fn the_next_page_keeps_the_filters() {
        let filters = Filters {
            webhook: "whk_1".into(),
            status: "failed".into(),
            event_type: "x.a b".into(),
            ..Filters::default()
        };
        assert_eq!(
            filters.href(Some("dlv_9")),
            "/ui/deliveries?webhook=whk_1&status=failed&event_type=x.a+b&cursor=dlv_9"
        );
        assert_eq!(Filters::default().href(None), "/ui/deliveries");
        assert!(
            Filters {
                status: "odd".into(),
                ..Filters::default()
            }
            .to_store()
            .is_err()
        );
    }
}
