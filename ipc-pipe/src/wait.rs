//! [`wait`] on many connections and descriptors at once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use multiproc_core::Deadline;

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

/// Python's `multiprocessing.connection.wait(object_list)`: waits as long as it takes until at
/// least one object is ready — a connection with a message (or whose peer closed), a process
/// sentinel whose process ended — and returns the indices of those that are.
///
/// ```
/// let (mut a, b) = multiproc_pipe::pipe()?;
/// let (c, mut d) = multiproc_pipe::pipe()?;
/// d.send(&1u8)?;
/// assert_eq!(multiproc_pipe::wait(&[&b, &c])?, vec![1]);
/// # drop(a.send(&0u8)); Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable]) -> io::Result<Vec<usize>> {
    wait_until(objects, Deadline::Forever)
}

/// [`wait`] that waits at most `timeout` (Python's `wait(object_list, timeout)`): `[]` when
/// nothing was ready in time.
///
/// ```
/// use std::time::Duration;
/// let (a, b) = multiproc_pipe::pipe()?;
/// assert!(multiproc_pipe::wait_timeout(&[&b], Duration::from_millis(10))?.is_empty());
/// # drop(a); Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn wait_timeout(objects: &[&dyn Waitable], timeout: Duration) -> io::Result<Vec<usize>> {
    wait_until(objects, Deadline::after(timeout))
}

fn wait_until(objects: &[&dyn Waitable], deadline: Deadline) -> io::Result<Vec<usize>> {
    let now = ready_now(objects);
    if !now.is_empty() {
        return Ok(now);
    }
    let fds: Vec<BorrowedFd<'_>> = objects.iter().map(|o| o.wait_fd()).collect();
    multiproc_core::fd::wait_readable(&fds, deadline)
}

/// The indices of the objects that are ready without looking at their descriptors.
pub(crate) fn ready_now(objects: &[&dyn Waitable]) -> Vec<usize> {
    objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ready_now())
        .map(|(i, _)| i)
        .collect()
}
