//! The schedule form's fields: parsed into the API's [`ScheduleSpec`] (built as the JSON an API
//! client would send, so the form accepts exactly what the API does), and filled from a stored
//! schedule. Windows are one line each, `mon,tue 08:00-18:00`, days optional.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::schedules::{Missed, Schedule, ScheduleSpec, WindowSpec};
use crate::validation::Invalid;

/// Every field as the browser sends it; a checkbox is absent when unchecked.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ScheduleForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    /// `preview` shows the next due times and the payload instead of saving.
    #[serde(skip_serializing)]
    pub action: String,
    pub name: String,
    pub description: String,
    pub enabled: Option<String>,
    pub webhook: String,
    /// `every` or `cron`: which of the two fields counts.
    pub kind: String,
    pub every: String,
    pub cron: String,
    pub timezone: String,
    pub start_at: String,
    pub end_at: String,
    pub windows: String,
    pub missed: String,
    /// The payload template as JSON text.
    pub payload: String,
}

/// A refusal placed beside its field: `field` is the form field's name (`form` when none fits).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

const FIELDS: [&str; 11] = [
    "name",
    "description",
    "webhook",
    "every",
    "cron",
    "timezone",
    "start_at",
    "end_at",
    "windows",
    "missed",
    "payload",
];

impl Refusal {
    /// The refusal of an API field path (`windows[0].from`, `payload.text`) beside its field.
    pub fn of(invalid: &Invalid) -> Self {
        let head = invalid.field.split(['.', '[']).next().unwrap_or_default();
        Self {
            field: FIELDS
                .into_iter()
                .find(|field| *field == head)
                .unwrap_or("form"),
            message: invalid.to_string(),
        }
    }
}

fn optional(text: &str) -> Value {
    match text.trim() {
        "" => Value::Null,
        text => json!(text),
    }
}

impl ScheduleForm {
    /// A blank form: daily at nine, UTC, with a payload that shows what a template sees.
    pub fn blank() -> Self {
        Self {
            enabled: Some("on".into()),
            kind: "cron".into(),
            every: "1d".into(),
            cron: "0 9 * * *".into(),
            timezone: "UTC".into(),
            missed: "once".into(),
            payload: "{\n  \"text\": \"{{schedule.name}}: due at {{due_at}}\"\n}".into(),
            ..Self::default()
        }
    }

    pub fn to_spec(&self) -> Result<ScheduleSpec, Invalid> {
        let payload: Value = match self.payload.trim() {
            "" => json!({}),
            text => serde_json::from_str(text)
                .map_err(|error| Invalid::new("payload", format!("is not JSON: {error}")))?,
        };
        let cron = self.kind == "cron";
        let spec = json!({
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled.is_some(),
            "webhook": self.webhook.trim(),
            "every": if cron { Value::Null } else { optional(&self.every) },
            "cron": if cron { optional(&self.cron) } else { Value::Null },
            "timezone": self.timezone.trim(),
            "start_at": optional(&self.start_at),
            "end_at": optional(&self.end_at),
            "windows": windows(&self.windows)?,
            "missed": if self.missed.is_empty() { "once" } else { &self.missed },
            "payload": payload,
        });
        serde_json::from_value(spec).map_err(|error| Invalid::new("form", error.to_string()))
    }

    /// The form of a stored schedule.
    pub fn of(schedule: &Schedule) -> Self {
        let spec = &schedule.spec;
        Self {
            name: spec.name.clone(),
            description: spec.description.clone(),
            enabled: spec.enabled.then(|| "on".into()),
            webhook: spec.webhook.clone(),
            kind: if spec.cron.is_some() { "cron" } else { "every" }.into(),
            every: spec.every.clone().unwrap_or_default(),
            cron: spec.cron.clone().unwrap_or_default(),
            timezone: spec.timezone.clone(),
            start_at: spec.start_at.clone().unwrap_or_default(),
            end_at: spec.end_at.clone().unwrap_or_default(),
            windows: spec
                .windows
                .iter()
                .map(window_line)
                .collect::<Vec<_>>()
                .join("\n"),
            missed: match spec.missed {
                Missed::Once => "once",
                Missed::Skip => "skip",
            }
            .into(),
            payload: serde_json::to_string_pretty(&spec.payload).unwrap_or_default(),
            ..Self::default()
        }
    }
}

/// Window lines as the API's windows; a line that is not `[days] HH:MM-HH:MM` is refused
/// naming the window, as the API names it.
fn windows(text: &str) -> Result<Vec<Value>, Invalid> {
    let lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    lines
        .enumerate()
        .map(|(index, line)| {
            let (days, hours) = line.rsplit_once(' ').unwrap_or(("", line));
            let (from, to) = hours.split_once('-').ok_or_else(|| {
                Invalid::new(
                    format!("windows[{index}]"),
                    "must be days and hours, e.g. mon,tue,wed,thu,fri 08:00-18:00",
                )
            })?;
            let days: Vec<&str> = days
                .split([',', ' '])
                .map(str::trim)
                .filter(|day| !day.is_empty())
                .collect();
            Ok(json!({"days": days, "from": from.trim(), "to": to.trim()}))
        })
        .collect()
}

fn window_line(window: &WindowSpec) -> String {
    let hours = format!("{}-{}", window.from, window.to);
    if window.days.is_empty() {
        hours
    } else {
        format!("{} {hours}", window.days.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ScheduleForm {
        ScheduleForm {
            name: "report".into(),
            webhook: "whk_1".into(),
            windows: "mon,fri 08:00-18:00\n\n22:00-24:00".into(),
            ..ScheduleForm::blank()
        }
    }

    #[test]
    fn a_filled_form_is_the_apis_spec_and_back() {
        let spec = form().to_spec().unwrap();
        assert_eq!(spec.cron.as_deref(), Some("0 9 * * *"));
        assert_eq!(spec.every, None);
        assert_eq!(spec.windows.len(), 2);
        assert_eq!(spec.windows[0].days, vec!["mon", "fri"]);
        assert!(spec.windows[1].days.is_empty());
        let schedule = Schedule {
            id: "sch_1".into(),
            spec,
            last_fired_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let again = ScheduleForm::of(&schedule);
        assert_eq!(again.windows, "mon,fri 08:00-18:00\n22:00-24:00");
        assert_eq!(again.to_spec().unwrap(), schedule.spec);
    }

    #[test]
    fn refusals_name_their_form_field() {
        let bad = ScheduleForm {
            windows: "weekdays".into(),
            ..form()
        };
        assert_eq!(Refusal::of(&bad.to_spec().unwrap_err()).field, "windows");
        let bad = ScheduleForm {
            payload: "{".into(),
            ..form()
        };
        assert_eq!(Refusal::of(&bad.to_spec().unwrap_err()).field, "payload");
        assert_eq!(Refusal::of(&Invalid::new("x", "y")).field, "form");
    }
}
