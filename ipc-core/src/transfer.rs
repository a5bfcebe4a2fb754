//! How a handle that owns file descriptors reaches another process.
//!
//! A handle (a [`crate::SharedMapping`], a [`Channel`], and every primitive of the `multiproc` crates
//! built on them) is an ordinary serde value. Its descriptors cannot travel as bytes, so while a
//! value is serialised by this module, each descriptor in it is set aside (duplicated) and the
//! bytes carry only its index in that set; the set travels out of band, as `SCM_RIGHTS` over a
//! Unix socket ([`Channel`]) or by inheritance. On the other side the bytes are decoded with the
//! received set in place, and each index becomes a descriptor of the receiving process.
//!
//! Types join in by holding a [`PortableFd`] (or serialising an [`FdRef`]). Serialising such a
//! type anywhere else (plain `postcard::to_vec`, JSON) is an error
//! ([`Error::FdOutsideTransfer`]), never a silently meaningless number.
//!
//! ```
//! use multiproc_core::transfer::{self, Channel};
//! use multiproc_core::SharedMapping;
//! use std::sync::atomic::Ordering;
//!
//! let (mut a, mut b) = Channel::pair()?;
//! let map = SharedMapping::memfd("demo", 4096)?;
//! map.atomic_u32(0).store(42, Ordering::Release);
//! a.send(&("here is a mapping", &map))?;
//! let (text, received): (String, SharedMapping) = b.recv()?;
//! assert_eq!(text, "here is a mapping");
//! assert_eq!(received.atomic_u32(0).load(Ordering::Acquire), 42); // the same pages
//! # Ok::<(), multiproc_core::Error>(())
//! ```
//!
//! To give a freshly executed program (not a `fork` of us) its first channel, use
//! [`spawn_with_channel`] in the parent and [`inherited_channel`] in the child.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;
use crate::error::{CorruptReason, Error, Result};
use crate::futex::Deadline;
use crate::stream::{self, Endpoint, Framing};
use crate::sys;

thread_local! {
    /// Descriptors set aside by the serialisation running on this thread (`None`: none is).
    static OUTGOING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// For each descriptor set aside through a [`SharedFdRef`]: the number it has in this
    /// process and its index in `OUTGOING`, so that it goes once per message.
    static SHARED_OUT: RefCell<Vec<(RawFd, u32)>> = const { RefCell::new(Vec::new()) };
    /// Descriptors received with the message being deserialised on this thread.
    static INCOMING: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
    /// Counts the messages deserialised on this thread: tells one message's descriptor
    /// positions from another's.
    static MESSAGE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The typed error behind the last serde `custom` error raised by this module. postcard
    /// drops the message of a custom error (its `Error::SerdeSerCustom` / `SerdeDeCustom`
    /// carry nothing), so a `Serialize`/`Deserialize` impl that fails for a reason of ours
    /// (a descriptor outside `transfer`, a missing descriptor, a refused handle) records it
    /// here, and `codec::encode` / `codec::decode` hand it to the caller instead of postcard's
    /// bare error. It holds only that: every reason that postcard's error does carry travels
    /// in the error value itself.
    static FAILURE: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// Whether the serialisation running on this thread prepares a child's arguments.
    static FOR_CHILD: Cell<bool> = const { Cell::new(false) };
}

/// Records `e` as the real reason for a serialisation failure and returns a serde error for it;
/// [`to_envelope`] and [`Channel::send`] give the caller `e` itself.
pub fn fail<E: serde::ser::Error>(e: Error) -> E {
    let msg = e.to_string();
    FAILURE.with(|f| *f.borrow_mut() = Some(e));
    E::custom(msg)
}

/// [`fail`] for deserialisation: [`from_envelope`] and [`Channel::recv`] give the caller `e`.
pub fn fail_de<E: serde::de::Error>(e: Error) -> E {
    let msg = e.to_string();
    FAILURE.with(|f| *f.borrow_mut() = Some(e));
    E::custom(msg)
}

/// The typed reason recorded by [`fail`] / [`fail_de`], or `fallback`.
pub(crate) fn take_failure(fallback: Error) -> Error {
    FAILURE.with(|f| f.borrow_mut().take()).unwrap_or(fallback)
}

