//! Framed messages over a byte stream (a Unix socket, a pipe, a fifo, a TCP socket), buffered for
//! speed and careful with bad input.
//!
//! How a message is laid out is a [`Framing`], given to the reader ([`MessageReader::with_framing`])
//! and to the sender ([`send_framed`]): this workspace's own ([`Framing::Native`], below), which
//! carries descriptors, or Python's `multiprocessing.connection` ([`Framing::Python`]), which
//! a Python peer reads and writes.
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
//! descriptors that did not arrive with it is refused ([`Error::FdCount`]) and the stream is
//! poisoned (every later receive is [`Error::FrameCorrupt`]), since its sender cannot be
//! trusted to be in step any more. A peer can therefore neither make the receiver keep
//! descriptors nor slip a stale one into a later message.
//!
//! # Python's framing
//!
//! A 4-byte big-endian signed length, then the payload; a payload above 2 GiB − 1 has the
//! length −1 followed by an 8-byte big-endian length. No descriptors: a sender refuses them,
//! and descriptors a peer attaches anyway are closed.
//!
//! ```text
//! +----------------+------------------+        +-----------+----------------+---------+
//! | len: i32 (BE)  | payload: len B   |   or   | -1 (BE)   | len: u64 (BE)  | payload |
//! +----------------+------------------+        +-----------+----------------+---------+
//! ```
//!
//! # Reading
//!
//! [`MessageReader`] reads ahead in 64 KiB chunks, so a burst of small messages costs one
//! `read` for many; a large payload is read straight into its destination. It checks the header
//! against a limit before allocating anything, grows a buffer only as bytes arrive, and keeps
//! a partly received message across a timeout, so a stalled peer costs a timeout, not the
//! stream. [`send_message`] writes header and payload with one `writev`/`sendmsg` and no copy,
//! and never raises `SIGPIPE`.
//!
//! `multiproc-pipe`'s `Connection`, `multiproc-fifo`, and [`crate::transfer::Channel`] are built on this.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys;

/// Bytes in a message header.
pub const HEADER_LEN: usize = 8;

/// The most descriptors one frame (one `sendmsg`) carries: Linux's `SCM_MAX_FD`.
pub const MAX_FDS_PER_FRAME: usize = sys::MAX_FDS_PER_MESSAGE;

/// The most descriptors one message may carry across all its frames. A receiver refuses more
/// (the stream is then poisoned); a sender refuses to send more.
pub const MAX_MESSAGE_FDS: usize = 1 << 16;

/// The bit of a header's descriptor count that marks a descriptor frame.
const MORE_FDS: u32 = 1 << 31;

/// How far [`MessageReader`] reads ahead.
const CHUNK: usize = 64 * 1024;

/// How messages are laid out on a stream: a parameter of [`MessageReader`] and [`send_framed`]
/// (as tokio-util's `LengthDelimitedCodec` is configured by its builder).
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

impl Framing {
    /// Whether messages in this framing can carry descriptors (on a Unix socket).
    pub fn carries_fds(self) -> bool {
        self == Framing::Native
    }

    /// The header bytes needed to know a header's full length, given the bytes `b` so far.
    fn header_need(self, b: &[u8]) -> usize {
        match self {
            Framing::Native => HEADER_LEN,
            Framing::Python if b.len() >= 4 && b[..4] == [0xff; 4] => 12,
            Framing::Python => 4,
        }
    }

    /// Parses the header at the start of `b` (at least [`header_need`](Self::header_need)
    /// bytes).
    fn parse(self, b: &[u8], max: usize) -> Result<Head> {
        match self {
            Framing::Native => parse_header(b, max),
            Framing::Python => parse_python_header(b, max),
        }
    }

