//! The hand-made KPL aggregated record of `testing/fixtures/kpl_aggregate.hex` (bytes written
//! from the format document, not by the project's encoder), for the core's, the processor's
//! and local mode's tests.

/// The fixture's bytes: hex pairs, `#` to the end of a line is a comment.
pub fn handmade_aggregate() -> Vec<u8> {
    let text = include_str!("../fixtures/kpl_aggregate.hex");
    let hex: String = text.lines().map(|l| l.split('#').next().unwrap_or("")).collect::<Vec<_>>().join(" ");
    hex.split_whitespace().map(|pair| u8::from_str_radix(pair, 16).expect("hex pairs")).collect()
}

/// The user records it holds: (partition key, explicit hash key, data).
pub const HANDMADE_USER_RECORDS: [(&str, Option<&str>, &str); 3] = [
    ("alpha", None, r#"{"event_type":"pageview","user_id":"alpha"}"#),
    ("beta", Some("123"), r#"{"event_type":"click","user_id":"beta","element_id":"buy","page_url":"https://shop.example.com/"}"#),
    ("alpha", None, r#"{"event_type":"pageview"}"#),
];
