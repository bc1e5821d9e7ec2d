//! JSON text written by hand into a buffer (enrichment appends its fields to the
//! producer's bytes without re-serialising them): string literals, escaped only where needed.

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    // The texts here are short and rarely need escapes.
    if !crate::word_scan::needs_json_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}
