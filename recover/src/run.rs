//! A recovery run: bad rows from a [`Source`], each selected row fixed ([`Fix::apply`]) and
//! counted, the fixed events sent to a [`Destination`] in batches, and each batch's bad rows
//! marked recovered once the destination has acknowledged its events.
//!
//! Marking comes after the events are acknowledged, so a run stopped between the two puts
//! the same events back on the next run: they keep their store keys (the events store is
//! unchanged), but the aggregates count them again (at least once, as for every retry).

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline::BadRow;
use pipeline::bad_row::BadRowId;
use pipeline::retry::{Answer, Backoff, until_taken};

use crate::fix::{Fix, RecoveredEvent, Verdict};
use crate::report::Report;
use crate::select::Selection;

/// Where bad rows come from (the local query API, or S3).
pub trait Source {
    /// The next page of bad rows, in a stable order; `None` after the last. A row that an
    /// earlier run recovered carries `recovered_at`.
    fn next_page(&mut self) -> impl Future<Output = anyhow::Result<Option<Vec<BadRow>>>>;

    /// How many rows the source holds, where it knows (for the progress bar).
    fn len_hint(&self) -> Option<u64> {
        None
    }
}

/// How much one request of a destination may carry.
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    /// Records per request at most.
    pub records: usize,
    /// Bytes per request at most.
    pub bytes: usize,
    /// Whether a record's partition key counts in its size (Kinesis), or a separator (a JSON array).
    pub key_counts: bool,
}

impl BatchLimits {
    fn size(&self, event: &RecoveredEvent) -> usize {
        event.data.len() + if self.key_counts { event.partition_key.len() } else { 1 }
    }
}

/// Where fixed events go (the local ingest API, or Kinesis), and where bad rows are marked.
pub trait Destination {
    /// How much one request may carry.
    fn limits(&self) -> BatchLimits;

    /// Puts every event, retrying those refused for a while (throttles); an error when
    /// some could not be put.
    fn put(&self, events: &[RecoveredEvent]) -> impl Future<Output = anyhow::Result<()>>;

    /// Marks the bad rows recovered (after their events were put).
    fn mark(&self, rows: &[BadRowId]) -> impl Future<Output = anyhow::Result<()>>;
}

/// What one attempt at putting a batch came to.
pub enum Attempt {
    /// The destination answered: the events at these positions (of those sent) were
    /// refused (throttled) and go again; none means all were taken.
    Left(Vec<usize>),
    /// Nothing was taken (the whole request throttled, or no answer: sending again is safe,
    /// the events keep their store keys): all of them again, after this wait if given.
    Again(Option<Duration>),
}

/// How long a batch may be refused before the run stops.
pub const RETRY_FOR: Duration = Duration::from_secs(120);
/// Waits between attempts: 100 ms doubling to 5 s (with jitter), or the destination's
/// `Retry-After` up to 5 s.
pub const BACKOFF: Backoff = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(5) };

