//! [`BaseProxy`]: a reference to an object in a manager, and the [`Proxy`] trait of the typed
//! proxies built on it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::client::{self, Authkey, Endpoint};
use crate::de::from_value;
use crate::error::Error;
use crate::protocol::{Reply, Request, Token};
use crate::ser::to_value;
use crate::value::PyValue;

/// A typed proxy: a [`BaseProxy`] with the methods of one kind of object.
pub trait Proxy: Sized {
    /// Wraps a reference (written by the [`shared`](crate::shared) attribute and this crate;
    /// the reference's type id is not checked).
    fn from_base(base: BaseProxy) -> Self;
    /// The reference underneath.
    fn base(&self) -> &BaseProxy;
}

struct Inner {
    token: Token,
    exposed: Vec<String>,
    /// The key, when this process knows it (else the one remembered for the address).
    authkey: Option<Authkey>,
    /// The process that holds this handle's reference in the manager (0: none yet).
    holder: AtomicU32,
}

impl Inner {
    fn endpoint(&self) -> Result<Endpoint, Error> {
        let authkey = self
            .authkey
            .clone()
            .or_else(|| client::known_key(&self.token.address))
            .ok_or(Error::NoAuthkey)?;
        Ok(Endpoint {
            address: self.token.address.clone(),
            authkey,
        })
    }

    /// Takes a reference for this process if it holds none (a fresh copy, or a copy that
    /// came through `fork`).
    fn ensure_ref(&self) -> Result<(), Error> {
        let me = std::process::id();
        if self.holder.load(Ordering::Acquire) == me {
            return Ok(());
        }
        self.endpoint()?
            .server("incref", vec![PyValue::Str(self.token.id.clone())])?;
        self.holder.store(me, Ordering::Release);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Only the process that took the reference gives it back; a forked copy does not.
        if self.holder.load(Ordering::Acquire) == std::process::id()
            && let Ok(ep) = self.endpoint()
        {
            let _ = ep.server("decref", vec![PyValue::Str(self.token.id.clone())]);
        }
    }
}

/// A reference to an object in a manager: Python's `BaseProxy`.
///
/// Clones share one reference in the manager; the object is freed when the last reference of
/// every process is gone. A `BaseProxy` is serde: sent to a child that `multiproc-process`
/// starts it carries the manager's authkey; sent anywhere else (a pipe, a queue, another
/// machine) it does not, and the receiver uses the key it knows for that manager (from its
/// own [`Manager`](crate::Manager)), as in Python.
#[derive(Clone)]
pub struct BaseProxy {
    inner: Arc<Inner>,
}

impl fmt::Debug for BaseProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseProxy")
            .field("typeid", &self.inner.token.typeid)
            .field("id", &self.inner.token.id)
            .field("address", &self.inner.token.address)
            .finish()
    }
}

impl BaseProxy {
    /// A proxy for a reference this process already holds (from `create` or `#PROXY`).
    pub(crate) fn adopt(token: Token, exposed: Vec<String>, authkey: Authkey) -> BaseProxy {
        BaseProxy {
            inner: Arc::new(Inner {
                token,
                exposed,
                authkey: Some(authkey),
                holder: AtomicU32::new(std::process::id()),
            }),
        }
    }

    /// The object's token: type id, manager address, id.
    pub fn token(&self) -> &Token {
        &self.inner.token
    }

    /// The methods the object exposes.
    pub fn exposed(&self) -> &[String] {
        &self.inner.exposed
    }

    pub(crate) fn authkey(&self) -> Result<Authkey, Error> {
        self.inner.endpoint().map(|e| e.authkey)
    }

