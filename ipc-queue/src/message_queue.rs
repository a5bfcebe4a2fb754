//! [`MessageQueue`]: the kernel's POSIX message queue (`mq_open`), named, with priorities.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use multiproc_core::tracker;
use multiproc_core::transfer::{FdRef, PortableFd};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::sys;

/// The kernel's limits on POSIX message queues (`/proc/sys/fs/mqueue`), for an unprivileged
/// process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MqLimits {
    /// `msg_max`: the most messages one queue may hold.
    pub max_msgs: u64,
    /// `msgsize_max`: the largest message size a queue may be created with, in bytes.
    pub max_msg_size: u64,
    /// `queues_max`: how many queues may exist system-wide.
    pub max_queues: u64,
}

/// A queue's attributes (`mq_getattr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MqAttributes {
    /// The most messages it holds (`mq_maxmsg`).
    pub max_msgs: usize,
    /// Its largest message, in bytes (`mq_msgsize`).
    pub msg_size: usize,
    /// Messages in it now (`mq_curmsgs`).
    pub current_msgs: usize,
}

/// `mq_open`—A POSIX message queue: a named queue of byte messages in the kernel, which
/// unrelated programs open by name, delivered highest priority first.
///
/// Use it when a program that is not your child (or not written in Rust) must find the queue by
/// name, or when you want priorities. Do not use it for throughput or for large messages: every
/// message is a system call and the kernel's limits are small (see [`MqLimits`]: here 10
/// messages of at most 8 KiB by default for an unprivileged user). [`Queue`](crate::Queue) is
/// the fast, typed, unbounded-size queue between processes of one program.
///
/// The creator removes the name (`mq_unlink`) when its handle is dropped, unless
/// [`persist`](Self::persist) is called, and the resource tracker of `multiproc-core` removes it
/// if the creator dies first; a queue opened by name never removes it. The handle is
/// a descriptor, so it also travels to a child as an `multiproc_process` argument.
///
/// ```
/// use multiproc_queue::{MessageQueue, Error};
///
/// let name = format!("/ipc-doc-{}", std::process::id());
/// let mq = MessageQueue::create(&name, 4, 64)?;
/// let other = MessageQueue::open(&name)?; // as another program would
/// mq.send(b"low", 1)?;
/// mq.send(b"high", 9)?;
/// let mut buf = [0u8; 64];
/// let (n, prio) = other.recv(&mut buf)?;
/// assert_eq!((&buf[..n], prio), (&b"high"[..], 9));
/// assert_eq!(other.try_recv_vec()?, (b"low".to_vec(), 1));
/// assert!(matches!(other.try_recv_vec(), Err(Error::Empty)));
/// # Ok::<(), Error>(())
/// ```
///
/// # References
/// - [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)
/// - [mq_open(3)](https://man7.org/linux/man-pages/man3/mq_open.3.html)
#[doc(alias = "mq_open")]
pub struct MessageQueue {
    fd: OwnedFd,
    name: CString,
    unlink_on_drop: bool,
    msg_size: usize,
}

fn mq_name(name: &str) -> Result<CString, Error> {
    let body = name.strip_prefix('/').unwrap_or(name);
    if body.is_empty() || body.contains('/') || body.len() > 254 {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid message queue name {name:?}: one path component of 1 to 254 bytes"),
        )));
    }
    CString::new(format!("/{body}")).map_err(|_| {
        Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "name contains a NUL byte",
        ))
    })
}

impl MessageQueue {
    /// `mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, {max_msgs, msg_size})`—Creates a queue
    /// that holds up to `max_msgs` messages of up to `msg_size` bytes.
    ///
    /// # Errors
    /// [`Error::SizeLimit`] when `max_msgs` or `msg_size` exceed [`MqLimits`],
    /// [`Error::TooManyQueues`] when too many queues exist; [`Error::Io`] with `AlreadyExists` when the name
    /// is taken.
    pub fn create(name: &str, max_msgs: usize, msg_size: usize) -> Result<Self, Error> {
        let cname = mq_name(name)?;
        let fd = match sys::mq_open(&cname, Some((max_msgs as i64, msg_size as i64))) {
            Ok(fd) => fd,
            Err(e) => return Err(Self::explain(e, max_msgs, msg_size)),
        };
        let tracked = OsStr::from_bytes(cname.to_bytes());
        tracker::register(tracker::Kind::MessageQueue, tracked, Some(fd.as_fd()));
        Ok(MessageQueue {
            fd,
            name: cname,
            unlink_on_drop: true,
            msg_size,
        })
    }