pub(crate) fn clear_failure() {
    FAILURE.with(|f| f.borrow_mut().take());
}

/// An owned descriptor that serialises out of band (see the [module docs](self)).
#[derive(Debug)]
pub struct PortableFd(OwnedFd);

impl PortableFd {
    /// Wraps a descriptor.
    pub fn new(fd: OwnedFd) -> Self {
        PortableFd(fd)
    }

    /// The descriptor.
    pub fn into_inner(self) -> OwnedFd {
        self.0
    }

    /// A second handle to the same open file (`dup`).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(PortableFd(sys::fd::dup_cloexec(self.0.as_fd())?))
    }
}

impl From<OwnedFd> for PortableFd {
    fn from(fd: OwnedFd) -> Self {
        PortableFd(fd)
    }
}

impl AsFd for PortableFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for PortableFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A borrowed descriptor that serialises out of band: for `Serialize` impls of types that keep
/// their descriptor in some other form. Deserialise the same position as a [`PortableFd`].
#[derive(Debug, Clone, Copy)]
pub struct FdRef<'a>(pub BorrowedFd<'a>);

/// The serde shape of a descriptor: its index in the out-of-band set.
#[derive(Serialize, Deserialize)]
#[serde(rename = "PortableFd")]
struct FdIndex(u32);

/// A borrowed descriptor that many values of one message may name (the arena of the shared
/// heap behind a thousand locks): it is sent once per message, however many values serialise it.
/// Deserialise the same position as a [`ReceivedFd`].
#[derive(Debug, Clone, Copy)]
pub struct SharedFdRef<'a>(pub BorrowedFd<'a>);

impl Serialize for SharedFdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let raw = self.0.as_raw_fd();
        let known =
            SHARED_OUT.with(|m| m.borrow().iter().find(|(r, _)| *r == raw).map(|&(_, i)| i));
        if let Some(i) = known {
            return FdIndex(i).serialize(s);
        }
        let index = OUTGOING.with(|out| -> std::result::Result<u32, Error> {
            let mut out = out.borrow_mut();
            let set = out.as_mut().ok_or(Error::FdOutsideTransfer)?;
            set.push(sys::fd::dup_cloexec(self.0)?);
            Ok((set.len() - 1) as u32)
        });
        match index {
            Ok(i) => {
                SHARED_OUT.with(|m| m.borrow_mut().push((raw, i)));
                FdIndex(i).serialize(s)
            }
            Err(e) => Err(fail(e)),
        }
    }
}

/// A descriptor position in the message being deserialised that several values may share (the
/// counterpart of [`SharedFdRef`]): deserialising it takes nothing; [`duplicate`](Self::duplicate)
/// gives a descriptor of one's own. Use it only while the message is being deserialised.
#[derive(Debug)]
pub struct ReceivedFd(u32, u64);

impl ReceivedFd {
    fn with<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> Result<R> {
        INCOMING.with(|inc| {
            let inc = inc.borrow();
            let set = inc.as_ref().ok_or(Error::FdOutsideTransfer)?;
            let fd = set
                .get(self.0 as usize)
                .and_then(Option::as_ref)
                .ok_or(Error::from(CorruptReason::MissingFd {
                    index: self.0,
                    received: set.len(),
                }))?;
            Ok(f(fd.as_fd())?)
        })
    }

    /// The descriptor's file identity (device, inode): tells whether this process has the same
    /// file open already.
    pub fn identity(&self) -> Result<(u64, u64)> {
        self.with(sys::fd::file_identity)
    }

    /// A descriptor of this process's own for the same open file (`dup`).
    pub fn duplicate(&self) -> Result<OwnedFd> {
        self.with(sys::fd::dup_cloexec)
    }

    /// Which descriptor of which message this is: equal for every value of one message that
    /// names the same descriptor, and different from every other message's (on this thread), so
    /// that work done for the first value (mapping an arena) can be looked up by the rest.
    pub fn key(&self) -> (u64, u32) {
        (self.1, self.0)
    }
}

impl<'de> Deserialize<'de> for ReceivedFd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let FdIndex(index) = FdIndex::deserialize(d)?;
        Ok(ReceivedFd(index, MESSAGE.with(std::cell::Cell::get)))
    }
}

