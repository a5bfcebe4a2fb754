//! `Condition`: `threading.Condition` over its own RLock, as `SyncManager.Condition()` serves it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use super::lock::{OwnedLock, lock_call};
use super::{
    Args, CallCtx, ConnId, Kwargs, Outcome, Params, Raise, Referent, Waited, int_arg, lock, names,
    no_args, timeout_arg, wait_until,
};
use crate::value::{PyClass, PyValue};

struct Waiters {
    next: u64,
    /// Waiting tickets, oldest first.
    waiting: VecDeque<u64>,
    /// Tickets notified and not yet woken.
    notified: Vec<u64>,
}

pub(crate) struct ConditionObj {
    lock: OwnedLock,
    waiters: Mutex<Waiters>,
    cv: Condvar,
}

impl ConditionObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<ConditionObj, Raise> {
        if !args.is_empty() || !kwargs.is_empty() {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                "a Condition served by this manager makes its own lock",
            ));
        }
        Ok(ConditionObj {
            lock: OwnedLock::reentrant(),
            waiters: Mutex::new(Waiters {
                next: 0,
                waiting: VecDeque::new(),
                notified: Vec::new(),
            }),
            cv: Condvar::new(),
        })
    }

    fn wait(&self, ctx: &CallCtx<'_>, args: Args, kwargs: Kwargs) -> Result<Outcome, Raise> {
        let timeout = timeout_arg(Params::bind("wait", &["timeout"], args, kwargs)?.opt(0))?;
        // Take a ticket before letting the lock go, so that a notify right after is not lost.
        let ticket = {
            let mut w = lock(&self.waiters);
            let t = w.next;
            w.next += 1;
            w.waiting.push_back(t);
            t
        };
        let Some(depth) = self.lock.release_all(ctx.conn) else {
            lock(&self.waiters).waiting.retain(|&t| t != ticket);
            return Err(Raise::exc(
                PyClass::RUNTIME_ERROR,
                "cannot wait on un-acquired lock",
            ));
        };
        let w = lock(&self.waiters);
        let (mut w, how) = wait_until(ctx, w, &self.cv, timeout, |w| w.notified.contains(&ticket));
        let notified = how == Waited::Ready;
        w.notified.retain(|&t| t != ticket);
        w.waiting.retain(|&t| t != ticket);
        drop(w);
        if how == Waited::PeerGone {
            return Err(Raise::PeerGone);
        }
        let died = self.lock.reacquire(ctx, depth)?;
        let v = PyValue::Bool(notified);
        Ok(if died {
            Outcome::OwnerDied(v)
        } else {
            Outcome::Value(v)
        })
    }

    fn notify(&self, ctx: &CallCtx<'_>, n: Option<usize>) -> Result<Outcome, Raise> {
        if !self.lock.held_by(ctx.conn) {
            return Err(Raise::exc(
                PyClass::RUNTIME_ERROR,
                "cannot notify on un-acquired lock",
            ));
        }
        let mut w = lock(&self.waiters);
        let n = n.unwrap_or(w.waiting.len());
        for _ in 0..n {
            match w.waiting.pop_front() {
                Some(t) => w.notified.push(t),
                None => break,
            }
        }
        drop(w);
        self.cv.notify_all();
        Ok(Outcome::Value(PyValue::None))
    }
}

impl Referent for ConditionObj {
    fn type_name(&self) -> &'static str {
        "Condition"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["acquire", "notify", "notify_all", "release", "wait"])
    }

    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        match method {
            "wait" => self.wait(ctx, args, kwargs),
            "notify" => {
                let mut p = Params::bind("notify", &["n"], args, kwargs)?;
                let n = match p.opt(0) {
                    Some(v) => int_arg(&v, "n")?.max(0) as usize,
                    None => 1,
                };
                self.notify(ctx, Some(n))
            }
            "notify_all" | "notifyAll" => {
                no_args("notify_all", args, kwargs)?;
                self.notify(ctx, None)
            }
            // `acquire`, `release`, `__enter__`, `__exit__`: the lock's (its `locked` is not
            // exposed on a Condition, so the server never calls it here).
            _ => lock_call(&self.lock, self, ctx, method, args, kwargs),
        }
    }

    fn repr(&self) -> String {
        format!(
            "<Condition({}, {})>",
            if self.lock.locked() {
                "locked"
            } else {
                "unlocked"
            },
            lock(&self.waiters).waiting.len()
        )
    }

    fn connection_closed(&self, conn: ConnId) {
        self.lock.connection_closed(conn);
    }
}
