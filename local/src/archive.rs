//! The local archive: enriched events as gzip NDJSON files under
//! `archive/events/event_type=<t>/dt=<YYYY-MM-DD>/hr=<HH>/`, one file per batch and
//! partition, named by shard and first sequence number so a replayed batch rewrites its
//! own files. Files appear whole: each is written beside its name and renamed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use pipeline::EnrichedEvent;
use pipeline::sink::{Archive, BatchKey, Indexed, SinkReport};
use tokio::time::Instant;

pub struct LocalArchive {
    root: PathBuf,
}

impl LocalArchive {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn write(&self, dir: PathBuf, name: &str, lines: &[&EnrichedEvent]) -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let mut text = Vec::with_capacity(lines.iter().map(|e| e.json.len() + 1).sum());
        for event in lines {
            text.extend_from_slice(&event.json);
            text.push(b'\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 4), flate2::Compression::fast());
        gz.write_all(&text)?;
        let body = gz.finish()?;
        let partial = dir.join(format!(".{name}.partial"));
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(&body)?;
        file.sync_all()?;
        std::fs::rename(partial, dir.join(name))?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

impl Archive for LocalArchive {
    async fn archive(&self, batch: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let name = format!("{}-{}.jsonl.gz", batch.shard_id, batch.first_sequence_number);
        let mut partitions: BTreeMap<(String, String, String), Vec<&Indexed<'_, EnrichedEvent>>> = BTreeMap::new();
        for e in events {
            partitions.entry((e.item.event_type.to_string(), e.item.dt(), e.item.hr())).or_default().push(e);
        }
        let mut report = SinkReport::default();
        for ((event_type, dt, hr), group) in partitions {
            let dir = self.root.join(format!("events/event_type={event_type}/dt={dt}/hr={hr}"));
            let items: Vec<&EnrichedEvent> = group.iter().map(|e| e.item).collect();
            match self.write(dir, &name, &items) {
                Ok(()) => report.written += group.len(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot write the archive");
                    report.failed.extend(group.iter().map(|e| e.record));
                }
            }
        }
        report
    }
}
