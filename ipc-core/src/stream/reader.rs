//! [`MessageReader`]: the receiving half of a framed stream.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::{DEFAULT_MAX_MESSAGE, Framing, MAX_FDS_PER_FRAME, MAX_MESSAGE_FDS, StreamKind};
use crate::error::{CorruptReason, Error, Result};
use crate::futex::Deadline;
use crate::sys;
use crate::sys::Mode;

/// Whether a [`MessageReader`] may read past the message it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAhead {
    /// Reads take up to 64 KiB at a time: a burst of small messages costs one read for many.
    #[default]
    Yes,
    /// Reads stop at the end of the message being received: the bytes after it stay in the
    /// descriptor (for a stream handed over after a handshake, whose next bytes may come with
    /// descriptors that only a later reader may take).
    No,
}

/// How many timed reads wait in `poll` first after one that would have blocked.
const POLL_FIRST: u8 = 7;

/// How far [`MessageReader`] reads ahead.
const CHUNK: usize = 64 * 1024;

/// How far a large payload's buffer may grow ahead of the bytes that arrived.
const GROW_STEP: usize = 1 << 20;

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
                "the stream lost its place: a wait ran out while a message was read into the caller's buffer"
            }
            Poison::FdsDropped => "the stream lost its place: descriptors were dropped",
            Poison::CorruptHeader => "the stream lost its place: a corrupt header",
            Poison::ForeignFds => "the peer sent a frame whose descriptors did not come with it",
            Poison::TooManyFds => "the peer sent too many descriptors",
        }
    }
}

/// The receiving half of a framed stream: a read-ahead buffer, the part of a large message
/// received so far, and the descriptors that came with bytes not yet consumed. Keep one per
/// descriptor for its whole life (an [`Endpoint`](super::Endpoint) does).
///
/// Every receive takes a [`Deadline`]: [`Deadline::Forever`] reads (and sleeps in `read` on a
/// blocking descriptor); any other reads without waiting first and waits in `poll` only when
/// the read would block; [`Deadline::No`] never waits. A receive that runs out of time returns
/// [`Error::Timeout`] and keeps what arrived of the message for the next call, so a receive
/// that is given up (a timeout, a dropped future) loses nothing.
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
    /// A payload larger than the read-ahead buffer, as it arrives: `big[..big_got]` arrived,
    /// the rest of `big` is room (zeroed once) for what comes next.
    big: Vec<u8>,
    big_got: usize,
    max: usize,
    framing: Framing,
    /// Whether reads may take bytes past the message being received.
    read_ahead: ReadAhead,
    /// Whether the last read took all the descriptor had (it returned less than it had room
    /// for): a reader driven by readiness events may then wait for the next one.
    drained: bool,
    /// How many more timed reads wait in `poll` before reading, because recent reads found
    /// nothing (a ping-pong, where a read first would cost a failed call each time); 0 reads
    /// first (a stream, where the bytes are usually there).
    poll_first: u8,
    /// Why the stream can no longer be read: it lost its place, or its peer broke the rules
    /// (descriptors, corrupt header).
    poisoned: Option<Poison>,
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::new(Framing::Native, DEFAULT_MAX_MESSAGE)
    }
}

impl MessageReader {
    /// A reader of `framing` that accepts payloads up to `max` bytes.
    pub fn new(framing: Framing, max: usize) -> Self {
        MessageReader {
            framing,
            // Allocated on the first read: many endpoints only ever send.
            buf: Box::default(),
            start: 0,
            end: 0,
            pos: 0,
            batches: VecDeque::new(),
            carry: Vec::new(),
            current: None,
            big: Vec::new(),
            big_got: 0,
            max,
            read_ahead: ReadAhead::Yes,
            poll_first: 0,
            drained: false,
            poisoned: None,
        }
    }

    /// Sets whether reads may take bytes past the message being received (the default), or
    /// read exactly up to its end ([`ReadAhead::No`]: two reads a message, for a stream whose
    /// next bytes must stay in the descriptor).
    pub fn set_read_ahead(&mut self, read_ahead: ReadAhead) {
        self.read_ahead = read_ahead;
    }

