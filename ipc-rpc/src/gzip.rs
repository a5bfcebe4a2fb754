//! gzip bodies, as Python's `xmlrpc` client and server send them (`Content-Encoding: gzip`),
//! decoded within a size limit so that a small body that inflates enormously (a gzip bomb)
//! is refused at the limit rather than filling memory.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// Why a gzip body was refused.
#[derive(Debug)]
pub(crate) enum GzipError {
    /// It inflates to more than the limit.
    TooLarge,
    /// It is not gzip, or is cut short.
    Corrupt(io::Error),
}

/// `body` compressed (the fast level: over loopback and LANs the time matters more than the
/// last few per cent). `None` if the encoder failed, which writing to memory does not.
pub(crate) fn encode(body: &[u8]) -> Option<Vec<u8>> {
    let mut e = GzEncoder::new(Vec::with_capacity(body.len() / 8 + 64), Compression::fast());
    e.write_all(body).ok()?;
    e.finish().ok()
}

/// `body` inflated, if it inflates to at most `max` bytes. Reads every member of a
/// multi-member stream, as Python's `GzipFile` does. Never holds more than about twice
/// `max`.
pub(crate) fn decode(body: &[u8], max: usize) -> Result<Vec<u8>, GzipError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max).min(1 << 20));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(GzipError::Corrupt)?;
    if out.len() > max {
        return Err(GzipError::TooLarge);
    }
    Ok(out)
}
