//! The schedule resource as clients send it (SPEC §8), and its checks: each field is parsed
//! into the [`Plan`] of due times and the payload template, or refused naming the field.

use std::str::FromStr;

use chrono::DateTime;
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::due::{Plan, Recurrence, Window};
use super::payload::PayloadTemplate;
use crate::timestamp::to_rfc3339;
use crate::validation::Invalid;

const MAX_NAME_CHARS: usize = 100;
/// The longest `every`: a year.
const MAX_EVERY_MS: i64 = 366 * 86_400_000;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// What a client sends to create or replace a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The id of the webhook every firing is delivered to.
    pub webhook: String,
    /// `30s`, `15m`, `1h`, `1d`, `1w` (a whole number and a unit), counted from `start_at` or
    /// the creation time. Either this or `cron`.
    #[serde(default)]
    pub every: Option<String>,
    /// Five fields (minute hour day-of-month month day-of-week) with `*/n`, ranges, lists and
    /// names such as `MON-FRI`.
    #[serde(default)]
    pub cron: Option<String>,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    pub timezone: String,
    /// RFC 3339: no due time before this.
    #[serde(default)]
    pub start_at: Option<String>,
    /// RFC 3339: no due time after this.
    #[serde(default)]
    pub end_at: Option<String>,
    /// Due times outside every window are skipped.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    #[serde(default)]
    pub missed: Missed,
    /// JSON whose strings are templates over `schedule`, `due_at`, `fired_at`, `vars`, `env`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub payload: Value,
}

fn enabled_by_default() -> bool {
    true
}

