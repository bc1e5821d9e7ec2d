//! Latency percentiles (an HDR histogram) and the run's report: the JSON written by
//! `--report FILE` and the human summary.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies in microseconds, 1 µs to 1 hour, 3 significant digits.
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // The bounds are constants that hdrhistogram accepts.
        Self(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    /// Adds one latency (under 1 µs counts as 1 µs).
    pub fn record(&mut self, latency: Duration) {
        self.0.saturating_record((latency.as_micros() as u64).max(1));
    }

    /// Latencies recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; 0 with no samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.0.is_empty() { 0.0 } else { self.0.value_at_quantile(q) as f64 / 1e3 }
    }

    /// The percentiles the report gives.
    pub fn summary(&self) -> LatencyMs {
        LatencyMs {
            p50: self.quantile_ms(0.5),
            p90: self.quantile_ms(0.9),
            p99: self.quantile_ms(0.99),
            p999: self.quantile_ms(0.999),
            max: if self.0.is_empty() { 0.0 } else { self.0.max() as f64 / 1e3 },
        }
    }
}

/// Request latency percentiles in milliseconds, from each batch's scheduled send time to the
/// response that settled its last event (retries included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The 99.9th percentile.
    pub p999: f64,
    /// The slowest.
    pub max: f64,
}

/// The conservation check of `--verify`, over this run's events only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events acknowledged (as in the main report).
    pub accepted: u64,
    /// Acknowledged events found in the events store (each counted once).
    pub stored: u64,
    /// Acknowledged events found as bad rows (each counted once).
    pub bad_rows: u64,
    /// `accepted - stored - bad_rows`: acknowledged events found nowhere. Must be 0.
    pub missing: u64,
    /// With `--archive-dir`/`--archive-bucket`: valid accepted events found in the archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<u64>,
    /// Valid accepted events not in the archive. Must be 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_missing: Option<u64>,
}

impl VerifyReport {
    /// The check's counts without the archive: `missing` worked out from them.
    pub fn new(accepted: u64, stored: u64, bad_rows: u64) -> Self {
        Self { accepted, stored, bad_rows, missing: accepted.saturating_sub(stored).saturating_sub(bad_rows), archived: None, archive_missing: None }
    }

    /// Adds the archive check: `expected` valid accepted events, `archived` of them found.
    pub fn with_archive(self, expected: u64, archived: u64) -> Self {
        Self { archived: Some(archived), archive_missing: Some(expected.saturating_sub(archived)), ..self }
    }
}

/// The JSON report (`--report FILE`). Counts are of events, not requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Events attempted: every event of every batch sent at least once (a retry does not
    /// count again).
    pub sent: u64,
    /// Events acknowledged with a `SequenceNumber` (durably accepted by the target).
    pub accepted: u64,
    /// Throttle answers seen, in events: each record refused with an `ErrorCode`, and every
    /// event of a `429`/`503` response. An event throttled twice counts twice.
    pub throttled: u64,
    /// Events given up on: retries exhausted, a refused request (`4xx`), or the run stopped.
    pub failed: u64,
    /// Seconds from the schedule's start to its end (`--duration`), or to the last response
    /// when that came later.
    pub duration_s: f64,
    /// `accepted / duration_s`.
    pub achieved_events_per_s: f64,
    /// Latency percentiles over every batch.
    pub latency_ms: LatencyMs,
    /// Only with `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
}

impl Report {
    /// The report as pretty-printed JSON (what `--report FILE` holds).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What else the summary says (not part of the JSON report).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// `--rate`: the events per second asked for.
    pub target_rate: f64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Failed attempts that were retried: timeouts, connection errors, `5xx`.
    pub errors: u64,
    /// The 99th percentile of how late batches went out after their due time: the sender's own lag.
    pub send_lag_p99_ms: f64,
    /// The generator's events per second of its own time, once it made some.
    pub generator_capacity: Option<f64>,
    /// Acknowledged-or-not events of this run found stored or as bad rows although no
    /// acknowledgement was seen (a response lost to a timeout).
    pub unacknowledged_found: u64,
    /// Valid events found as bad rows, or invalid ones found stored.
    pub misplaced: u64,
}