    /// The header for a payload of `len` bytes: its bytes in a 12-byte array, and how many.
    fn encode(self, len: usize, nfds: usize) -> Result<([u8; 12], usize)> {
        let mut out = [0u8; 12];
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

fn parse_python_header(h: &[u8], max: usize) -> Result<Head> {
    let short = i32::from_be_bytes(h[..4].try_into().expect("4 bytes"));
    let (len, hlen) = match short {
        -1 => (
            u64::from_be_bytes(h[4..12].try_into().expect("8 bytes")),
            12,
        ),
        n if n < 0 => {
            return Err(Error::FrameCorrupt(format!("negative message length {n}")));
        }
        n => (n as u64, 4),
    };
    if len > max as u64 {
        return Err(Error::FrameTooLarge { len, max });
    }
    Ok(Head {
        hlen,
        len: len as usize,
        nfds: 0,
        more: false,
    })
}

/// What kind of descriptor a stream is: only sockets carry descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A Unix stream socket: `sendmsg`/`recvmsg`, descriptors allowed.
    Socket,
    /// A pipe or fifo: `writev`/`read`, no descriptors.
    Pipe,
}

/// The header for a payload of `len` bytes with `nfds` descriptors in the same frame (at most
/// [`MAX_FDS_PER_FRAME`]).
pub fn header(len: usize, nfds: usize) -> Result<[u8; HEADER_LEN]> {
    let l = u32::try_from(len).map_err(|_| Error::FrameTooLarge {
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

/// A parsed frame header.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// Header bytes.
    hlen: usize,
    /// Payload bytes.
    len: usize,
    /// Descriptors that came with this frame.
    nfds: usize,
    /// A descriptor frame: no payload, more frames of the same message follow.
    more: bool,
}

/// Parses the header at the start of `h` (at least [`HEADER_LEN`] bytes). The length limit is
/// checked last, so that a corrupt header is reported as corrupt.
fn parse_header(h: &[u8], max: usize) -> Result<Head> {
    let len = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
    let raw = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes"));
    let more = raw & MORE_FDS != 0;
    let nfds = (raw & !MORE_FDS) as usize;
    if nfds > MAX_FDS_PER_FRAME {
        return Err(Error::FrameCorrupt(format!(
            "header announces {nfds} descriptors in one frame"
        )));
    }
    if more && (len != 0 || nfds == 0) {
        return Err(Error::FrameCorrupt(
            "a descriptor frame with a payload or without descriptors".into(),
        ));
    }
    if len > max {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max,
        });
    }
    Ok(Head {
        hlen: HEADER_LEN,
        len,
        nfds,
        more,
    })
}

/// Writes `parts` (one or two slices) whole, looping over partial writes; `fds` go with the
/// first byte.
fn write_all(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    parts: &[&[u8]],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut sent = 0;
    let mut first = true;
    while sent < total {
        // The slices from `sent` on, without allocating.
        let mut iov = [io::IoSlice::new(&[]), io::IoSlice::new(&[])];
        let mut k = 0;
        let mut skip = sent;
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
            } else {
                iov[k] = io::IoSlice::new(&p[skip..]);
                skip = 0;
                k += 1;
            }
        }
        let n = match kind {
            StreamKind::Socket => sys::sendmsg_iov(fd, &iov[..k], if first { fds } else { &[] })?,
            StreamKind::Pipe => sys::writev_nosigpipe(fd, &iov[..k])?,
        };
        first = false;
        sent += n;
    }
    Ok(())
}

/// Sends one message in the native framing: `header` + `payload` in one system call where the
/// kernel takes it all, with `fds` on a socket (more than [`MAX_FDS_PER_FRAME`] go in
/// descriptor frames before it, see the [module docs](self)). Loops over partial writes. A
/// reader that is gone is `Err(Error::Io)` with `BrokenPipe`, never a `SIGPIPE`.
///
/// # Errors
/// [`Error::NotTransferable`] for descriptors on a pipe, or more than [`MAX_MESSAGE_FDS`];
/// [`Error::FrameTooLarge`] for a payload above 4 GiB − 1; [`Error::Io`].
pub fn send_message(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    send_framed(fd, kind, Framing::Native, payload, fds)
}

