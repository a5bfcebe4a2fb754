//! Framed messages over a byte stream (a Unix socket, a pipe, a fifo, a TCP socket): the one
//! framed [`Endpoint`] every `multiproc` crate builds on, buffered for speed and careful with
//! bad input.
//!
//! An [`Endpoint`] owns one descriptor. Two parameters say what it is: the [`Framing`] (how a
//! message is laid out: this workspace's own, [`Framing::Native`], which carries descriptors,
//! or Python's `multiprocessing.connection`, [`Framing::Python`], which a Python peer reads and
//! writes) and the [`StreamKind`] (a Unix socket that passes descriptors, any other socket, or
//! a pipe). Everything else is the same for every use: one limit
//! ([`set_max_message`](Endpoint::set_max_message)), one set of outcomes ([`Error::Timeout`],
//! [`Error::Disconnected`], [`Error::TooLarge`], [`Error::Corrupt`]), one deadline type
//! ([`Deadline`]), one [`poll`](Endpoint::poll). `multiproc-pipe`'s `Connection` (also those of
//! its `Listener` and `Client`), `multiproc-fifo`'s reader, writer and duplex, and
//! [`crate::transfer::Channel`] are endpoints with only what differs added.
//!
//! # The native framing
//!
//! Every message is an 8-byte header — payload length and descriptor count, both `u32`
//! little-endian — then the payload. On a Unix socket the descriptors ride along as
//! `SCM_RIGHTS` on the header's first byte; on a pipe the count is always 0.
//!
//! ```text
//! +---------------+-----------------+------------------+
//! | len: u32 (LE) | nfds: u32 (LE)  | payload: len B   |   (+ nfds descriptors, sockets only)
//! +---------------+-----------------+------------------+
//! ```
//!
//! # Descriptors belong to their message
//!
//! One `sendmsg` carries at most [`MAX_FDS_PER_FRAME`] (253) descriptors, so a message with
//! more is sent as *descriptor frames* followed by the message frame: each descriptor frame is
//! a header with `len = 0` and `nfds = k | 0x8000_0000` (the top bit says "more descriptors of
//! this message follow"), sent in its own `sendmsg` with its `k ≤ 253` descriptors; the message
//! frame carries the last ones. The receiver adds each frame's descriptors to the message in
//! order, up to [`MAX_MESSAGE_FDS`] in all.
//!
//! The kernel hands descriptors to the `recvmsg` call that reads the first byte of the
//! `sendmsg` that carried them. So [`MessageReader`] remembers, for each batch of descriptors,
//! the range of stream bytes its `recvmsg` returned, and a frame's header may claim only the
//! batch whose range holds the header's first byte, and only if the counts agree. A batch that
//! no frame claims is closed as soon as the reader has passed its range; a frame that claims
//! descriptors that did not arrive with it is refused ([`CorruptReason::FdCount`]) and the
//! stream is given up (every later receive is [`CorruptReason::Unusable`]), since its sender
//! cannot be trusted to be in step any more. A peer can therefore neither make the receiver
//! keep descriptors nor slip a stale one into a later message.
//!
//! # Python's framing
//!
//! A 4-byte big-endian signed length, then the payload; a payload above 2 GiB − 1 has the
//! length −1 followed by an 8-byte big-endian length. No descriptors: a sender refuses them,
//! and descriptors a peer attaches anyway are closed unread.
//!
//! ```text
//! +----------------+------------------+        +-----------+----------------+---------+
//! | len: i32 (BE)  | payload: len B   |   or   | -1 (BE)   | len: u64 (BE)  | payload |
//! +----------------+------------------+        +-----------+----------------+---------+
//! ```
//!
//! # Reading and writing
//!
//! [`MessageReader`] reads ahead in 64 KiB chunks, so a burst of small messages costs one
//! `read` for many; a large payload is collected as it arrives. It checks the header against
//! the limit before allocating anything, grows a buffer only as bytes arrive, and keeps a
//! partly received message across a timeout, so a stalled peer costs a timeout, not the
//! stream. A receive with a deadline reads first and waits (`poll`) only when the read would
//! block. [`send_framed`] writes header and payload with one `writev`/`sendmsg` and no copy,
//! and never raises `SIGPIPE`.
//!
//! [`Deadline`]: crate::Deadline
//! [`CorruptReason::FdCount`]: crate::error::CorruptReason::FdCount
//! [`CorruptReason::Unusable`]: crate::error::CorruptReason::Unusable

