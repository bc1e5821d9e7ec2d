//! `pipeline-aws`: the AWS adapters of the pipeline's sink ports.
//!
//! [`dynamodb::DynamoEventStore`] writes events with `BatchWriteItem` (items built by
//! [`event_item`]; [`events_query`] and [`type_events`] read them back),
//! [`firehose::FirehoseArchive`] packs them into Firehose records, and
//! [`s3::S3BadRowStore`] keeps bad rows as gzip NDJSON objects, and
//! [`aggregates`] writes partial aggregates and is the table the aggregator merges. Each retries what AWS
//! did not take, with exponential backoff and full jitter ([`retry`]), until the
//! invocation's deadline. [`config`] reads the Lambda environment; [`sinks`] builds the
//! processor's sinks from it.
//!
//! The central types: [`ProcessorConfig`] (the processor's environment), [`AwsSinks`] (the
//! four adapters as one `pipeline::flow::Sinks`), and [`DynamoAggregateTable`], which the
//! aggregator merges and the query Lambda reads. [`emf`] writes the CloudWatch metrics
//! lines, [`logging`] the JSON logs every Lambda starts with, and [`invocation`] how long an
//! invocation may work.
//!
//! # Example
//!
//! The processor's batch flow over the stack its environment names (this is what the
//! processor Lambda and `pipeline-aws replay` do):
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use pipeline::CoreConfig;
//! use pipeline::flow::BatchFlow;
//! use pipeline_aws::ProcessorConfig;
//!
//! # async fn example(records: Vec<pipeline::Record>) -> Result<(), Box<dyn std::error::Error>> {
//! // EVENTS_TABLE, AGGREGATES_TABLE, ARCHIVE_STREAMS, BAD_ROWS_BUCKET, ... (DESIGN.md section 8).
//! let config = ProcessorConfig::from_env()?;
//! let aws = pipeline_aws::sdk::load_from_env().await;
//! let flow = BatchFlow::new(Arc::new(CoreConfig::embedded()?), pipeline_aws::sinks(&config, &aws));
//! let report = flow.run(&records, tokio::time::Instant::now() + Duration::from_secs(60)).await;
//! println!("{} valid, {} stream records to retry", report.counts.valid, report.failed_records.len());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod aggregates;
pub mod config;
pub mod dynamodb;
pub mod emf;
pub mod event_item;
pub mod events_query;
pub mod firehose;
pub mod invocation;
pub mod logging;
pub mod retry;
pub mod s3;
pub mod sdk;
pub mod type_events;

use pipeline::flow::Sinks;

pub use aggregates::{DynamoAggregateStore, DynamoAggregateTable};
pub use config::{ProcessorConfig, QueryConfig, TablesConfig};
pub use dynamodb::DynamoEventStore;
pub use firehose::FirehoseArchive;
pub use s3::S3BadRowStore;

/// The processor's sinks: events table, archive streams, bad-rows bucket, aggregates table.
pub type AwsSinks = Sinks<DynamoEventStore, FirehoseArchive, S3BadRowStore, DynamoAggregateStore>;

/// The processor's sinks over the stack `config` names, with clients made from `aws`. The
/// processor Lambda and `pipeline-aws replay` write through these same sinks.
pub fn sinks(config: &ProcessorConfig, aws: &aws_config::SdkConfig) -> AwsSinks {
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    Sinks {
        events: DynamoEventStore::new(dynamo.clone(), &config.events_table, config.event_ttl_days, config.gsi_write_shards)
            .keeping_only(config.query_event_types.clone()),
        archive: FirehoseArchive::new(aws_sdk_firehose::Client::new(aws), config.archive_streams.clone()),
        bad_rows: S3BadRowStore::new(aws_sdk_s3::Client::new(aws), &config.bad_rows_bucket, &config.bad_rows_prefix),
        aggregates: DynamoAggregateStore::new(dynamo, &config.aggregates_table),
    }
}
