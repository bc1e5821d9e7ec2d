//! The query API's requests and responses (DESIGN section 5), shared by the query Lambda
//! and local mode: parameter checks with messages that name the fix, opaque cursors, and
//! the aggregates body. Where the rows come from is the caller's.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::aggregate::Granularity;
use crate::group::{GroupField, series_event_type};
use crate::rollup::AggregateRow;
use crate::time_format::{format_millis, format_seconds, parse_rfc3339};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Items per page at most: a larger `limit` is answered 400.
pub const MAX_LIMIT: usize = 1_000;
/// Windows (per event type) one aggregates request may span.
pub const MAX_WINDOWS: i64 = 10_000;

/// A request the API refuses, with the message for the 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// The last value given for `name`.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn time(params: &[(String, String)], name: &str) -> Result<Option<DateTime<Utc>>, QueryError> {
    param(params, name)
        .map(|text| match parse_rfc3339(text) {
            None => Err(QueryError(format!("{name} {text:?} is not an RFC 3339 date-time, e.g. 2026-11-27T12:00:00Z"))),
            // Keys compare as text, which is time order only for four-digit years in UTC.
            Some(t) if !crate::time_format::is_representable(t) => Err(QueryError(format!(
                "{name} {text:?} is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999Z, the times events can have"
            ))),
            Some(t) => Ok(t),
        })
        .transpose()
}

fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), QueryError> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(QueryError(format!(
            "from ({}) must not be after to ({})",
            format_seconds(f),
            format_seconds(t)
        ))),
        _ => Ok(()),
    }
}

/// Longest `user_id` (DESIGN section 2): a longer one names no stored user.
pub const MAX_USER_ID_CHARS: usize = 128;

/// The events table's partition key of `user_id` as a query names it (`USER#<user_id>`).
pub fn user_partition_key(user_id: &str) -> Result<String, QueryError> {
    let chars = user_id.chars().count();
    if chars == 0 || chars > MAX_USER_ID_CHARS {
        return Err(QueryError(format!("user_id has {chars} characters; user ids have 1 to {MAX_USER_ID_CHARS}")));
    }
    Ok(format!("USER#{user_id}"))
}

/// A page of a time-ordered list: `from`, `to` (RFC 3339), `limit`, `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Events at or after this time; `None`: from the oldest.
    pub from: Option<DateTime<Utc>>,
    /// Events at or before this time; `None`: up to the newest.
    pub to: Option<DateTime<Utc>>,
    /// Items on the page at most, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Where the previous page ended (its `next_cursor`); `None`: the first page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The page of a request's `from`, `to`, `limit` and `cursor`, or the 400 message.
    pub fn parse(params: &[(String, String)]) -> Result<Self, QueryError> {
        let limit = match param(params, "limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| QueryError(format!("limit {text:?} must be a whole number from 1 to {MAX_LIMIT}")))?,
        };
        let (from, to) = (time(params, "from")?, time(params, "to")?);
        check_range(from, to)?;
        // An empty cursor is the first page, as an absent one.
        Ok(Self { from, to, limit, cursor: param(params, "cursor").filter(|c| !c.is_empty()).map(str::to_owned) })
    }

    /// `from` as the events table's sort-key text (`"0"`, before every key, for none:
    /// DynamoDB refuses an empty key value).
    pub fn from_key(&self) -> String {
        self.from.map(format_millis).unwrap_or_else(|| "0".into())
    }

    /// An upper sort-key bound that takes in events at `to` (`"~"`, after every key, for none).
    pub fn to_key(&self) -> String {
        self.to.map(|t| format_millis(t) + "~").unwrap_or_else(|| "~".into())
    }

    /// The cursor's parts, which must number `len`.
    pub fn cursor_parts(&self, len: usize) -> Result<Option<Vec<String>>, QueryError> {
        self.cursor.as_deref().map(|c| decode_cursor(c, len)).transpose()
    }
}

/// A page from `rows` fetched with one row more than `limit`: the first `limit` rows, and
/// the cursor of the last one when the extra row shows there is more.
pub fn page_of<T>(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> Vec<&str>) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(|last| encode_cursor(&key(last))) } else { None };
    (rows, next)
}

/// An opaque cursor made of text parts (the last item's key).
pub fn encode_cursor(parts: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(parts).unwrap_or_default())
}

/// The `len` parts of a cursor [`encode_cursor`] made, or the 400 message for any other text.
pub fn decode_cursor(text: &str, len: usize) -> Result<Vec<String>, QueryError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .filter(|parts| parts.len() == len)
        .ok_or_else(|| QueryError("cursor is not one this API returned: pass next_cursor unchanged".into()))
}

/// `GET /v1/events?event_type=&from=&to=&limit=&cursor=`: one type's events newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeEventsRequest {
    /// The type asked for, one of the schemas'.
    pub event_type: String,
    /// The page asked for.
    pub page: PageRequest,
    /// The cursor's `(sk, pk)`: the page holds what comes after it, newest first.
    pub after: Option<(String, String)>,
}

