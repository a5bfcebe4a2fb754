//! [`Sentinel`]: a child's end as a future, for tokio programs (feature `tokio`).

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::error::Error;

/// A future that completes when a child process ends: [`Process::sentinel`](crate::Process::sentinel)
/// registered with tokio's reactor (`AsyncFd`), so that waiting costs no thread. Use it in
/// `tokio::select!` beside other futures; it does not reap the child (call
/// [`Process::join_async`](crate::Process::join_async) or `join` for the exit code).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), multiproc_process::Error> {
/// use multiproc_process::Process;
/// use std::time::Duration;
/// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
/// let p = Process::new(nap, 50);
/// p.start()?;
/// tokio::select! {
///     r = p.sentinel_async()? => r?,
///     _ = tokio::time::sleep(Duration::from_secs(20)) => panic!("still running"),
/// }
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok(()) }
/// ```
#[must_use = "a sentinel does nothing unless awaited"]
#[derive(Debug)]
pub struct Sentinel {
    fd: AsyncFd<OwnedFd>,
}

impl Sentinel {
    /// Registers `fd` (a pidfd, or a fork server's status socket) with the current runtime.
    pub(crate) fn new(fd: OwnedFd) -> Result<Sentinel, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, which owns it until it is dropped:
        // the descriptor stays open and names the same file description all that time, and an
        // `OwnedFd` always answers the same number.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| Error::Io(e.into_parts().1))?;
        Ok(Sentinel { fd })
    }
}

impl Future for Sentinel {
    /// `Ok(())` once the child has ended (or, for a fork-server child, once its status socket
    /// has news: [`Process::join_async`](crate::Process::join_async) sorts that out).
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.fd.poll_read_ready(cx) {
            Poll::Ready(Ok(_guard)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
