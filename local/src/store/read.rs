//! Reading the store: one user's events newest first, one event type's events newest first, bad rows in `failed_at` order with
//! filters, bad rows by identity, and the stored bytes of what was found. Every read goes
//! over a snapshot of the partitions (files do not change under it), skips what is past
//! retention, and lets the newest write of a key win.

use std::collections::{BTreeMap, HashMap, HashSet};

use pipeline::bad_row::BadRowId;
use pipeline::sync::RwLockExt as _;
use rusqlite::{Connection, params};

use super::index_file::{OwnedEntry, Section, SectionCursor, range_desc};
use super::values::line;
use super::{Key, Mark, OwnedKey, PartitionView, Store, StoreError, StoredFile, ValueRef};

/// An index entry found by a read, with where its value is.
#[derive(Clone, Debug)]
pub struct Found {
    /// The partition the entry is in.
    pub partition: u64,
    /// The index entry.
    pub entry: OwnedEntry,
    /// Newer writes rank higher: (partition, unit of work).
    rank: (u64, u64),
}

impl Found {
    /// Where the value is: the partition, and the value's place in it.
    pub fn value(&self) -> (u64, ValueRef) {
        (self.partition, self.entry.value)
    }

    /// The sort key of a found event.
    pub fn sk(&self) -> &[u8] {
        self.entry.key.key().parts[1]
    }
}

/// `GET /v1/users/{id}/events`: one user's events with `from <= sk < to`.
#[derive(Clone, Debug)]
pub struct EventsQuery<'a> {
    /// The user's partition key, `USER#<user_id>`.
    pub pk: &'a str,
    /// The lowest sort key (time text) taken.
    pub from: &'a str,
    /// Sort keys below this.
    pub to: &'a str,
    /// Events at most.
    pub limit: usize,
}

/// `GET /v1/events?event_type=`: one type's events with `from <= sk < to`, below
/// `before` (the cursor's `(sk, pk)`), newest first.
#[derive(Clone, Debug)]
pub struct TypeEventsQuery<'a> {
    /// The event type.
    pub event_type: &'a str,
    /// The lowest sort key taken.
    pub from: &'a str,
    /// Sort keys below this.
    pub to: &'a str,
    /// The cursor's `(sk, pk)`: only events below it.
    pub before: Option<(&'a str, &'a str)>,
    /// Events at most.
    pub limit: usize,
}

/// `GET /v1/bad-rows`: bad rows after `after` (a cursor) with `from <= failed_at < to`.
#[derive(Clone, Debug, Default)]
pub struct BadRowsQuery {
    /// Only this bad-row type; `None`: all.
    pub kind: Option<String>,
    /// The lowest `failed_at` taken (RFC 3339).
    pub from: String,
    /// `failed_at` below this.
    pub to: String,
    /// The cursor: the key of the last row of the previous page.
    pub after: Option<OwnedKey>,
    /// `Some(true)`: only rows marked recovered; `Some(false)`: only rows not marked.
    pub recovered: Option<bool>,
    /// Newest first (`order=newest`): the rows before `after`, highest key first.
    pub newest_first: bool,
    /// Rows at most.
    pub limit: usize,
}

impl Store {
    /// Up to `q.limit` of one user's events, newest first.
    pub fn user_events(&self, q: &EventsQuery<'_>, now: i64) -> Result<Vec<Found>, StoreError> {
        let lo = Key { parts: [q.pk.as_bytes(), q.from.as_bytes(), b""], sub: 0 };
        let hi = Key { parts: [q.pk.as_bytes(), q.to.as_bytes(), b""], sub: 0 };
        let mut found = Vec::new();
        for p in self.snapshot() {
            for file in &p.files {
                let s = file.index.section(Section::Events);
                if s.entries == 0 || self.expired(s.max_arrival, now) || s.last.as_ref().is_some_and(|l| l.key() < lo) {
                    continue;
                }
                let Some(handle) = self.index_file_if_kept(file)? else { continue };
                let entries = range_desc(&file.index, &handle, Section::Events, lo, hi, q.limit, |e| !self.expired(e.arrival, now))?;
                found.extend(entries.into_iter().map(|entry| Found { partition: p.id, entry, rank: (p.id, file.units.1) }));
            }
        }
        // Newest key first; of equal keys the newest write first, then kept alone.
        found.sort_by(|a, b| b.entry.key.key().cmp(&a.entry.key.key()).then(b.rank.cmp(&a.rank)));
        found.dedup_by(|later, first| later.entry.key == first.entry.key);
        found.truncate(q.limit);
        Ok(found)
    }

