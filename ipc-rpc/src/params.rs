//! [`Params`]: what a client call takes as its arguments.

use serde::Serialize;

use crate::{Error, Value, to_value};

/// The parameters of a call: a tuple of `Serialize` values (up to 8; `()` for none), or a
/// ready-made `Vec<Value>`.
///
/// ```
/// use multiproc_rpc::{Params, Value};
/// assert_eq!((2, "x").into_params()?, vec![Value::Int(2), Value::from("x")]);
/// // One argument is a one-element tuple: note the comma.
/// assert_eq!((vec![1, 2],).into_params()?.len(), 1);
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
pub trait Params {
    /// Converts the arguments into XML-RPC values.
    fn into_params(self) -> Result<Vec<Value>, Error>;
}

impl Params for Vec<Value> {
    fn into_params(self) -> Result<Vec<Value>, Error> {
        Ok(self)
    }
}

impl Params for &[Value] {
    fn into_params(self) -> Result<Vec<Value>, Error> {
        Ok(self.to_vec())
    }
}

macro_rules! tuple_params {
    ($($a:ident $i:tt),*) => {
        impl<$($a: Serialize,)*> Params for ($($a,)*) {
            fn into_params(self) -> Result<Vec<Value>, Error> {
                Ok(vec![$(to_value(&self.$i)?),*])
            }
        }
    };
}

tuple_params!();
tuple_params!(A0 0);
tuple_params!(A0 0, A1 1);
tuple_params!(A0 0, A1 1, A2 2);
tuple_params!(A0 0, A1 1, A2 2, A3 3);
tuple_params!(A0 0, A1 1, A2 2, A3 3, A4 4);
tuple_params!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5);
tuple_params!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6);
tuple_params!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7);
