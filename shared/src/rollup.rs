//! The aggregator's merge (DESIGN section 6): the partials of recently touched minutes
//! become minute rows, minute rows hour rows, then day and month rows. The aggregator
//! Lambda and local mode run this same code over their [`AggregateTable`].
//!
//! Why it is safe to run twice or concurrently: every row is recomputed from its inputs
//! (never incremented), so running again writes the same row; a row's `version` is the
//! number of partials folded into it, which only grows as partials arrive, and a table
//! refuses a row older than the one it holds, so a slow concurrent run cannot overwrite a
//! newer result. A touched-window marker is cleared only if nobody touched it again since
//! it was read (its `token` is unchanged), so a partial landing mid-run is merged next run.
//!
//! One window that cannot be merged (stored data that does not read back) never stops the
//! others: it is skipped, counted in the report ([`RollupReport::skipped`]) and its marker
//! cleared; only a failure of the table itself (unreachable, throttled) ends the run, to
//! be tried again by the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::aggregate::{Aggregate, EncodedAggregate, Granularity};
use crate::group::split_grouped_key;
use crate::sync::MutexExt as _;
use crate::time_format::format_seconds;

/// A minute of an event type that received partials since it was last merged.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirtyWindow {
    /// The series: an event type, or `<event_type>/<field>` for a group.
    pub event_type: String,
    /// The minute's first instant (UTC).
    pub minute: DateTime<Utc>,
    /// Changes whenever the window is touched again.
    pub token: String,
}

/// One window's merged aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateRow {
    /// The window size.
    pub granularity: Granularity,
    /// The series: an event type, or `<event_type>/<field>` for a group ([`crate::group`]).
    pub event_type: String,
    /// The window's first instant (UTC).
    pub window_start: DateTime<Utc>,
    /// The group's value in a grouped series; `None` for an event type's totals.
    pub group: Option<String>,
    /// The merge of every partial of the window.
    pub aggregate: Aggregate,
    /// Partials folded into this row (see the module doc).
    pub version: u64,
}

/// A partial as the table holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPartial {
    /// [`crate::aggregate::PartialAggregate::key`]: its first record, and its group value.
    pub key: String,
    /// The batch's counts for the minute.
    pub aggregate: Aggregate,
}

/// Touched windows as a table reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirtyWindows {
    /// The windows that read back, to be merged.
    pub windows: Vec<DirtyWindow>,
    /// Markers that did not read back (say, a minute that is not a time): the table has
    /// removed them, since they can never be merged; each names the marker and why.
    pub unreadable: Vec<String>,
}

/// The aggregates table as the merge sees it (DynamoDB, or SQLite locally).
pub trait AggregateTable: Send + Sync {
    /// Why a read or write of the table failed (logged; the window waits for the next run).
    type Error: std::fmt::Display + Send;

    /// Whether `error` is about one window's stored data (it does not read back), as
    /// opposed to the table as a whole (unreachable, throttled): such a window is skipped.
    fn is_bad_data(error: &Self::Error) -> bool;

    /// Up to `limit` touched windows, oldest first.
    fn dirty_windows(&self, limit: usize) -> impl Future<Output = Result<DirtyWindows, Self::Error>> + Send;

    /// Every partial of one series' minute (`event_type` is the series), in a stable order.
    fn partials(&self, event_type: &str, minute: DateTime<Utc>) -> impl Future<Output = Result<Vec<StoredPartial>, Self::Error>> + Send;

