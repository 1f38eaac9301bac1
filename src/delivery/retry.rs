//! What an attempt's result means (SPEC §6.3): success, a retry (and when), or a final failure.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::outbound::{OutboundResponse, SendError};
use crate::webhooks::Format;

/// Delays after the 1st, 2nd, … failed attempt; later attempts double the last, up to the cap.
const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(2 * 60 * 60),
];
const LONGEST_DELAY: Duration = Duration::from_secs(12 * 60 * 60);
const JITTER: f64 = 0.2;
const RETRY_AFTER_MIN: Duration = Duration::from_secs(1);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Succeeded,
    /// Worth another attempt; `after` is the receiver's own `Retry-After`, if it sent one.
    Retry {
        after: Option<Duration>,
    },
    Failed,
}

/// Connection errors and timeouts are retried; the SSRF guard's refusals are final.
pub fn judge_error(error: &SendError) -> Verdict {
    match error {
        SendError::Refused(_) => Verdict::Failed,
        SendError::TimedOut(_) | SendError::Connect(_) | SendError::Failed(_) => {
            Verdict::Retry { after: None }
        }
    }
}

/// 2xx succeeds; 408, 425, 429 and 5xx are retried; every other status is final.
pub fn judge_status(response: &OutboundResponse, now: DateTime<Utc>) -> Verdict {
    match response.status {
        200..=299 => Verdict::Succeeded,
        408 | 425 | 429 | 500..=599 => Verdict::Retry {
            after: retry_after(response, now),
        },
        _ => Verdict::Failed,
    }
}

/// The status, and for chat platforms that report failures in a `2xx` answer, the body:
/// Slack's API answers `{"ok": false, "error": …}`; an Office 365 connector answers `1` on
/// success and reports throttling as text mentioning `429` ("Connectors do not throw 429s").
pub fn judge_answer(format: Format, response: &OutboundResponse, now: DateTime<Utc>) -> Verdict {
    let verdict = judge_status(response, now);
    if verdict != Verdict::Succeeded {
        return verdict;
    }
    match format {
        Format::Slack => match serde_json::from_slice::<serde_json::Value>(&response.body) {
            Ok(answer) if answer.get("ok") == Some(&serde_json::Value::Bool(false)) => {
                if answer.get("error").and_then(serde_json::Value::as_str) == Some("ratelimited") {
                    Verdict::Retry {
                        after: retry_after(response, now),
                    }
                } else {
                    Verdict::Failed
                }
            }
            _ => verdict,
        },
        Format::Teams => {
            let body = String::from_utf8_lossy(&response.body);
            let body = body.trim();
            if body.is_empty() || body == "1" {
                verdict
            } else if body.contains("429") {
                Verdict::Retry { after: None }
            } else {
                Verdict::Failed
            }
        }
        _ => verdict,
    }
}

/// The receiver's wish: `Retry-After` in seconds or as an HTTP date, or Discord's JSON
/// `retry_after` (seconds, fractional), bounded to between 1 s and 1 h.
pub fn retry_after(response: &OutboundResponse, now: DateTime<Utc>) -> Option<Duration> {
    let from_header = response.header("retry-after").and_then(|value| {
        let value = value.trim();
        match value.parse::<f64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => DateTime::parse_from_rfc2822(value)
                .ok()
                .map(|at| (at.with_timezone(&Utc) - now).num_milliseconds() as f64 / 1000.0),
        }
    });
    let from_body = || {
        serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|json| json.get("retry_after").and_then(serde_json::Value::as_f64))
    };
    let seconds = from_header.or_else(from_body)?;
    if !seconds.is_finite() {
        return None;
    }
    let wanted = Duration::from_secs_f64(seconds.max(0.0).min(RETRY_AFTER_MAX.as_secs_f64()));
    Some(wanted.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX))
}

