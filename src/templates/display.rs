//! What a chat message about an event says, worked out once in Rust so the built-in formats only
//! lay it out: a title, a text, a colour and a few facts, each already within a budget that lets
//! every platform's template stay under its limits without measuring anything.

use serde::Serialize;
use serde_json::{Map, Value};

use super::helpers::text;
use super::text::truncate;
use crate::model::Event;

pub const TITLE_CHARS: usize = 250;
pub const TEXT_CHARS: usize = 3000;
pub const MAX_FACTS: usize = 10;
pub const FACT_NAME_CHARS: usize = 40;
pub const FACT_VALUE_CHARS: usize = 200;
const MARKER: &str = "…";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Display {
    pub title: String,
    pub text: String,
    /// A short upper-case word: the severity of an open incident, else what happened.
    pub label: String,
    pub emoji: &'static str,
    /// `#RRGGBB`, for Slack and Mattermost attachments.
    pub color: String,
    /// `RRGGBB`, for Teams' `themeColor`.
    pub color_hex: String,
    /// The same colour as a number, for Discord.
    pub color_int: u32,
    /// Adaptive Cards' named colour: `Attention`, `Warning`, `Good`, `Accent` or `Default`.
    pub card_color: &'static str,
    pub facts: Vec<Fact>,
    pub footer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Copy)]
struct Tone {
    emoji: &'static str,
    rgb: u32,
    card_color: &'static str,
}

const RED: Tone = Tone {
    emoji: "🔴",
    rgb: 0xD63232,
    card_color: "Attention",
};
const ORANGE: Tone = Tone {
    emoji: "🟠",
    rgb: 0xF28C28,
    card_color: "Warning",
};
const YELLOW: Tone = Tone {
    emoji: "🟡",
    rgb: 0xE8C53A,
    card_color: "Warning",
};
const BLUE: Tone = Tone {
    emoji: "🔵",
    rgb: 0x439FE0,
    card_color: "Accent",
};
const GREEN: Tone = Tone {
    emoji: "✅",
    rgb: 0x2EB67D,
    card_color: "Good",
};
const GREY: Tone = Tone {
    emoji: "⚪",
    rgb: 0x95A5A6,
    card_color: "Default",
};

/// The display of any event; unknown and custom types show their data.
pub fn display(event: &Event) -> Display {
    let (title, text, label, tone, facts) = match event.event_type.split_once('.') {
        Some(("incident", action)) => incident(action, event),
        Some(("object", action)) => object(action, event),
        Some(("schedule", _)) => schedule(event),
        Some(("chat", _)) => chat(event),
        _ => custom(event),
    };
    Display {
        title: truncate(&title, TITLE_CHARS, MARKER).into_owned(),
        text: truncate(&text, TEXT_CHARS, MARKER).into_owned(),
        label,
        emoji: tone.emoji,
        color: format!("#{:06X}", tone.rgb),
        color_hex: format!("{:06X}", tone.rgb),
        color_int: tone.rgb,
        card_color: tone.card_color,
        facts,
        footer: format!("Switchyard · {} · {}", event.event_type, event.occurred_at),
    }
}

type Parts = (String, String, String, Tone, Vec<Fact>);

