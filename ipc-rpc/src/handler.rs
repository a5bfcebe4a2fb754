//! [`Handler`], [`MethodHandler`] and [`Reply`]: how plain Rust functions become XML-RPC
//! methods.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Fault, Value, from_value, to_value};

/// What a method may return: any `Serialize` value, or `Result<T, Fault>` to answer with a
/// fault. The type parameter only tells the two apart; you never name it.
pub trait Reply<M>: 'static {
    /// Converts the return value into the response.
    fn into_reply(self) -> Result<Value, Fault>;
}

/// Marks a plain `Serialize` return value.
#[doc(hidden)]
pub struct Plain;
/// Marks a `Result<T, Fault>` return value.
#[doc(hidden)]
pub struct Fallible;

fn conversion_fault(e: crate::Error) -> Fault {
    Fault::python("TypeError", format!("cannot marshal the result: {e}"))
}

impl<T: Serialize + 'static> Reply<Plain> for T {
    fn into_reply(self) -> Result<Value, Fault> {
        to_value(&self).map_err(conversion_fault)
    }
}

impl<T: Serialize + 'static> Reply<Fallible> for Result<T, Fault> {
    fn into_reply(self) -> Result<Value, Fault> {
        self.and_then(|v| to_value(&v).map_err(conversion_fault))
    }
}

/// A function that can serve an XML-RPC method: any `Fn(A, B, ...) -> R` (up to 8 arguments)
/// whose arguments are `Deserialize` and whose result is a [`Reply`].
///
/// Each XML-RPC parameter is converted into the matching argument with
/// [`from_value`]; a missing trailing parameter is `Nil`, so an `Option` argument may be left
/// out (like a Python default). A closure taking `Vec<Value>` alone is *not* special: write
/// `|args: Vec<Value>|` for a method that takes one array; for raw access to all parameters use
/// [`Server::register_raw`](crate::Server::register_raw).
///
/// Wrong number or types of parameters give Python's `TypeError` fault.
pub trait Handler<Args, M>: Send + Sync + 'static {
    /// Calls the function with the request's parameters.
    fn call(&self, name: &str, params: Vec<Value>) -> Result<Value, Fault>;
}

/// Like [`Handler`], for a method of an object: `Fn(&T, A, B, ...) -> R`.
pub trait MethodHandler<T, Args, M>: Send + Sync + 'static {
    /// Calls the method on `this` with the request's parameters.
    fn call(&self, this: &T, name: &str, params: Vec<Value>) -> Result<Value, Fault>;
}

/// Splits `params` into exactly `N` values (padding with `Nil`), or the `TypeError` Python
/// raises for too many.
pub(crate) fn arity<const N: usize>(name: &str, params: Vec<Value>) -> Result<[Value; N], Fault> {
    if params.len() > N {
        return Err(Fault::python(
            "TypeError",
            format!(
                "{name}() takes {N} positional argument{} but {} {} given",
                if N == 1 { "" } else { "s" },
                params.len(),
                if params.len() == 1 { "was" } else { "were" }
            ),
        ));
    }
    let mut it = params.into_iter();
    Ok(std::array::from_fn(|_| it.next().unwrap_or(Value::Nil)))
}

pub(crate) fn arg<A: DeserializeOwned + 'static>(
    name: &str,
    i: usize,
    v: Value,
) -> Result<A, Fault> {
    let was_missing = v.is_nil();
    from_value(v).map_err(|e| {
        let e = match e {
            crate::Error::Type(m) => m,
            other => other.to_string(),
        };
        if was_missing {
            Fault::python(
                "TypeError",
                format!("{name}() argument {} is missing or None: {e}", i + 1),
            )
        } else {
            Fault::python("TypeError", format!("{name}() argument {}: {e}", i + 1))
        }
    })
}

macro_rules! handlers {
    ($n:literal; $($a:ident $i:tt),*) => {
        impl<F, R, M, $($a,)*> Handler<($($a,)*), M> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: Reply<M>,
            $($a: DeserializeOwned + 'static,)*
        {
            #[allow(unused_variables, non_snake_case)]
            fn call(&self, name: &str, params: Vec<Value>) -> Result<Value, Fault> {
                let [$($a),*] = arity::<$n>(name, params)?;
                $(let $a = arg::<$a>(name, $i, $a)?;)*
                (self)($($a),*).into_reply()
            }
        }

        impl<T, F, R, M, $($a,)*> MethodHandler<T, ($($a,)*), M> for F
        where
            F: Fn(&T, $($a),*) -> R + Send + Sync + 'static,
            R: Reply<M>,
            $($a: DeserializeOwned + 'static,)*
        {
            #[allow(unused_variables, non_snake_case)]
            fn call(&self, this: &T, name: &str, params: Vec<Value>) -> Result<Value, Fault> {
                let [$($a),*] = arity::<$n>(name, params)?;
                $(let $a = arg::<$a>(name, $i, $a)?;)*
                (self)(this, $($a),*).into_reply()
            }
        }
    };
}

handlers!(0;);
handlers!(1; A0 0);
handlers!(2; A0 0, A1 1);
handlers!(3; A0 0, A1 1, A2 2);
handlers!(4; A0 0, A1 1, A2 2, A3 3);
handlers!(5; A0 0, A1 1, A2 2, A3 3, A4 4);
handlers!(6; A0 0, A1 1, A2 2, A3 3, A4 4, A5 5);
handlers!(7; A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6);
handlers!(8; A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7);
