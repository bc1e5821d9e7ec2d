//! The parts of a URL the enrichments read, without building a URL value: the query's
//! parameters (percent-decoded, `+` as a space, as browsers encode forms) and the host.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The query of `url`: after the first `?`, before any `#` (a `?` in the fragment is not one).
pub fn query(url: &str) -> Option<&str> {
    let before_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    before_fragment.split_once('?').map(|(_, q)| q)
}

/// The `name=value` pairs of a query, as sent (a pair without `=` has an empty value).
pub fn params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// The first non-empty value of the first of `names` that `query` has (names compared
/// ignoring ASCII case; the first occurrence of a repeated parameter wins), with the name.
pub fn first_param<'q, 'n>(query: &'q str, names: &'n [String]) -> Option<(&'n str, &'q str)> {
    names.iter().find_map(|name| {
        params(query).find(|(n, v)| !v.is_empty() && n.eq_ignore_ascii_case(name)).map(|(_, v)| (name.as_str(), v))
    })
}

/// A query value decoded: `Err` holds the text with invalid UTF-8 replaced by U+FFFD.
/// A `%` not followed by two hex digits is kept as it is, as browsers do.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, String> {
    let plus_free: Cow<str> = if raw.contains('+') { Cow::Owned(raw.replace('+', " ")) } else { Cow::Borrowed(raw) };
    let decoded = percent_decode_str(&plus_free);
    match decoded.decode_utf8() {
        Ok(Cow::Borrowed(_)) if matches!(plus_free, Cow::Borrowed(_)) => Ok(Cow::Borrowed(raw)),
        Ok(text) => Ok(Cow::Owned(text.into_owned())),
        Err(_) => Err(percent_decode_str(&plus_free).decode_utf8_lossy().into_owned()),
    }
}

/// Longest host name DNS allows; a longer "host" is no site's, and is not looked up (its
/// parent domains would cost time in the square of its length).
pub const MAX_HOST_BYTES: usize = 253;

/// The host of an absolute URL (`scheme://[userinfo@]host[:port]...`), lower-cased, without
/// a trailing dot; `None` when there is no `//` authority, it is empty, or it is longer
/// than [`MAX_HOST_BYTES`].
pub fn host(url: &str) -> Option<Cow<'_, str>> {
    let after_scheme = url.find("://").map(|i| &url[i + 3..])?;
    let end = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.find(']').map_or(host_port, |i| &host_port[..=i])
    } else {
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
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
