//! JSON text written by hand into a buffer (enrichment appends its fields to the
//! producer's bytes without re-serialising them): string literals, escaped only where needed.

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    // A fold without early exit vectorises; the texts here are short and rarely need escapes.
    let plain = s.bytes().fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}
