//! The store as a whole: units of work in and out, newest-write-wins, merges that change
//! no answer, a crash before the catalog commit, retention, and bad-row marks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline::bad_row::BadRowId;
use pipeline::{BadRow, BadRowType};
use rusqlite::Connection;

use super::pack::{EventInput, PackedUnit};
use super::read::{BadRowsQuery, EventsQuery};
use super::values::Packer;
use super::*;

const NOW: i64 = 1_800_000_000;

/// An event as the events sink would pack it.
struct Event {
    pk: String,
    sk: String,
    event_type: Arc<str>,
    arrival: i64,
    json: Vec<u8>,
}

fn event(user: u32, n: u32, arrival: i64, body: &str) -> Event {
    Event {
        pk: format!("USER#u{user}"),
        sk: format!("2026-11-27T12:{:02}:{:02}.000Z#id-{n:06}", n / 60 % 60, n % 60),
        event_type: if n % 2 == 0 { "pageview".into() } else { "click".into() },
        arrival,
        json: format!("{{\"user\":{user},\"n\":{n},\"body\":\"{body}\"}}").into_bytes(),
    }
}

fn bad(shard: u32, seq: u64, failed_at: &str, kind: &'static str, arrival: i64) -> BadRow {
    let kind = BadRowType::ALL.into_iter().find(|k| k.as_str() == kind).unwrap();
    BadRow {
        kind,
        event_type: None,
        schema: None,
        errors: Vec::new(),
        payload: Some("{}".into()),
        payload_base64: None,
        shard_id: format!("shardId-{shard:012}"),
        sequence_number: format!("{seq:020}"),
        sub_sequence_number: 0,
        partition_key: String::new(),
        ingested_at: chrono::DateTime::from_timestamp(arrival, 0).unwrap().to_rfc3339(),
        failed_at: failed_at.into(),
        recovered_at: None,
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    db: Arc<Mutex<Connection>>,
    store: Store,
}

fn open(dir: tempfile::TempDir, retention: Duration) -> Fixture {
    let conn = crate::pipeline_db::open(&dir.path().join("pipeline.db")).unwrap();
    let store = Store::open(dir.path(), &conn, StoreConfig { shards: 2, retention }).unwrap();
    Fixture { dir, db: Arc::new(Mutex::new(conn)), store }
}

fn fixture() -> Fixture {
    open(tempfile::tempdir().unwrap(), DEFAULT_RETENTION)
}

fn pack(events: &[Event], bad_rows: &[BadRow]) -> PackedUnit {
    let mut packer = Packer::new().unwrap();
    let mut unit = PackedUnit::default();
    let inputs = events.iter().map(|e| EventInput { pk: e.pk.clone(), sk: &e.sk, event_type: &e.event_type, arrival: e.arrival, json: &e.json });
    unit.pack_event_inputs(&mut packer, inputs.collect()).unwrap();
    assert!(unit.pack_bad_rows(&mut packer, bad_rows.iter().enumerate()).unwrap().is_empty());
    unit
}

impl Fixture {
    fn commit(&self, shard: u32, events: Vec<Event>, bad_rows: Vec<BadRow>) {
        let prepared = self.store.prepare(shard, pack(&events, &bad_rows)).unwrap();
        let mut conn = self.db.lock().unwrap();
        let tx = conn.transaction().unwrap();
        self.store.record(&tx, &prepared).unwrap();
        tx.commit().unwrap();
        drop(conn);
        self.store.publish(prepared);
    }

    /// (n, body) of a user's events, newest first.
    fn user(&self, user: u32, limit: usize, now: i64) -> Vec<(u32, String)> {
        let pk = format!("USER#u{user}");
        let mut found = self.store.user_events(&EventsQuery { pk: &pk, from: "0", to: "~", limit }, now).unwrap();
        let values = self.store.load(&mut found).unwrap();
        values
            .iter()
            .map(|v| {
                let v: serde_json::Value = serde_json::from_slice(v).unwrap();
                (v["n"].as_u64().unwrap() as u32, v["body"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    fn files(&self) -> usize {
        self.store.snapshot().iter().map(|p| p.files.len()).sum()
    }
}

#[test]
fn a_users_events_come_newest_first_and_the_latest_write_of_a_key_wins() {
    let f = fixture();
    for unit in 0..5u32 {
        let events = (0..200).map(|i| event(i % 7, unit * 200 + i, NOW, "first")).collect();
        f.commit(unit % 2, events, Vec::new());
    }
    // A resent event (same key) in a later unit, and a duplicate inside one unit.
    f.commit(1, vec![event(3, 10, NOW, "resent"), event(3, 11, NOW, "dup-a"), event(3, 11, NOW, "dup-b")], Vec::new());
    let all = f.user(3, 1000, NOW);
    let ns: Vec<u32> = all.iter().map(|(n, _)| *n).collect();
    // User 3's events, and event 11 (another user's number, sent as user 3's).
    let mut want: Vec<u32> = (0..1000).filter(|n| n % 200 % 7 == 3 || *n == 11).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ns, want);
    assert!(all.contains(&(10, "resent".into())) && all.contains(&(11, "dup-b".into())), "{all:?}");
    assert_eq!(f.user(3, 5, NOW).len(), 5);
    assert!(f.user(99, 10, NOW).is_empty());

    // Merging changes no answer, and leaves fewer files.
    let before = f.files();
    while f.store.merge_once(&f.db).unwrap() {}
    assert_eq!(f.user(3, 1000, NOW), all);
    assert!(f.files() <= before, "{} files after merging {before}", f.files());
    // Closed and idle: the partition is merged into one file.
    f.store.close_stale_partition(NOW + 10 * 86_400);
    while f.store.merge_once(&f.db).unwrap() {}
    assert_eq!(f.files(), 1);
    assert_eq!(f.user(3, 1000, NOW), all);
    assert!(f.user(3, 1000, NOW).contains(&(10, "resent".into())));
}

/// Index files under the store's directory.
fn index_files_on_disk(f: &Fixture) -> usize {
    let mut n = 0;
    for p in std::fs::read_dir(f.dir.path().join("store")).unwrap().flatten() {
        n += std::fs::read_dir(p.path()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".idx")).count();
    }
    n
}

#[test]
fn a_merge_deletes_its_inputs_only_once_no_read_that_began_before_it_holds_them() {
    let f = fixture();
    for unit in 0..6u32 {
        f.commit(unit % 2, (0..50).map(|i| event(i % 3, unit * 50 + i, NOW, "x")).collect(), Vec::new());
    }
    let all = f.user(1, 1000, NOW);
    // A query's snapshot, taken before the merges.
    let before = f.store.snapshot();
    let replaced: Vec<_> = before.iter().flat_map(|p| p.files.iter().map(|file| file.index.path.clone())).collect();
    f.store.close_stale_partition(NOW + 10 * 86_400);
    while f.store.merge_once(&f.db).unwrap() {}
    assert_eq!(f.files(), 1);
    // The old snapshot's files are all still readable, through the store's handles too.
    for path in &replaced {
        assert!(f.store.file_handle(path).is_ok(), "{} gone under a reader", path.display());
    }
    assert_eq!(f.user(1, 1000, NOW), all);
    // Once the last reader lets go, the replaced files leave the disk.
    drop(before);
    assert_eq!(index_files_on_disk(&f), 1);
    assert!(replaced.iter().all(|p| !p.exists()));
}

#[test]
fn a_restart_keeps_what_was_committed_and_drops_an_unfinished_write() {
    let f = fixture();
    f.commit(0, (0..50).map(|i| event(1, i, NOW, "kept")).collect(), Vec::new());
    // Written and synced, but the catalog's transaction never ran (a crash).
    let lost: Vec<Event> = (50..60).map(|i| event(1, i, NOW, "lost")).collect();
    let unfinished = f.store.prepare(0, pack(&lost, &[])).unwrap();
    let index_path = unfinished.file.as_ref().unwrap().index.path.clone();
    assert!(index_path.exists());
    let Fixture { dir, db, store } = f;
    drop((db, store, unfinished));

    let f = open(dir, DEFAULT_RETENTION);
    assert!(!index_path.exists(), "the unfinished index file is removed");
    let got = f.user(1, 1000, NOW);
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|(_, b)| b == "kept"));
    // The value file was cut back: the next unit appends where the last commit ended.
    f.commit(0, (60..70).map(|i| event(1, i, NOW, "after")).collect(), Vec::new());
    assert_eq!(f.user(1, 1000, NOW).len(), 60);
}

#[test]
fn an_aborted_write_leaves_nothing_behind() {
    let f = fixture();
    f.commit(0, vec![event(1, 1, NOW, "kept")], Vec::new());
    let prepared = f.store.prepare(0, pack(&[event(1, 2, NOW, "gone")], &[])).unwrap();
    let path = prepared.file.as_ref().unwrap().index.path.clone();
    f.store.abort(prepared);
    assert!(!path.exists());
    f.commit(0, vec![event(1, 3, NOW, "next")], Vec::new());
    assert_eq!(f.user(1, 10, NOW), [(3, "next".to_string()), (1, "kept".to_string())]);
}

#[test]
fn retention_hides_expired_items_and_removes_whole_partitions() {
    let f = open(tempfile::tempdir().unwrap(), Duration::from_secs(3_600));
    let now = chrono::Utc::now().timestamp();
    // One partition of old arrivals, one of fresh ones.
    f.commit(0, (0..20).map(|i| event(1, i, now - 7_200, "old")).collect(), vec![bad(0, 1, "2026-11-27T12:00:00Z", "malformed", now - 7_200)]);
    f.store.close_stale_partition(now + 3_600);
    f.commit(1, (20..30).map(|i| event(1, i, now, "new")).collect(), vec![bad(1, 2, "2026-11-27T12:00:01Z", "malformed", now)]);
    assert_eq!(f.user(1, 100, now).len(), 10, "expired events are never returned");
    let q = BadRowsQuery { to: "~".into(), limit: 100, ..BadRowsQuery::default() };
    assert_eq!(f.store.bad_rows(&q, now).unwrap().len(), 1);
    let partitions = || std::fs::read_dir(f.store.root()).unwrap().count();
    assert_eq!(partitions(), 2);
    assert_eq!(f.store.drop_expired(&f.db, now).unwrap(), 1);
    assert_eq!(partitions(), 1, "the expired partition's directory is gone");
    assert_eq!(f.user(1, 100, now).len(), 10);
    let rows: i64 = f.db.lock().unwrap().query_row("SELECT COUNT(*) FROM store_partitions", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1);
}

/// A store with an hour's retention, one partition of 20 events two hours old and one of 10
/// fresh ones (whose keys come first, so a scan reads them, then meets the old ones), and
/// the time it was made at.
fn old_and_new_partitions() -> (Fixture, i64) {
    let f = open(tempfile::tempdir().unwrap(), Duration::from_secs(3_600));
    let now = chrono::Utc::now().timestamp();
    f.commit(0, (20..40).map(|i| event(1, i, now - 7_200, "old")).collect(), Vec::new());
    f.store.close_stale_partition(now + 3_600);
    f.commit(1, (0..10).map(|i| event(1, i, now, "new")).collect(), Vec::new());
    (f, now)
}

/// The `body` of a stored test event.
fn body_of(bytes: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v["body"].as_str().unwrap().to_owned()
}

#[test]
fn a_scan_that_meets_a_partition_dropped_after_its_snapshot_goes_on_without_it() {
    let (f, now) = old_and_new_partitions();
    let mut seen = Vec::new();
    // Scanned as of two hours ago (nothing expired yet); retention drops the old partition
    // while the scan is at its first item, as `pipeline up` may under `pipeline store`.
    let scanned = f.store.scan(Section::Events, now - 7_200, |_, bytes| {
        if seen.is_empty() {
            assert_eq!(f.store.drop_expired(&f.db, now).unwrap(), 1);
        }
        seen.push(body_of(bytes));
        Ok(())
    });
    assert_eq!(scanned.unwrap(), 10, "the dropped partition's items are gone, not an error");
    assert_eq!(seen, vec!["new"; 10]);
}

#[test]
fn a_query_that_meets_a_partition_dropped_after_its_snapshot_answers_without_it() {
    let (f, now) = old_and_new_partitions();
    // Found as of two hours ago (nothing expired yet), loaded once retention has dropped
    // the old partition, as a query of `pipeline up` may be (it was a 503: No such file).
    let pk = "USER#u1";
    let mut found = f.store.user_events(&EventsQuery { pk, from: "0", to: "~", limit: 100 }, now - 7_200).unwrap();
    assert_eq!(found.len(), 30);
    let before = f.store.snapshot();
    assert_eq!(f.store.drop_expired(&f.db, now).unwrap(), 1);
    let items = f.store.load(&mut found).unwrap();
    assert_eq!(items.iter().map(|i| body_of(i)).collect::<Vec<_>>(), vec!["new"; 10]);
    let kept = f.store.snapshot()[0].id;
    assert!(found.len() == 10 && found.iter().all(|x| x.partition == kept), "found keeps step with the items");
    // An index file of the old snapshot whose handle is no longer open reads as no items.
    let dropped = before.iter().flat_map(|p| &p.files).filter(|file| !f.store.snapshot().iter().any(|p| p.id == file.partition));
    let mut dropped_files = 0;
    for file in dropped {
        assert!(f.store.index_file_if_kept(file).unwrap().is_none(), "{} reads as gone", file.index.path.display());
        dropped_files += 1;
    }
    assert!(dropped_files > 0);
    // A file missing from a partition that is still there is a broken store, not a drop.
    let kept = &f.store.snapshot()[0].files[0];
    f.store.files.forget(&kept.index.path);
    std::fs::rename(&kept.index.path, kept.index.path.with_extension("moved")).unwrap();
    assert!(f.store.index_file_if_kept(kept).is_err());
}

#[test]
fn a_reader_of_another_process_sees_a_dropped_partition_go_whole() {
    let (f, now) = old_and_new_partitions();
    // As `pipeline store` opens it: its own catalog snapshot, every partition in it.
    let reader = open_for_reading(f.dir.path(), Duration::from_secs(3_650 * 86_400)).unwrap();
    let mut seen = Vec::new();
    let scanned = reader.scan(Section::Events, now, |_, bytes| {
        if seen.is_empty() {
            assert_eq!(f.store.drop_expired(&f.db, now).unwrap(), 1);
            let left: Vec<String> = std::fs::read_dir(f.store.root()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            assert_eq!(left.len(), 1, "only the kept partition's directory is left: {left:?}");
        }
        seen.push(body_of(bytes));
        Ok(())
    });
    assert_eq!(scanned.unwrap(), 10, "the dropped partition's items are gone, not an error");
    assert_eq!(seen, vec!["new"; 10]);
}

#[test]
fn a_partition_left_half_deleted_by_a_crash_is_removed_at_the_next_open() {
    let f = fixture();
    f.commit(0, vec![event(1, 1, NOW, "kept")], Vec::new());
    let doomed = f.store.root().join(format!("{}p-00000099", super::merge::DROPPED_PREFIX));
    std::fs::create_dir(&doomed).unwrap();
    std::fs::write(doomed.join("v-0000.val"), b"left over").unwrap();
    let Fixture { dir, db, store } = f;
    drop((db, store));
    let f = open(dir, DEFAULT_RETENTION);
    assert!(!doomed.exists(), "the half-deleted partition is gone");
    assert_eq!(f.user(1, 10, NOW), [(1, "kept".to_string())]);
}

#[test]
fn bad_rows_page_by_failure_time_filter_and_carry_their_recovery_mark() {
    let f = fixture();
    let kinds = ["malformed", "schema_violation", "unknown_event_type"];
    for unit in 0..4u64 {
        let rows = (0..30).map(|i| bad((unit % 2) as u32, unit * 100 + i, &format!("2026-11-27T12:00:{:02}Z", unit * 10 + i / 10), kinds[i as usize % 3], NOW)).collect();
        f.commit((unit % 2) as u32, Vec::new(), rows);
    }
    let query = |kind: Option<&str>, after: Option<OwnedKey>, recovered: Option<bool>, limit| BadRowsQuery {
        kind: kind.map(str::to_owned),
        from: String::new(),
        to: "~".into(),
        after,
        recovered,
        newest_first: false,
        limit,
    };
    // Pages of 7 walk all 120 rows in order, each once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f.store.bad_rows(&query(None, after.clone(), None, 7), NOW).unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().entry.key.clone());
        seen.extend(page.into_iter().map(|p| p.entry.key));
    }
    assert_eq!(seen.len(), 120);
    assert!(seen.windows(2).all(|w| w[0].key() < w[1].key()));
    // Newest first, the same rows the other way round.
    let mut back = Vec::new();
    let mut after = None;
    loop {
        let page = f.store.bad_rows(&BadRowsQuery { newest_first: true, ..query(None, after.clone(), None, 11) }, NOW).unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().entry.key.clone());
        back.extend(page.into_iter().map(|p| p.entry.key));
    }
    back.reverse();
    assert_eq!(back, seen);
    assert_eq!(f.store.bad_rows(&query(Some("malformed"), None, None, 1000), NOW).unwrap().len(), 40);
    let window = BadRowsQuery { from: "2026-11-27T12:00:10Z".into(), to: "2026-11-27T12:00:12Z~".into(), ..query(None, None, None, 1000) };
    assert_eq!(f.store.bad_rows(&window, NOW).unwrap().len(), 30);

    let ids: Vec<BadRowId> = [3u64, 105, 999].iter().map(|&s| bad((s / 100 % 2) as u32, s, "", "malformed", NOW).id()).collect();
    let mut conn = f.db.lock().unwrap();
    let report = f.store.mark_recovered(&mut conn, &ids, "2026-11-28T00:00:00.000Z").unwrap();
    assert_eq!((report.marked, report.not_found), (2, 1));
    let again = f.store.mark_recovered(&mut conn, &ids, "2026-11-29T00:00:00.000Z").unwrap();
    assert_eq!((again.marked, again.not_found), (2, 1), "idempotent");
    drop(conn);
    assert_eq!(f.store.recovered_at(&ids[0]).as_deref(), Some("2026-11-28T00:00:00.000Z"));
    assert_eq!(f.store.bad_rows(&query(None, None, Some(true), 1000), NOW).unwrap().len(), 2);
    assert_eq!(f.store.bad_rows(&query(None, None, Some(false), 1000), NOW).unwrap().len(), 118);

    // Marks survive a restart.
    let Fixture { dir, db, store } = f;
    drop((db, store));
    let f = open(dir, DEFAULT_RETENTION);
    assert_eq!(f.store.recovered_at(&ids[1]).as_deref(), Some("2026-11-28T00:00:00.000Z"));
    let _ = &f.dir;
}
