//! Every OS call of `multiproc-queue` that `multiproc-core` does not wrap: the POSIX message queue
//! (`mq_open` and friends, from libc) and its limits under `/proc/sys/fs/mqueue`.
//! (Shared memory, futexes and locks come from `multiproc-core` and `multiproc-sync`.)

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `mq_attr`, the fields that matter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub max_msgs: i64,
    pub msg_size: i64,
    pub cur_msgs: i64,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `mq_open(name, O_RDWR | O_CLOEXEC [| O_CREAT | O_EXCL], 0600, attr)`.
pub(crate) fn mq_open(name: &CStr, create: Option<(i64, i64)>) -> io::Result<OwnedFd> {
    let fd = match create {
        Some((max_msgs, msg_size)) => {
            // SAFETY: `mq_attr` is plain old data; zeroed is a valid value.
            let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
            attr.mq_maxmsg = max_msgs;
            attr.mq_msgsize = msg_size;
            // SAFETY: `name` is a NUL-terminated string and `attr` a valid `mq_attr` for the
            // duration of the call; with O_CREAT the variadic mode and attr pointer are read.
            cvt(unsafe {
                libc::mq_open(
                    name.as_ptr(),
                    libc::O_RDWR | libc::O_CLOEXEC | libc::O_CREAT | libc::O_EXCL,
                    0o600 as libc::mode_t,
                    &mut attr as *mut libc::mq_attr,
                )
            })?
        }
        // SAFETY: `name` is a NUL-terminated string; without O_CREAT no variadic argument is read.
        None => cvt(unsafe { libc::mq_open(name.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?,
    };
    // SAFETY: on Linux an `mqd_t` is a file descriptor, just returned and owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mq_unlink(name)`.
pub(crate) fn mq_unlink(name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is a NUL-terminated string.
    cvt(unsafe { libc::mq_unlink(name.as_ptr()) }).map(drop)
}

/// `mq_getattr(fd)`.
pub(crate) fn mq_getattr(fd: BorrowedFd<'_>) -> io::Result<Attr> {
    // SAFETY: `mq_attr` is plain old data; zeroed is a valid value.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open message queue descriptor; `attr` is valid for writes.
    cvt(unsafe { libc::mq_getattr(fd.as_raw_fd(), &mut attr) })?;
    Ok(Attr {
        max_msgs: attr.mq_maxmsg,
        msg_size: attr.mq_msgsize,
        cur_msgs: attr.mq_curmsgs,
    })
}

/// The absolute `CLOCK_REALTIME` time `timeout` from now (what `mq_timed*` take).
fn deadline(timeout: Duration) -> libc::timespec {
    // SAFETY: `timespec` is plain old data.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `now` is valid for writes; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let t = Duration::new(now.tv_sec as u64, now.tv_nsec as u32).saturating_add(timeout);
    libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: i64::from(t.subsec_nanos()) as _,
    }
}

/// `mq_timedsend(fd, msg, prio, now + timeout)`, or `mq_send` without a timeout; retries
/// `EINTR`.
pub(crate) fn mq_send(
    fd: BorrowedFd<'_>,
    msg: &[u8],
    prio: u32,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let abs = timeout.map(deadline);
    loop {
        let r = match &abs {
            // SAFETY: `fd` is an open message queue; `msg` is valid for `msg.len()` bytes.
            None => unsafe { libc::mq_send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), prio) },
            // SAFETY: as above, and `t` is a valid timespec.
            Some(t) => unsafe {
                libc::mq_timedsend(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), prio, t)
            },
        };
        match cvt(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(drop),
        }
    }
}

/// `mq_timedreceive(fd, buf, &prio, now + timeout)`, or `mq_receive`; retries `EINTR`.
pub(crate) fn mq_receive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    timeout: Option<Duration>,
) -> io::Result<(usize, u32)> {
    let abs = timeout.map(deadline);
    let mut prio: libc::c_uint = 0;
    loop {
        let r = match &abs {
            // SAFETY: `fd` is an open message queue; `buf` is valid for writes of its length;
            // `prio` is valid for writes.
            None => unsafe {
                libc::mq_receive(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut prio,
                )
            },
            // SAFETY: as above, and `t` is a valid timespec.
            Some(t) => unsafe {
                libc::mq_timedreceive(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut prio,
                    t,
                )
            },
        };
        if r >= 0 {
            return Ok((r as usize, prio));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One number from `/proc/sys/fs/mqueue/<file>`.
pub(crate) fn mqueue_limit(file: &str) -> io::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{file}"))?;
    s.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad {file}: {s:?}")))
}
