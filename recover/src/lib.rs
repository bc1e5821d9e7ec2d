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
    pub fix: Fix,
    pub selection: Selection,
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