    fn explain(e: io::Error, max_msgs: usize, msg_size: usize) -> Error {
        let limits = Self::limits().ok();
        match e.raw_os_error() {
            Some(libc::EINVAL) => Error::SizeLimit {
                max_msgs,
                msg_size,
                limits,
            },
            Some(libc::EMFILE | libc::ENOSPC | libc::ENFILE) => Error::TooManyQueues {
                max_queues: limits.map(|l| l.max_queues),
                source: e,
            },
            Some(libc::ENOSYS) => Error::Unsupported,
            _ => Error::Io(e),
        }
    }

    /// `mq_open(name, O_RDWR)`—Opens a queue created elsewhere.
    ///
    /// # Errors
    /// [`Error::Io`] with `NotFound` when no queue has that name.
    pub fn open(name: &str) -> Result<Self, Error> {
        let cname = mq_name(name)?;
        let fd = sys::mq_open(&cname, None)?;
        let attr = sys::mq_getattr(fd.as_fd())?;
        Ok(MessageQueue {
            fd,
            name: cname,
            unlink_on_drop: false,
            msg_size: attr.msg_size as usize,
        })
    }

    /// `mq_unlink(name)`—Removes this queue's name now (it no longer unlinks on drop); this
    /// and every other open handle keep working.
    ///
    /// # Errors
    /// [`Error::Io`] with `NotFound` when the name is already gone.
    #[doc(alias = "mq_unlink")]
    pub fn unlink(&mut self) -> Result<(), Error> {
        self.unlink_on_drop = false;
        sys::mq_unlink(&self.name)?;
        tracker::unregister(
            tracker::Kind::MessageQueue,
            OsStr::from_bytes(self.name.to_bytes()),
        );
        Ok(())
    }

    /// `mq_unlink(name)`—Removes a queue's name; open handles keep working.
    ///
    /// # Errors
    /// [`Error::Io`] with `NotFound` when no queue has that name.
    #[doc(alias = "mq_unlink")]
    pub fn unlink_name(name: &str) -> Result<(), Error> {
        let cname = mq_name(name)?;
        sys::mq_unlink(&cname)?;
        tracker::unregister(
            tracker::Kind::MessageQueue,
            OsStr::from_bytes(cname.to_bytes()),
        );
        Ok(())
    }

    /// The kernel's limits, read from `/proc/sys/fs/mqueue`.
    ///
    /// # Errors
    /// When `/proc` is not mounted.
    pub fn limits() -> io::Result<MqLimits> {
        Ok(MqLimits {
            max_msgs: sys::mqueue_limit("msg_max")?,
            max_msg_size: sys::mqueue_limit("msgsize_max")?,
            max_queues: sys::mqueue_limit("queues_max")?,
        })
    }

    /// `mq_getattr`—The queue's size limits and how many messages it holds now.
    ///
    /// # Errors
    /// When the kernel refuses (it does not for an open queue).
    #[doc(alias = "mq_getattr")]
    pub fn attributes(&self) -> Result<MqAttributes, Error> {
        let a = sys::mq_getattr(self.fd.as_fd())?;
        Ok(MqAttributes {
            max_msgs: a.max_msgs as usize,
            msg_size: a.msg_size as usize,
            current_msgs: a.cur_msgs as usize,
        })
    }

