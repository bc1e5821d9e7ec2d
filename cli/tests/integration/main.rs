//! The integration tests of the `pipeline` command, one module per concern (each module's doc says
//! which), built as one test binary: one link of the dependency graph instead of one per
//! file, which is most of a cold test build's time for test code.

mod backfill;
mod disk_full;
mod hostile_clients;
mod hostile_events;
mod kinesis;
mod kinesis_loadtest;
mod loadtest_smoke;
mod plan;
mod recover;
mod retention;
mod terraform;
mod up;
mod up_enrichments;
mod validate;