use std::io;
use std::os::fd::BorrowedFd;

use crate::error::{CorruptReason, Error, Result};
use crate::futex::Deadline;
use crate::sys;
use crate::sys::Mode;

#[cfg(feature = "tokio")]
mod async_endpoint;
mod endpoint;
mod reader;

#[cfg(feature = "tokio")]
pub use async_endpoint::AsyncEndpoint;
pub use endpoint::{Endpoint, Outgoing};
pub use reader::{MessageReader, ReadAhead};

/// Bytes in a native message header.
pub const HEADER_LEN: usize = 8;

/// The most descriptors one frame (one `sendmsg`) carries: Linux's `SCM_MAX_FD`.
pub const MAX_FDS_PER_FRAME: usize = sys::net::MAX_FDS_PER_MESSAGE;

/// The most descriptors one message may carry across all its frames. A receiver refuses more
/// (the stream is then given up); a sender refuses to send more.
pub const MAX_MESSAGE_FDS: usize = 1 << 16;

/// The default limit on a message's payload: 1 GiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 30;

/// The bit of a header's descriptor count that marks a descriptor frame.
const MORE_FDS: u32 = 1 << 31;

/// Bytes in the longest header of any framing (Python's long form).
const MAX_HEADER_LEN: usize = 12;

/// How messages are laid out on a stream: a parameter of every [`Endpoint`] (as tokio-util's
/// `LengthDelimitedCodec` is configured by its builder).
///
/// Pick [`Python`](Framing::Python) for a connection that may face a Python program
/// (`multiprocessing.connection.Client` / `Listener`); pick [`Native`](Framing::Native) where
/// handles (values that own descriptors) travel between Rust peers on a Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Framing {
    /// This workspace's: payload length and descriptor count, `u32` little-endian each, and the
    /// descriptors as `SCM_RIGHTS` (see the [module docs](self)).
    #[default]
    Native,
    /// Python's `multiprocessing.connection`: a 4-byte big-endian signed length (−1 then an
    /// 8-byte length above 2 GiB − 1); no descriptors.
    Python,
}

/// A parsed frame header: what [`Framing::parse_header`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// Bytes of the header itself.
    pub header_len: usize,
    /// Bytes of the payload that follows it.
    pub payload_len: usize,
    /// Descriptors that came with this frame.
    pub fds: usize,
    /// A descriptor frame: no payload, more frames of the same message follow.
    pub more_fds: bool,
}

impl Framing {
    /// Whether messages in this framing can carry descriptors (on a Unix socket).
    pub fn carries_fds(self) -> bool {
        self == Framing::Native
    }

    /// The largest payload one header can describe.
    pub fn max_payload(self) -> usize {
        match self {
            Framing::Native => u32::MAX as usize,
            Framing::Python => usize::MAX,
        }
    }

    /// The length of the header that begins with `prefix` (the bytes of it received so far):
    /// how many bytes to have before [`parse_header`](Self::parse_header).
    pub fn header_len(self, prefix: &[u8]) -> usize {
        match self {
            Framing::Native => HEADER_LEN,
            Framing::Python if prefix.len() >= 4 && prefix[..4] == [0xff; 4] => 12,
            Framing::Python => 4,
        }
    }