    /// The rows of `granularity` whose window starts in `[from, to)`, oldest first (every
    /// group's, for a grouped series).
    fn rows(
        &self,
        granularity: Granularity,
        event_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AggregateRow>, Self::Error>> + Send;

    /// Stores `row` unless the table holds the same window (and group) at a higher version; says
    /// whether it was stored.
    fn put_row(&self, row: &AggregateRow) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Clears the markers whose token is still the one given.
    fn clear_dirty(&self, windows: &[DirtyWindow]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What one merge run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// Touched minutes merged.
    pub windows: usize,
    /// Partials read.
    pub partials: usize,
    /// Rows stored, per granularity in [`Granularity::ALL`] order.
    pub rows: [usize; 4],
    /// Rows not stored because a newer one was already there.
    pub superseded: usize,
    /// Windows (and markers) that could not be merged and were skipped.
    pub skipped: usize,
    /// What was skipped and why (this run only; [`RollupReport::add`] keeps the count).
    pub skipped_windows: Vec<String>,
}

impl RollupReport {
    /// Adds another run's figures to these.
    pub fn add(&mut self, other: &RollupReport) {
        self.windows += other.windows;
        self.partials += other.partials;
        for (total, n) in self.rows.iter_mut().zip(other.rows) {
            *total += n;
        }
        self.superseded += other.superseded;
        self.skipped += other.skipped;
    }
}

/// Touched minutes one run takes at most; the rest wait for the next run.
pub const MAX_WINDOWS_PER_RUN: usize = 5_000;

/// Merges the touched windows of `table` into rows at every granularity.
pub async fn roll_up<T: AggregateTable>(table: &T, max_windows: usize) -> Result<RollupReport, T::Error> {
    let dirty = table.dirty_windows(max_windows).await?;
    let mut report = RollupReport { skipped: dirty.unreadable.len(), skipped_windows: dirty.unreadable, ..RollupReport::default() };
    let mut touched: BTreeSet<(String, DateTime<Utc>)> =
        dirty.windows.iter().map(|d| (d.event_type.clone(), d.minute)).collect();
    report.windows = touched.len();
    for granularity in Granularity::ALL {
        let mut parents = BTreeSet::new();
        for (event_type, start) in &touched {
            match merge_window(table, granularity, event_type, *start, &mut report).await {
                Ok(()) => {}
                Err(e) if T::is_bad_data(&e) => {
                    report.skipped += 1;
                    report.skipped_windows.push(format!("{granularity} {event_type} {}: {e}", format_seconds(*start)));
                }
                Err(e) => return Err(e),
            }
            // The parent is recomputed even when this window was skipped: its other
            // children may have changed.
            if let Some(parent) = granularity.parent() {
                parents.insert((event_type.clone(), parent.window_start(*start)));
            }
        }
        touched = parents;
    }
    table.clear_dirty(&dirty.windows).await?;
    Ok(report)
}

/// Recomputes one window's rows (one per group value in a grouped series) from its
/// partials (minutes) or child rows, and stores them.
async fn merge_window<T: AggregateTable>(
    table: &T,
    granularity: Granularity,
    event_type: &str,
    start: DateTime<Utc>,
    report: &mut RollupReport,
) -> Result<(), T::Error> {
    // Per group: the merged aggregate and the partials folded into it.
    let mut groups: BTreeMap<Option<String>, (Aggregate, u64)> = BTreeMap::new();
    match granularity.child() {
        None => {
            let partials = table.partials(event_type, start).await?;
            report.partials += partials.len();
            for p in &partials {
                let (total, version) = groups.entry(split_grouped_key(&p.key).1.map(str::to_owned)).or_default();
                total.merge(&p.aggregate);
                *version += 1;
            }
        }
        Some(child) => {
            for r in table.rows(child, event_type, start, granularity.next_window(start)).await? {
                let (total, version) = groups.entry(r.group).or_default();
                total.merge(&r.aggregate);
                *version += r.version;
            }
        }
    }
    for (group, (aggregate, version)) in groups {
        let row = AggregateRow { granularity, event_type: event_type.to_owned(), window_start: start, group, aggregate, version };
        if table.put_row(&row).await? {
            report.rows[granularity as usize] += 1;
        } else {
            report.superseded += 1;
        }
    }
    Ok(())
}

/// An [`AggregateTable`] in memory: the reference the adapters are tested against, and the
/// table of the merge benchmark.
#[derive(Debug, Default)]
pub struct MemoryAggregateTable {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    partials: BTreeMap<(String, DateTime<Utc>, String), EncodedAggregate>,
    dirty: BTreeMap<(String, DateTime<Utc>), String>,
    rows: BTreeMap<(Granularity, String, DateTime<Utc>, Option<String>), (EncodedAggregate, u64)>,
    touches: u64,
}

/// Errors of the in-memory table: only stored data that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MemoryTableError(#[from] crate::aggregate::AggregateError);

impl MemoryAggregateTable {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock_ignoring_poison()
    }

    /// Stores a batch's partial for one minute (keyed by `batch`, so a retried batch
    /// overwrites it) and marks the minute touched.
    pub fn put_partial(&self, event_type: &str, minute: DateTime<Utc>, batch: &str, partial: &Aggregate) {
        self.put_encoded_partial(event_type, minute, batch, partial.encode());
    }

    /// [`Self::put_partial`] of a partial's stored form, which need not read back.
    pub fn put_encoded_partial(&self, event_type: &str, minute: DateTime<Utc>, batch: &str, partial: EncodedAggregate) {
        let mut state = self.state();
        state.touches += 1;
        let token = state.touches.to_string();
        state.partials.insert((event_type.to_owned(), minute, batch.to_owned()), partial);
        state.dirty.insert((event_type.to_owned(), minute), token);
    }

    /// Minutes touched and not yet merged (for tests).
    pub fn dirty_count(&self) -> usize {
        self.state().dirty.len()
    }
}

impl AggregateTable for MemoryAggregateTable {
    type Error = MemoryTableError;

