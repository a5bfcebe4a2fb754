//! Project automation for the `multiproc` workspace (`cargo xtask <task>`).
//!
//! - `cargo xtask test-all`: format check, clippy, tests, doctests, docs, packaging, and every
//!   example run with its output checked — one pipeline that stops at the first failure.
//! - `cargo xtask bench [--quick] [--busy] [FILTER]`: the workloads beside Python's
//!   `multiprocessing` and the bare kernel limits; writes `target/bench/bench.{md,json}`.
//! - `cargo xtask examples [PACKAGE]`: every example, with the output its doc block declares.
//! - `cargo xtask package`: `cargo package` of every published crate, and their metadata.
//!
//! Every task answers `--help` and refuses an option it does not know.

mod bench;
mod cli;
mod examples;
mod package;
mod test_all;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  test-all   fmt, clippy, tests, doctests, loom, docs, packaging, examples, bench checks
  bench      workloads beside Python's multiprocessing and the bare kernel limits
  examples   run every example and check the output its doc block declares
  package    cargo package of every published crate, and their metadata

`cargo xtask <task> --help` describes a task's options.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "test-all" => test_all::main(rest),
        "bench" => bench::main(rest),
        "examples" => examples::main(rest),
        "package" => package::main(rest),
        other => Err(cli::Error::Usage(format!("no task {other:?}\n\n{USAGE}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::Error::Help(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(cli::Error::Usage(text)) => {
            eprintln!("xtask: {text}");
            ExitCode::from(2)
        }
        Err(cli::Error::Failed(e)) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
