//! The referer table's answers for the hosts a thread saw lately. A referrer's host repeats
//! (a few search engines and sites send most visits), and finding one in the table costs a
//! look-up per parent domain; a host seen before costs one hash and one comparison here.
//! The cache is a fixed array (no allocation per host), so a stream of hosts never seen
//! again costs a hash and a copy more than no cache, and memory stays bounded.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Hosts remembered per thread.
const SLOTS: usize = 512;
/// Longest host remembered; a longer one is looked up each time.
const MAX_REMEMBERED_HOST_BYTES: usize = 54;

/// A table's identity, so that a thread's cache never answers for another table.
#[derive(Debug)]
pub(crate) struct TableId(pub(super) u64);

impl TableId {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// One remembered host and its answer.
#[derive(Clone, Copy)]
struct Slot {
    len: u8,
    host: [u8; MAX_REMEMBERED_HOST_BYTES],
    /// The source's index in the table, or `u32::MAX` for none.
    source: u32,
}

const EMPTY: Slot = Slot { len: 0, host: [0; MAX_REMEMBERED_HOST_BYTES], source: u32::MAX };

struct SeenHosts {
    table: u64,
    slots: Box<[Slot; SLOTS]>,
}

thread_local! {
    static SEEN: RefCell<SeenHosts> = RefCell::new(SeenHosts { table: 0, slots: Box::new([EMPTY; SLOTS]) });
}

/// The answer for `host` of the table `table`: remembered, or `look_up`'s (then remembered).
pub(crate) fn source_of(table: &TableId, hasher: &impl BuildHasher, host: &str, look_up: impl FnOnce(&str) -> Option<usize>) -> Option<usize> {
    if host.is_empty() || host.len() > MAX_REMEMBERED_HOST_BYTES {
        return look_up(host);
    }
    SEEN.with_borrow_mut(|seen| {
        if seen.table != table.0 {
            seen.slots.fill(EMPTY);
            seen.table = table.0;
        }
        let slot = &mut seen.slots[hasher.hash_one(host) as usize % SLOTS];
        if usize::from(slot.len) == host.len() && slot.host[..host.len()] == *host.as_bytes() {
            return (slot.source != u32::MAX).then_some(slot.source as usize);
        }
        let source = look_up(host);
        // u32::MAX stands for no source: an index that large (never, in practice) is not kept.
        let kept = match source {
            None => Some(u32::MAX),
            Some(s) => u32::try_from(s).ok().filter(|&s| s != u32::MAX),
        };
        let Some(kept) = kept else { return source };
        slot.len = host.len() as u8;
        slot.host[..host.len()].copy_from_slice(host.as_bytes());
        slot.source = kept;
        source
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_look_up_does_for_each_table_and_any_host() {
        let hasher = foldhash::fast::FixedState::with_seed(1);
        let (a, b) = (TableId::new(), TableId::new());
        let calls = std::cell::Cell::new(0);
        let answer = |table: u32| move |host: &str| (!host.len().is_multiple_of(3)).then_some(host.len() * 10 + table as usize);
        let long = "x".repeat(MAX_REMEMBERED_HOST_BYTES + 1);
        for round in 0..3 {
            for n in 0..2 * SLOTS {
                let host = format!("h{n}.example.com");
                for (id, t) in [(&a, 1), (&b, 2)] {
                    let got = source_of(id, &hasher, &host, |h| {
                        calls.set(calls.get() + 1);
                        answer(t)(h)
                    });
                    assert_eq!(got, answer(t)(&host), "{round} {host}");
                }
            }
            assert_eq!(source_of(&a, &hasher, &long, answer(1)), answer(1)(&long));
            assert_eq!(source_of(&a, &hasher, "", answer(1)), answer(1)(""));
        }
        // Alternating tables clear the cache each time: every answer was looked up.
        assert_eq!(calls.get(), 3 * 2 * 2 * SLOTS);
        // One table, more hosts than slots, each asked twice in turn: evicted or kept, every
        // answer is the look-up's.
        for _ in 0..2 {
            for n in 0..3 * SLOTS {
                let host = format!("{n}.example.org");
                assert_eq!(source_of(&a, &hasher, &host, answer(1)), answer(1)(&host), "{host}");
            }
        }
        // One table: a host seen just before is answered from the cache.
        calls.set(0);
        for _ in 0..10 {
            source_of(&a, &hasher, "www.google.com", |h| {
                calls.set(calls.get() + 1);
                answer(1)(h)
            });
        }
        assert_eq!(calls.get(), 1);
    }
}
