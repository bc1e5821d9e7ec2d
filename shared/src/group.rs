//! Aggregates grouped by an enrichment field (DESIGN section 5, `GET /v1/aggregates?by=`):
//! which fields can be grouped ([`GroupField`]), the values an event carries for them
//! ([`GroupValues`], taken by the enrichments as they write `_pipeline`), and how a group is
//! named in the aggregate tables.
//!
//! A grouped aggregate is a series of its own beside its event type's totals: series
//! `<event_type>/<field>` (`purchase/campaign.source`; event types never hold `/`), and
//! within it one cell per window and value. Partials and rows carry the value after the
//! key they would have had (`<first record>|<value>`, `<window start>|<value>`; neither
//! part before the `|` can hold one), so the partials' exactness argument
//! ([`crate::aggregate::batch_partials`]) holds per value, and one query over a series'
//! key range reads every value of its windows. Events without a value for the field are in
//! no group: the totals minus the groups' sum is their count.

use std::fmt;
use std::str::FromStr;

use smallvec::SmallVec;

/// Longest group value kept, in bytes: a longer one is cut at a character boundary (its
/// events are then counted with the other values that share those bytes), so that keys
/// stay far under DynamoDB's 1,024-byte sort keys.
pub const MAX_GROUP_VALUE_BYTES: usize = 256;

/// Between an event type and a field in a grouped series' name.
pub const SERIES_SEPARATOR: char = '/';
/// Between a partial's or row's key and its group value.
pub const GROUP_SEPARATOR: char = '|';

/// A field aggregates can be grouped by: an output of the campaign or referer enrichment
/// whose values are few and named (lookup columns and search terms are not: their values
/// are the producers' own, without bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupField {
    /// `campaign.source`: `utm_source`.
    CampaignSource,
    /// `campaign.medium`: `utm_medium`.
    CampaignMedium,
    /// `campaign.name`: `utm_campaign`.
    CampaignName,
    /// `referer.medium`: search, social, email, internal or unknown.
    RefererMedium,
    /// `referer.source`: the referrer's name (`Google`, ...).
    RefererSource,
}

impl GroupField {
    /// Every field, in the order groups are captured and listed.
    pub const ALL: [GroupField; 5] = [
        GroupField::CampaignSource,
        GroupField::CampaignMedium,
        GroupField::CampaignName,
        GroupField::RefererMedium,
        GroupField::RefererSource,
    ];

    /// The field's path under `_pipeline`, as `by=` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupField::CampaignSource => "campaign.source",
            GroupField::CampaignMedium => "campaign.medium",
            GroupField::CampaignName => "campaign.name",
            GroupField::RefererMedium => "referer.medium",
            GroupField::RefererSource => "referer.source",
        }
    }

    /// The campaign output `key` (`source`, `medium`, `name`, ...) as a group field.
    pub(crate) fn of_campaign(key: &str) -> Option<GroupField> {
        match key {
            "source" => Some(GroupField::CampaignSource),
            "medium" => Some(GroupField::CampaignMedium),
            "name" => Some(GroupField::CampaignName),
            _ => None,
        }
    }

    /// The name of this field's series of `event_type`: `purchase/campaign.source`.
    pub fn series(self, event_type: &str) -> String {
        format!("{event_type}{SERIES_SEPARATOR}{}", self.as_str())
    }
}

impl fmt::Display for GroupField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupField {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        GroupField::ALL.into_iter().find(|g| g.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = GroupField::ALL.iter().map(|g| g.as_str()).collect();
            format!(
                "by={text:?} is not a field aggregates are grouped by: use one of {} (leave by= out for the totals)",
                names.join(", ")
            )
        })
    }
}

/// The values one event has for the group fields, in one buffer kept in the value itself
/// while they fit [`GroupValues::INLINE_BYTES`] (most events' do: no allocation), else in
/// one allocation (this is on the core's path for every event, and in every event the core
/// returns).
#[derive(Clone, Default)]
pub struct GroupValues {
    /// The values one after another (whole `str`s, so UTF-8 at every span's ends).
    text: SmallVec<[u8; GroupValues::INLINE_BYTES]>,
    /// Per field of [`GroupField::ALL`] (by its index): where its value is in `text`.
    spans: [Option<(u16, u16)>; GroupField::ALL.len()],
}