    /// Up to `q.limit` of one event type's events, newest first by `(sk, pk)`, below the
    /// cursor's `(sk, pk)`. There is no per-type index (it would cost every stored event a
    /// second entry): this reads the events entries of every file whose section holds the
    /// type, keeping only the best `limit`, so its cost grows with the events retained.
    pub fn type_events(&self, q: &TypeEventsQuery<'_>, now: i64) -> Result<Vec<Found>, StoreError> {
        let mut best: BTreeMap<(Vec<u8>, Vec<u8>), Found> = BTreeMap::new();
        let below = q.before.map(|(sk, pk)| (sk.as_bytes(), pk.as_bytes()));
        for p in self.snapshot() {
            for file in &p.files {
                let s = file.index.section(Section::Events);
                if s.entries == 0 || self.expired(s.max_arrival, now) || !s.kinds.iter().any(|k| **k == *q.event_type) {
                    continue;
                }
                let rank = (p.id, file.units.1);
                let Some(handle) = self.index_file_if_kept(file)? else { continue };
                let mut cursor = SectionCursor::new(&file.index, handle, Section::Events, None)?;
                while let Some(e) = cursor.peek() {
                    let [pk, sk, _] = e.key.parts;
                    let wanted = e.kind == q.event_type
                        && sk >= q.from.as_bytes()
                        && sk < q.to.as_bytes()
                        && below.is_none_or(|b| (sk, pk) < b)
                        && !self.expired(e.arrival, now);
                    let full = best.len() >= q.limit;
                    if wanted && !(full && best.first_key_value().is_some_and(|(low, _)| (sk, pk) < (low.0.as_slice(), low.1.as_slice()))) {
                        let found = Found { partition: p.id, entry: OwnedEntry::new(&e, cursor.kinds()), rank };
                        // Of equal keys the newest write is kept.
                        match best.entry((sk.to_vec(), pk.to_vec())) {
                            std::collections::btree_map::Entry::Occupied(mut o) if o.get().rank < rank => {
                                o.insert(found);
                            }
                            std::collections::btree_map::Entry::Occupied(_) => {}
                            std::collections::btree_map::Entry::Vacant(v) => {
                                v.insert(found);
                                if best.len() > q.limit {
                                    best.pop_first();
                                }
                            }
                        }
                    }
                    cursor.advance()?;
                }
            }
        }
        Ok(best.into_values().rev().collect())
    }

