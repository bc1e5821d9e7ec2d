//! A read-only view of a simd-json tape, and the `jsonschema` representation over it.
//!
//! Validating the tape in place avoids building a value tree (one allocation per object
//! and array) or converting to `serde_json::Value`, which costs more than the parse itself.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use simd_json::{Node as TapeNode, StaticNode};

/// One value on a tape: `nodes[0]` is the value, the rest of the slice is its subtree.
#[derive(Clone, Copy, Debug)]
pub struct TapeValue<'a> {
    nodes: &'a [TapeNode<'a>],
}

/// Nodes a value spans on the tape, itself included.
fn span(node: &TapeNode<'_>) -> usize {
    match node {
        TapeNode::Object { count, .. } | TapeNode::Array { count, .. } => count + 1,
        _ => 1,
    }
}

impl<'a> TapeValue<'a> {
    /// The root of a whole tape. `None` for an empty tape.
    pub fn root(nodes: &'a [TapeNode<'a>]) -> Option<Self> {
        let first = nodes.first()?;
        Some(Self { nodes: &nodes[..span(first).min(nodes.len())] })
    }

    fn node(&self) -> &'a TapeNode<'a> {
        &self.nodes[0]
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.node() {
            TapeNode::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, boolean or null, if the value is one.
    pub fn as_static(&self) -> Option<StaticNode> {
        match self.node() {
            TapeNode::Static(s) => Some(*s),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.node(), TapeNode::Static(StaticNode::Null))
    }

    /// Whether the value is an object.
    pub fn is_object(&self) -> bool {
        matches!(self.node(), TapeNode::Object { .. })
    }

    /// The member `key` of an object; `None` when absent or not an object.
    pub fn get(&self, key: &str) -> Option<TapeValue<'a>> {
        self.members().find(|(name, _)| crate::word_scan::same_bytes(name.as_bytes(), key.as_bytes())).map(|(_, value)| value)
    }

    /// An object's members in document order (empty for a non-object).
    pub fn members(&self) -> Members<'a> {
        match self.node() {
            TapeNode::Object { .. } => Members { rest: &self.nodes[1..] },
            _ => Members { rest: &[] },
        }
    }

    /// An array's elements in order (empty for a non-array).
    pub fn elements(&self) -> Elements<'a> {
        match self.node() {
            TapeNode::Array { .. } => Elements { rest: &self.nodes[1..] },
            _ => Elements { rest: &[] },
        }
    }

    /// JSON type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.node() {
            TapeNode::String(_) => "a string",
            TapeNode::Object { .. } => "an object",
            TapeNode::Array { .. } => "an array",
            TapeNode::Static(StaticNode::Null) => "null",
            TapeNode::Static(StaticNode::Bool(_)) => "a boolean",
            TapeNode::Static(_) => "a number",
        }
    }

    /// Converts to `serde_json::Value`: only for cold paths (error reports).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value;
        match self.node() {
            TapeNode::String(s) => Value::String((*s).to_owned()),
            TapeNode::Static(s) => static_to_serde(*s),
            TapeNode::Array { .. } => Value::Array(self.elements().map(|v| v.to_serde()).collect()),
            TapeNode::Object { .. } => Value::Object(
                self.members().map(|(k, v)| (k.to_owned(), v.to_serde())).collect(),
            ),
        }
    }
}

fn static_to_serde(node: StaticNode) -> serde_json::Value {
    use serde_json::Value;
    match node {
        StaticNode::Null => Value::Null,
        StaticNode::Bool(b) => Value::Bool(b),
        StaticNode::I64(i) => Value::from(i),
        StaticNode::U64(u) => Value::from(u),
        StaticNode::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        #[allow(unreachable_patterns)]
        _ => Value::Null,
    }
}

/// Iterator over an object's `(name, value)` pairs.
#[derive(Clone)]
pub struct Members<'a> {
    rest: &'a [TapeNode<'a>],
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, TapeValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, after) = self.rest.split_first()?;
        let TapeNode::String(key) = key else { return None };
        let len = span(after.first()?).min(after.len());
        let (value, rest) = after.split_at(len);
        self.rest = rest;
        Some((key, TapeValue { nodes: value }))
    }
}

/// Iterator over an array's elements.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [TapeNode<'a>],
}

impl<'a> Iterator for Elements<'a> {
    type Item = TapeValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let len = span(self.rest.first()?).min(self.rest.len());
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(TapeValue { nodes: value })
    }
}

/// The `jsonschema` representation of simd-json tapes.
pub struct TapeJson;

impl Json for TapeJson {
    type Node<'a> = TapeValue<'a>;
    type PreparedKey = Box<str>;
    type StringBuffer = ();

