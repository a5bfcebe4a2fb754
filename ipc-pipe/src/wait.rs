//! [`wait`] on many connections and descriptors at once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::connection::Connection;

/// Something [`wait`] can wait on: a [`Connection`], or any descriptor (a process sentinel, a
/// socket).
pub trait Waitable {
    /// The descriptor that becomes readable when the object is ready.
    fn wait_fd(&self) -> BorrowedFd<'_>;
    /// Whether it is ready without looking at the descriptor (a connection with a message
    /// already read ahead).
    fn ready_now(&self) -> bool {
        false
    }
}

impl Waitable for Connection {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn ready_now(&self) -> bool {
        self.has_message()
    }
}

impl Waitable for OwnedFd {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

impl Waitable for BorrowedFd<'_> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        *self
    }
}

/// Python's `multiprocessing.connection.wait(object_list, timeout)`: waits until at least one
/// object is ready — a connection with a message (or whose peer closed), a process sentinel
/// whose process ended — and returns the indices of those that are; `[]` after `timeout`.
///
/// ```
/// use std::time::Duration;
/// let (mut a, b) = multiproc_pipe::pipe(true)?;
/// let (c, mut d) = multiproc_pipe::pipe(true)?;
/// d.send(&1u8)?;
/// let ready = multiproc_pipe::wait(&[&b, &c], Some(Duration::from_secs(1)))?;
/// assert_eq!(ready, vec![1]);
/// assert!(multiproc_pipe::wait(&[&b], Some(Duration::from_millis(10)))?.is_empty());
/// # drop(a.send(&0u8)); Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let now: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ready_now())
        .map(|(i, _)| i)
        .collect();
    if !now.is_empty() {
        return Ok(now);
    }
    let fds: Vec<BorrowedFd<'_>> = objects.iter().map(|o| o.wait_fd()).collect();
    multiproc_core::fd::wait_readable(&fds, timeout)
}
