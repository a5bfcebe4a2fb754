//! The table of open connections: a clone of each socket (to wake it at shutdown or to drop
//! it), and whether it is idle, so that a full table drops the connection idle the longest
//! instead of turning a new client away.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One open connection.
struct Slot {
    stream: TcpStream,
    /// Since when it waits for a request (its first, or the next on a kept-alive connection);
    /// `None` while a request is being read, run or answered.
    idle_since: Option<Instant>,
}

/// The open connections of one server.
#[derive(Default)]
pub(crate) struct ConnTable {
    slots: Mutex<HashMap<u64, Slot>>,
    changed: Condvar,
    next_id: std::sync::atomic::AtomicU64,
}

/// Whether a new connection got a place.
pub(crate) enum Admit {
    /// It has one, under this id.
    Yes(u64),
    /// Every place is taken by a connection in the middle of a request.
    Full,
}

impl ConnTable {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives `stream` a place, idle from now. If all `max` places are taken, the connection
    /// idle the longest is shut down and loses its place (its thread sees end-of-file and
    /// ends); if none is idle, the answer is [`Admit::Full`].
    pub(crate) fn admit(&self, stream: &TcpStream, max: usize) -> std::io::Result<Admit> {
        let clone = stream.try_clone()?;
        let mut slots = self.lock();
        while slots.len() >= max {
            let oldest = slots
                .iter()
                .filter_map(|(id, s)| s.idle_since.map(|t| (t, *id)))
                .min();
            let Some((_, id)) = oldest else {
                return Ok(Admit::Full);
            };
            if let Some(evicted) = slots.remove(&id) {
                log::debug!(
                    "connection table full: closing the connection idle the longest ({})",
                    evicted
                        .stream
                        .peer_addr()
                        .map_or_else(|_| "-".to_string(), |a| a.to_string())
                );
                let _ = evicted.stream.shutdown(Shutdown::Both);
            }
        }
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        slots.insert(
            id,
            Slot {
                stream: clone,
                idle_since: Some(Instant::now()),
            },
        );
        Ok(Admit::Yes(id))
    }

    /// Marks connection `id` idle: it waits for a request, and may be dropped for a newer one.
    pub(crate) fn mark_idle(&self, id: u64) {
        if let Some(s) = self.lock().get_mut(&id) {
            s.idle_since = Some(Instant::now());
        }
    }

    /// Marks connection `id` busy: a request is being read, run or answered.
    pub(crate) fn mark_busy(&self, id: u64) {
        if let Some(s) = self.lock().get_mut(&id) {
            s.idle_since = None;
        }
    }

    /// Frees the place of connection `id` (a no-op if it was dropped for a newer one).
    pub(crate) fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.changed.notify_all();
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Shuts the reading side of every connection (those waiting for a request see
    /// end-of-file; one inside a call still writes its answer), then waits until all have
    /// ended or `timeout` passed.
    pub(crate) fn close_all(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut slots = self.lock();
        for s in slots.values() {
            let _ = s.stream.shutdown(Shutdown::Read);
        }
        while !slots.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            slots = self
                .changed
                .wait_timeout(slots, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
