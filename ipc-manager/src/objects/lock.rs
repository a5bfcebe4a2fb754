//! `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`: `threading`'s, as `SyncManager` serves
//! them, with one addition: a lock whose holder's connection closed while holding it is
//! released, and the next acquirer is told (`OwnerDied`).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::{
    Args, CallCtx, ConnId, Kwargs, Outcome, Params, Raise, Referent, Waited, int_arg, lock, names,
    no_args, timeout_arg, wait_until,
};
use crate::value::{PyClass, PyValue};

/// `acquire(blocking=True, timeout=-1)`'s arguments: how long to wait (`None`: forever).
pub(crate) fn acquire_args(
    what: &'static str,
    args: Args,
    kwargs: Kwargs,
    forever: Option<i128>,
) -> Result<Option<Duration>, Raise> {
    let mut p = Params::bind(what, &["blocking", "timeout"], args, kwargs)?;
    let blocking = p.given(0).is_none_or(|b| b.truthy());
    let timeout = match p.given(1) {
        Some(v) if v.as_int().is_some() && v.as_int() == forever => None,
        Some(PyValue::None) | None => None,
        Some(v) => {
            if !blocking {
                return Err(Raise::exc(
                    PyClass::VALUE_ERROR,
                    "can't specify a timeout for a non-blocking call",
                ));
            }
            let neg =
                matches!(v, PyValue::Float(f) if f < 0.0) || v.as_int().is_some_and(|i| i < 0);
            if neg {
                return Err(Raise::exc(
                    PyClass::VALUE_ERROR,
                    "timeout value must be a non-negative number",
                ));
            }
            timeout_arg(Some(v))?
        }
    };
    Ok(if blocking {
        timeout
    } else {
        Some(Duration::ZERO)
    })
}

struct Owned {
    /// The holder (`None`: free).
    owner: Option<ConnId>,
    /// Recursion depth (RLock) or 1.
    count: u32,
    /// The last holder's connection closed while it held the lock.
    died: bool,
}

/// The state Lock, RLock and Condition share: an owner, a count, the owner-died flag.
pub(crate) struct OwnedLock {
    state: Mutex<Owned>,
    cv: Condvar,
    reentrant: bool,
}

impl OwnedLock {
    /// A lock any connection may release (`threading.Lock`).
    pub(crate) fn plain() -> OwnedLock {
        OwnedLock::with_reentrancy(false)
    }

    /// A lock its holder may take again and only its holder may release (`threading.RLock`).
    pub(crate) fn reentrant() -> OwnedLock {
        OwnedLock::with_reentrancy(true)
    }

    fn with_reentrancy(reentrant: bool) -> OwnedLock {
        OwnedLock {
            state: Mutex::new(Owned {
                owner: None,
                count: 0,
                died: false,
            }),
            cv: Condvar::new(),
            reentrant,
        }
    }

    /// Takes the lock for `ctx.conn` within `timeout`: `Ok(true)`, `Ok(false)` on timeout; the
    /// bool of the outcome says whether the previous holder died.
    pub(crate) fn acquire(
        &self,
        ctx: &CallCtx<'_>,
        timeout: Option<Duration>,
    ) -> Result<Outcome, Raise> {
        let me = ctx.conn;
        let g = lock(&self.state);
        if self.reentrant && g.owner == Some(me) {
            let mut g = g;
            g.count += 1;
            return Ok(Outcome::Value(PyValue::Bool(true)));
        }
        let (mut g, how) = wait_until(ctx, g, &self.cv, timeout, |s| s.owner.is_none());
        match how {
            Waited::Ready => {
                g.owner = Some(me);
                g.count = 1;
                if std::mem::take(&mut g.died) {
                    Ok(Outcome::OwnerDied(PyValue::Bool(true)))
                } else {
                    Ok(Outcome::Value(PyValue::Bool(true)))
                }
            }
            Waited::TimedOut => Ok(Outcome::Value(PyValue::Bool(false))),
            Waited::PeerGone => Err(Raise::PeerGone),
        }
    }