/// The wait before the next attempt after `failed_attempts` failures: the receiver's
/// `Retry-After` when given, else the schedule with ±20 % jitter. `unit` is a random number in
/// [0, 1) that picks the jitter.
pub fn next_delay(failed_attempts: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    if let Some(wanted) = retry_after {
        return wanted;
    }
    let index = usize::try_from(failed_attempts.max(1) - 1).unwrap_or(usize::MAX);
    let base = match SCHEDULE.get(index) {
        Some(delay) => *delay,
        None => {
            let doublings = u32::try_from(index + 1 - SCHEDULE.len())
                .unwrap_or(u32::MAX)
                .min(8);
            (SCHEDULE[SCHEDULE.len() - 1] * 2u32.pow(doublings)).min(LONGEST_DELAY)
        }
    };
    base.mul_f64(1.0 + JITTER * (2.0 * unit - 1.0))
}

/// A uniformly distributed number in [0, 1) from the operating system's generator.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_platforms_that_fail_with_2xx_are_judged_by_their_body() {
        let now = Utc::now();
        let judge = |format, body: &str| judge_answer(format, &response(200, &[], body), now);
        assert_eq!(judge(Format::Slack, "ok"), Verdict::Succeeded);
        assert_eq!(judge(Format::Slack, r#"{"ok":true}"#), Verdict::Succeeded);
        assert_eq!(
            judge(Format::Slack, r#"{"ok":false,"error":"channel_not_found"}"#),
            Verdict::Failed
        );
        assert_eq!(
            judge(Format::Slack, r#"{"ok":false,"error":"ratelimited"}"#),
            Verdict::Retry { after: None }
        );
        assert_eq!(judge(Format::Teams, "1"), Verdict::Succeeded);
        assert_eq!(
            judge(
                Format::Teams,
                "Microsoft Teams endpoint returned HTTP error 429"
            ),
            Verdict::Retry { after: None }
        );
        assert_eq!(
            judge(Format::Teams, "Summary or Text is required."),
            Verdict::Failed
        );
        assert_eq!(
            judge(Format::Generic, r#"{"ok":false}"#),
            Verdict::Succeeded
        );
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        hyper::header::HeaderName::try_from(*n).unwrap(),
                        hyper::header::HeaderValue::try_from(*v).unwrap(),
                    )
                })
                .collect(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn statuses_are_judged_as_the_spec_says() {
        let now = Utc::now();
        for retried in [408, 425, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    judge_status(&response(retried, &[], ""), now),
                    Verdict::Retry { .. }
                ),
                "{retried}"
            );
        }
        for final_status in [301, 400, 401, 404, 410, 422] {
            assert_eq!(
                judge_status(&response(final_status, &[], ""), now),
                Verdict::Failed,
                "{final_status}"
            );
        }
        assert_eq!(
            judge_status(&response(204, &[], ""), now),
            Verdict::Succeeded
        );
    }

    #[test]
    fn retry_after_comes_in_seconds_dates_and_discord_json() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let seconds = response(429, &[("Retry-After", "7")], "");
        let date = response(503, &[("retry-after", "Sun, 22 Nov 2026 10:00:30 GMT")], "");
        let discord = response(
            429,
            &[],
            r#"{"message": "rate limited", "retry_after": 2.5, "global": false}"#,
        );
        let huge = response(429, &[("Retry-After", "999999")], "");
        let tiny = response(429, &[("Retry-After", "0")], "");
        assert_eq!(retry_after(&seconds, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after(&discord, now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_after(&huge, now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after(&tiny, now), Some(RETRY_AFTER_MIN));
        assert_eq!(retry_after(&response(500, &[], "oops"), now), None);
    }

    #[test]
    fn the_schedule_grows_with_bounded_jitter() {
        assert_eq!(next_delay(1, None, 0.5), Duration::from_secs(5));
        assert_eq!(next_delay(2, None, 0.5), Duration::from_secs(30));
        assert_eq!(next_delay(7, None, 0.5), Duration::from_secs(7200));
        assert_eq!(next_delay(8, None, 0.5), Duration::from_secs(14400));
        assert_eq!(next_delay(30, None, 0.5), LONGEST_DELAY);
        assert_eq!(next_delay(1, None, 0.0), Duration::from_secs(4));
        assert!(next_delay(1, None, 0.999_999) < Duration::from_secs(6));
        assert_eq!(
            next_delay(3, Some(Duration::from_secs(9)), 0.5),
            Duration::from_secs(9)
        );
    }

    #[test]
    fn random_units_stay_in_range() {
        for _ in 0..1000 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }
}
