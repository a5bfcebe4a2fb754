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
        package: "multiproc",
        name: "tour",
        args: &[],
        expect: &[
            "ipc tour (pid *)",
            "[core] message round trip: (42, None, \"hello\")",
            "[core] 4 bytes, then a cut-off message is an error: the peer went away in the middle of a message",
            "[core] child * woke us through a futex in a shared memfd page after *",
            "[core] and wrote through the pipe end we sent: hello from the child",
            "[process] fork       child * returned 30 in *",
            "[process] spawn      child * returned 30 in *",
            "[process] forkserver child * returned 30 in *",
            "[sync+shm+queue] 4 children added their squares under one Lock: total 14",
            "[queue] their reports: [(0, 0), (1, 1), (2, 4), (3, 9)]",
            "[pipe] HELLO THROUGH A PIPE",
            "[pool] map(square_of, 1..=8) = [1, 4, 9, 16, 25, 36, 49, 64]",
            "tour done",
        ],
        any_order: false,
    },
    Example {
        package: "multiproc-core",
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
        package: "multiproc-sync",
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
        package: "multiproc-queue",
        name: "queue_hello",
        args: &[],
        expect: &["[42, None, \"hello\"]"],
        any_order: false,
    },
    Example {
        package: "multiproc-queue",
        name: "write_read",
        args: &[],
        expect: &[
            "Put A to queue...",
            "Get A from queue.",
            "Put B to queue...",
            "Get B from queue.",
            "Put C to queue...",
            "Get C from queue.",
        ],
        any_order: false,
    },
    Example {
        package: "multiproc-queue",
        name: "square_list",
        args: &[],
        expect: &["1", "4", "9", "16"],
        any_order: false,
    },
    Example {
        package: "multiproc-queue",
        name: "full_empty",
        args: &[],
        expect: &[
            "qsize 1 of maxsize 1, full: true",
            "Full (put_nowait handed \"y\" back)",
            "got \"x\"",
            "Empty after 0.* s",
        ],
        any_order: false,
    },
    Example {
        package: "multiproc-queue",
        name: "producer_consumer",
        args: &[],
        // The number of tasks is the draws' (each result is twice a draw in [0, 1)).
        expect: &["stop producer", "Result: *"],
        any_order: false,
    },
    Example {
        package: "multiproc-process",
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
        package: "multiproc-process",
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
        package: "multiproc-process",
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
        package: "multiproc-process",
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
    Example {
        package: "multiproc-pipe",
        name: "pipe_hello",
        args: &[],
        any_order: false,
        expect: &["[\"hello\"]", "[42, None, \"hello\"]"],
    },
    Example {
        package: "multiproc-pipe",
        name: "messages_until_end",
        args: &[],
        any_order: true,
        expect: &[
            "Sent the message: hello",
            "Sent the message: hey",
            "Sent the message: hru?",
            "Sent the message: END",
            "Received the message: hello",
            "Received the message: hey",
            "Received the message: hru?",
        ],
    },
    Example {
        package: "multiproc-pipe",
        name: "python_peer",
        args: &[],
        any_order: false,
        expect: &[
            "rust: listening on 127.0.0.1:*",
            "python: connected with the authkey",
            "rust got: {\"name\": \"python\", \"numbers\": [1, 2, 3], \"pi\": 3.14}",
            "python got: (6, 'PYTHON')",
            "python: listening on 127.0.0.1:*",
            "rust: connected to python's listener",
            "rust got: [\"ping\", 1, 2.5, None, True, b[98, 121, 116, 101, 115]]",
            "python got: ['ping', 1, 2.5, None, True, b'bytes', 'pong from rust']",
            "python exited: true",
        ],
    },
    Example {
        package: "multiproc-shm",
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
        package: "multiproc-shm",
        name: "value_array",
        args: &[],
        expect: &["3.1415927", "[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]"],
        any_order: false,
    },
    Example {
        package: "multiproc-shm",
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
    Example {
        package: "multiproc-shm",
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
        package: "multiproc-shm",
        name: "shm_attach",
        args: &[],
        expect: &[
            "usage: shm_attach NAME (start shm_create); open \"ipc-example-no-such-block\": no shared memory block named \"ipc-example-no-such-block\"",
        ],
        any_order: false,
    },
    Example {
        package: "multiproc-pool",
        name: "fib_speedup",
        args: &[],
        any_order: false,
        expect: &["COST: *", "COST: *", "COST: *"],
    },
    Example {
        package: "multiproc-pool",
        name: "long_time_task",
        args: &[],
        any_order: false,
        // Four tasks start at once; the fifth only after one of them has ended.
        expect: &[
            "Parent process *.",
            "Run task * (*)...",
            "Task * runs * seconds.",
            "Run task 4 (*)...",
            "Task * runs * seconds.",
            "All subprocesses done.",
        ],
    },
    Example {
        package: "multiproc-pool",
        name: "callback",
        args: &[],
        any_order: true,
        expect: &[
            "<*> parse [https://www.baidu.com] (2100 bytes), in the parent: true",
            "<*> parse [https://www.python.org] (2200 bytes), in the parent: true",
            "<*> parse [https://www.openstack.org] (2500 bytes), in the parent: true",
            "<*> parse [https://help.github.com/] (2400 bytes), in the parent: true",
            "<*> parse [http://www.sina.com.cn/] (2300 bytes), in the parent: true",
        ],
    },
    Example {
        package: "multiproc-pool",
        name: "prefork_server",
        args: &[],
        any_order: false,
        expect: &["served 8 clients", "at most 3 distinct server pids: true"],
    },
    Example {
        package: "multiproc-manager",
        name: "manager",
        args: &[],
        expect: &[
            "PID: *",
            "1",
            "[\"a\", \"b\", \"c\"]",
            "{\"b\": 0}",
            "{0.25: None, 1: \"1\", \"2\": 2}",
            "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]",
        ],
        any_order: false,
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

/// Two programs that find each other by themselves (through names on the file system): each
/// is run with `--dir <a fresh temporary directory>`, in both start orders (the second 300 ms
/// after the first); both must exit 0 within 60 s and print their lines, and the directory
/// must be empty afterwards.
pub struct Duo {
    /// The package that owns both.
    pub package: &'static str,
    /// One example and the lines it must print.
    pub a: (&'static str, &'static [&'static str]),
    /// The other example and its lines.
    pub b: (&'static str, &'static [&'static str]),
}

/// The two-program scenarios of the `Duo` kind.
pub const DUOS: &[Duo] = &[Duo {
    package: "multiproc-fifo",
    a: ("fifo_p1", &["P1 hear P2: I'm fine, thank you! And you?"]),
    b: (
        "fifo_p2",
        &["P2 hear P1: How are you?", "P2 hear P1: I'm fine too."],
    ),
}];

fn run_duo(dir: &std::path::Path, duo: &Duo, a_first: bool) -> Result<(), String> {
    let tmp = std::env::temp_dir().join(format!(
        "ipc-example-duo-{}-{}",
        std::process::id(),
        if a_first { "ab" } else { "ba" }
    ));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let (first, second) = if a_first {
        (duo.a, duo.b)
    } else {
        (duo.b, duo.a)
    };
    let run = |name: &'static str| {
        let mut cmd = std::process::Command::new(dir.join(name));
        cmd.arg("--dir").arg(&tmp).current_dir(util::root());
        std::thread::spawn(move || run_captured(&mut cmd, Duration::from_secs(60)))
    };
    let h1 = run(first.0);
    std::thread::sleep(Duration::from_millis(300));
    let h2 = run(second.0);
    let mut verdict = Ok(());
    for (h, (name, expect)) in [(h1, first), (h2, second)] {
        let out = h
            .join()
            .map_err(|_| "runner thread panicked".to_string())??;
        let r = if out.timed_out {
            Err(format!("{name} timed out after 60 s"))
        } else if !out.success {
            Err(format!("{name} exited with failure: {}", out.stderr))
        } else {
            check_output(expect, &out.stdout).map_err(|l| format!("{name} did not print {l:?}"))
        };
        if verdict.is_ok() {
            verdict = r;
        }
    }
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&tmp);
    verdict?;
    if !left.is_empty() {
        return Err(format!("left behind: {}", left.join(", ")));
    }
    Ok(())
}

/// A two-program scenario: a server example that prints `listening on ADDRESS` as its first
/// line, and client examples run against it.
pub struct Pair {
    /// The package that owns both.
    pub package: &'static str,
    /// The server example.
    pub server: &'static str,
    /// The server's arguments (a free port: `127.0.0.1:0`).
    pub server_args: &'static [&'static str],
    /// The client example.
    pub client: &'static str,
    /// The flag the client is given the address with (`--url ADDRESS`).
    pub client_flag: &'static str,
    /// The client's other arguments.
    pub client_args: &'static [&'static str],
    /// How many copies of the client run at once.
    pub clients: usize,
    /// The lines each client must print, in order.
    pub expect: &'static [&'static str],
    /// `None`: the server serves until it is killed. `Some(lines)`: it exits by itself, with
    /// success, once its clients are done, having printed these lines (in any order).
    pub server_expect: Option<&'static [&'static str]>,
}

/// The two-program scenarios. Their examples count as having a row.
pub const PAIRS: &[Pair] = &[
    Pair {
        package: "multiproc-rpc",
        server: "rpc_server",
        server_args: &["--addr", "127.0.0.1:0"],
        client: "rpc_client",
        client_flag: "--url",
        client_args: &[],
        clients: 1,
        expect: &[
            "8",
            "5",
            "10",
            "[\"add\", \"mul\", \"pow\", \"system.listMethods\", \"system.methodHelp\", \"system.methodSignature\"]",
        ],
        server_expect: None,
    },
    Pair {
        package: "multiproc-pipe",
        server: "listener_echo",
        server_args: &["--address", "127.0.0.1:0", "--authkey", "example key"],
        client: "client_echo",
        client_flag: "--address",
        client_args: &["--authkey", "example key"],
        clients: 1,
        expect: &[
            "connected twice to 127.0.0.1:*",
            "echo: \"hello\"",
            "echo: \"\"",
            "echo: \"second client\"",
            "echo: 1048576 bytes, intact: true",
            "wrong key: authentication failed: digest sent was rejected",
        ],
        server_expect: None,
    },
    Pair {
        package: "multiproc-pipe",
        server: "listener_echo",
        server_args: &[
            "--address",
            "127.0.0.1:0",
            "--authkey",
            "example key",
            "--pickle",
        ],
        client: "client_echo",
        client_flag: "--address",
        client_args: &["--authkey", "example key", "--pickle"],
        clients: 1,
        expect: &[
            "connected twice to 127.0.0.1:*",
            "echo: (\"second client\", 2)",
            "echo: [1, \"two\", 3.5, None, True, (5, 6), {\"seven\": 7}]",
            "same value: true",
            "wrong key: authentication failed: digest sent was rejected",
        ],
        server_expect: None,
    },
    Pair {
        package: "multiproc-manager",
        server: "remote_manager_server",
        server_args: &["--address", "127.0.0.1:0", "--authkey", "secret"],
        client: "remote_manager_client",
        client_flag: "--address",
        client_args: &["--authkey", "secret"],
        clients: 1,
        expect: &["[]", "[1]"],
        server_expect: None,
    },
    Pair {
        package: "multiproc-manager",
        server: "task_master",
        server_args: &[
            "--address",
            "127.0.0.1:0",
            "--authkey",
            "abc",
            "--workers",
            "2",
        ],
        client: "task_worker",
        client_flag: "--address",
        client_args: &["--authkey", "abc"],
        clients: 2,
        expect: &["Connect to server *", "worker exit."],
        server_expect: Some(&[
            "Result: 1 * 1 = 1",
            "Result: 2 * 2 = 4",
            "Result: 3 * 3 = 9",
            "Result: 4 * 4 = 16",
            "Result: 5 * 5 = 25",
            "Result: 6 * 6 = 36",
            "Result: 7 * 7 = 49",
            "Result: 8 * 8 = 64",
            "Result: 9 * 9 = 81",
            "Result: 10 * 10 = 100",
            "master exit.",
        ]),
    },
];

/// Runs the clients of `pair` at once against `address`; the first failure, if any.
fn run_clients(dir: &std::path::Path, pair: &Pair, address: &str) -> Result<(), String> {
    let handles: Vec<_> = (0..pair.clients)
        .map(|_| {
            let mut cmd = std::process::Command::new(dir.join(pair.client));
            cmd.args([pair.client_flag, address])
                .args(pair.client_args)
                .current_dir(util::root());
            std::thread::spawn(move || run_captured(&mut cmd, Duration::from_secs(60)))
        })
        .collect();
    let mut verdict = Ok(());
    for h in handles {
        let out = h
            .join()
            .map_err(|_| "runner thread panicked".to_string())??;
        let r = if out.timed_out {
            Err(format!("{} timed out after 60 s", pair.client))
        } else if !out.success {
            Err(format!("{} exited with failure", pair.client))
        } else {
            check_output(pair.expect, &out.stdout)
                .map_err(|l| format!("{} did not print {l:?}", pair.client))
        };
        if let (Ok(()), Err(why)) = (&verdict, r) {
            verdict = Err(format!(
                "{why}\n    --- {} stdout ---\n{}\n    --- stderr ---\n{}",
                pair.client, out.stdout, out.stderr
            ));
        }
    }
    verdict
}

/// Starts `pair.server`, waits (up to 30 s) for its `listening on ADDRESS` line, runs the
/// clients with `client_flag ADDRESS`, checks their output; then kills the server (or, for a
/// server that exits by itself, waits for it and checks its output).
fn run_pair(dir: &std::path::Path, pair: &Pair) -> Result<(), String> {
    use std::io::{BufRead, Read};
    let mut server = std::process::Command::new(dir.join(pair.server))
        .args(pair.server_args)
        .current_dir(util::root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", pair.server))?;
    // Whatever happens below, the server is killed and reaped.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = server.stdout.take().expect("piped");
    let mut server = Reap(server);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        let mut first = String::new();
        let _ = r.read_line(&mut first);
        let _ = tx.send(first);
        let mut rest = String::new();
        let _ = r.read_to_string(&mut rest);
        rest
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| format!("{} printed no first line within 30 s", pair.server))?;
    let address = first
        .trim_end()
        .strip_prefix("listening on ")
        .ok_or_else(|| {
            format!(
                "{}'s first line is {first:?}, not `listening on ADDRESS`",
                pair.server
            )
        })?
        .to_string();
    let verdict = run_clients(dir, pair, &address);
    match pair.server_expect {
        None => {
            if let Ok(Some(st)) = server.0.try_wait() {
                return Err(format!("{} exited early: {st}", pair.server));
            }
            let _ = server.0.kill();
            let st = server.0.wait().map_err(|e| e.to_string())?;
            if st.code().is_some() {
                return Err(format!("{} did not stop when killed: {st}", pair.server));
            }
            verdict
        }
        Some(lines) => {
            verdict?;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let st = loop {
                if let Some(st) = server.0.try_wait().map_err(|e| e.to_string())? {
                    break st;
                }
                if std::time::Instant::now() > deadline {
                    return Err(format!("{} did not exit within 60 s", pair.server));
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let rest = reader.join().map_err(|_| "reader panicked".to_string())?;
            if !st.success() {
                return Err(format!("{} exited with {st}:\n{rest}", pair.server));
            }
            check_output_any_order(lines, &rest)
                .map_err(|l| format!("{} did not print {l:?}:\n{rest}", pair.server))
        }
    }
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
    let mut dirs = vec![(String::from("multiproc"), root.join("examples"))];
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
                && !PAIRS.iter().any(|p| p.server == stem || p.client == stem)
                && !DUOS.iter().any(|d| d.a.0 == stem || d.b.0 == stem)
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
    for duo in DUOS
        .iter()
        .filter(|d| package.is_none_or(|x| x == d.package))
    {
        for a_first in [true, false] {
            let t = Instant::now();
            ran += 1;
            let order = if a_first {
                format!("{} then {}", duo.a.0, duo.b.0)
            } else {
                format!("{} then {}", duo.b.0, duo.a.0)
            };
            match run_duo(&dir, duo, a_first) {
                Ok(()) => println!(
                    "    example {}/{order}: ok ({})",
                    duo.package,
                    util::secs(t.elapsed())
                ),
                Err(why) => {
                    println!("    example {}/{order}: FAILED: {why}", duo.package);
                    failures.push(format!("{}/{order}", duo.package));
                }
            }
        }
    }
    for pair in PAIRS
        .iter()
        .filter(|p| package.is_none_or(|x| x == p.package))
    {
        let t = Instant::now();
        ran += 1;
        match run_pair(&dir, pair) {
            Ok(()) => println!(
                "    example {}/{} + {}: ok ({})",
                pair.package,
                pair.server,
                pair.client,
                util::secs(t.elapsed())
            ),
            Err(why) => {
                println!(
                    "    example {}/{} + {}: FAILED: {why}",
                    pair.package, pair.server, pair.client
                );
                failures.push(format!("{}/{}+{}", pair.package, pair.server, pair.client));
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