    /// Restores a holding of depth `count` for `me` (Condition.wait), waiting as long as it takes.
    pub(crate) fn reacquire(&self, ctx: &CallCtx<'_>, count: u32) -> Result<bool, Raise> {
        let g = lock(&self.state);
        let (mut g, how) = wait_until(ctx, g, &self.cv, None, |s| s.owner.is_none());
        if how == Waited::PeerGone {
            return Err(Raise::PeerGone);
        }
        g.owner = Some(ctx.conn);
        g.count = count;
        Ok(std::mem::take(&mut g.died))
    }

    pub(crate) fn release(&self, ctx: &CallCtx<'_>) -> Result<(), Raise> {
        let mut g = lock(&self.state);
        if self.reentrant {
            if g.owner != Some(ctx.conn) {
                return Err(Raise::exc(
                    PyClass::RUNTIME_ERROR,
                    "cannot release un-acquired lock",
                ));
            }
        } else if g.owner.is_none() {
            return Err(Raise::exc(PyClass::RUNTIME_ERROR, "release unlocked lock"));
        }
        g.count = g.count.saturating_sub(1);
        if g.count == 0 || !self.reentrant {
            g.owner = None;
            g.count = 0;
            drop(g);
            self.cv.notify_all();
        }
        Ok(())
    }

    /// Gives the lock up entirely (Condition.wait); returns the depth held, or `None` when
    /// `me` does not hold it.
    pub(crate) fn release_all(&self, me: ConnId) -> Option<u32> {
        let mut g = lock(&self.state);
        if g.owner != Some(me) {
            return None;
        }
        let n = g.count;
        g.owner = None;
        g.count = 0;
        drop(g);
        self.cv.notify_all();
        Some(n)
    }

    pub(crate) fn held_by(&self, me: ConnId) -> bool {
        lock(&self.state).owner == Some(me)
    }

    pub(crate) fn locked(&self) -> bool {
        lock(&self.state).owner.is_some()
    }

    pub(crate) fn connection_closed(&self, conn: ConnId) {
        let mut g = lock(&self.state);
        if g.owner == Some(conn) {
            g.owner = None;
            g.count = 0;
            g.died = true;
            drop(g);
            self.cv.notify_all();
        }
    }
}

const LOCK_PUBLIC: &[&str] = &["acquire", "locked", "release"];

/// The methods of a lock (`acquire`, `release`, `locked`, and `with`'s), on `l`; `obj` names
/// the object in the error for any other method.
pub(super) fn lock_call(
    l: &OwnedLock,
    obj: &dyn Referent,
    ctx: &CallCtx<'_>,
    method: &str,
    args: Args,
    kwargs: Kwargs,
) -> Result<Outcome, Raise> {
    match method {
        "acquire" | "__enter__" => {
            let timeout = acquire_args("acquire", args, kwargs, Some(-1))?;
            l.acquire(ctx, timeout)
        }
        "release" | "__exit__" => {
            l.release(ctx)?;
            Ok(Outcome::Value(PyValue::None))
        }
        "locked" => {
            no_args("locked", args, kwargs)?;
            Ok(Outcome::Value(PyValue::Bool(l.locked())))
        }
        _ => Err(super::no_method(obj, method)),
    }
}

/// `threading.Lock`, or `threading.RLock` (held per connection, as Python's is held per
/// server thread).
pub(crate) struct LockObj(OwnedLock);

impl LockObj {
    pub(crate) fn lock(args: Args, kwargs: Kwargs) -> Result<LockObj, Raise> {
        no_args("Lock", args, kwargs)?;
        Ok(LockObj(OwnedLock::plain()))
    }

    pub(crate) fn rlock(args: Args, kwargs: Kwargs) -> Result<LockObj, Raise> {
        no_args("RLock", args, kwargs)?;
        Ok(LockObj(OwnedLock::reentrant()))
    }
}