fn field<'a>(data: &'a Value, name: &str) -> &'a str {
    data.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn incident(action: &str, event: &Event) -> Parts {
    let data = &event.data;
    let severity = field(data, "severity");
    let status = field(data, "status");
    let verb = match action {
        "created" => "Opened",
        "acknowledged" => "Acknowledged",
        "resolved" => "Resolved",
        "reopened" => "Reopened",
        "commented" => "Comment on",
        "forwarded" => "Forwarded",
        _ => "Updated",
    };
    let number = data.get("number").map(text).unwrap_or_default();
    let title = format!("{verb} #{number}: {}", field(data, "title"));
    let latest_message = data
        .get("timeline")
        .and_then(Value::as_array)
        .and_then(|timeline| timeline.last())
        .map(|entry| field(entry, "message"))
        .unwrap_or_default();
    let body = match action {
        "commented" | "resolved" | "reopened" | "acknowledged" if !latest_message.is_empty() => {
            latest_message.to_owned()
        }
        "updated" => change_lines(event).unwrap_or_else(|| field(data, "description").to_owned()),
        _ => field(data, "description").to_owned(),
    };
    let tone = match (status, severity) {
        ("resolved", _) => GREEN,
        ("acknowledged", _) => Tone {
            emoji: "👀",
            ..BLUE
        },
        (_, "critical") => RED,
        (_, "warning") => ORANGE,
        (_, "minor") => YELLOW,
        _ => BLUE,
    };
    let tone = if action == "commented" {
        Tone {
            emoji: "💬",
            ..tone
        }
    } else {
        tone
    };
    let label = if status == "open" { severity } else { status };
    let mut facts = vec![
        fact("Severity", severity),
        fact("Status", status),
        fact("Source", field(data, "source")),
    ];
    if let Some(count) = data
        .get("occurrences")
        .and_then(Value::as_u64)
        .filter(|n| *n > 1)
    {
        facts.push(fact("Occurrences", &count.to_string()));
    }
    let attributes = data.get("attributes").and_then(Value::as_array);
    for attribute in attributes.into_iter().flatten() {
        let hidden = attribute.get("hide_in_previews").and_then(Value::as_bool) == Some(true);
        let image = attribute.get("is_image").and_then(Value::as_bool) == Some(true);
        if !hidden && !image {
            facts.push(fact(
                field(attribute, "name"),
                &attribute.get("value").map(text).unwrap_or_default(),
            ));
        }
    }
    (title, body, label.to_uppercase(), tone, bounded(facts))
}

fn object(action: &str, event: &Event) -> Parts {
    let data = &event.data;
    let subject = event
        .subject
        .clone()
        .unwrap_or_else(|| data.get("id").map(text).unwrap_or_default());
    let name = match data.get("name").map(text) {
        Some(name) if name != subject => format!("{name} ({subject})"),
        _ => subject,
    };
    let (verb, tone) = match action {
        "created" => (
            "Created",
            Tone {
                emoji: "🆕",
                ..GREEN
            },
        ),
        "deleted" => (
            "Deleted",
            Tone {
                emoji: "🗑️",
                ..GREY
            },
        ),
        _ => (
            "Updated",
            Tone {
                emoji: "✏️",
                ..BLUE
            },
        ),
    };
    let body = if action == "updated" {
        change_lines(event).unwrap_or_default()
    } else {
        String::new()
    };
    (
        format!("{verb} {name}"),
        body,
        verb.to_uppercase(),
        tone,
        scalar_facts(data),
    )
}

fn schedule(event: &Event) -> Parts {
    let data = &event.data;
    let name = data.pointer("/schedule/name").map(text).unwrap_or_default();
    let body = match data.get("payload") {
        Some(Value::Object(payload)) if payload.get("text").is_some_and(Value::is_string) => {
            text(&payload["text"])
        }
        Some(payload) => text(payload),
        None => String::new(),
    };
    (
        format!("Schedule {name}"),
        body,
        "SCHEDULE".into(),
        Tone {
            emoji: "⏰",
            ..BLUE
        },
        Vec::new(),
    )
}

fn chat(event: &Event) -> Parts {
    let data = &event.data;
    let title = format!(
        "{} by @{} in {}",
        field(data, "trigger"),
        field(data, "user_name"),
        field(data, "channel_name")
    );
    (
        title,
        field(data, "text").to_owned(),
        "CHAT".into(),
        Tone {
            emoji: "💬",
            ..GREY
        },
        Vec::new(),
    )
}