impl GroupValues {
    /// Bytes of values an event carries without an allocation.
    pub const INLINE_BYTES: usize = 40;

    /// Sets `field`'s value (cut to [`MAX_GROUP_VALUE_BYTES`] at a character boundary);
    /// a field keeps its first value.
    pub fn push(&mut self, field: GroupField, value: &str) {
        if self.spans[field as usize].is_some() {
            return;
        }
        let mut end = value.len().min(MAX_GROUP_VALUE_BYTES);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        self.set(field as usize, &value.as_bytes()[..end]);
    }

    /// Appends `bytes` as the value of the field at `index`.
    fn set(&mut self, index: usize, bytes: &[u8]) {
        // At most five values of at most 256 bytes each: the offsets fit 16 bits.
        let start = self.text.len() as u16;
        self.text.extend_from_slice(bytes);
        self.spans[index] = Some((start, self.text.len() as u16));
    }

    /// The bytes of the value at `span` (one of `spans`).
    fn bytes(&self, (start, end): (u16, u16)) -> &[u8] {
        &self.text[usize::from(start)..usize::from(end)]
    }

    /// Sets each field `other` has and this has not, as [`push`](Self::push) would.
    pub fn push_all(&mut self, other: &GroupValues) {
        // Mostly no field is in both: `other`'s text then comes over whole, in one copy
        // (every byte of it is some field's value).
        if self.spans.iter().zip(&other.spans).all(|(mine, theirs)| mine.is_none() || theirs.is_none()) {
            let at = self.text.len() as u16;
            self.text.extend_from_slice(&other.text);
            for (slot, span) in self.spans.iter_mut().zip(other.spans) {
                if let Some((start, end)) = span {
                    *slot = Some((start + at, end + at));
                }
            }
            return;
        }
        for (index, span) in other.spans.iter().enumerate() {
            if let (None, Some(span)) = (self.spans[index], *span) {
                self.set(index, other.bytes(span));
            }
        }
    }

    /// Makes this hold `other`'s values of `fields` alone.
    pub fn set_to(&mut self, other: &GroupValues, fields: &[GroupField]) {
        self.text.clear();
        self.spans = Default::default();
        for &field in fields {
            if let Some(span) = other.spans[field as usize] {
                self.set(field as usize, other.bytes(span));
            }
        }
    }

    /// The event's value of `field`, if it has one.
    pub fn get(&self, field: GroupField) -> Option<&str> {
        std::str::from_utf8(self.bytes(self.spans[field as usize]?)).ok()
    }

    /// The fields with a value, in [`GroupField::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (GroupField, &str)> {
        GroupField::ALL.into_iter().filter_map(|field| self.get(field).map(|value| (field, value)))
    }

    /// Whether the event has none of the fields (it counts in no group).
    pub fn is_empty(&self) -> bool {
        self.spans.iter().all(Option::is_none)
    }
}

/// Equal when every field's value is (whatever order they were pushed in).
impl PartialEq for GroupValues {
    fn eq(&self, other: &Self) -> bool {
        GroupField::ALL.iter().all(|&field| self.get(field) == other.get(field))
    }
}

impl Eq for GroupValues {}

impl fmt::Debug for GroupValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|(field, value)| (field.as_str(), value))).finish()
    }
}

/// The event type of a series name (the name itself for totals).
pub fn series_event_type(series: &str) -> &str {
    series.split_once(SERIES_SEPARATOR).map_or(series, |(event_type, _)| event_type)
}

/// `key`, then `|value` for a group's cell.
pub fn grouped_key(key: &str, group: Option<&str>) -> String {
    match group {
        None => key.to_owned(),
        Some(value) => format!("{key}{GROUP_SEPARATOR}{value}"),
    }
}

