//! What the schedule pages show: due times in the schedule's own zone (with UTC beside them),
//! the list's rows, and runs with their deliveries.

use std::str::FromStr;

use chrono::DateTime;
use chrono_tz::Tz;
use serde::Serialize;

use crate::schedules::{Run, Schedule};
use crate::timestamp::to_rfc3339;

/// A due time as shown: `Mon 2026-12-07 09:00 CET`, and its UTC time for `<time datetime>`.
#[derive(Debug, Clone, Serialize)]
pub struct DueTime {
    pub local: String,
    pub utc: String,
}

impl DueTime {
    /// `millis` in `zone` (an IANA name; UTC when it is not one).
    pub fn at(millis: i64, zone: &str) -> Self {
        let zone = Tz::from_str(zone.trim()).unwrap_or(Tz::UTC);
        let time = DateTime::from_timestamp_millis(millis).unwrap_or_default();
        let local = time.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z");
        let utc = if zone == Tz::UTC {
            String::new()
        } else {
            format!(" ({} UTC)", time.format("%H:%M"))
        };
        Self {
            local: format!("{local}{utc}"),
            utc: to_rfc3339(millis),
        }
    }

    pub fn all(due: &[i64], zone: &str) -> Vec<Self> {
        due.iter().map(|due| Self::at(*due, zone)).collect()
    }
}

/// Every IANA zone name, for the form's searchable list.
pub fn zone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .collect()
}

/// How a schedule recurs, as a row shows it: `every 1d` or `cron 0 9 * * *`.
fn recurrence(schedule: &Schedule) -> String {
    let spec = &schedule.spec;
    match (&spec.every, &spec.cron) {
        (_, Some(cron)) => format!("cron {cron}"),
        (Some(every), None) => format!("every {every}"),
        (None, None) => String::new(),
    }
}

#[derive(Debug, Serialize)]
pub struct ScheduleRow {
    id: String,
    name: String,
    recurrence: String,
    timezone: String,
    enabled: bool,
    next_due: Option<DueTime>,
    last_run: Option<RunView>,
}

impl ScheduleRow {
    pub fn of(schedule: &Schedule, last_run: Option<Run>) -> Self {
        let zone = &schedule.spec.timezone;
        // A stored schedule compiled when it was saved; one that no longer does shows no time.
        let next_due = schedule.upcoming().unwrap_or_default().first().copied();
        Self {
            id: schedule.id.clone(),
            name: schedule.spec.name.clone(),
            recurrence: recurrence(schedule),
            timezone: zone.clone(),
            enabled: schedule.spec.enabled,
            next_due: next_due.map(|due| DueTime::at(due, zone)),
            last_run: last_run.map(|run| RunView::of(run, zone)),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunView {
    due_at: DueTime,
    fired_at: DueTime,
    manual: bool,
    missed: i64,
    /// The delivery's id, status (`pending`, `succeeded`, `failed`), attempts and last code.
    delivery: Option<DeliveryView>,
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    id: String,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
}

impl RunView {
    pub fn of(run: Run, zone: &str) -> Self {
        Self {
            due_at: DueTime::at(run.due_at, zone),
            fired_at: DueTime::at(run.fired_at, zone),
            manual: run.manual,
            missed: run.missed,
            delivery: run.delivery.map(|delivery| DeliveryView {
                id: delivery.id,
                status: delivery.status,
                attempts: delivery.attempts,
                last_status_code: delivery.last_status_code,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_are_shown_in_the_schedules_zone_with_utc_beside() {
        let nine_utc = 1_796_634_000_000;
        assert_eq!(
            DueTime::at(nine_utc, "UTC").local,
            "Mon 2026-12-07 09:00 UTC"
        );
        assert_eq!(
            DueTime::at(nine_utc, "Asia/Tokyo").local,
            "Mon 2026-12-07 18:00 JST (09:00 UTC)"
        );
        assert!(zone_names().contains(&"Europe/Berlin"));
    }
}