    fn check_poisoned(&self) -> Result<()> {
        match self.poisoned {
            Some(why) => Err(CorruptReason::Unusable(why.why()).into()),
            None => Ok(()),
        }
    }

    /// Marks the stream unusable, closes every descriptor it holds, and returns `e`.
    fn poison(&mut self, why: Poison, e: Error) -> Error {
        self.poisoned = Some(why);
        self.batches.clear();
        self.carry.clear();
        self.current = None;
        self.big = Vec::new();
        self.big_got = 0;
        e
    }

    /// The framing this reader reads.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The payload limit.
    pub fn max_message(&self) -> usize {
        self.max
    }

    /// Sets the payload limit. A message whose header was already accepted is not affected.
    pub fn set_max_message(&mut self, max: usize) {
        self.max = max;
    }

    /// Whether the last read took all the descriptor had then: a reader driven by readiness
    /// events (an async one) may wait for the next event before reading again.
    pub fn drained(&self) -> bool {
        self.drained
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
            return self.big_got + b.len() >= c.len;
        }
        loop {
            if b.len() < self.framing.header_len(b) {
                return false;
            }
            match self.framing.parse_header(b, usize::MAX) {
                Err(_) => return true,
                Ok(h) if h.more_fds => b = &b[h.header_len..],
                Ok(h) => return b.len() - h.header_len >= h.payload_len,
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
        let received = match self.batches.front() {
            Some(b) if b.start <= at && at < b.end => {
                let b = self.batches.pop_front().expect("front");
                if b.fds.len() == nfds {
                    return Ok(b.fds);
                }
                b.fds.len()
            }
            _ => 0,
        };
        Err(CorruptReason::FdCount {
            expected: nfds,
            received,
        }
        .into())
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
    fn read_once(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        dst: &mut [u8],
        mode: Mode,
    ) -> io::Result<usize> {
        let (n, fds, truncated) = match (kind, mode) {
            (StreamKind::Socket, mode) => {
                let mut got = Vec::new();
                let (n, truncated) =
                    sys::net::recvmsg_fds(fd, dst, &mut got, MAX_FDS_PER_FRAME, mode)?;
                (n, got, truncated)
            }
            (StreamKind::SocketWithoutFds, mode) => (sys::net::recv(fd, dst, mode)?, vec![], false),
            (StreamKind::Pipe, Mode::Wait) => (sys::fd::read(fd, dst)?, Vec::new(), false),
            (StreamKind::Pipe, Mode::NoWait) => (sys::fd::read_nowait(fd, dst)?, vec![], false),
        };
        self.drained = n < dst.len();
        self.add_batch(n, fds);
        self.pos += n as u64;
        if truncated {
            return Err(sys::net::ctrunc_error());
        }
        Ok(n)
    }

    /// One read into `dst`, waiting at most until `deadline`: a blocking read when the deadline
    /// is `Forever` (one call; a `poll` first costs more CPU per round trip between two cores);
    /// otherwise a read that does not wait, and a wait in `poll` only when it would block.
    /// After a read that would have blocked, the next few timed reads wait in `poll` first
    /// (one call fewer each in a ping-pong), then reading first is tried again (one call per
    /// read in a stream, whose bytes are usually there).
    fn read_into(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Deadline,
        dst: &mut [u8],
    ) -> Result<usize> {
        let mut mode = match deadline {
            Deadline::Forever => Mode::Wait,
            _ => Mode::NoWait,
        };
        if deadline != Deadline::No && mode == Mode::NoWait && self.poll_first > 0 {
            self.poll_first -= 1;
            if !sys::fd::poll_readable(fd, deadline)? {
                return Err(Error::Timeout);
            }
        }
        loop {
            match self.read_once(fd, kind, dst, mode) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if deadline == Deadline::No {
                        return Err(Error::Timeout);
                    }
                    self.poll_first = POLL_FIRST;
                }
                // A kernel that cannot read a pipe without waiting: poll first, then read.
                Err(e) if e.kind() == io::ErrorKind::Unsupported => mode = Mode::Wait,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(self.poison(Poison::FdsDropped, Error::Io(e)));
                }
                Err(e) => return Err(e.into()),
            }
            if !sys::fd::poll_readable(fd, deadline)? {
                return Err(Error::Timeout);
            }
        }
    }

    /// One read into the free space of the read-ahead buffer (at most `want` bytes more
    /// without read-ahead). `Ok(0)` at end of stream.
    fn read_some(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        want: usize,
        deadline: Deadline,
    ) -> Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK].into_boxed_slice();
        }
        let full = self.end == self.buf.len() || self.end + want > self.buf.len();
        if self.start > 0 && (full || self.start == self.end) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let end = self.end;
        let stop = match self.read_ahead {
            ReadAhead::Yes => buf.len(),
            ReadAhead::No => (end + want).min(buf.len()),
        };
        let r = self.read_into(fd, kind, deadline, &mut buf[end..stop]);
        self.buf = buf;
        let n = r?;
        self.end += n;
        Ok(n)
    }

    /// Makes sure `want` (≤ 64 KiB) bytes are buffered.
    fn fill(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        want: usize,
        deadline: Deadline,
    ) -> Result<()> {
        while self.buffered() < want {
            if self.read_some(fd, kind, want - self.buffered(), deadline)? == 0 {
                return Err(self.disconnected());
            }
        }
        Ok(())
    }

    /// End of stream: [`Error::Disconnected`], at a message boundary or in the middle of a
    /// message, which can then never complete and is dropped.
    fn disconnected(&mut self) -> Error {
        let mid_message = self.current.is_some() || !self.carry.is_empty() || self.buffered() > 0;
        self.start = self.end;
        self.batches.clear();
        self.carry.clear();
        self.current = None;
        self.big = Vec::new();
        self.big_got = 0;
        Error::Disconnected { mid_message }
    }

    /// Reads frame headers until a message's: descriptor frames on the way add their
    /// descriptors to the message. Returns the message's payload length; the header is
    /// consumed and the message is `self.current` until [`finish`](Self::finish).
    fn begin(&mut self, fd: BorrowedFd<'_>, kind: StreamKind, deadline: Deadline) -> Result<usize> {
        self.check_poisoned()?;
        loop {
            if let Some(c) = &self.current {
                return Ok(c.len);
            }
            self.fill(fd, kind, self.framing.header_len(&[]), deadline)?;
            let need = self.framing.header_len(&self.buf[self.start..self.end]);
            self.fill(fd, kind, need, deadline)?;
            let at = self.offset();
            let head = match self
                .framing
                .parse_header(&self.buf[self.start..self.end], self.max)
            {
                Ok(h) => h,
                // The header stays: the caller may raise the limit and try again.
                Err(e @ Error::TooLarge { .. }) => return Err(e),
                Err(e) => return Err(self.poison(Poison::CorruptHeader, e)),
            };
            let fds = match self.claim(at, head.fds) {
                Ok(f) => f,
                Err(e) => return Err(self.poison(Poison::ForeignFds, e)),
            };
            if self.carry.len() + fds.len() > MAX_MESSAGE_FDS {
                let e = CorruptReason::TooManyFds.into();
                return Err(self.poison(Poison::TooManyFds, e));
            }
            self.start += head.header_len;
            self.carry.extend(fds);
            if head.more_fds {
                continue;
            }
            self.current = Some(Current {
                len: head.payload_len,
                end: self.offset() + head.payload_len as u64,
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
    /// collected in a vector that grows as bytes arrive.
    ///
    /// # Errors
    /// [`Error::Timeout`] when `deadline` passes first (what arrived stays for the next call);
    /// [`Error::Disconnected`] at end of stream; [`Error::TooLarge`] for a header above the
    /// limit (nothing is consumed: raise the limit to receive it); [`Error::Corrupt`] for a
    /// corrupt header or descriptors that did not come with their frame (the stream is then
    /// unusable).
    pub fn recv_with<R>(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Deadline,
        f: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R> {
        let len = self.begin(fd, kind, deadline)?;
        if len <= CHUNK && self.big_got == 0 {
            self.fill(fd, kind, len, deadline)?;
            let p = self.start;
            self.start += len;
            let fds = self.finish();
            return Ok(f(&self.buf[p..p + len], fds));
        }
        let big = self.read_large(fd, kind, len, deadline)?;
        let fds = self.finish();
        Ok(f(&big, fds))
    }

    /// Receives one message's payload, appending it to `out`; returns its length. Descriptors
    /// that came with it are appended to `fds`. Errors as [`recv_with`](Self::recv_with).
    pub fn recv_into_vec(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Deadline,
        out: &mut Vec<u8>,
        fds: &mut Vec<OwnedFd>,
    ) -> Result<usize> {
        let len = self.begin(fd, kind, deadline)?;
        if len <= CHUNK && self.big_got == 0 {
            self.fill(fd, kind, len, deadline)?;
            out.extend_from_slice(&self.buf[self.start..self.start + len]);
            self.start += len;
        } else {
            let mut big = self.read_large(fd, kind, len, deadline)?;
            if out.is_empty() {
                *out = big;
            } else {
                out.append(&mut big);
            }
        }
        fds.extend(self.finish());
        Ok(len)
    }

    /// Receives one message's payload into `out[..len]` if it fits; bytes beyond what was read
    /// ahead go straight from the kernel into `out`. When it does not fit, the message is still
    /// consumed and returned as `Ok(Err(payload))` (Python's `BufferTooShort`, which carries the
    /// message). Descriptors that came with it are closed.
    ///
    /// Since the payload goes into `out`, which the next call will not have, a `deadline` that
    /// passes while a payload larger than 64 KiB is half read leaves the stream unusable: give
    /// this call [`Deadline::Forever`] unless that is acceptable.
    pub fn recv_into_slice(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Deadline,
        out: &mut [u8],
    ) -> Result<std::result::Result<usize, Vec<u8>>> {
        let len = self.begin(fd, kind, deadline)?;
        if len > out.len() || self.big_got > 0 {
            let mut whole = Vec::new();
            let mut fds = Vec::new();
            self.recv_into_vec(fd, kind, deadline, &mut whole, &mut fds)?;
            if whole.len() <= out.len() {
                out[..whole.len()].copy_from_slice(&whole);
                return Ok(Ok(whole.len()));
            }
            return Ok(Err(whole));
        }
        if len <= CHUNK {
            self.fill(fd, kind, len, deadline)?;
            out[..len].copy_from_slice(&self.buf[self.start..self.start + len]);
            self.start += len;
        } else {
            // Copy what is buffered, then read the rest straight into `out`.
            let have = self.buffered().min(len);
            out[..have].copy_from_slice(&self.buf[self.start..self.start + have]);
            self.start += have;
            let mut got = have;
            while got < len {
                match self.read_into(fd, kind, deadline, &mut out[got..len]) {
                    Ok(0) => return Err(self.disconnected()),
                    Ok(n) => got += n,
                    Err(e) => return Err(self.poison(Poison::LostPlace, e)),
                }
            }
        }
        drop(self.finish());
        Ok(Ok(len))
    }

    /// A payload larger than the read-ahead buffer, collected in `self.big` (which keeps it
    /// across a timeout) and returned whole: the buffered part, then reads straight into it,
    /// its room growing at most 1 MiB ahead of the bytes that arrived.
    fn read_large(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        len: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>> {
        let have = self.buffered().min(len - self.big_got);
        self.grow(len, have);
        let got = self.big_got;
        self.big[got..got + have].copy_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        self.big_got += have;
        while self.big_got < len {
            self.grow(len, 1);
            let mut big = std::mem::take(&mut self.big);
            let r = self.read_into(fd, kind, deadline, &mut big[self.big_got..]);
            self.big = big;
            match r {
                Ok(0) => return Err(self.disconnected()),
                Ok(n) => self.big_got += n,
                Err(e) => return Err(e),
            }
        }
        let mut big = std::mem::take(&mut self.big);
        big.truncate(len);
        self.big_got = 0;
        Ok(big)
    }

    /// Makes room in `big` for at least `need` more bytes of a payload of `len`, at most
    /// 1 MiB beyond what arrived (zeroed once).
    fn grow(&mut self, len: usize, need: usize) {
        if self.big.len() < self.big_got + need {
            let room = (self.big_got + need.max(GROW_STEP)).min(len);
            self.big.resize(room, 0);
        }
    }
}
