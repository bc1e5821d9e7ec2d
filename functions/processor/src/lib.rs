//! The processor Lambda's handler: a Kinesis batch in, the shared batch flow over the AWS
//! sinks (events, archive, bad rows, partial aggregates), a partial batch response out, and
//! one CloudWatch EMF metrics line.
//!
//! The central types: [`Processor`], built once per container (clients, schemas,
//! enrichments), whose [`Processor::handle`] answers each invocation; [`KinesisBatch`], the
//! event as Lambda sends it, read tolerantly ([`event`]); and [`metrics`], the EMF line.
//!
//! # Example
//!
//! What `main.rs` wires, and what the tests call without the Lambda runtime:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use processor::{KinesisBatch, Processor};
//!
//! # async fn example() -> anyhow::Result<()> {
//! // EVENTS_TABLE, AGGREGATES_TABLE, ARCHIVE_STREAMS, BAD_ROWS_BUCKET, ... (DESIGN.md section 8).
//! let processor = Processor::from_env().await?;
//! let batch: KinesisBatch = serde_json::from_str(r#"{"Records": []}"#)?;
//! let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
//! let (response, report, _records) = processor.answer(&batch, deadline).await;
//! assert!(response.batch_item_failures.is_empty(), "{report:?}");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use lambda_runtime::LambdaEvent;
use pipeline::flow::{BatchFlow, BatchReport};
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{CoreConfig, Record};
use pipeline_aws::{DynamoAggregateStore, DynamoEventStore, FirehoseArchive, ProcessorConfig, S3BadRowStore};

pub use pipeline_aws::AwsSinks;
use tokio::time::Instant;

pub mod event;
pub mod metrics;

pub use event::KinesisBatch;

/// Time kept back from the invocation's deadline to answer Lambda after the writes stop.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

type AwsFlow = BatchFlow<DynamoEventStore, FirehoseArchive, S3BadRowStore, DynamoAggregateStore>;

/// Everything an invocation needs, built once per container.
pub struct Processor {
    flow: AwsFlow,
}

impl Processor {
    /// Reads the environment (DESIGN section 8), loads the schemas and builds the clients.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = ProcessorConfig::from_env().context("processor configuration")?;
        let aws = pipeline_aws::sdk::load_from_env().await;
        Self::new(&config, &aws)
    }

    /// The processor of `config`'s stack, with clients made from `aws`; fails when the schemas or enrichments do not load.
    pub fn new(config: &ProcessorConfig, aws: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let budget = config.memory_mib.map_or_else(TableBudget::local, TableBudget::lambda);
        let core = CoreConfig::load(config.schemas_dir.as_deref(), config.enrichments_dir.as_deref(), budget)
            .context("loading the schemas and enrichments")?;
        config.check_query_event_types(&core.schemas.event_types())?;
        tracing::info!(enrichments = %core.enrichments, "enrichments loaded");
        Ok(Self::with_sinks(Arc::new(core), pipeline_aws::sinks(config, aws)))
    }

    /// A processor over any sinks of the AWS adapters' types (the tests point them at moto).
    pub fn with_sinks(core: Arc<CoreConfig>, sinks: AwsSinks) -> Self {
        Self { flow: BatchFlow::new(core, sinks) }
    }

    /// The Lambda handler: one invocation, its deadline from the context, its EMF line on
    /// stdout, and the partial batch response.
    pub async fn handle(&self, event: LambdaEvent<KinesisBatch>) -> Result<KinesisEventResponse, lambda_runtime::Error> {
        let remaining = pipeline_aws::invocation::time_left(event.context.deadline(), SystemTime::now());
        let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
        let (response, report, records) = self.answer(&event.payload, deadline).await;
        println!("{}", metrics::emf_line(&report, &records, SystemTime::now()));
        Ok(response)
    }

    /// Writes `records` (one shard's batch, in order) through the batch flow: every outcome
    /// to its sink, with where a retry must start from.
    pub async fn write_records(&self, records: &[Record], deadline: Instant) -> BatchReport {
        self.flow.run(records, deadline).await
    }

    /// A Kinesis event's answer without the Lambda context (for tests and other callers):
    /// its records read tolerantly and written, the partial batch response, the report, and
    /// the records as read.
    pub async fn answer(&self, batch: &KinesisBatch, deadline: Instant) -> (KinesisEventResponse, BatchReport, Vec<Record>) {
        let records = event::records_of(batch, chrono::Utc::now());
        let report = self.write_records(&records, deadline).await;
        if let Some(from) = &report.retry_from {
            tracing::warn!(
                failed_records = report.failed_records.len(),
                retry_from = %from,
                "writes failed after retries; Lambda will retry from the lowest failed sequence number"
            );
        }
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = report
            .retry_from
            .iter()
            .map(|seq| {
                let mut failure = KinesisBatchItemFailure::default();
                failure.item_identifier = Some(seq.clone());
                failure
            })
            .collect();
        (response, report, records)
    }
}
