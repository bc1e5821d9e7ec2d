//! Hostile shapes: valid-looking events just under the 1 MiB record limit that are as
//! expensive as we know how to make them for the core (wide objects, deep nesting, long
//! and escaped strings, many numbers, integers beyond 64 bits, line breaks everywhere, page
//! URLs and referrers of a hundred thousand query parameters for the enrichments).
//! The bench `hostile` times them; the robustness tests run them. Each costs at most a few
//! milliseconds of core time (docs/PERFORMANCE.md).

use std::fmt::Write as _;

use crate::record::MAX_RECORD_BYTES;

/// One hostile shape: a name for reports, and a generator of an event of about `bytes`.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// The shape's name in reports (`wide_object`, ...).
    pub name: &'static str,
    /// Makes an event of this shape of about `bytes` bytes.
    pub make: fn(bytes: usize) -> Vec<u8>,
}

/// Every shape, each one a different worst case.
pub const SHAPES: [Shape; 12] = [
    Shape { name: "wide_object", make: wide_object },
    Shape { name: "wide_object_similar_keys", make: wide_object_similar_keys },
    Shape { name: "many_small_objects", make: many_small_objects },
    Shape { name: "deep_nesting", make: deep_nesting },
    Shape { name: "long_string", make: long_string },
    Shape { name: "escaped_string", make: escaped_string },
    Shape { name: "many_small_numbers", make: many_small_numbers },
    Shape { name: "many_floats", make: many_floats },
    Shape { name: "big_integers", make: big_integers },
    Shape { name: "line_breaks", make: line_breaks },
    Shape { name: "campaign_url", make: campaign_url },
    Shape { name: "referrer_query", make: referrer_query },
];

/// The largest size that keeps every shape under the record limit once wrapped: such a
/// record is decoded, validated and enriched, then refused as too large to archive (a
/// `size_violation` with its whole payload), the most work a record can cost.
pub const LARGEST: usize = MAX_RECORD_BYTES - 256;
/// The largest size at which every shape is a valid event once enriched.
pub const LARGEST_VALID: usize = crate::enrich::MAX_ENRICHED_BYTES - 2048;

