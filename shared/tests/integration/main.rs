//! The integration tests of the core (`pipeline`), one module per concern (each module's doc says
//! which), built as one test binary: one link of the dependency graph instead of one per
//! file, which is most of a cold test build's time for test code. Some need the core's
//! `workload` and `flow` features (on in a `--workspace` build).

#[cfg(feature = "workload")]
mod aggregates;
mod campaign_referer;
mod catalogue;
mod common;
#[cfg(feature = "workload")]
mod enriched_bytes;
mod enrichment;
mod enrichment_config;
#[cfg(feature = "workload")]
mod hostile;
#[cfg(all(feature = "workload", feature = "flow"))]
mod kpl;
mod lookups;
#[cfg(all(feature = "workload", feature = "flow"))]
mod retries;
mod robustness;
mod schemas;
#[cfg(feature = "workload")]
mod workload;