impl Serialize for FdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let index = OUTGOING.with(|out| -> std::result::Result<u32, Error> {
            let mut out = out.borrow_mut();
            let set = out.as_mut().ok_or(Error::FdOutsideTransfer)?;
            if set.len() >= stream::MAX_MESSAGE_FDS {
                return Err(Error::NotTransferable(
                    "more than 65,536 descriptors in one message",
                ));
            }
            set.push(sys::fd::dup_cloexec(self.0)?);
            Ok((set.len() - 1) as u32)
        });
        match index {
            Ok(i) => FdIndex(i).serialize(s),
            Err(e) => Err(fail(e)),
        }
    }
}

/// Descriptors that travel once, moved into the message that carries them instead of duplicated:
/// a value holding a large set of descriptors (a child's arguments) is then never held twice.
/// Serialising it hands its descriptors to that message; a second serialisation carries none.
/// On the wire it is a sequence of descriptors, as a `Vec<PortableFd>` is; deserialising gives a
/// `MovedFds` that owns the received ones.
#[derive(Debug, Default)]
pub struct MovedFds(RefCell<Vec<OwnedFd>>);

impl MovedFds {
    /// Wraps descriptors to move into the next message that serialises them.
    pub fn new(fds: Vec<OwnedFd>) -> Self {
        MovedFds(RefCell::new(fds))
    }

    /// The descriptors still held (none after a serialisation).
    pub fn into_inner(self) -> Vec<OwnedFd> {
        self.0.into_inner()
    }
}

impl Serialize for MovedFds {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let fds = std::mem::take(&mut *self.0.borrow_mut());
        let first = OUTGOING.with(|out| -> std::result::Result<u32, Error> {
            let mut out = out.borrow_mut();
            let set = out.as_mut().ok_or(Error::FdOutsideTransfer)?;
            let first = set.len();
            if first + fds.len() > stream::MAX_MESSAGE_FDS {
                return Err(Error::NotTransferable(
                    "more than 65,536 descriptors in one message",
                ));
            }
            set.extend(fds);
            Ok(first as u32)
        });
        let first = first.map_err(fail)?;
        let n = OUTGOING.with(|out| out.borrow().as_ref().map_or(0, Vec::len)) as u32 - first;
        let mut seq = s.serialize_seq(Some(n as usize))?;
        for i in first..first + n {
            seq.serialize_element(&FdIndex(i))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for MovedFds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let fds = Vec::<PortableFd>::deserialize(d)?;
        Ok(MovedFds::new(
            fds.into_iter().map(PortableFd::into_inner).collect(),
        ))
    }
}

impl Serialize for PortableFd {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        FdRef(self.0.as_fd()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for PortableFd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let FdIndex(index) = FdIndex::deserialize(d)?;
        let taken = INCOMING.with(|inc| {
            let mut inc = inc.borrow_mut();
            let set = inc.as_mut().ok_or(Error::FdOutsideTransfer)?;
            let received = set.len();
            set.get_mut(index as usize)
                .and_then(Option::take)
                .ok_or(CorruptReason::MissingFd { index, received }.into())
        });
        taken.map(PortableFd).map_err(fail_de)
    }
}

/// A value's bytes and the descriptors they refer to, ready to travel.
#[derive(Debug, Default)]
pub struct Envelope {
    /// The postcard encoding, with descriptor indices in place of descriptors.
    pub bytes: Vec<u8>,
    /// The descriptors (duplicates, owned by the envelope), in index order.
    pub fds: Vec<OwnedFd>,
}

/// Restores a thread-local slot when dropped, so that nesting and panics leave it as it was.
struct Restore<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    prev: Option<Option<T>>,
}

impl<T: 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        let prev = self.prev.take().flatten();
        self.key.with(|k| *k.borrow_mut() = prev);
    }
}

fn install<T: 'static>(
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    value: T,
) -> Restore<T> {
    let prev = key.with(|k| k.borrow_mut().replace(value));
    Restore {
        key,
        prev: Some(prev),
    }
}

