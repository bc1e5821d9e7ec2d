//! Which bad rows a recovery run takes: the command-line options every `recover` shares
//! ([`RecoverArgs`]) and the selection they make ([`Selection`]).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use pipeline::time_format::parse_rfc3339;
use pipeline::{BadRow, BadRowType};

/// The options of `pipeline recover` and `pipeline-aws recover` besides source and target.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RecoverArgs {
    /// Only bad rows of this type (repeatable): malformed, size_violation, unknown_event_type,
    /// unknown_schema_version, schema_violation, enrichment_failure.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    pub types: Vec<BadRowType>,
    /// Only bad rows that failed at or after this time (RFC 3339, or a date such as 2026-11-27).
    #[arg(long, value_name = "TIME", value_parser = parse_from)]
    pub from: Option<DateTime<Utc>>,
    /// Only bad rows that failed at or before this time (RFC 3339, or a date: up to its end).
    #[arg(long, value_name = "TIME", value_parser = parse_to)]
    pub to: Option<DateTime<Utc>>,
    /// Only bad rows of this event type, as the bad row names it (repeatable).
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Only bad rows checked against this schema, e.g. purchase/1-0-0 (repeatable).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub row_schemas: Vec<String>,
    /// At most N bad rows, of those selected and not recovered yet.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// An RFC 6902 JSON Patch (a JSON array of operations) applied to each payload first. A
    /// failing `test` operation means the fix is not for that row: it is left as it is
    /// ("not matching").
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// The schemas events are re-validated against (default: the built-in ones). The target
    /// pipeline must run with schemas that accept what is sent (`pipeline up --schemas DIR`,
    /// the processor's SCHEMAS_DIR).
    #[arg(long = "schemas", value_name = "DIR", env = "SCHEMAS_DIR")]
    pub schemas: Option<PathBuf>,
    /// The enrichments events are checked with (default: the built-in ones): an
    /// `enrichment_failure` is fixed once a required enrichment no longer fails (a lookup
    /// table that now has the key). The target must run with the same (`pipeline up
    /// --enrichments DIR`, the processor's ENRICHMENTS_DIR).
    #[arg(long = "enrichments", value_name = "DIR", env = "ENRICHMENTS_DIR")]
    pub enrichments: Option<PathBuf>,
    /// Count per bad-row type what would be fixed, still fail (with the first errors) or not
    /// match, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take bad rows already recovered by an earlier run too (their events are stored under
    /// the same keys again: the events store is unchanged, aggregates count them again).
    #[arg(long)]
    pub again: bool,
    /// Write the run's counts, first errors and outcome as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn parse_type(text: &str) -> Result<BadRowType, String> {
    BadRowType::ALL.into_iter().find(|k| k.as_str() == text).ok_or_else(|| {
        let known: Vec<&str> = BadRowType::ALL.iter().map(|k| k.as_str()).collect();
        format!("{text:?} is not a bad-row type: one of {}", known.join(", "))
    })
}

/// A time, or a date for its first instant.
fn parse_from(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text, false)
}

/// A time, or a date for its last millisecond.
fn parse_to(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text, true)
}

fn parse_time(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Some(t) = parse_rfc3339(text) {
        return Ok(t);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a time such as 2026-11-27T12:00:00Z or a date such as 2026-11-27"))?;
    let time = if end_of_day { day.and_hms_milli_opt(23, 59, 59, 999) } else { day.and_hms_opt(0, 0, 0) };
    time.map(|t| t.and_utc()).ok_or_else(|| format!("{text:?} is not a representable date"))
}

/// The bad rows a run takes.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--type`: only these bad-row types; empty: all.
    pub types: Vec<BadRowType>,
    /// `--from`: only rows that failed at or after this.
    pub from: Option<DateTime<Utc>>,
    /// `--to`: only rows that failed at or before this.
    pub to: Option<DateTime<Utc>>,
    /// `--event-type`: only rows of these event types; empty: all.
    pub event_types: Vec<String>,
    /// `--schema`: only rows checked against these schemas (`pageview/1-0-0`); empty: all.
    pub schemas: Vec<String>,
    /// `--limit`: at most this many rows.
    pub limit: Option<usize>,
    /// Whether rows already recovered are taken again.
    pub again: bool,
}

