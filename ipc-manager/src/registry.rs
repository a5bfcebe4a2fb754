//! [`Registry`]: the type ids a manager serves (Python's `BaseManager.register`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::objects::{self, Args, Kwargs, Raise, Referent};
use crate::shared::{SharedObject, UserObject, args_into};
use crate::value::PyValue;

type Factory = Arc<dyn Fn(Args, Kwargs) -> Result<Arc<dyn Referent>, Raise> + Send + Sync>;

/// One registered type id.
#[derive(Clone)]
pub(crate) struct TypeEntry {
    /// Makes the object from `create`'s arguments (`None`: the type id is only returned by
    /// methods, as `Iterator`).
    pub factory: Option<Factory>,
    /// The methods exposed (`None`: the object's public methods).
    pub exposed: Option<Vec<String>>,
    /// Methods whose result is shared as a new object of the given type id.
    pub method_to_typeid: HashMap<String, String>,
}

/// An object living in the server, which a registry can hand out under a type id each time it
/// is asked (Python's `register('get_list', callable=lambda: shared_list)`).
///
/// ```
/// use multiproc_manager::{Registry, ServerObject};
/// let tasks = ServerObject::queue(0);
/// let mut r = Registry::new();
/// r.register_object("get_task_queue", tasks.clone());
/// ```
#[derive(Clone)]
pub struct ServerObject(pub(crate) Arc<dyn Referent>);

impl fmt::Debug for ServerObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerObject({})", self.0.repr())
    }
}

impl ServerObject {
    /// A `list` holding `items`.
    pub fn list(items: Vec<PyValue>) -> ServerObject {
        ServerObject(Arc::new(objects::ListObj::new(items)))
    }

    /// An empty `dict`.
    pub fn dict() -> ServerObject {
        ServerObject(Arc::new(objects::DictObj::new()))
    }

    /// A `queue.Queue` holding at most `maxsize` items (0: no limit).
    pub fn queue(maxsize: usize) -> ServerObject {
        ServerObject(Arc::new(objects::QueueObj::new(maxsize)))
    }

    /// An object of a type of your own.
    pub fn new<T: SharedObject>(object: T) -> ServerObject {
        ServerObject(Arc::new(UserObject::new(object)))
    }

    /// Python's `repr` of the object as it is now.
    pub fn repr(&self) -> String {
        self.0.repr()
    }
}

/// The type ids a manager serves, each with how to make its object and which methods it
/// exposes: Python's `BaseManager.register`.
///
/// [`Registry::sync`] holds `SyncManager`'s (`list`, `dict`, `Namespace`, `Queue`,
/// `JoinableQueue`, `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Condition`, `Event`,
/// `Barrier`, `Value`, `Array`, and `Iterator`, which `dict.__iter__` returns). Types of your own
/// come in with [`register`](Self::register) (see [`shared`](crate::shared)); objects the server
/// program keeps with [`register_object`](Self::register_object).
#[derive(Clone, Default)]
pub struct Registry {
    pub(crate) types: HashMap<String, TypeEntry>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.types.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("typeids", &names).finish()
    }
}

fn strings(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| (*s).to_owned()).collect())
}

impl Registry {
    /// An empty registry (Python's bare `BaseManager`).
    pub fn new() -> Registry {
        Registry::default()
    }

    /// `SyncManager`'s type ids, with the methods Python's proxies for them expose.
    pub fn sync() -> Registry {
        let mut r = Registry::new();
        let acquirer = strings(&["acquire", "release"]);
        let table: &[(&str, Option<Vec<String>>)] = &[
            ("list", strings(objects::list_exposed())),
            ("dict", strings(objects::dict_exposed())),
            ("Namespace", strings(objects::namespace_exposed())),
            ("Queue", None),
            ("JoinableQueue", None),
            ("Lock", acquirer.clone()),
            ("RLock", acquirer.clone()),
            ("Semaphore", acquirer.clone()),
            ("BoundedSemaphore", acquirer),
            (
                "Condition",
                strings(&["acquire", "release", "wait", "notify", "notify_all"]),
            ),
            ("Event", strings(&["is_set", "set", "clear", "wait"])),
            (
                "Barrier",
                strings(&["__getattribute__", "wait", "abort", "reset"]),
            ),
            ("Value", strings(&["get", "set"])),
            ("Array", strings(&["__len__", "__getitem__", "__setitem__"])),
        ];
        for (typeid, exposed) in table {
            let name = (*typeid).to_owned();
            let factory: Factory = Arc::new(move |args, kwargs| {
                objects::builtin(&name, args, kwargs).unwrap_or_else(|| {
                    Err(Raise::Fault(crate::protocol::Fault::UnknownTypeid(
                        name.clone(),
                    )))
                })
            });
            let mut m2t = HashMap::new();
            if *typeid == "dict" {
                m2t.insert("__iter__".to_owned(), "Iterator".to_owned());
            }
            r.types.insert(
                (*typeid).to_owned(),
                TypeEntry {
                    factory: Some(factory),
                    exposed: exposed.clone(),
                    method_to_typeid: m2t,
                },
            );
        }
        r.types.insert(
            "Iterator".into(),
            TypeEntry {
                factory: None,
                exposed: strings(&["__next__", "send", "throw", "close"]),
                method_to_typeid: HashMap::new(),
            },
        );
        r
    }

    /// Registers a type of your own under its type id ([`SharedObject::TYPEID`]): `create`
    /// calls `factory` with the arguments the client passed (a tuple for several, `()` for
    /// none).
    pub fn register<T, A>(&mut self, factory: impl Fn(A) -> T + Send + Sync + 'static) -> &mut Self
    where
        T: SharedObject,
        A: DeserializeOwned,
    {
        self.register_as::<T, A>(T::TYPEID, factory)
    }

    /// [`register`](Self::register) under another type id.
    pub fn register_as<T, A>(
        &mut self,
        typeid: &str,
        factory: impl Fn(A) -> T + Send + Sync + 'static,
    ) -> &mut Self
    where
        T: SharedObject,
        A: DeserializeOwned,
    {
        let f: Factory = Arc::new(move |args, kwargs| {
            let a: A = args_into(args, kwargs)?;
            Ok(Arc::new(UserObject::new(factory(a))) as Arc<dyn Referent>)
        });
        self.types.insert(
            typeid.to_owned(),
            TypeEntry {
                factory: Some(f),
                exposed: strings(T::EXPOSED),
                method_to_typeid: T::METHOD_TO_TYPEID
                    .iter()
                    .map(|(m, t)| ((*m).to_owned(), (*t).to_owned()))
                    .collect(),
            },
        );
        self
    }

    /// Registers `typeid` as the object `object` itself: every `create` of it gives a proxy to
    /// that same object (Python's `register(typeid, callable=lambda: obj)`). The object
    /// exposes its public methods, as Python's `AutoProxy`.
    pub fn register_object(&mut self, typeid: &str, object: ServerObject) -> &mut Self {
        let f: Factory = Arc::new(move |_, _| Ok(object.0.clone()));
        self.types.insert(
            typeid.to_owned(),
            TypeEntry {
                factory: Some(f),
                exposed: None,
                method_to_typeid: HashMap::new(),
            },
        );
        self
    }

    /// Whether `typeid` is registered.
    pub fn contains(&self, typeid: &str) -> bool {
        self.types.contains_key(typeid)
    }
}
