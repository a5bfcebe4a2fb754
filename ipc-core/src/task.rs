//! Thread ids and whether a thread (of any process) still lives: what a process-shared lock
//! needs to notice that its owner died.
//!
//! A Linux thread id (TID) names one thread of one process, system-wide within a PID namespace;
//! a process's PID is the TID of its first thread. A TID is reused only after the thread is gone
//! and the kernel's PID counter has wrapped around, so [`task_state`] also reports the thread's
//! start time: a lock that records (TID, start time) of its owner can tell its owner from a
//! later thread that got the same number.
//!
//! ```
//! use multiproc_core::task::{self, TaskState};
//!
//! let me = task::current_tid();
//! match task::task_state(me)? {
//!     TaskState::Alive { start_time } => assert!(start_time > 0),
//!     TaskState::Gone => unreachable!("the calling thread is alive"),
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # References
//! - [gettid(2)](https://man7.org/linux/man-pages/man2/gettid.2.html)
//! - [proc_pid_stat(5)](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html)

use std::io;

use crate::sys;

/// Whether a thread lives, from [`task_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// The thread runs (or sleeps, or is stopped).
    Alive {
        /// When it started, in clock ticks since boot (`/proc/<tid>/stat` field 22).
        start_time: u64,
    },
    /// No thread has that id, or it has exited and is only a zombie waiting to be reaped.
    Gone,
}

/// `gettid()`—The calling thread's id (in a single-threaded process, its PID).
///
/// A `fork`ed child runs with a new id; callers that cache it must refresh the cache after
/// `fork`.
#[doc(alias = "gettid")]
pub fn current_tid() -> u32 {
    sys::proc::gettid()
}

/// Reads `/proc/<tid>/stat`—Whether thread `tid` is alive, and when it started.
///
/// A zombie (state `Z`, exited but not yet reaped by its parent) or a dead task (`X`) is
/// [`TaskState::Gone`]: it holds nothing any more. Allocation-free (`open`, `read` and `close`
/// on a stack buffer), so it may be called in a child after `fork`.
///
/// # Errors
/// When `/proc` is not mounted or the line cannot be parsed.
pub fn task_state(tid: u32) -> io::Result<TaskState> {
    if tid == 0 {
        return Ok(TaskState::Gone);
    }
    Ok(match sys::proc::proc_task_stat(tid)? {
        None | Some((b'Z' | b'X' | b'x', _)) => TaskState::Gone,
        Some((_, start_time)) => TaskState::Alive { start_time },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_name() {
        let line =
            b"42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10\n";
        assert_eq!(sys::proc::parse_stat(line), Some((b'S', 987654)));
        assert_eq!(sys::proc::parse_stat(b"42 (x) S 1 2"), None);
    }

    #[test]
    fn this_thread_is_alive_and_a_reaped_child_is_gone() {
        let me = current_tid();
        assert!(matches!(
            task_state(std::process::id()).unwrap(),
            TaskState::Alive { .. }
        ));
        let TaskState::Alive { start_time } = task_state(me).unwrap() else {
            panic!("we are alive");
        };
        assert_eq!(
            task_state(me).unwrap(),
            TaskState::Alive { start_time },
            "the start time is stable"
        );
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(task_state(pid).unwrap(), TaskState::Gone);
    }

    #[test]
    fn another_thread_is_alive_then_gone() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::spawn(move || {
            tx.send(current_tid()).unwrap();
            done_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        assert_ne!(tid, current_tid());
        assert!(matches!(task_state(tid).unwrap(), TaskState::Alive { .. }));
        done_tx.send(()).unwrap();
        h.join().unwrap();
        // The kernel releases a non-leader thread's id as it exits; join waits for that.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while task_state(tid).unwrap() != TaskState::Gone {
            assert!(
                std::time::Instant::now() < deadline,
                "thread {tid} still there"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
