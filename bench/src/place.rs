//! Where the processes of a workload run. A round trip between two processes costs what it costs
//! for the placement the scheduler picked: a few µs on one core, 15–50 µs for a wake-up across
//! cores on a VM. So every round-trip row and the limit it is held against run with the same
//! placement, declared next to them ([`Placement`]): the two processes pinned to two different
//! cores (the case users meet on a multi-core machine), or both on one core.
//!
//! The bench's own process is pinned before the workload starts; a child forked by
//! [`crate::util::fork`] pins itself; children that library code starts (pool workers, a
//! manager's server) are pinned by [`pin_peers`] once they exist.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, Ordering};

/// Where a workload's processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the scheduler puts them (throughput rows, many processes).
    Free,
    /// This process on one core, its peer(s) on another.
    Apart,
    /// This process and its peer(s) on one core.
    SameCore,
}

impl Placement {
    /// The suffix of a variant's id (`""` for the placement the row declares).
    pub fn suffix(self) -> &'static str {
        match self {
            Placement::SameCore => ".same_core",
            _ => "",
        }
    }
}

/// The CPUs this process may use when it starts, in order.
fn cpus() -> &'static [usize] {
    static CPUS: OnceLock<Vec<usize>> = OnceLock::new();
    CPUS.get_or_init(|| {
        // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid cpu_set_t of the size given.
        let r = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        assert_eq!(r, 0, "sched_getaffinity");
        // SAFETY: CPU_ISSET reads the set within its size.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect()
    })
}

/// The CPU a peer is pinned to (-1: not pinned).
static PEER: AtomicI32 = AtomicI32::new(-1);

/// The placement in force (for the id suffix of what is emitted).
static CURRENT: AtomicU8 = AtomicU8::new(0);

/// The pid of the busy process of `--busy` (0: none), which keeps its own CPU.
static HOG: AtomicU32 = AtomicU32::new(0);

/// The suffix of the ids emitted under the placement in force.
pub fn current_suffix() -> &'static str {
    match CURRENT.load(Ordering::Relaxed) {
        2 => Placement::SameCore.suffix(),
        _ => "",
    }
}

/// Pins the thread (or process) `tid` to `cpus`; false if it is gone.
fn pin(tid: libc::pid_t, cpus: &[usize]) -> bool {
    // SAFETY: an empty set, filled below with CPU_SET.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: `c` is below CPU_SETSIZE (it came from sched_getaffinity's set).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size given.
    unsafe { libc::sched_setaffinity(tid, size_of::<libc::cpu_set_t>(), &set) == 0 }
}

/// Pins every thread of process `pid` to `cpus`.
fn pin_process(pid: u32, cpus: &[usize]) {
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) {
                pin(tid, cpus);
            }
        }
    }
}

/// Every process descended from this one (children, their children, …).
fn descendants() -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // The fourth field of /proc/PID/stat, after the parenthesised command name.
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![std::process::id()];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    let hog = HOG.load(Ordering::Relaxed);
    found.retain(|&p| p != hog);
    found
}

/// Places this process (every thread of it) for `p`, and sets where its peers go. `Free` also
/// unpins every descendant (a fork server kept from an earlier workload, say). Falls back to
/// `Free` on a machine with one CPU; returns the placement in force.
pub fn set(p: Placement) -> Placement {
    let all = cpus();
    let p = if all.len() < 2 && p == Placement::Apart {
        Placement::Free
    } else {
        p
    };
    CURRENT.store(
        match p {
            Placement::Free => 0,
            Placement::Apart => 1,
            Placement::SameCore => 2,
        },
        Ordering::Relaxed,
    );
    match p {
        Placement::Free => {
            PEER.store(-1, Ordering::Relaxed);
            pin_process(std::process::id(), all);
            for d in descendants() {
                pin_process(d, all);
            }
        }
        Placement::Apart | Placement::SameCore => {
            let peer = if p == Placement::Apart {
                all[1]
            } else {
                all[0]
            };
            PEER.store(peer as i32, Ordering::Relaxed);
            pin_process(std::process::id(), &all[..1]);
        }
    }
    p
}

/// In a freshly forked child: pins it where peers go, if anywhere.
pub fn pin_self_as_peer() {
    let peer = PEER.load(Ordering::Relaxed);
    if peer >= 0 {
        pin(0, &[peer as usize]);
    }
}

/// Pins every descendant process (all its threads) where peers go, if anywhere: for peers that
/// library code started (pool workers, a manager's server). Call it once they exist.
pub fn pin_peers() {
    let peer = PEER.load(Ordering::Relaxed);
    if peer >= 0 {
        for d in descendants() {
            pin_process(d, &[peer as usize]);
        }
    }
}

/// A process that keeps the CPU peers go to busy (the second CPU), until [`Hog::drop`]: the
/// `--busy` mode, where a round trip shares its peer's core with a process that never sleeps.
pub struct Hog(libc::pid_t);

impl Hog {
    /// Forks the busy process, pinned to the second CPU (if there is one).
    pub fn start() -> Hog {
        let cpu = cpus().get(1).copied();
        // SAFETY: this binary is single-threaded; the child only spins.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            if let Some(c) = cpu {
                pin(0, &[c]);
            }
            // Dies with the bench: SIGKILL when the parent goes.
            // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            loop {
                std::hint::spin_loop();
            }
        }
        HOG.store(pid as u32, Ordering::Relaxed);
        Hog(pid)
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        // SAFETY: kill(2) and waitpid(2) on our own child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
        HOG.store(0, Ordering::Relaxed);
    }
}