/// Puts `events` with `attempt` through the pipeline's one retry loop
/// ([`pipeline::retry::until_taken`]), sending what was refused again until every event
/// is taken, or fails after [`RETRY_FOR`]. `attempt` makes the request from the events
/// still pending and returns the future that sends it; an error is a refusal that waiting
/// does not mend.
pub async fn put_until_taken<'a, Fut: Future<Output = anyhow::Result<Attempt>>>(
    events: &'a [RecoveredEvent],
    target: &str,
    mut attempt: impl FnMut(&[&'a RecoveredEvent]) -> Fut,
) -> anyhow::Result<()> {
    let pending: Vec<&RecoveredEvent> = events.iter().collect();
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    let retried = until_taken(BACKOFF, deadline, pending, |pending| {
        let sent = attempt(pending);
        async move {
            match sent.await {
                Ok(Attempt::Left(positions)) => Answer::Left(positions),
                Ok(Attempt::Again(after)) => Answer::Again { after },
                Err(e) => Answer::Refused(e),
            }
        }
    })
    .await;
    if let Some(e) = retried.refused {
        return Err(e);
    }
    if !retried.all_taken() {
        anyhow::bail!(
            "{target}: {} events were still refused after {} s (throttled or unreachable): run recover again later",
            retried.left.len(),
            RETRY_FOR.as_secs()
        );
    }
    Ok(())
}

/// Rows between a progress bar's redraws at least.
const PROGRESS_EVERY: u64 = 64;

/// Runs recovery, counting into `report`; an error stops the run (what was recovered by
/// then stays recovered and counted).
pub async fn recover<S: Source, D: Destination>(
    fix: &Fix,
    selection: &Selection,
    dry_run: bool,
    source: &mut S,
    destination: &D,
    report: &mut Report,
) -> anyhow::Result<()> {
    let progress = progress_bar(source.len_hint());
    let outcome = take_and_send(fix, selection, dry_run, source, destination, report, &progress).await;
    progress.finish_and_clear();
    outcome
}

async fn take_and_send<S: Source, D: Destination>(
    fix: &Fix,
    selection: &Selection,
    dry_run: bool,
    source: &mut S,
    destination: &D,
    report: &mut Report,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let mut pending: Vec<RecoveredEvent> = Vec::new();
    let mut pending_bytes = 0usize;
    let limits = destination.limits();
    let mut taken = 0usize;
    let mut read = 0u64;
    'pages: while let Some(page) = source.next_page().await? {
        for row in page {
            read += 1;
            if read % PROGRESS_EVERY == 0 {
                progress.set_position(read);
                progress.set_message(format!("{} fixed, {} recovered", report_fixed(report), report_recovered(report)));
            }
            if !selection.matches(&row) {
                continue;
            }
            if row.recovered_at.is_some() && !selection.again {
                report.count_already_recovered(row.kind);
                continue;
            }
            if selection.limit.is_some_and(|limit| taken >= limit) {
                break 'pages;
            }
            taken += 1;
            let verdict = fix.apply(&row, Utc::now());
            report.count(&row, &verdict);
            let Verdict::Fixed(event) = verdict else { continue };
            if dry_run {
                continue;
            }
            let size = limits.size(&event);
            if !pending.is_empty() && (pending.len() >= limits.records || pending_bytes + size > limits.bytes) {
                send(destination, &mut pending, report).await?;
                pending_bytes = 0;
            }
            pending_bytes += size;
            pending.push(event);
        }
    }
    if !pending.is_empty() {
        send(destination, &mut pending, report).await?;
    }
    Ok(())
}

/// Puts a batch, then marks its bad rows.
async fn send<D: Destination>(destination: &D, pending: &mut Vec<RecoveredEvent>, report: &mut Report) -> anyhow::Result<()> {
    destination.put(pending).await?;
    let rows: Vec<BadRowId> = pending.iter().map(|e| e.row.clone()).collect();
    destination.mark(&rows).await?;
    for event in pending.drain(..) {
        report.count_recovered(event.kind, 1);
    }
    Ok(())
}

fn report_fixed(report: &Report) -> u64 {
    report.types.values().map(|c| c.fixed).sum()
}

fn report_recovered(report: &Report) -> u64 {
    report.types.values().map(|c| c.recovered).sum()
}