impl TypeEventsRequest {
    /// The request, for a stack whose schemas have `event_types`.
    pub fn parse(params: &[(String, String)], event_types: &[&str]) -> Result<Self, QueryError> {
        let event_type = match param(params, "event_type") {
            None | Some("") => return Err(QueryError("event_type is required, e.g. /v1/events?event_type=pageview".into())),
            Some(t) if !event_types.contains(&t) => {
                return Err(QueryError(format!("event_type {t:?} is not one of the schemas' types {event_types:?}")));
            }
            Some(t) => t.to_owned(),
        };
        let page = PageRequest::parse(params)?;
        let after = match page.cursor_parts(3)? {
            Some(parts) if parts[0] != event_type => {
                return Err(QueryError("cursor belongs to another event type's events: pass next_cursor unchanged".into()));
            }
            Some(mut parts) => Some((std::mem::take(&mut parts[1]), std::mem::take(&mut parts[2]))),
            None => None,
        };
        Ok(Self { event_type, page, after })
    }

    /// The cursor after an event of this type with sort key `sk` and partition key `pk`.
    pub fn cursor_after(&self, sk: &str, pk: &str) -> String {
        encode_cursor(&[&self.event_type, sk, pk])
    }
}

/// `GET /v1/aggregates?event_type=&granularity=&from=&to=&by=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatesRequest {
    /// `None`: every event type.
    pub event_type: Option<String>,
    /// `by=`: the rows of each value of this field instead of the totals.
    pub by: Option<GroupField>,
    /// The window size of the rows.
    pub granularity: Granularity,
    /// Start of the first window (`from` aligned down to the granularity).
    pub from: DateTime<Utc>,
    /// Windows start before this: one second after `to`, so windows starting at `to` count.
    pub until: DateTime<Utc>,
}

impl AggregatesRequest {
    /// Defaults: `granularity=hour`, `to` = now, `from` = a span before `to` that suits the
    /// granularity (an hour of minutes, a day of hours, 31 days, a year of months).
    pub fn parse(params: &[(String, String)], now: DateTime<Utc>) -> Result<Self, QueryError> {
        let granularity = match param(params, "granularity") {
            None => Granularity::Hour,
            Some(text) => text.parse().map_err(QueryError)?,
        };
        let by = param(params, "by").map(|text| text.parse::<GroupField>().map_err(QueryError)).transpose()?;
        let event_type = param(params, "event_type");
        if let Some(t) = event_type {
            if !crate::schema_registry::is_valid_event_type(t) {
                return Err(QueryError(format!("event_type {t:?} is not an event type: names match ^[a-z][a-z0-9_]{{0,63}}$")));
            }
        }
        let (from, to) = (time(params, "from")?, time(params, "to")?);
        check_range(from, to)?;
        let to = to.unwrap_or(now);
        let span = match granularity {
            Granularity::Minute => Duration::hours(1),
            Granularity::Hour => Duration::days(1),
            Granularity::Day => Duration::days(31),
            Granularity::Month => Duration::days(366),
        };
        let from = granularity.window_start(from.unwrap_or(to - span));
        let approx_window = match granularity {
            Granularity::Minute => Duration::minutes(1),
            Granularity::Hour => Duration::hours(1),
            Granularity::Day => Duration::days(1),
            Granularity::Month => Duration::days(28),
        };
        if (to - from).num_seconds() / approx_window.num_seconds() > MAX_WINDOWS {
            return Err(QueryError(format!(
                "from..to spans more than {MAX_WINDOWS} {granularity} windows: narrow the range or use a coarser granularity"
            )));
        }
        // Within year 9999, so that the bound's text (the stores compare keys as text) keeps
        // four digits of year: windows start on whole minutes, so none is lost.
        let until = (to + Duration::seconds(1)).min(crate::time_format::latest_event_time());
        Ok(Self { event_type: event_type.map(str::to_owned), by, granularity, from, until })
    }

    /// The series the rows of `event_type` are read from: its totals, or its `by` groups.
    pub fn series(&self, event_type: &str) -> String {
        self.by.map_or_else(|| event_type.to_owned(), |by| by.series(event_type))
    }
}

