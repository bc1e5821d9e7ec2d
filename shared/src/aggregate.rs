//! Aggregates (DESIGN sections 5-6): per event-time window and event type, the event count,
//! the unique users as a HyperLogLog sketch, and revenue per currency. A batch's events
//! become partial aggregates ([`partials`]); partials and rows merge ([`Aggregate::merge`]);
//! windows roll up from minute to month ([`Granularity`]). Pure: no I/O.
//!
//! Merging is exact for counts and revenue (integer millionths, so sums are associative)
//! and lossless for the sketch (register-wise maximum), so merging the same inputs in any
//! grouping gives the same figures.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cardinality_estimator::CardinalityEstimator;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::enrich::EnrichedEvent;
use crate::group::{GroupField, grouped_key};
use crate::money::MICROS_PER_UNIT;
use crate::record::Record;

/// HyperLogLog precision: 2^14 registers of 6 bits (12 KiB once a sketch holds more than
/// 128 users; below that the users' hashes are kept and counted exactly).
pub const SKETCH_PRECISION: usize = 14;
const SKETCH_WIDTH: usize = 6;
/// The sketch's relative standard error, 1.04 / sqrt(2^14): estimates of large sets are
/// within 0.81 % of the exact figure two times in three, and within 2.5 % practically always.
pub const SKETCH_STANDARD_ERROR: f64 = 0.0081;

/// Why stored aggregate data could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// A sketch's bytes do not decode; holds postcard's reason.
    #[error("a stored user sketch is corrupt ({0}); delete the row and run the aggregator again")]
    Sketch(String),
    /// Stored revenue is not currency to millionths.
    #[error("stored revenue {text:?} is not a map of currency to millionths ({reason})")]
    Revenue {
        /// The stored text.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A window or marker key does not parse; holds what was wrong.
    #[error("a stored window or marker is unreadable: {0}")]
    Window(String),
}

type Estimator = CardinalityEstimator<str, wyhash::WyHash, SKETCH_PRECISION, SKETCH_WIDTH>;

/// Unique users: a HyperLogLog++ sketch (Cloudflare's `cardinality-estimator`, exact up to
/// 128 users) over the users' ids, hashed with a fixed-seed hash so that sketches made by
/// any process, Lambda or local, merge.
#[derive(Clone, Default, PartialEq)]
pub struct UserSketch(Estimator);

impl fmt::Debug for UserSketch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserSketch(~{})", self.estimate())
    }
}

/// Low bits of the estimator's first word that say which representation it is; the other
/// bits of a non-inline representation are a heap address and are not stored.
const REPRESENTATION_TAG: u64 = 3;

impl UserSketch {
    /// Counts `user_id` (again or for the first time: a set).
    pub fn insert(&mut self, user_id: &str) {
        self.0.insert(user_id);
    }

    /// Adds `other`'s users: the union, as if each had been inserted here.
    pub fn merge(&mut self, other: &UserSketch) {
        self.0.merge(&other.0);
    }

    /// How many different users were inserted: exact up to 128, then within [`SKETCH_STANDARD_ERROR`].
    pub fn estimate(&self) -> u64 {
        self.0.estimate() as u64
    }

    /// The sketch as bytes (postcard), the same for the same users inserted in the same order.
    pub fn to_bytes(&self) -> Vec<u8> {
        // The estimator serialises as (word, registers); for the array and HLL forms the word
        // holds a pointer, of which only the tag is needed to read it back.
        let encoded = postcard::to_allocvec(&self.0).unwrap_or_default();
        match postcard::from_bytes::<(u64, Option<Vec<u32>>)>(&encoded) {
            Ok((word, Some(registers))) => {
                postcard::to_allocvec(&(word & REPRESENTATION_TAG, Some(registers))).unwrap_or(encoded)
            }
            _ => encoded,
        }
    }

    /// Reads [`UserSketch::to_bytes`]'s form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AggregateError> {
        postcard::from_bytes::<Estimator>(bytes).map(UserSketch).map_err(|e| AggregateError::Sketch(e.to_string()))
    }
}

/// The aggregate of a set of events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aggregate {
    /// Events counted.
    pub count: u64,
    /// The users they came from.
    pub users: UserSketch,
    /// Revenue per currency, in millionths.
    pub revenue: BTreeMap<String, u128>,
}

impl Aggregate {
    /// Counts `event`: one more event, its user, its revenue if it has any.
    pub fn add(&mut self, event: &EnrichedEvent) {
        self.count += 1;
        self.users.insert(&event.user_id);
        if let Some(money) = &event.revenue {
            let total = self.revenue.entry(money.currency.clone()).or_default();
            *total = total.saturating_add(money.micros);
        }
    }