    // Lookups scan the members linearly, so one members pass beats several lookups.
    const KEYS_PER_LOOKUP: usize = 16;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> Box<str> {
        key.into()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(TapeValue<'_>) -> T) -> T {
        let node = [TapeNode::String(string)];
        f(TapeValue { nodes: &node })
    }
}

/// A number on the tape.
pub struct TapeNumber(StaticNode);

impl JsonNumber for TapeNumber {
    fn as_u64(&self) -> Option<u64> {
        match self.0 {
            StaticNode::U64(u) => Some(u),
            StaticNode::I64(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self.0 {
            StaticNode::I64(i) => Some(i),
            StaticNode::U64(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn as_f64(&self) -> Option<f64> {
        match self.0 {
            StaticNode::I64(i) => Some(i as f64),
            StaticNode::U64(u) => Some(u as f64),
            StaticNode::F64(f) => Some(f),
            _ => None,
        }
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(match self.0 {
            StaticNode::I64(i) => i.to_string(),
            StaticNode::U64(u) => u.to_string(),
            StaticNode::F64(f) => f.to_string(),
            _ => String::new(),
        })
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(match self.0 {
            StaticNode::I64(i) => i.into(),
            StaticNode::U64(u) => u.into(),
            StaticNode::F64(f) => serde_json::Number::from_f64(f).unwrap_or_else(|| 0.into()),
            _ => 0.into(),
        })
    }

    fn is_integer(&self) -> bool {
        match self.0 {
            StaticNode::I64(_) | StaticNode::U64(_) => true,
            StaticNode::F64(f) => f.is_finite() && f.fract() == 0.0,
            _ => false,
        }
    }

    fn is_written_as_integer(&self) -> bool {
        matches!(self.0, StaticNode::I64(_) | StaticNode::U64(_))
    }
}

impl<'a> Node<'a, TapeJson> for TapeValue<'a> {
    type Object = TapeValue<'a>;
    type Array = TapeValue<'a>;
    type Number = TapeNumber;

    fn as_object(&self) -> Option<TapeValue<'a>> {
        self.is_object().then_some(*self)
    }

    fn as_array(&self) -> Option<TapeValue<'a>> {
        matches!(self.node(), TapeNode::Array { .. }).then_some(*self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        self.as_str().map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<TapeNumber> {
        match self.node() {
            TapeNode::Static(s @ (StaticNode::I64(_) | StaticNode::U64(_) | StaticNode::F64(_))) => {
                Some(TapeNumber(*s))
            }
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.node() {
            TapeNode::Static(StaticNode::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        TapeValue::is_null(self)
    }

    fn json_type(&self) -> JsonType {
        match self.node() {
            TapeNode::String(_) => JsonType::String,
            TapeNode::Object { .. } => JsonType::Object,
            TapeNode::Array { .. } => JsonType::Array,
            TapeNode::Static(StaticNode::Null) => JsonType::Null,
            TapeNode::Static(StaticNode::Bool(_)) => JsonType::Boolean,
            TapeNode::Static(_) => JsonType::Number,
        }
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let s = self.as_str()?;
        // A code point takes one to four bytes, so the count lies in `ceil(bytes / 4)..=bytes`.
        let bytes = s.len() as u64;
        let fewest = bytes.div_ceil(4);
        if bytes < min || fewest > max {
            return Some(false);
        }
        if min <= fewest && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(self.to_serde())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(self.nodes.as_ptr() as usize))
    }
}

impl<'a> Object<'a, TapeJson> for TapeValue<'a> {
    type Node = TapeValue<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        match self.node() {
            TapeNode::Object { len, .. } => *len,
            _ => 0,
        }
    }

    fn get(&self, key: &Box<str>) -> Option<TapeValue<'a>> {
        TapeValue::get(self, key)
    }

    fn members(&self) -> Members<'a> {
        TapeValue::members(self)
    }
}

impl<'a> Array<'a, TapeJson> for TapeValue<'a> {
    type Node = TapeValue<'a>;
    type ElementsIter = Elements<'a>;

    fn len(&self) -> usize {
        match self.node() {
            TapeNode::Array { len, .. } => *len,
            _ => 0,
        }
    }

    fn elements(&self) -> Elements<'a> {
        TapeValue::elements(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_members_and_elements_in_document_order() {
        let mut bytes = br#"{"a": [1, {"b": null}, "x"], "c": -2.5, "d": {}}"#.to_vec();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let root = TapeValue::root(&tape.0).unwrap();
        let names: Vec<_> = root.members().map(|(k, _)| k).collect();
        assert_eq!(names, ["a", "c", "d"]);
        let a: Vec<_> = root.get("a").unwrap().elements().map(|v| v.type_name()).collect();
        assert_eq!(a, ["a number", "an object", "a string"]);
        assert_eq!(
            root.to_serde(),
            serde_json::json!({"a": [1, {"b": null}, "x"], "c": -2.5, "d": {}})
        );
    }
}
