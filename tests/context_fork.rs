//! The `fork` context, in a single-threaded test binary (`fork` is refused while other threads
//! run): every factory's object reaches `fork`, `spawn` and `forkserver` children; a `fork`
//! pool's workers and a `fork` manager's server are forked from this process.

#[path = "support/context_checks.rs"]
mod checks;

use std::sync::atomic::Ordering;

use multiproc::{StartMethod, get_context};

fn objects_reach_children_of_every_method() {
    checks::MARK.store(7, Ordering::Relaxed);
    let fork = get_context(StartMethod::Fork);
    for child in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        checks::objects_reach_a_child(&fork, &get_context(child));
    }
}

fn a_fork_manager_serves_from_a_forked_process() {
    checks::manager_uses_the_method(&get_context(StartMethod::Fork));
}

fn a_fork_pool_forks_its_workers() {
    checks::MARK.store(7, Ordering::Relaxed);
    checks::pool_uses_the_method(&get_context(StartMethod::Fork));
}

fn main() {
    // The pool starts a thread of its own: it runs last.
    multiproc_testkit::run_single_threaded(&[
        (
            "objects_reach_children_of_every_method",
            objects_reach_children_of_every_method,
        ),
        (
            "a_fork_manager_serves_from_a_forked_process",
            a_fork_manager_serves_from_a_forked_process,
        ),
        (
            "a_fork_pool_forks_its_workers",
            a_fork_pool_forks_its_workers,
        ),
    ]);
}