    /// Adds `other` in: counts and revenue summed (saturating), users united.
    pub fn merge(&mut self, other: &Aggregate) {
        self.count = self.count.saturating_add(other.count);
        self.users.merge(&other.users);
        for (currency, micros) in &other.revenue {
            // Saturates rather than wrapping: ~3.4e32 units of one currency in one window
            // cannot be a real sum, and a wrapped one would look plausible.
            let total = self.revenue.entry(currency.clone()).or_default();
            *total = total.saturating_add(*micros);
        }
    }

    /// The merge of `parts`, in the order given.
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a Aggregate>) -> Aggregate {
        parts.into_iter().fold(Aggregate::default(), |mut total, part| {
            total.merge(part);
            total
        })
    }

    /// The estimate of distinct users (see [`UserSketch::estimate`]).
    pub fn unique_users(&self) -> u64 {
        self.users.estimate()
    }

    /// Revenue per currency in units (`12.5` for 12.50 USD).
    #[allow(clippy::cast_precision_loss)]
    pub fn revenue_units(&self) -> BTreeMap<String, f64> {
        self.revenue.iter().map(|(c, micros)| (c.clone(), *micros as f64 / MICROS_PER_UNIT)).collect()
    }

    /// The stored form the aggregate tables keep.
    pub fn encode(&self) -> EncodedAggregate {
        let revenue: BTreeMap<&str, String> = self.revenue.iter().map(|(c, m)| (c.as_str(), m.to_string())).collect();
        EncodedAggregate {
            count: self.count,
            users: self.users.to_bytes(),
            revenue: serde_json::to_string(&revenue).unwrap_or_else(|_| "{}".into()),
        }
    }
}

/// An aggregate as the tables store it: the count, the sketch's bytes, and revenue as JSON
/// text of currency to millionths (`{"USD":"12500000"}`; text, since sums outgrow 64 bits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedAggregate {
    /// Events counted.
    pub count: u64,
    /// [`UserSketch::to_bytes`] of the users.
    pub users: Vec<u8>,
    /// Revenue as JSON text, `{"USD":"12500000"}`.
    pub revenue: String,
}

impl EncodedAggregate {
    /// The aggregate back, or why the stored form is unreadable.
    pub fn decode(&self) -> Result<Aggregate, AggregateError> {
        let bad = |reason: String| AggregateError::Revenue { text: self.revenue.clone(), reason };
        let texts: BTreeMap<String, String> = serde_json::from_str(&self.revenue).map_err(|e| bad(e.to_string()))?;
        let revenue = texts
            .into_iter()
            .map(|(c, m)| m.parse::<u128>().map(|m| (c, m)).map_err(|e| bad(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Aggregate { count: self.count, users: UserSketch::from_bytes(&self.users)?, revenue })
    }
}

/// The window sizes aggregates are kept at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    /// Windows of one minute, the unit partials are counted in.
    Minute,
    /// Windows of one hour.
    Hour,
    /// Windows of one UTC day.
    Day,
    /// Windows of one calendar month (UTC).
    Month,
}

impl Granularity {
    /// Finest first: the order windows roll up in.
    pub const ALL: [Granularity; 4] = [Granularity::Minute, Granularity::Hour, Granularity::Day, Granularity::Month];

    /// The name the query API takes and the stores' keys use (`minute` .. `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// The start of the window (UTC) that holds `t`.
    pub fn window_start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = |t: DateTime<Utc>| NaiveDate::from_ymd_opt(t.year(), t.month(), t.day());
        let start = match self {
            Granularity::Minute => t.with_second(0).and_then(|t| t.with_nanosecond(0)),
            Granularity::Hour => t.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)),
            Granularity::Day => day(t).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| Utc.from_utc_datetime(&d)),
            Granularity::Month => NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| Utc.from_utc_datetime(&d)),
        };
        start.unwrap_or(t)
    }

    /// The start of the window after the one starting at `start`, and at most the last
    /// representable event time (so a range's end of December 9999 keeps a four-digit year,
    /// whose text sorts as time).
    pub fn next_window(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let next = match self {
            Granularity::Minute => start.checked_add_signed(Duration::minutes(1)),
            Granularity::Hour => start.checked_add_signed(Duration::hours(1)),
            Granularity::Day => start.checked_add_signed(Duration::days(1)),
            Granularity::Month => start.checked_add_months(Months::new(1)),
        };
        let latest = crate::time_format::latest_event_time();
        next.map_or(latest, |next| next.min(latest))
    }

    /// The next coarser granularity, which is made from rows of this one.
    pub fn parent(self) -> Option<Granularity> {
        match self {
            Granularity::Minute => Some(Granularity::Hour),
            Granularity::Hour => Some(Granularity::Day),
            Granularity::Day => Some(Granularity::Month),
            Granularity::Month => None,
        }
    }

    /// The next finer granularity, whose rows make up a row of this one.
    pub fn child(self) -> Option<Granularity> {
        match self {
            Granularity::Minute => None,
            Granularity::Hour => Some(Granularity::Minute),
            Granularity::Day => Some(Granularity::Hour),
            Granularity::Month => Some(Granularity::Day),
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Granularity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Granularity::ALL
            .into_iter()
            .find(|g| g.as_str() == text)
            .ok_or_else(|| format!("granularity {text:?} is not one of minute, hour, day, month"))
    }
}

