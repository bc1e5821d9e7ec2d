//! The integration tests of the processor Lambda, one module per concern (each module's doc says
//! which), built as one test binary: one link of the dependency graph instead of one per
//! file, which is most of a cold test build's time for test code.

mod aggregates;
mod archive_routing;
mod common;
mod faults;
mod kpl;
mod levers;
mod moto;
mod retries;
mod runtime_api;
