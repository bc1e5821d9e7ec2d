//! The integration tests of `loadtest`, one module per concern (each module's doc says
//! which), built as one test binary: one link of the dependency graph instead of one per
//! file, which is most of a cold test build's time for test code.

mod errors;
mod kinesis;
