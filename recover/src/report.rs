//! What a recovery run did, per bad-row type: the counts it prints and the JSON of
//! `--report FILE`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pipeline::bad_row::BadRowId;
use pipeline::{BadRow, BadRowType, Violation};
use serde::Serialize;

use crate::fix::Verdict;

/// Rows kept per type as examples of what still fails.
pub const FIRST_ERRORS: usize = 5;
/// Errors kept per example row.
const ERRORS_PER_ROW: usize = 3;

/// A row that still fails, as an example.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StillFailingRow {
    /// The row's identity.
    #[serde(flatten)]
    pub row: BadRowId,
    /// The type the pipeline would give it now.
    #[serde(rename = "type")]
    pub kind: BadRowType,
    /// The first reasons it still fails for.
    pub errors: Vec<Violation>,
}

/// The counts of one bad-row type (or of all of them).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TypeCounts {
    /// Rows taken (selected, not recovered before, within `--limit`).
    pub selected: u64,
    /// Rows whose event passes the checks now (sent back in a real run).
    pub fixed: u64,
    /// Rows whose event the pipeline would still refuse: left as they are.
    pub still_failing: u64,
    /// Rows a `test` operation of the patch did not match: left as they are.
    pub not_matching: u64,
    /// Rows skipped because an earlier run recovered them (see `--again`).
    pub already_recovered: u64,
    /// Events acknowledged by the target and their bad rows marked recovered.
    pub recovered: u64,
    /// A few of the still-failing rows, with their reasons, for the person writing the fix.
    pub first_errors: Vec<StillFailingRow>,
}

impl TypeCounts {
    fn add(&mut self, other: &TypeCounts) {
        self.selected += other.selected;
        self.fixed += other.fixed;
        self.still_failing += other.still_failing;
        self.not_matching += other.not_matching;
        self.already_recovered += other.already_recovered;
        self.recovered += other.recovered;
    }
}

/// A run's report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Whether this was `--dry-run`: nothing sent, nothing marked.
    pub dry_run: bool,
    /// Where events go (`http://...` or `kinesis:<stream>`).
    pub target: String,
    /// Where bad rows come from.
    pub source: String,
    /// The schemas events were checked against (`built-in`, or the directory).
    pub schemas: String,
    /// Whether the target's own schemas were compared with these (never, so far: the
    /// target decides, and an event it refuses becomes a new bad row).
    pub target_schemas_checked: bool,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended (RFC 3339, UTC).
    pub finished_at: String,
    /// The counts per bad-row type.
    pub types: BTreeMap<BadRowType, TypeCounts>,
    /// The counts of all types together.
    pub totals: TypeCounts,
    /// Why the run stopped early, if it did (what it recovered until then stays recovered).
    pub error: Option<String>,
}

impl Report {
    /// Counts `row`, selected with this verdict.
    pub fn count(&mut self, row: &BadRow, verdict: &Verdict) {
        let counts = self.types.entry(row.kind).or_default();
        counts.selected += 1;
        match verdict {
            Verdict::Fixed(_) => counts.fixed += 1,
            Verdict::NotMatching => counts.not_matching += 1,
            Verdict::StillFailing { kind, errors } => {
                counts.still_failing += 1;
                if counts.first_errors.len() < FIRST_ERRORS {
                    let errors = errors.iter().take(ERRORS_PER_ROW).cloned().collect();
                    counts.first_errors.push(StillFailingRow { row: row.id(), kind: *kind, errors });
                }
            }
        }
    }

    /// Counts a row of type `kind` skipped because an earlier run recovered it.
    pub fn count_already_recovered(&mut self, kind: BadRowType) {
        self.types.entry(kind).or_default().already_recovered += 1;
    }

    /// Counts `n` rows of type `kind` whose events the target acknowledged.
    pub fn count_recovered(&mut self, kind: BadRowType, n: u64) {
        self.types.entry(kind).or_default().recovered += n;
    }

    /// Sums the types into `totals`.
    pub fn finish(&mut self, finished_at: String) {
        self.finished_at = finished_at;
        let mut totals = TypeCounts::default();
        for counts in self.types.values() {
            totals.add(counts);
        }
        self.totals = totals;
    }

    /// The table and lines printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let fixed = if self.dry_run { "would fix" } else { "fixed" };
        let _ = writeln!(out, "{:<24} {:>9} {:>10} {:>14} {:>13} {:>10}", "bad-row type", "selected", fixed, "still failing", "not matching", "recovered");
        for (kind, c) in &self.types {
            let _ = writeln!(out, "{:<24} {:>9} {:>10} {:>14} {:>13} {:>10}", kind.as_str(), c.selected, c.fixed, c.still_failing, c.not_matching, c.recovered);
        }
        let t = &self.totals;
        let _ = writeln!(out, "{:<24} {:>9} {:>10} {:>14} {:>13} {:>10}", "total", t.selected, t.fixed, t.still_failing, t.not_matching, t.recovered);
        for (kind, c) in &self.types {
            for failed in &c.first_errors {
                let errors: Vec<String> =
                    failed.errors.iter().map(|e| format!("{} {}: {}", if e.path.is_empty() { "/" } else { &e.path }, e.keyword, e.message)).collect();
                let _ = writeln!(
                    out,
                    "  still failing ({kind}, now {}): {}/{}/{}: {}",
                    failed.kind,
                    failed.row.shard_id,
                    failed.row.sequence_number,
                    failed.row.sub_sequence_number,
                    errors.join("; ")
                );
            }
        }
        if t.already_recovered > 0 {
            let _ = writeln!(out, "{} bad rows were recovered by an earlier run and skipped (--again takes them too)", t.already_recovered);
        }
        if self.dry_run {
            let _ = writeln!(out, "dry run: nothing was sent or marked");
        } else {
            let _ = writeln!(out, "{} events put back into {} and their bad rows marked recovered", t.recovered, self.target);
        }
        if t.fixed > 0 && !self.target_schemas_checked {
            let schemas = if self.schemas == "built-in" { "the built-in schemas".to_owned() } else { format!("the schemas in {}", self.schemas) };
            let _ = writeln!(
                out,
                "note: the events were checked against {schemas}; the target's own schemas cannot be checked from here: \
                 it must run with schemas that accept them, or they become new bad rows"
            );
        }
        if let Some(error) = &self.error {
            let _ = writeln!(out, "stopped early: {error}");
        }
        out
    }
}
