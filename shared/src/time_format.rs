//! The pipeline's timestamp formats: RFC 3339 in UTC with a `Z`, so text order is time order.

use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Timelike, Utc};

/// Millisecond precision: `2026-11-27T12:00:00.123Z` (event times, sort keys, `_pipeline` times).
pub fn format_millis(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(24);
    push_millis(&mut out, t);
    out
}

/// Appends `t` as `2026-11-27T12:00:00.123Z`; years outside 0..=9999 fall back to chrono's form.
pub fn push_millis(out: &mut String, t: DateTime<Utc>) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
        return;
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut text[0..4], year as u32);
    put_digits(&mut text[5..7], t.month());
    put_digits(&mut text[8..10], t.day());
    put_digits(&mut text[11..13], t.hour());
    put_digits(&mut text[14..16], t.minute());
    put_digits(&mut text[17..19], t.second());
    // A leap second shows in chrono as nanoseconds past 1e9: keep it within the second.
    put_digits(&mut text[20..23], (t.nanosecond() / 1_000_000).min(999));
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Appends the UTC date `2026-11-27` (the archive's `dt` partition).
pub fn push_date(out: &mut String, t: DateTime<Utc>) {
    let mut text = *b"0000-00-00";
    put_digits(&mut text[0..4], t.year().clamp(0, 9999) as u32);
    put_digits(&mut text[5..7], t.month());
    put_digits(&mut text[8..10], t.day());
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Appends the UTC hour `00`..`23` (the archive's `hr` partition).
pub fn push_hour(out: &mut String, t: DateTime<Utc>) {
    let mut text = *b"00";
    put_digits(&mut text, t.hour());
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Writes `value`'s last `slot.len()` decimal digits into `slot`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Second precision: `2026-11-27T12:00:00Z` (bad rows' `failed_at`).
pub fn format_seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 date-time into UTC.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The earliest event time the pipeline keeps: 0001-01-01T00:00:00Z (DESIGN section 2).
pub fn earliest_event_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest event time the pipeline keeps: 9999-12-31T23:59:59.999Z. Every time in
/// between has a four-digit year in UTC, so its text (keys, partitions) sorts as time.
pub fn latest_event_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t + chrono::Duration::milliseconds(999))
}

/// Whether `t` lies in [`earliest_event_time`]..=[`latest_event_time`].
pub fn is_representable(t: DateTime<Utc>) -> bool {
    (earliest_event_time()..=latest_event_time()).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_match_chrono_and_sort_as_time() {
        for text in ["2026-11-27T12:00:00Z", "2026-01-02T03:04:05.678+02:00", "0999-12-31T23:59:59.999Z"] {
            let t = parse_rfc3339(text).unwrap();
            assert_eq!(format_millis(t), t.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        let a = format_millis(parse_rfc3339("2026-11-27T09:59:59.999Z").unwrap());
        let b = format_millis(parse_rfc3339("2026-11-27T10:00:00Z").unwrap());
        assert!(a < b);
    }

    #[test]
    fn the_representable_range_is_years_1_to_9999_in_utc() {
        for inside in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "0001-01-01T00:59:00+00:59", "9999-12-31T23:59:59.999+00:00"] {
            assert!(is_representable(parse_rfc3339(inside).unwrap()), "{inside}");
        }
        for outside in [
            "9999-12-31T23:59:59-00:01",
            "0000-01-01T00:00:00+00:01",
            "0001-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59.9999Z",
            "0000-12-31T23:59:59.999Z",
            "9999-12-31T23:59:60Z",
        ] {
            let t = parse_rfc3339(outside).unwrap();
            assert!(!is_representable(t), "{outside} is {t}");
        }
    }
}
