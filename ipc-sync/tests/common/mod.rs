//! Helpers for tests that cross process boundaries by re-running the test binary.
#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The environment variable that gives a re-run test binary its role.
pub const ROLE_ENV: &str = "IPC_TEST_ROLE";

/// The role this process plays, if it is a child started by [`child_command`].
pub fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// A command that re-runs this test binary for the one test `test`, with `role` set.
pub fn child_command(test: &str, role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_ENV, role);
    cmd
}

/// Waits for `child` for at most `limit`; kills it and panics if it is still running then.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A name unique to this process and call, for named resources.
pub fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ipc-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
