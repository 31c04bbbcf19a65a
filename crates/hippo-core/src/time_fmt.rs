//! Timestamps: stored as Unix milliseconds, shown as RFC 3339 UTC.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The current time in Unix milliseconds.
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Formats Unix milliseconds as RFC 3339 (e.g. `2026-11-25T03:04:05.123Z`).
pub fn rfc3339(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| millis.to_string())
}

/// Parses an RFC 3339 timestamp into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_milliseconds() {
        let t = 1_764_039_845_123;
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
