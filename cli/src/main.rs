//! `pipeline`: the command-line front of the event pipeline.
//!
//! `pipeline up` runs the whole pipeline locally (crate `pipeline-local`);
//! `pipeline validate` checks NDJSON events against the tracking plan exactly as the
//! processor would; `pipeline plan` sizes an AWS deployment for an event rate and size
//! and writes its Terraform variables; `pipeline store` looks inside a local data
//! directory's store.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod plan;
mod store;
mod up;
mod validate;

#[derive(Parser)]
#[command(name = "pipeline", version, about = "An event pipeline: validate events, run it locally, plan an AWS deployment.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Up(up::UpArgs),
    Validate(validate::ValidateArgs),
    Plan(plan::PlanArgs),
    Store(store::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Up(args) => up::run(&args),
        Command::Store(args) => store::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
