//! The processor's configuration, from the environment names every deployment uses.

use std::env;
use std::path::PathBuf;

/// A setting that is missing or unusable; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("environment variable {name} is {value:?}: {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// A variable that must be set to something other than blanks.
fn need(lookup: &impl Fn(&str) -> Option<String>, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name, hint))
}

/// Everything the processor reads from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorConfig {
    pub events_table: String,
    pub aggregates_table: String,
    pub archive_streams: Vec<String>,
    pub bad_rows_bucket: String,
    /// Prefix of bad-row keys, ending in `/` (default `bad-rows/`).
    pub bad_rows_prefix: String,
    pub event_ttl_days: u32,
    /// How many keys the per-type index's partition is spread over.
    pub gsi_write_shards: u32,
    pub schemas_dir: Option<PathBuf>,
    /// `ENRICHMENTS_DIR`: replaces the embedded enrichments.
    pub enrichments_dir: Option<PathBuf>,
    /// The function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MiB, set by Lambda): lookup
    /// tables may take a quarter of it.
    pub memory_mib: Option<u64>,
}

impl ProcessorConfig {
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
            event_ttl_days: number("EVENT_TTL_DAYS", 30, "a whole number of days >= 1")?,
            gsi_write_shards: number("GSI_WRITE_SHARDS", 32, "a whole number >= 1")?,
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

/// What the aggregator and the query Lambda read: the two tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablesConfig {
    pub events_table: String,
    pub aggregates_table: String,
}

impl TablesConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

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
        assert_eq!((c.bad_rows_prefix.as_str(), c.event_ttl_days, c.gsi_write_shards), ("bad-rows/", 30, 32));
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
}
