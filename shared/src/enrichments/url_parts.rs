//! The parts of a URL the enrichments read, without building a URL value: the query's
//! parameters (percent-decoded, `+` as a space, as browsers encode forms) and the host.

use std::borrow::Cow;
use std::cell::RefCell;

/// The query of `url`: after the first `?`, before any `#` (a `?` in the fragment is not one).
pub fn query(url: &str) -> Option<&str> {
    let bytes = url.as_bytes();
    let end = memchr::memchr(b'#', bytes).unwrap_or(bytes.len());
    let start = memchr::memchr(b'?', &bytes[..end])? + 1;
    Some(&url[start..end])
}

/// The `name=value` pairs of a query, as sent (a pair without `=` has an empty value).
pub fn params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    // Split at ASCII bytes, so every piece is at a character boundary.
    query.as_bytes().split(|&b| b == b'&').filter(|p| !p.is_empty()).map(move |p| {
        let start = p.as_ptr() as usize - query.as_ptr() as usize;
        let pair = &query[start..start + p.len()];
        match memchr::memchr(b'=', p) {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, ""),
        }
    })
}

/// The first non-empty value of the first of `names` that `query` has (names compared
/// ignoring ASCII case; the first occurrence of a repeated parameter wins), with the name.
pub fn first_param<'q, 'n>(query: &'q str, names: &'n [String]) -> Option<(&'n str, &'q str)> {
    // One pass: the value of the lowest-indexed name seen so far.
    let mut best: Option<(usize, &str)> = None;
    for (name, value) in params(query) {
        let limit = best.map_or(names.len(), |(i, _)| i);
        if !value.is_empty() {
            if let Some(i) = names[..limit].iter().position(|n| n.eq_ignore_ascii_case(name)) {
                best = Some((i, value));
            }
        }
    }
    best.map(|(i, value)| (names[i].as_str(), value))
}

/// A query value decoded: `%XX` as that byte, `+` as a space (as browsers encode forms);
/// a `%` not followed by two hex digits is kept as it is, as browsers do. `Err` holds the
/// text with invalid UTF-8 replaced by U+FFFD.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, String> {
    if !needs_decoding(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    decode_bytes(raw.as_bytes(), &mut out);
    String::from_utf8(out).map(Cow::Owned).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

thread_local! {
    /// The bytes of the value [`with_decoded`] is decoding, reused by every value on a thread.
    static DECODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `use_text` with `raw` decoded as [`decode`] does (`Err`: the text with invalid UTF-8
/// replaced by U+FFFD), without allocating: the enrichments decode a value or two per event.
pub fn with_decoded<R>(raw: &str, use_text: impl FnOnce(Result<&str, &str>) -> R) -> R {
    if !needs_decoding(raw) {
        return use_text(Ok(raw));
    }
    DECODED.with_borrow_mut(|out| {
        out.clear();
        decode_bytes(raw.as_bytes(), out);
        match simdutf8::basic::from_utf8(out) {
            Ok(text) => use_text(Ok(text)),
            Err(_) => use_text(Err(&String::from_utf8_lossy(out))),
        }
    })
}

fn needs_decoding(raw: &str) -> bool {
    memchr::memchr2(b'%', b'+', raw.as_bytes()).is_some()
}

/// Appends the decoded `bytes` to `out`.
fn decode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && hex(bytes[i + 1]).is_some() && hex(bytes[i + 2]).is_some() => {
                out.push(hex(bytes[i + 1]).unwrap_or(0) << 4 | hex(bytes[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Longest host name DNS allows; a longer "host" is no site's, and is not looked up (its
/// parent domains would cost time in the square of its length).
pub const MAX_HOST_BYTES: usize = 253;

/// The host of an absolute URL (`scheme://[userinfo@]host[:port]...`), lower-cased, without
/// a trailing dot; `None` when there is no `//` authority, it is empty, or it is longer
/// than [`MAX_HOST_BYTES`].
pub fn host(url: &str) -> Option<Cow<'_, str>> {
    // The first `://` (memchr: a memmem searcher costs more to build than this search).
    let bytes = url.as_bytes();
    let colon = memchr::memchr_iter(b':', bytes).find(|&i| bytes[i + 1..].starts_with(b"//"))?;
    let after_scheme = &url[colon + 3..];
    let end = memchr::memchr3(b'/', b'?', b'#', after_scheme.as_bytes()).unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    let host_port = memchr::memrchr(b'@', authority.as_bytes()).map_or(authority, |at| &authority[at + 1..]);
    let host = if host_port.starts_with('[') {
        memchr::memchr(b']', host_port.as_bytes()).map_or(host_port, |i| &host_port[..=i])
    } else {
        memchr::memchr(b':', host_port.as_bytes()).map_or(host_port, |i| &host_port[..i])
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > MAX_HOST_BYTES {
        return None;
    }
    Some(if host.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(host.to_ascii_lowercase()) } else { Cow::Borrowed(host) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_parameters() {
        assert_eq!(query("https://a.com/p?x=1&y=2#frag?z=3"), Some("x=1&y=2"));
        assert_eq!(query("https://a.com/p#x?y"), None);
        assert_eq!(query("https://a.com/p"), None);
        let pairs: Vec<_> = params("a=1&&b&c=&=d").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", ""), ("", "d")]);
        let names = ["utm_source".to_owned(), "source".to_owned()];
        assert_eq!(first_param("source=x&UTM_Source=y&utm_source=z", &names), Some(("utm_source", "y")));
        assert_eq!(first_param("utm_source=&source=x", &names), Some(("source", "x")));
        assert_eq!(first_param("a=b", &names), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a+b%20c%2Bd").unwrap(), "a b c+d");
        assert!(matches!(decode("plain"), Ok(Cow::Borrowed("plain"))));
        assert_eq!(decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode("100%").unwrap(), "100%");
        assert_eq!(decode("%zz%4").unwrap(), "%zz%4");
        assert_eq!(decode("%41%4").unwrap(), "A%4");
        assert_eq!(decode("%4a%4A").unwrap(), "JJ");
        assert_eq!(decode("bad%E9").unwrap_err(), "bad\u{FFFD}");
    }

    #[test]
    fn hosts() {
        assert_eq!(host("https://WWW.Google.com:443/search?q=x").unwrap(), "www.google.com");
        assert_eq!(host("http://user:pw@mail.example.org./x").unwrap(), "mail.example.org");
        assert_eq!(host("https://[::1]:8080/").unwrap(), "[::1]");
        assert_eq!(host("android-app://com.google.android.gm").unwrap(), "com.google.android.gm");
        assert_eq!(host("https://a.com?x=1").unwrap(), "a.com");
        assert!(host("https:///path").is_none());
        assert!(host("urn:isbn:123").is_none());
        assert!(host("/relative/path").is_none());
        assert!(host(&format!("https://{}/", "a.".repeat(200))).is_none());
    }
}
