//! The fields an enrichment wrote for the inputs a thread saw lately (a page URL's query, a
//! referrer), written again for an event with the same input instead of worked out anew.
//! Page URLs and referrers repeat: one newsletter's link, one campaign's landing page, a
//! few search engines. The answer is a function of the input text alone (what reads more of
//! the event, such as whether a referrer is internal, is decided outside), so an input seen
//! before costs one hash, one comparison and one copy.
//!
//! The memory is a fixed number of slots per thread, each reused (no allocation per event
//! once warm), and memory stays bounded. An input not found costs more than one found saves
//! (the hash, and copying the answer in), so each thread counts, per enrichment, how many of
//! its lookups find their input: where fewer than half of a window do (click ids unique per
//! click, say), the memo is left out for a while, then tried again. An answer that reported
//! a failure is not kept: the failure is reported again for each event that has it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;

use super::seen_hosts::TableId;
use crate::group::{GroupField, GroupValues};

/// Answers remembered per thread (all enrichments together).
const SLOTS: usize = 256;
/// Longest input remembered; a longer one is worked out each time.
const MAX_INPUT_BYTES: usize = 512;
/// Longest answer remembered (the fields' JSON).
const MAX_ANSWER_BYTES: usize = 1024;
/// Lookups of one enrichment over which a thread judges whether remembering pays.
const WINDOW: u16 = 256;
/// Fewest lookups of a window that must find their input for the memo to stay in use.
const MIN_FOUND: u16 = WINDOW / 2;
/// Lookups that leave the memo out after a window that found too few.
const PAUSE: u32 = 16 * 1024;
/// Enrichments whose rates a thread keeps at once (by their identity; more share).
const RATES: usize = 4;

/// One remembered input: a note the enrichment keeps with it (the referrer's host), and
/// the fields written for it, once written.
#[derive(Default)]
pub(crate) struct Slot {
    /// The enrichment's identity; 0 for an empty slot.
    owner: u64,
    input: Vec<u8>,
    note: String,
    /// Whether `json` and `groups` hold an answer.
    answered: bool,
    /// The JSON written into `_pipeline`.
    json: String,
    /// The group values set.
    groups: GroupValues,
}

impl Slot {
    /// Whether this slot remembers `input` for `owner`.
    fn is_for(&self, owner: &TableId, input: &str) -> bool {
        self.owner == owner.0 && self.input == input.as_bytes()
    }

    /// Forgets what the slot held, to remember `input` for `owner`, with `note`.
    #[inline(never)]
    fn take(&mut self, owner: &TableId, input: &str, note: &str) {
        self.owner = owner.0;
        self.input.clear();
        self.input.extend_from_slice(input.as_bytes());
        self.note.clear();
        self.note.push_str(note);
        self.answered = false;
    }

    /// The note kept with the input.
    pub(crate) fn note(&self) -> &str {
        &self.note
    }

    /// Writes the remembered fields; `false` when there are none yet.
    pub(crate) fn write(&self, out: &mut String, groups: &mut GroupValues) -> bool {
        if self.answered {
            out.push_str(&self.json);
            groups.push_all(&self.groups);
        }
        self.answered
    }

    /// Writes what `work_out` writes (given the note) and remembers it where `work_out`
    /// says it may be kept (`false`: it reported a failure). `fields`: the group fields
    /// the enrichment may set; where the event has one already the answer is not kept (it
    /// could not be told from what the enrichment would have set).
    #[inline(never)]
    pub(crate) fn work_out(&mut self, fields: &[GroupField], out: &mut String, groups: &mut GroupValues, work_out: impl FnOnce(&str, &mut String, &mut GroupValues) -> bool) {
        let start = out.len();
        let unset = fields.iter().all(|&f| groups.get(f).is_none());
        let keep = work_out(&self.note, out, groups) && unset && out.len() - start <= MAX_ANSWER_BYTES;
        if !keep {
            return;
        }
        self.json.clear();
        self.json.push_str(&out[start..]);
        self.groups.set_to(groups, fields);
        self.answered = true;
    }
}

/// How one enrichment's lookups fared in the current window, on one thread.
#[derive(Default)]
struct Rate {
    owner: u64,
    asked: u16,
    found: u16,
    /// Lookups still to leave out.
    paused: u32,
}

struct Memo {
    slots: Vec<Slot>,
    rates: [Rate; RATES],
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo { slots: (0..SLOTS).map(|_| Slot::default()).collect(), rates: Default::default() });
}

/// Calls `use_slot` with the slot of this thread that remembers `input` for `owner`: found
/// there, or taken for it now with the note `note` gives (`None`: an empty note). `None`
/// for an input too long to remember, or while the memo is left out for `owner` (too few
/// of its lookups found their input).
pub(crate) fn with_slot<'i, R>(owner: &TableId, input: &'i str, note: impl FnOnce() -> Option<Cow<'i, str>>, use_slot: impl FnOnce(Option<&mut Slot>) -> R) -> R {
    if input.len() > MAX_INPUT_BYTES {
        return use_slot(None);
    }
    MEMO.with_borrow_mut(|memo| {
        let rate = &mut memo.rates[owner.0 as usize % RATES];
        if rate.owner != owner.0 {
            *rate = Rate { owner: owner.0, ..Rate::default() };
        }
        if rate.paused > 0 {
            rate.paused -= 1;
            return use_slot(None);
        }
        let hash = foldhash::fast::FixedState::with_seed(owner.0).hash_one(input.as_bytes());
        let slot = &mut memo.slots[hash as usize % SLOTS];
        let found = slot.is_for(owner, input);
        rate.asked += 1;
        rate.found += u16::from(found);
        if rate.asked == WINDOW {
            if rate.found < MIN_FOUND {
                rate.paused = PAUSE;
            }
            (rate.asked, rate.found) = (0, 0);
        }
        if !found {
            slot.take(owner, input, note().as_deref().unwrap_or(""));
        }
        use_slot(Some(slot))
    })
}