    /// Up to `q.limit` bad rows in `(failed_at, shard_id, sequence_number,
    /// sub_sequence_number)` order, or the reverse with `q.newest_first`.
    pub fn bad_rows(&self, q: &BadRowsQuery, now: i64) -> Result<Vec<Found>, StoreError> {
        let marks = self.marks.read_ignoring_poison();
        let wanted = |e: &super::Entry<'_>| {
            q.kind.as_deref().is_none_or(|k| k == e.kind)
                && !self.expired(e.arrival, now)
                && q.recovered.is_none_or(|r| r == marks.contains_key(&bad_row_id(&e.key)))
        };
        let low = Key { parts: [q.from.as_bytes(), b"", b""], sub: 0 };
        let high = Key { parts: [q.to.as_bytes(), b"", b""], sub: 0 };
        let after = q.after.as_ref().map(OwnedKey::key);
        let mut found = Vec::new();
        for p in self.snapshot() {
            for file in &p.files {
                let s = file.index.section(Section::BadRows);
                if s.entries == 0 || self.expired(s.max_arrival, now) || s.last.as_ref().is_some_and(|l| l.key() < low) {
                    continue;
                }
                if s.blocks.first().is_some_and(|b| b.first.key() >= high) {
                    continue;
                }
                let rank = (p.id, file.units.1);
                let entries = if q.newest_first {
                    let hi = after.filter(|a| *a < high).unwrap_or(high);
                    let Some(handle) = self.index_file_if_kept(file)? else { continue };
                    range_desc(&file.index, &handle, Section::BadRows, low, hi, q.limit, &wanted)?
                } else {
                    self.range_asc(file, after.filter(|a| *a >= low), low, high, q.limit, &wanted)?
                };
                found.extend(entries.into_iter().map(|entry| Found { partition: p.id, entry, rank }));
            }
        }
        found.sort_by(|a, b| a.entry.key.key().cmp(&b.entry.key.key()));
        if q.newest_first {
            found.reverse();
        }
        found.truncate(q.limit);
        Ok(found)
    }

    /// Up to `limit` bad-row entries of `file` that `keep` takes, lowest first, from
    /// `low` (or just after `after`) up to `high`.
    fn range_asc(
        &self,
        file: &StoredFile,
        after: Option<Key<'_>>,
        low: Key<'_>,
        high: Key<'_>,
        limit: usize,
        keep: impl Fn(&super::Entry<'_>) -> bool,
    ) -> Result<Vec<OwnedEntry>, StoreError> {
        let Some(handle) = self.index_file_if_kept(file)? else { return Ok(Vec::new()) };
        let mut cursor = SectionCursor::new(&file.index, handle, Section::BadRows, Some(after.unwrap_or(low)))?;
        let mut out = Vec::new();
        while let Some(e) = cursor.peek() {
            if e.key >= high {
                break;
            }
            if Some(e.key) != after && keep(&e) {
                out.push(OwnedEntry::new(&e, cursor.kinds()));
                if out.len() >= limit {
                    break;
                }
            }
            cursor.advance()?;
        }
        Ok(out)
    }

    /// The stored bytes (JSON) of each found item, in order. Each value block is read
    /// and decompressed once. An item whose partition retention dropped after the read's
    /// snapshot is gone, as from a snapshot taken a moment later: it leaves `found` too,
    /// so that `found` and the answer stay item for item.
    pub fn load(&self, found: &mut Vec<Found>) -> Result<Vec<Vec<u8>>, StoreError> {
        // `None`: the value file went with its dropped partition.
        let mut blocks: HashMap<(u64, u32, u64), Option<Vec<u8>>> = HashMap::new();
        let mut out = Vec::with_capacity(found.len());
        let mut kept = Vec::with_capacity(found.len());
        for f in found.drain(..) {
            let (partition, v) = f.value();
            let key = (partition, v.shard, v.offset);
            if !blocks.contains_key(&key) {
                blocks.insert(key, self.block_if_kept(partition, &v)?);
            }
            let Some(block) = &blocks[&key] else { continue };
            let item = line(block, v.item).ok_or_else(|| StoreError::Inconsistent { path: self.root().to_path_buf(), why: "an index entry points past its value block".into() })?;
            out.push(item.to_vec());
            kept.push(f);
        }
        *found = kept;
        Ok(out)
    }

    /// Where the bad rows with these identities are (partition), for those that exist.
    pub fn find_bad_rows(&self, ids: &[BadRowId]) -> Result<HashMap<BadRowId, u64>, StoreError> {
        let wanted: HashSet<&BadRowId> = ids.iter().collect();
        let mut out = HashMap::new();
        for p in self.snapshot() {
            for file in &p.files {
                if file.index.section(Section::BadRows).entries == 0 || !self.may_hold(file, ids)? {
                    continue;
                }
                let Some(handle) = self.index_file_if_kept(file)? else { continue };
                let mut cursor = SectionCursor::new(&file.index, handle, Section::BadRows, None)?;
                while let Some(e) = cursor.peek() {
                    let id = bad_row_id(&e.key);
                    if wanted.contains(&id) {
                        out.insert(id, p.id);
                    }
                    cursor.advance()?;
                }
            }
        }
        Ok(out)
    }

    /// Whether `file` may hold any of `ids`: each shard's range of sequence numbers in it
    /// is read once and kept.
    fn may_hold(&self, file: &StoredFile, ids: &[BadRowId]) -> Result<bool, StoreError> {
        if file.bad_row_seqs.get().is_none() {
            let mut ranges: HashMap<String, (String, String)> = HashMap::new();
            let Some(handle) = self.index_file_if_kept(file)? else { return Ok(false) };
            let mut cursor = SectionCursor::new(&file.index, handle, Section::BadRows, None)?;
            while let Some(e) = cursor.peek() {
                let id = bad_row_id(&e.key);
                let range = ranges.entry(id.shard_id).or_insert_with(|| (id.sequence_number.clone(), id.sequence_number.clone()));
                if id.sequence_number < range.0 {
                    range.0 = id.sequence_number;
                } else if id.sequence_number > range.1 {
                    range.1 = id.sequence_number;
                }
                cursor.advance()?;
            }
            let _ = file.bad_row_seqs.set(ranges);
        }
        let ranges = file.bad_row_seqs.get().expect("set above");
        Ok(ids.iter().any(|id| ranges.get(&id.shard_id).is_some_and(|(lo, hi)| *lo <= id.sequence_number && id.sequence_number <= *hi)))
    }

    /// Marks the bad rows with these identities recovered at `at` (a row keeps its first
    /// mark); stored in `pipeline.db` through `conn`. Idempotent: the same request again
    /// marks nothing new and answers the same.
    pub fn mark_recovered(&self, conn: &mut Connection, ids: &[BadRowId], at: &str) -> Result<MarkReport, StoreError> {
        let mut unmarked: Vec<BadRowId> = {
            let marks = self.marks.read_ignoring_poison();
            ids.iter().filter(|id| !marks.contains_key(id)).cloned().collect()
        };
        unmarked.sort();
        unmarked.dedup();
        let report = |marks: &HashMap<BadRowId, Mark>| {
            let marked = ids.iter().filter(|id| marks.contains_key(id)).count();
            MarkReport { marked, not_found: ids.len() - marked }
        };
        if unmarked.is_empty() {
            return Ok(report(&self.marks.read_ignoring_poison()));
        }
        let found = self.find_bad_rows(&unmarked)?;
        let tx = conn.transaction()?;
        let mut marked = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO bad_row_marks (shard_id, sequence_number, sub_sequence_number, recovered_at, partition)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, partition) in &found {
                if insert.execute(params![id.shard_id, id.sequence_number, id.sub_sequence_number, at, *partition as i64])? > 0 {
                    marked.push((id.clone(), *partition));
                }
            }
        }
        tx.commit()?;
        let mut marks = self.marks.write_ignoring_poison();
        for (id, partition) in &marked {
            marks.entry(id.clone()).or_insert_with(|| Mark { recovered_at: at.to_owned(), partition: *partition });
        }
        Ok(report(&marks))
    }

    /// The partitions and their files, for `pipeline store` and `/metrics`.
    pub fn partitions(&self) -> Vec<PartitionView> {
        self.snapshot()
    }
}

