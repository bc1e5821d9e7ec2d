//! SQLite settings every local-mode connection shares (each connection is used by one
//! thread at a time, so all are opened without SQLite's per-call mutexes): WAL with
//! `synchronous=FULL` (a commit is on disk when it returns), a page cache large enough for
//! the hot part of the B-trees, and memory-mapped reads.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Page cache per connection (SQLite's default is 2 MiB: every insert into a large
/// B-tree then reads pages back from the OS).
pub const CACHE_MIB: i64 = 64;
/// Bytes of the database file read through a memory map instead of `pread`.
pub const MMAP_BYTES: i64 = 1 << 30;

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
