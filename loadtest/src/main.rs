//! `loadtest`: open-loop load for the pipeline and the `--verify` conservation check; the
//! binary parses the flags ([`loadtest::Args`]), runs [`loadtest::run`] and prints the
//! summary. `loadtest --help` defines every flag and every field of the report; the
//! library's documentation gives the design.
//!
//! ```sh
//! loadtest --target http://127.0.0.1:8080 --api-key $KEY --read-key $READ_KEY \
//!   --rate 20000 --duration 20s --batch-size 250 --verify --report lt.json
//! ```

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
