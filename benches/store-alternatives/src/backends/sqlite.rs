//! SQLite, configured as local mode configures every connection (WAL, `synchronous=FULL`,
//! 64 MiB page cache, memory-mapped reads: `pipeline_local::sqlite`), with the events table
//! local mode had before its store: a rowid table with a unique `(pk, sk)` index, a batch
//! inserted in key order in one transaction with its checkpoint. SQLite has no compression
//! of its own: the JSON is stored as text, as it was.
//!
//! - [`OneTable`]: every event in one table of one file.
//! - [`Hourly`]: the same table in one file per hour of event time (`events-<hour>.db`),
//!   so no B-tree grows past an hour's events; a batch commits to each hour file it
//!   touches, then its checkpoint to `catalog.db` (a replay after a crash rewrites the same
//!   rows: `INSERT OR REPLACE`). A query reads the files of the hours its range covers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::Backend;
use crate::events::{Batch, StoredEvent};

const EVENTS: &str = "CREATE TABLE IF NOT EXISTS events (
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        ttl INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS events_by_key ON events (pk, sk);";
const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS checkpoints (
        shard_id TEXT PRIMARY KEY,
        sequence_number INTEGER NOT NULL
    );";
/// Days an event was kept (the old `ttl` column).
const TTL_SECONDS: i64 = 30 * 86_400;

fn open_db(path: &Path, schema: &str) -> anyhow::Result<Connection> {
    let conn = pipeline_local::sqlite::open(path, true)?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// The batch's events in key order (as the old commit sorted them).
fn sorted(events: &[StoredEvent]) -> Vec<&StoredEvent> {
    let mut sorted: Vec<&StoredEvent> = events.iter().collect();
    sorted.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    sorted
}

fn insert(tx: &rusqlite::Transaction<'_>, events: &[&StoredEvent]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached("INSERT OR REPLACE INTO events (pk, sk, event_type, payload, ttl) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for e in events {
        // The JSON is UTF-8 (the core wrote it): stored as TEXT like the old payload column.
        let payload = std::str::from_utf8(&e.json).unwrap_or_default();
        stmt.execute(params![e.pk, e.sk, &*e.event_type, payload, e.arrival + TTL_SECONDS])?;
    }
    Ok(())
}

fn set_checkpoint(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (shard_id, sequence_number) VALUES (?1, ?2)
         ON CONFLICT (shard_id) DO UPDATE SET sequence_number = excluded.sequence_number",
    )?
    .execute(params![batch.shard_id, batch.through])?;
    Ok(())
}

fn query(conn: &Connection, pk: &str, from: &str, to: &str, limit: usize) -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached("SELECT sk, payload FROM events WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk DESC LIMIT ?4")?;
    let rows = stmt.query_map(params![pk, from, to, limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?.into_bytes())))?;
    rows.collect()
}

/// Moves the write-ahead log into the database file, so that its size is the data's.
fn checkpoint_wal(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

pub struct OneTable {
    conn: Connection,
}

impl OneTable {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self { conn: open_db(&dir.join("pipeline.db"), &format!("{EVENTS}{CHECKPOINTS}"))? })
    }
}

impl Backend for OneTable {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let events = sorted(&batch.events);
        let tx = self.conn.transaction()?;
        insert(&tx, &events)?;
        set_checkpoint(&tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(checkpoint_wal(&self.conn)?)
    }

    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        Ok(query(&self.conn, pk, from, to, limit)?.into_iter().map(|(_, json)| json).collect())
    }
}

/// The hour of a sort key (`YYYY-MM-DDTHH`, its first 13 bytes).
fn hour_of(sk: &str) -> &str {
    sk.get(..13).unwrap_or(sk)
}

pub struct Hourly {
    dir: PathBuf,
    catalog: Connection,
    hours: BTreeMap<String, Connection>,
}

impl Hourly {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self { dir: dir.to_path_buf(), catalog: open_db(&dir.join("catalog.db"), CHECKPOINTS)?, hours: BTreeMap::new() })
    }

    fn hour(&mut self, hour: &str) -> anyhow::Result<&mut Connection> {
        if !self.hours.contains_key(hour) {
            let name: String = hour.chars().filter(char::is_ascii_digit).collect();
            let conn = open_db(&self.dir.join(format!("events-{name}.db")), EVENTS)?;
            self.hours.insert(hour.to_owned(), conn);
        }
        Ok(self.hours.get_mut(hour).expect("inserted above"))
    }
}

impl Backend for Hourly {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut by_hour: BTreeMap<&str, Vec<&StoredEvent>> = BTreeMap::new();
        for e in sorted(&batch.events) {
            by_hour.entry(hour_of(&e.sk)).or_default().push(e);
        }
        for (hour, events) in by_hour {
            let tx = self.hour(hour)?.transaction()?;
            insert(&tx, &events)?;
            tx.commit()?;
        }
        let tx = self.catalog.transaction()?;
        set_checkpoint(&tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        for conn in self.hours.values() {
            checkpoint_wal(conn)?;
        }
        Ok(())
    }

    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        // Newest hour first: stop once `limit` events are found.
        for (_, conn) in self.hours.range(hour_of(from).to_owned()..=hour_of(to).to_owned()).rev() {
            found.extend(query(conn, pk, from, to, limit - found.len())?);
            if found.len() >= limit {
                break;
            }
        }
        Ok(found.into_iter().map(|(_, json)| json).collect())
    }

    fn engine_report(&self) -> Option<String> {
        Some(format!("{} hour files", self.hours.len()))
    }
}
