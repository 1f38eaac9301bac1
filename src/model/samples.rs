//! A realistic sample of each event type, for previews and tests of webhooks before real
//! events exist.

use serde_json::{Value, json};

use super::Event;

const SAMPLE_TIME: &str = "2026-11-22T10:00:00.000Z";

/// The sample incident as an event of `action` leaves it: its status, and the timeline entry
/// the action added.
fn sample_incident(action: &str) -> Value {
    let status = match action {
        "resolved" => "resolved",
        "acknowledged" => "acknowledged",
        _ => "open",
    };
    let mut timeline = vec![
        json!({"at": "2026-11-22T09:50:00.000Z", "intent": "created", "message": "CPU above 95 %", "actor": "api:rmm", "changes": []}),
    ];
    let latest = match action {
        "acknowledged" => Some(("acknowledged", "Looking into it", "user:alice")),
        "resolved" => Some(("resolved", "Fixed by deploy 812", "webhook:ci")),
        "commented" => Some((
            "commented",
            "Restarted php-fpm, watching the load",
            "user:alice",
        )),
        "reopened" => Some(("reopened", "CPU high again", "api:rmm")),
        _ => None,
    };
    if let Some((intent, message, actor)) = latest {
        timeline.push(json!({"at": SAMPLE_TIME, "intent": intent, "message": message, "actor": actor, "changes": []}));
    }
    json!({
        "id": "inc_sample", "number": 42, "title": "CPU high on web-1",
        "description": "CPU above 95 % for 10 minutes", "severity": "critical", "status": status,
        "dedup_key": "web-1/cpu", "source": "rmm",
        "attributes": [
            {"name": "host", "value": "web-1", "is_image": false, "hide_in_previews": false},
            {"name": "graph", "value": "https://grafana.example/render/cpu.png", "is_image": true, "hide_in_previews": false}
        ],
        "forwarded_to": [], "occurrences": 3,
        "created_at": "2026-11-22T09:50:00.000Z", "updated_at": SAMPLE_TIME,
        "acknowledged_at": if status == "acknowledged" { json!(SAMPLE_TIME) } else { Value::Null },
        "resolved_at": if status == "resolved" { json!(SAMPLE_TIME) } else { Value::Null },
        "timeline": timeline
    })
}

/// The type to sample for a subscription pattern.
pub fn sample_type_for(pattern: &str) -> &str {
    match pattern {
        "*" | "incident.*" => "incident.created",
        "object.*" => "object.updated",
        "schedule.*" => "schedule.fired",
        "chat.*" => "chat.triggered",
        "x.*" => "x.sample",
        exact => exact,
    }
}

/// A sample event of `event_type`; a custom or unknown type gets a small custom payload.
pub fn sample_event(event_type: &str) -> Event {
    let object = json!({"id": "server-17", "name": "web-1", "os": "Debian 12", "hardware": {"cpu": 8, "ram_gb": 32}});
    let previous = json!({"id": "server-17", "name": "web-1", "os": "Debian 11", "hardware": {"cpu": 4, "ram_gb": 32}});
    let (subject, data, previous, changes) = match event_type {
        "object.created" => ("server-17", object, None, None),
        "object.updated" => (
            "server-17",
            object,
            Some(previous),
            Some(json!([
                {"field": "os", "old": "Debian 11", "new": "Debian 12"},
                {"field": "hardware.cpu", "old": 4, "new": 8}
            ])),
        ),
        "object.deleted" => ("server-17", previous, None, None),
        "incident.updated" => (
            "inc_sample",
            sample_incident("updated"),
            None,
            Some(json!([{"field": "severity", "old": "warning", "new": "critical"}])),
        ),
        t if t.starts_with("incident.") => (
            "inc_sample",
            sample_incident(&t["incident.".len()..]),
            None,
            None,
        ),
        "schedule.fired" => (
            "sch_sample",
            json!({"schedule": {"id": "sch_sample", "name": "daily-report"}, "payload": {"text": "Daily report"}}),
            None,
            None,
        ),
        "chat.triggered" => (
            "trg_sample",
            json!({"trigger": "build", "platform": "mattermost", "user_name": "alice", "channel_name": "town-square", "text": "#build main"}),
            None,
            None,
        ),
        _ => ("sample", json!({"message": "a sample event"}), None, None),
    };
    Event {
        id: "evt_sample".into(),
        event_type: event_type.to_owned(),
        occurred_at: SAMPLE_TIME.into(),
        subject: Some(subject.to_owned()),
        data,
        previous,
        changes,
    }
}