/// Serialises `value`, appending its bytes to `bytes` (a buffer to reuse) and returning the
/// descriptors it owns (duplicated): [`to_envelope`] without the allocation.
pub fn serialize_into<T: Serialize + ?Sized>(
    value: &T,
    bytes: &mut Vec<u8>,
) -> Result<Vec<OwnedFd>> {
    let guard = install(&OUTGOING, Vec::new());
    let shared = SHARED_OUT.with(|m| std::mem::take(&mut *m.borrow_mut()));
    let r = codec::encode(value, bytes);
    SHARED_OUT.with(|m| *m.borrow_mut() = shared);
    let fds = OUTGOING.with(|o| o.borrow_mut().take()).unwrap_or_default();
    drop(guard);
    r.map(|()| fds)
}

/// Serialises `value` for another process: its bytes plus the descriptors it owns.
pub fn to_envelope<T: Serialize + ?Sized>(value: &T) -> Result<Envelope> {
    let mut bytes = Vec::new();
    let fds = serialize_into(value, &mut bytes)?;
    Ok(Envelope { bytes, fds })
}

/// [`to_envelope`] for the arguments of a child process that this process starts: while it
/// runs, [`preparing_child`] is true on this thread.
///
/// That is the one thing a handle's `Serialize` may want to know: whether the bytes go to a
/// child of ours (started by `multiproc-process`) or anywhere else. A manager proxy, for one,
/// carries its authkey only to a child, as Python's proxies do (`get_spawning_popen()`).
pub fn to_child_envelope<T: Serialize + ?Sized>(value: &T) -> Result<Envelope> {
    let prev = FOR_CHILD.with(|f| f.replace(true));
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            FOR_CHILD.with(|f| f.set(self.0));
        }
    }
    let _reset = Reset(prev);
    to_envelope(value)
}

/// Whether the serialisation running on this thread prepares the arguments of a child process
/// this process starts (see [`to_child_envelope`]).
///
/// ```
/// use multiproc_core::transfer::{preparing_child, to_child_envelope, to_envelope};
/// struct Probe;
/// impl serde::Serialize for Probe {
///     fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
///         s.serialize_bool(preparing_child())
///     }
/// }
/// assert_eq!(to_child_envelope(&Probe)?.bytes, [1]);
/// assert_eq!(to_envelope(&Probe)?.bytes, [0]);
/// # Ok::<(), multiproc_core::Error>(())
/// ```
pub fn preparing_child() -> bool {
    FOR_CHILD.with(Cell::get)
}

/// Rebuilds a value from its bytes and the descriptors that came with them (in index order).
/// Descriptors the value does not claim are closed.
///
/// # Errors
/// [`Error::Corrupt`]: [`CorruptReason::MissingFd`] when the bytes name a descriptor that is
/// not in `fds`, or why the bytes do not decode.
pub fn from_envelope<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T> {
    MESSAGE.with(|m| m.set(m.get().wrapping_add(1)));
    let _guard = install(&INCOMING, fds.into_iter().map(Some).collect());
    codec::decode(bytes)
}

/// `sendmsg` with `SCM_RIGHTS`—Sends `data` on a Unix socket with `fds` attached to its first
/// byte. Returns the bytes sent (possibly fewer than `data.len()` on a stream socket).
/// Never raises `SIGPIPE` (`MSG_NOSIGNAL`): a closed peer is `EPIPE`.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html), `SCM_RIGHTS`
#[doc(alias = "SCM_RIGHTS")]
pub fn send_fds(sock: impl AsFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    sys::net::send_with_fds(sock.as_fd(), data, fds)
}

/// `recvmsg` with `SCM_RIGHTS`—Receives into `buf`, appending descriptors that came with the
/// bytes to `fds` (close-on-exec). At most `max_fds` are accepted; more is an
/// [`io::ErrorKind::InvalidData`] error (the kernel closes the surplus).
pub fn recv_fds(
    sock: impl AsFd,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
) -> io::Result<usize> {
    sys::net::recv_with_fds(sock.as_fd(), buf, fds, max_fds)
}

/// A Unix stream socket that carries whole values, descriptors included, in both directions:
/// an [`Endpoint`] in the native framing on a Unix socket, and nothing else.
///
/// Each message is a [`crate::stream`] frame: a header (payload length, descriptor count), the
/// postcard payload, and the descriptors as `SCM_RIGHTS` on its first byte. A peer that closed
/// is [`Error::Disconnected`] on `recv` and an [`Error::Io`] (`BrokenPipe`) on `send`, never a
/// `SIGPIPE`.
///
/// A `Channel` is itself a handle: it can be sent over another `Channel`.
#[derive(Debug)]
pub struct Channel(Box<Endpoint>);

