//! Decoding a record's bytes into a checked JSON tape: size, UTF-8, JSON, object, depth and
//! duplicate keys. Everything that fails here is a `malformed` or `size_violation` bad row.

use simd_json::{Buffers, Node as TapeNode, Tape};

use crate::bad_row::{BadRowType, Rejection, Violation};
use crate::record::MAX_RECORD_BYTES;

/// The deepest nesting of objects and arrays accepted (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 64;

/// Reusable parse buffers: one per worker thread, so decoding allocates little.
#[derive(Default)]
pub struct DecodeScratch {
    bytes: Vec<u8>,
    buffers: Option<Buffers>,
}

fn malformed(keyword: &str, message: String) -> Rejection {
    Rejection::new(BadRowType::Malformed, Violation::new("", keyword, message))
}

/// Parses `data` into a tape whose root is an object with no duplicate keys at any level
/// and at most [`MAX_DEPTH`] levels of nesting. The tape borrows `scratch`.
pub fn decode<'s>(data: &[u8], scratch: &'s mut DecodeScratch) -> Result<Tape<'s>, Rejection> {
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
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed("json", "the record is empty: expected one JSON object".into()));
    }
    if let Err(e) = std::str::from_utf8(data) {
        return Err(malformed(
            "utf8",
            format!("invalid UTF-8 at byte {}: records must be UTF-8 encoded JSON", e.valid_up_to()),
        ));
    }
    // Cheap bound first: without MAX_DEPTH opening brackets the depth cannot exceed it.
    let openings = data.iter().filter(|&&b| b == b'{' || b == b'[').count();
    scratch.bytes.clear();
    scratch.bytes.extend_from_slice(data);
    let buffers = scratch.buffers.get_or_insert_with(|| Buffers::new(data.len()));
    let tape = simd_json::to_tape_with_buffers(&mut scratch.bytes, buffers)
        .map_err(|e| malformed("json", format!("not valid JSON: {e}")))?;
    match tape.0.first() {
        Some(TapeNode::Object { .. }) => {}
        Some(other) => {
            let what = match other {
                TapeNode::Array { .. } => "an array",
                TapeNode::String(_) => "a string",
                _ => "a scalar",
            };
            return Err(malformed("type", format!("the record is {what}; an event must be one JSON object")));
        }
        None => return Err(malformed("json", "the record holds no JSON value".into())),
    }
    check_structure(&tape.0, openings > MAX_DEPTH)?;
    Ok(tape)
}

/// One pass over the tape: duplicate keys, and nesting depth when it could exceed the limit.
fn check_structure(nodes: &[TapeNode<'_>], check_depth: bool) -> Result<(), Rejection> {
    // End index (exclusive) of each open container, innermost last; kept only for depth.
    let mut open: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let count = match *node {
            TapeNode::Object { len, count } => {
                if let Some(key) = duplicate_key(&nodes[i..], len) {
                    return Err(malformed(
                        "duplicateKey",
                        format!("the key {key:?} appears twice in one object: keep one"),
                    ));
                }
                count
            }
            TapeNode::Array { count, .. } => count,
            _ => continue,
        };
        if check_depth {
            while open.last().is_some_and(|&end| end <= i) {
                open.pop();
            }
            open.push(i + count + 1);
            if open.len() > MAX_DEPTH {
                return Err(malformed(
                    "maxDepth",
                    format!("objects and arrays are nested more than {MAX_DEPTH} deep"),
                ));
            }
        }
    }
    Ok(())
}

/// The first repeated key of the object at `nodes[0]` with `len` members.
fn duplicate_key<'a>(nodes: &[TapeNode<'a>], len: usize) -> Option<&'a str> {
    const INLINE: usize = 32;
    let mut inline: [&str; INLINE] = [""; INLINE];
    let mut spilled: Vec<&str> = Vec::new();
    let mut at = 1;
    for n in 0..len {
        let TapeNode::String(key) = nodes.get(at)? else { return None };
        let seen = if n < INLINE { &inline[..n] } else { &spilled[..] };
        if seen.contains(key) || (n >= INLINE && inline.contains(key)) {
            return Some(key);
        }
        if n < INLINE {
            inline[n] = key;
        } else {
            spilled.push(key);
        }
        at += 1;
        at += match nodes.get(at)? {
            TapeNode::Object { count, .. } | TapeNode::Array { count, .. } => count + 1,
            _ => 1,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(data: &[u8]) -> Result<(), (BadRowType, String)> {
        let mut scratch = DecodeScratch::default();
        decode(data, &mut scratch).map(|_| ()).map_err(|r| (r.kind, r.errors[0].keyword.clone()))
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
