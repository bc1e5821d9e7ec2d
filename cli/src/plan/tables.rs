//! The DynamoDB tables under a [`Config`]: the item an event becomes (text, or gzip where
//! that saves a write unit, as aws/src/event_item.rs decides), the writes of the events
//! table, its index and the partial aggregates, the aggregator's reads, the provisioned
//! capacity auto scaling moves between, storage and point-in-time recovery.

use crate::plan::config::{Billing, Config};
use crate::plan::limits::*;
use crate::plan::measured::*;
use crate::plan::need::{HEADROOM, Need, ceil_count, gsi_write_shards};
use crate::plan::sizing::ProcessorPlan;

/// Provisioned capacity the plan gives a table the query load is not known for (reads of
/// the events table: per-user queries): Terraform's defaults.
pub const UNPLANNED_MIN_READ: u64 = 5;
pub const UNPLANNED_MAX_READ: u64 = 100;
/// The lowest provisioned capacity the plan lets auto scaling go to, as a share of the peak.
pub const PROVISIONED_FLOOR_SHARE: f64 = 0.1;

/// One event's item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemPlan {
    pub enriched_bytes: u64,
    /// The item with its payload as text.
    pub text_bytes: u64,
    /// The item with its payload gzip-compressed.
    pub compressed_bytes: u64,
    /// What is stored: the text unless compression saves a unit (or is needed to fit).
    pub stored_bytes: u64,
    pub compressed: bool,
    pub write_units: u64,
    pub text_write_units: u64,
}

/// Provisioned capacity of one table: what auto scaling moves between.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub min_write: u64,
    pub max_write: u64,
    pub min_read: u64,
    pub max_read: u64,
    /// Mean provisioned units over the month (what is billed).
    pub mean_write: f64,
    pub mean_read: f64,
}

