//! A configuration of the stack's cost levers, as Terraform variables set them: the per-type
//! index, the events' TTL, the types kept for per-user queries, each table's billing mode
//! (on-demand, or provisioned with auto scaling at a target utilisation) and table class,
//! and point-in-time recovery. [`Config::stack_default`] is what `terraform apply` gives
//! with the variables' defaults (adjusted only where the need requires it); [`Lever`]s move
//! a configuration towards the cheapest one that still meets the need.

use crate::plan::limits::{AUTOSCALING_TARGET_MAX, AUTOSCALING_TARGET_MIN};
use crate::plan::need::{Need, QUERY_DAYS_DEFAULT};

/// The highest target utilisation the planner sets: the 20 % above it are for load that
/// rises faster than auto scaling follows (it reacts within minutes).
pub const PLANNED_TARGET_MAX: f64 = 0.80;

/// How a table pays for its throughput.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Billing {
    /// `PAY_PER_REQUEST`: per write and read.
    OnDemand,
    /// `PROVISIONED` with Application Auto Scaling holding `target` utilisation.
    Provisioned { target: f64 },
}

/// DynamoDB's table classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableClass {
    Standard,
    InfrequentAccess,
}

impl TableClass {
    pub fn terraform(self) -> &'static str {
        match self {
            TableClass::Standard => "STANDARD",
            TableClass::InfrequentAccess => "STANDARD_INFREQUENT_ACCESS",
        }
    }
}

/// The levers' settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The per-type index (`events_gsi_enabled`).
    pub index: bool,
    /// Days events stay in the events table (`event_ttl_days`).
    pub ttl_days: u64,
    /// Types kept for per-user queries (`query_event_types`); `None`: every type.
    pub kept_types: Option<Vec<String>>,
    pub events_billing: Billing,
    pub aggregates_billing: Billing,
    pub events_class: TableClass,
    pub aggregates_class: TableClass,
    /// Point-in-time recovery of both tables (`table_point_in_time_recovery`).
    pub pitr: bool,
}

impl Config {
    /// The stack's defaults (terraform/variables.tf): index off, 30 days, every type,
    /// on-demand, Standard, point-in-time recovery on; the index on and more days where the
    /// need requires them.
    pub fn stack_default(need: &Need) -> Config {
        Config {
            index: need.type_queries,
            ttl_days: QUERY_DAYS_DEFAULT.max(need.query_days),
            kept_types: None,
            events_billing: Billing::OnDemand,
            aggregates_billing: Billing::OnDemand,
            events_class: TableClass::Standard,
            aggregates_class: TableClass::Standard,
            pitr: true,
        }
    }
}

/// A change of one setting, in the order the planner applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lever {
    /// Keep events only as long as per-user queries go back.
    QueryDays,
    /// Keep only the types per-user queries need.
    KeptTypes,
    /// Provisioned capacity with auto scaling for the events table.
    EventsProvisioned,
    /// Provisioned capacity with auto scaling for the aggregates table.
    AggregatesProvisioned,
    /// Standard-Infrequent Access for the events table.
    EventsInfrequentAccess,
    /// Standard-Infrequent Access for the aggregates table.
    AggregatesInfrequentAccess,
    /// No point-in-time recovery (the archive keeps every event).
    NoPointInTimeRecovery,
}

/// Every lever, in order.
pub const LEVERS: [Lever; 7] = [
    Lever::QueryDays,
    Lever::KeptTypes,
    Lever::EventsProvisioned,
    Lever::AggregatesProvisioned,
    Lever::EventsInfrequentAccess,
    Lever::AggregatesInfrequentAccess,
    Lever::NoPointInTimeRecovery,
];

/// Auto scaling's target for a load whose seconds-long spikes reach `burst` × its rate: the
/// spikes must fit in the headroom; `None` when they cannot (on-demand takes them).
pub fn autoscaling_target(burst: f64) -> Option<f64> {
    let target = PLANNED_TARGET_MAX.min(1.0 / burst).min(AUTOSCALING_TARGET_MAX);
    (target >= AUTOSCALING_TARGET_MIN).then_some(target)
}

impl Lever {
    /// `config` with this lever applied, where it changes something and the need allows it.
    pub fn apply(self, config: &Config, need: &Need) -> Option<Config> {
        let mut next = config.clone();
        match self {
            Lever::QueryDays => next.ttl_days = need.query_days,
            Lever::KeptTypes => next.kept_types = need.query_event_types.clone(),
            Lever::EventsProvisioned => next.events_billing = Billing::Provisioned { target: autoscaling_target(need.burst)? },
            Lever::AggregatesProvisioned => {
                next.aggregates_billing = Billing::Provisioned { target: autoscaling_target(need.burst)? }
            }
            Lever::EventsInfrequentAccess => next.events_class = TableClass::InfrequentAccess,
            Lever::AggregatesInfrequentAccess => next.aggregates_class = TableClass::InfrequentAccess,
            Lever::NoPointInTimeRecovery if need.pitr => return None,
            Lever::NoPointInTimeRecovery => next.pitr = false,
        }
        (next != *config).then_some(next)
    }

    /// What the lever does, for the plan's lines.
    pub fn describe(self, need: &Need) -> String {
        match self {
            Lever::QueryDays => format!("events table TTL = --query-days {} (event_ttl_days)", need.query_days),
            Lever::KeptTypes => match &need.query_event_types {
                Some(types) => format!(
                    "keep only {} for per-user queries (query_event_types; the archive and aggregates keep every type)",
                    types.join(", ")
                ),
                None => "keep only the types per-user queries need (query_event_types)".into(),
            },
            Lever::EventsProvisioned => "events table PROVISIONED with auto scaling (events_table_billing_mode)".into(),
            Lever::AggregatesProvisioned => "aggregates table PROVISIONED with auto scaling (aggregates_table_billing_mode)".into(),
            Lever::EventsInfrequentAccess => "events table class STANDARD_INFREQUENT_ACCESS (events_table_class)".into(),
            Lever::AggregatesInfrequentAccess => "aggregates table class STANDARD_INFREQUENT_ACCESS (aggregates_table_class)".into(),
            Lever::NoPointInTimeRecovery => {
                "no point-in-time recovery (table_point_in_time_recovery = false; the archive in S3 keeps every event)".into()
            }
        }
    }
}