impl Referent for LockObj {
    fn type_name(&self) -> &'static str {
        if self.0.reentrant { "RLock" } else { "lock" }
    }
    fn public_methods(&self) -> Vec<String> {
        if self.0.reentrant {
            names(&["acquire", "release"])
        } else {
            names(LOCK_PUBLIC)
        }
    }
    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        lock_call(&self.0, self, ctx, method, args, kwargs)
    }
    fn repr(&self) -> String {
        let g = lock(&self.0.state);
        let state = if g.owner.is_some() {
            "locked"
        } else {
            "unlocked"
        };
        if self.0.reentrant {
            format!("<{state} _thread.RLock object owner=0 count={}>", g.count)
        } else {
            format!("<{state} _thread.lock object>")
        }
    }
    fn connection_closed(&self, conn: ConnId) {
        self.0.connection_closed(conn);
    }
}

/// `threading.Semaphore` and `threading.BoundedSemaphore`.
pub(crate) struct SemaphoreObj {
    value: Mutex<u64>,
    cv: Condvar,
    bound: Option<u64>,
}

impl SemaphoreObj {
    /// `threading.Semaphore(value)`.
    pub(crate) fn semaphore(args: Args, kwargs: Kwargs) -> Result<SemaphoreObj, Raise> {
        SemaphoreObj::create(false, args, kwargs)
    }

    /// `threading.BoundedSemaphore(value)`.
    pub(crate) fn bounded(args: Args, kwargs: Kwargs) -> Result<SemaphoreObj, Raise> {
        SemaphoreObj::create(true, args, kwargs)
    }

    fn create(bounded: bool, args: Args, kwargs: Kwargs) -> Result<SemaphoreObj, Raise> {
        let mut p = Params::bind("Semaphore", &["value"], args, kwargs)?;
        let v = match p.opt(0) {
            Some(v) => int_arg(&v, "value")?,
            None => 1,
        };
        if v < 0 {
            return Err(Raise::exc(
                PyClass::VALUE_ERROR,
                "semaphore initial value must be >= 0",
            ));
        }
        let v = u64::try_from(v).unwrap_or(u64::MAX);
        Ok(SemaphoreObj {
            value: Mutex::new(v),
            cv: Condvar::new(),
            bound: bounded.then_some(v),
        })
    }
}

impl Referent for SemaphoreObj {
    fn type_name(&self) -> &'static str {
        if self.bound.is_some() {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        }
    }
    fn public_methods(&self) -> Vec<String> {
        names(&["acquire", "release"])
    }
    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        match method {
            "acquire" | "__enter__" => {
                let timeout = acquire_args("acquire", args, kwargs, None)?;
                let g = lock(&self.value);
                let (mut g, how) = wait_until(ctx, g, &self.cv, timeout, |v| *v > 0);
                match how {
                    Waited::Ready => {
                        *g -= 1;
                        Ok(Outcome::Value(PyValue::Bool(true)))
                    }
                    Waited::TimedOut => Ok(Outcome::Value(PyValue::Bool(false))),
                    Waited::PeerGone => Err(Raise::PeerGone),
                }
            }
            "release" | "__exit__" => {
                let mut p = Params::bind("release", &["n"], args, kwargs)?;
                let n = match p.opt(0) {
                    Some(v) if method == "release" => int_arg(&v, "n")?,
                    _ => 1,
                };
                if n < 1 {
                    return Err(Raise::exc(PyClass::VALUE_ERROR, "n must be one or more"));
                }
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                let mut g = lock(&self.value);
                if let Some(b) = self.bound
                    && g.saturating_add(n) > b
                {
                    return Err(Raise::exc(
                        PyClass::VALUE_ERROR,
                        "Semaphore released too many times",
                    ));
                }
                *g = g.saturating_add(n);
                drop(g);
                self.cv.notify_all();
                Ok(Outcome::Value(PyValue::None))
            }
            _ => Err(super::no_method(self, method)),
        }
    }
    fn repr(&self) -> String {
        format!(
            "<threading.{} object value={}>",
            self.type_name(),
            lock(&self.value)
        )
    }
}