/// One table's throughput and storage.
#[derive(Clone, Debug, PartialEq)]
pub struct TableLoad {
    pub peak_write_units: f64,
    pub mean_write_units: f64,
    pub peak_read_units: f64,
    pub mean_read_units: f64,
    pub stored_gb: f64,
    /// `Some` where the table is provisioned.
    pub capacity: Option<Capacity>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TablesPlan {
    pub item: ItemPlan,
    pub kept_share: f64,
    pub events: TableLoad,
    /// Writes of the per-type index (in the events table's peak and mean write units).
    pub index_write_units: f64,
    pub index_stored_gb: f64,
    pub gsi_write_shards: Option<u64>,
    pub aggregates: TableLoad,
    pub partial_units_per_invocation: f64,
    pub partial_bytes_per_invocation: f64,
    /// On-demand warm throughput worth setting before launch (events table, write units).
    pub warm_write_units: u64,
}

pub fn item(need: &Need, index: bool) -> ItemPlan {
    let enriched = need.event_bytes + ENRICHMENT_BYTES;
    let keys = ITEM_KEY_BYTES + if index { INDEX_KEY_BYTES } else { 0 };
    let text_bytes = enriched + keys;
    let compressed_bytes = (enriched as f64 * SINGLE_EVENT_GZIP_RATIO).ceil() as u64 + keys + COMPRESSED_NAME_EXTRA_BYTES;
    let units = |bytes: u64| bytes.div_ceil(DYNAMODB_WRITE_UNIT_BYTES).max(1);
    let (stored_bytes, compressed) = if enriched > COMPRESS_PAYLOAD_OVER {
        // Too big to keep as text; past the item limit only the keys stay (the archive has it).
        if compressed_bytes <= DYNAMODB_MAX_ITEM_BYTES { (compressed_bytes, true) } else { (keys + 20, false) }
    } else if units(compressed_bytes) < units(text_bytes) {
        (compressed_bytes, true)
    } else {
        (text_bytes, false)
    };
    ItemPlan {
        enriched_bytes: enriched,
        text_bytes,
        compressed_bytes,
        stored_bytes,
        compressed,
        write_units: units(stored_bytes),
        text_write_units: units(text_bytes),
    }
}

fn capacity(billing: Billing, peak_write: f64, mean_write: f64, read: Option<(f64, f64)>) -> Option<Capacity> {
    let Billing::Provisioned { target } = billing else { return None };
    let max_write = ceil_count(peak_write / target * HEADROOM).max(1);
    let min_write = ceil_count(peak_write * PROVISIONED_FLOOR_SHARE / target).max(1).min(max_write);
    let (min_read, max_read, mean_read) = match read {
        Some((peak, mean)) => {
            let max = ceil_count(peak / target * HEADROOM * 4.0).max(UNPLANNED_MIN_READ);
            (ceil_count(peak * PROVISIONED_FLOOR_SHARE / target).max(UNPLANNED_MIN_READ).min(max), max, mean / target)
        }
        None => (UNPLANNED_MIN_READ, UNPLANNED_MAX_READ, 0.0),
    };
    Some(Capacity {
        min_write,
        max_write,
        min_read,
        max_read,
        mean_write: (mean_write / target).max(min_write as f64),
        mean_read: mean_read.max(min_read as f64),
    })
}

pub fn tables(need: &Need, config: &Config, processor: &ProcessorPlan) -> TablesPlan {
    let item = item(need, config.index);
    let kept = Need { query_event_types: config.kept_types.clone(), ..need.clone() }.kept_share();
    let peak_events = need.rate as f64 * need.burst * kept;
    let mean_events = need.mean_rate as f64 * kept;
    let index_units = if config.index { INDEX_WRITE_UNITS_PER_ITEM as f64 } else { 0.0 };
    let units = item.write_units as f64;
    let kept_items = mean_events * 86_400.0 * config.ttl_days as f64;
    let mut events = TableLoad {
        peak_write_units: peak_events * (units + index_units),
        mean_write_units: mean_events * (units + index_units),
        peak_read_units: 0.0,
        mean_read_units: 0.0,
        stored_gb: kept_items * (item.stored_bytes + DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES) as f64 / GB,
        capacity: None,
    };
    // The index has its own capacity, fixed at the table's maximum (terraform/modules/storage).
    events.capacity = capacity(config.events_billing, peak_events * units, mean_events * units, None);

    let (partial_units, partial_bytes) = partials_per_invocation(processor.events_per_invocation);
    let (_, mean_partial_bytes) = partials_per_invocation(need.mean_rate as f64 / processor.mean_invocations_per_s.max(1e-9));
    let types = need.mix.len() as f64;
    // The aggregator reads each partial once (consistent reads of up to 4 KB each).
    let read_units = |invocations: f64, bytes: f64| invocations * (bytes / DYNAMODB_READ_UNIT_BYTES as f64 + types);
    let mut aggregates = TableLoad {
        peak_write_units: processor.invocations_per_s * partial_units,
        mean_write_units: processor.mean_invocations_per_s * partials_per_invocation(need.mean_rate as f64 / processor.mean_invocations_per_s.max(1e-9)).0,
        peak_read_units: read_units(processor.invocations_per_s, partial_bytes),
        mean_read_units: read_units(processor.mean_invocations_per_s, mean_partial_bytes),
        stored_gb: processor.mean_invocations_per_s * mean_partial_bytes * 86_400.0 * PARTIAL_RETENTION_DAYS / GB,
        capacity: None,
    };
    aggregates.capacity = capacity(
        config.aggregates_billing,
        aggregates.peak_write_units,
        aggregates.mean_write_units,
        Some((aggregates.peak_read_units, aggregates.mean_read_units)),
    );
    TablesPlan {
        item,
        kept_share: kept,
        index_write_units: peak_events * index_units,
        index_stored_gb: if config.index { kept_items * INDEX_ENTRY_STORED_BYTES as f64 / GB } else { 0.0 },
        gsi_write_shards: config.index.then(|| gsi_write_shards(need.rate as f64 * need.burst, need.busiest_share())),
        events,
        aggregates,
        partial_units_per_invocation: partial_units,
        partial_bytes_per_invocation: partial_bytes,
        warm_write_units: ceil_count(peak_events * (units + index_units) * HEADROOM),
    }
}