/// One event type's minute window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowKey {
    /// The series: an event type, or `<event_type>/<field>` for a group.
    pub event_type: Arc<str>,
    /// The window's first instant (whole minute, UTC).
    pub minute: DateTime<Utc>,
}

impl WindowKey {
    /// The window `event` counts in.
    pub fn of(event: &EnrichedEvent) -> Self {
        WindowKey { event_type: Arc::clone(&event.event_type), minute: Granularity::Minute.window_start(event.event_time) }
    }
}

/// A set of events' aggregates: one per event type and event-time minute they touch.
pub fn partials<'a>(events: impl IntoIterator<Item = &'a EnrichedEvent>) -> BTreeMap<WindowKey, Aggregate> {
    let mut partials: BTreeMap<WindowKey, Aggregate> = BTreeMap::new();
    for event in events {
        partials.entry(WindowKey::of(event)).or_default().add(event);
    }
    partials
}

/// A set of events' aggregates per group ([`crate::group`]): one per series
/// (`<event_type>/<field>`), minute and value the events carry.
pub fn group_partials<'a>(events: impl IntoIterator<Item = &'a EnrichedEvent>) -> BTreeMap<(WindowKey, String), Aggregate> {
    let mut partials: BTreeMap<(WindowKey, String), Aggregate> = BTreeMap::new();
    for event in events {
        let minute = Granularity::Minute.window_start(event.event_time);
        for (field, value) in event.groups.iter() {
            let window = WindowKey { event_type: field.series(&event.event_type).into(), minute };
            partials.entry((window, value.to_owned())).or_default().add(event);
        }
    }
    partials
}

/// The aggregate of one window over a run of a shard's records, as the aggregates table
/// stores it: keyed by the first record it counts, so that every record is counted in
/// exactly one stored partial however Lambda retries, resumes or bisects (see
/// [`batch_partials`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PartialAggregate {
    /// The window; its `event_type` is the series: the event type for its totals,
    /// `<event_type>/<field>` for a group ([`crate::group`]).
    pub window: WindowKey,
    /// [`partial_key`] of the first record counted in the window, then `|<value>` for a
    /// group's cell ([`crate::group::grouped_key`]).
    pub key: String,
    /// The window's counts over the counted records.
    pub aggregate: Aggregate,
    /// The counted records (indexes into the batch): they fail together if the partial does.
    pub records: Vec<usize>,
}

/// `<shard_id>#<sequence number>`, and `#<sub-sequence number>` after it for a user record
/// of a KPL aggregated record other than the first: a record's place in its shard.
pub fn partial_key(shard_id: &str, sequence_number: &str, sub_sequence_number: u32) -> String {
    if sub_sequence_number == 0 {
        format!("{shard_id}#{sequence_number}")
    } else {
        format!("{shard_id}#{sequence_number}#{sub_sequence_number}")
    }
}

