//! `pipeline.db`, local mode's one SQLite database: the stream checkpoints, the store's
//! catalog ([`crate::store`]), the archive's open files ([`crate::archive`]) and the
//! aggregates ([`crate::aggregates`]). Opened here with every table made; inspect it with
//! any SQLite tool (`sqlite3 data/pipeline.db .tables`).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS checkpoints (
        shard_id TEXT PRIMARY KEY,
        sequence_number INTEGER NOT NULL
    );";

/// Opens (or creates) `pipeline.db` at `path` with every table of local mode.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let unusable = |e: rusqlite::Error| {
        anyhow::anyhow!("the database {} is not usable ({e}): move it away to start afresh", path.display())
    };
    let conn = crate::sqlite::open(path, true).map_err(unusable)?;
    refuse_old_events(&conn, path)?;
    for schema in [CHECKPOINTS, crate::store::SCHEMA, crate::aggregates::SCHEMA, crate::archive::SCHEMA] {
        conn.execute_batch(schema).map_err(unusable)?;
    }
    Ok(conn)
}

/// A data directory of a version that kept events and bad rows in SQLite tables: this
/// version reads them from `store/`, so it would not show them. It starts only once they
/// are gone (or the tables are empty).
fn refuse_old_events(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    for table in ["events", "bad_rows"] {
        let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [table], |r| r.get(0))?;
        if !exists {
            continue;
        }
        let rows: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1)"), [], |r| r.get(0))?;
        if rows > 0 {
            anyhow::bail!(
                "{} holds {table} in the table format of an earlier version, which this version does not read \
                 (it keeps them in store/): start with a new --data-dir, or keep the old directory for the version that wrote it",
                path.display()
            );
        }
        conn.execute_batch(&format!("DROP TABLE {table}"))?;
    }
    Ok(())
}

/// The last sequence number of `shard_id` whose outcomes are stored (0 for none).
pub fn checkpoint(conn: &Connection, shard_id: &str) -> rusqlite::Result<u64> {
    conn.query_row("SELECT sequence_number FROM checkpoints WHERE shard_id = ?1", [shard_id], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

/// Moves `shard_id`'s checkpoint to `through` inside a unit of work's transaction.
pub fn set_checkpoint(tx: &Transaction<'_>, shard_id: &str, through: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (shard_id, sequence_number) VALUES (?1, ?2)
         ON CONFLICT (shard_id) DO UPDATE SET sequence_number = excluded.sequence_number",
    )?
    .execute(params![shard_id, through])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_event_tables_stop_the_start_unless_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.db");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE events (pk TEXT, sk TEXT); INSERT INTO events VALUES ('a', 'b');").unwrap();
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("earlier version") && err.contains("--data-dir"), "{err}");
        Connection::open(&path).unwrap().execute_batch("DELETE FROM events").unwrap();
        let conn = open(&path).unwrap();
        assert_eq!(checkpoint(&conn, "shardId-000000000000").unwrap(), 0);
    }
}