impl Channel {
    /// Two connected channels (a `socketpair`).
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = Endpoint::pair(Framing::Native)?;
        Ok((Channel(Box::new(a)), Channel(Box::new(b))))
    }

    fn from_socket(fd: OwnedFd) -> Channel {
        Channel(Box::new(Endpoint::new(
            fd,
            stream::StreamKind::Socket,
            Framing::Native,
        )))
    }

    /// Wraps a connected Unix stream socket.
    ///
    /// # Errors
    /// [`Error::BadFd`] when `fd` is not a socket.
    pub fn from_fd(fd: OwnedFd) -> Result<Channel> {
        if !sys::net::is_socket(fd.as_fd())? {
            return Err(Error::BadFd(fd.as_raw_fd()));
        }
        Ok(Channel::from_socket(fd))
    }

    /// The socket. Bytes already read ahead are lost.
    pub fn into_fd(self) -> OwnedFd {
        self.0.into_fd()
    }

    /// The endpoint this channel is.
    pub fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.0
    }

    /// Sets the largest payload this end sends or accepts (default 1 GiB, at most 4 GiB − 1).
    pub fn set_max_message(&mut self, max: usize) {
        self.0.set_max_message(max);
    }

    /// The largest payload this end sends or accepts.
    pub fn max_message(&self) -> usize {
        self.0.max_message()
    }

    /// Sends `value` and the descriptors it owns (see [`Endpoint::send`]).
    ///
    /// # Errors
    /// [`Error::TooLarge`] above the limit (nothing is sent); [`Error::Encode`],
    /// [`Error::NotTransferable`]; [`Error::Io`] with `BrokenPipe` when the peer is gone.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.0.send(value)
    }

    /// Receives one value, blocking until it arrives (see [`Endpoint::recv_until`]).
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the peer closed or died; [`Error::TooLarge`] for a header
    /// above the limit; [`Error::Corrupt`] for a bad message.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.0.recv_until(Deadline::Forever)
    }

    /// [`recv`](Self::recv) that never waits: [`Error::Timeout`] when no whole message is
    /// there.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.0.recv_until(Deadline::No)
    }

    /// [`recv`](Self::recv) that gives up with [`Error::Timeout`] after `timeout`; a message
    /// that had begun to arrive stays buffered for the next call.
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T> {
        self.0.recv_until(Deadline::after(timeout))
    }

    /// Whether a message (or end of stream) is waiting now.
    pub fn poll(&self) -> Result<bool> {
        self.0.poll_until(Deadline::No)
    }

    /// Whether a message (or end of stream) arrives within `timeout`.
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool> {
        self.0.poll_until(Deadline::after(timeout))
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let e = Endpoint::deserialize(d)?;
        if !e.carries_fds() {
            return Err(serde::de::Error::custom(
                "a Channel is a Unix socket in the native framing",
            ));
        }
        Ok(Channel(Box::new(e)))
    }
}

/// The environment variable that tells a child which inherited descriptor is its channel.
pub const CHANNEL_FD_ENV: &str = "IPC_CORE_CHANNEL_FD";

/// Spawns `cmd` with one end of a new [`Channel`] inherited by the child (its number in
/// [`CHANNEL_FD_ENV`]); returns the child and the parent's end. The child takes its end with
/// [`inherited_channel`].
///
/// Only that one descriptor is inherited: every descriptor `multiproc` makes is close-on-exec, and
/// the child end is made inheritable only in the child, between `fork` and `exec`, so other
/// threads spawning at the same time do not get it. The child also gets this program's
/// [`tracker`](crate::tracker) address ([`tracker::child_env`](crate::tracker::child_env)), so
/// that it shares the tracker.
///
/// ```no_run
/// use std::process::Command;
/// let (mut child, mut ch) = multiproc_core::transfer::spawn_with_channel(Command::new("worker"))?;
/// ch.send(&"hello")?;
/// child.wait()?;
/// # Ok::<(), multiproc_core::Error>(())
/// ```
pub fn spawn_with_channel(mut cmd: Command) -> io::Result<(Child, Channel)> {
    let (ours, theirs) = sys::net::socketpair_stream()?;
    let raw = theirs.as_raw_fd();
    cmd.env(CHANNEL_FD_ENV, raw.to_string());
    if let Some((k, v)) = crate::tracker::child_env() {
        cmd.env(k, v);
    }
    // SAFETY: the closure runs in the child between fork and exec and makes one raw `fcntl`
    // syscall, which is async-signal-safe; it allocates nothing and takes no lock. `raw` is open
    // there because `theirs` is alive until after `spawn` returns.
    unsafe {
        cmd.pre_exec(move || sys::fd::clear_cloexec_raw(raw));
    }
    let child = cmd.spawn()?;
    drop(theirs);
    Ok((child, Channel::from_socket(ours)))
}

