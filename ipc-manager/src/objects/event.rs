//! `Event`: `threading.Event`, as `SyncManager.Event()` serves it.

use std::sync::{Condvar, Mutex};

use super::{
    Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, Waited, lock, names, no_args,
    timeout_arg, wait_until,
};
use crate::value::PyValue;

pub(crate) struct EventObj {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl EventObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<EventObj, Raise> {
        no_args("Event", args, kwargs)?;
        Ok(EventObj {
            flag: Mutex::new(false),
            cv: Condvar::new(),
        })
    }
}

impl Referent for EventObj {
    fn type_name(&self) -> &'static str {
        "Event"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["clear", "is_set", "set", "wait"])
    }

    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let v = match method {
            "is_set" | "isSet" => {
                no_args("is_set", args, kwargs)?;
                PyValue::Bool(*lock(&self.flag))
            }
            "set" => {
                no_args("set", args, kwargs)?;
                *lock(&self.flag) = true;
                self.cv.notify_all();
                PyValue::None
            }
            "clear" => {
                no_args("clear", args, kwargs)?;
                *lock(&self.flag) = false;
                PyValue::None
            }
            "wait" => {
                let timeout =
                    timeout_arg(Params::bind("wait", &["timeout"], args, kwargs)?.opt(0))?;
                let g = lock(&self.flag);
                match wait_until(ctx, g, &self.cv, timeout, |f| *f).1 {
                    Waited::Ready => PyValue::Bool(true),
                    Waited::TimedOut => PyValue::Bool(false),
                    Waited::PeerGone => return Err(Raise::PeerGone),
                }
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        let state = if *lock(&self.flag) { "set" } else { "unset" };
        format!("<threading.Event: {state}>")
    }
}
