//! Holds the Terraform of terraform/ (parsed with hcl-rs; terraform itself cannot `init`
//! here) against the code it deploys and the AWS documentation it relies on:
//!
//! - `environment`: each function is given exactly the environment its configuration reads;
//! - `functions`: the artifacts are the binaries cargo-lambda builds; the Kinesis event
//!   source mapping reports batch item failures, bisects, and starts at TRIM_HORIZON;
//! - `iam`: no IAM statement allows a wildcard action;
//! - `roles`: each trust policy has its service's documented shape, and each role holds
//!   exactly the actions its code calls (`sdk_calls` scans them) plus the documented ones;
//! - `api`: ingest routes take the API key, query routes SigV4; each integration renders
//!   the templates terraform/tests/templates tests; Retry-After only on retryable answers;
//!   every API change redeploys the stage; log groups are encrypted and expire;
//! - `names`: resource names fit AWS's limits for every accepted project and environment;
//! - `tables`: the cost levers (billing mode and auto scaling, table class, point-in-time
//!   recovery, the per-type index, TTL) reach the tables with the names the code uses;
//! - `variables`: every tfvars file (the environments', `pipeline plan`'s) sets only declared
//!   variables of their types that pass their validations;
//! - `validations`: every validation rule passes just inside its bounds and fails just outside.

mod api;
mod environment;
mod functions;
mod iam;
mod names;
mod roles;
mod sdk_calls;
mod stack;
mod tables;
mod validations;
mod variables;
