//! `Queue` / `JoinableQueue`: Python's `queue.Queue`, as `SyncManager.Queue()` serves it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use super::{
    Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, Waited, int_arg, lock, names, no_args,
    timeout_arg, wait_until,
};
use crate::value::{PyClass, PyValue};

struct State {
    items: VecDeque<PyValue>,
    unfinished: u64,
}

pub(crate) struct QueueObj {
    maxsize: usize,
    state: Mutex<State>,
    /// Signalled when an item is put, taken, or the last task is done.
    changed: Condvar,
}

const PUBLIC: &[&str] = &[
    "empty",
    "full",
    "get",
    "get_nowait",
    "join",
    "put",
    "put_nowait",
    "qsize",
    "task_done",
];

impl QueueObj {
    pub(crate) fn new(maxsize: usize) -> QueueObj {
        QueueObj {
            maxsize,
            state: Mutex::new(State {
                items: VecDeque::new(),
                unfinished: 0,
            }),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<QueueObj, Raise> {
        let mut p = Params::bind("Queue", &["maxsize"], args, kwargs)?;
        let maxsize = match p.opt(0) {
            Some(v) => int_arg(&v, "maxsize")?.max(0) as usize,
            None => 0,
        };
        Ok(QueueObj::new(maxsize))
    }

    fn is_full(&self, s: &State) -> bool {
        self.maxsize > 0 && s.items.len() >= self.maxsize
    }

    fn put(
        &self,
        ctx: &CallCtx<'_>,
        item: PyValue,
        block: bool,
        p: Option<PyValue>,
    ) -> Result<PyValue, Raise> {
        let timeout = if block {
            timeout_arg(p)?
        } else {
            Some(std::time::Duration::ZERO)
        };
        let g = lock(&self.state);
        let (mut g, how) = wait_until(ctx, g, &self.changed, timeout, |s| !self.is_full(s));
        match how {
            Waited::Ready => {
                g.items.push_back(item);
                g.unfinished += 1;
                drop(g);
                self.changed.notify_all();
                Ok(PyValue::None)
            }
            Waited::TimedOut => Err(Raise::exc_args(PyClass::QUEUE_FULL, Vec::new())),
            Waited::PeerGone => Err(Raise::PeerGone),
        }
    }

    fn get(&self, ctx: &CallCtx<'_>, block: bool, p: Option<PyValue>) -> Result<PyValue, Raise> {
        let timeout = if block {
            timeout_arg(p)?
        } else {
            Some(std::time::Duration::ZERO)
        };
        let g = lock(&self.state);
        let (mut g, how) = wait_until(ctx, g, &self.changed, timeout, |s| !s.items.is_empty());
        match how {
            Waited::Ready => {
                let v = g.items.pop_front().unwrap_or(PyValue::None);
                drop(g);
                self.changed.notify_all();
                Ok(v)
            }
            Waited::TimedOut => Err(Raise::exc_args(PyClass::QUEUE_EMPTY, Vec::new())),
            Waited::PeerGone => Err(Raise::PeerGone),
        }
    }
}

fn block_arg(v: Option<PyValue>) -> bool {
    v.is_none_or(|b| b.truthy())
}

impl Referent for QueueObj {
    fn type_name(&self) -> &'static str {
        "Queue"
    }

    fn public_methods(&self) -> Vec<String> {
        names(PUBLIC)
    }

    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let v = match method {
            "put" => {
                let mut p = Params::bind("put", &["item", "block", "timeout"], args, kwargs)?;
                let item = p.req(0)?;
                let block = block_arg(p.given(1));
                self.put(ctx, item, block, p.opt(2))?
            }
            "put_nowait" => {
                let item = Params::bind("put_nowait", &["item"], args, kwargs)?.req(0)?;
                self.put(ctx, item, false, None)?
            }
            "get" => {
                let mut p = Params::bind("get", &["block", "timeout"], args, kwargs)?;
                let block = block_arg(p.given(0));
                self.get(ctx, block, p.opt(1))?
            }
            "get_nowait" => {
                no_args("get_nowait", args, kwargs)?;
                self.get(ctx, false, None)?
            }
            "qsize" => {
                no_args("qsize", args, kwargs)?;
                PyValue::Int(lock(&self.state).items.len() as i128)
            }
            "empty" => {
                no_args("empty", args, kwargs)?;
                PyValue::Bool(lock(&self.state).items.is_empty())
            }
            "full" => {
                no_args("full", args, kwargs)?;
                PyValue::Bool(self.is_full(&lock(&self.state)))
            }
            "task_done" => {
                no_args("task_done", args, kwargs)?;
                let mut g = lock(&self.state);
                if g.unfinished == 0 {
                    return Err(Raise::exc(
                        PyClass::VALUE_ERROR,
                        "task_done() called too many times",
                    ));
                }
                g.unfinished -= 1;
                drop(g);
                self.changed.notify_all();
                PyValue::None
            }
            "join" => {
                no_args("join", args, kwargs)?;
                let g = lock(&self.state);
                match wait_until(ctx, g, &self.changed, None, |s| s.unfinished == 0).1 {
                    Waited::PeerGone => return Err(Raise::PeerGone),
                    _ => PyValue::None,
                }
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        format!(
            "<queue.Queue object, {} items>",
            lock(&self.state).items.len()
        )
    }
}
