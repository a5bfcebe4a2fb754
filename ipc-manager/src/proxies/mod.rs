//! The typed proxies of `SyncManager`'s type ids.

mod acquirer;
mod array;
mod barrier;
mod condition;
mod dict;
mod event;
mod list;
mod namespace;
mod queue;
mod value;

pub use acquirer::{AcquireGuard, AcquirerProxy};
pub use array::ArrayProxy;
pub use barrier::BarrierProxy;
pub use condition::ConditionProxy;
pub use dict::DictProxy;
pub use event::EventProxy;
pub use list::ListProxy;
pub use namespace::NamespaceProxy;
pub use queue::QueueProxy;
pub use value::ValueProxy;

use std::time::Duration;

use crate::value::PyValue;

/// A timeout as Python's methods take it: seconds (a float).
pub(crate) fn secs(t: Duration) -> PyValue {
    PyValue::Float(t.as_secs_f64())
}

/// The boilerplate of a typed proxy: the struct around a `BaseProxy`, `Clone`, `Debug`
/// without bounds, serde, `Proxy`.
macro_rules! proxy_type {
    ($(#[$m:meta])* $name:ident $(< $($t:ident),* >)?) => {
        $(#[$m])*
        pub struct $name $(< $($t),* >)? {
            base: $crate::proxy::BaseProxy,
            $(_t: std::marker::PhantomData<fn() -> ($($t,)*)>,)?
        }

        impl $(< $($t),* >)? Clone for $name $(< $($t),* >)? {
            fn clone(&self) -> Self {
                $name { base: self.base.clone(), $(_t: std::marker::PhantomData::<fn() -> ($($t,)*)>,)? }
            }
        }

        impl $(< $($t),* >)? std::fmt::Debug for $name $(< $($t),* >)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("token", self.base.token())
                    .finish()
            }
        }

        impl $(< $($t),* >)? serde::Serialize for $name $(< $($t),* >)? {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.base.serialize(s)
            }
        }

        impl<'de, $($($t),*)?> serde::Deserialize<'de> for $name $(< $($t),* >)? {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::proxy::BaseProxy::deserialize(d).map(<Self as $crate::proxy::Proxy>::from_base)
            }
        }

        impl $(< $($t),* >)? $crate::proxy::Proxy for $name $(< $($t),* >)? {
            fn from_base(base: $crate::proxy::BaseProxy) -> Self {
                $name { base, $(_t: std::marker::PhantomData::<fn() -> ($($t,)*)>,)? }
            }
            fn base(&self) -> &$crate::proxy::BaseProxy {
                &self.base
            }
        }

        impl $(< $($t),* >)? $name $(< $($t),* >)? {
            /// The reference underneath (token, `repr`, a copy of the value).
            pub fn base_proxy(&self) -> &$crate::proxy::BaseProxy {
                &self.base
            }

            /// Python's `repr` of the object (what `print(proxy)` shows in Python).
            pub fn repr(&self) -> Result<String, $crate::Error> {
                self.base.repr()
            }
        }
    };
}
pub(crate) use proxy_type;