impl Selection {
    /// The selection `args` ask for.
    pub fn of(args: &RecoverArgs) -> Self {
        Self {
            types: args.types.clone(),
            from: args.from,
            to: args.to,
            event_types: args.event_types.clone(),
            schemas: args.row_schemas.clone(),
            limit: args.limit,
            again: args.again,
        }
    }

    /// Whether `row` is selected (leaving aside whether it was recovered, and the limit).
    pub fn matches(&self, row: &BadRow) -> bool {
        let failed_at = parse_rfc3339(&row.failed_at);
        let in_time = match failed_at {
            Some(t) => self.from.is_none_or(|from| t >= from) && self.to.is_none_or(|to| t <= to),
            // A bad row without a readable time is taken only when no range is asked for.
            None => self.from.is_none() && self.to.is_none(),
        };
        in_time
            && (self.types.is_empty() || self.types.contains(&row.kind))
            && (self.event_types.is_empty() || row.event_type.as_ref().is_some_and(|t| self.event_types.contains(t)))
            && (self.schemas.is_empty() || row.schema.as_ref().is_some_and(|s| self.schemas.contains(s)))
    }

    /// The types to list from a source that lists by type (all of them for none given).
    pub fn listed_types(&self) -> Vec<BadRowType> {
        if self.types.is_empty() { BadRowType::ALL.to_vec() } else { self.types.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: BadRowType, failed_at: &str, event_type: Option<&str>) -> BadRow {
        BadRow {
            kind,
            event_type: event_type.map(str::to_owned),
            schema: event_type.map(|t| format!("{t}/1-0-0")),
            errors: Vec::new(),
            payload: Some("{}".into()),
            payload_base64: None,
            shard_id: "shardId-000000000000".into(),
            sequence_number: "1".into(),
            sub_sequence_number: 0,
            partition_key: "u".into(),
            ingested_at: failed_at.into(),
            failed_at: failed_at.into(),
            recovered_at: None,
        }
    }

    #[test]
    fn selects_by_type_time_event_type_and_schema() {
        let s = Selection {
            types: vec![BadRowType::SchemaViolation],
            from: Some(parse_from("2026-11-27").unwrap()),
            to: Some(parse_to("2026-11-27").unwrap()),
            event_types: vec!["purchase".into()],
            ..Selection::default()
        };
        assert!(s.matches(&row(BadRowType::SchemaViolation, "2026-11-27T23:59:59Z", Some("purchase"))));
        assert!(!s.matches(&row(BadRowType::SchemaViolation, "2026-11-28T00:00:00Z", Some("purchase"))));
        assert!(!s.matches(&row(BadRowType::SchemaViolation, "2026-11-26T23:59:59Z", Some("purchase"))));
        assert!(!s.matches(&row(BadRowType::UnknownEventType, "2026-11-27T12:00:00Z", Some("purchase"))));
        assert!(!s.matches(&row(BadRowType::SchemaViolation, "2026-11-27T12:00:00Z", Some("click"))));
        assert!(!s.matches(&row(BadRowType::SchemaViolation, "2026-11-27T12:00:00Z", None)));
        let by_schema = Selection { schemas: vec!["click/1-0-0".into()], ..Selection::default() };
        assert!(by_schema.matches(&row(BadRowType::SchemaViolation, "garbage", Some("click"))));
        assert!(!Selection { from: s.from, ..Selection::default() }.matches(&row(BadRowType::Malformed, "garbage", None)));
    }

    #[test]
    fn options_name_the_fix_when_they_are_wrong() {
        assert!(parse_type("schema-violation").unwrap_err().contains("schema_violation"));
        assert!(parse_from("yesterday").unwrap_err().contains("2026-11-27"));
        assert_eq!(parse_to("2026-11-27").unwrap().to_rfc3339(), "2026-11-27T23:59:59.999+00:00");
    }
}
