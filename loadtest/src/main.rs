//! `loadtest`: see `loadtest --help` and the library's documentation.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = loadtest::Args::parse();
    if let Err(e) = args.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match loadtest::run(&args) {
        Ok(outcome) => {
            // A closed stdout (`| head`) must not hide the run's problems below with a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), outcome.summary().as_bytes());
            for problem in &outcome.problems {
                eprintln!("error: {problem}");
            }
            if outcome.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
