//! The functions' configuration, from the environment names every deployment uses
//! (DESIGN section 8).

use std::collections::BTreeSet;
use std::env;
use std::path::PathBuf;

/// A setting that is missing or unusable; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or blank: its name, and what to set it to.
    #[error("environment variable {0} is not set: {1}")]
    Missing(&'static str, &'static str),
    /// A variable's value is not of the kind it must be.
    #[error("environment variable {name} is {value:?}: {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    #[error(
        "QUERY_EVENT_TYPES names {unknown:?}, which the schemas do not define (they define {known:?}): \
         a misspelt type would keep no events of the intended one"
    )]
    /// `QUERY_EVENT_TYPES` names a type no schema defines.
    UnknownEventTypes {
        /// The names no schema defines.
        unknown: Vec<String>,
        /// The schemas' types.
        known: Vec<String>,
    },
}

/// A variable that must be set to something other than blanks.
fn need(lookup: &impl Fn(&str) -> Option<String>, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name, hint))
}

/// Everything the processor reads from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorConfig {
    /// `EVENTS_TABLE`: the DynamoDB table of events for per-user queries.
    pub events_table: String,
    /// `AGGREGATES_TABLE`: the DynamoDB table of partial and merged aggregates.
    pub aggregates_table: String,
    /// `ARCHIVE_STREAMS`: the archive's Firehose delivery streams, comma-separated (which event goes to which: [`crate::firehose`]).
    pub archive_streams: Vec<String>,
    /// `BAD_ROWS_BUCKET`: the S3 bucket of bad rows.
    pub bad_rows_bucket: String,
    /// Prefix of bad-row keys, ending in `/` (default `bad-rows/`).
    pub bad_rows_prefix: String,
    /// `EVENT_TTL_DAYS`: days an event stays queryable (the items' TTL).
    pub event_ttl_days: u32,
    /// How many keys the per-type index's partition is spread over; `None` (not set): the
    /// index is off and items carry no index keys.
    pub gsi_write_shards: Option<u32>,
    /// The event types kept in the events table for per-user queries; `None` (not set): all.
    /// The others reach the archive and the aggregates only.
    pub query_event_types: Option<BTreeSet<String>>,
    /// `SCHEMAS_DIR`: replaces the embedded schemas.
    pub schemas_dir: Option<PathBuf>,
    /// `ENRICHMENTS_DIR`: replaces the embedded enrichments.
    pub enrichments_dir: Option<PathBuf>,
    /// The function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MiB, set by Lambda): lookup
    /// tables may take a quarter of it.
    pub memory_mib: Option<u64>,
}

impl ProcessorConfig {
    /// Reads the process environment (see [`ProcessorConfig::from_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str, hint: &'static str| need(&lookup, name, hint);
        let number = |name: &'static str, default: u32, expected: &'static str| match lookup(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Invalid { name, value: v, expected }),
        };
        let archive_streams: Vec<String> = required(
            "ARCHIVE_STREAMS",
            "set it to the Firehose delivery stream names, comma-separated",
        )?
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
        if archive_streams.is_empty() {
            return Err(ConfigError::Missing("ARCHIVE_STREAMS", "it names no delivery stream"));
        }
        let mut bad_rows_prefix = lookup("BAD_ROWS_PREFIX").unwrap_or_else(|| "bad-rows/".into());
        if !bad_rows_prefix.is_empty() && !bad_rows_prefix.ends_with('/') {
            bad_rows_prefix.push('/');
        }
        Ok(Self {
            events_table: required("EVENTS_TABLE", "set it to the DynamoDB events table's name")?,
            aggregates_table: required("AGGREGATES_TABLE", "set it to the DynamoDB aggregates table's name")?,
            archive_streams,
            bad_rows_bucket: required("BAD_ROWS_BUCKET", "set it to the S3 bucket for bad rows")?,
            bad_rows_prefix,
            event_ttl_days: number("EVENT_TTL_DAYS", pipeline::limits::EVENT_TTL_DAYS_DEFAULT, "a whole number of days >= 1")?,
            gsi_write_shards: index_shards(lookup("GSI_WRITE_SHARDS"))?,
            query_event_types: event_types(lookup("QUERY_EVENT_TYPES"))?,
            schemas_dir: lookup("SCHEMAS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
            enrichments_dir: lookup("ENRICHMENTS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
            memory_mib: match lookup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
                None => None,
                Some(v) => Some(v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                    name: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                    value: v,
                    expected: "the function's memory in MiB (Lambda sets it)",
                })?),
            },
        })
    }
}

