//! User-agent parsing for enrichment, with a per-thread cache: real traffic repeats a few
//! thousand user agents, and parsing each one every time would cost more than validation.

use std::cell::RefCell;
use std::collections::HashMap;

/// How many distinct user agents each thread remembers before it starts over.
pub const UA_CACHE_ENTRIES: usize = 8192;
/// Longest user agent cached (and parsed: longer ones are cut to this).
pub const MAX_CACHED_UA_BYTES: usize = 1024;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>> = RefCell::new(HashMap::default());
}

/// The enrichment's `ua` object for `user_agent`, as JSON text:
/// `{"browser":"Chrome","browser_version":"120.0.0.0","os":"Windows 10","device":"pc"}`.
///
/// `device` is woothee's category: `pc`, `smartphone`, `mobilephone`, `appliance`,
/// `crawler`, `misc` or `UNKNOWN`.
pub fn ua_json(user_agent: &str, out: &mut String) {
    // Only real user agents are cached: a free-form field can hold megabytes.
    if user_agent.len() > MAX_CACHED_UA_BYTES {
        let mut end = MAX_CACHED_UA_BYTES;
        while !user_agent.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&parse(&user_agent[..end]));
        return;
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(json) = cache.get(user_agent) {
            out.push_str(json);
            return;
        }
        let json = parse(user_agent);
        out.push_str(&json);
        if cache.len() >= UA_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(user_agent.into(), json.into());
    });
}

fn parse(user_agent: &str) -> String {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let (browser, version, os, device) = match &parsed {
        Some(r) => (r.name, r.version, r.os, r.category),
        None => ("UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
    };
    serde_json::json!({"browser": browser, "browser_version": version, "os": os, "device": device})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_a_desktop_browser_and_a_phone() {
        let mut out = String::new();
        ua_json(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            &mut out,
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["browser"], "Chrome");
        assert_eq!(v["os"], "Windows 10");
        assert_eq!(v["device"], "pc");
        out.clear();
        ua_json(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            &mut out,
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["device"], "smartphone");
        out.clear();
        ua_json("", &mut out);
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }
}
