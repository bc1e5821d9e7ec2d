//! The aggregator Lambda's handler: on each scheduled (EventBridge) invocation, merges the
//! partial aggregates of recently touched minutes into minute, hour, day and month rows,
//! with the shared merge ([`pipeline::rollup`]) over the DynamoDB aggregates table.
//! Running it twice, or two at once, leaves the same rows (see the merge's docs).
//!
//! The central type is [`Aggregator`]: built once per container, it answers each scheduled
//! invocation ([`Aggregator::handle`]) with merge rounds ([`Aggregator::run`]) until no
//! touched minute is left or the deadline, less [`DEADLINE_MARGIN`], is near.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # async fn example() -> anyhow::Result<()> {
//! // AGGREGATES_TABLE and EVENTS_TABLE, as the Lambda's environment gives them.
//! let aggregator = aggregator::Aggregator::from_env().await?;
//! let report = aggregator.run(tokio::time::Instant::now() + Duration::from_secs(50)).await?;
//! println!("merged {} windows from {} partials", report.windows, report.partials);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

use std::time::{Duration, SystemTime};

use anyhow::Context;
use lambda_runtime::LambdaEvent;
use pipeline::rollup::{MAX_WINDOWS_PER_RUN, RollupReport, roll_up};
use pipeline_aws::aggregates::AggregateTableError;
use pipeline_aws::emf::{self, Metric};
use pipeline_aws::{DynamoAggregateTable, TablesConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Time kept back from the invocation's deadline: no new merge round starts after it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// What the aggregator reads of its EventBridge scheduled event: only when it was
/// scheduled, for the log (every other field is ignored). Our own type rather than
/// `aws_lambda_events`' `EventBridgeEvent`, whose feature brings `serde_with` and its
/// proc-macro stack into every build for this one field.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduledEvent {
    /// The event's `time` (RFC 3339), when it has one.
    #[serde(default)]
    pub time: Option<String>,
}

/// The aggregator Lambda's state: the aggregates table's client, built once per container.
pub struct Aggregator {
    table: DynamoAggregateTable,
}

impl Aggregator {
    /// Reads `AGGREGATES_TABLE` (and `EVENTS_TABLE`) and builds the client.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = TablesConfig::from_env().context("aggregator configuration")?;
        let aws = pipeline_aws::sdk::load_from_env().await;
        Ok(Self::new(DynamoAggregateTable::new(aws_sdk_dynamodb::Client::new(&aws), config.aggregates_table)))
    }

    /// An aggregator over `table`.
    pub fn new(table: DynamoAggregateTable) -> Self {
        Self { table }
    }

    /// One scheduled invocation; the answer (and the log line) says what was merged.
    pub async fn handle(&self, event: LambdaEvent<ScheduledEvent>) -> Result<Value, lambda_runtime::Error> {
        let remaining = pipeline_aws::invocation::time_left(event.context.deadline(), SystemTime::now());
        let started = Instant::now();
        let report = self.run(started + remaining.saturating_sub(DEADLINE_MARGIN)).await?;
        let millis = started.elapsed().as_millis() as u64;
        println!("{}", emf_line(&report, millis, SystemTime::now()));
        let summary = json!({
            "windows": report.windows,
            "partials": report.partials,
            "rows": {"minute": report.rows[0], "hour": report.rows[1], "day": report.rows[2], "month": report.rows[3]},
            "superseded": report.superseded,
            "skipped": report.skipped,
            "millis": millis,
        });
        tracing::info!(%summary, scheduled = ?event.payload.time, "merged partial aggregates");
        Ok(summary)
    }

    /// Merge rounds until no touched minute is left or `deadline` passes (the rest waits
    /// for the next invocation: markers stay until their windows are merged). A window that
    /// cannot be merged is skipped and logged once, in the round that meets it.
    pub async fn run(&self, deadline: Instant) -> Result<RollupReport, AggregateTableError> {
        let mut total = RollupReport::default();
        loop {
            let round = roll_up(&self.table, MAX_WINDOWS_PER_RUN).await?;
            for window in &round.skipped_windows {
                tracing::warn!(window = %window, "skipped an aggregate window that cannot be merged");
            }
            total.add(&round);
            if round.windows < MAX_WINDOWS_PER_RUN || Instant::now() >= deadline {
                return Ok(total);
            }
        }
    }
}

/// The EMF line of one invocation: what the merge did, for the dashboard and the alarm on
/// skipped windows.
pub fn emf_line(report: &RollupReport, millis: u64, now: SystemTime) -> String {
    let now_ms = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
    let metrics = [
        Metric::count("AggregateWindowsMerged", report.windows),
        Metric::count("AggregatePartialsRead", report.partials),
        Metric::count("AggregateRowsWritten", report.rows.iter().sum::<usize>()),
        Metric::count("AggregateRowsSuperseded", report.superseded),
        Metric::count("AggregateWindowsSkipped", report.skipped),
        Metric::millis("AggregatorMilliseconds", millis),
    ];
    emf::line(now_ms, &metrics, serde_json::Map::from_iter([("function".to_owned(), json!("aggregator"))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_line_counts_skipped_windows() {
        let report = RollupReport { windows: 7, partials: 9, rows: [7, 2, 1, 1], skipped: 2, ..RollupReport::default() };
        let line: Value = serde_json::from_str(&emf_line(&report, 12, SystemTime::now())).unwrap();
        assert_eq!(line["AggregateWindowsSkipped"], 2);
        assert_eq!(line["AggregateRowsWritten"], 11);
        let declared: Vec<&str> =
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert!(declared.contains(&"AggregateWindowsSkipped"), "{declared:?}");
    }
}
