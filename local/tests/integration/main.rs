//! The integration tests of local mode (`pipeline-local`), one module per concern (each module's doc says
//! which), built as one test binary: one link of the dependency graph instead of one per
//! file, which is most of a cold test build's time for test code.

mod api;
mod bad_rows;
