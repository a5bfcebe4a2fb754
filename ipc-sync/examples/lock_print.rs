//! Ten processes print `hello world <i>` under one process-shared [`Lock`]: every line comes
//! out whole (the order is the scheduler's).
//!
//! Python's version:
//!
//! ```python
//! def f(l, i):
//!     with l:
//!         print('hello world', i)
//!
//! lock = Lock()
//! for num in range(10):
//!     Process(target=f, args=(lock, num)).start()
//! ```
//!
//! ```text
//! cargo run -p ipc-sync --example lock_print
//! ```
//!
//! The children are forked: `main` is single-threaded, so a forked child may run any code.

use std::io::Write;

use ipc_sync::Lock;

fn main() -> std::io::Result<()> {
    let lock = Lock::new()?;
    let mut children = Vec::new();
    for i in 0..10 {
        // SAFETY: this process is single-threaded here, so the child may allocate, print and
        // take locks; it leaves with `_exit` so nothing of the parent's runs twice.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            let code = {
                // A holder that died would be reported; the lock is ours either way.
                let _guard = lock.lock().unwrap_or_else(|died| died.into_inner());
                let mut out = std::io::stdout().lock();
                // One line per write, flushed while the lock is held.
                let ok = writeln!(out, "hello world {i}").and_then(|()| out.flush());
                i32::from(ok.is_err())
            };
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        children.push(pid);
    }
    let mut failed = 0;
    for pid in children {
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(std::io::Error::other(format!("{failed} children failed")));
    }
    Ok(())
}