/// A bar on stderr when it is a terminal (drawn from the first second on), else nothing.
fn progress_bar(len: Option<u64>) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} bad rows read, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{elapsed_precise} {spinner} {pos} bad rows read, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use pipeline::{BadRowType, CoreConfig};

    use super::*;

    struct Pages(Vec<Vec<BadRow>>);

    impl Source for Pages {
        async fn next_page(&mut self) -> anyhow::Result<Option<Vec<BadRow>>> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    #[derive(Default)]
    struct Recorder {
        log: RefCell<Vec<String>>,
        fail_puts: bool,
    }

    impl Destination for Recorder {
        fn limits(&self) -> BatchLimits {
            BatchLimits { records: 2, bytes: 1 << 20, key_counts: false }
        }
        async fn put(&self, events: &[RecoveredEvent]) -> anyhow::Result<()> {
            if self.fail_puts {
                anyhow::bail!("the target is gone");
            }
            self.log.borrow_mut().push(format!("put {}", events.len()));
            Ok(())
        }
        async fn mark(&self, rows: &[BadRowId]) -> anyhow::Result<()> {
            self.log.borrow_mut().push(format!("mark {}", rows.len()));
            Ok(())
        }
    }

    fn bad(i: u32, payload: &str, recovered: bool) -> BadRow {
        BadRow {
            kind: BadRowType::UnknownEventType,
            event_type: Some("pagevew".into()),
            schema: None,
            errors: Vec::new(),
            payload: Some(payload.into()),
            payload_base64: None,
            shard_id: "shardId-000000000000".into(),
            sequence_number: format!("{i:020}"),
            sub_sequence_number: 0,
            partition_key: "1".into(),
            ingested_at: "2026-11-27T12:00:00.000Z".into(),
            failed_at: "2026-11-27T12:00:00Z".into(),
            recovered_at: recovered.then(|| "2026-11-28T00:00:00.000Z".into()),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn refused_events_go_again_until_taken_and_a_fatal_answer_stops() {
        let good = r#"{"event_type": "pageview", "user_id": 1}"#;
        let fix = Fix::new(CoreConfig::embedded().unwrap(), None);
        let events: Vec<RecoveredEvent> = (1..=3)
            .map(|i| match fix.apply(&bad(i, good, false), Utc::now()) {
                Verdict::Fixed(e) => e,
                other => panic!("{other:?}"),
            })
            .collect();
        let mut sent: Vec<usize> = Vec::new();
        block_on(put_until_taken(&events, "t", |pending: &[&RecoveredEvent]| {
            sent.push(pending.len());
            let answer = match sent.len() {
                1 => Attempt::Again(Some(Duration::from_millis(1))),
                2 => Attempt::Left(vec![1, 2]),
                _ => Attempt::Left(Vec::new()),
            };
            async move { Ok(answer) }
        }))
        .unwrap();
        assert_eq!(sent, [3, 3, 2], "all again after a throttle, then only the refused ones");
        let err = block_on(put_until_taken(&events, "t", |_: &[&RecoveredEvent]| async { anyhow::bail!("refused for good") })).unwrap_err();
        assert!(err.to_string().contains("for good"));
    }

    #[test]
    fn sends_in_batches_marks_after_each_and_counts() {
        let good = r#"{"event_type": "pageview", "user_id": 1}"#;
        let rows = vec![vec![bad(1, good, false), bad(2, good, false), bad(3, "{}", false)], vec![bad(4, good, true), bad(5, good, false)]];
        let fix = Fix::new(CoreConfig::embedded().unwrap(), None);
        let destination = Recorder::default();
        let mut report = Report::default();
        block_on(recover(&fix, &Selection::default(), false, &mut Pages(rows.clone()), &destination, &mut report)).unwrap();
        report.finish(String::new());
        assert_eq!(*destination.log.borrow(), ["put 2", "mark 2", "put 1", "mark 1"]);
        let t = &report.totals;
        assert_eq!((t.selected, t.fixed, t.still_failing, t.already_recovered, t.recovered), (4, 3, 1, 1, 3));
        assert!(report.summary().contains("3 events put back"), "{}", report.summary());

        // A dry run sends nothing; a limit stops after N rows; --again takes recovered rows.
        let destination = Recorder::default();
        let mut report = Report { dry_run: true, ..Report::default() };
        let selection = Selection { limit: Some(2), again: true, ..Selection::default() };
        block_on(recover(&fix, &selection, true, &mut Pages(rows.clone()), &destination, &mut report)).unwrap();
        report.finish(String::new());
        assert!(destination.log.borrow().is_empty());
        assert_eq!((report.totals.selected, report.totals.fixed, report.totals.recovered), (2, 2, 0));

        // A destination that fails stops the run with nothing marked.
        let destination = Recorder { fail_puts: true, ..Recorder::default() };
        let mut report = Report::default();
        let err = block_on(recover(&fix, &Selection::default(), false, &mut Pages(rows), &destination, &mut report)).unwrap_err();
        assert!(err.to_string().contains("gone"));
        assert!(destination.log.borrow().is_empty());
    }
}
