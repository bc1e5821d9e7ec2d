//! The hostile shapes (`pipeline::workload::hostile`) through the core, at every size up to
//! the record limit and with bytes changed: one outcome each, the shapes that are valid
//! events stay valid, and nothing panics. Timing is the bench's job (`benches/hostile`).

use chrono::{TimeZone, Utc};
use pipeline::BadRowType;
use pipeline::workload::hostile::{LARGEST, LARGEST_VALID, SHAPES};
use pipeline::{BatchClock, CoreConfig, Outcome, Record, process_record};
use proptest::prelude::*;

fn record(data: Vec<u8>) -> Record {
    Record {
        data,
        partition_key: "hostile".into(),
        sequence_number: "00000000000000000001".into(),
        sub_sequence_number: 0,
        shard_id: "shardId-000000000000".into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    }
}

fn outcome(data: Vec<u8>) -> Outcome {
    let core = CoreConfig::embedded().unwrap();
    process_record(&core, &record(data), &BatchClock::new(Utc::now()))
}

#[test]
fn every_shape_at_the_record_limit_is_refused_whole_as_too_large_to_archive() {
    for shape in SHAPES {
        let data = (shape.make)(LARGEST);
        match outcome(data.clone()) {
            Outcome::Bad(b) => {
                assert_eq!(b.kind, BadRowType::SizeViolation, "{}", shape.name);
                assert_eq!(b.payload_bytes().as_deref(), Some(&data[..]), "{}", shape.name);
            }
            Outcome::Event(_) => panic!("{} was archived over 1,000 KiB", shape.name),
        }
    }
}

#[test]
fn every_shape_at_the_largest_valid_size_is_a_valid_event() {
    for shape in SHAPES {
        match outcome((shape.make)(LARGEST_VALID)) {
            Outcome::Event(e) => {
                let v: serde_json::Value = serde_json::from_slice(&e.json).unwrap_or_else(|err| panic!("{}: {err}", shape.name));
                assert!(v["_pipeline"].is_object(), "{}", shape.name);
                assert!(!e.json.contains(&b'\n'), "{}: enriched output spans lines", shape.name);
            }
            Outcome::Bad(b) => panic!("{} became a bad row: {:?}", shape.name, b.errors),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any size of any shape is one valid event; the same with a byte changed is one
    /// outcome, whatever it is.
    #[test]
    fn shapes_of_any_size_with_a_byte_changed(
        shape in 0..SHAPES.len(),
        size in 64usize..LARGEST_VALID,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let data = (SHAPES[shape].make)(size);
        prop_assert!(matches!(outcome(data.clone()), Outcome::Event(_)), "{} at {size}", SHAPES[shape].name);
        let mut changed = data;
        let i = at.index(changed.len());
        changed[i] = byte;
        let _ = outcome(changed);
    }
}
