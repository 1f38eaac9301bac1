//! Due times (SPEC §8): `every` steps counted from an anchor, or a 5-field cron pattern, in an
//! IANA time zone, inside optional weekly windows, bounded by `start_at` and `end_at`.
//!
//! Steps in seconds, minutes and hours are elapsed time; days and weeks keep the anchor's
//! wall-clock time in the zone. Across a daylight-saving change every wall-clock time fires at
//! most once: a time the clock skips fires once where the gap ends, and a time the clock goes
//! through twice fires on its first pass only (cron patterns follow croner's Vixie-cron rules,
//! and the second pass of a repeated hour is left out for every pattern).

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike,
};
use chrono_tz::Tz;
use croner::Cron;

const DAY_MS: i64 = 86_400_000;
/// Due times are looked for this far ahead: a plan with none within it has none (a leap day
/// comes within it; the 31st of February never does).
const HORIZON_MS: i64 = 5 * 366 * DAY_MS;
/// Windows a search may skip to before giving up, within the horizon.
const MAX_WINDOW_SKIPS: usize = 10_000;

/// How due times recur.
#[derive(Debug, Clone)]
pub enum Recurrence {
    /// A step of elapsed time (`30s`, `15m`, `1h`), in milliseconds.
    Elapsed(i64),
    /// Whole days (`1d`; `1w` is 7): the anchor's wall-clock time on every step's day.
    Days(i64),
    Cron(Box<Cron>),
}

/// A weekly window: due times outside every window are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Indexed by days from Monday.
    pub days: [bool; 7],
    /// Seconds after local midnight: `from` included, `to` excluded (86,400 for `24:00`).
    pub from: u32,
    pub to: u32,
}

impl Window {
    fn admits(&self, local: &NaiveDateTime) -> bool {
        let day = local.weekday().num_days_from_monday() as usize;
        let second = local.num_seconds_from_midnight();
        self.days[day] && self.from <= second && second < self.to
    }
}

/// Everything that decides a schedule's due times.
#[derive(Debug, Clone)]
pub struct Plan {
    pub recurrence: Recurrence,
    pub zone: Tz,
    /// Where `every` counts from: `start_at`, or the creation time (Unix ms).
    pub anchor: i64,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub windows: Vec<Window>,
}

