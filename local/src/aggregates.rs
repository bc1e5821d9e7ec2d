//! Aggregates in local mode: each unit of work's partials (written in its transaction by
//! [`insert_partials`]), the aggregates table in SQLite that the shared merge
//! ([`pipeline::rollup`]) runs over every `--aggregate-interval`, and the rows
//! `GET /v1/aggregates` reads.
//!
//! Tables (in `pipeline.db`): `aggregate_partials` (one row per event type, minute and first
//! record counted, see [`pipeline::aggregate::batch_partials`]), `aggregate_dirty` (minutes
//! touched since their last merge) and `aggregates` (merged rows per granularity, event type
//! and window). A group of an enrichment field ([`pipeline::group`]) is a series in place of
//! the event type, its value after the key: `batch` is `<first record>|<value>`,
//! `window_start` `<window start>|<value>`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pipeline::aggregate::{AggregateError, EncodedAggregate, Granularity};
use pipeline::group::{grouped_key, split_grouped_key};
use pipeline::rollup::{AggregateRow, AggregateTable, DirtyWindow, DirtyWindows, MAX_WINDOWS_PER_RUN, StoredPartial, roll_up};
use pipeline::time_format::{format_seconds, parse_rfc3339};
use pipeline::sync::MutexExt as _;
use rusqlite::{Connection, params};

use crate::stream::StreamCounters;

/// The aggregate tables of `pipeline.db`: partials by minute and batch, touched minutes, merged rows.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS aggregate_partials (
        event_type TEXT NOT NULL,
        minute TEXT NOT NULL,
        batch TEXT NOT NULL,
        count INTEGER NOT NULL,
        users BLOB NOT NULL,
        revenue TEXT NOT NULL,
        PRIMARY KEY (event_type, minute, batch)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS aggregate_dirty (
        event_type TEXT NOT NULL,
        minute TEXT NOT NULL,
        token TEXT NOT NULL,
        PRIMARY KEY (event_type, minute)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS aggregates (
        granularity TEXT NOT NULL,
        event_type TEXT NOT NULL,
        window_start TEXT NOT NULL,
        count INTEGER NOT NULL,
        unique_users INTEGER NOT NULL,
        users BLOB NOT NULL,
        revenue TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (granularity, event_type, window_start)
    ) WITHOUT ROWID;";

/// A partial aggregate as a unit of work stages it for its transaction.
#[derive(Clone, Debug)]
pub struct StagedPartial {
    /// The series: an event type, or `<event_type>/<field>` for a group.
    pub event_type: String,
    /// The minute's start, as `format_seconds` writes it.
    pub minute: String,
    /// The partial's identity, its first record counted
    /// ([`pipeline::aggregate::PartialAggregate::key`]): a retry overwrites its own partial.
    pub key: String,
    /// The partial's counts, in their stored form.
    pub partial: EncodedAggregate,
}

/// Writes staged partials and marks their minutes touched (inside the batch's transaction).
pub fn insert_partials(tx: &rusqlite::Transaction<'_>, partials: &[StagedPartial]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO aggregate_partials (event_type, minute, batch, count, users, revenue) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut touch = tx.prepare_cached(
        "INSERT INTO aggregate_dirty (event_type, minute, token) VALUES (?1, ?2, ?3)
         ON CONFLICT (event_type, minute) DO UPDATE SET token = excluded.token",
    )?;
    for s in partials {
        let p = &s.partial;
        insert.execute(params![s.event_type, s.minute, s.key, p.count as i64, p.users, p.revenue])?;
        touch.execute(params![s.event_type, s.minute, s.key])?;
    }
    Ok(())
}

/// Rows of one granularity and event type whose window starts in `[from, to)`.
pub fn read_rows(
    conn: &Connection,
    granularity: Granularity,
    event_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<AggregateRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT window_start, count, users, revenue, version FROM aggregates
         WHERE granularity = ?1 AND event_type = ?2 AND window_start >= ?3 AND window_start < ?4 ORDER BY window_start",
    )?;
    // A group's `<start>|<value>` sorts after `<start>` and before the next window's start.
    let rows = stmt.query_map(params![granularity.as_str(), event_type, format_seconds(from), format_seconds(to)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, count, users, revenue, version) = row?;
        let (start, group) = split_grouped_key(&key);
        let window_start = parse_rfc3339(start)
            .ok_or_else(|| AggregateError::Window(format!("aggregates row with window_start {start:?}")))?;
        let aggregate = EncodedAggregate { count: count as u64, users, revenue }.decode()?;
        let group = group.map(str::to_owned);
        out.push(AggregateRow { granularity, event_type: event_type.to_owned(), window_start, group, aggregate, version: version as u64 });
    }
    Ok(out)
}

/// The aggregates table over a connection of the merge's own.
pub struct LocalAggregateTable {
    conn: Mutex<Connection>,
}

impl LocalAggregateTable {
    /// A connection of its own to `pipeline.db` (which must exist, its tables made).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Ok(Self { conn: Mutex::new(crate::sqlite::open(path, false)?) })
    }

    /// Whether a touched minute waits to be merged.
    pub fn has_dirty(&self) -> bool {
        let conn = self.conn.lock_ignoring_poison();
        conn.query_row("SELECT EXISTS (SELECT 1 FROM aggregate_dirty)", [], |r| r.get::<_, bool>(0)).unwrap_or(false)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        f(&mut self.conn.lock_ignoring_poison())
    }
}

// The methods run SQLite synchronously: the merge has a thread of its own.
impl AggregateTable for LocalAggregateTable {
    type Error = anyhow::Error;

