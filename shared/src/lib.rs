//! `pipeline`: the processing core of the event pipeline.
//!
//! It turns a batch of stream records into outcomes (an enriched event, or a bad row) with
//! no I/O: schemas ([`schema_registry`]), decoding ([`decode`]), validation
//! ([`validation`]), enrichment ([`enrich`], with the configured [`enrichments`]: campaign,
//! referer, lookup tables) and the parallel batch flow ([`batch`]), configured by a
//! [`CoreConfig`] loaded once at start.
//! KPL aggregated records ([`kpl`]) are turned into their user records ([`user_records`])
//! before that, so each user record follows the same path.
//! Aggregates: partials per window ([`aggregate`]), the merge into minute..month rows
//! ([`rollup`]), groups by an enrichment field ([`group`]), and the query API's requests
//! and bodies ([`query`]).
//! The contract's limits, each with its source, are in [`limits`]; the one way to take a
//! lock, ignoring poisoning, is in [`sync`].
//! With feature `gzip`, [`gzip`] is the one in-memory gzip the adapters share.
//! With feature `flow`, [`sink`] defines the ports (event store, archive, bad rows,
//! aggregates) and [`flow`] runs a batch through them within a deadline.
//! The contracts it implements are in DESIGN.md sections 2-3; the reference workload
//! generator ([`workload`], feature `workload`) is shared by benches, tests and `loadtest`.
//!
//! The central types: a [`Record`] is one stream record as Kinesis delivers it; a
//! [`CoreConfig`] holds the [`SchemaRegistry`] and the [`Enrichments`]; [`process_records`]
//! (or [`process_batch`] for plain records) gives one [`Outcome`] per user record, an
//! [`EnrichedEvent`] or a [`BadRow`] with its [`BadRowType`] and [`Violation`]s.
//!
//! # Example
//!
//! ```
//! use chrono::Utc;
//! use pipeline::{BadRowType, CoreConfig, Outcome, Record, process_batch};
//!
//! // The schemas and enrichments built into the binaries (`schemas/`, `enrichments/`).
//! let config = CoreConfig::embedded()?;
//! let record = |sequence_number: &str, data: &str| Record {
//!     data: data.as_bytes().to_vec(),
//!     partition_key: "123".into(),
//!     sequence_number: sequence_number.into(),
//!     sub_sequence_number: 0,
//!     shard_id: "shardId-000000000000".into(),
//!     arrival: Utc::now(),
//! };
//! let batch = [
//!     record("1", r#"{"event_type": "pageview", "user_id": 123}"#),
//!     record("2", r#"{"event_type": "pageview", "user_id": 123"#),
//! ];
//! let outcomes = process_batch(&config, &batch, Utc::now());
//! let Outcome::Event(event) = &outcomes[0] else { panic!("a valid pageview") };
//! assert_eq!(&*event.event_type, "pageview");
//! let Outcome::Bad(bad) = &outcomes[1] else { panic!("cut short: not JSON") };
//! assert_eq!(bad.kind, BadRowType::Malformed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod aggregate;
pub mod bad_row;
pub mod batch;
pub mod core_config;
pub mod decode;
pub mod enrich;
pub mod enrichments;
#[cfg(feature = "flow")]
pub mod flow;
#[cfg(feature = "gzip")]
pub mod gzip;
pub mod group;
pub mod json_tape;
pub mod json_text;
pub mod kpl;
pub mod limits;
pub mod money;
pub mod query;
pub mod record;
pub mod rollup;
pub mod root_members;
pub mod schema_registry;
#[cfg(feature = "flow")]
pub mod retry;
#[cfg(feature = "flow")]
pub mod sink;
pub mod sync;
pub mod time_format;
pub mod user_agent;
pub mod user_records;
pub mod validation;
mod word_scan;
#[cfg(feature = "workload")]
pub mod workload;

pub use bad_row::{BadRow, BadRowType, Violation};
pub use batch::{Outcome, OutcomeCounts, Processed, process_batch, process_record, process_records};
pub use enrich::{BatchClock, EnrichedEvent};
pub use core_config::{CoreConfig, CoreConfigError};
pub use enrichments::{EnrichmentError, Enrichments, EventEnrichments};
pub use record::{MAX_RECORD_BYTES, Record};
pub use schema_registry::{SchemaError, SchemaRegistry};
