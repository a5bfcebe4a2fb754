//! Contexts (Python's `get_context(method)`) under `spawn` and `forkserver`: every factory's
//! object reaches children of both methods, and pools and managers made by a context start their
//! processes by its method. The `fork` context, which needs a single-threaded process, is in
//! `context_fork.rs`.

#[path = "support/context_checks.rs"]
mod checks;

use std::sync::atomic::Ordering;

use multiproc::{StartMethod, get_context};

const METHODS: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::Forkserver];

#[test]
fn every_factory_s_object_reaches_children_of_every_start_method() {
    checks::MARK.store(7, Ordering::Relaxed);
    for made_by in METHODS {
        for child in METHODS {
            checks::objects_reach_a_child(&get_context(made_by), &get_context(child));
        }
    }
}

#[test]
fn a_context_s_pool_runs_its_workers_by_its_method() {
    checks::MARK.store(7, Ordering::Relaxed);
    for m in METHODS {
        checks::pool_uses_the_method(&get_context(m));
    }
}

#[test]
fn a_context_s_manager_serves_from_a_process_of_its_method() {
    for m in METHODS {
        checks::manager_uses_the_method(&get_context(m));
    }
}

#[test]
fn a_context_names_its_method_and_converts_to_the_process_crate_s() {
    for m in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        let ctx = get_context(m);
        assert_eq!(ctx.start_method(), m);
        let inner: multiproc::process::Context = ctx.into();
        assert_eq!(inner, ctx.process_context());
        assert_eq!(multiproc::Context::from(inner), ctx);
    }
}