    /// Parses the header at the start of `bytes` (at least [`header_len`](Self::header_len)
    /// bytes), refusing a payload above `max`. A corrupt header is reported as corrupt even
    /// when its length is also too large.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a header no sender of this framing writes; [`Error::TooLarge`]
    /// for a payload above `max`.
    pub fn parse_header(self, bytes: &[u8], max: usize) -> Result<Header> {
        let head = match self {
            Framing::Native => parse_native(bytes)?,
            Framing::Python => parse_python(bytes)?,
        };
        if head.payload_len as u64 > max as u64 {
            return Err(Error::TooLarge {
                len: head.payload_len as u64,
                max,
            });
        }
        Ok(head)
    }

    /// The header for a payload of `len` bytes with `nfds` descriptors in the same frame: its
    /// bytes in an array, and how many of them.
    fn encode(self, len: usize, nfds: usize) -> Result<([u8; MAX_HEADER_LEN], usize)> {
        let mut out = [0u8; MAX_HEADER_LEN];
        match self {
            Framing::Native => {
                out[..HEADER_LEN].copy_from_slice(&header(len, nfds)?);
                Ok((out, HEADER_LEN))
            }
            Framing::Python if nfds > 0 => Err(Error::NotTransferable(
                "Python's framing carries no file descriptors",
            )),
            Framing::Python => match i32::try_from(len) {
                Ok(l) => {
                    out[..4].copy_from_slice(&l.to_be_bytes());
                    Ok((out, 4))
                }
                Err(_) => {
                    out[..4].copy_from_slice(&(-1i32).to_be_bytes());
                    out[4..].copy_from_slice(&(len as u64).to_be_bytes());
                    Ok((out, 12))
                }
            },
        }
    }
}

fn parse_native(h: &[u8]) -> Result<Header> {
    let len = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
    let raw = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes"));
    let more = raw & MORE_FDS != 0;
    let nfds = (raw & !MORE_FDS) as usize;
    if nfds > MAX_FDS_PER_FRAME {
        return Err(CorruptReason::FdsInOneFrame(nfds).into());
    }
    if more && (len != 0 || nfds == 0) {
        return Err(CorruptReason::BadFdFrame.into());
    }
    Ok(Header {
        header_len: HEADER_LEN,
        payload_len: len,
        fds: nfds,
        more_fds: more,
    })
}

fn parse_python(h: &[u8]) -> Result<Header> {
    let short = i32::from_be_bytes(h[..4].try_into().expect("4 bytes"));
    let (len, header_len) = match short {
        -1 => (
            u64::from_be_bytes(h[4..12].try_into().expect("8 bytes")),
            12,
        ),
        n if n < 0 => return Err(CorruptReason::NegativeLength(i64::from(n)).into()),
        n => (n as u64, 4),
    };
    Ok(Header {
        header_len,
        payload_len: usize::try_from(len).unwrap_or(usize::MAX),
        fds: 0,
        more_fds: false,
    })
}

/// What kind of descriptor a stream is: how it is read and written, and whether descriptors
/// travel on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamKind {
    /// A Unix stream socket that carries descriptors: `sendmsg`/`recvmsg` with `SCM_RIGHTS`.
    Socket,
    /// A stream socket that carries none: TCP, or a Unix socket whose peer may not send any
    /// (one not yet authenticated). Descriptors a Unix peer attaches anyway are closed by the
    /// kernel, unread.
    SocketWithoutFds,
    /// A pipe or fifo: `writev`/`read`, no descriptors.
    Pipe,
}

impl StreamKind {
    fn is_socket(self) -> bool {
        self != StreamKind::Pipe
    }
}

/// The native header for a payload of `len` bytes with `nfds` descriptors in the same frame (at
/// most [`MAX_FDS_PER_FRAME`]).
///
/// # Errors
/// [`Error::TooLarge`] above 4 GiB − 1; [`Error::NotTransferable`] above 253 descriptors.
pub fn header(len: usize, nfds: usize) -> Result<[u8; HEADER_LEN]> {
    let l = u32::try_from(len).map_err(|_| Error::TooLarge {
        len: len as u64,
        max: u32::MAX as usize,
    })?;
    if nfds > MAX_FDS_PER_FRAME {
        return Err(Error::NotTransferable(
            "more than 253 descriptors in one frame",
        ));
    }
    Ok(raw_header(l, nfds as u32))
}

