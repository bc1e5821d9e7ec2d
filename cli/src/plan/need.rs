//! What a plan is for: the load (peak and mean rate, burstiness, event size), how producers
//! send it, and what readers need (how far back per-user queries go, which types, whether
//! per-type queries are served, whether the tables keep point-in-time recovery). Checked up
//! front: a need the stack cannot meet is refused with the limit it breaks.

use crate::plan::limits::*;
use crate::plan::measured::{ENRICHMENT_BYTES, REFERENCE_MIX};

/// Events per `POST /v1/events` assumed when `--batch-size` is not given.
pub const API_EVENTS_PER_REQUEST_DEFAULT: u64 = 250;
/// Days per-user queries go back when `--query-days` is not given: the stack's `event_ttl_days`.
pub const QUERY_DAYS_DEFAULT: u64 = pipeline::limits::EVENT_TTL_DAYS_DEFAULT as u64;
/// Most days the planner takes (ten years).
pub const QUERY_DAYS_MAX: u64 = 3_650;
/// Most write shards `gsi_write_shards` accepts (terraform/variables.tf validation).
pub const GSI_WRITE_SHARDS_MAX: u64 = 1_024;
/// Capacity planned over the computed need, for bursts and uneven partition keys.
pub const HEADROOM: f64 = 1.25;
/// The smallest valid event (DESIGN.md section 2); nothing smaller can be planned for.
pub const SMALLEST_EVENT: &str = r#"{"event_type":"pageview","user_id":0}"#;
/// Bytes of [`SMALLEST_EVENT`].
pub const MIN_EVENT_BYTES: u64 = SMALLEST_EVENT.len() as u64;

/// One event type's share of all events.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeShare {
    pub event_type: String,
    pub share: f64,
}

/// What the plan is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    /// Peak events per second, sustained for minutes: what capacity is sized for.
    pub rate: u64,
    /// Mean events per second over the month: what usage is billed for.
    pub mean_rate: u64,
    /// How far seconds-long spikes go above the rate of the moment (1 = none).
    pub burst: f64,
    /// Mean bytes of one event's JSON.
    pub event_bytes: u64,
    pub region: String,
    /// Events per `POST /v1/events` the producers send.
    pub events_per_request: u64,
    /// Producers write KPL-aggregated records to Kinesis instead of POSTing to the API.
    pub kpl_aggregation: bool,
    /// Days per-user queries go back (the events table's TTL).
    pub query_days: u64,
    /// Event types per-user queries need; `None`: every type.
    pub query_event_types: Option<Vec<String>>,
    /// Per-type queries (`GET /v1/events`) are needed: the per-type index must be on.
    pub type_queries: bool,
    /// The tables must keep point-in-time recovery.
    pub pitr: bool,
    /// Shares of the event types (the reference workload's unless given).
    pub mix: Vec<TypeShare>,
    /// The Terraform `environment` written into the tfvars.
    pub environment: String,
}

impl Need {
    /// A need with the defaults of `pipeline plan`: steady load (mean = peak, no spikes),
    /// us-east-1, 250 events per POST, per-user queries of every type for 30 days, no
    /// per-type queries, no point-in-time recovery required, the reference mix, prod.
    pub fn new(rate: u64, event_bytes: u64) -> Self {
        Self {
            rate,
            mean_rate: rate,
            burst: 1.0,
            event_bytes,
            region: DEFAULT_REGION.into(),
            events_per_request: API_EVENTS_PER_REQUEST_DEFAULT,
            kpl_aggregation: false,
            query_days: QUERY_DAYS_DEFAULT,
            query_event_types: None,
            type_queries: false,
            pitr: false,
            mix: REFERENCE_MIX.iter().map(|(t, s)| TypeShare { event_type: (*t).into(), share: *s }).collect(),
            environment: "prod".into(),
        }
    }

