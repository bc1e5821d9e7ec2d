//! Byte tests eight bytes at a time, for the short texts enrichment reads and writes
//! (query names and values, keys, hosts): too short for memchr's set-up to pay, and a byte
//! loop costs a branch a byte.

/// `byte` in each of a word's eight bytes.
pub(crate) const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The high bit of each zero byte of `word` set, and no other bit (exact in every byte, so a
/// word may be masked to some of its bytes).
pub(crate) const fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = repeated(0x7f);
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// Nonzero exactly when a byte of `word` is zero, and then its lowest set bit is the high
/// bit of the first zero byte (above that, a byte of 0x01 may be marked too): one operation
/// fewer than [`zero_bytes`], for searches that want the first match only.
pub(crate) const fn first_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(repeated(0x01)) & !word & repeated(0x80)
}

/// Nonzero exactly when a byte of `word` is below `n` (at most 0x80).
const fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(repeated(n)) & !word & repeated(0x80)
}

/// The eight bytes of `bytes` from `at` as a little-endian word (the caller checks the length).
pub(crate) fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
}

/// Whether any byte of `bytes` passes `test`: `test_word` is nonzero exactly when a byte of
/// its word passes. Texts of eight bytes or more are read as whole words only, the last one
/// overlapping the one before (a byte tested twice changes no answer).
#[inline]
fn any_byte(bytes: &[u8], test_word: impl Fn(u64) -> u64, test: impl Fn(u8) -> bool) -> bool {
    let n = bytes.len();
    if n < 8 {
        return bytes.iter().any(|&b| test(b));
    }
    let mut at = 0;
    while at + 8 < n {
        if test_word(word_at(bytes, at)) != 0 {
            return true;
        }
        at += 8;
    }
    test_word(word_at(bytes, n - 8)) != 0
}

/// Whether `text` needs escapes as a JSON string: a control character, `"` or `\`.
#[inline]
pub(crate) fn needs_json_escape(text: &[u8]) -> bool {
    any_byte(
        text,
        |w| bytes_below(w, 0x20) | first_zero_byte(w ^ repeated(b'"')) | first_zero_byte(w ^ repeated(b'\\')),
        |b| b < 0x20 || b == b'"' || b == b'\\',
    )
}

/// Whether `text` holds `a` or `b`.
#[inline]
pub(crate) fn has_either(text: &[u8], a: u8, b: u8) -> bool {
    any_byte(text, |w| first_zero_byte(w ^ repeated(a)) | first_zero_byte(w ^ repeated(b)), |c| c == a || c == b)
}

/// Whether `text` holds an ASCII upper-case letter.
#[inline]
pub(crate) fn has_upper_case(text: &[u8]) -> bool {
    // Per byte, with the high bit cleared first so that no sum carries into the next byte:
    // `+ (0x80 - b'A')` sets the high bit from `A` on, `+ (0x80 - b'Z' - 1)` from after `Z`.
    let upper = |w: u64| {
        let low = w & repeated(0x7f);
        low.wrapping_add(repeated(0x80 - b'A')) & !low.wrapping_add(repeated(0x80 - b'Z' - 1)) & !w & repeated(0x80)
    };
    any_byte(text, upper, |b| b.is_ascii_uppercase())
}

/// `a == b`, compared in place: the keys and names of events are a few bytes, where a call
/// to `memcmp` costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    match n {
        // Two loads that overlap cover every byte.
        8..=16 => word_at(a, 0) == word_at(b, 0) && word_at(a, n - 8) == word_at(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_byte_at_each_place_of_short_and_long_texts() {
        for len in 1..40 {
            for at in 0..len {
                // Bytes the word tricks could mistake: 0x80 and up, 0x01 and 0x21 near a hit.
                let mut text: Vec<u8> = (0..len).map(|i| [b'a', 0x80, 0xff, 0x21, b'~', 0x7f][i % 6]).collect();
                assert!(!needs_json_escape(&text), "{len}");
                assert!(!has_either(&text, b'%', b'+'));
                for (byte, escape) in [(b'"', true), (b'\\', true), (0x00, true), (0x1f, true), (b'\n', true), (0x20, false), (b'%', false)] {
                    text[at] = byte;
                    assert_eq!(needs_json_escape(&text), escape, "{len} {at} {byte:#x}");
                }
                assert!(!has_upper_case(&text));
                for byte in [b'A', b'Z', b'M'] {
                    text[at] = byte;
                    assert!(has_upper_case(&text), "{len} {at} {byte}");
                }
                for byte in [b'@', b'[', 0xc1, 0xda, b'a', b'z'] {
                    text[at] = byte;
                    assert!(!has_upper_case(&text), "{len} {at} {byte}");
                }
                text[at] = b'+';
                assert!(has_either(&text, b'%', b'+'));
                text[at] = b'%';
                assert!(has_either(&text, b'%', b'+'));
                assert!(!has_either(&text, b'&', b'='));
            }
        }
        assert!(!needs_json_escape(b""));
        for len in 0..40usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} {at}");
            }
        }
        assert!(!has_either(b"", b'%', b'+'));
    }
}
