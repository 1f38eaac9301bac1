//! The built-in chat formats, rendered for every event type: compared with the golden files in
//! `tests/golden/` (regenerate with `SWITCHYARD_UPDATE_GOLDEN=1 cargo test formats`) and checked
//! against each platform's limits, for samples and for oversized events.

use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard::model::Event;
use switchyard::model::event_types::KNOWN_TYPES;
use switchyard::model::samples::sample_event;
use switchyard::templates::{self, BuiltIn};

const FORMATS: [(BuiltIn, &str); 5] = [
    (BuiltIn::Slack, "slack"),
    (BuiltIn::Mattermost, "mattermost"),
    (BuiltIn::Discord, "discord"),
    (BuiltIn::Teams, "teams"),
    (BuiltIn::TeamsAdaptive, "teams-adaptive"),
];

/// Every type the gateway emits, and a custom one.
fn event_types() -> impl Iterator<Item = &'static str> {
    KNOWN_TYPES.into_iter().chain(["x.backup.finished"])
}

fn render(format: BuiltIn, event: &Event) -> Value {
    let body = templates::formats::render(format, event)
        .unwrap_or_else(|error| panic!("{format:?} {}: {error}", event.event_type));
    serde_json::from_str(&body).expect("built-in formats render JSON")
}

#[test]
fn every_format_renders_every_event_type_as_its_golden_file() {
    let update = std::env::var_os("SWITCHYARD_UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (format, name) in FORMATS {
        for event_type in event_types() {
            let payload = render(format, &sample_event(event_type));
            check_limits(format, &payload);
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(name)
                .join(format!("{event_type}.json"));
            let pretty = serde_json::to_string_pretty(&payload).unwrap() + "\n";
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &pretty).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            if golden != pretty {
                mismatches.push(format!("{}\n{pretty}", path.display()));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "rendered payloads differ from their golden files (SWITCHYARD_UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}

/// An incident with a 5000-character title, a 10 000-character description and many long
/// attributes: every format still fits its platform, cutting with a visible marker.
#[test]
fn oversized_events_are_truncated_with_a_marker_within_every_limit() {
    let mut event = sample_event("incident.created");
    event.data["title"] = json!("T".repeat(5000));
    event.data["description"] = json!("*D*\n".repeat(2500));
    event.data["attributes"] = (0..60)
        .map(|i| json!({"name": format!("{i}{}", "n".repeat(300)), "value": "v_".repeat(800)}))
        .collect();
    for (format, _) in FORMATS {
        check_limits(format, &render(format, &event));
    }
    let discord = render(BuiltIn::Discord, &event);
    let content = discord["content"].as_str().unwrap();
    assert!(
        content.chars().count() <= 2000 && content.ends_with('…'),
        "{content}"
    );
    let description = discord["embeds"][0]["description"].as_str().unwrap();
    assert!(description.ends_with('…'));
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |text| text.chars().count())
}

fn check_limits(format: BuiltIn, payload: &Value) {
    match format {
        BuiltIn::Discord => check_discord(payload),
        BuiltIn::Slack => check_slack(payload),
        BuiltIn::Mattermost => {
            let attachment = &payload["attachments"][0];
            assert!(chars(&payload["text"]) + chars(&attachment["text"]) <= 16_383);
            assert!(!attachment["color"].as_str().unwrap().is_empty());
        }
        BuiltIn::Teams => {
            assert_eq!(payload["@type"], "MessageCard");
            assert!(
                payload.to_string().len() <= 28_000,
                "MessageCard over 28 KB"
            );
        }
        BuiltIn::TeamsAdaptive => {
            let attachment = &payload["attachments"][0];
            assert_eq!(
                attachment["contentType"],
                "application/vnd.microsoft.card.adaptive"
            );
            assert_eq!(attachment["content"]["type"], "AdaptiveCard");
            assert!(
                payload.to_string().len() <= 28_000,
                "Adaptive Card over 28 KB"
            );
        }
    }
}

fn check_discord(payload: &Value) {
    assert!(chars(&payload["content"]) <= 2000);
    let embeds = payload["embeds"].as_array().unwrap();
    assert!(embeds.len() <= 10);
    let mut total = 0;
    for embed in embeds {
        assert!(chars(&embed["title"]) <= 256);
        assert!(chars(&embed["description"]) <= 4096);
        assert!(embed["color"].is_u64());
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.len() <= 25);
        for field in fields {
            assert!((1..=256).contains(&chars(&field["name"])));
            assert!((1..=1024).contains(&chars(&field["value"])));
            total += chars(&field["name"]) + chars(&field["value"]);
        }
        total +=
            chars(&embed["title"]) + chars(&embed["description"]) + chars(&embed["footer"]["text"]);
    }
    assert!(total <= 6000, "embeds hold {total} characters");
}

fn check_slack(payload: &Value) {
    assert!(chars(&payload["text"]) <= 3000);
    let blocks = payload["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => assert!(chars(&block["text"]["text"]) <= 150),
            "section" => {
                assert!(chars(&block["text"]["text"]) <= 3000);
                let fields = block["fields"].as_array().map_or(&[][..], Vec::as_slice);
                assert!(fields.len() <= 10);
                assert!(fields.iter().all(|field| chars(&field["text"]) <= 2000));
            }
            "context" => assert!(block["elements"].as_array().unwrap().len() <= 10),
            other => panic!("unexpected block {other}"),
        }
    }
}