    /// The share of events per-user queries keep.
    pub fn kept_share(&self) -> f64 {
        match &self.query_event_types {
            None => 1.0,
            Some(kept) => self.mix.iter().filter(|t| kept.contains(&t.event_type)).map(|t| t.share).sum(),
        }
    }

    /// The busiest event type's share (the per-type index's hottest key).
    pub fn busiest_share(&self) -> f64 {
        self.mix.iter().map(|t| t.share).fold(0.0, f64::max)
    }

    pub fn large_quota_region(&self) -> bool {
        LARGE_QUOTA_REGIONS.contains(&self.region.as_str())
    }
}

/// A need the pipeline cannot be planned for; the message names the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("--rate must be at least 1 event per second")]
    ZeroRate,
    #[error("--mean-rate {mean} must be 1 to the peak --rate {rate} (the mean of a month is at most its peak)")]
    MeanRate { mean: u64, rate: u64 },
    #[error("--burst {0} must be a number from 1 (no spikes above the rate) to 10")]
    Burst(f64),
    #[error("--event-bytes must be at least {MIN_EVENT_BYTES}, the size of the smallest valid event {SMALLEST_EVENT}; got {0}")]
    EventTooSmall(u64),
    #[error(
        "--event-bytes {0} is over Kinesis's limit of 1 MiB ({KINESIS_MAX_RECORD_BYTES} bytes) on one record's data; one event is one record, so no stream can take it"
    )]
    OverKinesisRecordLimit(u64),
    #[error(
        "--event-bytes {bytes} enriches to about {enriched} bytes, over Firehose's limit of 1,000 KiB ({FIREHOSE_MAX_RECORD_BYTES} bytes) on one record, so the archive cannot take it; plan events of at most {max} bytes"
    )]
    OverFirehoseRecordLimit { bytes: u64, enriched: u64, max: u64 },
    #[error(
        "--rate {rate} needs {shards} write shards of the per-type index, over the stack's limit of {GSI_WRITE_SHARDS_MAX} (gsi_write_shards in terraform/variables.tf); with --type-queries one deployment can be planned for at most {max_rate} events/s"
    )]
    RateTooHigh { rate: u64, shards: u64, max_rate: u64 },
    #[error("--batch-size must be 1 to {API_EVENTS_PER_REQUEST_MAX} events per POST /v1/events (the ingest API's limit); got {0}")]
    BatchSize(u64),
    #[error("--query-days must be 1 to {QUERY_DAYS_MAX} (the events table's TTL, event_ttl_days); got {0}")]
    QueryDays(u64),
    #[error("--query-event-types names {0:?}, which is not a type of the mix ({1}): give --mix with it, or fix the name")]
    UnknownType(String, String),
    #[error("--mix {0}")]
    Mix(String),
    #[error("--region {0:?} is not an AWS region name like us-east-1 or eu-central-1")]
    Region(String),
    #[error(
        "--environment {0:?} must be 2-10 lowercase letters or digits starting with a letter (the `environment` variable of terraform/variables.tf)"
    )]
    Environment(String),
}

/// `pageview=60,click=25,...` as shares that add up to 1 (weights need not add to 100).
pub fn parse_mix(text: &str) -> Result<Vec<TypeShare>, PlanError> {
    let mut weights = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').ok_or_else(|| PlanError::Mix(format!("{part:?} is not TYPE=WEIGHT")))?;
        let weight: f64 = weight.trim().parse().ok().filter(|w: &f64| w.is_finite() && *w >= 0.0).ok_or_else(|| {
            PlanError::Mix(format!("the weight of {name} must be a number >= 0, got {weight:?}"))
        })?;
        if !valid_event_type(name.trim()) {
            return Err(PlanError::Mix(format!("{name:?} is not an event type name (^[a-z][a-z0-9_]{{0,63}}$)")));
        }
        if weights.iter().any(|(n, _): &(String, f64)| n == name.trim()) {
            return Err(PlanError::Mix(format!("{name} is given twice")));
        }
        weights.push((name.trim().to_owned(), weight));
    }
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    if weights.is_empty() || total <= 0.0 {
        return Err(PlanError::Mix("must give at least one type with a weight above 0, e.g. pageview=60,click=40".into()));
    }
    Ok(weights.into_iter().map(|(event_type, w)| TypeShare { event_type, share: w / total }).collect())
}