    /// The only failure of this table is stored data that does not read back.
    fn is_bad_data(_: &MemoryTableError) -> bool {
        true
    }

    async fn dirty_windows(&self, limit: usize) -> Result<DirtyWindows, MemoryTableError> {
        let windows = self
            .state()
            .dirty
            .iter()
            .take(limit)
            .map(|((t, m), token)| DirtyWindow { event_type: t.clone(), minute: *m, token: token.clone() })
            .collect();
        Ok(DirtyWindows { windows, unreadable: Vec::new() })
    }

    async fn partials(&self, event_type: &str, minute: DateTime<Utc>) -> Result<Vec<StoredPartial>, MemoryTableError> {
        let encoded: Vec<(String, EncodedAggregate)> = self
            .state()
            .partials
            .range((event_type.to_owned(), minute, String::new())..)
            .take_while(|((t, m, _), _)| t == event_type && *m == minute)
            .map(|((_, _, key), p)| (key.clone(), p.clone()))
            .collect();
        encoded.into_iter().map(|(key, p)| Ok(StoredPartial { key, aggregate: p.decode()? })).collect()
    }

    async fn rows(
        &self,
        granularity: Granularity,
        event_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AggregateRow>, MemoryTableError> {
        let found: Vec<_> = self
            .state()
            .rows
            .range((granularity, event_type.to_owned(), from, None)..(granularity, event_type.to_owned(), to, None))
            .map(|((_, _, start, group), (row, version))| (*start, group.clone(), row.clone(), *version))
            .collect();
        found
            .into_iter()
            .map(|(window_start, group, row, version)| {
                Ok(AggregateRow { granularity, event_type: event_type.to_owned(), window_start, group, aggregate: row.decode()?, version })
            })
            .collect()
    }

    async fn put_row(&self, row: &AggregateRow) -> Result<bool, MemoryTableError> {
        let mut state = self.state();
        let key = (row.granularity, row.event_type.clone(), row.window_start, row.group.clone());
        if state.rows.get(&key).is_some_and(|(_, version)| *version > row.version) {
            return Ok(false);
        }
        state.rows.insert(key, (row.aggregate.encode(), row.version));
        Ok(true)
    }

    async fn clear_dirty(&self, windows: &[DirtyWindow]) -> Result<(), MemoryTableError> {
        let mut state = self.state();
        for w in windows {
            let key = (w.event_type.clone(), w.minute);
            if state.dirty.get(&key) == Some(&w.token) {
                state.dirty.remove(&key);
            }
        }
        Ok(())
    }
}
