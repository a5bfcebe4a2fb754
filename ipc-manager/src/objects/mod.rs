//! The objects a manager serves: the trait every referent implements, argument binding in
//! Python's way, waiting that notices a dead client, and the built-in types of `SyncManager`.

use std::sync::{Arc, Condvar, MutexGuard};
use std::time::Duration;

use multiproc_core::Deadline;

use crate::protocol::{Codec, Fault};
use crate::value::{PyClass, PyValue};

mod barrier;
mod condition;
mod dict;
mod event;
mod iterator;
mod list;
mod lock;
mod namespace;
mod queue;
mod value;

pub(crate) use barrier::BarrierObj;
pub(crate) use condition::ConditionObj;
pub(crate) use dict::DictObj;
pub(crate) use event::EventObj;
pub(crate) use iterator::IteratorObj;
pub(crate) use list::ListObj;
pub(crate) use lock::{LockObj, SemaphoreObj};
pub(crate) use namespace::NamespaceObj;
pub(crate) use queue::QueueObj;
pub(crate) use value::{ArrayObj, ValueObj};

/// Which accepted connection a call came on (the owner of a lock it takes).
pub(crate) type ConnId = u64;

/// Positional arguments of a call.
pub type Args = Vec<PyValue>;
/// Keyword arguments of a call.
pub type Kwargs = Vec<(String, PyValue)>;

/// What a call needs to know about where it came from.
pub struct CallCtx<'a> {
    /// The connection.
    pub(crate) conn: ConnId,
    /// How the peer reads replies.
    #[allow(dead_code)]
    pub(crate) codec: Codec,
    /// Whether the peer has hung up (checked while a call waits).
    pub(crate) peer_gone: &'a dyn Fn() -> bool,
}

/// What a method gave back.
pub enum Outcome {
    /// A value (`#RETURN`).
    Value(PyValue),
    /// A lock was taken whose previous holder's connection closed while holding it.
    OwnerDied(PyValue),
    /// A new object to share under `typeid` (`#PROXY`): Python's `method_to_typeid`.
    Object {
        /// Its type id.
        typeid: String,
        /// The object.
        object: Arc<dyn Referent>,
    },
}

/// Why a method did not return.
pub enum Raise {
    /// It raised this exception (`#ERROR`).
    Exception(PyValue),
    /// The server could not run it (`#TRACEBACK`).
    Fault(Fault),
    /// The client hung up while the call waited; nothing is to be sent.
    PeerGone,
}

impl Raise {
    /// An exception of `class` with one message argument.
    pub fn exc(class: PyClass, msg: impl Into<String>) -> Raise {
        Raise::Exception(PyValue::exception(class, msg))
    }

    /// An exception of `class` with these args.
    pub fn exc_args(class: PyClass, args: Vec<PyValue>) -> Raise {
        Raise::Exception(PyValue::Object(crate::value::PyObject::new(class, args)))
    }
}

/// An object a manager serves.
///
/// Calls come from several connections at once (each on its own thread): an object guards its
/// own state, and a call that waits (a queue's `get`, a lock's `acquire`) must not hold that
/// guard while it waits, so that other calls go on.
#[doc(hidden)]
pub trait Referent: Send + Sync + 'static {
    /// Python's name for the type (`list`), for messages.
    fn type_name(&self) -> &'static str;
    /// The methods exposed when the registry does not say (Python's `public_methods`).
    fn public_methods(&self) -> Vec<String>;
    /// Runs `method`.
    fn call(
        &self,
        ctx: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise>;
    /// Python's `repr` of the object.
    fn repr(&self) -> String;
    /// Python's `str` of the object.
    fn str(&self) -> String {
        self.repr()
    }
    /// A copy of the value (`#GETVALUE`).
    fn value(&self) -> Result<PyValue, Raise> {
        Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("cannot copy a {} object", self.type_name()),
        ))
    }
    /// The connection `conn` closed: release what it held.
    fn connection_closed(&self, _conn: ConnId) {}
}

/// Binds a call's arguments to named parameters, as Python does.
pub(crate) struct Params {
    method: &'static str,
    slots: Vec<Option<PyValue>>,
}

impl Params {
    /// Binds `args` then `kwargs` to `names`; too many, unknown or twice-given arguments are a
    /// `TypeError`.
    pub(crate) fn bind(
        method: &'static str,
        names: &[&'static str],
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Params, Raise> {
        if args.len() > names.len() {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                format!(
                    "{method}() takes at most {} arguments ({} given)",
                    names.len(),
                    args.len()
                ),
            ));
        }
        let mut slots: Vec<Option<PyValue>> = vec![None; names.len()];
        for (i, a) in args.into_iter().enumerate() {
            slots[i] = Some(a);
        }
        for (k, v) in kwargs {
            let Some(i) = names.iter().position(|n| *n == k) else {
                return Err(Raise::exc(
                    PyClass::TYPE_ERROR,
                    format!("{method}() got an unexpected keyword argument '{k}'"),
                ));
            };
            if slots[i].is_some() {
                return Err(Raise::exc(
                    PyClass::TYPE_ERROR,
                    format!("{method}() got multiple values for argument '{k}'"),
                ));
            }
            slots[i] = Some(v);
        }
        Ok(Params { method, slots })
    }