pub fn valid_event_type(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn valid_region(region: &str) -> bool {
    // <area>-[<qualifier>-]<direction>-<n>, e.g. us-east-1, eu-central-2, us-gov-west-1.
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && letters(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| letters(p))
        && parts.last().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_environment(environment: &str) -> bool {
    // terraform/variables.tf: ^[a-z][a-z0-9]{1,9}$
    let bytes = environment.as_bytes();
    (2..=10).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Every reason `need` cannot be planned, the first one found.
pub fn check(need: &Need) -> Result<(), PlanError> {
    if need.rate == 0 {
        return Err(PlanError::ZeroRate);
    }
    if need.mean_rate == 0 || need.mean_rate > need.rate {
        return Err(PlanError::MeanRate { mean: need.mean_rate, rate: need.rate });
    }
    if !(1.0..=10.0).contains(&need.burst) {
        return Err(PlanError::Burst(need.burst));
    }
    if need.event_bytes < MIN_EVENT_BYTES {
        return Err(PlanError::EventTooSmall(need.event_bytes));
    }
    if need.event_bytes > KINESIS_MAX_RECORD_BYTES {
        return Err(PlanError::OverKinesisRecordLimit(need.event_bytes));
    }
    let enriched = need.event_bytes + ENRICHMENT_BYTES;
    // One archived event is its enriched JSON and a newline, inside one Firehose record.
    if enriched + 1 > FIREHOSE_MAX_RECORD_BYTES {
        return Err(PlanError::OverFirehoseRecordLimit {
            bytes: need.event_bytes,
            enriched,
            max: FIREHOSE_MAX_RECORD_BYTES - 1 - ENRICHMENT_BYTES,
        });
    }
    if !(1..=API_EVENTS_PER_REQUEST_MAX).contains(&need.events_per_request) {
        return Err(PlanError::BatchSize(need.events_per_request));
    }
    if !(1..=QUERY_DAYS_MAX).contains(&need.query_days) {
        return Err(PlanError::QueryDays(need.query_days));
    }
    let names = need.mix.iter().map(|t| t.event_type.as_str()).collect::<Vec<_>>().join(", ");
    for kept in need.query_event_types.iter().flatten() {
        if !need.mix.iter().any(|t| &t.event_type == kept) {
            return Err(PlanError::UnknownType(kept.clone(), names));
        }
    }
    if !valid_region(&need.region) {
        return Err(PlanError::Region(need.region.clone()));
    }
    if !valid_environment(&need.environment) {
        return Err(PlanError::Environment(need.environment.clone()));
    }
    if need.type_queries {
        let shards = gsi_write_shards(need.rate as f64 * need.burst, need.busiest_share());
        if shards > GSI_WRITE_SHARDS_MAX {
            let max_rate = (GSI_WRITE_SHARDS_MAX as f64 * DYNAMODB_PARTITION_WRITE_UNITS / HEADROOM / need.busiest_share() / need.burst) as u64;
            return Err(PlanError::RateTooHigh { rate: need.rate, shards, max_rate });
        }
    }
    Ok(())
}

/// Write shards of the per-type index for `rate` events/s: one index key takes 1,000 units/s.
pub fn gsi_write_shards(rate: f64, busiest_share: f64) -> u64 {
    ceil_count(rate * busiest_share / DYNAMODB_PARTITION_WRITE_UNITS * HEADROOM).max(1)
}

/// `ceil` that ignores floating-point dust (60.000000000001 is 60).
pub fn ceil_count(x: f64) -> u64 {
    (x * (1.0 - 1e-12)).ceil().max(0.0) as u64
}
