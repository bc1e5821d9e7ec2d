//! Local mode's store as a consumer's unit of work calls it: the events packed into zstd
//! value blocks ([`PackedUnit`]), written and synced ([`Store::prepare`]), recorded with
//! the checkpoint in one `pipeline.db` transaction, then published; and the upkeep
//! thread's merges beside it, as `pipeline up` runs them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pipeline_local::maintenance::IDLE_WAIT;
use pipeline_local::pipeline_db;
use pipeline_local::store::pack::{EventInput, PackedUnit};
use pipeline_local::store::read::EventsQuery;
use pipeline_local::store::values::Packer;
use pipeline_local::store::{DEFAULT_RETENTION, Store, StoreConfig};
use rusqlite::Connection;

use super::Backend;
use crate::events::{Batch, SHARDS};

pub struct Ours {
    store: Arc<Store>,
    db: Arc<Mutex<Connection>>,
    packer: Packer,
    stop: Arc<AtomicBool>,
    upkeep: Option<JoinHandle<()>>,
}

impl Ours {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let conn = pipeline_db::open(&dir.join("pipeline.db"))?;
        let store = Arc::new(Store::open(dir, &conn, StoreConfig { shards: SHARDS, retention: DEFAULT_RETENTION })?);
        let db = Arc::new(Mutex::new(conn));
        let stop = Arc::new(AtomicBool::new(false));
        let upkeep = {
            let (store, db, stop) = (Arc::clone(&store), Arc::clone(&db), Arc::clone(&stop));
            std::thread::Builder::new().name("upkeep".into()).spawn(move || upkeep(&store, &db, &stop))?
        };
        Ok(Self { store, db, packer: Packer::new()?, stop, upkeep: Some(upkeep) })
    }
}

/// The store's share of local mode's upkeep loop: close a partition on time, merge.
fn upkeep(store: &Store, db: &Mutex<Connection>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        store.close_stale_partition(chrono::Utc::now().timestamp());
        match store.merge_once(db) {
            Ok(true) => {}
            Ok(false) => std::thread::sleep(IDLE_WAIT),
            Err(e) => {
                eprintln!("ours: a merge failed: {e}");
                std::thread::sleep(IDLE_WAIT);
            }
        }
    }
}

impl Backend for Ours {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let inputs = batch.events.iter().map(|e| EventInput { pk: e.pk.clone(), sk: &e.sk, event_type: &e.event_type, arrival: e.arrival, json: &e.json });
        let mut unit = PackedUnit::default();
        unit.pack_event_inputs(&mut self.packer, inputs.collect())?;
        let prepared = self.store.prepare(batch.shard, unit)?;
        let recorded = {
            let mut conn = self.db.lock().unwrap_or_else(|e| e.into_inner());
            (|| {
                let tx = conn.transaction()?;
                self.store.record(&tx, &prepared)?;
                pipeline_db::set_checkpoint(&tx, &batch.shard_id, batch.through)?;
                tx.commit()
            })()
        };
        match recorded {
            Ok(()) => {
                self.store.publish(prepared);
                Ok(())
            }
            Err(e) => {
                self.store.abort(prepared);
                Err(e.into())
            }
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(upkeep) = self.upkeep.take() {
            upkeep.join().map_err(|_| anyhow::anyhow!("the upkeep thread panicked"))?;
        }
        // What the upkeep would still do now (it is stopped only to know when that is done).
        while self.store.merge_once(&self.db)? {}
        Ok(())
    }

    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let found = self.store.user_events(&EventsQuery { pk, from, to, limit }, chrono::Utc::now().timestamp())?;
        Ok(self.store.load(&found)?)
    }

    fn engine_report(&self) -> Option<String> {
        let views = self.store.snapshot();
        let files: usize = views.iter().map(|p| p.files.len()).sum();
        Some(format!("{} partitions, {files} index files", views.len()))
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(upkeep) = self.upkeep.take() {
            let _ = upkeep.join();
        }
    }
}
