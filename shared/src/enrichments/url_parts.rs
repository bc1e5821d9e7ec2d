//! The parts of a URL the enrichments read, without building a URL value: the query's
//! parameters (percent-decoded, `+` as a space, as browsers encode forms) and the host.

use std::borrow::Cow;
use std::cell::RefCell;

use crate::word_scan::{find_byte, has_either, has_upper_case, needs_json_escape};

/// The query of `url`: after the first `?`, before any `#` (a `?` in the fragment is not one).
pub fn query(url: &str) -> Option<&str> {
    let bytes = url.as_bytes();
    // One search for whichever comes first: most page URLs have neither.
    let at = memchr::memchr2(b'?', b'#', bytes)?;
    if bytes[at] == b'#' {
        return None;
    }
    let start = at + 1;
    let end = memchr::memchr(b'#', &bytes[start..]).map_or(bytes.len(), |i| start + i);
    Some(&url[start..end])
}

/// The `name=value` pairs of a query, as sent (a pair without `=` has an empty value).
pub fn params(query: &str) -> Params<'_> {
    Params { query, at: 0 }
}

/// The pairs of a query ([`params`]): one pass over its bytes finds both the `&` between
/// pairs and each pair's first `=`.
#[derive(Clone, Debug)]
pub struct Params<'q> {
    query: &'q str,
    /// Where the next pair starts.
    at: usize,
}

impl<'q> Iterator for Params<'q> {
    type Item = (&'q str, &'q str);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.query.as_bytes();
        while self.at < bytes.len() {
            let start = self.at;
            // The name, to the first `=` or `&`; then the value, to the next `&`.
            let eq = find_byte(bytes, start, [b'=', b'&']);
            let end = if eq < bytes.len() && bytes[eq] == b'=' { find_byte(bytes, eq + 1, [b'&']) } else { eq };
            self.at = end + 1;
            // `&` and `=` are ASCII, so every piece is at a character boundary.
            if end == start {
                continue;
            }
            let value = if eq < end { &self.query[eq + 1..end] } else { "" };
            return Some((&self.query[start..eq], value));
        }
        None
    }
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

/// Appends `raw` decoded as a JSON string literal where decoding it is replacing each `+`
/// with a space (a search term typed with spaces, the common case): written from `raw`'s
/// runs, without a decoding buffer or a UTF-8 check (a space for a `+` keeps text UTF-8).
/// `false`, with nothing written, where `raw` holds a `%` or needs JSON escapes: the caller
/// decodes it with [`with_decoded`].
pub(crate) fn push_plus_decoded_json(out: &mut String, raw: &str) -> bool {
    let bytes = raw.as_bytes();
    if needs_json_escape(bytes) {
        return false;
    }
    let before = out.len();
    out.reserve(raw.len() + 2);
    out.push('"');
    let mut start = 0;
    loop {
        let at = find_byte(bytes, start, [b'+', b'%']);
        // `+` and `%` are ASCII: every run ends at a character boundary.
        out.push_str(&raw[start..at]);
        match bytes.get(at) {
            None => break,
            Some(b'+') => out.push(' '),
            Some(_) => {
                out.truncate(before);
                return false;
            }
        }
        start = at + 1;
    }
    out.push('"');
    true
}

fn needs_decoding(raw: &str) -> bool {
    has_either(raw.as_bytes(), b'%', b'+')
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
    site(url).map(|(host, _)| host)
}

/// Longest `scheme://authority` [`has_host`] remembers.
const MAX_REMEMBERED_SITE_BYTES: usize = 512;

/// The last site a thread's [`has_host`] saw: its `scheme://authority`, and its host.
#[derive(Default)]
struct LastSite {
    site: String,
    host: String,
}

thread_local! {
    static LAST_SITE: RefCell<LastSite> = RefCell::new(LastSite::default());
}

/// Whether the [`host`] of `url` is `host`. A deployment's page URLs are mostly of one site
/// or a few, so the last site's `scheme://authority` is remembered per thread: a URL that
/// goes on from it with a path, query or fragment (or nothing) is of the same host, found
/// without reading its authority again.
pub fn has_host(url: &str, host: &str) -> bool {
    LAST_SITE.with_borrow_mut(|last| {
        let bytes = url.as_bytes();
        let n = last.site.len();
        if n > 0 && bytes.starts_with(last.site.as_bytes()) && bytes.get(n).is_none_or(|b| matches!(b, b'/' | b'?' | b'#')) {
            return last.host == host;
        }
        let Some((found, end)) = site(url) else { return false };
        let same = found == host;
        if end <= MAX_REMEMBERED_SITE_BYTES {
            last.site.clear();
            last.site.push_str(&url[..end]);
            last.host.clear();
            last.host.push_str(&found);
        }
        same
    })
}

