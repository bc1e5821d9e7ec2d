//! Decoding a record's bytes into a checked JSON tape: size, UTF-8, JSON, object, depth and
//! duplicate keys. Everything that fails here is a `malformed` or `size_violation` bad row.

use simd_json::{Buffers, ErrorType, INPUT_PADDING, Node as TapeNode, Tape, fill_tape_padded};

use crate::bad_row::{BadRowType, Rejection, Violation};
use crate::json_tape::TapeValue;
use crate::record::MAX_RECORD_BYTES;
use crate::root_members::RootMembers;

/// The deepest nesting of objects and arrays accepted (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 64;

/// Reusable parse state: one per worker thread, so decoding a record allocates nothing
/// once the buffers have grown to the records' size.
pub struct DecodeScratch {
    /// The record's bytes plus simd-json's padding; simd-json unescapes strings in place.
    bytes: Vec<u8>,
    buffers: Buffers,
    /// The tape's allocation, kept between records (empty, `'static`, when not in use).
    tape: Tape<'static>,
}

impl Default for DecodeScratch {
    fn default() -> Self {
        Self { bytes: Vec::new(), buffers: Buffers::with_max_depth(4096, MAX_DEPTH), tape: Tape::null() }
    }
}

fn malformed(keyword: &str, message: String) -> Rejection {
    Rejection::new(BadRowType::Malformed, Violation::new("", keyword, message))
}

/// Parses `data` and hands `use_event` the event: an object with no duplicate keys at any
/// level and at most [`MAX_DEPTH`] levels of nesting, its top-level members listed.
pub fn decode<R>(
    data: &[u8],
    scratch: &mut DecodeScratch,
    mut use_event: impl FnMut(&RootMembers<'_>) -> Result<R, Rejection>,
) -> Result<R, Rejection> {
    if data.len() > MAX_RECORD_BYTES {
        return Err(Rejection::new(
            BadRowType::SizeViolation,
            Violation::new(
                "",
                "maxBytes",
                format!(
                    "the record is {} bytes; the limit is {MAX_RECORD_BYTES} bytes (1 MiB): \
                     send large content by reference instead",
                    data.len()
                ),
            ),
        ));
    }
    match parse(data, scratch, &mut use_event) {
        Err(Refused::Number(e)) => match big_numbers_as_floats(data) {
            // Valid JSON with an integer beyond 64 bits (simd-json refuses those): validate
            // a copy with such numbers as floats; the producer's bytes are still what is kept.
            Some(normalized) => match parse(&normalized, scratch, &mut use_event) {
                Err(Refused::Number(e) | Refused::Other(e)) => Err(parse_error(data, &e)),
                Err(Refused::Rejected(r)) => Err(r),
                Ok(r) => Ok(r),
            },
            None => Err(parse_error(data, &e)),
        },
        Err(Refused::Other(e)) => Err(parse_error(data, &e)),
        Err(Refused::Rejected(r)) => Err(r),
        Ok(r) => Ok(r),
    }
}

enum Refused {
    /// simd-json refused a number (it reads no integer beyond 64 bits).
    Number(simd_json::Error),
    Other(simd_json::Error),
    Rejected(Rejection),
}

/// Parses `input` (`data` itself, or a normalised copy) and checks the tape.
fn parse<R>(
    input: &[u8],
    scratch: &mut DecodeScratch,
    use_event: &mut impl FnMut(&RootMembers<'_>) -> Result<R, Rejection>,
) -> Result<R, Refused> {
    scratch.bytes.clear();
    scratch.bytes.extend_from_slice(input);
    scratch.bytes.resize(input.len() + INPUT_PADDING, 0);
    let mut tape: Tape<'_> = std::mem::replace(&mut scratch.tape, Tape::null()).reset();
    let parsed = fill_tape_padded(&mut scratch.bytes, input.len(), &mut scratch.buffers, &mut tape);
    let result = match parsed {
        Err(e) if *e.error() == ErrorType::InvalidNumber => Err(Refused::Number(e)),
        Err(e) => Err(Refused::Other(e)),
        Ok(()) => check_root(&tape.0).and_then(|event| check_structure(&tape.0, event, use_event)).map_err(Refused::Rejected),
    };
    scratch.tape = tape.reset();
    result
}

/// `data` re-written by serde_json, which reads integers beyond 64 bits as floats; `None`
/// when it is not JSON at all.
fn big_numbers_as_floats(data: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    serde_json::to_vec(&value).ok()
}

/// The clearest reason simd-json refused `data`.
fn parse_error(data: &[u8], error: &simd_json::Error) -> Rejection {
    if data.iter().all(u8::is_ascii_whitespace) {
        return malformed("json", "the record is empty: expected one JSON object".into());
    }
    if let Err(e) = std::str::from_utf8(data) {
        return malformed(
            "utf8",
            format!("invalid UTF-8 at byte {}: records must be UTF-8 encoded JSON", e.valid_up_to()),
        );
    }
    if *error.error() == ErrorType::DepthLimitExceeded {
        return malformed("maxDepth", format!("objects and arrays are nested more than {MAX_DEPTH} deep"));
    }
    malformed("json", format!("not valid JSON: {error}"))
}

/// The tape's root, if it is an object.
fn check_root<'a>(nodes: &'a [TapeNode<'a>]) -> Result<TapeValue<'a>, Rejection> {
    let Some(root) = TapeValue::root(nodes) else {
        return Err(malformed("json", "the record holds no JSON value".into()));
    };
    let what = match nodes[0] {
        TapeNode::Object { .. } => return Ok(root),
        TapeNode::Array { .. } => "an array",
        TapeNode::String(_) => "a string",
        _ => "a scalar",
    };
    Err(malformed("type", format!("the record is {what}; an event must be one JSON object")))
}

/// Refuses duplicate keys in any object: consumers disagree on which copy wins. The event's
/// (`event`, the object at `nodes[0]`) top-level members are listed as their names are
/// compared, and the event handed to `use_event` where it was made (a few hundred bytes).
fn check_structure<'a, R>(
    nodes: &'a [TapeNode<'a>],
    event: TapeValue<'a>,
    use_event: &mut impl FnMut(&RootMembers<'_>) -> Result<R, Rejection>,
) -> Result<R, Rejection> {
    let duplicate = |key: &str| malformed("duplicateKey", format!("the key {key:?} appears twice in one object: keep one"));
    let root = RootMembers::new(event);
    let root_duplicate = match nodes[0] {
        // An event with more members than are listed is checked like any object.
        TapeNode::Object { len, .. } if !root.is_listed() => duplicate_key(nodes, len),
        _ => root.repeated(),
    };
    if let Some(key) = root_duplicate {
        return Err(duplicate(key));
    }
    for (i, node) in nodes.iter().enumerate().skip(1) {
        if let TapeNode::Object { len, .. } = *node {
            if let Some(key) = duplicate_key(&nodes[i..], len) {
                return Err(duplicate(key));
            }
        }
    }
    use_event(&root)
}

/// The keys of the object at `nodes[0]`, in order.
fn keys<'a>(nodes: &[TapeNode<'a>], len: usize) -> impl Iterator<Item = &'a str> {
    let mut at = 1;
    (0..len).map_while(move |_| {
        let TapeNode::String(key) = nodes.get(at)? else { return None };
        at += 1;
        at += match nodes.get(at)? {
            TapeNode::Object { count, .. } | TapeNode::Array { count, .. } => count + 1,
            _ => 1,
        };
        Some(*key)
    })
}