impl ProcessorConfig {
    /// Fails unless every type of `QUERY_EVENT_TYPES` is one of `known` (the schemas'): a
    /// misspelt type would keep no events of the intended one.
    pub fn check_query_event_types(&self, known: &[&str]) -> Result<(), ConfigError> {
        let Some(kept) = &self.query_event_types else { return Ok(()) };
        let unknown: Vec<String> = kept.iter().filter(|t| !known.contains(&t.as_str())).cloned().collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(ConfigError::UnknownEventTypes { unknown, known: known.iter().map(|t| (*t).to_owned()).collect() })
    }
}

/// Most write shards of the per-type index (terraform/variables.tf `gsi_write_shards`).
pub const MAX_GSI_WRITE_SHARDS: u32 = 1024;

/// `GSI_WRITE_SHARDS`: absent or blank means the per-type index is off.
fn index_shards(value: Option<String>) -> Result<Option<u32>, ConfigError> {
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v.trim().parse::<u32>().ok().filter(|n| (1..=MAX_GSI_WRITE_SHARDS).contains(n)).map(Some).ok_or(
            ConfigError::Invalid {
                name: "GSI_WRITE_SHARDS",
                value: v,
                expected: "a whole number from 1 to 1024, or unset when the per-type index is off",
            },
        ),
    }
}

/// `QUERY_EVENT_TYPES`: comma-separated event types; absent or blank means every type.
fn event_types(value: Option<String>) -> Result<Option<BTreeSet<String>>, ConfigError> {
    let Some(text) = value.filter(|v| !v.trim().is_empty()) else { return Ok(None) };
    let mut types = BTreeSet::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let valid = name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(ConfigError::Invalid {
                name: "QUERY_EVENT_TYPES",
                value: text,
                expected: "comma-separated event types, each ^[a-z][a-z0-9_]{0,63}$ (e.g. pageview,purchase), or unset for every type",
            });
        }
        types.insert(name.to_owned());
    }
    Ok(if types.is_empty() { None } else { Some(types) })
}

/// What the query Lambda reads: the tables, and the per-type index's write shards where the
/// index is on (it then serves `GET /v1/events`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryConfig {
    /// The two tables.
    pub tables: TablesConfig,
    /// `GSI_WRITE_SHARDS`: write shards of the per-type index; `None`: the index is off.
    pub gsi_write_shards: Option<u32>,
}

impl QueryConfig {
    /// Reads the process environment (see [`QueryConfig::from_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { tables: TablesConfig::from_lookup(&lookup)?, gsi_write_shards: index_shards(lookup("GSI_WRITE_SHARDS"))? })
    }
}

/// What the aggregator and the query Lambda read: the two tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablesConfig {
    /// `EVENTS_TABLE`: the DynamoDB table of events.
    pub events_table: String,
    /// `AGGREGATES_TABLE`: the DynamoDB table of aggregates.
    pub aggregates_table: String,
}

