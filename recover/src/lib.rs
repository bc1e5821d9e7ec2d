//! `pipeline-recover`: bad rows back into the pipeline after a fix, each event once.
//!
//! The binaries bring a [`run::Source`] of bad rows and a [`run::Destination`] for events:
//! `pipeline recover` the local query and ingest APIs, `pipeline-aws recover` S3 and Kinesis.
//! This crate does the rest, the same for both: the shared options and the selection they
//! make ([`select`]); the fixes, in order (an RFC 6902 JSON Patch, the identity the event
//! would have had, the processor's own checks against the schemas in force: [`fix`]); the
//! run, which sends fixed events in batches and marks their bad rows once the batch is
//! acknowledged ([`run`]); and the counts it prints and writes with `--report` ([`report`]).
//!
//! Idempotence: a recovered event carries its own `event_id` or the one derived from its
//! record (shard, sequence and sub-sequence number), and its own `timestamp` or its
//! record's arrival, so its store key is the same however often it is recovered.
//!
//! The central types: [`RecoverArgs`] (the options both binaries share) and the
//! [`Selection`] they make; [`Fix`], which gives a [`Verdict`] on each bad row (a
//! [`RecoveredEvent`] when fixed); [`Source`] and [`Destination`], which each binary brings;
//! [`prepare`] and [`execute`], which run it; and the [`Report`] it ends with.
//!
//! # Example
//!
//! A user runs `pipeline recover --patch fix.json` (local) or `pipeline-aws recover` (S3 into
//! Kinesis); each prints what it would do with `--dry-run`. Underneath, one bad row and its
//! fix:
//!
//! ```
//! use chrono::Utc;
//! use pipeline::{CoreConfig, Outcome, Record, process_batch};
//! use pipeline_recover::{Fix, Verdict};
//!
//! // A bad row as the processor made it: an empty user_id breaks the pageview schema.
//! let record = Record {
//!     data: br#"{"event_type": "pageview", "user_id": ""}"#.to_vec(),
//!     partition_key: "p".into(),
//!     sequence_number: "1".into(),
//!     sub_sequence_number: 0,
//!     shard_id: "shardId-000000000000".into(),
//!     arrival: Utc::now(),
//! };
//! let Outcome::Bad(row) = process_batch(&CoreConfig::embedded()?, &[record], Utc::now()).remove(0) else {
//!     panic!("an empty user_id is refused")
//! };
//!
//! // The fix of `--patch fix.json`: an RFC 6902 JSON Patch.
//! let patch = serde_json::from_str(r#"[{"op": "replace", "path": "/user_id", "value": "u-1"}]"#)?;
//! let fix = Fix::new(CoreConfig::embedded()?, Some(patch));
//! let Verdict::Fixed(event) = fix.apply(&row, Utc::now()) else { panic!("the patch fixes it") };
//! assert_eq!(event.store_key.0, "USER#u-1");
//! // Recovered again, the event keeps its id, so it is stored once.
//! let Verdict::Fixed(again) = fix.apply(&row, Utc::now()) else { unreachable!() };
//! assert_eq!(again.event_id, event.event_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod fix;
pub mod report;
pub mod run;
pub mod select;

use anyhow::Context;
use pipeline::CoreConfig;
use pipeline::enrichments::lookup::TableBudget;
use pipeline::time_format::format_millis;

pub use fix::{Fix, RecoveredEvent, Verdict};
pub use report::Report;
pub use run::{Attempt, BatchLimits, Destination, Source, put_until_taken};
pub use select::{RecoverArgs, Selection};

/// A run ready to start: the fix and selection of `args`, and its report's heading.
pub struct Prepared {
    /// The patch and the schemas the rows are checked with.
    pub fix: Fix,
    /// Which bad rows the run takes.
    pub selection: Selection,
    /// The report, its heading filled in.
    pub report: Report,
}

/// Loads the schemas and the patch of `args` (failing with a clear message before anything
/// is read or sent).
pub fn prepare(args: &RecoverArgs, source: String, target: String) -> anyhow::Result<Prepared> {
    let patch = args.patch.as_deref().map(fix::load_patch).transpose()?;
    let core = CoreConfig::load(args.schemas.as_deref(), args.enrichments.as_deref(), TableBudget::local())
        .context("loading the schemas of --schemas and the enrichments of --enrichments")?;
    let report = Report {
        dry_run: args.dry_run,
        target,
        source,
        schemas: args.schemas.as_ref().map_or_else(|| "built-in".to_owned(), |dir| dir.display().to_string()),
        started_at: format_millis(chrono::Utc::now()),
        ..Report::default()
    };
    Ok(Prepared { fix: Fix::new(core, patch), selection: Selection::of(args), report })
}

/// Runs `prepared` from `source` into `destination`, prints the summary, writes the report
/// of `--report` (also when the run stopped early) and returns it, or the error that
/// stopped the run.
pub async fn execute<S: Source, D: Destination>(
    mut prepared: Prepared,
    args: &RecoverArgs,
    source: &mut S,
    destination: &D,
) -> anyhow::Result<Report> {
    let outcome = run::recover(&prepared.fix, &prepared.selection, args.dry_run, source, destination, &mut prepared.report).await;
    let mut report = prepared.report;
    if let Err(e) = &outcome {
        report.error = Some(format!("{e:#}"));
    }
    report.finish(format_millis(chrono::Utc::now()));
    print!("{}", report.summary());
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    outcome.map(|()| report)
}
