//! The DynamoDB section of a plan: the item an event becomes, the writes, the index where it
//! is on, the partial aggregates, the capacity, the quota and the storage.

use crate::plan::config::Billing;
use crate::plan::deployment::Deployment;
use crate::plan::format::*;
use crate::plan::limits::*;
use crate::plan::measured::*;
use crate::plan::need::HEADROOM;
use crate::plan::figure::{Figure, Section, figure};
use crate::plan::tables::TableLoad;

fn item(d: &Deployment) -> Figure {
    let i = &d.tables.item;
    let keys = if d.config.index { ITEM_KEY_BYTES + INDEX_KEY_BYTES } else { ITEM_KEY_BYTES };
    let stored = if i.compressed {
        format!(
            "as text {} B is {} units; gzip (measured {} of the JSON) makes {} B, {} unit{}: the processor stores it compressed",
            int(i.text_bytes),
            i.text_write_units,
            num(SINGLE_EVENT_GZIP_RATIO, 3),
            int(i.compressed_bytes),
            i.write_units,
            if i.write_units == 1 { "" } else { "s" }
        )
    } else {
        format!("{} write unit{} as text (compressing would not save one)", i.write_units, if i.write_units == 1 { "" } else { "s" })
    };
    figure(
        "item",
        format!("{} B, {} WRU", int(i.stored_bytes), i.write_units),
        format!(
            "{} B event + {ENRICHMENT_BYTES} B of enrichment + {keys} B of keys{} (measured, item_sizes); {stored}",
            int(d.need.event_bytes),
            if d.config.index { " with the index's" } else { "" }
        ),
    )
}

fn capacity(name: &str, load: &TableLoad, billing: Billing) -> Figure {
    match (&load.capacity, billing) {
        (Some(c), Billing::Provisioned { target }) => figure(
            &format!("{name} capacity"),
            format!("write {}-{}, read {}-{}", int(c.min_write), int(c.max_write), int(c.min_read), int(c.max_read)),
            format!(
                "PROVISIONED, auto scaling at {}% target utilisation: max = peak ÷ target × {HEADROOM}, min = a tenth of the peak; billed ~{} WCU on average (the mean load ÷ target)",
                num(target * 100.0, 0),
                int(c.mean_write.round() as u64)
            ),
        ),
        _ => figure(&format!("{name} capacity"), "on-demand", format!("PAY_PER_REQUEST: billed per request, {} WRU/s on average", rate_num(load.mean_write_units.round()))),
    }
}

pub fn tables(d: &Deployment) -> Section {
    let (need, t, p) = (&d.need, &d.tables, &d.processor);
    let kept = match &d.config.kept_types {
        None => "every event".to_owned(),
        Some(types) => format!("the {}% of events of {} (QUERY_EVENT_TYPES)", num(t.kept_share * 100.0, 0), types.join(", ")),
    };
    let mut figures = vec![
        item(d),
        figure(
            "events table writes",
            format!("{} WRU/s", rate_num(t.events.peak_write_units.round())),
            format!("{kept} at {} events/s × {} WRU{}", rate_num(need.rate as f64 * need.burst), t.item.write_units, if d.config.index { " + 1 index entry" } else { "" }),
        ),
    ];
    if let Some(shards) = t.gsi_write_shards {
        figures.push(figure(
            "gsi_write_shards",
            int(shards),
            format!(
                "ceil(the busiest type's {}% × {} events/s ÷ 1,000 WRU/s per index key × {HEADROOM}); the index doubles the writes and adds {} B per entry",
                num(need.busiest_share() * 100.0, 0),
                rate_num(need.rate as f64 * need.burst),
                INDEX_ENTRY_STORED_BYTES
            ),
        ));
    }
    figures.push(figure(
        "aggregate partials",
        format!("{} WRU/s", rate_num(t.aggregates.peak_write_units.round())),
        format!(
            "{} invocations/s × {} WRU ({} event types' partials, their groups' (by=) and touched-minute markers for ~{} events, measured, item_sizes)",
            rate_num(p.invocations_per_s),
            num(t.partial_units_per_invocation, 1),
            need.mix.len(),
            rate_num(p.events_per_invocation.round())
        ),
    ));
    figures.push(capacity("events table", &t.events, d.config.events_billing));
    figures.push(capacity("aggregates table", &t.aggregates, d.config.aggregates_billing));
    if matches!(d.config.events_billing, Billing::OnDemand) {
        let warm = if t.warm_write_units as f64 > DYNAMODB_NEW_TABLE_WRITE_UNITS {
            format!(
                "before launch: aws dynamodb update-table --table-name <project>-{}-events --warm-throughput WriteUnitsPerSecond={}",
                need.environment, t.warm_write_units
            )
        } else {
            format!("not needed: a new on-demand table takes ~{} WRU/s at once", num(DYNAMODB_NEW_TABLE_WRITE_UNITS, 0))
        };
        figures.push(figure("warm throughput", format!("{} WRU/s", int(t.warm_write_units)), format!("{HEADROOM} × the peak writes; {warm}")));
    }
    let stored = t.events.stored_gb + t.index_stored_gb;
    figures.push(figure(
        "stored",
        format!("{} GB", int((stored + t.aggregates.stored_gb).round() as u64)),
        format!(
            "events: {} days (event_ttl_days) × {} kept events/s (mean) × ({} B + {DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES} B overhead){} = {} GB; partial aggregates kept {} days: {} GB",
            d.config.ttl_days,
            rate_num(need.mean_rate as f64 * t.kept_share),
            int(t.item.stored_bytes),
            if d.config.index { format!(" + index entries {} GB", int(t.index_stored_gb.round() as u64)) } else { String::new() },
            int(stored.round() as u64),
            PARTIAL_RETENTION_DAYS,
            int(t.aggregates.stored_gb.round() as u64)
        ),
    ));
    Section { title: "DynamoDB".into(), figures }
}
