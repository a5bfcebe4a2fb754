//! Timing, process and output helpers shared by the workloads.

use std::time::Duration;

/// Options for every workload.
pub struct Opts {
    /// Fewer iterations and one repetition, for `--quick`.
    pub quick: bool,
}

impl Opts {
    /// `full` normally, `full / 10` (at least 1) with `--quick`.
    pub fn n(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(1) } else { full }
    }

    /// How many times each workload is repeated (the median is reported).
    pub fn reps(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }
}

/// Prints one result line.
pub fn emit(id: &str, value: f64, unit: &str) {
    let id = format!("{id}{}", crate::place::current_suffix());
    println!(
        "{}",
        serde_json::json!({ "id": id, "value": value, "unit": unit })
    );
}

/// The median of `reps` runs of `f`.
pub fn median(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut v: Vec<f64> = (0..reps).map(|_| f()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Per-operation time in the unit asked for.
pub fn per_op(d: Duration, n: usize, unit: &str) -> f64 {
    let s = d.as_secs_f64() / n as f64;
    match unit {
        "ns" => s * 1e9,
        "us" => s * 1e6,
        "ms" => s * 1e3,
        _ => s,
    }
}

/// Arms a watchdog: the process dies with SIGALRM if it is still running in `secs` seconds
/// (so a bug in a workload fails the bench instead of hanging it). `0` disarms.
pub fn watchdog(secs: u32) {
    // SAFETY: alarm(2) only sets a timer.
    unsafe { libc::alarm(secs) };
}

/// Forks a child that runs `f` and exits with `_exit(0)`; the child pins itself where the
/// workload's placement puts peers.
pub fn fork(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: ipc-bench is single-threaded, so the child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        crate::place::pin_self_as_peer();
        watchdog(120);
        f();
        // SAFETY: ends the child without unwinding into the parent's code.
        unsafe { libc::_exit(0) };
    }
    pid
}

/// Runs `f` in a forked child that stays where this process is pinned (a measuring side that
/// must not run here: async rows, whose futures start a helper thread, after which this process
/// could no longer fork the workloads that follow).
pub fn fork_in_place(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: ipc-bench is single-threaded, so the child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        watchdog(120);
        f();
        // SAFETY: ends the child without unwinding into the parent's code.
        unsafe { libc::_exit(0) };
    }
    pid
}

/// Runs `measure` (which returns the time it measured) in a child forked in place
/// ([`fork_in_place`]) and returns that time.
pub fn measured_in_child(measure: impl FnOnce() -> std::time::Duration) -> std::time::Duration {
    let out = multiproc_core::SharedMapping::anonymous(4096).expect("mapping");
    let pid = fork_in_place(|| {
        let d = measure();
        out.atomic_u64(0)
            .store(d.as_nanos() as u64, std::sync::atomic::Ordering::Release);
    });
    reap(pid);
    std::time::Duration::from_nanos(out.atomic_u64(0).load(std::sync::atomic::Ordering::Acquire))
}

/// Waits for `pid` and asserts it exited 0.
pub fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {pid} failed: status {status:#x}"
    );
}

/// An anonymous `MAP_SHARED` mapping of `len` bytes, never unmapped (bench processes are
/// short-lived).
pub fn shared_page(len: usize) -> *mut u8 {
    // SAFETY: a fresh anonymous mapping; checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    p.cast()
}

/// A current-thread tokio runtime with its drivers (I/O, time): what each process of an async
/// row runs its side on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}