/// A key made by [`grouped_key`], split back into the key and the group value.
pub fn split_grouped_key(text: &str) -> (&str, Option<&str>) {
    match text.split_once(GROUP_SEPARATOR) {
        None => (text, None),
        Some((key, value)) => (key, Some(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_and_unknown_ones_are_refused_with_the_list() {
        for field in GroupField::ALL {
            assert_eq!(field.as_str().parse::<GroupField>(), Ok(field));
        }
        let err = "campaign.term".parse::<GroupField>().unwrap_err();
        assert!(err.contains("campaign.source, campaign.medium, campaign.name, referer.medium, referer.source"), "{err}");
        assert!("".parse::<GroupField>().is_err());
        assert!("Campaign.Source".parse::<GroupField>().is_err());
    }

    #[test]
    fn keys_carry_values_of_every_shape_and_split_back() {
        for value in ["google", "", "a|b", "näive ✓", "x/y#z", "|"] {
            let key = grouped_key("shardId-000000000001#4965", Some(value));
            assert_eq!(split_grouped_key(&key), ("shardId-000000000001#4965", Some(value)));
        }
        assert_eq!(split_grouped_key("2026-11-27T12:00:00Z"), ("2026-11-27T12:00:00Z", None));
        assert_eq!(series_event_type(&GroupField::RefererSource.series("pageview")), "pageview");
        assert_eq!(series_event_type("pageview"), "pageview");
    }

    #[test]
    fn values_pushed_all_at_once_are_as_pushed_one_by_one() {
        let of = |pairs: &[(GroupField, &str)]| {
            let mut values = GroupValues::default();
            pairs.iter().for_each(|(f, v)| values.push(*f, v));
            values
        };
        let (source, medium, name) = (GroupField::CampaignSource, GroupField::CampaignMedium, GroupField::RefererSource);
        let others = of(&[(medium, "email"), (name, "Google")]);
        // None in both (one copy), some in both (the first value stays), and nothing.
        for mine in [vec![(source, "news")], vec![(medium, "cpc"), (source, "x")], vec![]] {
            let mut all = of(&mine);
            all.push_all(&others);
            let one_by_one: Vec<_> = mine.iter().copied().chain([(medium, "email"), (name, "Google")]).collect();
            assert_eq!(all, of(&one_by_one), "{mine:?}");
            assert_eq!(all.iter().count(), of(&one_by_one).iter().count());
            let mut some = of(&[(name, "old")]);
            some.set_to(&all, &[source, medium]);
            assert_eq!(some, of(&one_by_one.iter().copied().filter(|(f, _)| *f != name).collect::<Vec<_>>()), "{mine:?}");
        }
    }

    #[test]
    fn values_are_kept_per_field_and_long_ones_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_GROUP_VALUE_BYTES);
        let mut values = GroupValues::default();
        assert!(values.is_empty() && values.iter().next().is_none());
        values.push(GroupField::RefererSource, "Google");
        values.push(GroupField::CampaignName, &long);
        values.push(GroupField::RefererSource, "Bing");
        for field in GroupField::ALL {
            values.push(field, &long);
        }
        let mut small = GroupValues::default();
        small.push(GroupField::RefererMedium, "search");
        small.push(GroupField::CampaignSource, "");
        small.push(GroupField::CampaignName, &"n".repeat(GroupValues::INLINE_BYTES - 6));
        small.push(GroupField::CampaignMedium, "spills");
        assert_eq!(small.iter().collect::<Vec<_>>(), [
            (GroupField::CampaignSource, ""),
            (GroupField::CampaignMedium, "spills"),
            (GroupField::CampaignName, &*"n".repeat(GroupValues::INLINE_BYTES - 6)),
            (GroupField::RefererMedium, "search"),
        ], "values kept across the move out of the inline bytes");
        let cut = values.get(GroupField::CampaignName).unwrap();
        assert!(cut.len() <= MAX_GROUP_VALUE_BYTES && cut.len() >= MAX_GROUP_VALUE_BYTES - 1 && long.starts_with(cut));
        assert_eq!(values.get(GroupField::RefererSource), Some("Google"), "a field keeps its first value");
        let fields: Vec<GroupField> = values.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, GroupField::ALL, "every field, in order");
    }
}