    /// The name, with its leading `/`.
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or("")
    }

    /// Keeps the name after this handle is dropped, or this process dies.
    pub fn persist(&mut self) {
        if self.unlink_on_drop {
            let tracked = OsStr::from_bytes(self.name.to_bytes());
            tracker::unregister(tracker::Kind::MessageQueue, tracked);
        }
        self.unlink_on_drop = false;
    }

    fn send_with(&self, msg: &[u8], prio: u32, timeout: Option<Duration>) -> Result<(), Error> {
        match sys::mq_send(self.fd.as_fd(), msg, prio, timeout) {
            Ok(()) => Ok(()),
            Err(e) => Err(match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ETIMEDOUT) => Error::Full,
                Some(libc::EMSGSIZE) => Error::TooLarge {
                    len: msg.len(),
                    max: self.msg_size,
                },
                _ => Error::Io(e),
            }),
        }
    }

    /// `mq_send`—Sends `msg` with `priority` (0 lowest; below `MQ_PRIO_MAX`, 32768), waiting
    /// while the queue is full.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when `msg` is longer than the queue's message size.
    #[doc(alias = "mq_send")]
    pub fn send(&self, msg: &[u8], priority: u32) -> Result<(), Error> {
        self.send_with(msg, priority, None)
    }

    /// `mq_timedsend`—[`send`](Self::send), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Full`] after the timeout; as [`send`](Self::send).
    #[doc(alias = "mq_timedsend")]
    pub fn send_timeout(&self, msg: &[u8], priority: u32, timeout: Duration) -> Result<(), Error> {
        self.send_with(msg, priority, Some(timeout))
    }

    /// [`send`](Self::send) only if there is room now.
    ///
    /// # Errors
    /// [`Error::Full`] at once; as [`send`](Self::send).
    pub fn try_send(&self, msg: &[u8], priority: u32) -> Result<(), Error> {
        self.send_with(msg, priority, Some(Duration::ZERO))
    }

    fn receive_with(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<(usize, u32), Error> {
        match sys::mq_receive(self.fd.as_fd(), buf, timeout) {
            Ok(r) => Ok(r),
            Err(e) => Err(match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ETIMEDOUT) => Error::Empty,
                Some(libc::EMSGSIZE) => Error::BufferTooSmall {
                    len: buf.len(),
                    need: self.msg_size,
                },
                _ => Error::Io(e),
            }),
        }
    }

    /// `mq_receive`—Takes the oldest message of the highest priority into `buf` (which must
    /// hold the queue's message size), waiting for one; returns its length and priority.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`].
    #[doc(alias = "mq_receive")]
    pub fn recv(&self, buf: &mut [u8]) -> Result<(usize, u32), Error> {
        self.receive_with(buf, None)
    }

    /// `mq_timedreceive`—[`recv`](Self::recv), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Empty`] after the timeout; as [`recv`](Self::recv).
    #[doc(alias = "mq_timedreceive")]
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<(usize, u32), Error> {
        self.receive_with(buf, Some(timeout))
    }

    /// [`recv`](Self::recv) only if a message is there now.
    ///
    /// # Errors
    /// [`Error::Empty`] at once; as [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<(usize, u32), Error> {
        self.receive_with(buf, Some(Duration::ZERO))
    }

    /// [`recv`](Self::recv) into a fresh `Vec`.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recv_vec(&self) -> Result<(Vec<u8>, u32), Error> {
        let mut buf = vec![0; self.msg_size];
        let (n, prio) = self.recv(&mut buf)?;
        buf.truncate(n);
        Ok((buf, prio))
    }

    /// [`try_recv`](Self::try_recv) into a fresh `Vec`.
    ///
    /// # Errors
    /// As [`try_recv`](Self::try_recv).
    pub fn try_recv_vec(&self) -> Result<(Vec<u8>, u32), Error> {
        let mut buf = vec![0; self.msg_size];
        let (n, prio) = self.try_recv(&mut buf)?;
        buf.truncate(n);
        Ok((buf, prio))
    }
}

impl AsFd for MessageQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        if self.unlink_on_drop {
            let _ = sys::mq_unlink(&self.name);
            let tracked = OsStr::from_bytes(self.name.to_bytes());
            tracker::unregister(tracker::Kind::MessageQueue, tracked);
        }
    }
}

impl fmt::Debug for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageQueue")
            .field("name", &self.name())
            .field("msg_size", &self.msg_size)
            .finish()
    }
}

#[derive(Serialize)]
struct WireOut<'a> {
    fd: FdRef<'a>,
    name: &'a str,
    msg_size: u64,
}

#[derive(Deserialize)]
struct WireIn {
    fd: PortableFd,
    name: String,
    msg_size: u64,
}

impl Serialize for MessageQueue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            fd: FdRef(self.fd.as_fd()),
            name: self.name(),
            msg_size: self.msg_size as u64,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MessageQueue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let w = WireIn::deserialize(d)?;
        let name = CString::new(w.name).map_err(D::Error::custom)?;
        Ok(MessageQueue {
            fd: w.fd.into_inner(),
            name,
            unlink_on_drop: false,
            msg_size: w.msg_size as usize,
        })
    }
}
