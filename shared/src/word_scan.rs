//! Byte tests eight bytes at a time, for the short texts the core reads and writes (an
//! event's keys, JSON string values, query names and values, hosts): too short for
//! memchr's set-up or a `memcmp` call to pay, and a byte loop costs a branch a byte.

/// `byte` in each of a word's eight bytes.
const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The high bit of each zero byte of `word` set, and no other bit (exact in every byte, so a
/// word may be masked to some of its bytes).
const fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = repeated(0x7f);
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// Nonzero exactly when a byte of `word` is zero, and then its lowest set bit is the high
/// bit of the first zero byte (above that, a byte of 0x01 may be marked too): one operation
/// fewer than [`zero_bytes`], for searches that want the first match only.
const fn first_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(repeated(0x01)) & !word & repeated(0x80)
}

/// Nonzero exactly when a byte of `word` is below `n` (at most 0x80).
const fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(repeated(n)) & !word & repeated(0x80)
}

/// The eight bytes of `bytes` from `at` as a little-endian word (the caller checks the length).
fn word_at(bytes: &[u8], at: usize) -> u64 {
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

/// Index of the first of the bytes `of` in `bytes` from `from` on (`bytes.len()` if none),
/// eight bytes at a time: a query's names and values and a URL's host are a few bytes to a
/// few dozen, too short for memchr's set-up to pay, and a byte loop costs a branch a byte.
/// The last word overlaps the one before, its bytes before `at` (searched already, or
/// before `from`) masked off.
pub(crate) fn find_byte<const N: usize>(bytes: &[u8], from: usize, of: [u8; N]) -> usize {
    let n = bytes.len();
    let mut at = from;
    while at + 8 <= n {
        let word = word_at(bytes, at);
        // The lowest mark of each byte's search is exact, so the lowest of all of them is.
        let found = of.iter().fold(0, |marks, &b| marks | first_zero_byte(word ^ repeated(b)));
        if found != 0 {
            return at + found.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    if at >= n {
        return n;
    }
    if n < 8 {
        return bytes[at..].iter().position(|x| of.contains(x)).map_or(n, |i| at + i);
    }
    // Masked, so every byte's mark must be exact.
    let base = n - 8;
    let word = word_at(bytes, base);
    let found = of.iter().fold(0, |marks, &b| marks | zero_bytes(word ^ repeated(b))) & (u64::MAX << ((at - base) * 8));
    if found == 0 { n } else { base + found.trailing_zeros() as usize / 8 }
}

/// Longest text [`has_either`] searches a word at a time; past it, memchr's vector search
/// pays for its set-up (a hostile value of a mebibyte).
const LONG_TEXT_BYTES: usize = 64;

/// Whether `text` holds `a` or `b`.
#[inline]
pub(crate) fn has_either(text: &[u8], a: u8, b: u8) -> bool {
    if text.len() > LONG_TEXT_BYTES {
        return memchr::memchr2(a, b, text).is_some();
    }
    find_byte(text, 0, [a, b]) < text.len()
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
    fn the_first_delimiter_from_any_place() {
        // Delimiters at every place of an eight-byte word, and bytes the word trick could
        // mistake for them (0x80 and up, 0x01 above a match).
        for len in 0..40 {
            for at in 0..len {
                let mut text: Vec<u8> = (0..len).map(|i| if i % 3 == 0 { 0x27 } else { b'a' + (i % 7) as u8 }).collect();
                text[at] = b'=';
                assert_eq!(find_byte(&text, 0, [b'=', b'&']), at, "{len} {at}");
                assert_eq!(find_byte(&text, at + 1, [b'=', b'&']), len);
                text[at] = b'&';
                assert_eq!(find_byte(&text, 0, [b'&']), at);
            }
        }
    }

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
        let long = vec![b'a'; 1000];
        assert!(!has_either(&long, b'%', b'+'));
        let mut long_hit = long.clone();
        long_hit[999] = b'+';
        assert!(has_either(&long_hit, b'%', b'+'));
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
