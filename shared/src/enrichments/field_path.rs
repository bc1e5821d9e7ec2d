//! Event fields named in enrichment files: `user_id`, `page.url`, `properties.plan`, and
//! `items[].sku` (the `sku` of every element of the array `items`, in order).

use std::fmt;

use crate::json_tape::{Elements, TapeValue};
use crate::root_members::RootMembers;

/// A parsed field name: object members, and at most one `[]` (every element of an array).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    /// The members before the `[]` (all of them when there is none).
    head: Vec<String>,
    /// With `[]`: the members read inside each element (empty: the element itself).
    each: Option<Vec<String>>,
    text: String,
}

/// What a field holds in one event.
#[derive(Debug)]
pub enum Found<'n, 'a> {
    /// The event has no such field, or `null` there: null is no value, as producers mean it.
    Absent,
    /// The field's one value.
    One(TapeValue<'a>),
    /// One entry per element of the array, in order; `None` where the element lacks the
    /// field or holds `null` there.
    Each(EachValue<'n, 'a>),
}

/// The field in each element of an array, in order (`None` where an element lacks it).
#[derive(Debug)]
pub struct EachValue<'n, 'a> {
    elements: Elements<'a>,
    inner: &'n [String],
}

impl<'a> Iterator for EachValue<'_, 'a> {
    type Item = Option<TapeValue<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.elements.next().map(|e| walk(e, self.inner).filter(|v| !v.is_null()))
    }
}

impl FieldPath {
    /// Parses `a.b`, `a[].b.c` or `a[]`; the message says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (head, each) = match text.split_once("[]") {
            None => (text, None),
            Some((head, rest)) => {
                if rest.contains("[]") {
                    return Err(format!("{text:?} has more than one []: a key may be inside one array, not arrays of arrays"));
                }
                let rest = if rest.is_empty() {
                    Some("")
                } else {
                    Some(rest.strip_prefix('.').ok_or_else(|| format!("{text:?}: write a dot after [], like items[].sku"))?)
                };
                (head, rest)
            }
        };
        let members = |part: &str| -> Result<Vec<String>, String> {
            if part.is_empty() {
                return Ok(Vec::new());
            }
            part.split('.')
                .map(|m| {
                    if m.is_empty() || m.contains(['[', ']']) {
                        Err(format!("{text:?} is not a field name like user_id, properties.plan or items[].sku"))
                    } else {
                        Ok(m.to_owned())
                    }
                })
                .collect()
        };
        let head = members(head)?;
        if head.is_empty() {
            return Err(format!("{text:?} is not a field name like user_id, properties.plan or items[].sku"));
        }
        let each = each.map(members).transpose()?;
        Ok(Self { head, each, text: text.to_owned() })
    }

    /// Whether the path goes into an array (`[]`).
    pub fn has_each(&self) -> bool {
        self.each.is_some()
    }

    /// The field's value(s) in the event.
    pub(crate) fn find<'n, 'a>(&'n self, event: &RootMembers<'a>) -> Found<'n, 'a> {
        let Some(value) = self.head_value(event).filter(|v| !v.is_null()) else { return Found::Absent };
        match &self.each {
            None => Found::One(value),
            Some(inner) => {
                let elements = value.elements();
                if elements.clone().next().is_none() {
                    return Found::Absent;
                }
                Found::Each(EachValue { elements, inner })
            }
        }
    }

    /// The field as a string, where the path has no `[]` and the value is a string.
    pub(crate) fn find_str<'a>(&self, event: &RootMembers<'a>) -> Option<&'a str> {
        if self.each.is_some() {
            return None;
        }
        self.head_value(event)?.as_str()
    }

    /// The value at the members before any `[]`.
    fn head_value<'a>(&self, event: &RootMembers<'a>) -> Option<TapeValue<'a>> {
        let (root, rest) = self.head.split_first()?;
        walk(event.get(root)?, rest)
    }

    /// JSON pointer of the field (`index`: the element, for a path with `[]`).
    pub fn pointer(&self, index: Option<usize>) -> String {
        let mut out = String::new();
        let mut push = |m: &str| {
            out.push('/');
            out.push_str(&m.replace('~', "~0").replace('/', "~1"));
        };
        self.head.iter().for_each(|m| push(m));
        if let (Some(inner), Some(i)) = (&self.each, index) {
            push(&i.to_string());
            inner.iter().for_each(|m| push(m));
        }
        out
    }
}

fn walk<'a>(mut value: TapeValue<'a>, members: &[String]) -> Option<TapeValue<'a>> {
    for m in members {
        value = value.get(m)?;
    }
    Some(value)
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for FieldPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        FieldPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members_and_one_array() {
        assert_eq!(FieldPath::parse("user_id").unwrap().pointer(None), "/user_id");
        let p = FieldPath::parse("items[].sku").unwrap();
        assert!(p.has_each());
        assert_eq!(p.pointer(Some(2)), "/items/2/sku");
        assert_eq!(FieldPath::parse("tags[]").unwrap().pointer(Some(0)), "/tags/0");
        assert_eq!(FieldPath::parse("a/b.c~d").unwrap().pointer(None), "/a~1b/c~0d");
        for bad in ["", ".", "a..b", "a.", "[]", "a[].b[].c", "a[]b", "a[0].b", "a]"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
    }
}
