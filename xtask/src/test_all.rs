//! `cargo xtask test-all`: one linear pipeline of named, timed steps that stops at the first
//! failure and prints a summary line per step.

use std::time::Instant;

use crate::cli::{self, Arg, Spec};
use crate::util::{self, cargo, run_status, secs};
use crate::{bench, examples};

type Step = (&'static str, fn() -> Result<String, String>);

const STEPS: &[Step] = &[
    ("fmt", fmt),
    ("clippy", clippy),
    ("test", test),
    ("doctest", doctest),
    ("no-features", no_features),
    ("loom", loom),
    ("doc", doc),
    ("package", package),
    ("examples", run_examples),
    ("bench-check", bench_check),
    ("bench-quick", bench_quick),
    ("leftovers", leftovers),
];

fn fmt() -> Result<String, String> {
    run_status(cargo().args(["fmt", "--all", "--", "--check"]))?;
    Ok("formatted".into())
}

fn clippy() -> Result<String, String> {
    run_status(cargo().args([
        "clippy",
        "--quiet",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok("no warnings".into())
}

fn test() -> Result<String, String> {
    run_status(cargo().args([
        "test",
        "--workspace",
        "--all-features",
        "--lib",
        "--bins",
        "--tests",
    ]))?;
    Ok("unit and integration tests passed".into())
}

fn doctest() -> Result<String, String> {
    run_status(cargo().args(["test", "--workspace", "--all-features", "--doc"]))?;
    Ok("doctests passed".into())
}

/// The crates with optional async (`tokio` features, which every other step turns on) built,
/// linted and tested without them, as a user who does not want tokio gets them. Built alone:
/// in a workspace build, the bench's dependencies on `multiproc-pipe/tokio` (and `-sync`,
/// `-queue`, `-pool`'s) would turn them on. Costs a build of these seven crates (and their test
/// dependencies) in a second feature set.
fn no_features() -> Result<String, String> {
    // Built and tested in full without their `tokio` features (their tests are quick).
    let full = [
        "-p",
        "multiproc-core",
        "-p",
        "multiproc-pipe",
        "-p",
        "multiproc-fifo",
    ];
    // Built (clippy, every target) without `tokio`, and their unit tests and doctests run: the
    // integration tests are the all-features step's, minus the tokio files (`#![cfg]`'d out),
    // so running them again here would only repeat that step.
    let lean = [
        "-p",
        "multiproc-sync",
        "-p",
        "multiproc-queue",
        "-p",
        "multiproc-process",
        "-p",
        "multiproc-pool",
    ];
    run_status(
        cargo()
            .args(["clippy", "--quiet", "--all-targets"])
            .args(full)
            .args(lean)
            .args(["--", "-D", "warnings"]),
    )?;
    run_status(cargo().args(["test", "--quiet"]).args(full))?;
    run_status(cargo().args(["test", "--quiet", "--lib"]).args(lean))?;
    run_status(cargo().args(["test", "--quiet", "--doc"]).args(lean))?;
    Ok("core, pipe, fifo, sync, queue, process and pool without their tokio features".into())
}

/// The futex wait protocol (`multiproc_core::futex::WaitWord`) checked with the loom model
/// checker: no lost wake-up, no sleeper left behind on a timeout. A build of its own (`--cfg
/// loom`, in `target/loom`), of `multiproc-core` only; a debug build, which compiles in a
/// fraction of a release build's time and checks the bounded models in seconds.
fn loom() -> Result<String, String> {
    let dir = util::target_dir().join("loom");
    run_status(
        cargo()
            .args([
                "test",
                "--quiet",
                "-p",
                "multiproc-core",
                "--lib",
                "loom_tests",
            ])
            .env("RUSTFLAGS", "--cfg loom")
            .env("CARGO_TARGET_DIR", dir),
    )?;
    Ok("the futex protocol holds in every interleaving loom tried".into())
}

fn doc() -> Result<String, String> {
    run_status(
        cargo()
            .args([
                "doc",
                "--quiet",
                "--workspace",
                "--all-features",
                "--no-deps",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    Ok("docs build with warnings denied".into())
}

/// Every published package's metadata, README and how-to-depend section, and `cargo package`
/// of them all (without the verifying build).
fn package() -> Result<String, String> {
    crate::package::run()
}

fn run_examples() -> Result<String, String> {
    let n = examples::run_all(None)?;
    Ok(format!(
        "{n} example runs printed what their # Output sections say"
    ))
}

/// The bench's declarations hold together: `bench.py` parses, every Python twin a workload
/// declares is a workload `bench.py` has, every declared limit is one the bench measures, and
/// no id is declared twice (running the bench itself is `cargo xtask bench`).
fn bench_check() -> Result<String, String> {
    let declared = bench::declarations()?;
    let python = bench::python_ids()?;
    let missing = bench::unmatched(&declared, &python);
    if missing.is_empty() {
        Ok(format!(
            "{} Rust and {} Python workloads; every declared twin and limit exists",
            declared.len(),
            python.len()
        ))
    } else {
        Err(format!("bench declarations: {}", missing.join("; ")))
    }
}

/// `cargo xtask bench --quick` runs, and every row that names a Python twin got a value from
/// both sides (the figures themselves are for `cargo xtask bench`, not for pass/fail).
fn bench_quick() -> Result<String, String> {
    let doc = bench::run(&bench::Options {
        quick: true,
        ..Default::default()
    })?;
    let rows = doc["rows"].as_array().cloned().unwrap_or_default();
    let empty: Vec<String> = rows
        .iter()
        .filter(|r| !r["python_id"].is_null() && r["python"].is_null())
        .filter_map(|r| r["python_id"].as_str().map(str::to_string))
        .collect();
    if !empty.is_empty() {
        return Err(format!(
            "rows without a Python figure: {}",
            empty.join(", ")
        ));
    }
    Ok(format!("{} rows, Python column filled", rows.len()))
}

/// The prefixes of every name the tests, doctests, examples and benches make (shared memory,
/// message queues, fifos and directories under the temporary directory).
const PREFIXES: &[&str] = &["ipc-test-", "ipc-example-", "ipc-doc-", "ipc-bench-"];

/// The suite must leave nothing behind: no process of its own (a resource tracker included),
/// no named shared memory, no POSIX message queue, no fifo or directory in the temporary
/// directory. Trackers exit as their programs do, so what is found is looked at again for up
/// to two seconds before it counts.
fn leftovers() -> Result<String, String> {
    let mqueue = std::path::Path::new("/dev/mqueue");
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    let mut left = find_leftovers(mqueue);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = find_leftovers(mqueue);
    }
    if !left.is_empty() {
        return Err(format!("left behind by the suite: {}", left.join(", ")));
    }
    let checked = if mqueue.is_dir() {
        "/dev/mqueue"
    } else {
        "/dev/mqueue (not mounted here: not checked)"
    };
    Ok(format!(
        "no process, tracker, /dev/shm entry, {checked} entry or temporary fifo left by tests or examples"
    ))
}

fn find_leftovers(mqueue: &std::path::Path) -> Vec<String> {
    let mut ours = our_processes();
    let tmp = std::env::temp_dir();
    for dir in [std::path::Path::new("/dev/shm"), mqueue, tmp.as_path()] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if PREFIXES.iter().any(|p| name.starts_with(p)) {
                    ours.push(dir.join(&name).display().to_string());
                }
            }
        }
    }
    ours
}

/// Processes still running a binary from our target directory (test binaries, examples, and
/// the resource trackers they started, which are copies of them), other than this xtask.
fn our_processes() -> Vec<String> {
    let mut ours = Vec::new();
    let target = util::target_dir();
    let target = target.canonicalize().unwrap_or(target);
    let me = std::process::id().to_string();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return ours;
    };
    for e in rd.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(exe) = std::fs::read_link(e.path().join("exe"))
            && exe.starts_with(&target)
            && !exe.ends_with("xtask")
        {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            let what = if comm.trim() == "multiproc-track" {
                "resource tracker"
            } else {
                "process"
            };
            ours.push(format!("{what} {pid} ({})", exe.display()));
        }
    }
    ours
}

const SPEC: Spec = Spec {
    name: "test-all",
    about: "Everything CI checks, as one pipeline of named, timed steps that stops at the first \
            failure: fmt, clippy, test, doctest, loom, doc, package, examples, bench-check, \
            bench-quick, leftovers.",
    args: &[
        Arg {
            name: "--from",
            value: Some("STEP"),
            help: "start at STEP (a re-run after a fix)",
        },
        Arg {
            name: "--only",
            value: Some("STEP"),
            help: "run STEP alone",
        },
    ],
};

/// `cargo xtask test-all …`.
pub fn main(args: &[String]) -> Result<(), cli::Error> {
    let p = SPEC.parse(args)?;
    let step = |s: &str| {
        STEPS.iter().position(|(n, _)| *n == s).ok_or_else(|| {
            let names: Vec<&str> = STEPS.iter().map(|(n, _)| *n).collect();
            cli::Error::Usage(format!("no step {s:?}; the steps: {}", names.join(", ")))
        })
    };
    let steps = match (p.option("--from"), p.option("--only")) {
        (Some(_), Some(_)) => {
            return Err(cli::Error::Usage("--from or --only, not both".into()));
        }
        (Some(s), None) => &STEPS[step(s)?..],
        (None, Some(s)) => &STEPS[step(s)?..=step(s)?],
        (None, None) => STEPS,
    };
    Ok(run(steps)?)
}

/// Runs these steps of the pipeline, in order.
fn run(steps: &[Step]) -> Result<(), String> {
    let t_all = Instant::now();
    let mut summary = Vec::new();
    let mut failed = None;
    for (name, step) in steps {
        println!("==> {name}");
        let t = Instant::now();
        let r = step();
        let took = secs(t.elapsed());
        match r {
            Ok(what) => summary.push(format!("  ok      {name:<10} {took:>7}  {what}")),
            Err(e) => {
                summary.push(format!("  FAILED  {name:<10} {took:>7}  {e}"));
                failed = Some(*name);
                break;
            }
        }
    }
    println!("\ntest-all summary ({}):", util::secs(t_all.elapsed()));
    for line in &summary {
        println!("{line}");
    }
    match failed {
        None => {
            println!("all {} steps passed", summary.len());
            Ok(())
        }
        Some(step) => Err(format!("step {step} failed; later steps did not run")),
    }
}