/// [`host`], and where the URL's `scheme://authority` ends (the host is a function of it).
fn site(url: &str) -> Option<(Cow<'_, str>, usize)> {
    let bytes = url.as_bytes();
    let colon = if bytes.starts_with(b"https://") {
        5
    } else {
        // The first `://` (memchr: a memmem searcher costs more to build than this search).
        memchr::memchr_iter(b':', bytes).find(|&i| bytes[i + 1..].starts_with(b"//"))?
    };
    let after_scheme = &bytes[colon + 3..];
    // Most authorities are a lower-case host alone: one search for where it ends, one test
    // of what it holds.
    let end = find_byte(after_scheme, 0, [b'/', b'?', b'#']);
    let authority = &after_scheme[..end];
    if !has_either(authority, b'@', b':') && !has_upper_case(authority) && !authority.starts_with(b"[") {
        let host = &url[colon + 3..colon + 3 + end];
        let host = host.strip_suffix('.').unwrap_or(host);
        return (!host.is_empty() && host.len() <= MAX_HOST_BYTES).then_some((Cow::Borrowed(host), colon + 3 + end));
    }
    host_of_any_authority(url, colon)
}

/// [`site`] for any authority after the `://` at `colon`: user information, a port, an
/// IPv6 address in brackets, upper case.
fn host_of_any_authority(url: &str, colon: usize) -> Option<(Cow<'_, str>, usize)> {
    let after_scheme = &url.as_bytes()[colon + 3..];
    // One pass over the authority (a few bytes, where memchr calls cost more than they
    // save): where it ends, its last `@`, the first `:` after that, and any upper case.
    let (mut end, mut at, mut port, mut upper) = (0, None, None, false);
    while let Some(&b) = after_scheme.get(end) {
        match b {
            b'/' | b'?' | b'#' => break,
            b'@' => (at, port, upper) = (Some(end), None, false),
            b':' if port.is_none() => port = Some(end),
            b'A'..=b'Z' => upper = true,
            _ => {}
        }
        end += 1;
    }
    let start = at.map_or(0, |at| at + 1);
    let host_port = &url[colon + 3 + start..colon + 3 + end];
    let host = if host_port.starts_with('[') {
        memchr::memchr(b']', host_port.as_bytes()).map_or(host_port, |i| &host_port[..=i])
    } else {
        port.map_or(host_port, |p| &host_port[..p - start])
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > MAX_HOST_BYTES {
        return None;
    }
    // `upper` also counts a port's letters: lower-casing a host without any changes nothing.
    let host = if upper && host.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(host.to_ascii_lowercase()) } else { Cow::Borrowed(host) };
    Some((host, colon + 3 + end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_parameters() {
        assert_eq!(query("https://a.com/p?x=1&y=2#frag?z=3"), Some("x=1&y=2"));
        assert_eq!(query("https://a.com/p#x?y"), None);
        assert_eq!(query("https://a.com/p"), None);
        assert_eq!(query("https://a.com/p?"), Some(""));
        assert_eq!(query("https://a.com/p?x#"), Some("x"));
        assert_eq!(query("?a=b"), Some("a=b"));
        let pairs: Vec<_> = params("a=1&&b&c=&=d").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", ""), ("", "d")]);
        let pairs: Vec<_> = params("&&x==1&é=ü&=&y").collect();
        assert_eq!(pairs, [("x", "=1"), ("é", "ü"), ("", ""), ("y", "")]);
        assert_eq!(params("").next(), None);
        assert_eq!(params("&").next(), None);
        let query = "n\u{e9}\u{fc}\u{1}=\u{7f}\u{80}x&\u{2026}=\u{ff}&a";
        let pairs: Vec<_> = params(query).collect();
        assert_eq!(pairs, [("n\u{e9}\u{fc}\u{1}", "\u{7f}\u{80}x"), ("\u{2026}", "\u{ff}"), ("a", "")]);
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
    fn plus_decoded_json_is_the_decoded_text_as_json_or_nothing() {
        // Runs of every length around the word size, `+` at either end and repeated, and
        // the texts it leaves to the decoder (a `%`, JSON escapes) untouched.
        let mut texts: Vec<String> = ["", "+", "++", "a+", "+a", "a+b%41", "+%", "widgets+pro", "caf\u{e9}+cr\u{e8}me", "x%20y", "100%", "say+\"hi\"", "back\\slash", "tab\there"]
            .iter()
            .map(|t| (*t).to_owned())
            .collect();
        for n in 0..20 {
            texts.push(format!("{}+{}", "a".repeat(n), "b".repeat(19 - n)));
        }
        for text in &texts {
            let mut out = String::from("{");
            let written = push_plus_decoded_json(&mut out, text);
            let decoded = decode(text).unwrap().into_owned();
            if text.contains('%') || crate::word_scan::needs_json_escape(text.as_bytes()) {
                assert!(!written && out == "{", "{text:?}");
            } else {
                assert!(written, "{text:?}");
                assert_eq!(serde_json::from_str::<String>(&out[1..]).unwrap(), decoded, "{text:?}");
            }
        }
    }

    #[test]
    fn hosts() {
        let cases = [
            ("https://WWW.Google.com:443/search?q=x", Some("www.google.com")),
            ("http://user:pw@mail.example.org./x", Some("mail.example.org")),
            ("https://[::1]:8080/", Some("[::1]")),
            ("android-app://com.google.android.gm", Some("com.google.android.gm")),
            ("https://a.com?x=1", Some("a.com")),
            ("https:///path", None),
            ("urn:isbn:123", None),
            ("/relative/path", None),
            ("https://a@B.com@C.Example.com:80/", Some("c.example.com")),
            ("https://u:p@[::1]:8080/", Some("[::1]")),
            ("https://x.com:ABC/", Some("x.com")),
            ("https://X.com#f", Some("x.com")),
            ("https://user@:80/", None),
            ("mailto:a@b.com", None),
            ("https://www.google.com/search?q=x", Some("www.google.com")),
            ("https://www.google.com", Some("www.google.com")),
            ("https://a.very-long-host-name.example.co.uk?x", Some("a.very-long-host-name.example.co.uk")),
            ("https://shop.example.com./", Some("shop.example.com")),
            ("https://shop.example.com:8443/", Some("shop.example.com")),
            ("https://Shop.Example.COM/", Some("shop.example.com")),
            ("https://evil.com@shop.example.com/", Some("shop.example.com")),
            ("https://[::1]/", Some("[::1]")),
            ("https://./", None),
            ("https://", None),
            ("https://ex%41mple.com/", Some("ex%41mple.com")),
        ];
        for (url, want) in cases {
            assert_eq!(host(url).as_deref(), want, "{url}");
        }
        assert!(host(&format!("https://{}/", "a.".repeat(200))).is_none());
        assert!(host(&format!("https://{}", "a".repeat(254))).is_none());
        assert_eq!(host(&format!("https://{}", "a".repeat(253))).unwrap().len(), 253);
    }

    #[test]
    fn has_host_answers_as_host_does_whatever_came_before() {
        // Sites that share beginnings (a port, a longer name, user information, case), in a
        // seeded order, each asked about its own host and the others'.
        use rand::{Rng as _, SeedableRng as _};
        let sites = [
            "https://a.com", "https://a.com:8080", "https://a.com.evil", "https://u@a.com", "https://A.com", "http://a.com",
            "https://a.co", "https://a.com.", "https://[::1]", "urn:a.com", "https://", "https://b.org",
        ];
        let rests = ["", "/", "/p?q=1", "?x", "#f", ":443/", ".x/", "@b.org/", "x/"];
        let hosts = ["a.com", "a.com.evil", "a.co", "b.org", "[::1]", "a.comx", ""];
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let url = format!("{}{}", sites[rng.random_range(0..sites.len())], rests[rng.random_range(0..rests.len())]);
            let asked = hosts[rng.random_range(0..hosts.len())];
            assert_eq!(has_host(&url, asked), host(&url).as_deref() == Some(asked), "{url} {asked}");
        }
    }

    #[test]
    fn the_quick_host_is_the_host_of_any_authority() {
        // Seeded URLs of authority bytes that matter (and others): whatever path `host`
        // takes, it answers as the general one does.
        use rand::{Rng as _, SeedableRng as _};
        let pieces = ["a", "B", ".", "-", "@", ":", "[", "]", "/", "?", "#", "%41", "é", "x.co", "8"];
        let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
        for _ in 0..20_000 {
            let scheme = ["https://", "http://", "HTTPS://", "ftp://x:"][rng.random_range(0..4)];
            let authority: String = (0..rng.random_range(0..24)).map(|_| pieces[rng.random_range(0..pieces.len())]).collect();
            let url = format!("{scheme}{authority}/p?q#f");
            let colon = url.find("://").unwrap();
            assert_eq!(site(&url), host_of_any_authority(&url, colon), "{url}");
        }
    }
}