/// The body of `GET /v1/aggregates`, rows sorted by window, event type, then group; a
/// grouped series' rows carry `"group"`.
pub fn aggregates_body(rows: &mut [AggregateRow]) -> Value {
    rows.sort_by(|a, b| (a.window_start, &a.event_type, &a.group).cmp(&(b.window_start, &b.event_type, &b.group)));
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut item = json!({
                "window_start": format_seconds(r.window_start),
                "event_type": series_event_type(&r.event_type),
                "count": r.aggregate.count,
                "unique_users": r.aggregate.unique_users(),
                "revenue": r.aggregate.revenue_units(),
            });
            if let Some(group) = &r.group {
                item["group"] = Value::from(group.as_str());
            }
            item
        })
        .collect();
    json!({ "aggregates": items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn now() -> DateTime<Utc> {
        parse_rfc3339("2026-11-27T12:34:56Z").unwrap()
    }

    #[test]
    fn aggregates_requests_default_align_and_refuse_with_reasons() {
        let r = AggregatesRequest::parse(&params(&[("granularity", "minute")]), now()).unwrap();
        assert_eq!((r.from, r.until), (parse_rfc3339("2026-11-27T11:34:00Z").unwrap(), now() + Duration::seconds(1)));
        let r = AggregatesRequest::parse(&params(&[("granularity", "day"), ("from", "2026-11-03T05:00:00Z")]), now()).unwrap();
        assert_eq!(r.from, parse_rfc3339("2026-11-03T00:00:00Z").unwrap());
        let err = |p: &[(&str, &str)]| AggregatesRequest::parse(&params(p), now()).unwrap_err().0;
        assert!(err(&[("granularity", "week")]).contains("minute, hour, day, month"));
        assert!(err(&[("from", "yesterday")]).contains("RFC 3339"));
        assert!(err(&[("from", "2026-11-27T00:00:00Z"), ("to", "2026-11-26T00:00:00Z")]).contains("must not be after"));
        assert!(err(&[("granularity", "minute"), ("from", "2025-01-01T00:00:00Z")]).contains("coarser"));
        assert!(err(&[("event_type", "Page View")]).contains("not an event type"));
        assert!(err(&[("by", "campaign.term")]).contains("campaign.source, campaign.medium"));
        assert!(err(&[("by", "")]).contains("not a field"));
        let r = AggregatesRequest::parse(&params(&[("by", "referer.medium")]), now()).unwrap();
        assert_eq!((r.by, r.series("pageview").as_str()), (Some(GroupField::RefererMedium), "pageview/referer.medium"));
        assert_eq!(AggregatesRequest::parse(&[], now()).unwrap().series("pageview"), "pageview");
    }

    #[test]
    fn pages_check_limits_and_cursors() {
        assert_eq!(PageRequest::parse(&[]).unwrap().limit, DEFAULT_LIMIT);
        assert!(PageRequest::parse(&params(&[("limit", "0")])).unwrap_err().0.contains("1 to 1000"));
        let cursor = encode_cursor(&["USER#1", "2026-11-27T12:00:00.000Z#e"]);
        let page = PageRequest::parse(&params(&[("cursor", &cursor)])).unwrap();
        assert_eq!(page.cursor_parts(2).unwrap().unwrap()[0], "USER#1");
        assert!(page.cursor_parts(1).is_err());
    }

    #[test]
    fn type_events_requests_name_a_known_type_and_keep_to_its_cursors() {
        let types = ["pageview", "purchase"];
        let missing = TypeEventsRequest::parse(&params(&[]), &types).unwrap_err();
        assert!(missing.0.contains("event_type is required"), "{missing}");
        assert!(TypeEventsRequest::parse(&params(&[("event_type", "")]), &types).unwrap_err().0.contains("required"));
        let unknown = TypeEventsRequest::parse(&params(&[("event_type", "signup")]), &types).unwrap_err();
        assert!(unknown.0.contains("\"signup\" is not one of the schemas' types"), "{unknown}");
        let first = TypeEventsRequest::parse(&params(&[("event_type", "pageview"), ("limit", "5")]), &types).unwrap();
        assert_eq!((first.page.limit, first.after.clone()), (5, None));
        let cursor = first.cursor_after("2026-11-27T12:00:00.000Z#e1", "USER#u1");
        let next = TypeEventsRequest::parse(&params(&[("event_type", "pageview"), ("cursor", &cursor)]), &types).unwrap();
        assert_eq!(next.after, Some(("2026-11-27T12:00:00.000Z#e1".to_owned(), "USER#u1".to_owned())));
        let other = TypeEventsRequest::parse(&params(&[("event_type", "purchase"), ("cursor", &cursor)]), &types).unwrap_err();
        assert!(other.0.contains("another event type"), "{other}");
        let user_cursor = encode_cursor(&["2026-11-27T12:00:00.000Z#e1"]);
        assert!(TypeEventsRequest::parse(&params(&[("event_type", "pageview"), ("cursor", &user_cursor)]), &types).is_err());
    }

    #[test]
    fn times_outside_the_event_range_are_refused() {
        let at = |from: &str| PageRequest::parse(&[("from".to_owned(), from.to_owned())]);
        assert!(at("9999-12-31T23:59:59-00:01").unwrap_err().0.contains("outside"));
        assert!(at("0000-01-01T00:00:00Z").is_err());
        assert!(at("0001-01-01T00:00:00Z").is_ok());
        let now = Utc::now();
        assert!(AggregatesRequest::parse(&[("to".to_owned(), "9999-12-31T23:59:59-00:01".to_owned())], now).is_err());
    }
}
