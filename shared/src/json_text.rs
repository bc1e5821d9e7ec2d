//! JSON text written by hand into a buffer (enrichment appends its fields to the
//! producer's bytes without re-serialising them): string literals, escaped only where needed.

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    if is_plain(s.as_bytes()) {
        // One capacity check, not three.
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

/// Whether `bytes` need no escape in a JSON string (no control character, `"` or `\`),
/// eight bytes at a time: most texts here are a few bytes to a few dozen, where a byte loop
/// costs a branch a byte and a vector loop its set-up.
fn is_plain(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let escaped = words.by_ref().fold(0, |found, chunk| {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        found | below(word, 0x20) | zero_bytes(word ^ repeated(b'"')) | zero_bytes(word ^ repeated(b'\\'))
    });
    escaped == 0 && words.remainder().iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `byte` in each of a word's eight bytes.
pub(crate) const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The high bit of each zero byte of `word` set (the lowest one exactly; above it, a byte
/// of 0x01 may be marked too), and no other bit: nonzero exactly when a byte is zero.
pub(crate) const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(repeated(0x01)) & !word & repeated(0x80)
}

/// Nonzero exactly when a byte of `word` is below `limit` (at most 0x80).
const fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(repeated(limit)) & !word & repeated(0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_exactly_where_json_needs_it() {
        // Every byte that needs an escape, at every place of a word, among bytes that do not
        // (0x20, 0x7f, 0x80 and up, the neighbours of `"` and `\`).
        for len in 1..20 {
            for at in 0..len {
                for bad in [b'"', b'\\', 0x00, 0x01, 0x0a, 0x1f] {
                    let mut text: Vec<u8> = (0..len).map(|i| [b' ', b'!', b'#', b'[', b']', 0x7f][i % 6]).collect();
                    assert!(is_plain(&text), "{text:?}");
                    text[at] = bad;
                    assert!(!is_plain(&text), "{text:?}");
                }
            }
        }
        for text in ["", "plain", "café ✓ naïve", "a\"b", "back\\slash", "line\nbreak", "\u{1}", "\u{7f}\u{80}"] {
            let mut out = String::new();
            push_json_str(&mut out, text);
            assert_eq!(out, serde_json::Value::from(text).to_string(), "{text:?}");
        }
    }
}