impl Plan {
    /// The first due time strictly after `t` (Unix ms), if any is left.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        let from = match self.start {
            Some(start) if start > t => start - 1,
            _ => t,
        };
        let horizon = from.saturating_add(HORIZON_MS);
        let mut candidate = self.candidate_after(from)?;
        for _ in 0..MAX_WINDOW_SKIPS {
            if candidate > horizon || self.end.is_some_and(|end| candidate > end) {
                return None;
            }
            if self.in_windows(candidate) {
                return Some(candidate);
            }
            // On to the first candidate of the next window, however many lie outside.
            let opening = self.next_opening(candidate)?;
            candidate = self.candidate_after(opening - 1)?;
        }
        None
    }

    /// When the next window after `t` opens.
    fn next_opening(&self, t: i64) -> Option<i64> {
        let today = self.local(t)?.date_naive();
        (0..=7)
            .filter_map(|offset| today.checked_add_signed(TimeDelta::days(offset)))
            .flat_map(|day| {
                let weekday = day.weekday().num_days_from_monday() as usize;
                self.windows
                    .iter()
                    .filter(move |window| window.days[weekday])
                    .filter_map(move |window| {
                        let from = NaiveTime::from_num_seconds_from_midnight_opt(window.from, 0)?;
                        resolve(&self.zone, day.and_time(from))
                    })
            })
            .filter(|&opening| opening > t)
            .min()
    }

    /// The next `count` due times after `t`.
    pub fn upcoming(&self, t: i64, count: usize) -> Vec<i64> {
        let mut due = Vec::with_capacity(count);
        let mut after = t;
        while due.len() < count {
            match self.next_after(after) {
                Some(next) => {
                    due.push(next);
                    after = next;
                }
                None => break,
            }
        }
        due
    }

    /// The latest due time at or before `now`, given `known`, a due time at or before it.
    pub fn latest_until(&self, known: i64, now: i64) -> i64 {
        // Look back over a widening span for a due time, then walk forward from it: a few
        // steps whatever the step and however long nothing fired.
        let mut span = 60_000_i64;
        loop {
            let probe = now.saturating_sub(span);
            if probe <= known {
                return self.walk_until(known, now);
            }
            if let Some(found) = self.next_after(probe).filter(|&due| due <= now) {
                return self.walk_until(found, now);
            }
            span = span.saturating_mul(2);
        }
    }

    /// How many due times lie strictly between `after` and `before`, counting up to `cap`.
    pub fn count_between(&self, after: i64, before: i64, cap: u64) -> u64 {
        let mut count = 0;
        let mut last = after;
        while count < cap {
            match self.next_after(last) {
                Some(next) if next < before => {
                    count += 1;
                    last = next;
                }
                _ => break,
            }
        }
        count
    }

    fn walk_until(&self, from: i64, now: i64) -> i64 {
        let mut last = from;
        while let Some(next) = self.next_after(last).filter(|&due| due <= now) {
            last = next;
        }
        last
    }

    fn in_windows(&self, t: i64) -> bool {
        if self.windows.is_empty() {
            return true;
        }
        let Some(local) = self.local(t) else {
            return false;
        };
        let local = local.naive_local();
        self.windows.iter().any(|window| window.admits(&local))
    }

    fn local(&self, t: i64) -> Option<DateTime<Tz>> {
        self.zone.timestamp_millis_opt(t).single()
    }

    /// The recurrence's next time after `t`, before windows and bounds.
    fn candidate_after(&self, t: i64) -> Option<i64> {
        match &self.recurrence {
            Recurrence::Elapsed(step) => {
                let steps = if t < self.anchor {
                    0
                } else {
                    (t - self.anchor) / step + 1
                };
                self.anchor.checked_add(steps.checked_mul(*step)?)
            }
            Recurrence::Days(days) => self.day_after(*days, t),
            Recurrence::Cron(cron) => self.cron_after(cron, t),
        }
    }

    fn day_after(&self, days: i64, t: i64) -> Option<i64> {
        let anchor = self.local(self.anchor)?.naive_local();
        // Daylight saving moves a step by an hour or two at most: start a step early.
        let estimate = ((t - self.anchor).div_euclid(days * DAY_MS) - 1).max(0);
        (estimate..estimate + 4).find_map(|step| {
            let day = anchor.checked_add_signed(TimeDelta::try_days(step.checked_mul(days)?)?)?;
            resolve(&self.zone, day).filter(|&due| due > t)
        })
    }

    fn cron_after(&self, cron: &Cron, t: i64) -> Option<i64> {
        let start = self.local(t)?;
        let floor = self.wall_floor(&start);
        let mut next = cron.find_next_occurrence(&start, false).ok()?;
        // The second pass of a repeated hour brings back wall-clock times already due.
        while next.naive_local() <= floor {
            next = cron.find_next_occurrence(&next, false).ok()?;
        }
        Some(next.timestamp_millis())
    }

    /// Wall-clock times up to this one were due by `start`: its own, and on the second pass of a
    /// repeated hour every wall-clock time of that hour, which the first pass went through.
    fn wall_floor(&self, start: &DateTime<Tz>) -> NaiveDateTime {
        let wall = start.naive_local();
        let second_pass = matches!(self.zone.from_local_datetime(&wall),
            LocalResult::Ambiguous(first, _) if first.timestamp_millis() != start.timestamp_millis());
        if !second_pass {
            return wall;
        }
        let mut floor = wall;
        // A repeated range lasts minutes to hours.
        for _ in 0..24 * 60 {
            let later = floor + TimeDelta::minutes(1);
            if !matches!(
                self.zone.from_local_datetime(&later),
                LocalResult::Ambiguous(..)
            ) {
                break;
            }
            floor = later;
        }
        floor.with_second(59).unwrap_or(floor)
    }
}

