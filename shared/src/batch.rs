//! The pure part of the batch flow: records in, one outcome per record out, in order,
//! processed in parallel with rayon. No I/O.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::bad_row::{BadRow, BadRowType};
use crate::decode::{DecodeScratch, decode};
use crate::enrich::{BatchClock, EnrichedEvent, enrich};
use crate::json_tape::TapeValue;
use crate::record::Record;
use crate::core_config::CoreConfig;
use crate::validation::validate_event;

/// Fewest records one rayon task takes: below this, splitting costs more than it saves.
pub const MIN_RECORDS_PER_TASK: usize = 32;

/// What became of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Event(EnrichedEvent),
    Bad(BadRow),
}

impl Outcome {
    pub fn as_event(&self) -> Option<&EnrichedEvent> {
        match self {
            Outcome::Event(e) => Some(e),
            Outcome::Bad(_) => None,
        }
    }

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
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let result = decode(&record.data, &mut scratch, |tape| {
            let Some(event) = TapeValue::root(tape) else {
                unreachable!("decode hands over a tape holding an object")
            };
            let (schema, envelope) = validate_event(&config.schemas, event)?;
            enrich(record, schema, &envelope, &config.enrichments, clock)
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

/// Counts of a batch's outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub valid: usize,
    /// Bad rows per type, in [`BadRowType::ALL`] order.
    pub bad: [usize; BadRowType::COUNT],
}

impl OutcomeCounts {
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

    pub fn bad_total(&self) -> usize {
        self.bad.iter().sum()
    }

    pub fn bad_of(&self, kind: BadRowType) -> usize {
        self.bad[kind.index()]
    }
}
