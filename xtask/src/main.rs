//! Project automation for the `multiproc` workspace (`cargo xtask <task>`).
//!
//! - `cargo xtask test-all`: format check, clippy, tests, doctests, docs, and every example run
//!   with its output checked — one pipeline that stops at the first failure.
//! - `cargo xtask bench [--quick] [FILTER]`: the workloads beside Python's `multiprocessing` and
//!   the bare kernel limits; writes `target/bench/bench.{md,json}`.

mod bench;
mod examples;
mod test_all;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test-all") => test_all::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("examples") if args.get(1).is_some_and(|a| a == "--list") => examples::list(),
        Some("examples") => examples::run_all(args.get(1).map(String::as_str)).map(|_| ()),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 test-all [--from STEP]    fmt, clippy, tests, doctests, docs, examples\n  \
                 bench [--quick] [FILTER]  workloads beside Python and the kernel limits\n  \
                 examples [PACKAGE]        run every example (of PACKAGE) and check its output"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
