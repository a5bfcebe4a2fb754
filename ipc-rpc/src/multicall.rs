//! [`MultiCall`]: several calls in one request.

use crate::{Error, Params, Value};

/// A batch of calls sent in one request through `system.multicall`, like Python's
/// `xmlrpc.client.MultiCall`; run it with [`Client::multicall`](crate::Client::multicall).
///
/// ```
/// let mut batch = multiproc_rpc::MultiCall::new();
/// batch.add("add", (2, 3))?.add("pow", (2, 10))?;
/// assert_eq!(batch.len(), 2);
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MultiCall {
    calls: Vec<Value>,
}

impl MultiCall {
    /// An empty batch.
    pub fn new() -> Self {
        MultiCall::default()
    }

    /// Adds a call of `method` with `args`.
    ///
    /// # Errors
    ///
    /// [`Error::Type`] if an argument cannot be converted.
    pub fn add(&mut self, method: &str, args: impl Params) -> Result<&mut Self, Error> {
        let mut m = std::collections::BTreeMap::new();
        m.insert("methodName".to_string(), Value::from(method));
        m.insert("params".to_string(), Value::Array(args.into_params()?));
        self.calls.push(Value::Struct(m));
        Ok(self)
    }

    /// How many calls it holds.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub(crate) fn calls(&self) -> &[Value] {
        &self.calls
    }
}