/// Writes into `out` and `groups` what `work_out` writes for `input`: remembered from an
/// earlier event of this thread, or worked out now (then remembered, as
/// [`Slot::work_out`] says).
pub(crate) fn write_remembered(
    owner: &TableId,
    input: &str,
    fields: &[GroupField],
    out: &mut String,
    groups: &mut GroupValues,
    work_out: impl FnOnce(&mut String, &mut GroupValues) -> bool,
) {
    with_slot(owner, input, || None, |slot| match slot {
        None => drop(work_out(out, groups)),
        Some(slot) if slot.write(out, groups) => {}
        Some(slot) => slot.work_out(fields, out, groups, |_, out, groups| work_out(out, groups)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in enrichment: its answer depends on the input alone; `fail` inputs report.
    fn work_out(input: &str, calls: &std::cell::Cell<usize>) -> impl FnOnce(&mut String, &mut GroupValues) -> bool {
        calls.set(calls.get() + 1);
        move |out: &mut String, groups: &mut GroupValues| {
            out.push_str(&format!(",\"x\":{}", input.len()));
            if !input.is_empty() {
                groups.push(GroupField::CampaignSource, &input[..1]);
            }
            !input.starts_with("fail")
        }
    }

    fn answer(owner: &TableId, input: &str, calls: &std::cell::Cell<usize>) -> (String, GroupValues) {
        let (mut out, mut groups) = ("{".to_owned(), GroupValues::default());
        write_remembered(owner, input, &[GroupField::CampaignSource], &mut out, &mut groups, |o, g| work_out(input, calls)(o, g));
        (out, groups)
    }

    #[test]
    fn answers_as_the_work_does_for_any_input_and_owner() {
        let (a, b) = (TableId::new(), TableId::new());
        let calls = std::cell::Cell::new(0);
        let long = "y".repeat(MAX_INPUT_BYTES + 1);
        let mut inputs: Vec<String> = (0..3 * SLOTS).map(|n| format!("utm_source=s{n}")).collect();
        inputs.extend(["".to_owned(), "fail=1".to_owned(), long]);
        for _ in 0..2 {
            for input in &inputs {
                for owner in [&a, &b] {
                    let want = {
                        let (mut out, mut groups) = ("{".to_owned(), GroupValues::default());
                        work_out(input, &std::cell::Cell::new(0))(&mut out, &mut groups);
                        (out, groups)
                    };
                    assert_eq!(answer(owner, input, &calls), want, "{input}");
                }
            }
        }
        // The same input asked again at once is remembered; a failing one is not (a new
        // owner: so many inputs not seen before have left the memo out for these).
        let c = TableId::new();
        for (input, worked) in [("utm_source=again", 1), ("fail=2", 5)] {
            calls.set(0);
            for _ in 0..5 {
                answer(&c, input, &calls);
            }
            assert_eq!(calls.get(), worked, "{input}");
        }
    }

    #[test]
    fn the_memo_is_left_out_while_too_few_inputs_are_found_then_tried_again() {
        let (owner, other) = (TableId::new(), TableId::new());
        let calls = std::cell::Cell::new(0);
        let twice = |owner: &TableId, input: &str| {
            calls.set(0);
            answer(owner, input, &calls);
            answer(owner, input, &calls);
            calls.get()
        };
        assert_eq!(twice(&owner, "first"), 1, "remembered from the start");
        // A window of inputs never seen again: then an input asked twice is worked out twice.
        for n in 0..WINDOW {
            answer(&owner, &format!("unique={n}"), &calls);
        }
        assert_eq!(twice(&owner, "again"), 2);
        assert_eq!(twice(&other, "again"), 1, "another enrichment's rate is its own");
        // Once the pause is over, the memo is tried again.
        for n in 0..PAUSE {
            answer(&owner, &format!("later={n}"), &calls);
        }
        assert_eq!(twice(&owner, "after"), 1);
        // A window where most lookups find their input keeps the memo in use.
        let mostly_found = TableId::new();
        for n in 0..WINDOW / 4 {
            (0..3).for_each(|_| drop(answer(&mostly_found, "same", &calls)));
            answer(&mostly_found, &format!("n={n}"), &calls);
        }
        assert_eq!(twice(&mostly_found, "kept"), 1);
    }

    #[test]
    fn an_answer_is_not_kept_where_the_event_had_its_group_field_already() {
        let owner = TableId::new();
        let calls = std::cell::Cell::new(0);
        for _ in 0..3 {
            let (mut out, mut groups) = (String::new(), GroupValues::default());
            groups.push(GroupField::CampaignSource, "earlier");
            write_remembered(&owner, "q=1", &[GroupField::CampaignSource], &mut out, &mut groups, |o, g| work_out("q=1", &calls)(o, g));
            assert_eq!(groups.get(GroupField::CampaignSource), Some("earlier"));
        }
        assert_eq!(calls.get(), 3);
        // Asked without the field set, it is worked out once and then remembered whole.
        calls.set(0);
        for _ in 0..3 {
            assert_eq!(answer(&owner, "q=1", &calls).1.get(GroupField::CampaignSource), Some("q"));
        }
        assert_eq!(calls.get(), 1);
    }
}
