//! An event's top-level members, listed once while the decoder compares their names for
//! duplicates. The core and the enrichments look up about a dozen top-level names per
//! event (`event_type`, `user_id`, `timestamp`, `page`, `page_url`, ...), many of them
//! absent. On the list, indexed by name length, a name present is usually found at the
//! first comparison and one absent mostly at one test, where a walk over the tape skips
//! every value before it (and every member, for a name the event lacks).

use crate::json_tape::TapeValue;
use crate::word_scan::same_bytes;

/// Events with more top-level members than this are looked up on the tape: they are rare,
/// and the list is kept inline (no allocation per event; an array, not a `SmallVec`, so that
/// the list's lifetime can shorten like a reference's).
pub const LISTED_MEMBERS: usize = 16;

/// One top-level member: its name and its value.
#[derive(Clone, Copy, Debug)]
pub struct RootMember<'a> {
    /// The member's name.
    pub name: &'a str,
    /// Its value.
    pub value: TapeValue<'a>,
}

/// The top-level members of one event (an object), in document order.
#[derive(Debug)]
pub struct RootMembers<'a> {
    event: TapeValue<'a>,
    /// By name length (modulo [`LENGTH_SLOTS`]): 1 + the index of the first member whose
    /// name is that long, 0 for none. Names of one length are few, so a name present is
    /// usually the first compared, and one absent is rarely compared at all.
    first_of_length: [u8; LENGTH_SLOTS],
    /// The first `count` are the members; all of them unless `count` is above
    /// [`LISTED_MEMBERS`] (then the event is read on the tape). The rest hold the event
    /// itself under no name: written in place, where a constant would be copied.
    members: [RootMember<'a>; LISTED_MEMBERS],
    count: usize,
    /// The first name that repeats one before it (the listing stops there).
    repeated: Option<&'a str>,
}

impl<'a> RootMembers<'a> {
    /// Lists the members of `event`, comparing each name with the names before it of the
    /// same length. Not inlined: made in its caller's place (inlined, the list was built
    /// and then copied, 584 bytes per event).
    #[inline(never)]
    pub fn new(event: TapeValue<'a>) -> Self {
        let unlisted = RootMember { name: "", value: event };
        let mut out = Self { event, first_of_length: [0; LENGTH_SLOTS], members: [unlisted; LISTED_MEMBERS], count: 0, repeated: None };
        for (name, value) in event.members() {
            let Some(slot) = out.members.get_mut(out.count) else {
                out.count = LISTED_MEMBERS + 1;
                break;
            };
            *slot = RootMember { name, value };
            let first = &mut out.first_of_length[name.len() % LENGTH_SLOTS];
            if *first == 0 {
                // At most LISTED_MEMBERS: fits a byte.
                *first = out.count as u8 + 1;
            } else if out.listed_member(name).is_some() {
                out.repeated = Some(name);
                break;
            }
            out.count += 1;
        }
        out
    }

    /// The whole event.
    pub fn event(&self) -> TapeValue<'a> {
        self.event
    }

    /// Whether the members are listed: `false` for an event with more than
    /// [`LISTED_MEMBERS`], whose names were not compared ([`RootMembers::repeated`] is `None`).
    pub fn is_listed(&self) -> bool {
        self.count <= LISTED_MEMBERS
    }

    /// The first name among the listed members that repeats one before it.
    pub fn repeated(&self) -> Option<&'a str> {
        self.repeated
    }

    /// The first member named `name`, as [`TapeValue::get`] finds it.
    #[inline]
    pub fn get(&self, name: &str) -> Option<TapeValue<'a>> {
        if !self.is_listed() {
            return self.event.get(name);
        }
        self.listed_member(name).map(|m| m.value)
    }

    /// The first of the listed members named `name` (`count` at most [`LISTED_MEMBERS`]).
    #[inline]
    fn listed_member(&self, name: &str) -> Option<&RootMember<'a>> {
        let first = usize::from(self.first_of_length[name.len() % LENGTH_SLOTS]).checked_sub(1)?;
        self.members.get(first..self.count)?.iter().find(|m| same_bytes(m.name.as_bytes(), name.as_bytes()))
    }
}

/// Name lengths told apart by [`RootMembers`]' index (longer names share slots).
const LENGTH_SLOTS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn with_members(json: &str, check: impl FnOnce(TapeValue<'_>, &RootMembers<'_>)) {
        let mut bytes = json.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let event = TapeValue::root(&tape.0).unwrap();
        check(event, &RootMembers::new(event));
    }

    fn same(a: Option<TapeValue<'_>>, b: Option<TapeValue<'_>>) -> bool {
        a.map(|v| v.to_serde()) == b.map(|v| v.to_serde())
    }

    #[test]
    fn finds_what_the_tape_walk_finds() {
        // Names of every length up to 70 (past the index's 32 lengths), present and absent,
        // values of every kind, and names 32 and 64 bytes longer than ones present.
        let names: Vec<String> = (1..=70).map(|n| "k".repeat(n)).collect();
        for count in [0, 1, 2, 7, LISTED_MEMBERS - 1, LISTED_MEMBERS, LISTED_MEMBERS + 1, 40] {
            let members: Vec<String> = names
                .iter()
                .step_by(2)
                .take(count)
                .enumerate()
                .map(|(i, n)| {
                    let value = ["1", "\"s\"", "{\"a\":[1,{\"b\":2}]}", "[[],{}]", "null"][i % 5];
                    format!("\"{n}\":{value}")
                })
                .collect();
            let json = format!("{{{}}}", members.join(","));
            with_members(&json, |event, root| {
                assert_eq!(root.is_listed(), count <= LISTED_MEMBERS, "{count} members");
                assert_eq!(root.repeated(), None);
                for name in names.iter().map(String::as_str).chain(["", "page", "kk\u{e9}"]) {
                    assert!(same(root.get(name), event.get(name)), "{name:?} among {count} members");
                }
            });
        }
    }

    #[test]
    fn finds_top_level_members_only() {
        with_members(r#"{"b": 1, "a": {"x": 2}, "page_url": "u"}"#, |_, root| {
            assert_eq!(root.get("page_url").and_then(|v| v.as_str()), Some("u"));
            assert!(root.get("page").is_none());
            assert!(root.get("x").is_none(), "a nested member is not a top-level one");
        });
    }

    #[test]
    fn names_the_first_repeated_name() {
        // Same lengths that differ, a repeat right after and far after, and a repeat of a
        // name whose length another name shares.
        for (json, repeated) in [
            (r#"{"ab": 1, "cd": 2, "ef": 3}"#, None),
            (r#"{"ab": 1, "ab": 2}"#, Some("ab")),
            (r#"{"a": 1, "bb": 2, "cc": 3, "x": 4, "bb": 5, "a": 6}"#, Some("bb")),
            (r#"{"page": {}, "page_url": "u", "event_id": "e", "page_url": "v"}"#, Some("page_url")),
        ] {
            with_members(json, |_, root| assert_eq!(root.repeated(), repeated, "{json}"));
        }
    }
}