    /// Calls `method` with these arguments and returns the raw reply. Used by the typed proxies
    /// (and the code the [`shared`](crate::shared) attribute writes), not by user code.
    pub(crate) fn call_raw(
        &self,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<Reply, Error> {
        self.inner.ensure_ref()?;
        let ep = self.inner.endpoint()?;
        let reply = ep.call(&Request {
            id: Some(self.inner.token.id.clone()),
            method: method.into(),
            args,
            kwargs,
        })?;
        Ok(reply)
    }

    /// Calls `method` and converts its result to `R`.
    #[doc(hidden)]
    pub fn call<R: DeserializeOwned>(&self, method: &str, args: Vec<PyValue>) -> Result<R, Error> {
        let v = client::into_result(self.call_raw(method, args, Vec::new())?)?;
        Ok(from_value(v)?)
    }

    /// Calls `method`, whose result the manager shares as a new object (`#PROXY`).
    #[doc(hidden)]
    pub fn call_proxy<P: Proxy>(&self, method: &str, args: Vec<PyValue>) -> Result<P, Error> {
        match self.call_raw(method, args, Vec::new())? {
            Reply::Proxy { exposed, mut token } => {
                // Reach the new object where we reach this one (as Python's client does).
                token.address = self.inner.token.address.clone();
                let key = self.authkey()?;
                Ok(P::from_base(BaseProxy::adopt(token, exposed, key)))
            }
            other => {
                Err(client::into_result(other)
                    .err()
                    .unwrap_or(Error::Fault(crate::Fault::Other(
                        "a value where a proxy was expected".into(),
                    ))))
            }
        }
    }

    /// Python's `repr` of the object (`str(proxy)` in Python: `['a']`).
    pub fn repr(&self) -> Result<String, Error> {
        self.call("__repr__", Vec::new())
    }

    /// Python's `str` of the object.
    pub fn str(&self) -> Result<String, Error> {
        self.call("__str__", Vec::new())
    }

    /// A copy of the object's value (Python's `_getvalue()`).
    pub fn getvalue<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.call("#GETVALUE", Vec::new())
    }
}

/// An argument for a call.
#[doc(hidden)]
pub fn arg<T: Serialize + ?Sized>(v: &T) -> Result<PyValue, Error> {
    Ok(to_value(v)?)
}

#[derive(Serialize, Deserialize)]
struct ProxyWire {
    token: Token,
    exposed: Vec<String>,
    authkey: Option<Vec<u8>>,
    /// A reference taken for the receiver, outside any session, which it gives back once it
    /// holds its own: the object stays alive between the parent's last drop and the child's
    /// start.
    handoff: bool,
}

impl Serialize for BaseProxy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The key goes only to a child this process starts (Python's get_spawning_popen()).
        let for_child = multiproc_core::transfer::preparing_child();
        let endpoint = self.inner.endpoint().ok();
        let authkey = endpoint
            .as_ref()
            .filter(|_| for_child)
            .map(|e| e.authkey.as_bytes().to_vec());
        let handoff = for_child
            && endpoint.is_some_and(|e| {
                e.server_detached("incref", vec![PyValue::Str(self.inner.token.id.clone())])
                    .is_ok()
            });
        ProxyWire {
            token: self.inner.token.clone(),
            exposed: self.inner.exposed.clone(),
            authkey,
            handoff,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for BaseProxy {
    /// Rebuilds the proxy and takes a reference for this process at once, as Python's
    /// `RebuildProxy` does (if the manager cannot be reached now, the first call reports it).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BaseProxy, D::Error> {
        let w = ProxyWire::deserialize(d)?;
        let authkey = w.authkey.map(Authkey::from);
        if let Some(k) = &authkey {
            client::remember_key(&w.token.address, k);
        }
        let inner = Inner {
            token: w.token,
            exposed: w.exposed,
            authkey,
            holder: AtomicU32::new(0),
        };
        let _ = inner.ensure_ref();
        if w.handoff
            && let Ok(ep) = inner.endpoint()
        {
            let _ = ep.server_detached("decref", vec![PyValue::Str(inner.token.id.clone())]);
        }
        Ok(BaseProxy {
            inner: Arc::new(inner),
        })
    }
}

impl Proxy for BaseProxy {
    fn from_base(base: BaseProxy) -> Self {
        base
    }
    fn base(&self) -> &BaseProxy {
        self
    }
}
