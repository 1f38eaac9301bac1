//! Times are stored as Unix epoch milliseconds and shown as RFC 3339 UTC.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Unix nanoseconds, for ordering what happens within a millisecond.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

pub fn to_rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds rounded to the microsecond: a plain number in the log (`0.041`, not the float
/// noise `0.041128000000000005`), precise enough for a request's latency.
pub fn rounded_millis(elapsed: Duration) -> f64 {
    let micros = (elapsed.as_nanos() + 500) / 1000;
    // Whole microseconds over 1000 print with at most three decimals: the division is
    // correctly rounded, so the shortest text that reads back as it is the decimal itself.
    micros as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_utc_with_milliseconds() {
        assert_eq!(to_rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn latencies_are_milliseconds_with_at_most_three_decimals() {
        let cases = [
            (Duration::from_nanos(41_128), "0.041"),
            (Duration::from_nanos(41_500), "0.042"),
            (Duration::from_nanos(499), "0.0"),
            (Duration::from_micros(1_234_567), "1234.567"),
            (Duration::from_millis(12), "12.0"),
        ];
        // As the log prints a float field.
        for (elapsed, printed) in cases {
            assert_eq!(
                format!("{:?}", rounded_millis(elapsed)),
                printed,
                "{elapsed:?}"
            );
        }
        for micros in 0..100_000u64 {
            let text = format!("{:?}", rounded_millis(Duration::from_micros(micros)));
            let decimals = text
                .split_once('.')
                .map_or(0, |(_, fraction)| fraction.len());
            assert!(decimals <= 3, "{micros} µs printed as {text}");
        }
    }
}
