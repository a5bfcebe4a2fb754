//! Unix sockets: stream pairs, `sendmsg`/`recvmsg` with descriptors (`SCM_RIGHTS`), buffer
//! sizes, and the resource tracker's abstract `SOCK_SEQPACKET` socket.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::futex::Deadline;

use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

use super::{Mode, retry};

/// The largest number of descriptors Linux passes in one `SCM_RIGHTS` message (`SCM_MAX_FD`).
pub(crate) const MAX_FDS_PER_MESSAGE: usize = 253;

pub(crate) fn socketpair_stream() -> io::Result<(OwnedFd, OwnedFd)> {
    retry(|| {
        rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
    })
}

pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let st = retry(|| rustix::fs::fstat(fd))?;
    Ok(rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
}

/// `setsockopt(SO_SNDBUF / SO_RCVBUF)`: asks for socket buffers of `bytes` each way (the kernel
/// may cap it at `net.core.wmem_max` / `rmem_max`).
pub(crate) fn set_socket_buffers(sock: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    rustix::net::sockopt::set_socket_send_buffer_size(sock, bytes)?;
    rustix::net::sockopt::set_socket_recv_buffer_size(sock, bytes)?;
    Ok(())
}

/// `sendmsg` of `data` with `fds` attached as `SCM_RIGHTS`. Returns the bytes sent (which may be
/// fewer than `data.len()` on a stream socket; the descriptors went with the first byte).
pub(crate) fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    sendmsg_iov(sock, &[io::IoSlice::new(data)], fds, Mode::Wait)
}

/// `recvmsg` into `buf`, appending any descriptors received (close-on-exec) to `fds`.
/// Fails with `InvalidData` when the kernel had to drop descriptors (`MSG_CTRUNC`).
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
) -> io::Result<usize> {
    let (n, truncated) = recvmsg_fds(sock, buf, fds, max_fds, Mode::Wait)?;
    if truncated {
        return Err(ctrunc_error());
    }
    Ok(n)
}

/// The error for a `recvmsg` whose descriptors the kernel had to drop.
pub(crate) fn ctrunc_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "descriptors were dropped by the kernel (control message truncated)",
    )
}

/// `recv(sock, buf)` on a stream socket, without room for descriptors: any the peer attached
/// are closed by the kernel, unread. `mode` says whether it may wait.
pub(crate) fn recv(sock: BorrowedFd<'_>, buf: &mut [u8], mode: Mode) -> io::Result<usize> {
    let flags = RecvFlags::CMSG_CLOEXEC | mode.recv_flags();
    Ok(retry(|| rustix::net::recv(sock, &mut *buf, flags))?.0)
}

/// `recvmsg` into `buf`, appending any descriptors received (close-on-exec) to `fds`; returns
/// the bytes received and whether the kernel dropped descriptors (`MSG_CTRUNC`: more than
/// `max_fds`, or none could be installed), in which case the bytes were still consumed.
pub(crate) fn recvmsg_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
    mode: Mode,
) -> io::Result<(usize, bool)> {
    let max_fds = max_fds.min(MAX_FDS_PER_MESSAGE);
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(max_fds))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let flags = RecvFlags::CMSG_CLOEXEC | mode.recv_flags();
    let msg = retry(|| rustix::net::recvmsg(sock, &mut iov, &mut control, flags))?;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    Ok((msg.bytes, msg.flags.contains(ReturnFlags::CTRUNC)))
}

/// `sendmsg` of several slices with `fds` (`MSG_NOSIGNAL`).
pub(crate) fn sendmsg_iov(
    sock: BorrowedFd<'_>,
    iov: &[io::IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
    mode: Mode,
) -> io::Result<usize> {
    let flags = SendFlags::NOSIGNAL | mode.send_flags();
    if fds.is_empty() {
        return retry(|| {
            rustix::net::sendmsg(sock, iov, &mut SendAncillaryBuffer::default(), flags)
        });
    }
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_FDS_PER_MESSAGE} descriptors go in one message"),
        ));
    }
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("control buffer too small for descriptors"));
    }
    retry(|| rustix::net::sendmsg(sock, iov, &mut control, flags))
}