/// [`send_message`] in any [`Framing`]. Python's framing carries no descriptors
/// ([`Error::NotTransferable`] when `fds` is not empty) and no payload limit but memory's.
pub fn send_framed(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    framing: Framing,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    if kind == StreamKind::Pipe && !fds.is_empty() {
        return Err(Error::NotTransferable(
            "a pipe cannot carry file descriptors; use a duplex (socket) connection",
        ));
    }
    if fds.len() > MAX_MESSAGE_FDS {
        return Err(Error::NotTransferable(
            "more than 65,536 descriptors in one message",
        ));
    }
    // Full descriptor frames first; the message frame carries the last 1..=253.
    let split = fds.len().saturating_sub(1) / MAX_FDS_PER_FRAME * MAX_FDS_PER_FRAME;
    let (head, hlen) = framing.encode(payload.len(), fds.len() - split)?;
    for chunk in fds[..split].chunks(MAX_FDS_PER_FRAME) {
        let more = raw_header(0, chunk.len() as u32 | MORE_FDS);
        write_all(fd, kind, &[&more], chunk)?;
    }
    write_all(fd, kind, &[&head[..hlen], payload], &fds[split..])
}

/// Descriptors that arrived with one `recvmsg`, and the stream range that call returned.
#[derive(Debug)]
struct Batch {
    start: u64,
    end: u64,
    fds: Vec<OwnedFd>,
}

/// The message whose header has been consumed and whose payload is being received (its
/// descriptors are in `MessageReader::carry`).
#[derive(Debug)]
struct Current {
    /// Payload bytes.
    len: usize,
    /// Stream offset just past the payload.
    end: u64,
    /// Header bytes (for error reports).
    hlen: u8,
}

/// Why a stream can no longer be read.
#[derive(Debug, Clone, Copy)]
enum Poison {
    LostPlace,
    FdsDropped,
    CorruptHeader,
    ForeignFds,
    TooManyFds,
}

impl Poison {
    fn why(self) -> &'static str {
        match self {
            Poison::LostPlace => {
                "the stream lost its place: a timeout struck inside a message larger than 64 KiB"
            }
            Poison::FdsDropped => "the stream lost its place: descriptors were dropped",
            Poison::CorruptHeader => "the stream lost its place: a corrupt header",
            Poison::ForeignFds => "the peer sent a frame whose descriptors did not come with it",
            Poison::TooManyFds => "the peer sent too many descriptors",
        }
    }
}

/// The receiving half of a framed stream: a read-ahead buffer and the descriptors that came
/// with bytes not yet consumed. Keep one per descriptor for its whole life.
#[derive(Debug)]
pub struct MessageReader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes read from the descriptor so far: the stream offset of `buf[end]`.
    pos: u64,
    /// Descriptor batches not yet claimed, oldest first.
    batches: VecDeque<Batch>,
    /// Descriptors of the message being received: those of its descriptor frames, then (once
    /// its header is consumed) those of its message frame.
    carry: Vec<OwnedFd>,
    /// The message being received, once its header was consumed.
    current: Option<Current>,
    max: usize,
    framing: Framing,
    /// Why the stream can no longer be read: it lost its place (a timeout inside a large
    /// message), or its peer broke the rules (descriptors, corrupt header).
    poisoned: Option<Poison>,
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::new(crate::frame::DEFAULT_MAX_FRAME)
    }
}

/// Time left until `deadline`, or `Err(Timeout)` once it passed.
fn left(deadline: Option<Instant>) -> Result<Option<Duration>> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(l) => Ok(Some(l)),
            None => Err(Error::Timeout),
        },
    }
}

impl MessageReader {
    /// A reader of the native framing that accepts payloads up to `max` bytes.
    pub fn new(max: usize) -> Self {
        Self::with_framing(Framing::Native, max)
    }

    /// A reader of `framing` that accepts payloads up to `max` bytes.
    pub fn with_framing(framing: Framing, max: usize) -> Self {
        MessageReader {
            framing,
            // Allocated on the first read: many channels only ever send.
            buf: Box::default(),
            start: 0,
            end: 0,
            pos: 0,
            batches: VecDeque::new(),
            carry: Vec::new(),
            current: None,
            max,
            poisoned: None,
        }
    }

    fn check_poisoned(&self) -> Result<()> {
        match self.poisoned {
            Some(why) => Err(Error::FrameCorrupt(why.why().into())),
            None => Ok(()),
        }
    }

