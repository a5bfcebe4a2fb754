//! Every example of the workspace, what it must print, and the runner that checks it.
//!
//! An expected line is matched against a whole output line; `*` matches any run of characters
//! (pids, timings). The expected lines must appear in the given order (or, for a row marked
//! `any_order`, each on a line of its own in any order); other lines may come between them.

use std::time::{Duration, Instant};

use crate::util::{self, run_captured};

/// One example and what it must print.
pub struct Example {
    /// The package that owns it.
    pub package: &'static str,
    /// Its name (`examples/<name>.rs`).
    pub name: &'static str,
    /// Arguments.
    pub args: &'static [&'static str],
    /// The lines it must print, in order.
    pub expect: &'static [&'static str],
    /// Whether the lines may come in any order (output of several processes).
    pub any_order: bool,
}

/// The table. Every example in the workspace has a row (checked by `check_table_is_complete`).
pub const EXAMPLES: &[Example] = &[
    Example {
        package: "ipc",
        name: "tour",
        args: &[],
        expect: &[
            "ipc tour (pid *)",
            "[core] frame round trip: (42, None, \"hello\") in 12 bytes",
            "[core] a truncated frame is an error: truncated frame: expected 13 bytes, got 5",
            "[core] child * woke us through a futex in a shared memfd page after *",
            "[core] and wrote through the pipe end we sent: hello from the child",
            "[process] fork       child * returned 30 in *",
            "[process] spawn      child * returned 30 in *",
            "[process] forkserver child * returned 30 in *",
            "tour done",
        ],
        any_order: false,
    },
    Example {
        package: "ipc-core",
        name: "handoff",
        args: &[],
        expect: &[
            "parent sends a 4096-byte memfd mapping and a pipe end",
            "child read from the mapping: hello from the parent",
            "parent read from the pipe: a line through the pipe",
            "parent read from the mapping: hello back from the child",
            "child exited: true",
        ],
        any_order: false,
    },
    Example {
        package: "ipc-sync",
        name: "lock_print",
        args: &[],
        expect: &[
            "hello world 0",
            "hello world 1",
            "hello world 2",
            "hello world 3",
            "hello world 4",
            "hello world 5",
            "hello world 6",
            "hello world 7",
            "hello world 8",
            "hello world 9",
        ],
        any_order: true,
    },
    Example {
        package: "ipc-shm",
        name: "sharedctypes",
        args: &[],
        expect: &[
            "49",
            "true",
            "HELLO WORLD",
            "[10, 1, 2, 3, 4]",
            "[(3.515625, 39.0625), (33.0625, 4.0)]",
        ],
        any_order: false,
    },
    Example {
        package: "ipc-shm",
        name: "value_array",
        args: &[],
        expect: &["3.1415927", "[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]"],
        any_order: false,
    },
    Example {
        package: "ipc-shm",
        name: "square_sum",
        args: &[],
        expect: &[
            "Result(in process p1): [1, 4, 9, 16]",
            "Sum of squares(in process p1): 30",
            "Result(in main program): [1, 4, 9, 16]",
            "Sum of squares(in main program): 30",
        ],
        any_order: false,
    },
    // Two separate programs: shm_create starts shm_attach, which knows only the block's name.
    Example {
        package: "ipc-shm",
        name: "shm_create",
        args: &[],
        expect: &[
            "created \"ipc-example-shm-*\": 4096 bytes",
            "create it again: a shared memory block named \"ipc-example-shm-*\" exists already",
            "open it as 8192 bytes: shared memory block \"ipc-example-shm-*\" has 4096 bytes, 8192 expected",
            "open a missing name: no shared memory block named \"ipc-example-no-such-block\"",
            "shm_attach opened \"ipc-example-shm-*\" (4096 bytes) and read: hello from shm_create",
            "reply: hello back from shm_attach (pid *)",
            "shm_attach exited: true",
            "unlinked: the name is gone",
        ],
        any_order: false,
    },
    Example {
        package: "ipc-shm",
        name: "shm_attach",
        args: &[],
        expect: &[
            "usage: shm_attach NAME (start shm_create); open \"ipc-example-no-such-block\": no shared memory block named \"ipc-example-no-such-block\"",
        ],
        any_order: false,
    },
    Example {
        package: "ipc-process",
        name: "fork",
        args: &[],
        any_order: false,
        expect: &[
            "Process (*) start...",
            "I (*) just created a child process (*).",
            "I am child process (*) and my parent is *.",
        ],
    },
    Example {
        package: "ipc-process",
        name: "run_proc",
        args: &[],
        any_order: false,
        expect: &[
            "Parent process *.",
            "Child process will start.",
            "Run child process test (*)...",
            "Child process end.",
        ],
    },
    Example {
        package: "ipc-process",
        name: "start_methods",
        args: &[],
        any_order: false,
        expect: &[
            "start method: fork",
            "Run child process test (*)...",
            "Child process end, exitcode Some(0).",
            "Run child process test (*)...",
            "Child process returned 4.",
            "start method: spawn",
            "Run child process test (*)...",
            "Child process end, exitcode Some(0).",
            "Run child process test (*)...",
            "Child process returned 4.",
            "start method: forkserver",
            "Run child process test (*)...",
            "Child process end, exitcode Some(0).",
            "Run child process test (*)...",
            "Child process returned 4.",
        ],
    },
    Example {
        package: "ipc-process",
        name: "attributes",
        args: &[],
        any_order: false,
        expect: &[
            "name: Process-1",
            "daemon: false",
            "pid before start: None",
            "is_alive before start: false",
            "exitcode before start: None",
            "join before start: the process was never started",
            "start twice: a process can only be started once",
            "pid after start is set: true",
            "is_alive after start: true",
            "join(timeout=0.05) ended: false",
            "exitcode while running: None",
            "close while running: cannot close a process that is still running",
            "sentinel became ready: true",
            "is_alive after join: false",
            "exitcode after a normal end: Some(0)",
            "join after close: the process handle was closed",
            "exitcode after exit(3): Some(3)",
            "exitcode after a panic: Some(1) (Some(\"boom\"))",
            "exitcode after terminate: Some(-15)",
            "exitcode after kill: Some(-9)",
            "child sees: name worker, daemon true",
            "named daemon exitcode: Some(0)",
        ],
    },
];