fn raw_header(len: u32, nfds: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..].copy_from_slice(&nfds.to_le_bytes());
    h
}

/// One write (`sendmsg` or `writev`) of the slices `iov`, `fds` with the first byte; `mode`
/// says whether it may wait. Returns the bytes written.
fn write_once(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    iov: &[io::IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
    mode: Mode,
) -> io::Result<usize> {
    match (kind.is_socket(), mode) {
        (true, mode) => sys::net::sendmsg_iov(fd, iov, fds, mode),
        (false, Mode::Wait) => sys::fd::writev_nosigpipe(fd, iov),
        (false, Mode::NoWait) => sys::fd::writev_nowait(fd, iov),
    }
}

/// The slices of `parts` from byte `skip` on, without allocating.
fn rest_of<'a>(parts: &[&'a [u8]; 2], mut skip: usize) -> ([io::IoSlice<'a>; 2], usize) {
    let mut iov = [io::IoSlice::new(&[]), io::IoSlice::new(&[])];
    let mut k = 0;
    for p in parts {
        if skip >= p.len() {
            skip -= p.len();
        } else {
            iov[k] = io::IoSlice::new(&p[skip..]);
            skip = 0;
            k += 1;
        }
    }
    (iov, k)
}

/// Writes `parts` whole, looping over partial writes; `fds` go with the first byte. On a
/// descriptor that is non-blocking, waits for room (`poll`) where a write would block.
fn write_all(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    parts: [&[u8]; 2],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    let total = parts[0].len() + parts[1].len();
    let mut sent = 0;
    while sent < total {
        let (iov, k) = rest_of(&parts, sent);
        let with = if sent == 0 { fds } else { &[] };
        match write_once(fd, kind, &iov[..k], with, Mode::Wait) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sys::fd::poll_writable(fd, Deadline::Forever)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Checks what may travel: descriptors only on a socket that carries them, in a framing that
/// carries them, at most [`MAX_MESSAGE_FDS`].
fn check_fds(kind: StreamKind, framing: Framing, nfds: usize) -> Result<()> {
    if nfds == 0 {
        return Ok(());
    }
    if kind != StreamKind::Socket || !framing.carries_fds() {
        return Err(Error::NotTransferable(
            "this stream carries no file descriptors (a pipe, TCP, or Python's framing)",
        ));
    }
    if nfds > MAX_MESSAGE_FDS {
        return Err(Error::NotTransferable(
            "more than 65,536 descriptors in one message",
        ));
    }
    Ok(())
}

/// Sends one message in `framing`: header and `payload` in one system call where the kernel
/// takes it all, with `fds` on a socket that carries them (more than [`MAX_FDS_PER_FRAME`] go
/// in descriptor frames before it, see the [module docs](self)). Loops over partial writes. A
/// reader that is gone is `Err(Error::Io)` with `BrokenPipe`, never a `SIGPIPE`.
///
/// # Errors
/// [`Error::NotTransferable`] for descriptors where none travel, or more than
/// [`MAX_MESSAGE_FDS`]; [`Error::TooLarge`] for a payload above 4 GiB − 1 in the native
/// framing; [`Error::Io`].
pub fn send_framed(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    framing: Framing,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    check_fds(kind, framing, fds.len())?;
    // Full descriptor frames first; the message frame carries the last 1..=253.
    let split = fds.len().saturating_sub(1) / MAX_FDS_PER_FRAME * MAX_FDS_PER_FRAME;
    let (head, hlen) = framing.encode(payload.len(), fds.len() - split)?;
    for chunk in fds[..split].chunks(MAX_FDS_PER_FRAME) {
        let more = raw_header(0, chunk.len() as u32 | MORE_FDS);
        write_all(fd, kind, [&more, &[]], chunk)?;
    }
    write_all(fd, kind, [&head[..hlen], payload], &fds[split..])
}
