//! The payload codec of every message: [postcard](https://docs.rs/postcard), with typed errors.
//!
//! A message on a stream is a header (see [`crate::stream`]) and this payload; a queue item in
//! shared memory is this payload alone. Decoding never panics and never trusts the bytes: bytes
//! that do not decode to the expected type, or that are left over after it, are
//! [`Error::Corrupt`].
//!
//! ```
//! use multiproc_core::codec;
//! use multiproc_core::error::CorruptReason;
//!
//! let mut buf = Vec::new();
//! codec::encode(&(42u32, None::<u8>, "hello"), &mut buf)?;
//! let value: (u32, Option<u8>, String) = codec::decode(&buf)?;
//! assert_eq!(value, (42, None, "hello".to_string()));
//!
//! // Bytes left over are an error, not silently ignored.
//! buf.push(0);
//! let err = codec::decode::<(u32, Option<u8>, String)>(&buf).unwrap_err();
//! assert!(matches!(
//!     err,
//!     multiproc_core::Error::Corrupt { reason: CorruptReason::TrailingBytes(1) }
//! ));
//! # Ok::<(), multiproc_core::Error>(())
//! ```
//!
//! Values that own descriptors encode only through [`crate::transfer`], which carries the
//! descriptors out of band: here they are [`Error::FdOutsideTransfer`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CorruptReason, Error, Result};
use crate::transfer;

/// Appends `value`'s postcard bytes to `out`.
///
/// # Errors
/// [`Error::Encode`] when serde fails; the typed reason when a `Serialize` impl of this crate
/// failed (for example [`Error::FdOutsideTransfer`]). `out` is then left as it was.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    transfer::clear_failure();
    // `to_extend` consumes its buffer, also when it fails: hand it `out` only when there is
    // nothing in it to lose.
    let r = if out.is_empty() {
        postcard::to_extend(value, std::mem::take(out)).map(|v| *out = v)
    } else {
        postcard::to_stdvec(value).map(|v| out.extend_from_slice(&v))
    };
    r.map_err(|e| transfer::take_failure(Error::Encode(e)))
}

/// Decodes a whole payload as a `T`.
///
/// # Errors
/// [`Error::Corrupt`] with [`CorruptReason::Decode`] or [`CorruptReason::TrailingBytes`]; the
/// typed reason when a `Deserialize` impl of this crate refused (a missing descriptor, a
/// refused handle).
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T> {
    transfer::clear_failure();
    match postcard::take_from_bytes::<T>(payload) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(CorruptReason::TrailingBytes(rest.len()).into()),
        Err(e) => Err(transfer::take_failure(CorruptReason::Decode(e).into())),
    }
}
