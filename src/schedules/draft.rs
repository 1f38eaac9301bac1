//! A schedule as a form edits it, before it is saved: its next due times and its payload
//! rendered for the first of them, by the same plan and template code that fire it, so what
//! the console shows is what will happen.

use serde_json::Value;

use super::firing::payload_context;
use super::{SHOWN_DUE_TIMES, ScheduleSpec};
use crate::templates::Globals;
use crate::timestamp::to_rfc3339;
use crate::validation::Invalid;

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The next due times after `now` (whether or not the schedule is enabled).
    pub due: Vec<i64>,
    /// The payload as the first due time (or, with none, `now`) would carry it.
    pub payload: Value,
}

/// Compiles `spec` as saving would (a schedule not saved yet is anchored at `created_at`, the
/// time of the preview) and renders its payload; a refusal names the field.
pub fn draft(
    spec: &ScheduleSpec,
    id: &str,
    created_at: i64,
    now: i64,
    globals: &Globals,
) -> Result<Draft, Invalid> {
    let compiled = spec.compile(created_at)?;
    let due = compiled.plan.upcoming(now, SHOWN_DUE_TIMES);
    let due_at = to_rfc3339(due.first().copied().unwrap_or(now));
    let context = payload_context(id, spec, &due_at, &due_at, globals);
    let payload = compiled
        .payload
        .render(&context)
        .map_err(|error| Invalid::new("payload", error.to_string()))?;
    Ok(Draft { due, payload })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    const DEC_7_2026: i64 = 1_796_601_600_000;

    fn spec(timezone: &str) -> ScheduleSpec {
        serde_json::from_value(json!({
            "name": "daily", "webhook": "whk_x", "cron": "0 9 * * *", "timezone": timezone,
            "payload": {"text": "{{schedule.name}} at {{due_at}}: {{vars.site}}"},
        }))
        .unwrap()
    }

    fn globals() -> Globals {
        Globals {
            env: Arc::new(json!({})),
            vars: Arc::new(json!({"site": "lab"})),
        }
    }

    #[test]
    fn a_draft_shows_five_due_times_in_its_zone_and_the_first_ones_payload() {
        let utc = draft(&spec("UTC"), "sch_new", DEC_7_2026, DEC_7_2026, &globals()).unwrap();
        let tokyo = draft(&spec("Asia/Tokyo"), "sch_new", 0, DEC_7_2026, &globals()).unwrap();

        assert_eq!(utc.due.len(), 5);
        assert_eq!(to_rfc3339(utc.due[0]), "2026-12-07T09:00:00.000Z");
        assert_eq!(to_rfc3339(tokyo.due[0]), "2026-12-08T00:00:00.000Z");
        assert_eq!(
            utc.payload,
            json!({"text": "daily at 2026-12-07T09:00:00.000Z: lab"})
        );
    }

    #[test]
    fn a_draft_refuses_naming_the_field() {
        let mut bad = spec("Mars/Olympus");
        assert_eq!(
            draft(&bad, "", 0, 0, &globals()).unwrap_err().field,
            "timezone"
        );
        bad.timezone = "UTC".into();
        bad.payload = json!({"text": "{{#if}}"});
        assert!(
            draft(&bad, "", 0, 0, &globals())
                .unwrap_err()
                .field
                .starts_with("payload")
        );
    }
}