fn abstract_addr(name: &[u8]) -> io::Result<SocketAddrUnix> {
    SocketAddrUnix::new_abstract_name(name).map_err(Into::into)
}

fn seqpacket(extra: SocketFlags) -> io::Result<OwnedFd> {
    retry(|| {
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | extra,
            None,
        )
    })
}

/// `socket(AF_UNIX, SOCK_SEQPACKET)` + `bind(@name)` + `listen`. `AddrInUse` when another
/// process holds the address.
pub(crate) fn listen_seqpacket(name: &[u8]) -> io::Result<OwnedFd> {
    let fd = seqpacket(SocketFlags::empty())?;
    rustix::net::bind(&fd, &abstract_addr(name)?)?;
    // The backlog also bounds each connection's queue of unread messages (a `SOCK_SEQPACKET`
    // socket counts them against it): the kernel caps it at `net.core.somaxconn`.
    rustix::net::listen(&fd, i32::MAX)?;
    Ok(fd)
}

/// `socket(AF_UNIX, SOCK_SEQPACKET)` + `connect(@name)`. `ConnectionRefused` when nobody
/// listens there.
pub(crate) fn connect_seqpacket(name: &[u8]) -> io::Result<OwnedFd> {
    let fd = seqpacket(SocketFlags::empty())?;
    let addr = abstract_addr(name)?;
    match rustix::net::connect(&fd, &addr) {
        // A Unix socket connects at once; an interrupted call has connected or failed.
        Ok(()) | Err(Errno::INTR) | Err(Errno::ISCONN) => Ok(fd),
        Err(e) => Err(e.into()),
    }
}

/// The user id of the process at the other end of a connected Unix socket (`SO_PEERCRED`):
/// for a client, the process that called `listen`.
pub(crate) fn peer_uid(sock: BorrowedFd<'_>) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(sock)?.uid.as_raw())
}

/// `send(MSG_DONTWAIT | MSG_NOSIGNAL)` of one whole message: never blocks, never raises
/// `SIGPIPE`. `WouldBlock` when the peer's queue is full.
pub(crate) fn send_now(sock: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    retry(|| rustix::net::send(sock, msg, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)).map(drop)
}

/// `recv(MSG_DONTWAIT | MSG_TRUNC)` of one message into `buf`: `(copied, whole length)`;
/// `(0, 0)` at end of stream. `WouldBlock` when nothing is waiting.
pub(crate) fn recv_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, usize)> {
    let (got, whole) = retry(|| {
        rustix::net::recv(
            sock,
            &mut *buf,
            RecvFlags::DONTWAIT | RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC,
        )
    })?;
    Ok((got, whole))
}

/// `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)` on a non-blocking listener: `Ok(None)` when no
/// connection is waiting.
pub(crate) fn accept_now(listener: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    match retry(|| rustix::net::accept_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK))
    {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        // The client went away before we accepted it: nothing to serve.
        Err(e) if e.raw_os_error() == Some(Errno::CONNABORTED.raw_os_error()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the peer of `sock` is still there: no hang-up and nothing to read (the tracker
/// says nothing after its greeting), checked without waiting.
pub(crate) fn still_open(sock: BorrowedFd<'_>) -> bool {
    !super::fd::poll_readable(sock, Deadline::No).unwrap_or(true)
}

/// Whether `fd` is a socket in the listening state (`SO_ACCEPTCONN`).
pub(crate) fn is_listening(fd: BorrowedFd<'_>) -> bool {
    rustix::net::sockopt::socket_acceptconn(fd).unwrap_or(false)
}

impl Mode {
    fn recv_flags(self) -> RecvFlags {
        match self {
            Mode::Wait => RecvFlags::empty(),
            Mode::NoWait => RecvFlags::DONTWAIT,
        }
    }

    fn send_flags(self) -> SendFlags {
        match self {
            Mode::Wait => SendFlags::empty(),
            Mode::NoWait => SendFlags::DONTWAIT,
        }
    }
}