    /// Marks the stream unusable, closes every descriptor it holds, and returns `e`.
    fn poison(&mut self, why: Poison, e: Error) -> Error {
        self.poisoned = Some(why);
        self.batches.clear();
        self.carry.clear();
        self.current = None;
        e
    }

    /// The framing this reader reads.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The payload limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Sets the payload limit.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Bytes read ahead and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Descriptors received and not yet handed out with a message (a test aid: a well-behaved
    /// stream holds only those of a message that is still arriving).
    pub fn held_fds(&self) -> usize {
        self.batches.iter().map(|b| b.fds.len()).sum::<usize>() + self.carry.len()
    }

    /// The stream offset of `buf[start]`.
    fn offset(&self) -> u64 {
        self.pos - self.buffered() as u64
    }

    /// Whether a whole message (or an error) is already buffered, so a receive will not block.
    pub fn has_message(&self) -> bool {
        if self.poisoned.is_some() {
            return true;
        }
        let mut b = &self.buf[self.start..self.end];
        if let Some(c) = &self.current {
            return b.len() >= c.len;
        }
        loop {
            if b.len() < self.framing.header_need(b) {
                return false;
            }
            match self.framing.parse(b, usize::MAX) {
                Err(_) => return true,
                Ok(h) if h.more => b = &b[h.hlen..],
                Ok(h) => return b.len() - h.hlen >= h.len,
            }
        }
    }

    /// Closes the batches whose range lies wholly before `offset`: no header left to read can
    /// claim them.
    fn sweep(&mut self, offset: u64) {
        while self.batches.front().is_some_and(|b| b.end <= offset) {
            self.batches.pop_front();
        }
    }

    /// The descriptors for a header at stream offset `at` that announces `nfds`: the batch
    /// whose read brought the header's first byte, which must hold exactly that many.
    fn claim(&mut self, at: u64, nfds: usize) -> Result<Vec<OwnedFd>> {
        self.sweep(at);
        if nfds == 0 {
            // A batch around `at` may still belong to a later header in the same read.
            return Ok(Vec::new());
        }
        match self.batches.front() {
            Some(b) if b.start <= at && at < b.end => {
                let b = self.batches.pop_front().expect("front");
                if b.fds.len() == nfds {
                    return Ok(b.fds);
                }
                Err(Error::FdCount {
                    expected: nfds,
                    received: b.fds.len(),
                })
            }
            _ => Err(Error::FdCount {
                expected: nfds,
                received: 0,
            }),
        }
    }

    /// Records descriptors that came with the bytes `[pos, pos + n)`. A batch that lies wholly
    /// inside the payload of the message being received cannot belong to any header: closed.
    fn add_batch(&mut self, n: usize, fds: Vec<OwnedFd>) {
        let (start, end) = (self.pos, self.pos + n as u64);
        if fds.is_empty() || self.current.as_ref().is_some_and(|c| end <= c.end) {
            return;
        }
        self.batches.push_back(Batch { start, end, fds });
    }

    /// One `read` (or `recvmsg`) into `dst`, which lies beyond every buffered byte; records the
    /// descriptors that came with it and advances the stream offset. `Ok(0)` at end of stream.
    /// A read whose descriptors the kernel had to drop poisons the stream: its bytes were
    /// consumed, and which message lost descriptors cannot be known.
    fn read_into(&mut self, fd: BorrowedFd<'_>, kind: StreamKind, dst: &mut [u8]) -> Result<usize> {
        let (n, fds, truncated) = match kind {
            StreamKind::Socket => {
                let mut got = Vec::new();
                let (n, truncated) = sys::recvmsg_fds(fd, dst, &mut got, MAX_FDS_PER_FRAME)?;
                (n, got, truncated)
            }
            StreamKind::Pipe => (sys::read(fd, dst)?, Vec::new(), false),
        };
        self.add_batch(n, fds);
        self.pos += n as u64;
        if truncated {
            let e = Error::Io(sys::ctrunc_error());
            return Err(self.poison(Poison::FdsDropped, e));
        }
        Ok(n)
    }