    /// Parameter `i`, which must be given.
    pub(crate) fn req(&mut self, i: usize) -> Result<PyValue, Raise> {
        self.slots.get_mut(i).and_then(Option::take).ok_or_else(|| {
            Raise::exc(
                PyClass::TYPE_ERROR,
                format!("{}() missing required argument {}", self.method, i + 1),
            )
        })
    }

    /// Parameter `i`, if given (and not `None`).
    pub(crate) fn opt(&mut self, i: usize) -> Option<PyValue> {
        match self.slots.get_mut(i).and_then(Option::take) {
            Some(PyValue::None) | None => None,
            Some(v) => Some(v),
        }
    }

    /// Parameter `i` as given, `None` included.
    pub(crate) fn given(&mut self, i: usize) -> Option<PyValue> {
        self.slots.get_mut(i).and_then(Option::take)
    }
}

/// A call with no parameters: anything given is a `TypeError`.
pub(crate) fn no_args(method: &'static str, args: Args, kwargs: Kwargs) -> Result<(), Raise> {
    Params::bind(method, &[], args, kwargs).map(|_| ())
}

/// An `int` argument.
pub(crate) fn int_arg(v: &PyValue, what: &str) -> Result<i128, Raise> {
    v.as_int().ok_or_else(|| {
        Raise::exc(
            PyClass::TYPE_ERROR,
            format!(
                "'{}' object cannot be interpreted as an integer ({what})",
                v.type_name()
            ),
        )
    })
}

/// A timeout argument in seconds (`None`: forever; negative: zero, as Python's queue refuses
/// and threading treats as zero).
pub(crate) fn timeout_arg(v: Option<PyValue>) -> Result<Option<Duration>, Raise> {
    match v {
        None | Some(PyValue::None) => Ok(None),
        Some(PyValue::Float(f)) if f.is_nan() => Err(Raise::exc(
            PyClass::VALUE_ERROR,
            "timeout must be a non-negative number",
        )),
        Some(PyValue::Float(f)) => Ok(Some(Duration::from_secs_f64(f.clamp(0.0, 1e9)))),
        Some(v) => {
            let i = int_arg(&v, "timeout")?;
            Ok(Some(Duration::from_secs(i.clamp(0, 1_000_000_000) as u64)))
        }
    }
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    Ready,
    TimedOut,
    PeerGone,
}

/// How often a waiting call looks whether its client hung up.
const PEER_CHECK: Duration = Duration::from_millis(500);

/// Waits on `cv` until `ready` holds, the timeout runs out, or the client hangs up (looked at
/// every half second, so a server thread serving a client that died ends soon after).
pub(crate) fn wait_until<'a, T>(
    ctx: &CallCtx<'_>,
    mut g: MutexGuard<'a, T>,
    cv: &Condvar,
    timeout: Option<Duration>,
    mut ready: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, Waited) {
    let deadline = Deadline::from_timeout(timeout);
    loop {
        if ready(&mut g) {
            return (g, Waited::Ready);
        }
        let Some(slice) = deadline.next_sleep(PEER_CHECK) else {
            return (g, Waited::TimedOut);
        };
        let (g2, res) = cv.wait_timeout(g, slice).unwrap_or_else(|p| p.into_inner());
        g = g2;
        if res.timed_out() && (ctx.peer_gone)() {
            return (g, Waited::PeerGone);
        }
    }
}

/// Locks a mutex, going on past a poisoned one (a panicking method is reported to its caller
/// and the server goes on; the state it left is whatever the method left).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A `TypeError` for a method name the object does not have.
pub(crate) fn no_method(obj: &dyn Referent, method: &str) -> Raise {
    Raise::exc(
        PyClass::ATTRIBUTE_ERROR,
        format!("'{}' object has no attribute '{}'", obj.type_name(), method),
    )
}

/// Strings from a list of names.
pub(crate) fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| (*s).to_owned()).collect()
}

/// Builds the referent for a `SyncManager` type id from `create`'s arguments.
pub(crate) fn builtin(
    typeid: &str,
    args: Args,
    kwargs: Kwargs,
) -> Option<Result<Arc<dyn Referent>, Raise>> {
    let r: Result<Arc<dyn Referent>, Raise> = match typeid {
        "list" => ListObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "dict" => DictObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Namespace" => NamespaceObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Queue" | "JoinableQueue" => QueueObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Lock" => LockObj::lock(args, kwargs).map(|o| Arc::new(o) as _),
        "RLock" => LockObj::rlock(args, kwargs).map(|o| Arc::new(o) as _),
        "Semaphore" => SemaphoreObj::semaphore(args, kwargs).map(|o| Arc::new(o) as _),
        "BoundedSemaphore" => SemaphoreObj::bounded(args, kwargs).map(|o| Arc::new(o) as _),
        "Condition" => ConditionObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Event" => EventObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Barrier" => BarrierObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Value" => ValueObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        "Array" => ArrayObj::create(args, kwargs).map(|o| Arc::new(o) as _),
        _ => return None,
    };
    Some(r)
}

/// What `SyncManager`'s `list` exposes.
pub(crate) fn list_exposed() -> &'static [&'static str] {
    list::EXPOSED
}

/// What `SyncManager`'s `dict` exposes.
pub(crate) fn dict_exposed() -> &'static [&'static str] {
    dict::EXPOSED
}

/// What `SyncManager`'s `Namespace` exposes.
pub(crate) fn namespace_exposed() -> &'static [&'static str] {
    namespace::EXPOSED
}