/// A pageview whose `properties` holds `body` (a JSON value).
fn event(body: &str) -> Vec<u8> {
    format!(r#"{{"event_type":"pageview","user_id":"hostile","properties":{{"x":{body}}}}}"#).into_bytes()
}

/// `{"k0":0,"k1":1,...}`: tens of thousands of distinct keys in one object.
fn wide_object(bytes: usize) -> Vec<u8> {
    let mut body = String::from("{");
    let mut i = 0u64;
    while body.len() + 24 < bytes {
        let _ = write!(body, "\"k{i}\":{},", i % 10);
        i += 1;
    }
    body.push_str("\"end\":0}");
    event(&body)
}

/// Distinct keys that share length, first and last byte (`a000001z`), which defeats any
/// cheap filter on those.
fn wide_object_similar_keys(bytes: usize) -> Vec<u8> {
    let mut body = String::from("{");
    let mut i = 0u64;
    while body.len() + 24 < bytes {
        let _ = write!(body, "\"a{i:07}z\":1,");
        i += 1;
    }
    body.push_str("\"end\":0}");
    event(&body)
}

/// `[{"a":1,"b":2},...]`: many small objects, each checked for duplicate keys.
fn many_small_objects(bytes: usize) -> Vec<u8> {
    let mut body = String::from("[");
    while body.len() + 32 < bytes {
        body.push_str(r#"{"a":1,"b":2,"c":[3]},"#);
    }
    body.push_str("{}]");
    event(&body)
}

/// Subtrees nested to the depth limit, repeated: the most structure per byte.
fn deep_nesting(bytes: usize) -> Vec<u8> {
    // `properties` and `x` take two levels and the event one: 61 more are allowed.
    let one = format!("{}{}", "[".repeat(30), "]".repeat(30));
    let nested = format!("{}{}{}", "{\"a\":".repeat(30), one, "}".repeat(30));
    let mut body = String::from("[");
    while body.len() + nested.len() + 8 < bytes {
        body.push_str(&nested);
        body.push(',');
    }
    body.push_str("0]");
    event(&body)
}

/// One string as long as the record allows.
fn long_string(bytes: usize) -> Vec<u8> {
    event(&format!("\"{}\"", "x".repeat(bytes.saturating_sub(96))))
}

/// A string of escapes (`\n`, `\"`, `\u00e9`, surrogate pairs): unescaping is the work.
fn escaped_string(bytes: usize) -> Vec<u8> {
    let unit = r#"\n\"\\\u00e9\ud83d\ude00\t"#;
    let mut body = String::from("\"");
    while body.len() + unit.len() + 96 < bytes {
        body.push_str(unit);
    }
    body.push('"');
    event(&body)
}

/// `[1,1,1,...]`: half a million numbers.
fn many_small_numbers(bytes: usize) -> Vec<u8> {
    let mut body = String::with_capacity(bytes);
    body.push('[');
    while body.len() + 96 < bytes {
        body.push_str("1,");
    }
    body.push_str("1]");
    event(&body)
}

/// Floats with long mantissas and extreme exponents.
fn many_floats(bytes: usize) -> Vec<u8> {
    let mut body = String::from("[");
    while body.len() + 128 < bytes {
        body.push_str("1.2345678901234567e-300,-9.87654321098765e+300,");
    }
    body.push_str("0.5]");
    event(&body)
}

/// Integers beyond 64 bits, which the fast parser refuses and a second parser reads.
fn big_integers(bytes: usize) -> Vec<u8> {
    let mut body = String::from("[");
    while body.len() + 128 < bytes {
        body.push_str("184467440737095516160000,-99999999999999999999999,");
    }
    body.push_str("0]");
    event(&body)
}

/// A pretty-printed event: a line break between every token, each replaced on output.
fn line_breaks(bytes: usize) -> Vec<u8> {
    let mut body = String::from("[\n");
    while body.len() + 96 < bytes {
        body.push_str("1\r\n,\n");
    }
    body.push_str("1\n]");
    event(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_json_and_under_the_limit() {
        for shape in SHAPES {
            let data = (shape.make)(LARGEST);
            assert!(data.len() <= MAX_RECORD_BYTES, "{}: {} bytes", shape.name, data.len());
            assert!(data.len() > LARGEST * 9 / 10, "{}: only {} bytes", shape.name, data.len());
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap_or_else(|e| panic!("{}: {e}", shape.name));
            assert!(v.is_object(), "{}", shape.name);
        }
    }
}

/// `?p0=x&p1=x&...` of about `bytes`, then `last`.
fn many_params(bytes: usize, last: &str) -> String {
    let mut query = String::new();
    let mut i = 0u64;
    while query.len() + last.len() + 16 < bytes {
        let _ = write!(query, "p{i}=x&");
        i += 1;
    }
    query.push_str(last);
    query
}

/// A page URL of a hundred thousand parameters, the campaign's at the very end: every
/// campaign field is looked for through all of them.
fn campaign_url(bytes: usize) -> Vec<u8> {
    let query = many_params(bytes.saturating_sub(120), "utm_source=a&gclid=b");
    format!(r#"{{"event_type":"pageview","user_id":"hostile","page":{{"url":"https://shop.example.com/?{query}"}}}}"#).into_bytes()
}

/// A search engine's referrer whose term comes after a hundred thousand parameters.
fn referrer_query(bytes: usize) -> Vec<u8> {
    let query = many_params(bytes.saturating_sub(160), "q=term");
    format!(
        r#"{{"event_type":"pageview","user_id":"hostile","page":{{"url":"https://shop.example.com/","referrer":"https://www.google.com/search?{query}"}}}}"#
    )
    .into_bytes()
}