    /// One read into the free space of the buffer, waiting at most until `deadline`. `Ok(0)`
    /// at end of stream.
    fn read_some(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
    ) -> Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK].into_boxed_slice();
        }
        if self.start > 0 && (self.end == self.buf.len() || self.start == self.end) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if deadline.is_some() && !sys::poll_readable(fd, left(deadline)?)? {
            return Err(Error::Timeout);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.read_into(fd, kind, &mut buf[self.end..]);
        self.buf = buf;
        let n = r?;
        self.end += n;
        Ok(n)
    }

    /// Makes sure `want` (≤ 64 KiB) bytes are buffered. `Err(Closed)` at end of stream between
    /// messages; `FrameTruncated` inside one.
    fn fill(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        want: usize,
        deadline: Option<Instant>,
    ) -> Result<()> {
        while self.buffered() < want {
            if self.read_some(fd, kind, deadline)? == 0 {
                return Err(self.truncated(want, self.buffered()));
            }
        }
        Ok(())
    }

    /// End of stream after `got` of the `want` bytes the next step needs: `Closed` between
    /// messages; otherwise the partial message can never complete, so it is dropped and the
    /// next call reports `Closed`.
    fn truncated(&mut self, want: usize, got: usize) -> Error {
        let hlen = self.current.as_ref().map(|c| usize::from(c.hlen));
        if got == 0 && hlen.is_none() && self.carry.is_empty() {
            self.batches.clear();
            return Error::Closed;
        }
        self.start = self.end;
        self.batches.clear();
        self.carry.clear();
        self.current = None;
        let h = hlen.unwrap_or(0);
        Error::FrameTruncated {
            expected: h + want,
            got: h + got,
        }
    }

    /// Reads frame headers until a message's: descriptor frames on the way add their
    /// descriptors to the message. Returns the message's payload length; the header is
    /// consumed and the message is `self.current` until [`finish`](Self::finish).
    fn begin(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
    ) -> Result<usize> {
        self.check_poisoned()?;
        loop {
            if let Some(c) = &self.current {
                return Ok(c.len);
            }
            self.fill(fd, kind, self.framing.header_need(&[]), deadline)?;
            let need = self.framing.header_need(&self.buf[self.start..self.end]);
            self.fill(fd, kind, need, deadline)?;
            let at = self.offset();
            let head = match self
                .framing
                .parse(&self.buf[self.start..self.end], self.max)
            {
                Ok(h) => h,
                // The header stays: the caller may raise the limit and try again.
                Err(e @ Error::FrameTooLarge { .. }) => return Err(e),
                Err(e) => return Err(self.poison(Poison::CorruptHeader, e)),
            };
            let fds = match self.claim(at, head.nfds) {
                Ok(f) => f,
                Err(e) => {
                    return Err(self.poison(Poison::ForeignFds, e));
                }
            };
            if self.carry.len() + fds.len() > MAX_MESSAGE_FDS {
                let e = Error::FrameCorrupt("more than 65,536 descriptors in one message".into());
                return Err(self.poison(Poison::TooManyFds, e));
            }
            self.start += head.hlen;
            self.carry.extend(fds);
            if head.more {
                continue;
            }
            self.current = Some(Current {
                hlen: head.hlen as u8,
                len: head.len,
                end: self.offset() + head.len as u64,
            });
        }
    }

    /// The current message has been consumed: its descriptors, and the batches no header can
    /// claim any more are closed.
    fn finish(&mut self) -> Vec<OwnedFd> {
        self.current = None;
        let fds = std::mem::take(&mut self.carry);
        self.sweep(self.offset());
        fds
    }

    /// Receives one message and hands its payload and descriptors to `f`.
    ///
    /// A payload up to 64 KiB is given straight from the read-ahead buffer; a larger one is
    /// collected in a vector that grows as bytes arrive. `deadline` bounds the whole wait. On
    /// [`Error::Timeout`] a message up to 64 KiB that had begun to arrive stays buffered for the
    /// next call; a timeout inside a larger one leaves the stream unusable (later receives are
    /// [`Error::FrameCorrupt`]), since part of it was already consumed.
    ///
    /// # Errors
    /// [`Error::Closed`] at end of stream between messages, [`Error::FrameTruncated`] inside
    /// one, [`Error::FrameTooLarge`] for a header above the limit (nothing is consumed: raise
    /// the limit to receive it), [`Error::FdCount`] when a frame's descriptors did not come
    /// with it (the stream is then unusable), [`Error::FrameCorrupt`] for a corrupt header.
    pub fn recv_with<R>(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        f: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R> {
        let len = self.begin(fd, kind, deadline)?;
        if len <= CHUNK {
            self.fill(fd, kind, len, deadline)?;
            let p = self.start;
            self.start += len;
            let fds = self.finish();
            return Ok(f(&self.buf[p..p + len], fds));
        }
        let mut big = Vec::new();
        self.read_large(fd, kind, len, deadline, &mut big)?;
        let fds = self.finish();
        Ok(f(&big, fds))
    }

    /// Receives one message's payload, appending it to `out`; returns its length. Large
    /// payloads are read straight into `out` (no copy through the buffer). Descriptors that
    /// came with it are appended to `fds`.
    pub fn recv_into_vec(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
        fds: &mut Vec<OwnedFd>,
    ) -> Result<usize> {
        let len = self.begin(fd, kind, deadline)?;
        if len <= CHUNK {
            self.fill(fd, kind, len, deadline)?;
            out.extend_from_slice(&self.buf[self.start..self.start + len]);
            self.start += len;
        } else {
            self.read_large(fd, kind, len, deadline, out)?;
        }
        fds.extend(self.finish());
        Ok(len)
    }

    /// Receives one message's payload into `out[..len]` if it fits. When it does not, the
    /// message is still consumed and returned as `Err(Ok(payload))` (Python's
    /// `BufferTooShort`, which carries the message). Descriptors that came with it are closed.
    pub fn recv_into_slice(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        out: &mut [u8],
    ) -> Result<std::result::Result<usize, Vec<u8>>> {
        let len = self.begin(fd, kind, deadline)?;
        if len > out.len() {
            let mut whole = Vec::new();
            let mut fds = Vec::new();
            self.recv_into_vec(fd, kind, deadline, &mut whole, &mut fds)?;
            return Ok(Err(whole));
        }
        // Copy what is buffered, then read the rest straight into `out`.
        let have = self.buffered().min(len);
        out[..have].copy_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        self.read_rest(fd, kind, deadline, &mut out[..len], have)?;
        drop(self.finish());
        Ok(Ok(len))
    }

    /// Reads `out[got..]` straight from the descriptor (the buffer is empty): the rest of the
    /// current payload. A timeout poisons the stream (part of the message is consumed).
    fn read_rest(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        out: &mut [u8],
        mut got: usize,
    ) -> Result<usize> {
        while got < out.len() {
            if deadline.is_some() {
                let ready = left(deadline).and_then(|l| Ok(sys::poll_readable(fd, l)?));
                if !matches!(ready, Ok(true)) {
                    let e = ready.err().unwrap_or(Error::Timeout);
                    return Err(self.poison(Poison::LostPlace, e));
                }
            }
            let n = self.read_into(fd, kind, &mut out[got..])?;
            if n == 0 {
                let total = out.len();
                self.start = self.end;
                return Err(self.truncated(total, got));
            }
            got += n;
        }
        Ok(got)
    }

    /// A payload larger than the buffer: the buffered part, then reads straight into `out`,
    /// growing it at most 1 MiB ahead of the bytes that arrived.
    fn read_large(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        len: usize,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let base = out.len();
        let have = self.buffered().min(len);
        out.extend_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        let mut got = have;
        let hlen = self.current.as_ref().map_or(0, |c| usize::from(c.hlen));
        while got < len {
            let step = (len - got).min(1 << 20);
            out.resize(base + got + step, 0);
            match self.read_rest(fd, kind, deadline, &mut out[base..base + got + step], got) {
                Ok(n) => got = n,
                Err(e) => {
                    out.truncate(base);
                    return Err(match e {
                        Error::FrameTruncated { got, .. } => Error::FrameTruncated {
                            expected: hlen + len,
                            got,
                        },
                        e => e,
                    });
                }
            }
        }
        Ok(())
    }
}