fn custom(event: &Event) -> Parts {
    let body = match &event.data {
        Value::Object(map) if map.values().all(|v| !v.is_object() && !v.is_array()) => {
            String::new()
        }
        other => text(other),
    };
    let label = event.event_type.to_uppercase();
    (
        event.event_type.clone(),
        body,
        label,
        Tone {
            emoji: "📣",
            ..GREY
        },
        scalar_facts(&event.data),
    )
}

/// `changes` as lines: `field: old → new`.
fn change_lines(event: &Event) -> Option<String> {
    let changes = event.changes.as_ref()?.as_array()?;
    let lines: Vec<String> = changes
        .iter()
        .map(|change| {
            let value = |key: &str| {
                change
                    .get(key)
                    .map(text)
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "—".into())
            };
            format!(
                "• {}: {} → {}",
                field(change, "field"),
                value("old"),
                value("new")
            )
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The object's top-level fields that are plain values.
fn scalar_facts(data: &Value) -> Vec<Fact> {
    let empty = Map::new();
    let fields = data.as_object().unwrap_or(&empty);
    bounded(
        fields
            .iter()
            .filter(|(_, value)| !value.is_object() && !value.is_array())
            .map(|(name, value)| fact(name, &text(value)))
            .collect(),
    )
}

fn fact(name: &str, value: &str) -> Fact {
    Fact {
        name: truncate(name, FACT_NAME_CHARS, MARKER).into_owned(),
        value: truncate(value, FACT_VALUE_CHARS, MARKER).into_owned(),
    }
}

/// At most [`MAX_FACTS`], none with an empty name or value (Discord refuses empty fields).
fn bounded(facts: Vec<Fact>) -> Vec<Fact> {
    facts
        .into_iter()
        .filter(|fact| !fact.name.trim().is_empty() && !fact.value.trim().is_empty())
        .take(MAX_FACTS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::samples::sample_event;

    #[test]
    fn incidents_show_number_title_and_severity_colour() {
        let opened = display(&sample_event("incident.created"));
        assert_eq!(opened.title, "Opened #42: CPU high on web-1");
        assert_eq!(opened.label, "CRITICAL");
        assert_eq!(opened.color, "#D63232");
        assert_eq!(opened.color_int, 0xD63232);
        assert!(opened.facts.contains(&fact("host", "web-1")));
        let resolved = display(&sample_event("incident.resolved"));
        assert_eq!(resolved.card_color, "Good");
        assert_eq!(resolved.label, "RESOLVED");
    }

    #[test]
    fn object_updates_list_their_changes() {
        let updated = display(&sample_event("object.updated"));
        assert_eq!(updated.title, "Updated web-1 (server-17)");
        assert_eq!(
            updated.text,
            "• os: Debian 11 → Debian 12\n• hardware.cpu: 4 → 8"
        );
        assert!(
            updated
                .facts
                .iter()
                .any(|f| f.name == "os" && f.value == "Debian 12")
        );
    }

    #[test]
    fn every_part_stays_within_its_budget() {
        let mut event = sample_event("x.huge");
        let mut data = Map::new();
        for index in 0..50 {
            data.insert(
                format!("{index}{}", "n".repeat(100)),
                Value::String("v".repeat(1000)),
            );
        }
        event.event_type = "x.".to_owned() + &"t".repeat(1000);
        event.data = Value::Array(vec![Value::Object(data.clone()); 3]);
        let shown = display(&event);
        assert_eq!(shown.title.chars().count(), TITLE_CHARS);
        assert!(shown.title.ends_with(MARKER));
        assert_eq!(shown.text.chars().count(), TEXT_CHARS);
        event.data = Value::Object(data);
        let facts = display(&event).facts;
        assert_eq!(facts.len(), MAX_FACTS);
        assert!(
            facts
                .iter()
                .all(|f| f.name.chars().count() <= FACT_NAME_CHARS
                    && f.value.chars().count() <= FACT_VALUE_CHARS)
        );
    }
}
