//! `pipeline store`: looks inside a data directory's events and bad-row store (also while
//! `pipeline up` runs on it): its size and bytes per stored event, its partitions, and
//! the stored events and bad rows as NDJSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use pipeline_local::disk::bytes_under;
use pipeline_local::store::index_file::Section;
use pipeline_local::store::{self, Store};
use serde_json::json;

use crate::up::parse_duration;

#[derive(Args)]
#[command(
    about = "Look inside a data directory's store: size, partitions, events and bad rows",
    long_about = "Look inside the events and bad-row store of a `pipeline up` data directory, also while it \
runs. `stats` gives the bytes on disk per stored event; `events` and `bad-rows` print what is stored as \
NDJSON (each key once, in key order: events by user and time, bad rows by failure time); `partitions` \
lists the store's partitions and files.\n\nThe store's files are under DATA_DIR/store/p-<partition>/: \
v-<shard>.val holds the items as zstd-compressed NDJSON blocks, i-<n>.idx the sorted index; the catalog \
is in DATA_DIR/pipeline.db (sqlite3 DATA_DIR/pipeline.db 'SELECT * FROM store_files')."
)]
pub struct StoreArgs {
    /// The data directory of `pipeline up`.
    #[arg(long, value_name = "DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Items older than this (from their arrival) are left out, as the query API does.
    #[arg(long, value_name = "DUR", default_value = "30d", value_parser = parse_duration, global = true)]
    retention: Duration,
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Bytes on disk (store, archive, catalog, stream) and per stored event.
    Stats {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The partitions and their files.
    Partitions,
    /// Every stored event as NDJSON (the enriched event).
    Events {
        /// Each event's index entry instead: `{"pk", "sk", "event_type", "arrival"}`.
        #[arg(long)]
        keys: bool,
    },
    /// Every stored bad row as NDJSON.
    BadRows,
}

pub fn run(args: &StoreArgs) -> Result<ExitCode> {
    if !args.data_dir.join("pipeline.db").exists() {
        anyhow::bail!("{} holds no pipeline.db: pass the --data-dir of `pipeline up`", args.data_dir.display());
    }
    let store = store::open_for_reading(&args.data_dir, args.retention).with_context(|| format!("cannot read the store of {}", args.data_dir.display()))?;
    match &args.command {
        StoreCommand::Stats { json } => stats(&store, &args.data_dir, *json),
        StoreCommand::Partitions => partitions(&store),
        StoreCommand::Events { keys } => dump(&store, Section::Events, *keys),
        StoreCommand::BadRows => dump(&store, Section::BadRows, false),
    }
}

fn dump(store: &Store, section: Section, keys: bool) -> Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let now = chrono::Utc::now().timestamp();
    let written = store.scan(section, now, |found, bytes| {
        let io = |e: std::io::Error| store::StoreError::Io { path: "stdout".into(), source: e };
        if keys {
            let k = found.entry.key.key();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let line = json!({"pk": text(k.parts[0]), "sk": text(k.parts[1]), "event_type": &*found.entry.kind, "arrival": found.entry.arrival});
            return writeln!(out, "{line}").map_err(io);
        }
        out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(io)
    });
    match written {
        Ok(_) => {}
        // `pipeline store events | head` closes the pipe: that is not an error.
        Err(store::StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e.into()),
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn partitions(store: &Store) -> Result<ExitCode> {
    for p in store.partitions() {
        println!("partition {} (opened {}; {} bytes of values) in {}", p.id, chrono::DateTime::from_timestamp(p.opened_at, 0).unwrap_or_default().to_rfc3339(), p.value_bytes, p.dir.display());
        for f in &p.files {
            let (e, b) = (f.index.section(Section::Events), f.index.section(Section::BadRows));
            println!("  file {} level {}: {} events, {} bad rows, {} bytes", f.id, f.level, e.entries, b.entries, f.index.bytes);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(store: &Store, data_dir: &Path, as_json: bool) -> Result<ExitCode> {
    let views = store.partitions();
    let count = |s: Section| views.iter().flat_map(|p| &p.files).map(|f| f.index.section(s).entries).sum::<u64>();
    let (events, bad_rows) = (count(Section::Events), count(Section::BadRows));
    let store_bytes = bytes_under(&data_dir.join("store"));
    let archive = bytes_under(&data_dir.join("archive"));
    let catalog: u64 = ["pipeline.db", "pipeline.db-wal", "pipeline.db-shm"].iter().map(|f| bytes_under(&data_dir.join(f))).sum();
    let stream = bytes_under(&data_dir.join("stream"));
    let kept = store_bytes + archive + catalog;
    let per_event = if events > 0 { kept as f64 / events as f64 } else { 0.0 };
    let files = views.iter().map(|p| p.files.len()).sum::<usize>();
    if as_json {
        let body = json!({
            "events": events, "bad_rows": bad_rows, "partitions": views.len(), "index_files": files,
            "bytes": {"store": store_bytes, "archive": archive, "catalog": catalog, "stream": stream},
            "bytes_per_stored_event": per_event,
        });
        println!("{body}");
    } else {
        println!("{events} events and {bad_rows} bad rows in {} partitions ({files} index files)", views.len());
        println!("on disk: store {store_bytes} B, archive {archive} B, pipeline.db {catalog} B (stream, not counted: {stream} B)");
        println!("{per_event:.0} bytes on disk per stored event (store + bad rows + archive + pipeline.db)");
    }
    Ok(ExitCode::SUCCESS)
}