/// The partials of a run of one shard's records: for each window (of each event type's
/// totals, and of each group value its events carry, [`crate::group`]), the aggregate of
/// the counted events, keyed by the first counted record in that cell. `counted` is
/// (index in the batch, record, its event), in record order.
///
/// Why the key makes counts exact: the runs a consumer completes partition the shard into
/// ranges, each starting at a checkpoint; each writes, per window, one partial keyed by its
/// first record in that window, so completed runs never share a key. A run that fails (and
/// is retried from its start `c`, or bisected) may leave a partial for window `W` keyed by
/// `r`, its first `W` record at or after `c`. The completed range holding `r` starts at a
/// checkpoint `s` with `c <= s <= r` (checkpoints only move forward, and `c` was one), and no
/// `W` record lies in `[c, r)`, so none in `[s, r)`: that range's first `W` record is `r`
/// too, and its partial overwrites the stale one. The argument needs only that a record's
/// cells depend on the record alone, so it holds for a group value's cell as for a window.
pub fn batch_partials<'a>(counted: impl IntoIterator<Item = (usize, &'a Record, &'a EnrichedEvent)>) -> Vec<PartialAggregate> {
    let mut cells: BTreeMap<(WindowKey, Option<(GroupField, &'a str)>), PartialAggregate> = BTreeMap::new();
    for (index, record, event) in counted {
        let window = WindowKey::of(event);
        for group in std::iter::once(None).chain(event.groups.iter().map(Some)) {
            let cell = (window.clone(), group);
            let partial = cells.entry(cell).or_insert_with(|| {
                let key = partial_key(&record.shard_id, &record.sequence_number, record.sub_sequence_number);
                let (window, key) = match group {
                    None => (window.clone(), key),
                    Some((field, value)) => (
                        WindowKey { event_type: field.series(&window.event_type).into(), minute: window.minute },
                        grouped_key(&key, Some(value)),
                    ),
                };
                PartialAggregate { window, key, aggregate: Aggregate::default(), records: Vec::new() }
            });
            partial.aggregate.add(event);
            partial.records.push(index);
        }
    }
    cells.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    fn at(text: &str) -> DateTime<Utc> {
        crate::time_format::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn windows_start_and_follow_in_utc() {
        let t = at("2026-02-28T23:59:30.5+00:00");
        assert_eq!(Granularity::Minute.window_start(t), at("2026-02-28T23:59:00Z"));
        assert_eq!(Granularity::Hour.window_start(t), at("2026-02-28T23:00:00Z"));
        assert_eq!(Granularity::Day.window_start(t), at("2026-02-28T00:00:00Z"));
        assert_eq!(Granularity::Month.window_start(t), at("2026-02-01T00:00:00Z"));
        assert_eq!(Granularity::Month.next_window(at("2026-02-01T00:00:00Z")), at("2026-03-01T00:00:00Z"));
        assert_eq!(Granularity::Day.next_window(at("2026-02-28T00:00:00Z")), at("2026-03-01T00:00:00Z"));
        assert_eq!("hour".parse::<Granularity>(), Ok(Granularity::Hour));
        assert!("week".parse::<Granularity>().unwrap_err().contains("minute, hour, day, month"));
    }

    #[test]
    fn sketches_survive_their_stored_form_and_say_the_same() {
        for n in [0u32, 2, 100, 5_000] {
            let mut sketch = UserSketch::default();
            for i in 0..n {
                sketch.insert(&format!("user-{i}"));
            }
            let bytes = sketch.to_bytes();
            let back = UserSketch::from_bytes(&bytes).unwrap();
            assert_eq!(back.estimate(), sketch.estimate(), "n = {n}");
            assert_eq!(back.to_bytes(), bytes, "the stored form is stable (n = {n})");
            // A full sketch must stay far below DynamoDB's 400 KB item limit.
            assert!(bytes.len() < 16 * 1024, "n = {n}: {} bytes", bytes.len());
            println!("{n} users: {} bytes", bytes.len());
        }
        assert!(UserSketch::from_bytes(b"\xff\xff").is_err());
    }

    #[test]
    fn revenue_is_kept_in_millionths_and_reads_back() {
        let mut a = Aggregate::default();
        a.revenue.insert("USD".into(), 12_500_000);
        a.revenue.insert("JPY".into(), u128::from(u64::MAX) * 10);
        let back = a.encode().decode().unwrap();
        assert_eq!(back.revenue, a.revenue);
        assert_eq!(a.revenue_units()["USD"], 12.5);
        let corrupt = EncodedAggregate { count: 1, users: UserSketch::default().to_bytes(), revenue: "{\"USD\":1.5}".into() };
        assert!(corrupt.decode().unwrap_err().to_string().contains("millionths"));
    }

    #[test]
    fn revenue_saturates_instead_of_wrapping() {
        let huge = Money::new("USD", 1e300).unwrap();
        assert_eq!(huge.micros, u128::MAX);
        let mut a = Aggregate::default();
        a.revenue.insert("USD".into(), huge.micros);
        let mut b = a.clone();
        b.merge(&a);
        assert_eq!(b.revenue["USD"], u128::MAX);
        assert_eq!(b.encode().decode().unwrap().revenue["USD"], u128::MAX);
    }

    #[test]
    fn the_last_windows_end_within_year_9999() {
        let last = |g: Granularity| g.window_start(crate::time_format::latest_event_time());
        for g in Granularity::ALL {
            let end = g.next_window(last(g));
            assert!(end > last(g) && end <= crate::time_format::latest_event_time(), "{g}: {end}");
            assert!(crate::time_format::format_seconds(end).starts_with("9999-12-31T23:59:59"), "{g}: {end}");
        }
        assert_eq!(Granularity::Day.next_window(at("2026-11-27T00:00:00Z")), at("2026-11-28T00:00:00Z"));
    }
}
