//! The single-threaded runner, from outside: this binary (`harness = false`) re-runs itself in a
//! role, each role a small suite run by the runner, and checks how that run ends and what it
//! prints.

use std::process::{Command, Output};
use std::time::Duration;

use multiproc_testkit::{ROLE_ENV, run_single_threaded, run_single_threaded_within};

fn passes() {}

fn fails() {
    panic!("this test fails");
}

fn hangs() {
    std::thread::sleep(Duration::from_secs(60));
}

/// Forks; the child panics out of the test, the parent waits and checks it ended with 101.
fn child_panics_out_of_its_test() {
    // SAFETY: the role's process is single-threaded (the runner checks it).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        panic!("a forked child panics");
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 101);
}

fn role_run(role: &str, args: &[&str]) -> (Output, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env(ROLE_ENV, role)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out, text)
}

fn a_failing_test_fails_the_run_and_the_others_still_run() {
    let (out, text) = role_run("fail", &[]);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(text.contains("test fails ... FAILED"), "{text}");
    assert!(text.contains("test passes ... ok"), "{text}");
    assert!(
        text.contains("test result: FAILED. 1 passed; 1 failed;"),
        "{text}"
    );
}

fn a_hang_is_ended_by_the_watchdog_naming_the_test() {
    let (out, text) = role_run("hang", &[]);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("watchdog: the test binary ran out of time; test running: hangs"),
        "{text}"
    );
}

fn filters_select_tests() {
    let (out, text) = role_run("fail", &["pass"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out"),
        "{text}"
    );
}

fn a_forked_child_does_not_run_the_other_tests() {
    let (out, text) = role_run("fork", &[]);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("test passes ... ok").count(), 1, "{text}");
}

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("fail") => run_single_threaded(&[("fails", fails), ("passes", passes)]),
        Ok("hang") => run_single_threaded_within(
            &[("passes", passes), ("hangs", hangs)],
            Duration::from_secs(1),
        ),
        Ok("fork") => run_single_threaded(&[
            ("child_panics_out_of_its_test", child_panics_out_of_its_test),
            ("passes", passes),
        ]),
        _ => run_single_threaded(&[
            (
                "a_failing_test_fails_the_run_and_the_others_still_run",
                a_failing_test_fails_the_run_and_the_others_still_run,
            ),
            (
                "a_hang_is_ended_by_the_watchdog_naming_the_test",
                a_hang_is_ended_by_the_watchdog_naming_the_test,
            ),
            ("filters_select_tests", filters_select_tests),
            (
                "a_forked_child_does_not_run_the_other_tests",
                a_forked_child_does_not_run_the_other_tests,
            ),
        ]),
    }
}