/// A wall-clock time in `zone` as an instant: the first of two when the clock goes through it
/// twice, and the end of the gap when the clock skips it.
fn resolve(zone: &Tz, local: NaiveDateTime) -> Option<i64> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => {
            Some(time.timestamp_millis())
        }
        LocalResult::None => {
            let mut probe = local.with_second(0)?.with_nanosecond(0)?;
            // Gaps last minutes to hours, and end on a whole minute.
            for _ in 0..24 * 60 {
                probe = probe.checked_add_signed(TimeDelta::minutes(1))?;
                if let Some(time) = zone.from_local_datetime(&probe).earliest() {
                    return Some(time.timestamp_millis());
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::schedules::spec::ScheduleSpec;

    fn at(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    /// The first `count` due times after `after` of a plan created at `created`.
    fn upcoming(
        fields: serde_json::Value,
        created: &str,
        after: &str,
        count: usize,
    ) -> Vec<String> {
        let due = plan(fields, created).upcoming(at(after), count);
        due.into_iter().map(crate::timestamp::to_rfc3339).collect()
    }

    /// A plan as a client would send it, created at `created`.
    fn plan(fields: serde_json::Value, created: &str) -> Plan {
        let mut spec = serde_json::json!({"name": "s", "webhook": "whk_1"});
        for (key, value) in fields.as_object().unwrap() {
            spec[key] = value.clone();
        }
        let mut spec: ScheduleSpec = serde_json::from_value(spec).unwrap();
        spec.validate(at(created)).unwrap().plan
    }

    #[test]
    fn every_counts_elapsed_steps_from_the_creation_time_or_start_at() {
        let created = "2026-12-07T10:00:10Z";
        assert_eq!(
            upcoming(serde_json::json!({"every": "15m"}), created, created, 3),
            [
                "2026-12-07T10:15:10.000Z",
                "2026-12-07T10:30:10.000Z",
                "2026-12-07T10:45:10.000Z"
            ]
        );
        let bounded = serde_json::json!({"every": "1h", "start_at": "2026-12-08T00:00:00Z", "end_at": "2026-12-08T02:00:00Z"});
        assert_eq!(
            upcoming(bounded, created, created, 5),
            [
                "2026-12-08T00:00:00.000Z",
                "2026-12-08T01:00:00.000Z",
                "2026-12-08T02:00:00.000Z"
            ],
            "start_at is the first due time, end_at the last possible one"
        );
    }

    #[test]
    fn daily_steps_keep_the_wall_clock_time_across_daylight_saving() {
        // Created at 08:30 in Berlin the Friday before summer time starts.
        assert_eq!(
            upcoming(
                serde_json::json!({"every": "1d", "timezone": "Europe/Berlin"}),
                "2026-03-27T07:30:00Z",
                "2026-03-27T07:30:00Z",
                3
            ),
            [
                "2026-03-28T07:30:00.000Z",
                "2026-03-29T06:30:00.000Z",
                "2026-03-30T06:30:00.000Z"
            ]
        );
        // 02:30 does not exist on 29 March: that day it fires once, at 03:00 summer time.
        assert_eq!(
            upcoming(
                serde_json::json!({"every": "1d", "timezone": "Europe/Berlin"}),
                "2026-03-27T01:30:00Z",
                "2026-03-27T01:30:00Z",
                3
            ),
            [
                "2026-03-28T01:30:00.000Z",
                "2026-03-29T01:00:00.000Z",
                "2026-03-30T00:30:00.000Z"
            ]
        );
    }

    #[test]
    fn cron_patterns_take_names_ranges_and_steps() {
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "30 8 * * MON-FRI", "timezone": "Europe/Berlin"}),
                "2026-12-04T12:00:00Z",
                "2026-12-04T12:00:00Z",
                3
            ),
            [
                "2026-12-07T07:30:00.000Z",
                "2026-12-08T07:30:00.000Z",
                "2026-12-09T07:30:00.000Z"
            ],
            "Friday afternoon: next Monday 08:30 CET"
        );
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "*/20 9-10 1,15 JAN *"}),
                "2026-12-07T00:00:00Z",
                "2026-12-07T00:00:00Z",
                7
            ),
            [
                "2027-01-01T09:00:00.000Z",
                "2027-01-01T09:20:00.000Z",
                "2027-01-01T09:40:00.000Z",
                "2027-01-01T10:00:00.000Z",
                "2027-01-01T10:20:00.000Z",
                "2027-01-01T10:40:00.000Z",
                "2027-01-15T09:00:00.000Z"
            ]
        );
    }

    #[test]
    fn a_skipped_wall_clock_time_fires_once_where_the_gap_ends() {
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "30 2 * * *", "timezone": "Europe/Berlin"}),
                "2026-03-27T12:00:00Z",
                "2026-03-27T12:00:00Z",
                3
            ),
            [
                "2026-03-28T01:30:00.000Z",
                "2026-03-29T01:00:00.000Z",
                "2026-03-30T00:30:00.000Z"
            ]
        );
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "30 2 * * *", "timezone": "America/New_York"}),
                "2026-03-07T12:00:00Z",
                "2026-03-07T12:00:00Z",
                3
            ),
            [
                "2026-03-08T07:00:00.000Z",
                "2026-03-09T06:30:00.000Z",
                "2026-03-10T06:30:00.000Z"
            ],
            "03:00 EDT on 8 March, then 02:30 EDT"
        );
    }

    #[test]
    fn a_repeated_wall_clock_time_fires_once() {
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "30 2 * * *", "timezone": "Europe/Berlin"}),
                "2026-10-24T12:00:00Z",
                "2026-10-24T12:00:00Z",
                2
            ),
            ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
            "02:30 CEST on 25 October, not again at 02:30 CET"
        );
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "30 1 * * *", "timezone": "America/New_York"}),
                "2026-10-31T12:00:00Z",
                "2026-10-31T12:00:00Z",
                2
            ),
            ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]
        );
        assert_eq!(
            upcoming(
                serde_json::json!({"cron": "*/30 * * * *", "timezone": "America/New_York"}),
                "2026-10-31T12:00:00Z",
                "2026-11-01T05:00:00Z",
                2
            ),
            ["2026-11-01T05:30:00.000Z", "2026-11-01T07:00:00.000Z"],
            "01:30 EDT, then 02:00 EST: the repeated 01:00 and 01:30 do not fire again"
        );
    }

    #[test]
    fn due_times_outside_every_window_are_skipped() {
        assert_eq!(
            upcoming(
                serde_json::json!({"every": "15m", "start_at": "2026-12-04T00:00:00+01:00",
            "timezone": "Europe/Berlin", "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}]}),
                "2026-12-01T00:00:00Z",
                "2026-12-04T16:40:00Z",
                3
            ),
            [
                "2026-12-04T16:45:00.000Z",
                "2026-12-07T07:00:00.000Z",
                "2026-12-07T07:15:00.000Z"
            ],
            "17:45 on Friday is the last one inside; 18:00 is outside; then Monday 08:00"
        );
    }

    #[test]
    fn missed_due_times_are_found_and_counted_however_long_nothing_fired() {
        let every = plan(
            serde_json::json!({"every": "10s", "start_at": "2026-01-01T00:00:00Z"}),
            "2026-01-01T00:00:00Z",
        );
        let first = at("2026-01-01T00:00:00Z");
        let now = at("2026-03-01T00:00:05Z");
        assert_eq!(every.latest_until(first, now), at("2026-03-01T00:00:00Z"));
        assert_eq!(every.count_between(first - 1, first + 35_000, 100), 4);
        assert_eq!(
            every.count_between(first - 1, now, 100),
            100,
            "counted up to the cap"
        );
    }

    #[test]
    fn a_fast_step_inside_weekday_hours_goes_on_after_the_weekend() {
        let office = serde_json::json!({"every": "1s", "start_at": "2026-12-04T00:00:00+01:00",
            "timezone": "Europe/Berlin", "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}]});
        assert_eq!(
            upcoming(office, "2026-12-01T00:00:00Z", "2026-12-04T16:59:58Z", 3),
            [
                "2026-12-04T16:59:59.000Z",
                "2026-12-07T07:00:00.000Z",
                "2026-12-07T07:00:01.000Z"
            ]
        );
    }

    #[test]
    fn the_second_pass_of_a_repeated_hour_does_not_bring_its_times_back() {
        // 01:00, 01:20 and 01:40 fired on the first pass (EDT); at 01:10 on the second pass
        // (EST) the next due time is the next day's 01:00.
        let twenty = serde_json::json!({"cron": "*/20 1 * * *", "timezone": "America/New_York"});
        assert_eq!(
            upcoming(
                twenty.clone(),
                "2026-10-31T12:00:00Z",
                "2026-11-01T04:59:00Z",
                4
            ),
            [
                "2026-11-01T05:00:00.000Z",
                "2026-11-01T05:20:00.000Z",
                "2026-11-01T05:40:00.000Z",
                "2026-11-02T06:00:00.000Z"
            ]
        );
        assert_eq!(
            upcoming(twenty, "2026-10-31T12:00:00Z", "2026-11-01T06:10:00Z", 1),
            ["2026-11-02T06:00:00.000Z"]
        );
    }
}