fn utc() -> String {
    "UTC".into()
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `mon` … `sun`; none means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM`, local time in the schedule's zone, included.
    pub from: String,
    /// `HH:MM` (up to `24:00`), excluded.
    pub to: String,
}

/// What a process that was down does with the due times it missed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// Fire once, for the latest of them.
    #[default]
    Once,
    /// Fire none of them.
    Skip,
}

/// A schedule's parts, ready to fire.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub plan: Plan,
    pub payload: PayloadTemplate,
}

impl ScheduleSpec {
    /// Checks every field and brings times to one form; `created_at` anchors an `every`
    /// without `start_at`.
    pub fn validate(&mut self, created_at: i64) -> Result<Compiled, Invalid> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new("name", "must be 1 to 100 characters"));
        }
        if self.webhook.trim().is_empty() {
            return Err(Invalid::new("webhook", "must name a webhook by its id"));
        }
        let start = parse_time("start_at", self.start_at.as_deref())?;
        let end = parse_time("end_at", self.end_at.as_deref())?;
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            return Err(Invalid::new("end_at", "must be after start_at"));
        }
        self.start_at = start.map(to_rfc3339);
        self.end_at = end.map(to_rfc3339);
        self.compile(created_at)
    }

    /// The plan and payload of a schedule as stored (checked when it was saved).
    pub fn compile(&self, created_at: i64) -> Result<Compiled, Invalid> {
        let start = parse_time("start_at", self.start_at.as_deref())?;
        let plan = Plan {
            recurrence: self.recurrence()?,
            zone: Tz::from_str(self.timezone.trim()).map_err(|_| {
                Invalid::new(
                    "timezone",
                    "must be an IANA time zone name, e.g. Europe/Berlin or UTC",
                )
            })?,
            anchor: start.unwrap_or(created_at),
            start,
            end: parse_time("end_at", self.end_at.as_deref())?,
            windows: self
                .windows
                .iter()
                .enumerate()
                .map(|(index, window)| {
                    window
                        .parse()
                        .map_err(|invalid| invalid.under(&format!("windows[{index}]")))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Compiled {
            plan,
            payload: PayloadTemplate::compile(&self.payload)?,
        })
    }

    /// The first due time after `now`. A schedule that can never fall due is refused, naming
    /// what rules every due time out; one whose `end_at` has passed is kept (it still runs by
    /// hand).
    pub fn first_due(&self, plan: &Plan, now: i64) -> Result<Option<i64>, Invalid> {
        let next = plan.next_after(now);
        if next.is_some() || plan.end.is_some_and(|end| end <= now) {
            return Ok(next);
        }
        let field = if !self.windows.is_empty() {
            "windows"
        } else if self.cron.is_some() {
            "cron"
        } else {
            "end_at"
        };
        Err(Invalid::new(field, "leaves no due time within five years"))
    }

    fn recurrence(&self) -> Result<Recurrence, Invalid> {
        match (self.every.as_deref(), self.cron.as_deref()) {
            (Some(every), None) => parse_every(every),
            (None, Some(cron)) => parse_cron(cron),
            (Some(_), Some(_)) => Err(Invalid::new(
                "cron",
                "give either `every` or `cron`, not both",
            )),
            (None, None) => Err(Invalid::new("every", "give `every` (e.g. 15m) or `cron`")),
        }
    }
}

fn parse_time(field: &str, text: Option<&str>) -> Result<Option<i64>, Invalid> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|time| time.timestamp_millis())
            .map_err(|_| Invalid::new(field, "must be an RFC 3339 time, e.g. 2026-12-01T08:00:00Z"))
    })
    .transpose()
}

fn parse_every(text: &str) -> Result<Recurrence, Invalid> {
    let invalid = || {
        Invalid::new(
            "every",
            "must be a whole number above 0 and a unit s, m, h, d or w, at most a year: e.g. 30s, 15m, 1d",
        )
    };
    let text = text.trim();
    let (unit_at, _) = text.char_indices().last().ok_or_else(invalid)?;
    let (count, unit) = text.split_at(unit_at);
    let count: i64 = count.parse().map_err(|_| invalid())?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(invalid()),
    };
    let step = count
        .checked_mul(unit_ms)
        .filter(|step| (1..=MAX_EVERY_MS).contains(step));
    let step = step.ok_or_else(invalid)?;
    Ok(match unit {
        "d" | "w" => Recurrence::Days(step / 86_400_000),
        _ => Recurrence::Elapsed(step),
    })
}

fn parse_cron(text: &str) -> Result<Recurrence, Invalid> {
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    let cron = parser
        .parse(text.trim())
        .map_err(|error| Invalid::new("cron", format!("not a 5-field cron pattern: {error}")))?;
    Ok(Recurrence::Cron(Box::new(cron)))
}

impl WindowSpec {
    fn parse(&self) -> Result<Window, Invalid> {
        let mut days = [self.days.is_empty(); 7];
        for (index, day) in self.days.iter().enumerate() {
            let day = day.trim().to_ascii_lowercase();
            let number = DAYS
                .iter()
                .position(|short| *short == day)
                .or_else(|| FULL_DAYS.iter().position(|full| *full == day))
                .ok_or_else(|| {
                    Invalid::new(
                        format!("days[{index}]"),
                        "must be mon, tue, wed, thu, fri, sat or sun",
                    )
                })?;
            days[number] = true;
        }
        let from = clock_seconds("from", &self.from)?;
        let to = clock_seconds("to", &self.to)?;
        if from >= to {
            return Err(Invalid::new(
                "to",
                "must be later than `from` (windows do not cross midnight: use two)",
            ));
        }
        Ok(Window { days, from, to })
    }
}

/// `HH:MM` as seconds after midnight; `24:00` is the end of the day.
fn clock_seconds(field: &str, text: &str) -> Result<u32, Invalid> {
    let invalid = || Invalid::new(field, "must be a time HH:MM, from 00:00 to 24:00");
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(invalid)?;
    let (hours, minutes): (u32, u32) = (
        hours.parse().map_err(|_| invalid())?,
        minutes.parse().map_err(|_| invalid())?,
    );
    if hours > 24 || minutes >= 60 || (hours == 24 && minutes > 0) {
        return Err(invalid());
    }
    Ok((hours * 60 + minutes) * 60)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn specs_are_checked_field_by_field() {
        let base = json!({"name": "daily", "webhook": "whk_1", "every": "1d"});
        let mut good: ScheduleSpec = serde_json::from_value(base.clone()).unwrap();
        assert!(good.validate(0).is_ok());
        let cases = [
            ("every", json!({"every": "0s"})),
            ("every", json!({"every": "15"})),
            ("every", json!({"every": "2y"})),
            ("every", json!({"every": "9999999999999w"})),
            ("every", json!({"every": "1ß"})),
            ("every", json!({"every": ""})),
            ("every", json!({"every": null})),
            ("cron", json!({"every": null, "cron": "61 * * * *"})),
            ("cron", json!({"every": null, "cron": "0 0 * * * *"})),
            ("cron", json!({"cron": "0 8 * * *"})),
            ("timezone", json!({"timezone": "Mars/Olympus"})),
            ("start_at", json!({"start_at": "tomorrow"})),
            (
                "end_at",
                json!({"start_at": "2026-12-02T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}),
            ),
            (
                "windows[0].to",
                json!({"windows": [{"from": "18:00", "to": "08:00"}]}),
            ),
            (
                "windows[0].from",
                json!({"windows": [{"from": "25:00", "to": "26:00"}]}),
            ),
            (
                "windows[1].days[0]",
                json!({"windows": [{"from": "08:00", "to": "09:00"}, {"days": ["someday"], "from": "08:00", "to": "09:00"}]}),
            ),
            ("payload.text", json!({"payload": {"text": "{{#each}}"}})),
            ("name", json!({"name": " "})),
        ];
        for (field, change) in cases {
            let mut spec = base.clone();
            for (key, value) in change.as_object().unwrap() {
                spec[key] = value.clone();
            }
            let mut spec: ScheduleSpec = serde_json::from_value(spec).unwrap();
            assert_eq!(spec.validate(0).unwrap_err().field, field, "{change}");
        }
    }

    #[test]
    fn times_are_kept_in_one_form() {
        let mut spec: ScheduleSpec = serde_json::from_value(json!({"name": "n", "webhook": "whk_1",
            "cron": "0 8 * * *", "start_at": "2026-12-01T09:00:00+01:00", "windows": [{"days": ["Monday", "FRI"], "from": "08:00", "to": "24:00"}]}))
        .unwrap();
        let compiled = spec.validate(0).unwrap();
        assert_eq!(spec.start_at.as_deref(), Some("2026-12-01T08:00:00.000Z"));
        let window = &compiled.plan.windows[0];
        assert_eq!(window.days, [true, false, false, false, true, false, false]);
        assert_eq!((window.from, window.to), (8 * 3600, 86_400));
    }

    #[test]
    fn a_schedule_that_can_never_fall_due_is_refused() {
        let now = 1_796_000_000_000;
        let cases = [
            ("cron", json!({"cron": "0 0 31 2 *"})),
            (
                "windows",
                json!({"every": "1h", "start_at": "2026-12-01T00:30:00Z",
                "windows": [{"from": "08:00", "to": "08:10"}]}),
            ),
        ];
        for (field, fields) in cases {
            let mut spec = json!({"name": "n", "webhook": "whk_1"});
            for (key, value) in fields.as_object().unwrap() {
                spec[key] = value.clone();
            }
            let mut spec: ScheduleSpec = serde_json::from_value(spec).unwrap();
            let compiled = spec.validate(now).unwrap();
            let refused = spec.first_due(&compiled.plan, now).unwrap_err();
            assert_eq!(refused.field, field, "{fields}");
        }
        let mut leap: ScheduleSpec =
            serde_json::from_value(json!({"name": "n", "webhook": "whk_1", "cron": "0 0 29 2 *"}))
                .unwrap();
        let compiled = leap.validate(now).unwrap();
        assert!(
            leap.first_due(&compiled.plan, now).unwrap().is_some(),
            "a leap day comes"
        );
    }
}