/// What marking bad rows recovered found, counted over the ids asked for (a repeated id
/// counts each time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MarkReport {
    /// Ids that name a bad row, now marked recovered (by this request or an earlier one).
    pub marked: usize,
    /// Ids that name no bad row (never there, or past retention).
    pub not_found: usize,
}

/// The identity of a bad row from its index key.
pub fn bad_row_id(key: &Key<'_>) -> BadRowId {
    BadRowId {
        shard_id: String::from_utf8_lossy(key.parts[1]).into_owned(),
        sequence_number: String::from_utf8_lossy(key.parts[2]).into_owned(),
        sub_sequence_number: key.sub,
    }
}

/// A section cursor with its file's rank, ordered for a min-heap by (key, newest write).
struct Head<'f> {
    key: OwnedKey,
    rank: (u64, u64),
    partition: u64,
    cursor: SectionCursor<'f>,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.rank == other.rank
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    /// Reversed, so that `BinaryHeap` pops the lowest key first, and of equal keys the
    /// newest write first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key.key().cmp(&self.key.key()).then(self.rank.cmp(&other.rank))
    }
}

impl Store {
    /// Every item of `section` in key order, each key once (its newest write), past
    /// retention skipped: `f` gets each with its stored bytes. For `pipeline store`.
    pub fn scan(&self, section: Section, now: i64, mut f: impl FnMut(&Found, &[u8]) -> Result<(), StoreError>) -> Result<u64, StoreError> {
        let views = self.snapshot();
        let mut heap = std::collections::BinaryHeap::new();
        for p in &views {
            for file in &p.files {
                let Some(handle) = self.index_file_if_kept(file)? else { continue };
                let cursor = SectionCursor::new(&file.index, handle, section, None)?;
                if let Some(e) = cursor.peek() {
                    heap.push(Head { key: OwnedKey::new(e.key), rank: (p.id, file.units.1), partition: p.id, cursor });
                }
            }
        }
        let mut last: Option<OwnedKey> = None;
        let mut block: Option<((u64, u32, u64), Vec<u8>)> = None;
        let mut n = 0;
        while let Some(mut head) = heap.pop() {
            let entry = head.cursor.peek().expect("a head has an entry");
            if last.as_ref() != Some(&head.key) && !self.expired(entry.arrival, now) {
                let found = Found { partition: head.partition, entry: OwnedEntry::new(&entry, head.cursor.kinds()), rank: head.rank };
                let v = found.entry.value;
                let at = (found.partition, v.shard, v.offset);
                if block.as_ref().is_none_or(|(b, _)| *b != at) {
                    block = self.block_if_kept(found.partition, &v)?.map(|b| (at, b));
                }
                // No block: the partition was dropped (expired) since the snapshot.
                if let Some((_, b)) = &block {
                    f(&found, line(b, v.item).unwrap_or_default())?;
                    n += 1;
                }
            }
            last = Some(head.key.clone());
            head.cursor.advance()?;
            if let Some(e) = head.cursor.peek() {
                head.key = OwnedKey::new(e.key);
                heap.push(head);
            }
        }
        Ok(n)
    }
}