/// Starts this very program again (`/proc/self/exe`, the file this process runs even if its
/// path was replaced since) with `vars` (and the [`tracker`](crate::tracker) address) added to
/// the environment and one end of a new
/// [`Channel`] inherited; returns the child's pid and our end. The child takes its end with
/// [`inherited_channel`].
///
/// The fast path of [`spawn_with_channel`] for a program that starts copies of itself (as
/// `multiproc-process` does): `posix_spawn` instead of `fork` + `exec`, so a large parent's page
/// tables are not copied. The caller reaps the child (e.g. through a pidfd).
pub fn spawn_self_with_channel(vars: &[(&str, &str)]) -> io::Result<(u32, Channel)> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (ours, theirs) = sys::net::socketpair_stream()?;
    let nul = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    let arg0 = match std::env::args_os().next() {
        Some(a) => CString::new(a.as_bytes()).map_err(nul)?,
        None => CString::new("ipc-child").map_err(nul)?,
    };
    let fd_var = format!("{CHANNEL_FD_ENV}={}", theirs.as_raw_fd());
    let tracker = crate::tracker::child_env();
    let vars: Vec<(&str, &str)> = vars.iter().copied().chain(tracker).collect();
    let mut envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| {
            k.as_bytes() != CHANNEL_FD_ENV.as_bytes()
                && !vars.iter().any(|(v, _)| k.as_bytes() == v.as_bytes())
        })
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .map_err(nul)?;
    for (k, v) in &vars {
        envp.push(CString::new(format!("{k}={v}")).map_err(nul)?);
    }
    envp.push(CString::new(fd_var).map_err(nul)?);
    let pid = sys::proc::posix_spawn_keep_fd(c"/proc/self/exe", &[&arg0], &envp, theirs.as_fd())?;
    drop(theirs);
    Ok((pid, Channel::from_socket(ours)))
}

static CLAIMED: AtomicBool = AtomicBool::new(false);

/// In a child started by [`spawn_with_channel`]: takes the inherited channel.
///
/// Returns `Ok(None)` when this process was not started that way, or when the channel was
/// already taken (only the first call gets it).
///
/// # Errors
/// [`Error::BadFd`] when the environment names a descriptor that is not an open socket, or
/// one of the standard descriptors 0–2.
///
/// # Safety
///
/// The descriptor named by [`CHANNEL_FD_ENV`] must not be owned by anything else in this
/// process. That holds when this process was started by [`spawn_with_channel`] and nothing has
/// claimed the number since; it does not hold if the variable was inherited from further up
/// (a stale number now reused by another file). Only the first call can claim it.
pub unsafe fn inherited_channel() -> Result<Option<Channel>> {
    let Some(val) = std::env::var_os(CHANNEL_FD_ENV) else {
        return Ok(None);
    };
    let raw: RawFd = val
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or(Error::BadFd(-1))?;
    if raw <= 2 {
        return Err(Error::BadFd(raw));
    }
    if CLAIMED.swap(true, Ordering::AcqRel) {
        return Ok(None);
    }
    if !sys::fd::raw_fd_is_open(raw) {
        return Err(Error::BadFd(raw));
    }
    // SAFETY: `raw` is open (checked), not a standard descriptor, owned by nothing else (the
    // caller's contract), and the `CLAIMED` flag makes this function claim it at most once.
    let fd = unsafe { crate::fd::claim_inherited(raw) }?;
    Channel::from_fd(fd).map(Some)
}
