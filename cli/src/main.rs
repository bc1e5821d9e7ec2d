//! `pipeline`: the command-line front of the event pipeline.
//!
//! `pipeline validate` checks NDJSON events against the tracking plan exactly as the
//! processor would; later subcommands run the local stack and size a deployment.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod validate;

#[derive(Parser)]
#[command(name = "pipeline", version, about = "An event pipeline: validate events, run it locally, plan an AWS deployment.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