/// Objects of at most this many members are checked pair by pair, which is faster than
/// hashing for the few keys events usually have; larger ones through a hash set, so an
/// object of 85,000 keys costs linear time, not quadratic. (The event's own members are
/// compared as they are listed: [`RootMembers::new`].)
const PAIRWISE_MAX_MEMBERS: usize = 16;

/// The first repeated key of the object at `nodes[0]` with `len` members.
fn duplicate_key<'a>(nodes: &[TapeNode<'a>], len: usize) -> Option<&'a str> {
    if len < 2 {
        return None;
    }
    if len <= PAIRWISE_MAX_MEMBERS {
        let mut seen: [&str; PAIRWISE_MAX_MEMBERS] = [""; PAIRWISE_MAX_MEMBERS];
        for (n, key) in keys(nodes, len).enumerate() {
            if seen[..n].contains(&key) {
                return Some(key);
            }
            seen[n] = key;
        }
        return None;
    }
    // SipHash with a random key: keys chosen to collide cannot make this quadratic.
    let mut seen = std::collections::HashSet::with_capacity(len);
    keys(nodes, len).find(|key| !seen.insert(*key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(data: &[u8]) -> Result<(), (BadRowType, String)> {
        let mut scratch = DecodeScratch::default();
        decode(data, &mut scratch, |_| Ok(())).map_err(|r| (r.kind, r.errors[0].keyword.clone()))
    }

    #[test]
    fn accepts_an_object() {
        assert_eq!(kind(br#"{"a": {"b": [1, {"c": 2}]}}"#), Ok(()));
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for input in [&b""[..], b"   ", b"[1]", b"\"x\"", b"42", b"{\"a\":", b"{\"a\":1}{", b"nul"] {
            assert_eq!(kind(input).unwrap_err().0, BadRowType::Malformed, "{input:?}");
        }
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert_eq!(kind(b"{\"a\": \"\xff\"}"), Err((BadRowType::Malformed, "utf8".into())));
    }

    #[test]
    fn refuses_duplicate_keys_at_any_level() {
        assert_eq!(kind(br#"{"a": 1, "a": 2}"#), Err((BadRowType::Malformed, "duplicateKey".into())));
        assert_eq!(kind(br#"{"a": {"b": 1, "c": [], "b": 2}}"#).unwrap_err().1, "duplicateKey");
        let many: String = (0..40).map(|i| format!("\"k{i}\": {i},")).collect();
        assert_eq!(kind(format!("{{{many} \"k3\": 0}}").as_bytes()).unwrap_err().1, "duplicateKey");
        // At the boundary between the pairwise and the hashed check, and inside arrays.
        for n in [15, 16, 17, 200] {
            let keys: String = (0..n).map(|i| format!("\"k{i}\": [{{\"a\": {i}}}],")).collect();
            assert_eq!(kind(format!("{{{keys} \"k0\": 0}}").as_bytes()).unwrap_err().1, "duplicateKey", "{n}");
            assert_eq!(kind(format!("{{{keys} \"z\": 0}}").as_bytes()), Ok(()), "{n}");
            let nested = format!("{{\"a\": [{{{keys} \"k1\": 0}}]}}");
            assert_eq!(kind(nested.as_bytes()).unwrap_err().1, "duplicateKey", "{n}");
        }
    }

    #[test]
    fn names_the_first_repeated_top_level_key() {
        let message = |json: &str| {
            let mut scratch = DecodeScratch::default();
            decode(json.as_bytes(), &mut scratch, |_| Ok(())).unwrap_err().errors[0].message.clone()
        };
        // Names 32 bytes apart in length (one slot of the top-level index), names of one
        // length, and the repeat past the listed members.
        let long = "b".repeat(33);
        assert!(message(&format!(r#"{{"b": 1, "{long}": 2, "c": 3, "{long}": 4, "b": 5}}"#)).contains(&format!("{long:?}")));
        assert!(message(r#"{"ab": 1, "cd": 2, "ef": 3, "cd": 4, "ab": 5}"#).contains("\"cd\" appears twice"));
        // Names written differently that decode alike are one name.
        assert!(message(r#"{"a": 1, "\u0061": 2}"#).contains("\"a\" appears twice"));
        assert!(message(r#"{"x": 0, "\u00e9t\u00e9": 1, "été": 2}"#).contains("\"été\" appears twice"));
        let many: String = (0..20).map(|i| format!("\"k{i:02}\": {i},")).collect();
        assert!(message(&format!("{{{many} \"k19\": 0, \"k03\": 0}}")).contains("\"k19\" appears twice"));
        let mut scratch = DecodeScratch::default();
        let json = format!(r#"{{"b": 1, "{long}": 2, "c": {{"b": 3}}}}"#);
        let found = decode(json.as_bytes(), &mut scratch, |event| Ok((event.get("b").is_some(), event.get(&long).is_some(), event.get("bb").is_none())));
        assert_eq!(found.unwrap(), (true, true, true));
    }

    #[test]
    fn depth_limit_is_exact() {
        let nest = |depth: usize| {
            let mut s = String::from("{\"a\":");
            s.push_str(&"[".repeat(depth - 1));
            s.push_str(&"]".repeat(depth - 1));
            s.push('}');
            s
        };
        assert_eq!(kind(nest(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(kind(nest(MAX_DEPTH + 1).as_bytes()).unwrap_err().1, "maxDepth");
        assert_eq!(kind(nest(100_000).as_bytes()).unwrap_err().0, BadRowType::Malformed);
    }

    #[test]
    fn size_limit_is_one_mebibyte() {
        let pad = |n: usize| format!("{{\"a\":\"{}\"}}", "x".repeat(n - 8)).into_bytes();
        assert_eq!(pad(MAX_RECORD_BYTES).len(), MAX_RECORD_BYTES);
        assert_eq!(kind(&pad(MAX_RECORD_BYTES)), Ok(()));
        assert_eq!(kind(&pad(MAX_RECORD_BYTES + 1)).unwrap_err().0, BadRowType::SizeViolation);
        assert_eq!(kind(&pad(5 * MAX_RECORD_BYTES)).unwrap_err().0, BadRowType::SizeViolation);
    }
}