    /// Stored data that does not read back: a partial or row that does not decode, or a
    /// column of the wrong type.
    fn is_bad_data(error: &anyhow::Error) -> bool {
        use rusqlite::Error as E;
        error.downcast_ref::<AggregateError>().is_some()
            || matches!(
                error.downcast_ref::<rusqlite::Error>(),
                Some(E::InvalidColumnType(..) | E::FromSqlConversionFailure(..) | E::IntegralValueOutOfRange(..))
            )
    }

    async fn dirty_windows(&self, limit: usize) -> anyhow::Result<DirtyWindows> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached("SELECT event_type, CAST(minute AS TEXT), CAST(token AS TEXT) FROM aggregate_dirty ORDER BY minute LIMIT ?1")?;
            let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            let mut found = DirtyWindows::default();
            let mut unmergeable = Vec::new();
            for row in rows {
                let (event_type, minute_text, token) = row?;
                match parse_rfc3339(&minute_text) {
                    Some(minute) => found.windows.push(DirtyWindow { event_type, minute, token }),
                    None => unmergeable.push((event_type, minute_text)),
                }
            }
            drop(stmt);
            // A marker whose minute is not a time can never be merged: drop it.
            for (event_type, minute) in unmergeable {
                conn.execute("DELETE FROM aggregate_dirty WHERE event_type = ?1 AND CAST(minute AS TEXT) = ?2", params![event_type, minute])?;
                found.unreadable.push(format!("aggregate_dirty marker {event_type} {minute:?}: the minute is not a time"));
            }
            Ok(found)
        })
    }

    async fn partials(&self, event_type: &str, minute: DateTime<Utc>) -> anyhow::Result<Vec<StoredPartial>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT batch, count, users, revenue FROM aggregate_partials WHERE event_type = ?1 AND minute = ?2 ORDER BY batch",
            )?;
            let rows = stmt.query_map(params![event_type, format_seconds(minute)], |r| {
                Ok((r.get::<_, String>(0)?, EncodedAggregate { count: r.get::<_, i64>(1)? as u64, users: r.get(2)?, revenue: r.get(3)? }))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (key, partial) = row?;
                out.push(StoredPartial { key, aggregate: partial.decode()? });
            }
            Ok(out)
        })
    }

    async fn rows(&self, granularity: Granularity, event_type: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<AggregateRow>> {
        self.with(|conn| read_rows(conn, granularity, event_type, from, to))
    }

    async fn put_row(&self, row: &AggregateRow) -> anyhow::Result<bool> {
        self.with(|conn| {
            let encoded = row.aggregate.encode();
            let changed = conn.execute(
                "INSERT INTO aggregates (granularity, event_type, window_start, count, unique_users, users, revenue, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (granularity, event_type, window_start) DO UPDATE SET
                   count = excluded.count, unique_users = excluded.unique_users, users = excluded.users,
                   revenue = excluded.revenue, version = excluded.version
                 WHERE aggregates.version <= excluded.version",
                params![
                    row.granularity.as_str(),
                    row.event_type,
                    grouped_key(&format_seconds(row.window_start), row.group.as_deref()),
                    encoded.count as i64,
                    row.aggregate.unique_users() as i64,
                    encoded.users,
                    encoded.revenue,
                    row.version as i64
                ],
            )?;
            Ok(changed > 0)
        })
    }

    async fn clear_dirty(&self, windows: &[DirtyWindow]) -> anyhow::Result<()> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            {
                let mut delete = tx.prepare_cached("DELETE FROM aggregate_dirty WHERE event_type = ?1 AND minute = ?2 AND token = ?3")?;
                for w in windows {
                    delete.execute(params![w.event_type, format_seconds(w.minute), w.token])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}

/// A merge soon after the consumers catch up, without waiting for the interval: at most
/// this often.
pub const CAUGHT_UP_MERGE_EVERY: Duration = Duration::from_secs(1);

/// Totals of the merges, for `/metrics`.
#[derive(Debug, Default)]
pub struct MergeStats {
    /// Merge runs that completed.
    pub runs: AtomicU64,
    /// Windows and markers skipped because their stored data does not read back.
    pub skipped: AtomicU64,
}

/// Merges touched windows every `every` until `stop`, then once more so that a clean
/// shutdown leaves nothing unmerged. When the stream has no lag and a minute waits to be
/// merged, it merges sooner (every [`CAUGHT_UP_MERGE_EVERY`]), so aggregates follow the
/// events within about a second when the pipeline is not busy. A window that cannot be
/// merged is skipped, logged and counted; it never holds up the others.
pub async fn run_merges(table: LocalAggregateTable, every: Duration, stop: Arc<AtomicBool>, stream: Arc<StreamCounters>, stats: Arc<MergeStats>) {
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        loop {
            match roll_up(&table, MAX_WINDOWS_PER_RUN).await {
                Ok(report) => {
                    tracing::debug!(?report, "merged aggregates");
                    stats.runs.fetch_add(1, Ordering::Relaxed);
                    stats.skipped.fetch_add(report.skipped as u64, Ordering::Relaxed);
                    for window in &report.skipped_windows {
                        tracing::warn!(window = %window, "skipped an aggregate window that cannot be merged");
                    }
                    if report.windows < MAX_WINDOWS_PER_RUN {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot merge aggregates; trying again next interval");
                    break;
                }
            }
        }
        if stopping {
            return;
        }
        let started = std::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100).min(every)).await;
            let waited = started.elapsed();
            if stop.load(Ordering::Relaxed) || waited >= every {
                break;
            }
            if waited >= CAUGHT_UP_MERGE_EVERY && stream.lag() == 0 && table.has_dirty() {
                break;
            }
        }
    }
}
