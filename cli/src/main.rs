//! `pipeline`: the command-line front of the event pipeline.
//!
//! `pipeline up` runs the whole pipeline locally (crate `pipeline-local`);
//! `pipeline validate` checks NDJSON events against the tracking plan exactly as the
//! processor would; `pipeline plan` sizes an AWS deployment for an event rate and size
//! and writes its Terraform variables; `pipeline recover` puts a local pipeline's bad rows
//! back after a fix (crate `pipeline-recover`); `pipeline store` looks inside a local data
//! directory's store.
//!
//! Each subcommand is a module here (`up`, `validate`, `plan`, `recover`, `store`) that
//! parses its flags with clap and calls the crate that does the work; `--help` on each
//! explains every flag.
//!
//! ```sh
//! pipeline up --data-dir data                              # the whole pipeline on 127.0.0.1:8080
//! pipeline validate events.ndjson                          # check events against the tracking plan
//! pipeline plan --rate 100000 --event-bytes 600 --query-days 7 --out prod.tfvars
//! pipeline recover --api-key $KEY --read-key $READ_KEY --type schema_violation --patch fix.json --dry-run
//! pipeline store --data-dir data stats                     # bytes on disk, per stored event
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod plan;
mod recover;
mod store;
mod up;
mod validate;

#[derive(Parser)]
#[command(name = "pipeline", version, about = "An event pipeline: validate events, run it locally, recover its bad rows, plan an AWS deployment.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Up(up::UpArgs),
    Validate(validate::ValidateArgs),
    Plan(plan::PlanArgs),
    Recover(recover::RecoverCmd),
    Store(store::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Up(_)) {
        // `pipeline validate ... | head`: the reader went away; stop quietly like any Unix
        // filter, instead of a panic or an error. (`up` keeps its default: it must not be
        // stopped by a closed terminal pipe.)
        restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Up(args) => up::run(&args),
        Command::Recover(cmd) => recover::run(&cmd),
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

/// Rust ignores SIGPIPE, so a write to a closed pipe fails (and `print!` panics); the
/// default action ends the process quietly, as it does `cat` or `grep`.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