/// The human summary.
pub fn summary(r: &Report, x: &Extras) -> String {
    let mut s = format!(
        "sent {} events in {} requests over {:.1} s: accepted {} ({:.0} events/s; target {:.0}/s), throttled {}, failed {}, retried errors {}\n",
        r.sent, x.requests, r.duration_s, r.accepted, r.achieved_events_per_s, x.target_rate, r.throttled, r.failed, x.errors
    );
    let l = r.latency_ms;
    s += &format!(
        "latency from the scheduled send (ms): p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (sends started late: p99 {:.1} ms)\n",
        l.p50, l.p90, l.p99, l.p999, l.max, x.send_lag_p99_ms
    );
    if let Some(c) = x.generator_capacity {
        s += &format!("generator: {c:.0} events/s of one core\n");
    }
    if let Some(v) = r.verify {
        s += &format!(
            "verify: accepted {} = stored {} + bad rows {} + missing {}{}\n",
            v.accepted,
            v.stored,
            v.bad_rows,
            v.missing,
            if v.missing == 0 { " (conserved)" } else { " (NOT conserved)" }
        );
        if let (Some(archived), Some(missing)) = (v.archived, v.archive_missing) {
            s += &format!(
                "verify: archive: {archived} of {} valid accepted events{}\n",
                archived + missing,
                if missing == 0 { " (all archived)" } else { " (NOT all archived)" }
            );
        }
        if x.unacknowledged_found > 0 {
            s += &format!("verify: {} events whose acknowledgement was lost were found too (not counted above)\n", x.unacknowledged_found);
        }
        if x.misplaced > 0 {
            s += &format!("verify: {} events ended on the wrong side (valid as a bad row or invalid stored)\n", x.misplaced);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_in_milliseconds() {
        let mut h = Latencies::default();
        assert_eq!(h.summary(), LatencyMs::default());
        for ms in 1..=1_000u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(near(s.p50, 500.0), "{s:?}");
        assert!(near(s.p90, 900.0), "{s:?}");
        assert!(near(s.p99, 990.0), "{s:?}");
        assert!(near(s.p999, 999.0), "{s:?}");
        assert!(near(s.max, 1_000.0), "{s:?}");
        // Sub-microsecond and huge values are kept, not dropped.
        h.record(Duration::from_nanos(10));
        h.record(Duration::from_secs(7_200));
        assert_eq!(h.len(), 1_002);
    }

    #[test]
    fn missing_is_accepted_minus_stored_minus_bad_rows() {
        assert_eq!(VerifyReport::new(100, 90, 10).missing, 0);
        assert_eq!(VerifyReport::new(100, 80, 15), VerifyReport { accepted: 100, stored: 80, bad_rows: 15, missing: 5, archived: None, archive_missing: None });
        assert_eq!(VerifyReport::new(100, 90, 10).with_archive(90, 88).archive_missing, Some(2));
    }

    fn keys(v: &serde_json::Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn the_report_json_has_exactly_the_documented_fields() {
        let mut r = Report { sent: 10, accepted: 9, throttled: 2, failed: 1, duration_s: 2.0, achieved_events_per_s: 4.5, ..Report::default() };
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(keys(&v), ["accepted", "achieved_events_per_s", "duration_s", "failed", "latency_ms", "sent", "throttled"]);
        assert_eq!(keys(&v["latency_ms"]), ["max", "p50", "p90", "p99", "p999"]);
        assert_eq!(v["sent"], 10);
        r.verify = Some(VerifyReport::new(9, 7, 1));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(keys(&v["verify"]), ["accepted", "bad_rows", "missing", "stored"]);
        assert_eq!(v["verify"]["missing"], 1);
        let text = summary(&r, &Extras::default());
        assert!(text.contains("missing 1 (NOT conserved)"), "{text}");
        r.verify = Some(VerifyReport::new(9, 8, 1).with_archive(8, 8));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(keys(&v["verify"]), ["accepted", "archive_missing", "archived", "bad_rows", "missing", "stored"]);
        assert!(summary(&r, &Extras::default()).contains("archive: 8 of 8 valid accepted events"));
    }
}
