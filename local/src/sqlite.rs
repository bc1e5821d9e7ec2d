//! SQLite settings every local-mode connection shares (each connection is used by one
//! thread at a time, so all are opened without SQLite's per-call mutexes): WAL with `synchronous=FULL` (a
//! commit is on disk when it returns), a page cache large enough for the hot part of the
//! B-trees, memory-mapped reads, and checkpoints moved off the write path where latency
//! matters (the stream's writer).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Page cache per connection (SQLite's default is 2 MiB: every insert into a large
/// B-tree then reads pages back from the OS).
pub const CACHE_MIB: i64 = 64;
/// Bytes of the database file read through a memory map instead of `pread`.
pub const MMAP_BYTES: i64 = 1 << 30;
/// How often the background checkpointer copies the write-ahead log into the database.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A configured read-write connection to `path`, which must exist unless `create`.
pub fn open(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

/// WAL, `synchronous=FULL`, the cache and the memory map.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -CACHE_MIB * 1024)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(Duration::from_secs(10))
}

/// Stops `conn` from checkpointing after its own commits (a checkpoint copies the whole
/// log and would stall the commit that triggers it); [`spawn_checkpointer`] does it instead.
pub fn without_autocheckpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
}

/// Checkpoints `path` every [`CHECKPOINT_EVERY`] from a thread of its own until `stop`.
pub fn spawn_checkpointer(path: &Path, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let path: PathBuf = path.to_path_buf();
    std::thread::Builder::new().name("checkpointer".into()).spawn(move || {
        let conn = match open(&path, false) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, db = %path.display(), "cannot open the database to checkpoint it");
                return;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(CHECKPOINT_EVERY);
            // PASSIVE never waits for readers or writers; what it cannot copy now, it copies next time.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, db = %path.display(), "checkpoint failed; trying again");
            }
        }
    })
}