/// Checks that each line of `expect` matches its own line of `output`, in any order; returns
/// the first one not found.
pub fn check_output_any_order<'a>(expect: &[&'a str], output: &str) -> Result<(), &'a str> {
    let mut lines: Vec<Option<&str>> = output.lines().map(|l| Some(l.trim_end())).collect();
    for want in expect {
        match lines.iter_mut().find(|l| l.is_some_and(|l| glob(want, l))) {
            Some(slot) => *slot = None,
            None => return Err(want),
        }
    }
    Ok(())
}

/// `*`-glob match of a whole line.
pub fn glob(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Checks that `expect` appears in `output` in order; returns the first line not found.
pub fn check_output<'a>(expect: &[&'a str], output: &str) -> Result<(), &'a str> {
    let mut lines = output.lines();
    for want in expect {
        if !lines.by_ref().any(|l| glob(want, l.trim_end())) {
            return Err(want);
        }
    }
    Ok(())
}

fn check_table_is_complete() -> Result<(), String> {
    let root = util::root();
    let mut missing = Vec::new();
    let mut dirs = vec![(String::from("ipc"), root.join("examples"))];
    for entry in std::fs::read_dir(&root).map_err(|e| e.to_string())? {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.join("Cargo.toml").exists() && p.join("examples").is_dir() {
            let pkg = p.file_name().unwrap().to_string_lossy().into_owned();
            dirs.push((pkg, p.join("examples")));
        }
    }
    for (pkg, dir) in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".rs")
                && !EXAMPLES.iter().any(|x| x.name == stem)
            {
                missing.push(format!("{pkg}/examples/{name}"));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "examples without a row in xtask/src/examples.rs: {}",
            missing.join(", ")
        ))
    }
}

/// Builds every example once, runs each (optionally only those of `package`) and checks its
/// output. Returns how many ran.
pub fn run_all(package: Option<&str>) -> Result<usize, String> {
    check_table_is_complete()?;
    util::run_status(
        util::cargo()
            .args(["build", "--quiet", "--workspace", "--examples"])
            .env("RUSTFLAGS", std::env::var("RUSTFLAGS").unwrap_or_default()),
    )?;
    let dir = util::target_dir().join("debug").join("examples");
    let mut failures = Vec::new();
    let mut ran = 0;
    for ex in EXAMPLES
        .iter()
        .filter(|e| package.is_none_or(|p| p == e.package))
    {
        let t = Instant::now();
        let out = run_captured(
            std::process::Command::new(dir.join(ex.name))
                .args(ex.args)
                .current_dir(util::root()),
            Duration::from_secs(60),
        )?;
        ran += 1;
        let verdict = if out.timed_out {
            Err("timed out after 60 s".to_string())
        } else if !out.success {
            Err("exited with failure".to_string())
        } else {
            let check = if ex.any_order {
                check_output_any_order
            } else {
                check_output
            };
            check(ex.expect, &out.stdout).map_err(|l| format!("missing line {l:?}"))
        };
        match verdict {
            Ok(()) => println!(
                "    example {}/{}: ok ({})",
                ex.package,
                ex.name,
                util::secs(t.elapsed())
            ),
            Err(why) => {
                println!("    example {}/{}: FAILED: {why}", ex.package, ex.name);
                println!(
                    "    --- stdout ---\n{}\n    --- stderr ---\n{}",
                    out.stdout, out.stderr
                );
                failures.push(format!("{}/{}", ex.package, ex.name));
            }
        }
    }
    if failures.is_empty() {
        Ok(ran)
    } else {
        Err(format!("examples failed: {}", failures.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_lines() {
        assert!(glob("pid *", "pid 42"));
        assert!(glob("a * b * c", "a 1 b 2 c"));
        assert!(!glob("a * b", "a 1 c"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("*", ""));
        assert!(!glob("x*x", "x"));
    }

    #[test]
    fn output_lines_in_order() {
        let out = "one\nnoise\ntwo 2\nthree\n";
        assert!(check_output(&["one", "two *", "three"], out).is_ok());
        assert_eq!(check_output(&["two *", "one"], out), Err("one"));
    }

    #[test]
    fn output_lines_in_any_order() {
        let out = "b\na\nnoise\n";
        assert!(check_output_any_order(&["a", "b"], out).is_ok());
        assert_eq!(check_output_any_order(&["a", "a"], out), Err("a"));
    }
}