impl TablesConfig {
    /// Reads the process environment (see [`TablesConfig::from_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str, hint: &'static str| need(&lookup, name, hint);
        Ok(Self {
            events_table: required("EVENTS_TABLE", "set it to the DynamoDB events table's name")?,
            aggregates_table: required("AGGREGATES_TABLE", "set it to the DynamoDB aggregates table's name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ProcessorConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        ProcessorConfig::from_lookup(|k| map.get(k).cloned())
    }

    const ALL: [(&str, &str); 4] = [
        ("EVENTS_TABLE", "events"),
        ("AGGREGATES_TABLE", "aggregates"),
        ("ARCHIVE_STREAMS", "archive-0, archive-1"),
        ("BAD_ROWS_BUCKET", "bucket"),
    ];

    #[test]
    fn reads_the_design_names_with_defaults() {
        let c = config(&ALL).unwrap();
        assert_eq!(c.archive_streams, ["archive-0", "archive-1"]);
        assert_eq!((c.bad_rows_prefix.as_str(), c.event_ttl_days), ("bad-rows/", 30));
        assert_eq!((c.gsi_write_shards, c.query_event_types.clone()), (None, None), "index off, every type kept");
        let mut vars = ALL.to_vec();
        vars.extend([
            ("BAD_ROWS_PREFIX", "bad"),
            ("EVENT_TTL_DAYS", "7"),
            ("SCHEMAS_DIR", "/opt/schemas"),
            ("ENRICHMENTS_DIR", "/opt/enrichments"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!((c.bad_rows_prefix.as_str(), c.event_ttl_days), ("bad/", 7));
        assert_eq!(c.schemas_dir, Some(PathBuf::from("/opt/schemas")));
        assert_eq!((c.enrichments_dir, c.memory_mib), (Some(PathBuf::from("/opt/enrichments")), Some(1769)));
    }

    #[test]
    fn names_the_missing_or_invalid_variable() {
        for skip in 0..ALL.len() {
            let vars: Vec<_> = ALL.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, v)| *v).collect();
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(ALL[skip].0), "{err}");
        }
        let mut vars = ALL.to_vec();
        vars.push(("EVENT_TTL_DAYS", "a week"));
        assert!(config(&vars).unwrap_err().to_string().contains("EVENT_TTL_DAYS"));
    }

    #[test]
    fn the_index_is_on_only_where_its_shards_are_set() {
        for (value, shards) in [("", None), (" ", None), ("1", Some(1)), ("1024", Some(1024)), (" 32 ", Some(32))] {
            let mut vars = ALL.to_vec();
            vars.push(("GSI_WRITE_SHARDS", value));
            assert_eq!(config(&vars).unwrap().gsi_write_shards, shards, "{value:?}");
        }
        for value in ["0", "1025", "-1", "many"] {
            let mut vars = ALL.to_vec();
            vars.push(("GSI_WRITE_SHARDS", value));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains("GSI_WRITE_SHARDS") && err.contains("1 to 1024"), "{value}: {err}");
        }
    }

    #[test]
    fn query_event_types_are_a_set_of_valid_names() {
        let mut vars = ALL.to_vec();
        vars.push(("QUERY_EVENT_TYPES", " purchase, pageview ,purchase,"));
        let kept = config(&vars).unwrap().query_event_types.unwrap();
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), ["pageview", "purchase"]);
        for blank in ["", " , "] {
            let mut vars = ALL.to_vec();
            vars.push(("QUERY_EVENT_TYPES", blank));
            assert_eq!(config(&vars).unwrap().query_event_types, None, "{blank:?}: every type");
        }
        for bad in ["Pageview", "page view", "1click", "a-b", &"x".repeat(65)] {
            let mut vars = ALL.to_vec();
            vars.push(("QUERY_EVENT_TYPES", bad));
            assert!(config(&vars).unwrap_err().to_string().contains("QUERY_EVENT_TYPES"), "{bad}");
        }
    }

    #[test]
    fn the_query_function_reads_the_tables_and_the_index() {
        let map: HashMap<String, String> =
            [("EVENTS_TABLE", "e"), ("AGGREGATES_TABLE", "a"), ("GSI_WRITE_SHARDS", "8")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let c = QueryConfig::from_lookup(|k| map.get(k).cloned()).unwrap();
        assert_eq!((c.tables.events_table.as_str(), c.gsi_write_shards), ("e", Some(8)));
        assert!(QueryConfig::from_lookup(|_| None).unwrap_err().to_string().contains("EVENTS_TABLE"));
    }
}
