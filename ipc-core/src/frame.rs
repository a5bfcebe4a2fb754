//! Message frames: a 4-byte little-endian length, then that many bytes of
//! [postcard](https://docs.rs/postcard).
//!
//! ```text
//! +----------------+---------------------------+
//! | len: u32 (LE)  | payload: len bytes        |
//! +----------------+---------------------------+
//! ```
//!
//! Decoding never panics and never trusts the header: a length above the limit is
//! [`Error::FrameTooLarge`] before anything is allocated, a short buffer or stream is
//! [`Error::FrameTruncated`], and bytes that do not decode to the expected type, or that are left
//! over after it, are [`Error::FrameCorrupt`]. [`read_frame`] grows its buffer only as bytes
//! actually arrive, so a peer that announces 1 GiB and sends ten bytes costs ten bytes.
//!
//! ```
//! use multiproc_core::frame;
//!
//! let mut buf = Vec::new();
//! frame::encode(&(42u32, None::<u8>, "hello"), &mut buf)?;
//! let (value, used): ((u32, Option<u8>, String), usize) = frame::decode(&buf, frame::DEFAULT_MAX_FRAME)?;
//! assert_eq!(value, (42, None, "hello".to_string()));
//! assert_eq!(used, buf.len());
//!
//! // A corrupt header is an error, not a panic or a huge allocation.
//! let err = frame::decode::<String>(&[0xff, 0xff, 0xff, 0xff], 1024).unwrap_err();
//! assert!(matches!(err, multiproc_core::Error::FrameTooLarge { .. }));
//! # Ok::<(), multiproc_core::Error>(())
//! ```

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::transfer;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The default limit on a frame's payload: 1 GiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 30;

/// The largest payload a header can describe.
pub const ABSOLUTE_MAX_FRAME: usize = u32::MAX as usize;

/// How much [`read_frame`] lets its buffer grow ahead of the bytes that have arrived.
const GROW_STEP: usize = 1 << 20;

/// Appends `value`'s postcard bytes to `out`, without a header.
pub fn encode_payload<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    let taken = std::mem::take(out);
    transfer::clear_failure();
    match postcard::to_extend(value, taken) {
        Ok(v) => {
            *out = v;
            Ok(())
        }
        // A `Serialize` impl of ours may have recorded the typed reason (e.g. a descriptor
        // serialised outside `transfer`); postcard keeps only "custom error".
        Err(e) => Err(transfer::take_failure(Error::Encode(e.to_string()))),
    }
}

/// Appends one frame (header + postcard payload) for `value` to `out`; returns the frame's
/// length including the header.
///
/// # Errors
/// [`Error::Encode`] when serde fails; [`Error::FrameTooLarge`] when the payload is above
/// [`DEFAULT_MAX_FRAME`] (`out` is then left as it was).
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<usize> {
    encode_limited(value, out, DEFAULT_MAX_FRAME)
}

/// [`encode`] with an explicit payload limit.
pub fn encode_limited<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<usize> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(e) = encode_payload(value, out) {
        out.truncate(start);
        return Err(e);
    }
    let len = out.len() - start - HEADER_LEN;
    if len > max.min(ABSOLUTE_MAX_FRAME) {
        out.truncate(start);
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max,
        });
    }
    out[start..start + HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(out.len() - start)
}

/// The header for a payload of `len` bytes.
pub fn header(len: usize) -> Result<[u8; HEADER_LEN]> {
    let n = u32::try_from(len).map_err(|_| Error::FrameTooLarge {
        len: len as u64,
        max: ABSOLUTE_MAX_FRAME,
    })?;
    Ok(n.to_le_bytes())
}

/// Reads a header: the payload length, checked against `max`.
pub fn parse_header(header: [u8; HEADER_LEN], max: usize) -> Result<usize> {
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max,
        });
    }
    Ok(len)
}

/// Decodes a whole payload (no header) as a `T`. Bytes left over are [`Error::FrameCorrupt`].
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T> {
    transfer::clear_failure();
    match postcard::take_from_bytes::<T>(payload) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(Error::FrameCorrupt(format!(
            "{} bytes left over after the value",
            rest.len()
        ))),
        Err(e) => Err(transfer::take_failure(Error::FrameCorrupt(e.to_string()))),
    }
}

/// Decodes the frame at the start of `buf`; returns the value and the bytes the frame took.
pub fn decode<T: DeserializeOwned>(buf: &[u8], max: usize) -> Result<(T, usize)> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Err(Error::FrameTruncated {
            expected: HEADER_LEN,
            got: buf.len(),
        });
    };
    let len = parse_header(*head, max)?;
    let body = &buf[HEADER_LEN..];
    if body.len() < len {
        return Err(Error::FrameTruncated {
            expected: HEADER_LEN + len,
            got: buf.len(),
        });
    }
    Ok((decode_payload(&body[..len])?, HEADER_LEN + len))
}

/// Writes one frame for `value`, using `scratch` as the encoding buffer (cleared first).
pub fn write_frame<W: Write, T: Serialize + ?Sized>(
    w: &mut W,
    value: &T,
    scratch: &mut Vec<u8>,
    max: usize,
) -> Result<()> {
    scratch.clear();
    encode_limited(value, scratch, max)?;
    w.write_all(scratch)?;
    Ok(())
}

/// Reads bytes until `buf` is full; `Ok(n < buf.len())` only at end of stream.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads one frame's payload into `payload` (replacing its contents).
///
/// Returns `Ok(false)` at a clean end of stream (no byte of a new frame), `Ok(true)` with the
/// payload in place otherwise. The buffer grows only as bytes arrive.
pub fn read_frame<R: Read>(r: &mut R, max: usize, payload: &mut Vec<u8>) -> Result<bool> {
    let mut head = [0u8; HEADER_LEN];
    let got = read_full(r, &mut head)?;
    if got == 0 {
        return Ok(false);
    }
    if got < HEADER_LEN {
        return Err(Error::FrameTruncated {
            expected: HEADER_LEN,
            got,
        });
    }
    let len = parse_header(head, max)?;
    payload.clear();
    while payload.len() < len {
        let start = payload.len();
        let step = (len - start).min(GROW_STEP);
        payload.resize(start + step, 0);
        let n = read_full(r, &mut payload[start..])?;
        if n < step {
            return Err(Error::FrameTruncated {
                expected: HEADER_LEN + len,
                got: HEADER_LEN + start + n,
            });
        }
    }
    Ok(true)
}

/// Reads one frame and decodes it; `Err(Error::Closed)` at a clean end of stream.
pub fn read_value<R: Read, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
    scratch: &mut Vec<u8>,
) -> Result<T> {
    if !read_frame(r, max, scratch)? {
        return Err(Error::Closed);
    }
    decode_payload(scratch)
}
