//! Measures what the planner (`pipeline plan`) assumes of the processor's writes, on the
//! reference workload (the benches' generator, seeded): the bytes enrichment adds, the
//! DynamoDB item an event becomes (with and without the per-type index keys) and its write
//! units as text and as stored (gzip where that saves a unit), and the partial aggregates a
//! batch writes per invocation, with the groups of the enrichment fields (`by=`) and
//! without them.
//!
//!   cargo run --release -p processor --example item_sizes
//!   cargo run --release -p processor --example item_sizes -- --batch 800
//!   cargo run --release -p processor --example item_sizes -- --attribution   # campaign URLs and referrers

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use pipeline::aggregate::batch_partials;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline::{CoreConfig, EnrichedEvent};
use pipeline_aws::aggregates::partial_items;
use pipeline_aws::event_item::{EventItems, item_bytes, write_units};

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The same item with the payload as text.
fn as_text(item: &std::collections::HashMap<String, AttributeValue>, event: &EnrichedEvent) -> std::collections::HashMap<String, AttributeValue> {
    let mut text = item.clone();
    text.remove("payload_gz");
    text.insert("payload".into(), AttributeValue::S(String::from_utf8_lossy(&event.json).into_owned()));
    text
}

fn main() -> anyhow::Result<()> {
    let batch: usize = std::env::args().skip_while(|a| a != "--batch").nth(1).map_or(Ok(800), |b| b.parse())?;
    let registry = CoreConfig::embedded()?;
    let attribution = std::env::args().any(|a| a == "--attribution");
    let config = WorkloadConfig { invalid_ratio: 0.0, oversize_ratio: 0.0, attribution, ..WorkloadConfig::default() };
    let records = Workload::new(config).records(20_000.max(batch * 4), "shardId-000000000000");
    let outcomes = pipeline::process_batch(&registry, &records, Utc::now());
    let events: Vec<(&pipeline::Record, &EnrichedEvent)> =
        records.iter().zip(&outcomes).filter_map(|(r, o)| o.as_event().map(|e| (r, e))).collect();

    let off = EventItems { ttl_days: 7, gsi_write_shards: None };
    let on = EventItems { ttl_days: 7, gsi_write_shards: Some(128) };
    let (mut raw, mut enriched, mut item_off, mut item_on, mut units_text, mut units_stored, mut stored) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut compressed = 0usize;
    for (record, event) in &events {
        raw.push(record.data.len() as f64);
        enriched.push(event.json.len() as f64);
        let item = off.item(event);
        let text = as_text(&item, event);
        item_off.push(item_bytes(&text) as f64);
        item_on.push(item_bytes(&as_text(&on.item(event), event)) as f64);
        units_text.push(write_units(item_bytes(&text)) as f64);
        units_stored.push(write_units(item_bytes(&item)) as f64);
        stored.push(item_bytes(&item) as f64);
        compressed += usize::from(item.contains_key("payload_gz"));
    }
    println!("reference workload, {} valid events", events.len());
    println!("  event JSON (as sent), mean:              {:.0} B", mean(&raw));
    println!("  enriched JSON, mean:                     {:.0} B (enrichment adds {:.0} B)", mean(&enriched), mean(&enriched) - mean(&raw));
    println!("  item as text, index off / on, mean:      {:.0} / {:.0} B (the index keys add {:.0} B)", mean(&item_off), mean(&item_on), mean(&item_on) - mean(&item_off));
    println!("  item as stored (index off), mean:        {:.0} B", mean(&stored));
    println!("  write units as text / as stored, mean:   {:.3} / {:.3} ({:.1} % of items compressed)", mean(&units_text), mean(&units_stored), 100.0 * compressed as f64 / events.len() as f64);

    // What gzip (the store's fast level) makes of a whole enriched event, whether or not the
    // store compressed it: the planner applies this ratio to events of other sizes.
    let packed: Vec<f64> =
        events.iter().map(|(_, e)| pipeline::gzip::gzip(&e.json, pipeline::gzip::Compression::fast()).len() as f64).collect();
    println!(
        "  gzip (fast) of the enriched JSON, mean:   {:.0} B, {:.3} of the JSON",
        mean(&packed),
        mean(&packed) / mean(&enriched)
    );

    // The archive: the events newline-delimited and gzip-compressed as a whole (Firehose's GZIP).
    let mut ndjson = Vec::new();
    for (_, e) in &events {
        ndjson.extend_from_slice(&e.json);
        ndjson.push(b'\n');
    }
    let archived = pipeline::gzip::gzip(&ndjson, pipeline::gzip::Compression::default()).len();
    println!("  archive (NDJSON, gzip default level):   {:.1}× smaller", ndjson.len() as f64 / archived as f64);

    // Events of one size band, as `--event-bytes` plans for: items by raw size.
    let mut bands: BTreeMap<usize, (Vec<f64>, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (i, (record, _)) in events.iter().enumerate() {
        let band = record.data.len() / 100 * 100;
        let entry = bands.entry(band).or_default();
        entry.0.push(units_text[i]);
        entry.1.push(units_stored[i]);
        entry.2.push(stored[i] / item_off[i]);
    }
    println!("  by event size: band  WRU text  WRU stored  stored/text bytes");
    for (band, (text, stored, ratio)) in &bands {
        println!("                 {band:>4}  {:>8.3}  {:>10.3}  {:>17.3}", mean(text), mean(stored), mean(ratio));
    }

    // Partial aggregates: one shard's batch of `batch` records, as one invocation writes them,
    // with the groups of the enrichment fields, and with the events' group values removed.
    let ungrouped: Vec<EnrichedEvent> = events.iter().map(|(_, e)| EnrichedEvent { groups: Default::default(), ..(*e).clone() }).collect();
    let grouped_pairs: Vec<(&pipeline::Record, &EnrichedEvent)> = events.clone();
    let ungrouped_pairs: Vec<(&pipeline::Record, &EnrichedEvent)> = events.iter().map(|(r, _)| *r).zip(&ungrouped).collect();
    for (label, pairs) in [("with the groups", &grouped_pairs), ("without groups", &ungrouped_pairs)] {
        let (mut units, mut items_n, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in pairs.chunks(batch) {
            if chunk.len() < batch {
                break;
            }
            let partials = batch_partials(chunk.iter().enumerate().map(|(i, (record, item))| (i, *record, *item)));
            let items = partial_items(&partials, Utc::now());
            items_n.push(items.len() as f64);
            bytes.push(items.iter().map(|(item, _)| item_bytes(item) as f64).sum());
            units.push(items.iter().map(|(item, _)| write_units(item_bytes(item)) as f64).sum());
        }
        println!(
            "partial aggregates of a {batch}-record batch, {label}: {:.1} items, {:.1} write units, {:.0} B (mean of {})",
            mean(&items_n),
            mean(&units),
            mean(&bytes),
            units.len()
        );
    }
    Ok(())
}
