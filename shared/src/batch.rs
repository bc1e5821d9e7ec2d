//! The pure part of the batch flow: records in, one outcome per record out, in order,
//! processed in parallel with rayon. No I/O. [`process_records`] takes stream records and
//! first turns KPL aggregated records into their user records ([`UserRecords`]);
//! [`process_batch`] takes records that are events already (one outcome each).

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::bad_row::{BadRow, BadRowType};
use crate::decode::{DecodeScratch, decode};
use crate::enrich::{BatchClock, EnrichedEvent, enrich};
use crate::record::Record;
use crate::core_config::CoreConfig;
use crate::user_records::UserRecords;
use crate::validation::validate_event;

/// Fewest records one rayon task takes: below this, splitting costs more than it saves.
pub const MIN_RECORDS_PER_TASK: usize = 32;

/// What became of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Valid and enriched: to the events store, the archive and the aggregates.
    Event(EnrichedEvent),
    /// Refused: to the bad-row store.
    Bad(BadRow),
}

impl Outcome {
    /// The enriched event, if the record was valid.
    pub fn as_event(&self) -> Option<&EnrichedEvent> {
        match self {
            Outcome::Event(e) => Some(e),
            Outcome::Bad(_) => None,
        }
    }

    /// The bad row, if the record was refused.
    pub fn as_bad_row(&self) -> Option<&BadRow> {
        match self {
            Outcome::Bad(b) => Some(b),
            Outcome::Event(_) => None,
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<DecodeScratch> = RefCell::new(DecodeScratch::default());
}

/// Decodes, validates and enriches one record.
pub fn process_record(config: &CoreConfig, record: &Record, clock: &BatchClock) -> Outcome {
    process_user_record(config, record, clock, false)
}

/// [`process_record`] for a user record; `aggregated`: it came out of a KPL aggregated
/// record (the enriched event then names its sub-sequence number).
fn process_user_record(config: &CoreConfig, record: &Record, clock: &BatchClock, aggregated: bool) -> Outcome {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let result = decode(&record.data, &mut scratch, |event| {
            // Lookup rows start loading now and arrive while the event is validated.
            let enrichments = config.enrichments.for_event(event);
            let (schema, envelope) = validate_event(&config.schemas, event)?;
            enrich(record, schema, &envelope, enrichments, clock, aggregated)
        });
        match result {
            Ok(event) => Outcome::Event(event),
            Err(rejection) => Outcome::Bad(BadRow::new(rejection, record, clock.processed_at)),
        }
    })
}

/// Every record's outcome, in record order, using the current rayon pool.
pub fn process_batch(config: &CoreConfig, records: &[Record], processed_at: DateTime<Utc>) -> Vec<Outcome> {
    let clock = BatchClock::new(processed_at);
    records
        .par_iter()
        .with_min_len(MIN_RECORDS_PER_TASK)
        .map(|record| process_record(config, record, &clock))
        .collect()
}

/// A batch of stream records processed: its user records and one outcome per user record,
/// in order.
#[derive(Debug)]
pub struct Processed<'a> {
    /// The batch's user records (aggregated records deaggregated), which the outcomes follow.
    pub user_records: UserRecords<'a>,
    /// One outcome per user record, in their order.
    pub outcomes: Vec<Outcome>,
}

/// Every user record's outcome: aggregated records are deaggregated first (an aggregated
/// record that does not decode is one `malformed` bad row), then processed like
/// [`process_batch`].
pub fn process_records<'a>(config: &CoreConfig, records: &'a [Record], processed_at: DateTime<Utc>) -> Processed<'a> {
    let clock = BatchClock::new(processed_at);
    let user_records = UserRecords::of(records);
    let outcomes = user_records
        .records()
        .par_iter()
        .enumerate()
        .with_min_len(MIN_RECORDS_PER_TASK)
        .map(|(i, record)| match user_records.rejection(i) {
            Some(why) => Outcome::Bad(BadRow::new(why.clone(), record, processed_at)),
            None => process_user_record(config, record, &clock, user_records.is_aggregated(i)),
        })
        .collect();
    Processed { user_records, outcomes }
}

/// Counts of a batch's outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Valid events.
    pub valid: usize,
    /// Bad rows per type, in [`BadRowType::ALL`] order.
    pub bad: [usize; BadRowType::COUNT],
}

impl OutcomeCounts {
    /// The counts of `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut counts = Self::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Event(_) => counts.valid += 1,
                Outcome::Bad(b) => counts.bad[b.kind.index()] += 1,
            }
        }
        counts
    }

    /// Bad rows of every type.
    pub fn bad_total(&self) -> usize {
        self.bad.iter().sum()
    }

    /// Bad rows of type `kind`.
    pub fn bad_of(&self, kind: BadRowType) -> usize {
        self.bad[kind.index()]
    }
}
