//! `Barrier`: `threading.Barrier` (without an action), as `SyncManager.Barrier()` serves it.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::{
    Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, Waited, int_arg, lock, names, no_args,
    timeout_arg, wait_until,
};
use crate::value::{PyClass, PyValue};

struct State {
    count: u32,
    /// Which round is filling.
    generation: u64,
    /// The last round that passed (others ended by reset, abort or timeout).
    passed: Option<u64>,
    broken: bool,
}

pub(crate) struct BarrierObj {
    parties: u32,
    timeout: Option<Duration>,
    state: Mutex<State>,
    cv: Condvar,
}

fn broken() -> Raise {
    Raise::exc_args(PyClass::BROKEN_BARRIER_ERROR, Vec::new())
}

impl BarrierObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<BarrierObj, Raise> {
        let mut p = Params::bind("Barrier", &["parties", "action", "timeout"], args, kwargs)?;
        let parties = int_arg(&p.req(0)?, "parties")?;
        if parties < 1 {
            return Err(Raise::exc(PyClass::VALUE_ERROR, "parties must be > 0"));
        }
        if p.opt(1).is_some() {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                "a barrier action cannot cross to the manager",
            ));
        }
        let timeout = timeout_arg(p.opt(2))?;
        Ok(BarrierObj {
            parties: u32::try_from(parties).unwrap_or(u32::MAX),
            timeout,
            state: Mutex::new(State {
                count: 0,
                generation: 0,
                passed: None,
                broken: false,
            }),
            cv: Condvar::new(),
        })
    }

    fn wait(&self, ctx: &CallCtx<'_>, timeout: Option<Duration>) -> Result<PyValue, Raise> {
        let mut g = lock(&self.state);
        if g.broken {
            return Err(broken());
        }
        let index = g.count;
        let round = g.generation;
        g.count += 1;
        if g.count == self.parties {
            g.passed = Some(round);
            g.generation += 1;
            g.count = 0;
            drop(g);
            self.cv.notify_all();
            return Ok(PyValue::Int(index.into()));
        }
        let (mut g, how) = wait_until(ctx, g, &self.cv, timeout.or(self.timeout), |s| {
            s.generation != round || s.broken
        });
        match how {
            Waited::Ready if g.passed == Some(round) => Ok(PyValue::Int(index.into())),
            Waited::Ready => Err(broken()),
            Waited::TimedOut => {
                g.broken = true;
                drop(g);
                self.cv.notify_all();
                Err(broken())
            }
            Waited::PeerGone => {
                // One party is gone: the round cannot pass.
                g.broken = true;
                drop(g);
                self.cv.notify_all();
                Err(Raise::PeerGone)
            }
        }
    }
}

impl Referent for BarrierObj {
    fn type_name(&self) -> &'static str {
        "Barrier"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["abort", "reset", "wait"])
    }

    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let v = match method {
            "wait" => {
                let t = timeout_arg(Params::bind("wait", &["timeout"], args, kwargs)?.opt(0))?;
                self.wait(ctx, t)?
            }
            "abort" => {
                no_args("abort", args, kwargs)?;
                lock(&self.state).broken = true;
                self.cv.notify_all();
                PyValue::None
            }
            "reset" => {
                no_args("reset", args, kwargs)?;
                let mut g = lock(&self.state);
                if g.count > 0 {
                    g.generation += 1;
                }
                g.count = 0;
                g.broken = false;
                drop(g);
                self.cv.notify_all();
                PyValue::None
            }
            "__getattribute__" => {
                let name = Params::bind("__getattribute__", &["name"], args, kwargs)?.req(0)?;
                let g = lock(&self.state);
                match name.as_str() {
                    Some("parties") => PyValue::Int(self.parties.into()),
                    Some("n_waiting") => PyValue::Int(if g.broken { 0 } else { g.count.into() }),
                    Some("broken") => PyValue::Bool(g.broken),
                    _ => {
                        return Err(Raise::exc(
                            PyClass::ATTRIBUTE_ERROR,
                            format!("'Barrier' object has no attribute {name}"),
                        ));
                    }
                }
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        let g = lock(&self.state);
        if g.broken {
            "<threading.Barrier: broken>".into()
        } else {
            format!("<threading.Barrier: waiters={}/{}>", g.count, self.parties)
        }
    }
}
